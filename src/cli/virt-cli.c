/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --connect URI: the domain verbs for libvirt domains (see virt-cli.h, src/lib/virt.h). */
#include "virt-cli.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "hostdev-xml.h"
#include "inventory.h"
#include "registry.h"
#include "util.h"
#include "virt.h"
#include "watch.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hostdev_file *, hostdev_file_free);

static struct cli_log_style log_style; /* --verbose: debug lines */

const char *virt_cli_uri(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                const char *v;
                if (streq(argv[i], "--"))
                        break;
                if (streq(argv[i], "--connect"))
                        return i + 1 < argc ? argv[i + 1] : NULL;
                if ((v = startswith(argv[i], "--connect=")))
                        return v;
        }
        return NULL;
}

int virt_cli_attach_detach(int argc, char **argv, bool attach) {
        static const struct option options[] = {
                { "connect", required_argument, NULL, 'c' },
                { "config", no_argument, NULL, 'C' },
                { "qmp", required_argument, NULL, 'q' },
                { "netns", required_argument, NULL, 'n' },
                { "root", required_argument, NULL, 'r' },
                {},
        };
        _cleanup_(virt_closep) struct virt_conn *c = NULL;
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL;
        const char *uri = NULL, *domain, *file;
        unsigned flags = VIRT_AFFECT_LIVE;
        int o, r;

        while ((o = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (o) {
                case 'c':
                        uri = optarg;
                        break;
                case 'C':
                        flags |= VIRT_AFFECT_CONFIG;
                        break;
                case 'q':
                case 'n':
                case 'r':
                        log_error("%s: --connect (a libvirt domain) excludes --qmp, --netns and --root", argv[0]);
                        return EXIT_USAGE;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind != argc - 2) {
                log_error("%s: expected DOMAIN FILE; see 'hostdev %s --help'", argv[0], argv[0]);
                return EXIT_USAGE;
        }
        domain = argv[optind];
        file = argv[optind + 1];

        r = hostdev_file_parse_path(file, &f, &err);
        if (r < 0) {
                report_error(r, err, file);
                return r == -EINVAL || r == -EBADMSG || r == -EFBIG ? EXIT_USAGE : EXIT_FAIL;
        }
        r = virt_open(uri, &c, &err);
        if (r >= 0)
                r = attach ? virt_attach_file(c, f, domain, flags, cli_virt_log, &log_style, &err)
                           : virt_detach_file(c, f, domain, flags, cli_virt_log, &log_style, &err);
        if (r < 0) {
                report_error(r, err, argv[0]);
                return r == -EOPNOTSUPP || r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
        }
        return EXIT_OK;
}

int virt_cli_watch(int argc, char **argv) {
        static const struct option options[] = {
                { "connect", required_argument, NULL, 'c' },
                { "domain", required_argument, NULL, 'd' },
                /* accepted, and what happens anyway: libvirt sets the node's owner for its
                 * QEMU from udevd's event, so the libvirt loop always waits for udevd */
                { "udev-events", no_argument, NULL, 'u' },
                { "verbose", no_argument, NULL, 'v' },
                {},
        };
        struct virt_watch_options wo = { .log = cli_virt_log, .userdata = &log_style };
        _cleanup_free_ char *err = NULL;
        const char *ready;
        int o, r;

        while ((o = getopt_long(argc, argv, "v", options, NULL)) >= 0) {
                switch (o) {
                case 'c':
                        wo.uri = optarg;
                        break;
                case 'd':
                        wo.domain = optarg;
                        break;
                case 'u':
                        break;
                case 'v':
                        log_style.debug = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                log_error("watch: unexpected argument '%s'", argv[optind]);
                return EXIT_USAGE;
        }
        ready = getenv("HOSTDEV_WATCH_READY");
        wo.ready_file = isempty(ready) ? NULL : ready;
        r = virt_watch_run(&wo, &err);
        if (r < 0)
                return report_error(r, err, "watch --connect"), EXIT_FAIL;
        fprintf(stderr, "hostdev watch: stopped\n");
        return EXIT_OK;
}

void virt_cli_sync(const char *uri) {
        _cleanup_(virt_closep) struct virt_conn *c = NULL;
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        r = virt_open(uri, &c, &err);
        if (r >= 0)
                r = registry_open(&reg, &err);
        if (r >= 0)
                r = inventory_scan(&inv, &err);
        if (r >= 0)
                r = virt_sync_held(c, reg, inv, cli_virt_log, &log_style, &err);
        if (r < 0)
                log_warning("cannot compare the claims with what libvirt holds: %s", err ? err : strerror(-r));
}

int virt_cli_release(const char *uri, const char *domain) {
        _cleanup_(virt_closep) struct virt_conn *c = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        r = virt_open(uri, &c, &err);
        if (r >= 0)
                r = virt_detach_domain_claims(c, domain, cli_virt_log, &log_style, &err);
        if (r < 0)
                report_error(r, err, "release");
        return r;
}
