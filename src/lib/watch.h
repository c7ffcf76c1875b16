/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The re-attach loop (issue 14): USB uevents in, QMP device_add/device_del out, so every
 * replugged dongle goes back into its own running VM, from any port, and never into another.
 * Used by `hostdev watch` (every domain in the registry) and inside `hostdev run` (its one
 * domain).
 *
 * For run.c (qemu helper) — the whole integration is five calls:
 *
 *     _cleanup_(watch_freep) struct watch *w = NULL;
 *     struct watch_options o = { .domain = name, .log = my_log_cb };
 *     r = watch_new(&w, &o, &err);                         // opens the udev monitor, registry
 *     r = watch_add_domain(w, name, qmp_socket_path, &err); // watch connects to QMP itself
 *     ... in your poll loop: { .fd = watch_get_fd(w), .events = POLLIN },
 *         timeout = min(yours, watch_get_timeout_ms(w));
 *         after poll (whatever woke you): watch_process(w);  // never blocks
 *     watch_free(w) before you release the claims.
 *
 * watch_get_fd() is one epoll fd covering the udev monitor, every domain's QMP socket and
 * the registry inotify watch; watch_process() handles whatever is ready and runs due timers.
 * The watch opens its OWN QMP connection to each domain's socket (QEMU's -qmp server takes
 * one client at a time per socket, so run.c should not keep its QMP connection open while
 * the watch is running, or should give the socket path of a second -qmp monitor).
 *
 * Every action is reported through opts.log, one line each, e.g.
 *   "re-attached usb_1_4_1 (46f4:0001 serial DONGLE-H) to vm-b in 3.2 ms"
 * The library itself never prints. */

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

struct watch;
struct nodedev;

enum watch_log_level {
        WATCH_LOG_ERROR,
        WATCH_LOG_WARNING,
        WATCH_LOG_INFO,
        WATCH_LOG_DEBUG,
};

struct watch_options {
        /* Follow only this domain's claims (hostdev run); NULL: every domain in the registry
         * (hostdev watch), connecting to each live domain's recorded QMP socket. */
        const char *domain;
        /* Do not open the uevent monitor (tests inject events with watch_inject_uevent()). */
        bool no_udev;
        /* Act on udevd's events (after its rules ran) instead of the kernel's own uevents.
         * The kernel's arrive as the device appears, with its /dev/bus/usb node already made
         * by devtmpfs, so a QEMU that opens the node as root gets it without waiting for
         * udevd; a QEMU that gets access from a udev rule (not root) needs udevd first. */
        bool udev_events;
        /* Do not use the registry: claims come only from watch_add_claim() (tests, bench). */
        bool no_registry;
        /* Period of the reconcile timer in ms (0: default 2000). */
        unsigned reconcile_ms;
        /* Time allowed for one QMP command before the peer is considered stuck (0: 5000). */
        unsigned qmp_timeout_ms;
        /* Close a domain's QMP connection after this long without work, so that other QMP
         * clients (attach-device) can use a single -qmp socket (0: stay connected). The
         * daemon uses this; `hostdev run` with a private socket does not need it. */
        unsigned idle_disconnect_ms;
        void (*log)(void *userdata, enum watch_log_level level, const char *line);
        void *userdata;
};

int watch_new(struct watch **ret, const struct watch_options *opts, char **reterr);
struct watch *watch_free(struct watch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct watch *, watch_free);

/* A running domain to serve, reached through its QMP socket (connect happens in the
 * background, retried while the socket is missing). Idempotent per name. */
int watch_add_domain(struct watch *w, const char *name, const char *qmp_path, char **reterr);
int watch_remove_domain(struct watch *w, const char *name);

/* The single pollable fd (epoll) and the time until the next timer, in ms (-1: none). */
int watch_get_fd(const struct watch *w);
int watch_get_timeout_ms(const struct watch *w);
/* Handle everything ready now; never blocks. Returns < 0 only on a fatal error. */
int watch_process(struct watch *w);
/* Own loop until SIGTERM/SIGINT (blocked + signalfd inside) or until stop is requested. */
int watch_run(struct watch *w);
void watch_request_stop(struct watch *w);

/* ---- claims, as the loop sees them ------------------------------------------------------ */
/* A claimed USB identity of a domain (mirrors a registry claim, struct claim in registry.h). */
struct watch_claim {
        char *domain;
        char *key;          /* registry key ("usb:46f4:0001:serial:X" / "usb:port:1-4.1"), or NULL */
        char *qdev_id;      /* "hostdev0" / "ua-..." (NULL: one is made up, "hostdev-wN") */
        uint16_t vendor, product;
        char *serial;       /* iSerial of the claimed device, or NULL */
        char *port;         /* sysfs name of its physical port, "1-4.1", or NULL */
        unsigned select;    /* USB_SELECT_* bits (registry.h): what the selector used */
        /* current host device, 0/NULL while unplugged */
        unsigned bus, devnum;
        char *node;         /* "usb_1_4_1" */
        bool remote;        /* selected with <remote>: only its USB/IP import (vhci_hcd) matches */
        char *qemu_props;   /* more device_add properties (guest bus/port, bootindex): a JSON
                             * object's text (registry.h), or NULL */
};

/* Add/replace (by domain + qdev_id) a claim by hand (options.no_registry, tests, bench). */
int watch_add_claim(struct watch *w, const struct watch_claim *c, char **reterr);

/* Does this USB device (from nodedev_read_usb) match the claimed identity? Serial, ids and
 * port path; a port matches the device's port or its peer (USB2/USB3 names of one physical
 * port count as the same port). Pure. */
bool watch_claim_matches(const struct watch_claim *c, const struct nodedev *dev);

/* ---- testing hooks ------------------------------------------------------------------------ */
struct usb_uevent;
/* Feed one uevent through the same path as the monitor (tests, synthetic bench load). */
int watch_inject_uevent(struct watch *w, const struct usb_uevent *ev);

/* Also read synthetic uevents from fd (a FIFO or pipe; the bench drives load through it):
 * one event per line, KEY=VALUE pairs separated by spaces, e.g.
 *   ACTION=remove DEVPATH=/devices/pci0000:00/0000:00:04.0/usb1/1-4 SUBSYSTEM=usb DEVTYPE=usb_device BUSNUM=1 DEVNUM=5
 * parsed by usb_uevent_parse() and handled exactly like a monitor event. Takes ownership of fd. */
int watch_add_inject_fd(struct watch *w, int fd, char **reterr);

/* Counters (bench, tests). */
struct watch_stats {
        uint64_t uevents, adds_sent, adds_ok, adds_failed, dels_sent, deleted_events,
                queued_adds, reconciles;
};
void watch_get_stats(const struct watch *w, struct watch_stats *ret);
/* What the loop believes the VM holds under (domain, qdev_id): "unknown", "absent", "adding",
 * "present", "deleting"; NULL if no such claim. ret_bus, ret_devnum (may be NULL): the host
 * device of the claim now (0 while unplugged). */
const char *watch_claim_state(const struct watch *w, const char *domain, const char *qdev_id,
                              unsigned *ret_bus, unsigned *ret_devnum);
/* Is a device waiting (queued) for this claim's old qdev id to go? */
bool watch_claim_queued(const struct watch *w, const char *domain, const char *qdev_id);
/* Number of domains currently connected over QMP (tests). */
size_t watch_n_connected(const struct watch *w);
