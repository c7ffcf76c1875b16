/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev dumpxml NAME: libvirt-compatible node device XML. */
#include "cli.h"
#include "inventory.h"
#include "util.h"

int verb_dumpxml(int argc, char **argv) {
        static const struct option opts[] = { {} };
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_free_ char *err = NULL, *xml = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                return EXIT_USAGE;
        if (argc - optind != 1) {
                log_error("dumpxml needs exactly one device name (see 'hostdev list')");
                return EXIT_USAGE;
        }
        const char *name = argv[optind];
        r = inventory_scan(&inv, &err);
        if (r < 0) {
                report_error(r, err, "scanning host devices");
                return EXIT_FAIL;
        }
        const struct nodedev *d = inventory_find(inv, name);
        if (!d) {
                log_error("no host device named '%s' (see 'hostdev list')", name);
                return EXIT_FAIL;
        }
        /* the warnings about this device: they name its path relative to the root */
        const char *root = inv->devs[0]->sysfs_path;
        if (d != inv->devs[0] && root && d->sysfs_path && startswith(d->sysfs_path, root)) {
                const char *rel = d->sysfs_path + strlen(root);
                rel += *rel == '/';
                for (char **w = inv->warnings; w && *w; w++)
                        if (startswith(*w, rel))
                                log_warning("%s", *w);
        }
        r = nodedev_format_xml(inv, d, &xml);
        if (r < 0) {
                report_error(r, NULL, "formatting device XML");
                return EXIT_FAIL;
        }
        fputs(xml, stdout);
        return EXIT_OK;
}
