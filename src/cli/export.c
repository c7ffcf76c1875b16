/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev export FILE / unexport FILE: on a dongle host, serve the selected USB devices over
 * USB/IP (kernel usbip-host, served by the stock usbipd), or stop. An export is a claim of
 * the domain "export" in the registry: an exported dongle is never given to a local VM, and a
 * dongle a local VM holds is not exported. */
#include "cli.h"
#include "error.h"
#include "hostdev-xml.h"
#include "registry.h"
#include "resolve.h"
#include "usbip.h"
#include "util.h"

#define EXPORT_DOMAIN "export"

struct export_ctx {
        struct hostdev_file *f;
        struct registry *reg;
        struct inventory *inv;
};

static void export_ctx_done(struct export_ctx *c) {
        hostdev_file_free(c->f);
        registry_free(c->reg);
        inventory_free(c->inv);
}

static int export_ctx_open(struct export_ctx *c, int argc, char **argv) {
        _cleanup_free_ char *err = NULL;
        int r;

        *c = (struct export_ctx){ 0 };
        if (argc != 2 || isempty(argv[1])) {
                log_error("usage: hostdev %s FILE", argv[0]);
                return EXIT_USAGE;
        }
        r = hostdev_file_parse_path(argv[1], &c->f, &err);
        if (r < 0) {
                report_error(r, err, argv[1]);
                return r == -ENOMEM ? EXIT_FAIL : EXIT_USAGE;
        }
        for (size_t i = 0; i < c->f->n_defs; i++) {
                const struct hostdev_def *d = c->f->defs[i];
                if (d->type != HOSTDEV_TYPE_USB) {
                        log_error("%s: hostdev #%zu is not a USB device: only USB devices are served over USB/IP",
                                  argv[1], i);
                        return EXIT_USAGE;
                }
                if (d->source.usb.remote_host) {
                        log_error("%s: hostdev #%zu has <remote host='%s'/>: export runs on the host the device "
                                  "is plugged into, with local selectors",
                                  argv[1], i, d->source.usb.remote_host);
                        return EXIT_USAGE;
                }
        }
        if (c->f->n_defs == 0) {
                log_error("%s: no <hostdev> to export", argv[1]);
                return EXIT_USAGE;
        }
        r = registry_open(&c->reg, &err);
        if (r < 0) {
                report_error(r, err, "opening the claims registry");
                return EXIT_FAIL;
        }
        r = inventory_scan_usb(&c->inv, &err);
        if (r < 0) {
                report_error(r, err, "scanning USB devices");
                return EXIT_FAIL;
        }
        return EXIT_OK;
}

/* The exported (usbip-host) devices s selects: exactly one, or NULL with *ret_n the count. */
static const struct nodedev *find_exported(const struct inventory *inv, const struct usb_source *s, size_t *ret_n) {
        const struct nodedev *found = NULL;
        size_t n = 0;
        for (size_t i = 0; i < inv->n_devs; i++) {
                const struct nodedev *d = inv->devs[i];
                if (d->cap != NODEDEV_CAP_USB_DEVICE || !d->u.usb.usbip_exported || !usb_source_matches_device(s, d))
                        continue;
                found = d;
                n++;
        }
        *ret_n = n;
        return n == 1 ? found : NULL;
}

static void describe(const struct nodedev *d, char *buf, size_t size) {
        const char *b = strrchr(d->sysfs_path, '/');
        snprintf(buf, size, "%s (%04x:%04x%s%s, bus id %s)", d->name, d->u.usb.vendor_id, d->u.usb.product_id,
                 d->u.usb.serial ? " serial " : "", strempty(d->u.usb.serial), b ? b + 1 : d->sysfs_path);
}

int verb_export(int argc, char **argv) {
        _cleanup_(export_ctx_done) struct export_ctx c = { 0 };
        _cleanup_free_ struct hostdev_def **todo = NULL;
        _cleanup_free_ char *err = NULL;
        struct resolve_result *rs = NULL;
        size_t n_todo = 0, nrs = 0;
        bool failed = false;
        int r;

        r = export_ctx_open(&c, argc, argv);
        if (r != EXIT_OK)
                return r;

        /* already exported: keep (and make sure the claim is there) */
        todo = calloc(c.f->n_defs, sizeof(*todo));
        if (!todo)
                return report_error(-ENOMEM, NULL, "export"), EXIT_FAIL;
        for (size_t i = 0; i < c.f->n_defs; i++) {
                size_t n;
                const struct nodedev *d = find_exported(c.inv, &c.f->defs[i]->source.usb, &n);
                char desc[256];
                if (!d) {
                        todo[n_todo++] = c.f->defs[i];
                        continue;
                }
                _cleanup_(claim_freep) struct claim *cl = NULL;
                _cleanup_free_ char *e = NULL;
                describe(d, desc, sizeof desc);
                r = resolve_make_claim(c.f->defs[i], d, &cl);
                if (r >= 0)
                        r = registry_claim(c.reg, EXPORT_DOMAIN, cl, c.inv, &e);
                if (r < 0) {
                        report_error(r, e, desc);
                        failed = true;
                        continue;
                }
                printf("%s is exported already\n", desc);
        }
        if (n_todo == 0)
                return failed ? EXIT_FAIL : EXIT_OK;

        /* claim the rest for "export", all or nothing, with the usual selection rules */
        struct hostdev_file sub = { .path = c.f->path, .defs = todo, .n_defs = n_todo };
        r = resolve_and_claim(c.reg, c.inv, &sub, EXPORT_DOMAIN, NULL, &rs, &nrs, &err);
        if (r < 0) {
                report_error(r, err, "export");
                return EXIT_FAIL;
        }
        for (size_t i = 0; i < nrs; i++) {
                const struct nodedev *d = rs[i].device;
                _cleanup_free_ char *e = NULL, *key = NULL;
                char desc[256];
                if (rs[i].status != RESOLVE_OK || !d)
                        continue;
                describe(d, desc, sizeof desc);
                r = usbip_export_device(d, &e);
                if (r < 0) {
                        report_error(r, e, desc);
                        failed = true;
                        key = claim_key_for(todo[i], d);
                        if (key)
                                (void) registry_release_claim(c.reg, EXPORT_DOMAIN, key, NULL, NULL);
                        continue;
                }
                printf("exported %s\n", desc);
        }
        resolve_results_free(rs, nrs);
        return failed ? EXIT_FAIL : EXIT_OK;
}

int verb_unexport(int argc, char **argv) {
        _cleanup_(export_ctx_done) struct export_ctx c = { 0 };
        bool failed = false;
        int r;

        r = export_ctx_open(&c, argc, argv);
        if (r != EXIT_OK)
                return r;
        for (size_t i = 0; i < c.f->n_defs; i++) {
                const struct hostdev_def *def = c.f->defs[i];
                _cleanup_free_ char *e = NULL, *key = NULL, *sel = NULL;
                size_t n;
                const struct nodedev *d = find_exported(c.inv, &def->source.usb, &n);
                char desc[256];

                if (!d) {
                        /* not bound to usbip-host (any more): drop a leftover claim of the export */
                        struct resolve_result res;
                        r = resolve_def(c.inv, c.reg, def, EXPORT_DOMAIN, &res);
                        if (r < 0)
                                return report_error(r, NULL, "unexport"), EXIT_FAIL;
                        if (res.status == RESOLVE_OK && res.device && streq_ptr(res.owner, EXPORT_DOMAIN) &&
                            (key = claim_key_for(def, res.device)))
                                (void) registry_release_claim(c.reg, EXPORT_DOMAIN, key, NULL, NULL);
                        if (n > 1)
                                log_error("hostdev #%zu (%s) matches %zu exported devices: select one by serial or "
                                          "port",
                                          i, strna(res.selector), n);
                        else if (res.status == RESOLVE_OK && res.device) {
                                describe(res.device, desc, sizeof desc);
                                printf("%s is not exported\n", desc);
                                resolve_result_done(&res);
                                continue;
                        } else
                                log_error("hostdev #%zu (%s): no exported device matches", i, strna(res.selector));
                        resolve_result_done(&res);
                        failed = true;
                        continue;
                }
                describe(d, desc, sizeof desc);
                r = usbip_unexport_device(d, &e);
                if (r < 0) {
                        report_error(r, e, desc);
                        failed = true;
                        continue;
                }
                key = claim_key_for(def, d);
                if (!key)
                        return report_error(-ENOMEM, NULL, "unexport"), EXIT_FAIL;
                r = registry_release_claim(c.reg, EXPORT_DOMAIN, key, NULL, &e);
                if (r < 0 && r != -ENOENT) {
                        report_error(r, e, desc);
                        failed = true;
                        continue;
                }
                printf("unexported %s\n", desc);
        }
        return failed ? EXIT_FAIL : EXIT_OK;
}
