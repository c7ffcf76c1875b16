/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev attach-device / detach-device, and the claim + prepare + plug steps `run` shares. */
#include "attach.h"

#include <sys/socket.h>

#include "caps.h"
#include "cli.h"
#include "error.h"
#include "hostdev-xml.h"
#include "json-util.h"
#include "resolve.h"
#include "scsi-host.h"
#include "usbip.h"
#include "util.h"
#include "vfio.h"
#include "virt-cli.h"

/* ---- context ---------------------------------------------------------------------------- */

int attach_ctx_open(struct attach_ctx *ctx, const char *domain, const char *path, char **reterr) {
        int r;

        *ctx = (struct attach_ctx){ 0 };
        r = hostdev_file_parse_path(path, &ctx->f, reterr);
        if (r < 0) /* a file over the size limit is invalid input too: exit 2 in every verb */
                return r == -EFBIG ? -EINVAL : r;
        if (!domain)
                domain = ctx->f->domain_name;
        if (!domain)
                return error_set(reterr, -EINVAL, "%s: no domain name: give --name or use a <domain> file",
                                 path);
        ctx->domain = strdup(domain);
        if (!ctx->domain)
                return -ENOMEM;
        r = registry_open(&ctx->reg, reterr);
        if (r < 0)
                return error_prefix(reterr, r, "cannot open the registry");
        /* <remote> USB sources: import the device over USB/IP first (usbip.c; not what the domain
         * holds already); the resolver then selects the local vhci device that stands for it */
        r = usbip_import_file(ctx->f, ctx->reg, ctx->domain, reterr);
        if (r < 0)
                return r;
        r = inventory_scan(&ctx->inv, reterr);
        if (r < 0)
                return error_prefix(reterr, r, "scanning host devices");
        return 0;
}

void attach_ctx_done(struct attach_ctx *ctx) {
        for (size_t i = 0; i < ctx->n_items; i++) {
                claim_free(ctx->items[i].claim);
                qemu_device_free(ctx->items[i].qdev);
        }
        free(ctx->items);
        free(ctx->devs);
        registry_free(ctx->reg);
        inventory_free(ctx->inv);
        hostdev_file_free(ctx->f);
        free(ctx->domain);
        *ctx = (struct attach_ctx){ 0 };
}

/* ---- qdev ids ------------------------------------------------------------------------------ */

/* Names of the devices with an id in the running VM (/machine/peripheral). */
static int qemu_peripheral_ids(struct qmp *q, char ***ret, char **reterr) {
        _cleanup_json_ json_object *list = NULL;
        _cleanup_strv_free_ char **ids = NULL;
        int r;

        r = qmp_command_json(q, "qom-list", "{\"path\":\"/machine/peripheral\"}", &list, reterr, QMP_TIMEOUT_MS);
        if (r < 0)
                return r;
        if (!json_object_is_type(list, json_type_array))
                return error_set(reterr, -EBADMSG, "qom-list /machine/peripheral did not return a list");
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *e = json_object_array_get_idx(list, i), *n, *t;
                if (!json_object_object_get_ex(e, "name", &n) || !json_object_object_get_ex(e, "type", &t))
                        continue;
                if (!startswith(json_object_get_string(t), "child<"))
                        continue;
                r = strv_extend(&ids, json_object_get_string(n));
                if (r < 0)
                        return r;
        }
        if (!ids && !(ids = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(ids);
        return 0;
}

static bool id_taken(const struct attach_ctx *ctx, const struct attach_item *self, char *const *vm_ids,
                     const char *id) {
        if (strv_contains(vm_ids, id))
                return true;
        for (size_t i = 0; i < registry_n_claims(ctx->reg); i++) {
                const struct claim *c = registry_claim_at(ctx->reg, i);
                if (streq_ptr(c->domain, ctx->domain) && streq_ptr(c->qemu_id, id))
                        return true;
        }
        for (size_t i = 0; i < ctx->n_items; i++) {
                const struct attach_item *o = &ctx->items[i];
                if (o == self)
                        continue;
                if (o->qdev && streq(o->qdev->id, id))
                        return true;
                if (o->pending && o->claim && streq_ptr(o->claim->qemu_id, id))
                        return true;
        }
        return false;
}

/* startupPolicy='optional' USB device that is not there now: claim it by its selector's
 * identity as "unplugged" with a QEMU id, so the watch loop (`hostdev run`'s own, or the
 * `hostdev watch` daemon) attaches it when it appears. 0: claimed; -EOPNOTSUPP: the selector
 * names no particular device (vendor/product alone): skipped as before. */
static int claim_pending(struct attach_ctx *ctx, struct attach_item *it, const struct hostdev_def *def,
                         unsigned index, char *const *vm_ids, bool with_qmp, char **reterr) {
        const struct claim *existing;
        int r;

        r = resolve_make_pending_claim(def, &it->claim);
        if (r < 0)
                return r;
        it->def = def;
        it->pending = true;
        existing = registry_find_domain_claim(ctx->reg, ctx->domain, it->claim->key);
        if (existing && existing->qemu_id) {
                free(it->claim->qemu_id);
                if (!(it->claim->qemu_id = strdup(existing->qemu_id)))
                        return -ENOMEM;
        } else if (!with_qmp || !(def->alias && startswith(def->alias, "ua-"))) {
                _cleanup_free_ char *id = with_qmp ? NULL : qemu_device_id(def, index);
                char buf[32];
                if (with_qmp) {
                        for (unsigned n = 0;; n++) {
                                snprintf(buf, sizeof(buf), "hostdev%u", n);
                                if (!id_taken(ctx, it, vm_ids, buf))
                                        break;
                        }
                        id = strdup(buf);
                }
                if (!id)
                        return -ENOMEM;
                free(it->claim->qemu_id);
                it->claim->qemu_id = TAKE_PTR(id);
        }
        r = qemu_usb_guest_props(def, &it->claim->qemu_props, reterr);
        if (r < 0)
                return r;
        r = registry_claim(ctx->reg, ctx->domain, it->claim, ctx->inv, reterr);
        if (r < 0)
                return error_prefix(reterr, r, "%s:%u", ctx->f->path, def->line);
        it->new_claim = r > 0;
        log_info("%s:%u: %s is not there now (startupPolicy='optional'): claimed, attached as %s when it appears",
                 ctx->f->path, def->line, it->claim->key, it->claim->qemu_id);
        return 0;
}

/* ---- claim + prepare ----------------------------------------------------------------------- */

void attach_giveback_dropped(struct registry *reg) {
        struct claim **dropped = NULL;
        size_t n = 0;

        for (char *const *m = registry_recovery_messages(reg); m && *m; m++)
                log_info("%s", *m);
        if (registry_take_dropped(reg, &dropped, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *err = NULL;
                log_info("released %s of %s, whose process is gone",
                         dropped[i]->node ? dropped[i]->node : dropped[i]->key, strna(dropped[i]->domain));
                if (registry_giveback(dropped[i], &err) < 0)
                        log_warning("could not give %s back to the host: %s",
                                    dropped[i]->node ? dropped[i]->node : dropped[i]->key, strna(err));
                claim_free(dropped[i]);
        }
        free(dropped);
}

static void item_undo_host(struct attach_ctx *ctx, struct attach_item *it) {
        _cleanup_free_ char *err = NULL;

        if (it->new_claim && it->claim) {
                (void) registry_release_claim(ctx->reg, ctx->domain, it->claim->key, NULL, NULL);
                it->new_claim = false;
        }
        if (it->detached) {
                if (pci_reattach(&it->claim->pci.addr, it->claim->pci.orig_driver, &err) < 0)
                        log_warning("could not give %s back to its driver: %s", it->claim->node,
                                    err ? err : "unknown error");
                it->detached = false;
        }
        if (it->caps_prepared) {
                _cleanup_free_ char *cerr = NULL;
                if (caps_giveback(it->claim, &cerr) < 0)
                        log_warning("could not undo %s: %s", it->claim->key, cerr ? cerr : "unknown error");
                it->caps_prepared = false;
        }
}

int attach_claim_prepare(struct attach_ctx *ctx, const char *op, struct qmp *q, char **reterr) {
        _cleanup_strv_free_ char **vm_ids = NULL;
        int r;

        if (!registry_is_locked(ctx->reg))
                return error_set(reterr, -ENOLCK, "internal error: registry not locked");
        /* claims of dead domains (a killed `hostdev run`, a QEMU that went away) go first */
        r = registry_gc(ctx->reg, reterr);
        if (r < 0)
                return r;
        attach_giveback_dropped(ctx->reg);
        r = qemu_resolve_devices(ctx->inv, ctx->reg, ctx->f, ctx->domain, &ctx->devs, reterr);
        if (r < 0)
                return r;
        if (q) {
                r = qemu_peripheral_ids(q, &vm_ids, reterr);
                if (r < 0)
                        return r;
        }
        ctx->items = calloc(ctx->f->n_defs + 1, sizeof(*ctx->items));
        if (!ctx->items)
                return -ENOMEM;

        for (size_t i = 0; i < ctx->f->n_defs; i++) {
                struct attach_item *it = &ctx->items[ctx->n_items];
                const struct hostdev_def *def = ctx->f->defs[i];
                const struct nodedev *dev = ctx->devs[i];
                /* capabilities storage/misc: a node the inventory does not list resolves with
                 * no device (resolve checked that it exists) */
                bool needs_dev = def->type != HOSTDEV_TYPE_SCSI_HOST && def->type != HOSTDEV_TYPE_MDEV &&
                                 !(def->type == HOSTDEV_TYPE_SCSI &&
                                   def->source.scsi.protocol == SCSI_PROTOCOL_ISCSI) &&
                                 !(ctx->caps_allowed && hostdev_type_is_caps(def->type));
                const struct claim *existing;

                if (needs_dev && !dev) {
                        /* optional, missing: a USB device with a stable identity is claimed for later */
                        if (def->type == HOSTDEV_TYPE_USB && def->startup_policy == STARTUP_POLICY_OPTIONAL) {
                                r = claim_pending(ctx, it, def, (unsigned) i, vm_ids, q != NULL, reterr);
                                if (r == -EOPNOTSUPP) {
                                        it->claim = claim_free(it->claim);
                                        *it = (struct attach_item){ 0 };
                                        continue;
                                }
                                if (r < 0) {
                                        it->claim = claim_free(it->claim);
                                        *it = (struct attach_item){ 0 };
                                        goto fail;
                                }
                                ctx->n_items++;
                        }
                        continue;
                }
                it->def = def;
                it->dev = dev;
                ctx->n_items++;

                if (ctx->caps_allowed && hostdev_type_is_caps(def->type)) {
                        /* a container device: no QEMU side; prepared after the claim below */
                        r = resolve_make_claim(def, dev, &it->claim);
                        if (r < 0)
                                goto fail;
                        const char *target = def->type == HOSTDEV_TYPE_CAP_NET ? ctx->netns : ctx->root;
                        if (target && !(it->claim->caps_target = strdup(target))) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        existing = registry_find_by_key(ctx->reg, it->claim->key);
                        if (existing && streq_ptr(existing->domain, ctx->domain) &&
                            existing->state != CLAIM_STATE_CLAIMED) {
                                r = error_set(reterr, -EEXIST, "%s:%u: %s is already %s for %s", ctx->f->path,
                                              def->line, it->claim->key, claim_state_to_string(existing->state),
                                              ctx->domain);
                                goto fail;
                        }
                        r = registry_claim(ctx->reg, ctx->domain, it->claim, ctx->inv, reterr);
                        if (r < 0)
                                goto fail;
                        it->new_claim = r > 0;
                        r = caps_prepare(def, ctx->netns, ctx->root, reterr);
                        if (r < 0) {
                                r = error_prefix(reterr, r, "%s:%u", ctx->f->path, def->line);
                                goto fail;
                        }
                        it->caps_prepared = true;
                        r = registry_set_claim_state(ctx->reg, ctx->domain, it->claim->key, CLAIM_STATE_PREPARED, reterr);
                        if (r < 0)
                                goto fail;
                        continue;
                }

                r = qemu_device_build(def, dev, (unsigned) i, &it->qdev, reterr);
                if (r < 0) {
                        r = error_prefix(reterr, r, "%s", ctx->f->path);
                        goto fail;
                }
                r = resolve_make_claim(def, dev, &it->claim);
                if (r < 0)
                        goto fail;
                /* An attach of this domain killed after its device_add reached QEMU: the journal
                 * recovery put the claim back to "claimed", but the guest lists the recorded
                 * id. Adopt that device instead of adding it a second time. */
                existing = registry_find_by_key(ctx->reg, it->claim->key);
                if (q && existing && streq_ptr(existing->domain, ctx->domain) &&
                    existing->state == CLAIM_STATE_CLAIMED && existing->qemu_id &&
                    strv_contains(vm_ids, existing->qemu_id)) {
                        r = qemu_device_set_id(it->qdev, existing->qemu_id);
                        if (r < 0)
                                goto fail;
                        it->adopted = true;
                } else if (q && !(def->alias && startswith(def->alias, "ua-"))) {
                        char id[32];
                        for (unsigned n = 0;; n++) {
                                snprintf(id, sizeof(id), "hostdev%u", n);
                                if (!id_taken(ctx, it, vm_ids, id))
                                        break;
                        }
                        r = qemu_device_set_id(it->qdev, id);
                        if (r < 0)
                                goto fail;
                } else if (q && id_taken(ctx, it, vm_ids, it->qdev->id)) {
                        r = error_set(reterr, -EEXIST, "%s:%u: the VM already has a device with id %s",
                                      ctx->f->path, def->line, it->qdev->id);
                        goto fail;
                }

                free(it->claim->qemu_id);
                it->claim->qemu_id = strdup(it->qdev->id);
                if (!it->claim->qemu_id) {
                        r = -ENOMEM;
                        goto fail;
                }
                /* what a re-attach after a replug gives QEMU again (guest port, bootindex) */
                if (def->type == HOSTDEV_TYPE_USB) {
                        r = qemu_usb_guest_props(def, &it->claim->qemu_props, reterr);
                        if (r < 0)
                                goto fail;
                }
                existing = registry_find_by_key(ctx->reg, it->claim->key);
                if (existing && streq_ptr(existing->domain, ctx->domain) &&
                    existing->state != CLAIM_STATE_CLAIMED && existing->state != CLAIM_STATE_RELEASING) {
                        r = error_set(reterr, -EEXIST, "%s:%u: %s is already %s for %s%s%s", ctx->f->path,
                                      def->line, dev ? dev->name : it->claim->key,
                                      claim_state_to_string(existing->state), ctx->domain,
                                      existing->qemu_id ? " as " : "", strempty(existing->qemu_id));
                        goto fail;
                }

                /* prepare: a managed PCI device goes to vfio-pci (before the claim is recorded,
                 * under the registry lock, so no one else can take it in between) */
                if (def->type == HOSTDEV_TYPE_PCI && def->managed == TRISTATE_YES && !existing) {
                        _cleanup_free_ char *orig = NULL;
                        r = pci_detach(&it->claim->pci.addr, PCI_STUB_DRIVER_DEFAULT, 0, &orig, reterr);
                        if (r < 0) {
                                r = error_prefix(reterr, r, "%s:%u: cannot prepare %s", ctx->f->path, def->line,
                                                 it->claim->node);
                                goto fail;
                        }
                        it->detached = r > 0;
                        it->claim->pci.detached = r > 0;
                        free(it->claim->pci.orig_driver);
                        it->claim->pci.orig_driver = TAKE_PTR(orig);
                        r = pci_group_check_viable(&it->claim->pci.addr, reterr);
                        if (r < 0) {
                                r = error_prefix(reterr, r, "%s:%u: %s cannot be given to a VM",
                                                 ctx->f->path, def->line, it->claim->node);
                                goto fail;
                        }
                        it->claim->state = CLAIM_STATE_PREPARED;
                }

                /* prepare: SCSI sgio/rawio, vhost-scsi target and mediated device checks */
                if (def->type == HOSTDEV_TYPE_SCSI_HOST)
                        r = vhost_scsi_check_target(def->source.scsi_host.wwpn, reterr);
                else if (def->type == HOSTDEV_TYPE_MDEV)
                        r = mdev_check_instance(dev, def->mdev_model, reterr);
                else if (def->type == HOSTDEV_TYPE_SCSI) {
                        const struct domain_record *rec = registry_domain_find(ctx->reg, ctx->domain);
                        r = scsi_hostdev_prepare(def, dev, rec ? rec->pid : 0, reterr);
                } else
                        r = 0;
                if (r < 0) {
                        r = error_prefix(reterr, r, "%s:%u", ctx->f->path, def->line);
                        goto fail;
                }

                r = registry_claim(ctx->reg, ctx->domain, it->claim, ctx->inv, reterr);
                if (r < 0)
                        goto fail;
                it->new_claim = r > 0;
                if (!it->new_claim) {
                        /* claimed earlier by this domain (state claimed): record the qdev id */
                        r = registry_set_location(ctx->reg, it->claim->key, it->claim->node, it->claim->usb.bus,
                                                  it->claim->usb.devnum, it->qdev->id, reterr);
                        if (r < 0)
                                goto fail;
                }
        }
        if (ctx->n_items == 0 && (q || ctx->caps_allowed)) {
                r = error_set(reterr, -ENODEV, "%s: no device to attach", ctx->f->path);
                goto fail;
        }
        r = registry_journal_begin(ctx->reg, op, ctx->domain, NULL, "claimed and prepared", &ctx->journal_id,
                                   reterr);
        if (r < 0)
                goto fail;
        ctx->has_journal = true;
        return 0;

fail:
        for (size_t i = ctx->n_items; i > 0; i--)
                item_undo_host(ctx, &ctx->items[i - 1]);
        return r;
}

/* ---- plug / unplug ------------------------------------------------------------------------- */

/* How long the guest gets to release a device (HOSTDEV_UNPLUG_TIMEOUT_MS overrides, for tests). */
static int unplug_timeout_ms(void) {
        unsigned v;
        const char *e = getenv("HOSTDEV_UNPLUG_TIMEOUT_MS");
        if (e && safe_atou(e, 10, &v) >= 0 && v > 0 && v < 3600000)
                return (int) v;
        return UNPLUG_TIMEOUT_MS;
}

static int qom_has_device(struct qmp *q, const char *id, bool *ret, char **reterr) {
        _cleanup_strv_free_ char **ids = NULL;
        int r = qemu_peripheral_ids(q, &ids, reterr);
        if (r < 0)
                return r;
        *ret = strv_contains(ids, id);
        return 0;
}

int qemu_unplug(struct qmp *q, const char *qdev_id, const char *blockdev_node, int timeout_ms, char **reterr) {
        _cleanup_json_ json_object *args = json_object_new_object();
        _cleanup_free_ char *err = NULL;
        int r;

        if (!args || json_object_object_add(args, "id", json_object_new_string(qdev_id)) < 0)
                return -ENOMEM;
        r = qmp_command(q, "device_del", args, NULL, &err, QMP_TIMEOUT_MS);
        if (r == -EREMOTEIO && streq_ptr(qmp_last_error_class(q), "DeviceNotFound")) {
                r = 0; /* already gone */
        } else if (r < 0) {
                if (reterr && !*reterr)
                        *reterr = TAKE_PTR(err);
                return r;
        } else {
                r = qmp_wait_event(q, "DEVICE_DELETED", qmp_match_device_deleted, (void *) qdev_id, timeout_ms,
                                   NULL, NULL);
                if (r == -ETIMEDOUT)
                        return error_set(reterr, r,
                                         "the guest did not release %s within %.1f s (no DEVICE_DELETED); "
                                         "it stays attached and claimed",
                                         qdev_id, timeout_ms / 1000.0);
                if (r < 0)
                        return error_set(reterr, r, "waiting for DEVICE_DELETED of %s: %s", qdev_id,
                                         strerror(-r));
        }
        if (blockdev_node) {
                _cleanup_json_ json_object *b = json_object_new_object();
                _cleanup_free_ char *berr = NULL;
                if (!b || json_object_object_add(b, "node-name", json_object_new_string(blockdev_node)) < 0)
                        return -ENOMEM;
                r = qmp_command(q, "blockdev-del", b, NULL, &berr, QMP_TIMEOUT_MS);
                if (r < 0 && !streq_ptr(qmp_last_error_class(q), "GenericError"))
                        return error_set(reterr, r, "blockdev-del %s: %s", blockdev_node, strna(berr));
        }
        return 0;
}

static const char *blockdev_node_of(const struct qemu_device *d) {
        json_object *v;
        if (!d->blockdev || !json_object_object_get_ex(d->blockdev, "node-name", &v))
                return NULL;
        return json_object_get_string(v);
}

int attach_plug(struct attach_ctx *ctx, struct qmp *q, char **reterr) {
        int r;

        for (size_t i = 0; i < ctx->n_items; i++) {
                struct attach_item *it = &ctx->items[i];
                bool present = false;

                if (!it->qdev)
                        continue; /* capabilities mode: nothing in QEMU */
                if (it->adopted) {
                        it->device_added = true; /* in the guest already (see attach_claim_prepare) */
                        continue;
                }
                if (it->qdev->blockdev) {
                        r = qmp_command(q, "blockdev-add", it->qdev->blockdev, NULL, reterr, QMP_TIMEOUT_MS);
                        if (r < 0)
                                return error_prefix(reterr, r, "%s", it->claim->node ? it->claim->node : it->qdev->id);
                        it->blockdev_added = true;
                }
                if (ctx->has_journal)
                        (void) registry_journal_step(ctx->reg, ctx->journal_id, "device_add sent", NULL);
                r = qmp_command(q, "device_add", it->qdev->device, NULL, reterr, QMP_TIMEOUT_MS);
                if (r < 0)
                        return error_prefix(reterr, r, "%s", it->claim->node ? it->claim->node : it->qdev->id);
                it->device_added = true;
                r = qom_has_device(q, it->qdev->id, &present, reterr);
                if (r < 0)
                        return r;
                if (!present)
                        return error_set(reterr, -EIO, "device_add of %s succeeded but QEMU does not list it in "
                                         "/machine/peripheral", it->qdev->id);
        }
        return 0;
}

int attach_commit(struct attach_ctx *ctx, char **reterr) {
        int r;

        for (size_t i = 0; i < ctx->n_items; i++) {
                struct attach_item *it = &ctx->items[i];
                const struct claim *c = it->claim;
                if (it->pending)
                        continue; /* stays "unplugged" until the watch loop attaches it */
                if (c->type == HOSTDEV_TYPE_USB && it->qdev) {
                        r = registry_set_location(ctx->reg, c->key, c->node, c->usb.bus, c->usb.devnum,
                                                  it->qdev->id, reterr);
                        if (r < 0)
                                return r;
                }
                r = registry_set_claim_state(ctx->reg, ctx->domain, c->key, CLAIM_STATE_ATTACHED, reterr);
                if (r < 0)
                        return r;
        }
        if (ctx->has_journal) {
                r = registry_journal_end(ctx->reg, ctx->journal_id, reterr);
                if (r < 0)
                        return r;
                ctx->has_journal = false;
        }
        return 0;
}

void attach_rollback(struct attach_ctx *ctx, struct qmp *q) {
        for (size_t i = ctx->n_items; i > 0; i--) {
                struct attach_item *it = &ctx->items[i - 1];
                _cleanup_free_ char *err = NULL;

                if (q && (it->device_added || it->blockdev_added)) {
                        if (it->device_added)
                                (void) registry_journal_step(ctx->reg, ctx->journal_id, "rolling back: device_del",
                                                             NULL);
                        if (!it->device_added) {
                                _cleanup_json_ json_object *b = json_object_new_object();
                                if (b && json_object_object_add(b, "node-name",
                                                                json_object_new_string(blockdev_node_of(it->qdev))) == 0)
                                        (void) qmp_command(q, "blockdev-del", b, NULL, NULL, QMP_TIMEOUT_MS);
                        } else if (qemu_unplug(q, it->qdev->id, it->blockdev_added ? blockdev_node_of(it->qdev) : NULL,
                                               unplug_timeout_ms(), &err) < 0) {
                                log_warning("rollback: could not unplug %s: %s; its claim is kept", it->qdev->id,
                                            err ? err : "unknown error");
                                continue; /* still in the guest: keep the claim and the binding */
                        }
                        it->device_added = it->blockdev_added = false;
                }
                item_undo_host(ctx, it);
        }
        if (ctx->has_journal) {
                (void) registry_journal_end(ctx->reg, ctx->journal_id, NULL);
                ctx->has_journal = false;
        }
}

int attach_record_domain(struct registry *reg, const char *domain, pid_t pid, const char *qmp_socket,
                         char **reterr) {
        const struct domain_record *old = registry_domain_find(reg, domain);
        struct domain_record rec = { 0 };
        int r;

        if (old && old->qmp_socket && (pid == 0 || old->pid == pid))
                return 0; /* already known */
        if (old) {
                rec.pid = old->pid;
                rec.starttime = old->starttime;
                rec.uri = old->uri ? strdup(old->uri) : NULL;
        }
        rec.name = strdup(domain);
        rec.qmp_socket = qmp_socket ? strdup(qmp_socket) : NULL;
        if (!rec.name || (qmp_socket && !rec.qmp_socket)) {
                domain_record_done(&rec);
                return -ENOMEM;
        }
        if (pid > 0 && (!old || old->pid == 0))
                (void) domain_record_set_process(&rec, pid);
        r = registry_domain_set(reg, &rec, reterr);
        domain_record_done(&rec);
        return r;
}

/* ---- verbs ---------------------------------------------------------------------------------- */

static int exit_for(int r) {
        return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
}

static int parse_domain_verb(int argc, char **argv, const char **ret_qmp, const char **ret_netns,
                             const char **ret_root, const char **ret_domain, const char **ret_file) {
        static const struct option options[] = {
                { "qmp", required_argument, NULL, 'q' },
                { "connect", required_argument, NULL, 'c' },
                { "netns", required_argument, NULL, 'n' },
                { "root", required_argument, NULL, 'r' },
                { "config", no_argument, NULL, 'C' },
                {},
        };
        int c;

        *ret_qmp = *ret_netns = *ret_root = NULL;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'q':
                        *ret_qmp = optarg;
                        break;
                case 'n':
                        *ret_netns = optarg;
                        break;
                case 'r':
                        if (optarg[0] != '/') {
                                log_error("%s: --root needs an absolute directory, not '%s'", argv[0], optarg);
                                return -EINVAL;
                        }
                        *ret_root = optarg;
                        break;
                case 'c':
                case 'C':
                        log_error("%s: --connect and --config are not supported by this build; "
                                  "use --qmp SOCKET with a QEMU started by you or by 'hostdev run'",
                                  argv[0]);
                        return -EOPNOTSUPP;
                default:
                        return -EINVAL;
                }
        }
        if (optind != argc - 2) {
                log_error("%s: expected DOMAIN FILE; see 'hostdev %s --help'", argv[0], argv[0]);
                return -EINVAL;
        }
        *ret_domain = argv[optind];
        *ret_file = argv[optind + 1];
        return 0;
}

static pid_t peer_pid(struct qmp *q) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(qmp_fd(q), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return 0;
        return cred.pid;
}

int verb_attach_device(int argc, char **argv) {
        _cleanup_(qmp_freep) struct qmp *q = NULL;
        _cleanup_free_ char *err = NULL;
        struct attach_ctx ctx = { 0 };

        if (virt_cli_uri(argc, argv)) /* a libvirt domain (virt-cli.c) */
                return virt_cli_attach_detach(argc, argv, true);
        const char *qmp_path, *netns, *root, *domain, *file;
        bool needs_qemu = false;
        int r;

        r = parse_domain_verb(argc, argv, &qmp_path, &netns, &root, &domain, &file);
        if (r < 0)
                return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;

        r = attach_ctx_open(&ctx, domain, file, &err);
        if (r < 0) {
                report_error(r, err, file);
                attach_ctx_done(&ctx);
                return exit_for(r);
        }
        ctx.caps_allowed = true;
        ctx.netns = netns;
        ctx.root = root;
        for (size_t i = 0; i < ctx.f->n_defs; i++) {
                const struct hostdev_def *def = ctx.f->defs[i];
                if (!hostdev_type_is_caps(def->type))
                        needs_qemu = true;
                else if ((def->type == HOSTDEV_TYPE_CAP_NET && !netns) ||
                         (def->type != HOSTDEV_TYPE_CAP_NET && !root)) {
                        log_error("%s:%u: <hostdev mode='capabilities'> %s", file, def->line,
                                  def->type == HOSTDEV_TYPE_CAP_NET ? "net needs --netns PATH|PID"
                                                                    : "storage/misc needs --root DIR");
                        attach_ctx_done(&ctx);
                        return EXIT_USAGE;
                }
        }
        if (needs_qemu && !qmp_path) {
                log_error("%s: --qmp SOCKET is required", argv[0]);
                attach_ctx_done(&ctx);
                return EXIT_USAGE;
        }
        if (qmp_path) {
                r = qmp_connect(qmp_path, QMP_TIMEOUT_MS, &q, &err);
                if (r < 0)
                        goto fail;
        }
        r = registry_lock(ctx.reg, &err);
        if (r < 0)
                goto fail;
        r = attach_record_domain(ctx.reg, ctx.domain, q ? peer_pid(q) : 0, qmp_path, &err);
        if (r < 0)
                goto fail_unlock;
        r = attach_claim_prepare(&ctx, "attach", q, &err);
        if (r < 0)
                goto fail_unlock;
        /* claims and journal on disk before QEMU is touched */
        r = registry_save(ctx.reg, &err);
        if (r < 0)
                goto fail_rollback;
        r = q ? attach_plug(&ctx, q, &err) : 0;
        if (r < 0)
                goto fail_rollback;
        r = attach_commit(&ctx, &err);
        if (r < 0)
                goto fail_rollback;
        r = registry_save(ctx.reg, &err);
        if (r < 0)
                goto fail_rollback;
        registry_unlock(ctx.reg);
        for (size_t i = 0; i < ctx.n_items; i++) {
                const struct attach_item *it = &ctx.items[i];
                if (it->pending)
                        continue; /* said in claim_pending() */
                if (it->qdev)
                        log_info("attached %s to %s as %s", it->claim->node ? it->claim->node : it->claim->key,
                                 ctx.domain, it->qdev->id);
                else
                        log_info("attached %s to %s in %s", it->claim->node ? it->claim->node : it->claim->key,
                                 ctx.domain, strna(it->claim->caps_target));
        }
        attach_ctx_done(&ctx);
        return EXIT_OK;

fail_rollback:
        attach_rollback(&ctx, q);
        (void) registry_save(ctx.reg, NULL);
fail_unlock:
        registry_unlock(ctx.reg);
fail:
        report_error(r, err, argv[0]);
        attach_ctx_done(&ctx);
        return EXIT_FAIL;
}

/* The domain's claim a def refers to: by key of the device it resolves to, else by selector. */
static const struct claim *find_domain_claim(struct attach_ctx *ctx, const struct hostdev_def *def,
                                             const struct nodedev *dev) {
        _cleanup_free_ char *key = dev ? claim_key_for(def, dev) : NULL;
        _cleanup_free_ char *sel = NULL;
        const struct claim *c;

        if (key && (c = registry_find_domain_claim(ctx->reg, ctx->domain, key)))
                return c;
        if (hostdev_def_format_source(def, &sel) < 0)
                return NULL;
        for (size_t i = 0; i < registry_n_claims(ctx->reg); i++) {
                c = registry_claim_at(ctx->reg, i);
                if (streq_ptr(c->domain, ctx->domain) && c->type == def->type && streq_ptr(c->selector_xml, sel))
                        return c;
        }
        return NULL;
}

int verb_detach_device(int argc, char **argv) {
        _cleanup_(qmp_freep) struct qmp *q = NULL;
        _cleanup_free_ char *err = NULL;
        _cleanup_strv_free_ char **keys = NULL;

        if (virt_cli_uri(argc, argv)) /* a libvirt domain (virt-cli.c) */
                return virt_cli_attach_detach(argc, argv, false);
        struct attach_ctx ctx = { 0 };
        const char *qmp_path, *netns, *root, *domain, *file;
        const struct domain_record *rec;
        unsigned long long jid = 0;
        bool needs_qemu = false;
        int r, ret = EXIT_OK;

        r = parse_domain_verb(argc, argv, &qmp_path, &netns, &root, &domain, &file);
        if (r < 0)
                return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
        r = attach_ctx_open(&ctx, domain, file, &err);
        if (r < 0) {
                report_error(r, err, file);
                attach_ctx_done(&ctx);
                return exit_for(r);
        }
        r = registry_lock(ctx.reg, &err);
        if (r < 0)
                goto fail;

        /* which claims: every def of the file must name a device this domain holds */
        for (size_t i = 0; i < ctx.f->n_defs; i++) {
                const struct hostdev_def *def = ctx.f->defs[i];
                struct resolve_result res = { 0 };
                const struct claim *c;

                r = resolve_def(ctx.inv, ctx.reg, def, ctx.domain, &res);
                if (r < 0)
                        goto fail_unlock;
                c = find_domain_claim(&ctx, def, res.status == RESOLVE_OK ? res.device : NULL);
                resolve_result_done(&res);
                if (!c) {
                        _cleanup_free_ char *sel = NULL;
                        (void) hostdev_def_format_source(def, &sel);
                        r = error_set(&err, -ENOENT, "%s:%u: domain %s holds no device selected by %s",
                                      ctx.f->path, def->line, ctx.domain, strna(sel));
                        goto fail_unlock;
                }
                r = strv_extend(&keys, c->key);
                if (r < 0)
                        goto fail_unlock;
                if (!hostdev_type_is_caps(c->type))
                        needs_qemu = true;
        }

        rec = registry_domain_find(ctx.reg, ctx.domain);
        if (!qmp_path && rec)
                qmp_path = rec->qmp_socket;
        if (needs_qemu && !qmp_path) {
                r = error_set(&err, -EINVAL, "no QMP socket recorded for %s: give --qmp SOCKET", ctx.domain);
                goto fail_unlock;
        }
        if (needs_qemu) {
                r = qmp_connect(qmp_path, QMP_TIMEOUT_MS, &q, &err);
                if (r < 0)
                        goto fail_unlock;
        }
        r = registry_journal_begin(ctx.reg, "detach", ctx.domain, NULL, "device_del", &jid, &err);
        if (r < 0)
                goto fail_unlock;

        for (char **k = keys; k && *k; k++) {
                _cleanup_(claim_freep) struct claim *released = NULL;
                _cleanup_free_ char *uerr = NULL, *gerr = NULL, *node = NULL;
                const struct claim *c = registry_find_domain_claim(ctx.reg, ctx.domain, *k);

                if (!c)
                        continue;
                if (q && !hostdev_type_is_caps(c->type) && c->qemu_id && c->state != CLAIM_STATE_UNPLUGGED &&
                    c->state != CLAIM_STATE_CLAIMED) {
                        _cleanup_free_ char *blk = strdup_printf("%s-backend", c->qemu_id);
                        r = qemu_unplug(q, c->qemu_id, c->type == HOSTDEV_TYPE_SCSI ? blk : NULL,
                                        unplug_timeout_ms(), &uerr);
                        if (r < 0) {
                                log_error("%s: %s", c->node ? c->node : c->key, uerr ? uerr : strerror(-r));
                                ret = EXIT_FAIL;
                                continue; /* still in the guest: keep claim and binding */
                        }
                }
                r = registry_release_claim(ctx.reg, ctx.domain, *k, &released, &err);
                if (r < 0)
                        goto fail_unlock;
                node = strdup(released->node ? released->node : released->key);
                r = registry_giveback(released, &gerr);
                if (r < 0) {
                        log_error("%s: could not give it back to the host: %s", strna(node),
                                  gerr ? gerr : strerror(-r));
                        ret = EXIT_FAIL;
                }
                log_info("detached %s from %s", strna(node), ctx.domain);
        }
        (void) registry_journal_end(ctx.reg, jid, NULL);
        r = registry_save(ctx.reg, &err);
        if (r < 0)
                goto fail_unlock;
        registry_unlock(ctx.reg);
        attach_ctx_done(&ctx);
        return ret;

fail_unlock:
        registry_unlock(ctx.reg);
fail:
        report_error(r, err, argv[0]);
        attach_ctx_done(&ctx);
        return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
}
