/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev run [--name DOMAIN] FILE -- QEMU-COMMAND...
 *
 * Claim and prepare every device (all or nothing), start QEMU with the device arguments and a
 * private QMP socket, forward SIGINT/SIGTERM/SIGHUP to it, re-attach replugged USB devices
 * while it runs (the watch loop, on a second private QMP socket), and when QEMU exits give
 * every device back, release every claim and exit with QEMU's status.
 *
 * The loop: poll() on a signalfd (SIGCHLD + the forwarded signals) and the watch's fd. QEMU
 * gets PR_SET_PDEATHSIG, so if hostdev itself is killed QEMU goes too, and the next hostdev
 * command finds the dead domain (pid + start time) and cleans up (registry_gc). */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "attach.h"
#include "cli.h"
#include "error.h"
#include "util.h"
#include "watch.h"

/* Give everything of the domain back. Returns 0 or the first error (already reported). */
static int release_all(struct registry *reg, const char *domain) {
        _cleanup_free_ char *err = NULL;
        struct claim **claims = NULL;
        size_t n = 0;
        int r, ret = 0;

        r = registry_lock(reg, &err);
        if (r < 0) {
                report_error(r, err, "locking the registry");
                return r;
        }
        r = registry_release_domain(reg, domain, &claims, &n, &err);
        if (r < 0) {
                registry_unlock(reg);
                report_error(r, err, "releasing claims");
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *gerr = NULL;
                r = registry_giveback(claims[i], &gerr);
                if (r < 0) {
                        log_error("%s: could not give it back to the host: %s",
                                  claims[i]->node ? claims[i]->node : claims[i]->key, gerr ? gerr : strerror(-r));
                        ret = ret < 0 ? ret : r;
                }
                claim_free(claims[i]);
        }
        free(claims);
        r = registry_save(reg, &err);
        registry_unlock(reg);
        if (r < 0) {
                report_error(r, err, "saving the registry");
                return r;
        }
        return ret;
}

int verb_run(int argc, char **argv) {
        static const struct option options[] = {
                { "name", required_argument, NULL, 'n' },
                { "no-watch", no_argument, NULL, 'W' },
                { "netns", required_argument, NULL, 'N' },
                { "root", required_argument, NULL, 'R' },
                {},
        };
        _cleanup_free_ char *err = NULL, *qmp_path = NULL, *watch_path = NULL, *qmp_arg = NULL,
                             *watch_arg = NULL;
        _cleanup_strv_free_ char **cmd = NULL;
        /* the watch's action lines as log_info prints them; its debug lines with HOSTDEV_DEBUG */
        const struct cli_log_style log_style = { .prefix_info = true, .debug = getenv("HOSTDEV_DEBUG") != NULL };
        _cleanup_(watch_freep) struct watch *w = NULL;
        _cleanup_close_ int sfd = -1;
        struct attach_ctx ctx = { 0 };
        const char *name = NULL, *file;
        bool use_watch = true, claimed = false;
        sigset_t mask, oldmask;
        int c, r, dashdash = -1, status = 0, ret;
        pid_t pid;

        sigprocmask(SIG_BLOCK, NULL, &oldmask); /* the current mask, restored on every path */
        for (int i = 1; i < argc; i++)
                if (streq(argv[i], "--")) {
                        dashdash = i;
                        break;
                }
        if (dashdash < 0 || dashdash == argc - 1) {
                log_error("%s: expected FILE -- QEMU-COMMAND...; see 'hostdev run --help'", argv[0]);
                return EXIT_USAGE;
        }
        while ((c = getopt_long(dashdash, argv, "n:", options, NULL)) >= 0) {
                switch (c) {
                case 'n':
                        name = optarg;
                        break;
                case 'W':
                        use_watch = false;
                        break;
                case 'N':
                case 'R':
                        log_error("%s: --netns and --root place capabilities-mode devices in a container; "
                                  "the VM that 'run' starts cannot take them", argv[0]);
                        return EXIT_USAGE;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind != dashdash - 1) {
                log_error("%s: expected one FILE before '--'", argv[0]);
                return EXIT_USAGE;
        }
        file = argv[optind];

        r = attach_ctx_open(&ctx, name, file, &err);
        if (r < 0) {
                report_error(r, err, file);
                attach_ctx_done(&ctx);
                return r == -EINVAL ? EXIT_USAGE : EXIT_FAIL;
        }
        if (strchr(ctx.domain, '/') || strchr(ctx.domain, ',') || ctx.domain[0] == '.') {
                log_error("domain name '%s' cannot name a socket file (no '/', ',' or leading '.')", ctx.domain);
                attach_ctx_done(&ctx);
                return EXIT_USAGE;
        }

        /* private QMP sockets: one recorded for attach-device/detach-device, one for the watch */
        qmp_path = strdup_printf("%s/%s.qmp", state_dir(), ctx.domain);
        watch_path = strdup_printf("%s/%s.watch.qmp", state_dir(), ctx.domain);
        qmp_arg = strdup_printf("unix:%s,server=on,wait=off", qmp_path);
        watch_arg = strdup_printf("unix:%s,server=on,wait=off", watch_path);
        if (!qmp_path || !watch_path || !qmp_arg || !watch_arg) {
                attach_ctx_done(&ctx);
                return report_error(-ENOMEM, NULL, argv[0]), EXIT_FAIL;
        }

        /* claim + prepare, all or nothing */
        r = registry_lock(ctx.reg, &err);
        if (r < 0)
                goto fail;
        {
                const struct domain_record *rec = registry_domain_find(ctx.reg, ctx.domain);
                if (rec && registry_domain_alive(ctx.reg, ctx.domain) && rec->pid > 0) {
                        r = error_set(&err, -EBUSY, "domain %s is already running (pid %d)", ctx.domain,
                                      (int) rec->pid);
                        registry_unlock(ctx.reg);
                        goto fail;
                }
        }
        r = attach_claim_prepare(&ctx, "run", NULL, &err);
        if (r < 0) {
                registry_unlock(ctx.reg);
                goto fail;
        }
        {
                struct domain_record rec = { .name = ctx.domain, .qmp_socket = qmp_path };
                r = domain_record_set_process(&rec, getpid());
                if (r >= 0)
                        r = registry_domain_set(ctx.reg, &rec, &err);
        }
        if (r >= 0)
                r = registry_save(ctx.reg, &err);
        if (r < 0) {
                attach_rollback(&ctx, NULL);
                (void) registry_save(ctx.reg, NULL);
                registry_unlock(ctx.reg);
                goto fail;
        }
        registry_unlock(ctx.reg);
        claimed = true;

        /* the command line */
        for (int i = dashdash + 1; i < argc; i++)
                if (strv_extend(&cmd, argv[i]) < 0)
                        goto oom;
        for (size_t i = 0; i < ctx.n_items; i++)
                if (qemu_device_append_args(ctx.items[i].qdev, &cmd) < 0)
                        goto oom;
        if (strv_extend(&cmd, "-qmp") < 0 || strv_extend(&cmd, qmp_arg) < 0)
                goto oom;
        if (use_watch && (strv_extend(&cmd, "-qmp") < 0 || strv_extend(&cmd, watch_arg) < 0))
                goto oom;
        (void) mkdir_p(state_dir(), 0700);
        (void) unlink(qmp_path);
        (void) unlink(watch_path);

        /* signals: blocked here, read through a signalfd; the child gets the old mask back */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, &oldmask) < 0) {
                r = error_set(&err, -errno, "sigprocmask: %m");
                goto fail_release;
        }
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
                r = error_set(&err, -errno, "signalfd: %m");
                goto fail_release;
        }
        int errpipe[2];
        if (pipe2(errpipe, O_CLOEXEC) < 0) {
                r = error_set(&err, -errno, "pipe: %m");
                goto fail_release;
        }
        pid_t parent = getpid();
        pid = fork();
        if (pid < 0) {
                r = error_set(&err, -errno, "fork: %m");
                safe_close(errpipe[0]);
                safe_close(errpipe[1]);
                goto fail_release;
        }
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(127);
                sigprocmask(SIG_SETMASK, &oldmask, NULL);
                safe_close(errpipe[0]);
                execvp(cmd[0], cmd);
                int e = errno;
                (void) !write(errpipe[1], &e, sizeof(e));
                _exit(127);
        }
        safe_close(errpipe[1]);
        {
                int e = 0;
                ssize_t k;
                do
                        k = read(errpipe[0], &e, sizeof(e));
                while (k < 0 && errno == EINTR);
                safe_close(errpipe[0]);
                if (k == sizeof(e)) {
                        (void) waitpid(pid, NULL, 0);
                        r = error_set(&err, -e, "cannot run %s: %s", cmd[0], strerror(e));
                        goto fail_release;
                }
        }

        /* QEMU started with the devices: they are attached */
        r = registry_lock(ctx.reg, &err);
        if (r >= 0) {
                r = attach_commit(&ctx, &err);
                if (r >= 0)
                        r = registry_save(ctx.reg, &err);
                registry_unlock(ctx.reg);
        }
        if (r < 0) {
                report_error(r, err, "recording the attached devices");
                free(err);
                err = NULL;
        }

        if (use_watch) {
                struct watch_options o = { .domain = ctx.domain,
                                           .log = cli_watch_log,
                                           .userdata = (void *) &log_style };
                r = watch_new(&w, &o, &err);
                if (r >= 0)
                        r = watch_add_domain(w, ctx.domain, watch_path, &err);
                if (r < 0) {
                        log_warning("replugged USB devices will not be re-attached: %s",
                                    err ? err : strerror(-r));
                        free(err);
                        err = NULL;
                        w = watch_free(w);
                }
        }

        /* the loop */
        for (;;) {
                struct pollfd pfd[2] = {
                        { .fd = sfd, .events = POLLIN },
                        { .fd = w ? watch_get_fd(w) : -1, .events = POLLIN },
                };
                int timeout = w ? watch_get_timeout_ms(w) : -1;
                bool exited = false;

                r = poll(pfd, 2, timeout);
                if (r < 0 && errno != EINTR) {
                        log_error("poll: %m");
                        kill(pid, SIGTERM);
                }
                if (pfd[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
                                if (si.ssi_signo == SIGCHLD)
                                        continue;
                                (void) kill(pid, (int) si.ssi_signo); /* forward */
                        }
                }
                r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        exited = true;
                else if (r < 0 && errno == ECHILD)
                        exited = true;
                if (exited)
                        break;
                if (w && watch_process(w) < 0) {
                        log_warning("the re-attach loop failed; replugged USB devices will not come back");
                        w = watch_free(w);
                }
        }
        w = watch_free(w);
        sigprocmask(SIG_SETMASK, &oldmask, NULL);

        ret = release_all(ctx.reg, ctx.domain) < 0 ? EXIT_FAIL : EXIT_OK;
        (void) unlink(qmp_path);
        (void) unlink(watch_path);
        attach_ctx_done(&ctx);
        if (WIFEXITED(status))
                return WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : ret;
        if (WIFSIGNALED(status)) {
                log_error("QEMU was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
                return 128 + WTERMSIG(status);
        }
        return ret;

oom:
        r = -ENOMEM;
fail_release:
        report_error(r, err, argv[0]);
        sigprocmask(SIG_SETMASK, &oldmask, NULL);
        if (claimed)
                (void) release_all(ctx.reg, ctx.domain);
        attach_ctx_done(&ctx);
        return EXIT_FAIL;
fail:
        report_error(r, err, argv[0]);
        attach_ctx_done(&ctx);
        return EXIT_FAIL;
}
