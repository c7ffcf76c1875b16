/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Claim + prepare + plug, shared by attach-device, detach-device and run (attach.c). */

#include "macro.h"
#include "hostdev-def.h"
#include "inventory.h"
#include "qemu-args.h"
#include "qmp.h"
#include "registry.h"

struct attach_item {
        const struct hostdev_def *def;
        const struct nodedev *dev; /* borrowed from ctx->inv; NULL for optional+missing, vhost, mdev */
        struct claim *claim;       /* what was claimed (copy) */
        bool new_claim;            /* registry_claim added it (roll back = release) */
        bool detached;             /* we bound the PCI device to vfio-pci (roll back = reattach) */
        struct qemu_device *qdev;
        bool blockdev_added, device_added;
        bool caps_prepared;        /* capabilities mode: moved/created (roll back = caps_giveback) */
        bool adopted;              /* already in the guest from an interrupted attach: no device_add */
        bool pending;              /* startupPolicy='optional' USB device absent now: claimed as
                                    * "unplugged", the watch loop attaches it when it appears */
};

struct attach_ctx {
        char *domain;
        struct hostdev_file *f;
        struct registry *reg;
        struct inventory *inv;
        const struct nodedev **devs;
        struct attach_item *items;
        size_t n_items;
        bool has_journal;
        unsigned long long journal_id;
        /* capabilities mode (attach-device/detach-device only; NULL elsewhere): where net
         * interfaces go (--netns) and where storage/misc nodes are created (--root). Without
         * caps_allowed, capabilities defs are refused as QEMU devices. */
        bool caps_allowed;
        const char *netns, *root;
};

/* Parse FILE (-EINVAL: invalid input, exit 2), open the registry, scan the inventory. domain
 * may be NULL: then the file's <name> (-EINVAL if none). */
int attach_ctx_open(struct attach_ctx *ctx, const char *domain, const char *path, char **reterr);
void attach_ctx_done(struct attach_ctx *ctx);

/* With the registry locked: resolve every def (in use by another domain -> -EBUSY naming the
 * holder), prepare (managed PCI -> vfio-pci), claim, build the QEMU devices, begin a journal
 * entry `op`. qdev ids: with q (hotplug), "ua-" aliases or the first free "hostdevN" of the
 * running VM; without, "hostdev<index>" as qemu-args prints them. All or nothing: on failure
 * everything done is undone (in memory; the caller saves or abandons). */
int attach_claim_prepare(struct attach_ctx *ctx, const char *op, struct qmp *q, char **reterr);

/* Hotplug every prepared device (blockdev-add + device_add), confirm each in
 * /machine/peripheral, record location/qdev id/state. On failure: -errno, message, and
 * whatever was plugged is unplugged again (attach_rollback still has to be called). */
int attach_plug(struct attach_ctx *ctx, struct qmp *q, char **reterr);

/* Mark every claim attached (after a plug, or after QEMU started with the devices) and end the
 * journal entry. */
int attach_commit(struct attach_ctx *ctx, char **reterr);

/* Undo: unplug what was plugged (q may be NULL), give back PCI devices we detached, release
 * claims we added, end the journal entry. Best effort; problems are appended to *reterr lines. */
void attach_rollback(struct attach_ctx *ctx, struct qmp *q);

/* Unplug one qdev id: device_del, wait for DEVICE_DELETED (timeout_ms), then blockdev-del of
 * node (when not NULL). A device QEMU does not know is already gone (0). */
int qemu_unplug(struct qmp *q, const char *qdev_id, const char *blockdev_node, int timeout_ms,
                char **reterr);

/* Report recoveries and give back the claims the registry dropped (dead domains, gc). */
void attach_giveback_dropped(struct registry *reg);

/* Ensure the domain record exists (pid 0 when unknown) and carries qmp_socket. */
int attach_record_domain(struct registry *reg, const char *domain, pid_t pid, const char *qmp_socket,
                         char **reterr);

#define QMP_TIMEOUT_MS 10000
#define UNPLUG_TIMEOUT_MS 10000
