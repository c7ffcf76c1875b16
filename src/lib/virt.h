/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libvirt domains (issue 9): hostdev resolves and claims, libvirt receives a plain <hostdev>.
 *
 * What libvirt is handed for a USB device (its own form, WITH vendor/product AND the current
 * bus/device, so libvirt never has to choose between identical dongles and never hits its
 * "Multiple USB devices for 46f4:1, use <address> to specify one" refusal):
 *
 *   <hostdev mode='subsystem' type='usb' managed='no'>
 *     <source>
 *       <vendor id='0x46f4'/>
 *       <product id='0x0001'/>
 *       <address bus='2' device='5'/>
 *     </source>
 *   </hostdev>
 *
 * PCI devices go as <hostdev mode='subsystem' type='pci' managed='yes|no'> with their
 * address: libvirt itself detaches/reattaches them (hostdev does not touch vfio for a libvirt
 * domain). Other types are refused with --connect.
 *
 * Claims: the registry records the domain with the libvirt URI (domain_record.uri, pid 0:
 * never stale), the claim's qemu_id is libvirt's alias of the device ("hostdev0"), its state
 * "attached" while libvirt's live definition holds it.
 *
 * --config (VIRT_AFFECT_CONFIG): a bus/device pair in the persistent definition would be
 * wrong after the next replug or host reboot (the numbers are reassigned, and could then
 * name the OTHER VM's identical dongle), and vendor/product alone is refused by libvirt when
 * two identical dongles are plugged. So --config writes no <hostdev> into the persistent
 * <devices>: it stores hostdev's own selectors (serial / port, the normalised <hostdev>
 * elements of FILE) in the domain's persistent <metadata>, namespace VIRT_METADATA_NS:
 *
 *   <metadata>
 *     <hostdev:devices xmlns:hostdev="https://hostdev.dev/xmlns/libvirt/1">
 *       <hostdev:hostdev mode='subsystem' type='usb'> ... <serial>DONGLE-A</serial> ...
 *     </hostdev:devices>
 *   </metadata>
 *
 * `hostdev watch --connect URI` reads it when the domain starts (and at its own start):
 * resolves the selectors, claims and attaches live. detach-device --config removes the
 * matching selectors from the metadata.
 *
 * Devices libvirt gave to a running domain on its own (a <hostdev> in its XML that no hostdev
 * claim covers) are imported as claims of that domain (selector_xml NULL marks them), so
 * list/resolve/status report them as held and attach-device refuses them to other domains.
 * An imported claim is dropped when libvirt no longer holds the device. virt_sync_held()
 * does this; attach/detach/status --connect and every watch reconcile call it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostdev-def.h"
#include "inventory.h"
#include "macro.h"
#include "registry.h"

#define VIRT_METADATA_NS "https://hostdev.dev/xmlns/libvirt/1"
#define VIRT_METADATA_PREFIX "hostdev"

enum {
        VIRT_AFFECT_LIVE = 1 << 0,
        VIRT_AFFECT_CONFIG = 1 << 1,
};

struct virt_conn;

/* Connect (libvirt never prints: its errors come back as messages). */
int virt_open(const char *uri, struct virt_conn **ret, char **reterr);
struct virt_conn *virt_close(struct virt_conn *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct virt_conn *, virt_close);
const char *virt_uri(const struct virt_conn *c);

/* ---- pure helpers (unit-tested) ------------------------------------------------------------- */
/* The plain USB <hostdev> above. */
char *virt_usb_hostdev_xml(uint16_t vendor, uint16_t product, unsigned bus, unsigned devnum);
char *virt_pci_hostdev_xml(const struct pci_addr *a, bool managed);

/* A <hostdev> of a domain's XML (mode='subsystem', type usb or pci). */
struct virt_held {
        char *domain;
        enum hostdev_type type; /* HOSTDEV_TYPE_USB or HOSTDEV_TYPE_PCI */
        bool has_ids;
        uint16_t vendor, product; /* usb, when given */
        bool has_address;
        unsigned bus, devnum;     /* usb, when given */
        struct pci_addr pci;      /* pci */
        char *alias;              /* <alias name=>, or NULL */
};
void virt_held_free_array(struct virt_held *h, size_t n);
/* Parse the USB/PCI subsystem <hostdev> entries of a <domain> XML (domain name from <name>).
 * -EBADMSG if it is not a domain XML. Appends to *h / *n. */
int virt_parse_domain_hostdevs(const char *xml, struct virt_held **h, size_t *n, char **reterr);

/* ---- libvirt calls ----------------------------------------------------------------------- */
/* The live XML of a domain; -ENOENT no such domain. ret_active (may be NULL): running. */
int virt_domain_xml(struct virt_conn *c, const char *domain, bool *ret_active, char **ret, char **reterr);
/* Every <hostdev> of every running domain. */
int virt_list_held(struct virt_conn *c, struct virt_held **ret, size_t *ret_n, char **reterr);
/* Attach/detach one device XML (flags VIRT_AFFECT_*): libvirt's error message on failure. */
int virt_attach_xml(struct virt_conn *c, const char *domain, const char *xml, unsigned flags, char **reterr);
int virt_detach_xml(struct virt_conn *c, const char *domain, const char *xml, unsigned flags, char **reterr);

/* The hostdev selectors kept in the domain's persistent metadata (NULL *ret when none). */
int virt_metadata_get(struct virt_conn *c, const char *domain, char **ret, char **reterr);
/* Replace them (xml NULL or no defs: remove the element). */
int virt_metadata_set(struct virt_conn *c, const char *domain, const struct hostdev_def *const *defs,
                      size_t n, char **reterr);

/* ---- flows ----------------------------------------------------------------------------------- */
/* Log callback: one line per action (level as watch.h's enum watch_log_level). */
typedef void (*virt_log_func)(void *userdata, int level, const char *line);

/* Import devices libvirt holds in running domains as claims, drop imported claims libvirt no
 * longer holds. Locks the registry itself unless the caller holds the lock (then it only
 * changes memory). Conflicts (libvirt gave a device claimed by another domain) are logged. */
int virt_sync_held(struct virt_conn *c, struct registry *reg, const struct inventory *inv, virt_log_func log,
                   void *userdata, char **reterr);

/* attach-device --connect: resolve + claim every def of f for domain (all or nothing), hand
 * libvirt each device (flags), record location/alias/state. Refusals as resolve_and_claim
 * (-ENOTUNIQ, -ENODEV, -EBUSY with the resolve message). On failure nothing stays claimed or
 * attached. Prints nothing; each attached device is logged through log (level INFO). */
int virt_attach_file(struct virt_conn *c, const struct hostdev_file *f, const char *domain, unsigned flags,
                     virt_log_func log, void *userdata, char **reterr);
/* detach-device --connect: each def must name a device the domain holds. */
int virt_detach_file(struct virt_conn *c, const struct hostdev_file *f, const char *domain, unsigned flags,
                     virt_log_func log, void *userdata, char **reterr);
/* release --connect: detach every claimed device of the domain from libvirt's live domain
 * (the caller then drops the claims). Best effort: failures are logged, -errno returned. */
int virt_detach_domain_claims(struct virt_conn *c, const char *domain, virt_log_func log, void *userdata,
                              char **reterr);

/* watch --connect: until SIGTERM/SIGINT. Follows USB uevents (re-attach replugged dongles by
 * identity: detach the stale entry by its old bus/device, attach the new one), domain
 * lifecycle events (started: its claims are attached, metadata selectors claimed; stopped:
 * its claims go back to "claimed" — reserved for it, never handed to another domain), and
 * reconciles every reconcile_ms (0: 5000). ready_file (may be NULL) is created once
 * listening. */
struct virt_watch_options {
        const char *uri;
        const char *domain; /* only this domain, or NULL */
        unsigned reconcile_ms;
        const char *ready_file;
        virt_log_func log;
        void *userdata;
};
int virt_watch_run(const struct virt_watch_options *o, char **reterr);
