/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev qemu-args FILE [--name DOMAIN]: resolve the devices and print the QEMU arguments,
 * one per line. Only looks: claims nothing, changes nothing on the host. */
#include "cli.h"
#include "error.h"
#include "hostdev-xml.h"
#include "inventory.h"
#include "qemu-args.h"
#include "util.h"

static void file_freep(struct hostdev_file **f) {
        hostdev_file_free(*f);
}

int verb_qemu_args(int argc, char **argv) {
        static const struct option options[] = {
                { "name", required_argument, NULL, 'n' },
                {},
        };
        _cleanup_(file_freep) struct hostdev_file *f = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_free_ const struct nodedev **devs = NULL;
        _cleanup_strv_free_ char **args = NULL;
        _cleanup_free_ char *err = NULL;
        const char *name = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "n:", options, NULL)) >= 0) {
                switch (c) {
                case 'n':
                        name = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind != argc - 1) {
                log_error("%s: expected one FILE; see 'hostdev %s --help'", argv[0], argv[0]);
                return EXIT_USAGE;
        }

        r = hostdev_file_parse_path(argv[optind], &f, &err);
        if (r < 0) {
                report_error(r, err, argv[optind]);
                return r == -EINVAL || r == -EFBIG ? EXIT_USAGE : EXIT_FAIL;
        }
        if (!name)
                name = f->domain_name;

        r = inventory_scan(&inv, &err);
        if (r < 0) {
                report_error(r, err, "scanning host devices");
                return EXIT_FAIL;
        }
        r = qemu_resolve_devices(inv, NULL, f, name, &devs, &err);
        if (r < 0) {
                report_error(r, err, argv[optind]);
                return EXIT_FAIL;
        }
        r = qemu_args_build(f, devs, &args, &err);
        if (r < 0) {
                report_error(r, err, argv[optind]);
                return EXIT_FAIL;
        }
        for (char **a = args; *a; a++)
                printf("%s\n", *a);
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
}
