/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Resolution: which host device each <hostdev> selects.
 *
 * Rules (CONTRACT.md): each def selects exactly one inventory device or fails with a reason.
 *   USB: any combination of vendor+product, <serial>, bus+port path, bus+device narrows the
 *        match; a port selector matches the port's USB2 or USB3 name (u.usb.port and
 *        u.usb.peer_port). Devices exported over USB/IP (u.usb.usbip_exported) and hubs are
 *        never selected for a local VM. Several matches: RESOLVE_AMBIGUOUS with every
 *        candidate (bus/device, port path, serial, product, owner) and the <source> XML that
 *        selects each one (serial when unique among the candidates, else the port path).
 *   PCI by address; SCSI by adapter+address or sg name; scsi_host by wwpn (vhost: not an
 *   inventory device, RESOLVE_OK with device NULL); net by interface name; mdev by uuid;
 *   storage/misc by node path (/dev/...).
 *   startupPolicy (USB): mandatory (default) and requisite: missing is RESOLVE_MISSING;
 *   optional: missing is RESOLVE_SKIPPED (reported as "missing" in JSON, not an error).
 *   With a registry: a device held by another domain (and not shareable on both sides) is
 *   RESOLVE_IN_USE; `owner` names the holder. */

#include <stdbool.h>
#include <stddef.h>

#include "hostdev-def.h"
#include "inventory.h"
#include "registry.h"

enum resolve_status {
        RESOLVE_OK,
        RESOLVE_AMBIGUOUS,
        RESOLVE_MISSING,
        RESOLVE_IN_USE,
        RESOLVE_SKIPPED, /* optional device missing: not an error */
};
/* "ok", "ambiguous", "missing", "in_use", and "missing" for RESOLVE_SKIPPED (CONTRACT.md). */
const char *resolve_status_to_string(enum resolve_status s);

struct resolve_result {
        unsigned index;             /* position of the def in its file, from 0 */
        enum resolve_status status;
        char *selector;             /* normalised <source> on one line */
        const struct nodedev *device; /* BORROWED from the inventory (NULL unless OK/IN_USE) */
        char **candidates;          /* node names of all matches (strv, may be NULL) */
        char *owner;                /* holder's domain (of device), or NULL */
        char *message;              /* full human explanation for non-OK results, else NULL;
                                     * may span several lines */
};

void resolve_result_done(struct resolve_result *r);
void resolve_results_free(struct resolve_result *r, size_t n);

/* Resolve one def. reg may be NULL (no ownership check). domain (may be NULL) is the
 * requesting domain: its own claims are not "in use". Never fails for "no device":
 * that is a status; negative errno only for OOM/internal errors. */
int resolve_def(const struct inventory *inv, const struct registry *reg,
                const struct hostdev_def *def, const char *domain, struct resolve_result *ret);

/* Resolve every def of f (index = position). *ret is an array of f->n_defs results. */
int resolve_file(const struct inventory *inv, const struct registry *reg,
                 const struct hostdev_file *f, const char *domain,
                 struct resolve_result **ret, size_t *ret_n);

/* Does dev (e.g. a newly plugged device) match a claimed identity? vendor+product must be
 * equal; then serial (when the claim selected by serial, or by ids alone and the device had a
 * serial), port (when it selected a port or bus+device, or by ids alone without serial; USB2
 * and USB3 names of one physical port — u.usb.port / u.usb.peer_port — are the same port). */
bool usb_identity_matches(const struct usb_identity *id, const struct nodedev *dev);

/* Does dev satisfy the local selectors of s (ids, serial, port path, bus/device; <remote> is not
 * looked at)? For `unexport`, which looks for the exported device a selector names. */
bool usb_source_matches_device(const struct usb_source *s, const struct nodedev *dev);

/* The sysfs name of a USB device's port: "1-4.1" (bus-port), or NULL for root hubs. */
char *usb_port_sysfs_name(const struct nodedev *dev);

/* Build the claim for a resolved def + device (key, identity, selector, shareable, qemu id
 * from the def's alias). The domain is left NULL (registry_claim sets it). */
/* A claim for a USB device with startupPolicy='optional' that is absent now, in state
 * "unplugged", with its identity from the selector alone (vendor+product+serial, or the
 * physical port), so the watch loop attaches the device when it appears. -EOPNOTSUPP when
 * the selector names no particular device (vendor/product alone, bus+device, <remote>). */
int resolve_make_pending_claim(const struct hostdev_def *def, struct claim **ret);
int resolve_make_claim(const struct hostdev_def *def, const struct nodedev *dev,
                       struct claim **ret);

/* The key a claim for (def, dev) would have (see struct claim). */
char *claim_key_for(const struct hostdev_def *def, const struct nodedev *dev);

/* Resolve every def of f for `domain` and claim the selected devices, all or nothing, in one
 * critical section of the registry: lock, gc of dead domains, resolve against the current
 * claims, claim each device, store rec (may be NULL; e.g. pid + start time of the process that
 * runs the domain, its QMP socket) as the domain record, save, unlock. Optional defs whose
 * device is missing are skipped. On a refusal nothing is claimed or recorded, and *reterr
 * holds the first problem (the resolve message: the ambiguity list, what is missing, "device
 * ... is in use by domain vm-a since ..."): -ENOTUNIQ ambiguous, -ENODEV missing, -EBUSY in
 * use. Must be called without the lock held. On success returns the number of devices claimed
 * and, when ret is non-NULL, the results (devices BORROWED from inv) in *ret / *ret_n; each
 * claim's key is claim_key_for(def, result.device). */
int resolve_and_claim(struct registry *reg, const struct inventory *inv, const struct hostdev_file *f,
                      const char *domain, const struct domain_record *rec, struct resolve_result **ret,
                      size_t *ret_n, char **reterr);

/* `resolve --json` of CONTRACT.md: an array of {index, selector, status, device, candidates,
 * owner}, pretty-printed. */
int resolve_results_to_json(const struct resolve_result *rs, size_t n, char **ret);

