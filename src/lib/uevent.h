/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* USB device uevents for the watch loop.
 *
 * Two layers, kept apart so the first is unit-testable and fuzzable:
 *   - parsing: uevent properties (KEY=VALUE) into struct usb_uevent, from a raw kernel-style
 *     buffer ("add@/devices/...\0ACTION=add\0DEVPATH=...\0...") or one property at a time;
 *   - I/O: a libudev monitor (udev_monitor_new_from_netlink(udev, "udev"), so events arrive
 *     after udevd has created /dev/bus/usb nodes; libudev only accepts messages from udevd
 *     with the right credentials) filtered to subsystem usb, devtype usb_device. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

enum uevent_action {
        UEVENT_OTHER = 0,
        UEVENT_ADD,
        UEVENT_REMOVE,
        UEVENT_CHANGE,
        UEVENT_BIND,
        UEVENT_UNBIND,
};
const char *uevent_action_to_string(enum uevent_action a);
enum uevent_action uevent_action_from_string(const char *s);

struct usb_uevent {
        enum uevent_action action;
        char *devpath;  /* "/devices/pci0000:00/0000:00:04.0/usb1/1-4" (below the sysfs root) */
        char *sysname;  /* last component of devpath: "1-4" */
        char *subsystem;/* "usb" */
        char *devtype;  /* "usb_device" */
        char *devname;  /* "bus/usb/001/005" or NULL */
        char *driver;   /* DRIVER= of a "bind": "usb", "usbip-host"; NULL otherwise */
        unsigned bus, devnum; /* BUSNUM / DEVNUM, 0 if absent */
        bool has_ids;   /* PRODUCT=46f4/1/100 (hex vendor/product/bcdDevice) */
        uint16_t vendor, product;
        bool has_type;  /* TYPE=0/0/0 (decimal class/subclass/protocol) */
        uint8_t dev_class, dev_subclass, dev_protocol;
        uint64_t seqnum;
        uint64_t received_usec; /* now_usec() when it was received */
};

void usb_uevent_done(struct usb_uevent *ev);
struct usb_uevent *usb_uevent_free(struct usb_uevent *ev);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct usb_uevent *, usb_uevent_free);

/* Apply one property. Unknown keys are ignored; a malformed value of a known key is -EINVAL
 * (the field is left unset). */
int usb_uevent_set_property(struct usb_uevent *ev, const char *key, const char *value);
/* Parse a raw uevent buffer: an optional "action@devpath" header, then NUL-separated
 * KEY=VALUE properties. Never reads past len. -EINVAL if it is not a complete event
 * (ACTION and DEVPATH needed). */
int usb_uevent_parse(const char *buf, size_t len, struct usb_uevent **ret);
/* Is this a USB device (not interface, not another subsystem) add/remove we act on? */
bool usb_uevent_is_usb_device(const struct usb_uevent *ev);
/* libvirt-style node name from the sysname: "1-4.1" -> "usb_1_4_1". */
char *usb_node_name_from_sysname(const char *sysname);

/* ---- the libudev monitor ----------------------------------------------------------------- */
struct uevent_monitor;
enum uevent_source {
        /* after udevd ran its rules (node permissions set, hwdb properties added): what a
         * device opened by somebody else (libvirt's QEMU user) must wait for */
        UEVENT_SOURCE_UDEV,
        /* straight from the kernel, as the device appears (its /dev/bus/usb node is there
         * already: devtmpfs made it before the uevent): for a QEMU running as root, opening
         * the node by path, this saves udevd's whole processing time */
        UEVENT_SOURCE_KERNEL,
};
int uevent_monitor_new_source(struct uevent_monitor **ret, enum uevent_source source, char **reterr);
/* the udev source */
int uevent_monitor_new(struct uevent_monitor **ret, char **reterr);
struct uevent_monitor *uevent_monitor_free(struct uevent_monitor *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct uevent_monitor *, uevent_monitor_free);
int uevent_monitor_get_fd(const struct uevent_monitor *m);
/* Receive one pending event: 1 and *ret set (USB devices only), 0 when nothing is pending
 * (or the message was filtered out: call again until 0 to drain a burst). */
int uevent_monitor_receive(struct uevent_monitor *m, struct usb_uevent **ret);
