/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A scripted fake QMP server for tests (in the spirit of libvirt's qemumonitortestutils):
 * it runs in a thread on one end of a socketpair and plays a script, line by line:
 *
 *   # comment
 *   send JSON            send one message (a line, "\r\n" appended)
 *   sendraw TEXT         send TEXT as it is, no newline (for truncated messages)
 *   expect NAME [ARGS]   read one command; "execute" must be NAME; if ARGS (a JSON object)
 *                        is given, each of its members must be equal in "arguments"
 *   reply JSON           send JSON with the "id" of the last expected command added
 *   sleep MS             pause
 *   close                close the socket and end the script
 *   eof                  wait until the client closes its end
 *
 * Any mismatch is recorded in fake->error (the test asserts it is NULL) and ends the script.
 * Header-only: the unit test build compiles one source per test. */
#pragma once

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include <json-c/json.h>

#include "json-util.h"
#include "util.h"

struct qmp_fake {
        int fd;
        char **lines;
        pthread_t thread;
        char *error;
        char inbuf[1 << 16];
        size_t inlen;
        unsigned n_commands; /* commands received */
};

_unused_ static void fake_fail(struct qmp_fake *f, const char *fmt, ...) _printf_(2, 3);
_unused_ static void fake_fail(struct qmp_fake *f, const char *fmt, ...) {
        va_list ap;
        if (f->error)
                return;
        va_start(ap, fmt);
        if (vasprintf(&f->error, fmt, ap) < 0)
                f->error = NULL;
        va_end(ap);
}

_unused_ static int fake_send(struct qmp_fake *f, const char *s, size_t n) {
        while (n > 0) {
                ssize_t k = send(f->fd, s, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                s += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Read one line (without the newline) with a 10 s limit; NULL on EOF/timeout. */
_unused_ static char *fake_read_line(struct qmp_fake *f) {
        for (;;) {
                char *nl = memchr(f->inbuf, '\n', f->inlen);
                if (nl) {
                        size_t n = (size_t) (nl - f->inbuf);
                        char *line = strndup(f->inbuf, n);
                        memmove(f->inbuf, nl + 1, f->inlen - n - 1);
                        f->inlen -= n + 1;
                        return line;
                }
                struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
                if (poll(&pfd, 1, 10000) <= 0)
                        return NULL;
                if (f->inlen == sizeof(f->inbuf))
                        return NULL;
                ssize_t k = read(f->fd, f->inbuf + f->inlen, sizeof(f->inbuf) - f->inlen);
                if (k <= 0)
                        return NULL;
                f->inlen += (size_t) k;
        }
}

_unused_ static void *fake_run(void *userdata) {
        struct qmp_fake *f = userdata;
        _cleanup_free_ char *last_id = NULL;

        for (char **l = f->lines; l && *l && !f->error; l++) {
                const char *line = *l, *arg;
                if (*line == '#' || *line == '\0')
                        continue;
                if ((arg = startswith(line, "send "))) {
                        _cleanup_free_ char *s = strdup_printf("%s\r\n", arg);
                        if (fake_send(f, s, strlen(s)) < 0)
                                fake_fail(f, "send failed: %s", line);
                } else if ((arg = startswith(line, "sendraw "))) {
                        if (fake_send(f, arg, strlen(arg)) < 0)
                                fake_fail(f, "sendraw failed: %s", line);
                } else if ((arg = startswith(line, "expect "))) {
                        _cleanup_free_ char *name = NULL, *got = NULL;
                        _cleanup_json_ json_object *cmd = NULL, *want_args = NULL;
                        json_object *v, *args = NULL;
                        const char *sp = strchr(arg, ' ');
                        name = sp ? strndup(arg, (size_t) (sp - arg)) : strdup(arg);
                        if (sp)
                                want_args = json_tokener_parse(sp + 1);
                        got = fake_read_line(f);
                        if (!got) {
                                fake_fail(f, "expected command %s, got EOF/timeout", name);
                                break;
                        }
                        f->n_commands++;
                        cmd = json_tokener_parse(got);
                        if (!cmd || !json_object_object_get_ex(cmd, "execute", &v) ||
                            !streq(json_object_get_string(v), name)) {
                                fake_fail(f, "expected command %s, got: %s", name, got);
                                break;
                        }
                        free(last_id);
                        last_id = json_object_object_get_ex(cmd, "id", &v)
                                          ? strdup(json_object_get_string(v))
                                          : NULL;
                        json_object_object_get_ex(cmd, "arguments", &args);
                        if (want_args) {
                                json_object_object_foreach(want_args, key, val) {
                                        json_object *a = NULL;
                                        if (!args || !json_object_object_get_ex(args, key, &a) ||
                                            !json_object_equal(a, val))
                                                fake_fail(f, "command %s: argument %s differs: %s", name,
                                                          key, got);
                                }
                        }
                } else if ((arg = startswith(line, "reply "))) {
                        _cleanup_json_ json_object *r = json_tokener_parse(arg);
                        _cleanup_free_ char *s = NULL;
                        if (!r) {
                                fake_fail(f, "bad reply in script: %s", arg);
                                break;
                        }
                        if (last_id)
                                json_object_object_add(r, "id", json_object_new_string(last_id));
                        s = strdup_printf("%s\r\n", json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
                        if (fake_send(f, s, strlen(s)) < 0)
                                fake_fail(f, "reply failed");
                } else if ((arg = startswith(line, "sleep "))) {
                        unsigned ms = (unsigned) atoi(arg);
                        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
                        nanosleep(&ts, NULL);
                } else if (streq(line, "close")) {
                        break;
                } else if (streq(line, "eof")) {
                        char *s;
                        while ((s = fake_read_line(f)))
                                free(s);
                } else
                        fake_fail(f, "bad script line: %s", line);
        }
        shutdown(f->fd, SHUT_RDWR);
        f->fd = safe_close(f->fd);
        return NULL;
}

/* Start the server on a socketpair; *ret_client_fd is the client's end. */
_unused_ static int qmp_fake_start_lines(struct qmp_fake *f, char **lines, int *ret_client_fd) {
        int sv[2];
        memset(f, 0, sizeof(*f));
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        f->fd = sv[1];
        f->lines = lines;
        if (pthread_create(&f->thread, NULL, fake_run, f) != 0) {
                close(sv[0]);
                close(sv[1]);
                return -EAGAIN;
        }
        *ret_client_fd = sv[0];
        return 0;
}

/* Load tests/data/qmp/NAME.script (HOSTDEV_TEST_DATA) and start it. */
_unused_ static int qmp_fake_start(struct qmp_fake *f, const char *name, int *ret_client_fd) {
        const char *data = getenv("HOSTDEV_TEST_DATA");
        _cleanup_free_ char *path = NULL, *text = NULL;
        char **lines = NULL, *save = NULL;

        if (!data)
                return -ENOENT;
        path = strdup_printf("%s/qmp/%s.script", data, name);
        if (read_full_file(path, 1 << 20, &text, NULL) < 0)
                return -ENOENT;
        for (char *tok = strtok_r(text, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save))
                strv_extend(&lines, tok);
        return qmp_fake_start_lines(f, lines, ret_client_fd);
}

/* Wait for the script to end; returns the mismatch message (caller frees) or NULL. */
_unused_ static char *qmp_fake_finish(struct qmp_fake *f) {
        pthread_join(f->thread, NULL);
        strv_free(f->lines);
        f->lines = NULL;
        return TAKE_PTR(f->error);
}
