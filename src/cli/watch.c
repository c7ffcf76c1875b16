/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev watch: the re-attach daemon (src/lib/watch.c does the work).
 *
 * Every action goes to stderr as one line (the journal picks it up):
 *   re-attached usb_1_4_1 (46f4:0001 serial DONGLE-H) to vm-b in 3.2 ms
 * Warnings and errors carry the usual "hostdev: warning:" / "hostdev: error:" prefix.
 *
 * Memory: the hostdev binary links libvirt (and through it gnutls and ~50 libraries), ~12 MB
 * of resident file pages. So this file is also built as hostdev-watch (HOSTDEV_WATCH_MAIN),
 * linked with --as-needed against only what the loop uses, and `hostdev watch` execs that
 * twin when it finds it: $HOSTDEV_WATCH_HELPER, next to the hostdev binary in a build tree
 * (src/cli/hostdev-watch) or installed (../libexec/hostdev-watch). Same pid, same options,
 * same output; HOSTDEV_WATCH_NO_EXEC=1 keeps the loop in the hostdev process.
 *
 * Testing aids (not part of the contract): HOSTDEV_WATCH_INJECT=FIFO also reads synthetic
 * uevents from that FIFO (see watch_add_inject_fd()); HOSTDEV_WATCH_READY=FILE is created
 * once the loop is listening, so scripts can wait for it. */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "cli.h"
#include "error.h"
#include "util.h"
#include "watch.h"

#define W_EXIT_OK 0
#define W_EXIT_FAIL 1
#define W_EXIT_USAGE 2

static struct cli_log_style log_style; /* --verbose: debug lines */

static void say(const char *prefix, const char *fmt, ...) _printf_(2, 3);
static void say(const char *prefix, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        fprintf(stderr, "%s%s\n", prefix, s ? s : fmt);
        free(s);
}

static int fail_with(int r, const char *msg, const char *what) {
        if (msg)
                say("hostdev: error: ", "%s: %s", what, msg);
        else
                say("hostdev: error: ", "%s: %s", what, strerror(r < 0 ? -r : r));
        return W_EXIT_FAIL;
}

static int watch_main(int argc, char **argv) {
        static const struct option opts[] = {
                { "connect", required_argument, NULL, 'c' },
                { "domain", required_argument, NULL, 'd' },
                { "udev-events", no_argument, NULL, 'u' },
                { "verbose", no_argument, NULL, 'v' },
                {}
        };
        struct watch_options o = {
                .log = cli_watch_log,
                .userdata = &log_style,
                .idle_disconnect_ms = 500,
        };
        _cleanup_(watch_freep) struct watch *w = NULL;
        _cleanup_free_ char *err = NULL;
        const char *inject, *ready;
        int c, r;

        while ((c = getopt_long(argc, argv, "v", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        say("hostdev: error: ", "watch --connect: libvirt domains are followed by "
                            "'hostdev watch --connect URI', not by this slim twin");
                        return W_EXIT_USAGE;
                case 'd':
                        o.domain = optarg;
                        break;
                case 'u':
                        o.udev_events = true;
                        break;
                case 'v':
                        log_style.debug = true;
                        break;
                default:
                        return W_EXIT_USAGE;
                }
        }
        if (optind < argc) {
                say("hostdev: error: ", "watch: unexpected argument '%s'", argv[optind]);
                return W_EXIT_USAGE;
        }

        r = watch_new(&w, &o, &err);
        if (r < 0)
                return fail_with(r, err, "cannot start watching");

        inject = getenv("HOSTDEV_WATCH_INJECT");
        if (!isempty(inject)) {
                /* O_RDWR: we are a writer too, so the FIFO never reports EOF */
                int fd = open(inject, O_RDWR | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0)
                        return fail_with(-errno, NULL, inject);
                r = watch_add_inject_fd(w, fd, &err);
                if (r < 0)
                        return fail_with(r, err, "cannot read injected events");
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
                return fail_with(r, NULL, "watch loop failed");
        fprintf(stderr, "hostdev watch: stopped\n");
        return W_EXIT_OK;
}

#ifdef HOSTDEV_WATCH_MAIN
int main(int argc, char **argv) {
        return watch_main(argc, argv);
}
#else
#include "cli.h"
#include "virt-cli.h"

/* The slim twin's path, or NULL. */
static char *find_helper(void) {
        const char *env = getenv("HOSTDEV_WATCH_HELPER");
        _cleanup_free_ char *self = NULL;
        if (!isempty(env))
                return access(env, X_OK) == 0 ? strdup(env) : NULL;
        if (readlink_malloc("/proc/self/exe", &self) < 0)
                return NULL;
        char *slash = strrchr(self, '/');
        if (!slash)
                return NULL;
        *slash = 0;
        static const char *const rel[] = { "src/cli/hostdev-watch", "../libexec/hostdev-watch" };
        for (size_t i = 0; i < ELEMENTSOF(rel); i++) {
                char *p = path_join(self, rel[i], NULL);
                if (p && access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

int verb_watch(int argc, char **argv) {
        const char *noexec = getenv("HOSTDEV_WATCH_NO_EXEC");

        if (virt_cli_uri(argc, argv)) /* libvirt domains: needs libvirt, stays here (virt-cli.c) */
                return virt_cli_watch(argc, argv);
        if (isempty(noexec) || streq(noexec, "0")) {
                _cleanup_free_ char *helper = find_helper();
                if (helper) {
                        char **av = calloc((size_t) argc + 1, sizeof(char *));
                        if (av) {
                                av[0] = (char *) "hostdev-watch";
                                for (int i = 1; i < argc; i++)
                                        av[i] = argv[i];
                                execv(helper, av);
                                free(av); /* exec failed: run in this process */
                        }
                }
        }
        return watch_main(argc, argv);
}
#endif
