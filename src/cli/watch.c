/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev watch: the re-attach daemon (src/lib/watch.c does the work).
 *
 * Every action goes to stderr as one line (the journal picks it up):
 *   re-attached usb_1_4_1 (46f4:0001 serial DONGLE-H) to vm-b in 3.2 ms
 * Warnings and errors carry the usual "hostdev: warning:" / "hostdev: error:" prefix.
 *
 * Testing aids (not part of the contract): HOSTDEV_WATCH_INJECT=FIFO also reads synthetic
 * uevents from that FIFO (see watch_add_inject_fd()); HOSTDEV_WATCH_READY=FILE is created
 * once the loop is listening, so scripts can wait for it. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "error.h"
#include "virt-cli.h"
#include "watch.h"

static bool verbose;

static void log_cb(void *userdata, enum watch_log_level level, const char *line) {
        switch (level) {
        case WATCH_LOG_ERROR:
                log_error("%s", line);
                break;
        case WATCH_LOG_WARNING:
                log_warning("%s", line);
                break;
        case WATCH_LOG_INFO:
                fprintf(stderr, "%s\n", line);
                break;
        case WATCH_LOG_DEBUG:
                if (verbose)
                        fprintf(stderr, "debug: %s\n", line);
                break;
        }
}

int verb_watch(int argc, char **argv) {
        static const struct option opts[] = {
                { "connect", required_argument, NULL, 'c' },
                { "domain", required_argument, NULL, 'd' },
                { "verbose", no_argument, NULL, 'v' },
                {}
        };
        struct watch_options o = {
                .log = log_cb,
                .idle_disconnect_ms = 500,
        };
        _cleanup_(watch_freep) struct watch *w = NULL;
        _cleanup_free_ char *err = NULL;
        const char *inject, *ready;
        int c, r;

        if (virt_cli_uri(argc, argv)) /* libvirt domains (virt-cli.c) */
                return virt_cli_watch(argc, argv);
        while ((c = getopt_long(argc, argv, "v", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        log_error("watch --connect: libvirt domains are not followed by the daemon yet; "
                                  "libvirt re-attaches its own <hostdev> devices");
                        return EXIT_USAGE;
                case 'd':
                        o.domain = optarg;
                        break;
                case 'v':
                        verbose = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                log_error("watch: unexpected argument '%s'", argv[optind]);
                return EXIT_USAGE;
        }

        r = watch_new(&w, &o, &err);
        if (r < 0)
                return report_error(r, err, "cannot start watching");

        inject = getenv("HOSTDEV_WATCH_INJECT");
        if (!isempty(inject)) {
                /* O_RDWR: we are a writer too, so the FIFO never reports EOF */
                int fd = open(inject, O_RDWR | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0) {
                        log_error("cannot open %s: %s", inject, strerror(errno));
                        return EXIT_FAIL;
                }
                r = watch_add_inject_fd(w, fd, &err);
                if (r < 0)
                        return report_error(r, err, "cannot read injected events");
        }
        ready = getenv("HOSTDEV_WATCH_READY");
        if (!isempty(ready)) {
                int fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
                if (fd >= 0)
                        close(fd);
        }
        fprintf(stderr, "hostdev watch: watching USB devices (pid %d)\n", (int) getpid());

        r = watch_run(w);
        if (r < 0)
                return report_error(r, NULL, "watch loop failed");
        fprintf(stderr, "hostdev watch: stopped\n");
        return EXIT_OK;
}
