/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev validate FILE: parse any accepted input form and print libvirt's normalised XML. */
#include "cli.h"

#include "hostdev-xml.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hostdev_file *, hostdev_file_free);

int verb_validate(int argc, char **argv) {
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL, *out = NULL;
        const char *path = NULL;
        int r;

        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--") && i + 1 < argc && !path) {
                        path = argv[++i];
                        if (i + 1 < argc) {
                                log_error("validate: too many arguments, takes one FILE");
                                return EXIT_USAGE;
                        }
                        break;
                }
                if (argv[i][0] == '-' && argv[i][1] != '\0') {
                        log_error("validate: unknown option '%s'", argv[i]);
                        return EXIT_USAGE;
                }
                if (path) {
                        log_error("validate: too many arguments, takes one FILE");
                        return EXIT_USAGE;
                }
                path = argv[i];
        }
        if (!path) {
                log_error("validate: missing FILE (use - for standard input)");
                return EXIT_USAGE;
        }

        r = hostdev_file_parse_path(path, &f, &err);
        if (r < 0) {
                report_error(r, err, path);
                return EXIT_USAGE;
        }
        r = hostdev_file_format(f, &out);
        if (r < 0) {
                report_error(r, NULL, "formatting");
                return EXIT_FAIL;
        }
        fputs(out, stdout);
        if (fflush(stdout) != 0) {
                log_error("validate: cannot write output: %s", strerror(errno));
                return EXIT_FAIL;
        }
        return EXIT_OK;
}
