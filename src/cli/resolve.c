/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev resolve FILE [--json]: which host device each <hostdev> selects and who holds it. */
#include <sys/stat.h>

#include "cli.h"
#include "error.h"
#include "hostdev-xml.h"
#include "inventory.h"
#include "registry.h"
#include "resolve.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hostdev_file *, hostdev_file_free);

/* The registry, if there is one (no state directory: nothing was ever claimed). A registry
 * that cannot be read is reported as a warning: resolution still answers without owners. */
static struct registry *open_registry_if_any(void) {
        struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        struct stat st;
        int r;

        if (stat(state_dir(), &st) < 0)
                return NULL;
        r = registry_open(&reg, &err);
        if (r < 0) {
                log_warning("cannot read the claims registry, owners are not shown: %s", err ? err : strerror(-r));
                return NULL;
        }
        char *const *msgs = registry_recovery_messages(reg);
        for (size_t i = 0; msgs && msgs[i]; i++)
                log_warning("%s", msgs[i]);
        return reg;
}

static int print_json(const struct resolve_result *rs, size_t n) {
        _cleanup_free_ char *text = NULL;
        int r = resolve_results_to_json(rs, n, &text);
        if (r < 0)
                return r;
        puts(text);
        return 0;
}

static void print_table(const struct resolve_result *rs, size_t n) {
        int wsel = 8, wdev = 6;
        for (size_t i = 0; i < n; i++) {
                int l = (int) strlen(rs[i].selector);
                if (l > wsel)
                        wsel = l;
                if (rs[i].device && (int) strlen(rs[i].device->name) > wdev)
                        wdev = (int) strlen(rs[i].device->name);
        }
        printf("%-5s  %-*s  %-9s  %-*s  %s\n", "INDEX", wsel, "SELECTOR", "STATUS", wdev, "DEVICE", "OWNER");
        for (size_t i = 0; i < n; i++) {
                const struct resolve_result *r = &rs[i];
                printf("%-5u  %-*s  %-9s  %-*s  %s\n", r->index, wsel, r->selector,
                       r->status == RESOLVE_SKIPPED ? "skipped" : resolve_status_to_string(r->status), wdev,
                       r->device ? r->device->name : "-", r->owner ? r->owner : "-");
        }
}

static bool all_usb(const struct hostdev_file *f) {
        for (size_t i = 0; i < f->n_defs; i++)
                if (f->defs[i]->type != HOSTDEV_TYPE_USB)
                        return false;
        return true;
}

int verb_resolve(int argc, char **argv) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                {},
        };
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        struct resolve_result *rs = NULL;
        size_t n = 0;
        bool json = false;
        int c, r, ret = EXIT_OK;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind != argc - 1) {
                log_error("usage: hostdev resolve FILE [--json]");
                return EXIT_USAGE;
        }

        r = hostdev_file_parse_path(argv[optind], &f, &err);
        if (r < 0) {
                report_error(r, err, argv[optind]);
                return r == -EINVAL || r == -ENOENT || r == -EISDIR || r == -EACCES || r == -EFBIG ? EXIT_USAGE
                                                                                                    : EXIT_FAIL;
        }
        r = all_usb(f) ? inventory_scan_usb(&inv, &err) : inventory_scan(&inv, &err);
        if (r < 0) {
                report_error(r, err, "scanning host devices");
                return EXIT_FAIL;
        }
        reg = open_registry_if_any();
        r = resolve_file(inv, reg, f, f->domain_name, &rs, &n);
        if (r < 0) {
                report_error(r, NULL, "resolve");
                return EXIT_FAIL;
        }

        if (json)
                r = print_json(rs, n);
        else
                print_table(rs, n);
        if (r < 0) {
                resolve_results_free(rs, n);
                report_error(r, NULL, "resolve");
                return EXIT_FAIL;
        }
        fflush(stdout);
        for (size_t i = 0; i < n; i++) {
                switch (rs[i].status) {
                case RESOLVE_OK:
                        break;
                case RESOLVE_SKIPPED:
                        log_warning("hostdev #%u: %s", rs[i].index, rs[i].message);
                        break;
                default:
                        log_error("hostdev #%u: %s", rs[i].index, rs[i].message);
                        ret = EXIT_FAIL;
                }
        }
        resolve_results_free(rs, n);
        return ret;
}
