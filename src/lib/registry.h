/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The claims registry: which host device belongs to which domain, shared by every hostdev
 * process and the watch daemon.
 *
 * Storage: one JSON file, state_dir()/registry.json (HOSTDEV_STATE_DIR, default /run/hostdev;
 * the directory is created 0700, files are 0600), replaced atomically (write_file_atomic:
 * temp + fsync + rename + fsync dir) while holding an exclusive flock() on
 * state_dir()/registry.lock. A crash mid-write leaves the previous registry; an unreadable
 * registry file is moved aside to registry.json.corrupt-<time> and reported (never silently
 * trusted, never a crash).
 *
 * Concurrency model: short critical sections.
 *   - registry_open() reads a snapshot (locking briefly) and keeps no lock.
 *   - Read-only helpers (registry_find_*, registry_for_each_claim, registry_fill_owners,
 *     registry_claim_owner) use the in-memory snapshot; registry_reload() refreshes it.
 *   - Mutating helpers (registry_claim, registry_release_*, registry_set_state,
 *     registry_domain_set, registry_gc, registry_journal_*) are self-contained when the
 *     registry is not locked: lock, reload, recover, change, save, unlock.
 *     When the caller holds the lock (registry_lock()), they only change the in-memory state;
 *     the caller makes all its changes and then registry_save() + registry_unlock(), or
 *     registry_unlock() alone to abandon them (all-or-nothing claims of a whole file).
 *
 * Liveness: a domain record carries the pid and process start time (field 22 of
 * proc_root()/PID/stat) of the process that runs the domain (hostdev run, a QEMU pid, or the
 * claimant itself in tests). A record whose pid is gone or whose start time differs is dead;
 * its claims are stale and registry_gc() drops them. A domain with pid 0 (e.g. a libvirt
 * domain, or claims made without a process) is never considered dead.
 *
 * Operation journal: a multi-step operation (attach: claim, prepare, device_add; detach;
 * release) is recorded with registry_journal_begin() before it starts and removed with
 * registry_journal_end(). Each entry carries the operating process's pid + start time. When
 * the registry is locked and the entry's process is dead, the operation is recovered:
 *   - "release"/"detach": finished (the claim is dropped — its device is given back by the
 *     caller through registry_take_recovered()),
 *   - anything else ("claim", "prepare", "attach", ...): rolled back — if the domain is alive
 *     its claims (the entry's key, or all of the domain's when key is NULL) that are not
 *     "attached"/"unplugged" go back to "claimed" (what reached the guest stays); if the
 *     domain is dead they are dropped (registry_take_dropped() hands them out for giving back).
 * Each recovery adds a human line to the registry's recovery messages
 * (registry_recovery_messages()), e.g.
 *   "interrupted attach of hostdev0 (usb_1_4_1) for vm-a (device_add sent) rolled back: claim kept as claimed". */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "hostdev-def.h"
#include "inventory.h"
#include "util.h"

struct registry;

enum claim_state {
        CLAIM_STATE_CLAIMED,   /* selected and reserved, nothing done yet */
        CLAIM_STATE_PREPARED,  /* host side ready (PCI detached to vfio-pci, ...) */
        CLAIM_STATE_ATTACHED,  /* in the guest */
        CLAIM_STATE_UNPLUGGED, /* USB: physically gone; re-attach when it comes back */
        CLAIM_STATE_RELEASING, /* being given back */
        _CLAIM_STATE_MAX,
};
const char *claim_state_to_string(enum claim_state s); /* "claimed", "prepared", ... */
int claim_state_from_string(const char *s);            /* -EINVAL if unknown */

/* What a USB <source> selected by (bit set). */
enum {
        USB_SELECT_IDS = 1 << 0,        /* vendor + product */
        USB_SELECT_SERIAL = 1 << 1,     /* <serial> */
        USB_SELECT_PORT = 1 << 2,       /* <address bus= port=> */
        USB_SELECT_BUS_DEVICE = 1 << 3, /* <address bus= device=> */
};

/* The stable identity of a claimed USB device, and where it currently is. */
struct usb_identity {
        uint16_t vendor, product;
        char *serial;   /* iSerial of the claimed device, or NULL */
        char *port;     /* sysfs name of its physical port at claim time, "1-4.1" */
        unsigned select; /* USB_SELECT_* bits: what the selector used */
        /* current location; 0/NULL while unplugged */
        unsigned bus, devnum;
};

struct pci_claim_info {
        struct pci_addr addr;
        char *orig_driver; /* host driver before detach (e.g. "e1000e"), or NULL */
        bool managed;      /* hostdev detaches/reattaches it */
        bool detached;     /* hostdev did detach it (so it must reattach on release) */
        int iommu_group;   /* -1: none */
};

/* The LUN a type scsi claim (host adapter, not iSCSI) holds: <adapter name='scsi_host<host>'/>
 * <address bus= target= unit=/>, and the host's names for it, as the inventory showed them
 * when it was claimed. */
struct scsi_claim_info {
        bool known; /* filled (registry_claim() with an inventory that has the node) */
        unsigned host, bus, target;
        unsigned long long unit;
        char *sg;    /* "sg0", or NULL */
        char *block; /* "sda", or NULL */
};

struct claim {
        char *domain;
        enum hostdev_type type;
        /* Stable identity key, unique per physical device:
         *   usb:VVVV:PPPP:serial:SERIAL   (selected by serial)
         *   usb:port:1-4.1                (otherwise: the physical port)
         *   pci:0000:03:00.0  scsi:scsi_host0:0:0:0  scsi:sg3  scsi_host:naa....  mdev:UUID
         *   net:eth0  storage:/dev/sdf1  misc:/dev/input/event3 */
        char *key;
        char *node; /* node device name now (usb_1_4_1, pci_0000_03_00_0), NULL while unplugged */
        struct usb_identity usb;  /* type usb */
        struct pci_claim_info pci; /* type pci */
        bool shareable;
        char *qemu_id;      /* QEMU device id (hostdev0 / ua-alias), or NULL */
        /* USB: the device_add properties besides driver, id and the host device (guest bus and
         * port, bootindex, guest-reset), a JSON object's text, or NULL: a re-attach after a
         * replug gives them again, so the guest sees the device where it was */
        char *qemu_props;
        char *selector_xml; /* the normalised <source> (hostdev_def_format_source) */
        time_t since;       /* wall clock, when claimed */
        enum claim_state state;
        /* capabilities mode: where the device went — net: the --netns spec (path or pid);
         * storage/misc: the --root directory. NULL otherwise (and then nothing to undo). */
        char *caps_target;
        struct scsi_claim_info scsi; /* type scsi (host adapter) */
};

struct claim *claim_free(struct claim *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct claim *, claim_free);
int claim_dup(const struct claim *c, struct claim **ret);
/* Human one-liner of the device: "usb_2_1 (46f4:0001 serial DONGLE-A)",
 * "pci_0000_03_00_0 (0000:03:00.0)", "net_eth1 (eth1)". */
char *claim_describe(const struct claim *c);

struct domain_record {
        char *name;
        pid_t pid;                    /* 0: no process to watch (never stale) */
        unsigned long long starttime; /* /proc/PID/stat field 22 */
        char *qmp_socket;             /* or NULL */
        char *uri;                    /* libvirt URI, or NULL */
};

struct journal_entry {
        unsigned long long id;
        char *op;     /* "claim", "prepare", "attach", "detach", "release", ... */
        char *domain;
        char *key;    /* claim key the operation is about, or NULL (whole domain) */
        char *step;   /* free text of the last step reached: "device_add sent" */
        pid_t pid;    /* operating process */
        unsigned long long starttime;
        time_t since;
};

/* ---- handle ------------------------------------------------------------------------------ */
/* Open (creating state_dir() 0700 and the lock file 0600) and read a snapshot. Any
 * half-finished operations of dead processes are recovered during the read (see above). */
int registry_open(struct registry **ret, char **reterr);
struct registry *registry_free(struct registry *reg); /* releases a held lock, discards unsaved changes */
DEFINE_TRIVIAL_CLEANUP_FUNC(struct registry *, registry_free);

/* Take the exclusive lock and reload the file (+ recovery). Not recursive: -EBUSY if held.
 * Waits at most 30 s (HOSTDEV_LOCK_TIMEOUT_SEC=N: N s, 0: one try) for another process's
 * lock, then -ETIMEDOUT with a message naming the holder when the kernel's lock table tells:
 *   "the claims registry /run/hostdev/registry.json is locked by another process (pid 4242, hostdev)
 *    for 30 s; giving up (retry when it is done, or stop it if it is stuck)"
 * registry_open() and the self-locking mutators wait the same way. */
int registry_lock(struct registry *reg, char **reterr);
/* Write the in-memory state atomically. Requires the lock (-ENOLCK otherwise). */
int registry_save(struct registry *reg, char **reterr);
/* Drop the lock (unsaved changes are kept in memory but not written; call registry_reload()
 * to get back to the file's state). */
void registry_unlock(struct registry *reg);
bool registry_is_locked(const struct registry *reg);
/* Refresh the snapshot (locks briefly unless already locked). */
int registry_reload(struct registry *reg, char **reterr);
/* Path of the registry file (for messages). */
const char *registry_path(const struct registry *reg);

/* Parse registry file text into a detached snapshot (no state directory, no lock: mutations
 * and saves fail with -EACCES; no recovery runs). -EBADMSG for malformed content,
 * -EPROTONOSUPPORT for another format version. For the fuzzer and tools. */
int registry_parse_text(const char *text, struct registry **ret);
/* The text the registry file would hold for this snapshot. */
int registry_format_text(const struct registry *reg, char **ret);

/* Lines describing recoveries done by the last load (strv, owned by reg, may be NULL). */
char *const *registry_recovery_messages(const struct registry *reg);
/* Claims dropped by recovery or gc since the last call; the caller gives their devices back
 * (hostdev_giveback_claim) and frees them. */
int registry_take_dropped(struct registry *reg, struct claim ***ret, size_t *ret_n);

/* ---- claims ---------------------------------------------------------------------------- */
/* Claim c->key for `domain` (c->domain is ignored and set to domain; c->since is set to now
 * when 0). Same domain + same key again: no-op (returns 0, state unchanged). Another domain
 * holds it: -EBUSY, message
 *   "device usb_2_1 (46f4:0001 serial DONGLE-A) is in use by domain vm-a since 2026-11-25 13:40:02"
 * unless both claims are shareable. A USB claim also conflicts with any claim whose current
 * node is the same device. A PCI claim conflicts with a claim by another domain on any member
 * of the same IOMMU group (members taken from inv, which may be NULL to skip that rule):
 *   "device pci_0000_03_00_1 (0000:03:00.1) shares IOMMU group 7 with pci_0000_03_00_0 (0000:03:00.0), in use by domain vm-a"
 * Stale claims (dead domains) are garbage-collected first. Returns 1 when a new claim was
 * added, 0 when it already existed. */
int registry_claim(struct registry *reg, const char *domain, const struct claim *c,
                   const struct inventory *inv, char **reterr);
/* Drop every claim of `domain` (and its domain record and journal entries). The dropped
 * claims go to *ret / *ret_n (may be NULL) for giving back. Returns the number dropped. */
int registry_release_domain(struct registry *reg, const char *domain, struct claim ***ret,
                            size_t *ret_n, char **reterr);
/* Drop one claim by key (only if held by domain). -ENOENT if not held. */
int registry_release_claim(struct registry *reg, const char *domain, const char *key,
                           struct claim **ret, char **reterr);
int registry_set_state(struct registry *reg, const char *key, enum claim_state state, char **reterr);
/* The same for the claim of `domain` on key: a shareable device (SCSI with <shareable/>) has one
 * claim per domain under one key, and registry_set_state/registry_find_by_key take the first. */
int registry_set_claim_state(struct registry *reg, const char *domain, const char *key, enum claim_state state,
                             char **reterr);
const struct claim *registry_find_domain_claim(const struct registry *reg, const char *domain, const char *key);
/* Update where a USB claim currently is (node/bus/devnum; NULL/0/0 when unplugged) and its
 * QEMU id (NULL keeps the old one). */
/* A USB claim known by serial: the physical port where it is now (status shows it). */
int registry_set_usb_port(struct registry *reg, const char *key, const char *port, char **reterr);
int registry_set_location(struct registry *reg, const char *key, const char *node, unsigned bus,
                          unsigned devnum, const char *qemu_id, char **reterr);

/* Snapshot lookups: pointers stay valid until the next reload/mutation. */
const struct claim *registry_find_by_key(const struct registry *reg, const char *key);
const struct claim *registry_find_by_node(const struct registry *reg, const char *node);
/* The claim that covers this inventory device (USB: by identity, i.e. serial/port of the
 * device as it is now, not by bus:device), or NULL. Stale claims (their domain's process is
 * gone; the next claim collects them) are ignored: the device is free. */
const struct claim *registry_claim_for_device(const struct registry *reg, const struct nodedev *dev);
/* Calls cb for each claim in registry order; stops and returns cb's value when non-zero. */
int registry_for_each_claim(const struct registry *reg,
                            int (*cb)(const struct claim *c, void *userdata), void *userdata);
size_t registry_n_claims(const struct registry *reg);
const struct claim *registry_claim_at(const struct registry *reg, size_t i);

/* `hostdev status --json`: an array with one object per claim (of domains whose record has
 * libvirt URI `uri`, or all when uri is NULL): device (node name or null while unplugged),
 * type, key, identity (usb: vendor_id, product_id, serial, port, bus, device; pci: address,
 * orig_driver, managed, detached, iommu_group; scsi: adapter, bus, target, unit, sg, block —
 * sg/block null when not known), domain, since ("YYYY-MM-DD HH:MM:SS" local time),
 * since_epoch, state, shareable, qemu_id, selector, alive (the domain's process runs). */
int registry_status_json(const struct registry *reg, const char *uri, char **ret);
/* The human identity of a claim: "46f4:0001 serial DONGLE-A port 1-1", "0000:03:00.0 (host driver e1000e)",
 * "scsi_host0 0:0:0 (sg0, sda)" (adapter bus:target:unit, and the host's sg/block names when known). */
char *claim_identity_string(const struct claim *c);
/* "YYYY-MM-DD HH:MM:SS" in local time. */
void format_claim_time(time_t t, char buf[static 32]);
/* Does the claim's domain record carry this libvirt URI (always true for uri NULL)? */
bool registry_domain_has_uri(const struct registry *reg, const char *domain, const char *uri);

/* Set nodedev->owner (strdup) for every inventory device covered by a live claim. */
int registry_fill_owners(struct registry *reg, struct inventory *inv);

/* ---- domains ----------------------------------------------------------------------------- */
/* Add or replace the record of d->name. */
int registry_domain_set(struct registry *reg, const struct domain_record *d, char **reterr);
const struct domain_record *registry_domain_find(const struct registry *reg, const char *name);
/* A domain is alive if it has no record, pid 0, or its pid is running with the same start
 * time. */
bool registry_domain_alive(const struct registry *reg, const char *name);
/* Process start time (field 22) of pid from proc_root(); -ESRCH if gone. */
int process_starttime(pid_t pid, unsigned long long *ret);
/* Fill rec->pid/starttime for pid (getpid() for the caller itself). */
int domain_record_set_process(struct domain_record *rec, pid_t pid);
void domain_record_done(struct domain_record *d);

/* Drop the claims (and records) of dead domains. Dropped claims are kept for
 * registry_take_dropped(). Returns the number dropped. */
int registry_gc(struct registry *reg, char **reterr);

/* ---- journal ------------------------------------------------------------------------------ */
/* Record that the calling process begins op on (domain, key). *ret_id names it. */
int registry_journal_begin(struct registry *reg, const char *op, const char *domain,
                           const char *key, const char *step, unsigned long long *ret_id,
                           char **reterr);
int registry_journal_step(struct registry *reg, unsigned long long id, const char *step, char **reterr);
int registry_journal_end(struct registry *reg, unsigned long long id, char **reterr);
size_t registry_n_journal(const struct registry *reg);
const struct journal_entry *registry_journal_at(const struct registry *reg, size_t i);

/* ---- giving devices back ------------------------------------------------------------------ */
/* Implemented by the PCI host side (vfio.c): undo what prepare did for c (PCI: reattach to
 * c->pci.orig_driver when c->pci.detached; net: move the interface back; ...). Declared
 * weak: callers must check `if (hostdev_giveback_claim)` — when it is not linked in, there is
 * nothing to give back (USB never needs it). Use registry_giveback() instead of calling it.
 * Internal despite its name: libhostdev.sym keeps it out of the shared library's exports. */
int hostdev_giveback_claim(const struct claim *c, char **reterr) __attribute__((weak));
/* Call hostdev_giveback_claim when available; 0 for USB or when there is nothing to do. */
int registry_giveback(const struct claim *c, char **reterr);
