/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* USB/IP: dongles on another host (docs/usbip.md).
 *
 * Dongle host ("export"): a selected USB device is handed to the kernel's usbip-host driver
 * (match_busid "add BUSID", unbind from its driver, bind to usbip-host, all under
 * sysfs_root()); the stock usbipd serves it on TCP 3240. unexport undoes it (match_busid
 * "del BUSID", unbind from usbip-host, drivers_probe).
 *
 * VM host ("import"): the library speaks the USB/IP protocol itself. OP_REQ_DEVLIST lists the
 * exported devices (busid, path, busnum/devnum, ids, classes — never the serial); OP_REQ_IMPORT
 * asks for one busid; the connected socket then goes to the kernel through
 * sysfs_root()/devices/platform/vhci_hcd.0/attach ("PORT SOCKFD DEVID SPEED", a free port of the
 * right speed from .../status). Because the devlist carries no serial, a <serial> selector is
 * matched by importing each candidate (same vendor:product, same port when given) and reading
 * the serial of the device that appears under vhci_hcd; a wrong one is detached at once
 * (.../detach). Nothing is guessed: ids alone that match several exported devices are refused.
 *
 * Every import is recorded in state_dir()/usbip/portN ("HOST PORT BUSID LOCAL-BUSID"), so
 * `list`, `resolve` and release know which local vhci device stands for which remote one.
 *
 * The protocol encoders/decoders work on buffers (no sockets) and reject malformed or
 * oversized replies with -EBADMSG (never read past the given length). All integers on the
 * wire are big-endian. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostdev-def.h"
#include "inventory.h"

#define USBIP_VERSION 0x0111
#define USBIP_DEFAULT_PORT 3240
#define USBIP_OP_REQ_DEVLIST 0x8005
#define USBIP_OP_REP_DEVLIST 0x0005
#define USBIP_OP_REQ_IMPORT 0x8003
#define USBIP_OP_REP_IMPORT 0x0003

#define USBIP_OP_COMMON_SIZE 8
#define USBIP_DEVICE_SIZE 312 /* struct usbip_usb_device on the wire */
#define USBIP_INTERFACE_SIZE 4
#define USBIP_BUSID_SIZE 32
#define USBIP_PATH_SIZE 256
#define USBIP_IMPORT_REQ_SIZE (USBIP_OP_COMMON_SIZE + USBIP_BUSID_SIZE)
#define USBIP_IMPORT_REP_SIZE (USBIP_OP_COMMON_SIZE + USBIP_DEVICE_SIZE)
/* Bounds on what a peer may send. */
#define USBIP_MAX_DEVICES 1024
#define USBIP_MAX_INTERFACES 32
#define USBIP_MAX_DEVLIST_SIZE                                                                     \
        (USBIP_OP_COMMON_SIZE + 4 +                                                                \
         (size_t) USBIP_MAX_DEVICES * (USBIP_DEVICE_SIZE + USBIP_MAX_INTERFACES * USBIP_INTERFACE_SIZE))

/* Reply status of usbipd (usbip_common.h). */
enum {
        USBIP_ST_OK = 0,
        USBIP_ST_NA = 1,
        USBIP_ST_DEV_BUSY = 2,
        USBIP_ST_DEV_ERR = 3,
        USBIP_ST_NODEV = 4,
        USBIP_ST_ERROR = 5,
};
/* "device busy (imported by another host)", ... */
const char *usbip_status_to_string(uint32_t status);

struct usbip_interface {
        uint8_t iface_class, iface_subclass, iface_protocol;
};

struct usbip_device {
        char path[USBIP_PATH_SIZE];   /* NUL-terminated (checked) */
        char busid[USBIP_BUSID_SIZE]; /* "1-1.2" (checked: a USB device name) */
        uint32_t busnum, devnum, speed; /* speed: enum usb_device_speed (3 high, 5 super) */
        uint16_t vendor, product, bcd_device;
        uint8_t dev_class, dev_subclass, dev_protocol;
        uint8_t configuration_value, num_configurations, num_interfaces;
        struct usbip_interface *interfaces; /* num_interfaces entries (devlist only), or NULL */
};

struct usbip_devlist {
        struct usbip_device *devs;
        size_t n_devs;
};
struct usbip_devlist *usbip_devlist_free(struct usbip_devlist *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct usbip_devlist *, usbip_devlist_free);

/* ---- buffers ------------------------------------------------------------------------------ */
/* op_common of a request: buf gets USBIP_OP_COMMON_SIZE bytes. */
void usbip_encode_op_common(uint16_t code, uint32_t status, uint8_t buf[static USBIP_OP_COMMON_SIZE]);
/* OP_REQ_IMPORT for busid (-EINVAL if it does not fit or is not a USB device name). */
int usbip_encode_import_request(const char *busid, uint8_t buf[static USBIP_IMPORT_REQ_SIZE]);
/* Check an op_common header: version USBIP_VERSION, code `code`; *ret_status gets the status. */
int usbip_decode_op_common(const uint8_t *buf, size_t len, uint16_t code, uint32_t *ret_status);
/* A whole OP_REP_DEVLIST (header included). Extra trailing bytes are an error. A non-zero
 * status is -EPROTO. */
int usbip_decode_devlist(const uint8_t *buf, size_t len, struct usbip_devlist **ret);
/* One struct usbip_usb_device (USBIP_DEVICE_SIZE bytes; interfaces left NULL). */
int usbip_decode_device(const uint8_t *buf, size_t len, struct usbip_device *ret);
/* OP_REP_IMPORT: the header (len >= 8); when its status is 0 the device must follow. Returns
 * the status (>= 0); ret (may be NULL) is filled only for status 0. */
int usbip_decode_import_reply(const uint8_t *buf, size_t len, struct usbip_device *ret);
/* Is s a USB device sysfs name "B-P[.P...]" (bus and ports 1..255, at most 7 levels)? */
bool usbip_busid_valid(const char *s);

/* ---- vhci_hcd status ---------------------------------------------------------------------- */
struct vhci_port {
        bool ss;          /* "ss" (USB3 hub) or "hs" */
        unsigned port;    /* port number for attach/detach */
        unsigned status;  /* 4 VDEV_ST_NULL (free), 6 VDEV_ST_USED, ... */
        unsigned speed;
        uint32_t devid;
        char local_busid[USBIP_BUSID_SIZE]; /* "0-0" when free */
};
/* Parse the text of vhci_hcd's status file(s) (header lines skipped). */
int vhci_parse_status(const char *text, struct vhci_port **ret, size_t *ret_n);

/* ---- the import records (state_dir()/usbip/portN) ------------------------------------------ */
struct usbip_import {
        unsigned vhci_port;
        char *host;
        unsigned tcp_port;
        char *busid;       /* on the dongle host */
        char *local_busid; /* under vhci_hcd here, e.g. "3-1", or NULL until known */
};
void usbip_import_done(struct usbip_import *i);
/* The record for the local (vhci) USB device with sysfs name local_busid, when it is attached
 * now (vhci status agrees). -ENOENT if none. */
int usbip_import_find_local(const char *local_busid, struct usbip_import *ret);
/* Is dev a hostdev import from host:tcp_port (any host when host is NULL)? */
bool usbip_device_is_import(const struct nodedev *dev, const char *host, unsigned tcp_port);

/* Does the local device dev stand for what the remote <source> s selects: an import from
 * s->remote_host:s->remote_port whose ids and serial (read here) match, and whose bus id on the
 * dongle host is the port path of s (when s gives one)? */
bool usbip_import_matches(const struct usb_source *s, const struct nodedev *dev);

/* For `list`: "exported" (bound to usbip-host), "imported from HOST:PORT bus id BUSID" (a
 * hostdev import on vhci_hcd), else NULL. When ret_import is non-NULL and dev is an import, it
 * gets the record (caller: usbip_import_done). */
char *usbip_describe_device(const struct nodedev *dev, struct usbip_import *ret_import);

/* ---- dongle host ---------------------------------------------------------------------------- */
/* Bind dev to usbip-host (no-op when it already is). */
int usbip_export_device(const struct nodedev *dev, char **reterr);
/* Give dev back to its own driver. */
int usbip_unexport_device(const struct nodedev *dev, char **reterr);

/* ---- VM host ---------------------------------------------------------------------------------- */
/* List what host:port exports (OP_REQ_DEVLIST), with a timeout of a few seconds. */
int usbip_remote_devlist(const char *host, unsigned port, struct usbip_devlist **ret, char **reterr);
/* Make sure the device a remote <source> selects is imported here (vhci_hcd): an existing
 * import that matches is kept; otherwise candidates are imported and checked (serial) one by
 * one. Returns 1 when a new import was made, 0 when one was there, negative errno with a
 * message: -ENODEV nothing matches, -EBUSY the matching device is imported by another host,
 * -ENOTUNIQ several match and no serial/port selects one. */
int usbip_import_source(const struct usb_source *s, char **reterr);
/* Detach the import whose local device has sysfs name local_busid (and drop its record). */
int usbip_detach_local(const char *local_busid, char **reterr);
/* For every def of f with <remote>: usbip_import_source — except the defs `domain` already
 * holds a claim for in reg (same normalised <source>; reg and domain may be NULL): detaching or
 * re-attaching what a domain holds never imports, and works while the dongle host is down.
 * Returns the number of new imports. */
struct registry;
int usbip_import_file(const struct hostdev_file *f, const struct registry *reg, const char *domain,
                      char **reterr);
/* Give back the imports of claims: for each USB claim whose device (c->usb.port, local
 * sysfs name) is a hostdev import, detach it. */
struct claim;
int usbip_release_claim(const struct claim *c, char **reterr);

/* ---- recovery (the watch loop, also inside `hostdev run`) ----------------------------------- */
/* The registry domain that holds exported devices on a dongle host. */
#define USBIP_EXPORT_DOMAIN "export"
struct registry;
/* Dongle host: dev just appeared (replug, any port). If a claim of USBIP_EXPORT_DOMAIN covers it
 * (same identity) and it is not bound to usbip-host, export it again. 1 when done, 0 when not
 * ours, negative errno with a message. Devices on vhci_hcd (imports) are never exported. */
int usbip_reexport_device(const struct registry *reg, const struct nodedev *dev, char **reterr);
/* Is this a dongle host: has the registry a claim of USBIP_EXPORT_DOMAIN? (No /proc reads.) */
bool usbip_registry_has_export_claim(const struct registry *reg);
/* VM host: for each USB claim with <remote> in its selector (of `domain`, or all when NULL)
 * whose import is gone (dongle replugged on the dongle host, its USB/IP side restarted, a
 * network outage), import it again; bounded backoff per claim (1 s doubling up to 15 s).
 * Each attempt that changes something or fails is reported through log (error: a failure).
 * Returns the number of devices imported again. */
int usbip_reimport_claims(const struct registry *reg, const char *domain,
                          void (*log)(void *userdata, bool error, const char *line), void *userdata);
/* Does a claim's normalised selector name a remote host (<remote host=.../>)? */
bool usbip_claim_is_remote(const struct claim *c);
