/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resolution (resolve.h): each <hostdev> selects exactly one host device, or says why not. */
#include "resolve.h"
#include "usbip.h"

#include <sys/stat.h>

#include "error.h"
#include "hostdev-xml.h"
#include "json-util.h"


const char *resolve_status_to_string(enum resolve_status s) {
        switch (s) {
        case RESOLVE_OK: return "ok";
        case RESOLVE_AMBIGUOUS: return "ambiguous";
        case RESOLVE_MISSING: return "missing";
        case RESOLVE_IN_USE: return "in_use";
        case RESOLVE_SKIPPED: return "missing";
        }
        return NULL;
}

void resolve_result_done(struct resolve_result *r) {
        if (!r)
                return;
        free(r->selector);
        strv_free(r->candidates);
        free(r->owner);
        free(r->message);
        *r = (struct resolve_result){ 0 };
}

void resolve_results_free(struct resolve_result *r, size_t n) {
        if (!r)
                return;
        for (size_t i = 0; i < n; i++)
                resolve_result_done(&r[i]);
        free(r);
}

char *usb_port_sysfs_name(const struct nodedev *dev) {
        if (dev->cap != NODEDEV_CAP_USB_DEVICE || !dev->u.usb.port)
                return NULL;
        return strdup_printf("%u-%s", dev->u.usb.bus, dev->u.usb.port);
}

/* Does dev sit on the physical port "N-P" (its own name or its other-speed peer)? */
static bool usb_on_port(const struct nodedev *dev, const char *sysname) {
        _cleanup_free_ char *mine = usb_port_sysfs_name(dev);
        if (!sysname)
                return false;
        return streq_ptr(mine, sysname) || streq_ptr(dev->u.usb.peer_port, sysname);
}

static bool identity_uses_serial(const struct usb_identity *id) {
        if (id->select & USB_SELECT_SERIAL)
                return true;
        return !(id->select & (USB_SELECT_PORT | USB_SELECT_BUS_DEVICE)) && !isempty(id->serial);
}

bool usb_identity_matches(const struct usb_identity *id, const struct nodedev *dev) {
        if (!id || !dev || dev->cap != NODEDEV_CAP_USB_DEVICE)
                return false;
        /* 0000:0000: a pending claim selected by port alone (the device was never seen) */
        if ((id->vendor || id->product) &&
            (dev->u.usb.vendor_id != id->vendor || dev->u.usb.product_id != id->product))
                return false;
        if (identity_uses_serial(id)) {
                if (!streq_ptr(dev->u.usb.serial, id->serial))
                        return false;
                if (id->select & USB_SELECT_PORT)
                        return usb_on_port(dev, id->port);
                return true;
        }
        return usb_on_port(dev, id->port);
}

/* ---- selector text ------------------------------------------------------------------------ */
static int format_selector(const struct hostdev_def *def, char **ret) {
        return hostdev_def_format_source(def, ret);
}

/* The <source> that selects exactly this USB device among cands. */
static char *usb_suggest_source(const struct nodedev *d, const struct nodedev *const *cands, size_t n) {
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
        bool serial_unique = !isempty(d->u.usb.serial);
        for (size_t i = 0; i < n && serial_unique; i++)
                if (cands[i] != d && streq_ptr(cands[i]->u.usb.serial, d->u.usb.serial))
                        serial_unique = false;
        strbuf_appendf(&sb, "<source><vendor id='0x%04x'/><product id='0x%04x'/>", d->u.usb.vendor_id,
                       d->u.usb.product_id);
        if (serial_unique) {
                strbuf_append(&sb, "<serial>");
                strbuf_append_xml_escaped(&sb, d->u.usb.serial);
                strbuf_append(&sb, "</serial>");
        } else
                strbuf_appendf(&sb, "<address bus='%u' port='%s'/>", d->u.usb.bus, strempty(d->u.usb.port));
        strbuf_append(&sb, "</source>");
        return strbuf_steal(&sb);
}

static const char *owner_of(const struct registry *reg, const struct nodedev *d) {
        const struct claim *c = reg ? registry_claim_for_device(reg, d) : NULL;
        return c ? c->domain : NULL;
}

/* ---- USB ---------------------------------------------------------------------------------- */
static bool usb_source_matches(const struct usb_source *s, const struct nodedev *d) {
        const struct usb_device_info *u = &d->u.usb;
        if (s->has_vendor && u->vendor_id != s->vendor)
                return false;
        if (s->has_product && u->product_id != s->product)
                return false;
        if (s->serial && !streq_ptr(u->serial, s->serial))
                return false;
        if (s->has_bus && s->port) {
                _cleanup_free_ char *want = strdup_printf("%u-%s", s->bus, s->port);
                if (!want || !usb_on_port(d, want))
                        return false;
        } else if (s->has_bus && u->bus != s->bus)
                return false;
        if (s->has_device && u->devnum != s->device)
                return false;
        return true;
}

bool usb_source_matches_device(const struct usb_source *s, const struct nodedev *dev) {
        return dev->cap == NODEDEV_CAP_USB_DEVICE && usb_source_matches(s, dev);
}

static void describe_usb(struct strbuf *sb, const struct nodedev *d, const char *owner) {
        const struct usb_device_info *u = &d->u.usb;
        const char *product = u->product_string ? u->product_string : u->product_name;
        strbuf_appendf(sb, "%s: bus %u device %u, port %u-%s, %04x:%04x", d->name, u->bus, u->devnum, u->bus,
                       strna(u->port), u->vendor_id, u->product_id);
        if (u->serial)
                strbuf_appendf(sb, ", serial '%s'", u->serial);
        else
                strbuf_append(sb, ", no serial");
        if (product)
                strbuf_appendf(sb, ", product '%s'", product);
        strbuf_appendf(sb, ", owner %s", owner ? owner : "none");
}

static int resolve_usb(const struct inventory *inv, const struct registry *reg, const struct hostdev_def *def,
                       struct resolve_result *res, const struct nodedev **ret_dev) {
        const struct usb_source *s = &def->source.usb;
        _cleanup_free_ const struct nodedev **cands = NULL, **exported = NULL;
        size_t n = 0, n_exp = 0;
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;

        /* <remote>: the devices imported here from that host over USB/IP (usbip.c; `run` and
         * `attach-device` import them first); they are never selected by a local selector */
        cands = calloc(inv->n_devs + 1, sizeof(*cands));
        exported = calloc(inv->n_devs + 1, sizeof(*exported));
        if (!cands || !exported)
                return -ENOMEM;
        for (size_t i = 0; i < inv->n_devs; i++) {
                const struct nodedev *d = inv->devs[i];
                if (d->cap != NODEDEV_CAP_USB_DEVICE || !d->u.usb.port) /* root hubs are not for guests */
                        continue;
                bool imported = streq_ptr(d->u.usb.hcd_driver, "vhci_hcd") && usbip_device_is_import(d, NULL, 0);
                if (s->remote_host ? !imported || !usbip_import_matches(s, d) : imported || !usb_source_matches(s, d))
                        continue;
                if (d->u.usb.usbip_exported)
                        exported[n_exp++] = d;
                else
                        cands[n++] = d;
        }
        for (size_t i = 0; i < n; i++)
                if (strv_extend(&res->candidates, cands[i]->name) < 0)
                        return -ENOMEM;

        if (n == 1) {
                *ret_dev = cands[0];
                return 0;
        }
        *ret_dev = NULL;
        if (n == 0) {
                res->status = RESOLVE_MISSING;
                strbuf_appendf(&sb, "no USB device matches %s", res->selector);
                if (s->remote_host)
                        strbuf_appendf(&sb, "\n  no device imported from %s port %u over USB/IP matches "
                                            "('hostdev run' and 'attach-device' import it)",
                                       s->remote_host, s->remote_port);
                for (size_t i = 0; i < n_exp; i++) {
                        strbuf_append(&sb, "\n  not usable: ");
                        describe_usb(&sb, exported[i], owner_of(reg, exported[i]));
                        strbuf_append(&sb, " is exported over USB/IP (bound to usbip-host); "
                                           "run 'hostdev unexport' on it first");
                }
                /* hint: what is there with the same ids */
                if (s->has_vendor && (s->serial || s->port || s->has_device || s->has_bus)) {
                        bool first = true;
                        for (size_t i = 0; i < inv->n_devs; i++) {
                                const struct nodedev *d = inv->devs[i];
                                if (d->cap != NODEDEV_CAP_USB_DEVICE || !d->u.usb.port ||
                                    d->u.usb.vendor_id != s->vendor ||
                                    (s->has_product && d->u.usb.product_id != s->product) ||
                                    d->u.usb.usbip_exported)
                                        continue;
                                if (first)
                                        strbuf_appendf(&sb, "\n  present with %04x:%04x:", s->vendor,
                                                       s->has_product ? s->product : d->u.usb.product_id);
                                first = false;
                                strbuf_append(&sb, "\n    ");
                                describe_usb(&sb, d, owner_of(reg, d));
                        }
                }
        } else {
                res->status = RESOLVE_AMBIGUOUS;
                strbuf_appendf(&sb, "%s matches %zu USB devices; select one of them:", res->selector, n);
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *src = usb_suggest_source(cands[i], cands, n);
                        if (!src)
                                return -ENOMEM;
                        strbuf_append(&sb, "\n  ");
                        describe_usb(&sb, cands[i], owner_of(reg, cands[i]));
                        strbuf_appendf(&sb, "\n    select it with: %s", src);
                }
                /* colliding serials: say so explicitly */
                for (size_t i = 0; i < n; i++) {
                        const char *ser = cands[i]->u.usb.serial;
                        bool seen_before = false, dup = false;
                        if (isempty(ser))
                                continue;
                        for (size_t k = 0; k < i; k++)
                                if (streq_ptr(cands[k]->u.usb.serial, ser))
                                        seen_before = true;
                        if (seen_before)
                                continue;
                        _cleanup_strbuf_ struct strbuf who = STRBUF_INIT;
                        strbuf_append(&who, cands[i]->name);
                        for (size_t k = i + 1; k < n; k++)
                                if (streq_ptr(cands[k]->u.usb.serial, ser)) {
                                        dup = true;
                                        strbuf_appendf(&who, ", %s", cands[k]->name);
                                }
                        if (dup)
                                strbuf_appendf(&sb,
                                               "\n  serial '%s' is not unique (%s have it): select by port path "
                                               "<address bus='N' port='P'/> instead",
                                               ser, who.buf ? who.buf : "");
                }
                bool no_serial = false;
                for (size_t i = 0; i < n; i++)
                        if (isempty(cands[i]->u.usb.serial))
                                no_serial = true;
                if (no_serial)
                        strbuf_append(&sb, "\n  devices without a serial can only be selected by port path");
        }
        res->message = strbuf_steal(&sb);
        return res->message ? 0 : -ENOMEM;
}

/* ---- other types -------------------------------------------------------------------------- */
static const struct nodedev *find_cap(const struct inventory *inv, enum nodedev_cap cap,
                                      bool (*pred)(const struct nodedev *d, const void *arg), const void *arg) {
        for (size_t i = 0; i < inv->n_devs; i++)
                if (inv->devs[i]->cap == cap && pred(inv->devs[i], arg))
                        return inv->devs[i];
        return NULL;
}

static bool pred_scsi_addr(const struct nodedev *d, const void *arg) {
        const struct scsi_source *s = arg;
        unsigned host;
        const char *h = startswith(s->adapter, "scsi_host");
        if (!h || safe_atou(h, 10, &host) < 0)
                return false;
        return d->u.scsi.host == host && d->u.scsi.bus == s->bus && d->u.scsi.target == s->target &&
               d->u.scsi.lun == s->unit;
}

static bool pred_scsi_sg(const struct nodedev *d, const void *arg) {
        return streq_ptr(d->u.scsi.sg_name, arg);
}

static bool pred_sg_node(const struct nodedev *d, const void *arg) {
        const char *b = d->u.sg ? strrchr(d->u.sg, '/') : NULL;
        return b && streq(b + 1, arg);
}

static bool pred_net(const struct nodedev *d, const void *arg) {
        return streq_ptr(d->u.net.ifname, arg);
}

static bool pred_mdev(const struct nodedev *d, const void *arg) {
        const char *b = d->sysfs_path ? strrchr(d->sysfs_path, '/') : NULL;
        return b && strcasecmp(b + 1, arg) == 0;
}

static bool pred_block(const struct nodedev *d, const void *arg) {
        return streq_ptr(d->u.block, arg) || streq_ptr(d->devnode, arg);
}

static const struct nodedev *find_devnode(const struct inventory *inv, const char *path) {
        for (size_t i = 0; i < inv->n_devs; i++)
                if (streq_ptr(inv->devs[i]->devnode, path))
                        return inv->devs[i];
        return NULL;
}

/* storage/misc nodes that the inventory does not list: is the node there? */
static bool node_exists(const char *path) {
        _cleanup_free_ char *p = NULL;
        const char *rest = startswith(path, "/dev/");
        struct stat st;
        p = rest ? path_join(dev_root(), rest, NULL) : strdup(path);
        return p && stat(p, &st) == 0;
}

static int resolve_other(const struct inventory *inv, const struct hostdev_def *def, struct resolve_result *res,
                         const struct nodedev **ret_dev, bool *ret_found_no_device) {
        const struct nodedev *d = NULL;
        char *msg = NULL;
        *ret_found_no_device = false;

        switch (def->type) {
        case HOSTDEV_TYPE_PCI: {
                const struct pci_addr *a = &def->source.pci.addr;
                d = inventory_find_pci(inv, a);
                if (!d)
                        msg = strdup_printf("no PCI device at %04x:%02x:%02x.%x", a->domain, a->bus, a->slot,
                                            a->function);
                break;
        }
        case HOSTDEV_TYPE_SCSI: {
                const struct scsi_source *s = &def->source.scsi;
                if (s->protocol == SCSI_PROTOCOL_ISCSI) {
                        *ret_found_no_device = true; /* a remote LUN: nothing on this host */
                        break;
                }
                if (s->sg_name) {
                        d = find_cap(inv, NODEDEV_CAP_SCSI, pred_scsi_sg, s->sg_name);
                        if (!d)
                                d = find_cap(inv, NODEDEV_CAP_SCSI_GENERIC, pred_sg_node, s->sg_name);
                        if (!d)
                                msg = strdup_printf("no SCSI generic device %s", s->sg_name);
                } else if (s->adapter) {
                        d = find_cap(inv, NODEDEV_CAP_SCSI, pred_scsi_addr, s);
                        if (!d)
                                msg = strdup_printf("no SCSI device %s bus %u target %u unit %llu", s->adapter,
                                                    s->bus, s->target, s->unit);
                } else
                        msg = strdup("SCSI hostdev without adapter or sg name");
                break;
        }
        case HOSTDEV_TYPE_SCSI_HOST:
                *ret_found_no_device = true; /* vhost-scsi target: created by the kernel's target code */
                break;
        case HOSTDEV_TYPE_MDEV:
                d = def->source.mdev.uuid ? find_cap(inv, NODEDEV_CAP_MDEV, pred_mdev, def->source.mdev.uuid) : NULL;
                if (!d)
                        msg = mdev_missing_message(inv, def->source.mdev.uuid);
                break;
        case HOSTDEV_TYPE_CAP_NET:
                d = def->source.caps.interface ? find_cap(inv, NODEDEV_CAP_NET, pred_net, def->source.caps.interface)
                                               : NULL;
                if (!d)
                        msg = strdup_printf("no network interface %s", strna(def->source.caps.interface));
                break;
        case HOSTDEV_TYPE_CAP_STORAGE: {
                const char *b = def->source.caps.block;
                d = b ? find_cap(inv, NODEDEV_CAP_STORAGE, pred_block, b) : NULL;
                if (!d && b)
                        d = find_devnode(inv, b);
                if (!d && b && node_exists(b))
                        *ret_found_no_device = true;
                else if (!d)
                        msg = strdup_printf("no block device %s", strna(b));
                break;
        }
        case HOSTDEV_TYPE_CAP_MISC: {
                const char *c = def->source.caps.char_dev;
                d = c ? find_devnode(inv, c) : NULL;
                if (!d && c && node_exists(c))
                        *ret_found_no_device = true;
                else if (!d)
                        msg = strdup_printf("no character device %s", strna(c));
                break;
        }
        case HOSTDEV_TYPE_USB:
                break;
        }
        *ret_dev = d;
        if (!d && !*ret_found_no_device) {
                if (!msg)
                        return -ENOMEM;
                res->status = RESOLVE_MISSING;
                res->message = msg;
                return 0;
        }
        free(msg);
        if (d && strv_extend(&res->candidates, d->name) < 0)
                return -ENOMEM;
        return 0;
}

static const struct claim *pci_group_holder(const struct inventory *inv, const struct registry *reg,
                                           const struct nodedev *dev, const char *domain) {
        for (size_t i = 0; i < registry_n_claims(reg); i++) {
                const struct claim *c = registry_claim_at(reg, i);
                if (c->type != HOSTDEV_TYPE_PCI || streq_ptr(c->domain, domain) ||
                    !registry_domain_alive(reg, c->domain))
                        continue;
                const struct nodedev *m = inventory_find_pci(inv, &c->pci.addr);
                int group = m ? m->u.pci.iommu_group : c->pci.iommu_group;
                if (group == dev->u.pci.iommu_group)
                        return c;
        }
        return NULL;
}

int resolve_def(const struct inventory *inv, const struct registry *reg, const struct hostdev_def *def,
                const char *domain, struct resolve_result *ret) {
        struct resolve_result res = { .status = RESOLVE_OK };
        const struct nodedev *dev = NULL;
        bool no_device = false;
        int r;

        r = format_selector(def, &res.selector);
        if (r < 0)
                return r;
        if (def->type == HOSTDEV_TYPE_USB)
                r = resolve_usb(inv, reg, def, &res, &dev);
        else
                r = resolve_other(inv, def, &res, &dev, &no_device);
        if (r < 0) {
                resolve_result_done(&res);
                return r;
        }

        if (res.status == RESOLVE_MISSING && def->startup_policy == STARTUP_POLICY_OPTIONAL) {
                const char *nl = strchr(res.message, '\n');
                int first = nl ? (int) (nl - res.message) : (int) strlen(res.message);
                char *m = strdup_printf("%.*s (startupPolicy='optional': the device is skipped)%s", first,
                                        res.message, res.message + first);
                if (!m) {
                        resolve_result_done(&res);
                        return -ENOMEM;
                }
                free(res.message);
                res.message = m;
                res.status = RESOLVE_SKIPPED;
        }

        if (dev) {
                res.device = dev;
                const struct claim *c = reg ? registry_claim_for_device(reg, dev) : NULL;
                if (!c && reg && dev->cap == NODEDEV_CAP_PCI && dev->u.pci.iommu_group >= 0) {
                        /* a member of the same IOMMU group held by another domain blocks it */
                        const struct claim *g = pci_group_holder(inv, reg, dev, domain);
                        if (g) {
                                _cleanup_free_ char *theirs = claim_describe(g);
                                res.owner = strdup(g->domain);
                                res.status = RESOLVE_IN_USE;
                                res.message = strdup_printf("device %s shares IOMMU group %d with %s, in use by domain %s",
                                                            dev->name, dev->u.pci.iommu_group,
                                                            theirs ? theirs : g->key, g->domain);
                                if (!res.owner || !res.message) {
                                        resolve_result_done(&res);
                                        return -ENOMEM;
                                }
                        }
                }
                if (c) {
                        res.owner = strdup(c->domain);
                        if (!res.owner) {
                                resolve_result_done(&res);
                                return -ENOMEM;
                        }
                        if (!streq_ptr(domain, c->domain) && !(c->shareable && def->shareable)) {
                                char when[32];
                                struct tm tm;
                                _cleanup_free_ char *desc = claim_describe(c);
                                if (!localtime_r(&c->since, &tm) ||
                                    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                                        snprintf(when, sizeof when, "@%lld", (long long) c->since);
                                res.status = RESOLVE_IN_USE;
                                res.message = strdup_printf("device %s is in use by domain %s since %s%s",
                                                            desc ? desc : dev->name, c->domain, when,
                                                            c->shareable ? " (shared there; add <shareable/> to share it)" : "");
                                if (!res.message) {
                                        resolve_result_done(&res);
                                        return -ENOMEM;
                                }
                        }
                }
        }
        *ret = res;
        return 0;
}

int resolve_file(const struct inventory *inv, const struct registry *reg, const struct hostdev_file *f,
                 const char *domain, struct resolve_result **ret, size_t *ret_n) {
        struct resolve_result *out = calloc(f->n_defs ? f->n_defs : 1, sizeof(*out));
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < f->n_defs; i++) {
                int r = resolve_def(inv, reg, f->defs[i], domain, &out[i]);
                if (r < 0) {
                        resolve_results_free(out, i);
                        return r;
                }
                out[i].index = (unsigned) i;
        }
        *ret = out;
        *ret_n = f->n_defs;
        return 0;
}

/* ---- claims ------------------------------------------------------------------------------- */
static unsigned usb_select_bits(const struct usb_source *s) {
        unsigned b = 0;
        if (s->has_vendor || s->has_product)
                b |= USB_SELECT_IDS;
        if (s->serial)
                b |= USB_SELECT_SERIAL;
        if (s->has_bus && s->port)
                b |= USB_SELECT_PORT;
        if (s->has_bus && s->has_device)
                b |= USB_SELECT_BUS_DEVICE;
        return b;
}

char *claim_key_for(const struct hostdev_def *def, const struct nodedev *dev) {
        switch (def->type) {
        case HOSTDEV_TYPE_USB: {
                if (!dev)
                        return def->source.usb.remote_host
                                       ? strdup_printf("usb:remote:%s:%u:%s", def->source.usb.remote_host,
                                                       def->source.usb.remote_port, strempty(def->source.usb.serial))
                                       : NULL;
                struct usb_identity id = { .select = usb_select_bits(&def->source.usb),
                                           .serial = dev->u.usb.serial };
                if (identity_uses_serial(&id))
                        return strdup_printf("usb:%04x:%04x:serial:%s", dev->u.usb.vendor_id, dev->u.usb.product_id,
                                             dev->u.usb.serial);
                _cleanup_free_ char *p = usb_port_sysfs_name(dev);
                return p ? strdup_printf("usb:port:%s", p) : NULL;
        }
        case HOSTDEV_TYPE_PCI: {
                const struct pci_addr *a = &def->source.pci.addr;
                return strdup_printf("pci:%04x:%02x:%02x.%x", a->domain, a->bus, a->slot, a->function);
        }
        case HOSTDEV_TYPE_SCSI:
                if (def->source.scsi.protocol == SCSI_PROTOCOL_ISCSI)
                        return strdup_printf("iscsi:%s", strempty(def->source.scsi.iqn_name));
                if (dev)
                        return strdup_printf("scsi:%s", dev->name);
                return strdup_printf("scsi:%s", strempty(def->source.scsi.sg_name));
        case HOSTDEV_TYPE_SCSI_HOST:
                return strdup_printf("scsi_host:%s", strempty(def->source.scsi_host.wwpn));
        case HOSTDEV_TYPE_MDEV:
                return strdup_printf("mdev:%s", strempty(def->source.mdev.uuid));
        case HOSTDEV_TYPE_CAP_NET:
                return strdup_printf("net:%s", strempty(def->source.caps.interface));
        case HOSTDEV_TYPE_CAP_STORAGE:
                return strdup_printf("storage:%s", strempty(def->source.caps.block));
        case HOSTDEV_TYPE_CAP_MISC:
                return strdup_printf("misc:%s", strempty(def->source.caps.char_dev));
        }
        return NULL;
}

int resolve_make_pending_claim(const struct hostdev_def *def, struct claim **ret) {
        const struct usb_source *u = &def->source.usb;
        _cleanup_(claim_freep) struct claim *c = NULL;
        unsigned select = usb_select_bits(u);
        int r;

        if (def->type != HOSTDEV_TYPE_USB || u->remote_host)
                return -EOPNOTSUPP;
        /* an identity that stays the same when the device appears: vendor+product+serial, or
         * the physical port; vendor/product alone or bus+device name no particular device */
        bool by_serial = u->serial && u->has_vendor && u->has_product;
        bool by_port = (select & USB_SELECT_PORT) && !(select & USB_SELECT_BUS_DEVICE);
        if (!by_serial && !by_port)
                return -EOPNOTSUPP;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->type = HOSTDEV_TYPE_USB;
        c->state = CLAIM_STATE_UNPLUGGED;
        c->shareable = def->shareable;
        c->pci.iommu_group = -1;
        c->usb.vendor = u->has_vendor ? u->vendor : 0;
        c->usb.product = u->has_product ? u->product : 0;
        c->usb.select = select;
        if (u->serial && !(c->usb.serial = strdup(u->serial)))
                return -ENOMEM;
        if (by_port && !(c->usb.port = strdup_printf("%u-%s", u->bus, u->port)))
                return -ENOMEM;
        /* the same key claim_key_for() gives the device once it is there */
        c->key = by_serial ? strdup_printf("usb:%04x:%04x:serial:%s", u->vendor, u->product, u->serial)
                           : strdup_printf("usb:port:%s", c->usb.port);
        if (!c->key)
                return -ENOMEM;
        r = format_selector(def, &c->selector_xml);
        if (r < 0)
                return r;
        if (def->alias && !(c->qemu_id = strdup(def->alias)))
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

int resolve_make_claim(const struct hostdev_def *def, const struct nodedev *dev, struct claim **ret) {
        _cleanup_(claim_freep) struct claim *c = calloc(1, sizeof(*c));
        int r;
        if (!c)
                return -ENOMEM;
        c->type = def->type;
        c->state = CLAIM_STATE_CLAIMED;
        c->shareable = def->shareable;
        c->pci.iommu_group = -1;
        c->key = claim_key_for(def, dev);
        if (!c->key)
                return -ENOMEM;
        r = format_selector(def, &c->selector_xml);
        if (r < 0)
                return r;
        if (def->alias && !(c->qemu_id = strdup(def->alias)))
                return -ENOMEM;
        if (dev && !(c->node = strdup(dev->name)))
                return -ENOMEM;
        if (def->type == HOSTDEV_TYPE_USB && dev) {
                const struct usb_device_info *u = &dev->u.usb;
                c->usb.vendor = u->vendor_id;
                c->usb.product = u->product_id;
                c->usb.select = usb_select_bits(&def->source.usb);
                c->usb.bus = u->bus;
                c->usb.devnum = u->devnum;
                if (u->serial && !(c->usb.serial = strdup(u->serial)))
                        return -ENOMEM;
                if (!(c->usb.port = usb_port_sysfs_name(dev)))
                        return -ENOMEM;
        } else if (def->type == HOSTDEV_TYPE_PCI) {
                c->pci.addr = def->source.pci.addr;
                c->pci.managed = def->managed == TRISTATE_YES;
                if (dev) {
                        c->pci.iommu_group = dev->u.pci.iommu_group;
                        if (dev->driver && !(c->pci.orig_driver = strdup(dev->driver)))
                                return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- claim a whole file ------------------------------------------------------------------- */
int resolve_and_claim(struct registry *reg, const struct inventory *inv, const struct hostdev_file *f,
                      const char *domain, const struct domain_record *rec, struct resolve_result **ret,
                      size_t *ret_n, char **reterr) {
        struct resolve_result *rs = NULL;
        size_t n = 0;
        int r, claimed = 0;

        if (isempty(domain))
                return error_set(reterr, -EINVAL, "claiming devices needs a domain name");
        r = registry_lock(reg, reterr);
        if (r < 0)
                return r;
        r = registry_gc(reg, reterr);
        if (r >= 0)
                r = resolve_file(inv, reg, f, domain, &rs, &n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                for (size_t k = 0; k < i && r >= 0; k++)
                        if (rs[i].device && rs[i].device == rs[k].device)
                                r = error_set(reterr, -EINVAL, "hostdev #%zu and hostdev #%zu both select %s", k, i,
                                              rs[i].device->name);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                _cleanup_(claim_freep) struct claim *c = NULL;
                switch (rs[i].status) {
                case RESOLVE_SKIPPED:
                        continue;
                case RESOLVE_OK:
                        break;
                case RESOLVE_AMBIGUOUS:
                        r = error_set(reterr, -ENOTUNIQ, "%s", rs[i].message);
                        continue;
                case RESOLVE_MISSING:
                        r = error_set(reterr, -ENODEV, "%s", rs[i].message);
                        continue;
                case RESOLVE_IN_USE:
                        r = error_set(reterr, -EBUSY, "%s", rs[i].message);
                        continue;
                }
                r = resolve_make_claim(f->defs[i], rs[i].device, &c);
                if (r >= 0)
                        r = registry_claim(reg, domain, c, inv, reterr);
                if (r > 0)
                        claimed++;
        }
        if (r >= 0 && rec) {
                struct domain_record d = *rec;
                d.name = (char *) domain;
                r = registry_domain_set(reg, &d, reterr);
        }
        if (r >= 0)
                r = registry_save(reg, reterr);
        registry_unlock(reg);
        if (r < 0) {
                resolve_results_free(rs, n);
                /* the in-memory state holds the abandoned claims: back to the file's */
                (void) registry_reload(reg, NULL);
                return r;
        }
        if (ret) {
                *ret = rs;
                *ret_n = n;
        } else
                resolve_results_free(rs, n);
        return claimed;
}

static json_object *json_str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

int resolve_results_to_json(const struct resolve_result *rs, size_t n, char **ret) {
        _cleanup_json_ json_object *arr = json_object_new_array();
        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const struct resolve_result *r = &rs[i];
                json_object *o = json_object_new_object(), *cands = json_object_new_array();
                if (!o || !cands || json_object_array_add(arr, o) < 0) {
                        json_object_put(o);
                        json_object_put(cands);
                        return -ENOMEM;
                }
                json_object_object_add(o, "index", json_object_new_int((int) r->index));
                json_object_object_add(o, "selector", json_str_or_null(r->selector));
                json_object_object_add(o, "status", json_object_new_string(resolve_status_to_string(r->status)));
                json_object_object_add(o, "device", json_str_or_null(r->device ? r->device->name : NULL));
                for (size_t k = 0; r->candidates && r->candidates[k]; k++)
                        json_object_array_add(cands, json_object_new_string(r->candidates[k]));
                json_object_object_add(o, "candidates", cands);
                json_object_object_add(o, "owner", json_str_or_null(r->owner));
        }
        const char *s = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
        char *out = s ? strdup(s) : NULL;
        if (!out)
                return -ENOMEM;
        *ret = out;
        return 0;
}
