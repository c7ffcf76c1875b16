/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QMP client: the parser fed buffers, the socket layer against a scripted fake server, and
 * against a real QEMU (no host devices involved). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "error.h"
#include "qmp-fake.h"
#include "qmp.h"

static const char stream[] =
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": []}}\r\n"
        "{\"return\": {}, \"id\": \"hostdev-1\"}\r\n"
        "\r\n"
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"DEVICE_DELETED\", \"data\": {\"device\": \"hostdev0\", \"path\": \"/machine/peripheral/hostdev0\"}}\r\n"
        "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device 'x' not found\"}, \"id\": \"hostdev-2\"}\r\n"
        "{\"return\": [{\"name\": \"type\", \"type\": \"string\"}], \"id\": \"hostdev-3\"}\n";

static void check_stream_messages(struct qmp_msg **m, size_t n) {
        assert_int_equal(n, 4);
        assert_int_equal(m[0]->type, QMP_MSG_GREETING);
        assert_non_null(m[0]->data);
        assert_int_equal(m[1]->type, QMP_MSG_RETURN);
        assert_string_equal(m[1]->id, "hostdev-1");
        assert_int_equal(m[2]->type, QMP_MSG_EVENT);
        assert_string_equal(m[2]->event, "DEVICE_DELETED");
        assert_true(qmp_match_device_deleted(m[2], (void *) "hostdev0"));
        assert_false(qmp_match_device_deleted(m[2], (void *) "hostdev1"));
        assert_int_equal(m[3]->type, QMP_MSG_ERROR);
        assert_string_equal(m[3]->error_class, "DeviceNotFound");
        assert_string_equal(m[3]->error_desc, "Device 'x' not found");
        assert_string_equal(m[3]->id, "hostdev-2");
}

/* Feed the stream in pieces of `chunk` bytes, collecting messages. */
static void feed_in_chunks(size_t chunk) {
        _cleanup_(qmp_parser_freep) struct qmp_parser *p = NULL;
        struct qmp_msg *m[8] = {};
        size_t n = 0, len = strlen(stream);

        assert_int_equal(qmp_parser_new(0, &p), 0);
        for (size_t off = 0; off < len; off += chunk) {
                size_t k = len - off < chunk ? len - off : chunk;
                assert_int_equal(qmp_parser_feed(p, stream + off, k), 0);
                for (;;) {
                        struct qmp_msg *x = NULL;
                        int r = qmp_parser_next(p, &x, NULL);
                        assert_true(r >= 0);
                        if (r == 0)
                                break;
                        assert_true(n < ELEMENTSOF(m));
                        m[n++] = x;
                }
        }
        assert_int_equal(qmp_parser_pending(p), 0);
        /* the 5th message is the array return */
        assert_int_equal(n, 5);
        assert_int_equal(m[4]->type, QMP_MSG_RETURN);
        assert_true(json_object_is_type(m[4]->ret, json_type_array));
        check_stream_messages(m, 4);
        for (size_t i = 0; i < n; i++)
                qmp_msg_free(m[i]);
}

static void test_parser_split_everywhere(void **state) {
        size_t len = strlen(stream);
        for (size_t chunk = 1; chunk <= len; chunk++)
                feed_in_chunks(chunk);
}

/* Also split into exactly two pieces at every byte. */
static void test_parser_split_two(void **state) {
        size_t len = strlen(stream);
        for (size_t cut = 0; cut <= len; cut++) {
                _cleanup_(qmp_parser_freep) struct qmp_parser *p = NULL;
                struct qmp_msg *x = NULL;
                unsigned n = 0;
                int r;
                assert_int_equal(qmp_parser_new(0, &p), 0);
                assert_int_equal(qmp_parser_feed(p, stream, cut), 0);
                while ((r = qmp_parser_next(p, &x, NULL)) > 0) {
                        n++;
                        x = qmp_msg_free(x);
                }
                assert_int_equal(r, 0);
                assert_int_equal(qmp_parser_feed(p, stream + cut, len - cut), 0);
                while ((r = qmp_parser_next(p, &x, NULL)) > 0) {
                        n++;
                        x = qmp_msg_free(x);
                }
                assert_int_equal(r, 0);
                assert_int_equal(n, 5);
        }
}

static int next_err(struct qmp_parser *p, const char *feed, char **msg) {
        struct qmp_msg *x = NULL;
        int r;
        if (feed)
                assert_int_equal(qmp_parser_feed(p, feed, strlen(feed)), 0);
        r = qmp_parser_next(p, &x, msg);
        qmp_msg_free(x);
        return r;
}

static void test_parser_garbage(void **state) {
        _cleanup_(qmp_parser_freep) struct qmp_parser *p = NULL;
        static const char *bad[] = {
                "SSH-2.0-OpenSSH_9.2\r\n",
                "{\"return\": {}\n",                        /* truncated object */
                "{\"return\": {}} {\"return\": {}}\n",      /* two values on a line */
                "[1, 2, 3]\n",                              /* not an object */
                "\"QMP\"\n",
                "{\"foo\": 1}\n",                           /* unknown kind */
                "{\"error\": {\"desc\": \"no class\"}}\n",
                "{\"error\": 5}\n",
                "{\"event\": 5}\n",
                "{\"event\": \"X\", \"data\": [1]}\n",
                "{\"QMP\": 1}\n",
                "{\"return\": {}, }\n",
                "\xff\xfe{}\n",
        };
        assert_int_equal(qmp_parser_new(0, &p), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *msg = NULL;
                int r = next_err(p, bad[i], &msg);
                if (r != -EBADMSG)
                        fail_msg("input %zu (%s) gave %d, want -EBADMSG", i, bad[i], r);
                assert_non_null(msg);
                /* the parser recovers at the next line */
                struct qmp_msg *x = NULL;
                assert_int_equal(qmp_parser_feed(p, "{\"return\": 7}\n", 14), 0);
                assert_int_equal(qmp_parser_next(p, &x, NULL), 1);
                assert_int_equal(x->type, QMP_MSG_RETURN);
                assert_int_equal(json_object_get_int(x->ret), 7);
                qmp_msg_free(x);
        }
}

static void test_parser_truncated(void **state) {
        _cleanup_(qmp_parser_freep) struct qmp_parser *p = NULL;
        assert_int_equal(qmp_parser_new(0, &p), 0);
        /* no newline yet: nothing, and the bytes are reported pending (EOF mid-message) */
        assert_int_equal(next_err(p, "{\"return\": {\"status\": \"run", NULL), 0);
        assert_int_equal(qmp_parser_pending(p), strlen("{\"return\": {\"status\": \"run"));
}

static void test_parser_deep(void **state) {
        _cleanup_(qmp_parser_freep) struct qmp_parser *p = NULL;
        _cleanup_free_ char *s = malloc(200002);
        _cleanup_free_ char *msg = NULL;
        memset(s, '[', 100000);
        memset(s + 100000, ']', 100000);
        s[200000] = '\n';
        s[200001] = 0;
        assert_int_equal(qmp_parser_new(0, &p), 0);
        assert_int_equal(next_err(p, s, &msg), -EBADMSG);
        assert_non_null(msg);
}

static void test_parser_huge(void **state) {
        _cleanup_(qmp_parser_freep) struct qmp_parser *p = NULL;
        _cleanup_free_ char *big = NULL, *msg = NULL;
        struct qmp_msg *x = NULL;
        size_t chunk = 1 << 20, fed = 0;
        int r, errors = 0;

        /* small limit: a line over it is -EMSGSIZE whether or not its newline was seen */
        assert_int_equal(qmp_parser_new(64, &p), 0);
        assert_int_equal(next_err(p, "{\"return\": \"0123456789012345678901234567890123456789012345678901234567890123456789\"}\n", &msg), -EMSGSIZE);
        assert_non_null(msg);
        assert_int_equal(next_err(p, "{\"return\": 1}\n", NULL), 1);
        p = qmp_parser_free(p);

        /* default limit (16 MiB): 20 MiB without a newline, fed 1 MiB at a time: one error,
         * memory stays bounded, and the message after the overlong line is read */
        assert_int_equal(qmp_parser_new(0, &p), 0);
        big = malloc(chunk);
        memset(big, ' ', chunk);
        big[0] = '{';
        while (fed < 20 * chunk) {
                assert_int_equal(qmp_parser_feed(p, big, chunk), 0);
                fed += chunk;
                while ((r = qmp_parser_next(p, &x, NULL)) != 0) {
                        assert_int_equal(r, -EMSGSIZE);
                        errors++;
                }
                assert_true(qmp_parser_pending(p) <= QMP_MAX_MESSAGE_DEFAULT + chunk);
        }
        assert_int_equal(errors, 1);
        assert_int_equal(qmp_parser_feed(p, "}\n{\"return\": 2}\n", 16), 0);
        assert_int_equal(qmp_parser_next(p, &x, NULL), 1);
        assert_int_equal(json_object_get_int(x->ret), 2);
        qmp_msg_free(x);
}

/* ---- socket layer against the fake server -------------------------------------------- */

static struct qmp *fake_connect(struct qmp_fake *f, const char *script, int expect_r, char **msg) {
        struct qmp *q = NULL;
        int fd = -1;
        assert_int_equal(qmp_fake_start(f, script, &fd), 0);
        int r = qmp_open_fd(fd, 5000, &q, msg);
        if (r != expect_r)
                fail_msg("qmp_open_fd on %s: %d (%s), want %d", script, r, msg && *msg ? *msg : "", expect_r);
        return q;
}

static void finish(struct qmp_fake *f) {
        _cleanup_free_ char *err = qmp_fake_finish(f);
        if (err)
                fail_msg("fake QMP server: %s", err);
}

static void test_fake_basic(void **state) {
        struct qmp_fake f;
        _cleanup_json_ json_object *ret = NULL;
        _cleanup_free_ char *msg = NULL;
        struct qmp_msg *ev = NULL;
        json_object *v;
        struct qmp *q = fake_connect(&f, "basic", 0, NULL);

        assert_non_null(qmp_greeting(q));
        assert_true(json_object_object_get_ex(qmp_greeting(q), "version", &v));
        assert_int_equal(qmp_command(q, "query-status", NULL, &ret, &msg, 5000), 0);
        assert_null(msg);
        assert_true(json_object_object_get_ex(ret, "status", &v));
        assert_string_equal(json_object_get_string(v), "running");
        /* the event that came in between was queued */
        assert_int_equal(qmp_events_queued(q), 1);
        assert_int_equal(qmp_next_event(q, &ev), 1);
        assert_string_equal(ev->event, "RESUME");
        qmp_msg_free(ev);
        assert_int_equal(qmp_next_event(q, &ev), 0);
        qmp_free(q);
        finish(&f);
}

static void test_fake_error(void **state) {
        struct qmp_fake f;
        _cleanup_free_ char *msg = NULL;
        struct qmp *q = fake_connect(&f, "error", 0, NULL);
        int r = qmp_command_json(q, "device_add",
                                 "{\"driver\": \"usb-host\", \"id\": \"hostdev0\", \"hostbus\": 1, \"hostaddr\": 7}",
                                 NULL, &msg, 5000);
        assert_int_equal(r, -EREMOTEIO);
        assert_non_null(msg);
        assert_non_null(strstr(msg, "failed to find host usb device 1:7"));
        assert_non_null(strstr(msg, "device_add"));
        assert_string_equal(qmp_last_error_class(q), "GenericError");
        qmp_free(q);
        finish(&f);
}

static void test_fake_bad_args(void **state) {
        struct qmp_fake f;
        _cleanup_free_ char *msg = NULL;
        struct qmp *q = fake_connect(&f, "guest-refuses", 0, NULL);
        assert_int_equal(qmp_command_json(q, "device_add", "{\"driver\": ", NULL, &msg, 100), -EINVAL);
        assert_non_null(msg);
        /* the script still expects device_del */
        assert_int_equal(qmp_command_json(q, "device_del", "{\"id\": \"hostdev0\"}", NULL, NULL, 5000), 0);
        qmp_free(q);
        finish(&f);
}

static void test_fake_timeout(void **state) {
        struct qmp_fake f;
        _cleanup_free_ char *msg = NULL;
        struct qmp *q = fake_connect(&f, "timeout", 0, NULL);
        uint64_t t0 = now_usec();
        assert_int_equal(qmp_command(q, "query-status", NULL, NULL, &msg, 200), -ETIMEDOUT);
        uint64_t dt = now_usec() - t0;
        assert_true(dt >= 190000 && dt < 2000000);
        assert_non_null(strstr(msg, "timed out"));
        qmp_free(q);
        finish(&f);
}

static void test_fake_close_mid_reply(void **state) {
        struct qmp_fake f;
        _cleanup_free_ char *msg = NULL;
        struct qmp *q = fake_connect(&f, "close-mid-reply", 0, NULL);
        assert_int_equal(qmp_command(q, "query-status", NULL, NULL, &msg, 5000), -ECONNRESET);
        assert_non_null(strstr(msg, "closed"));
        assert_non_null(strstr(msg, "middle of a message"));
        /* and stays closed */
        free(msg);
        msg = NULL;
        assert_int_equal(qmp_command(q, "query-status", NULL, NULL, &msg, 5000), -ECONNRESET);
        qmp_free(q);
        finish(&f);
}

static void test_fake_stale_id(void **state) {
        struct qmp_fake f;
        _cleanup_json_ json_object *ret = NULL;
        _cleanup_free_ char *msg = NULL;
        json_object *v;
        struct qmp *q = fake_connect(&f, "stale-id", 0, NULL);
        assert_int_equal(qmp_command(q, "query-name", NULL, &ret, NULL, 5000), 0);
        assert_true(json_object_object_get_ex(ret, "name", &v));
        assert_string_equal(json_object_get_string(v), "vm-a");
        assert_int_equal(qmp_command(q, "query-status", NULL, NULL, &msg, 5000), -EREMOTEIO);
        assert_non_null(strstr(msg, "JSON parse error"));
        qmp_free(q);
        finish(&f);
}

static void test_fake_device_deleted(void **state) {
        struct qmp_fake f;
        struct qmp_msg *ev = NULL;
        struct qmp *q = fake_connect(&f, "device-deleted", 0, NULL);
        assert_int_equal(qmp_command_json(q, "device_del", "{\"id\": \"hostdev0\"}", NULL, NULL, 5000), 0);
        assert_int_equal(qmp_wait_event(q, "DEVICE_DELETED", qmp_match_device_deleted, (void *) "hostdev0",
                                        5000, &ev, NULL),
                         0);
        assert_true(qmp_match_device_deleted(ev, (void *) "hostdev0"));
        qmp_msg_free(ev);
        /* the other device's event stays queued for whoever wants it */
        assert_int_equal(qmp_events_queued(q), 1);
        assert_int_equal(qmp_wait_event(q, "DEVICE_DELETED", qmp_match_device_deleted, (void *) "other",
                                        0, NULL, NULL),
                         0);
        assert_int_equal(qmp_events_queued(q), 0);
        qmp_free(q);
        finish(&f);
}

static void test_fake_guest_refuses(void **state) {
        struct qmp_fake f;
        _cleanup_free_ char *msg = NULL;
        struct qmp *q = fake_connect(&f, "guest-refuses", 0, NULL);
        assert_int_equal(qmp_command_json(q, "device_del", "{\"id\": \"hostdev0\"}", NULL, NULL, 5000), 0);
        assert_int_equal(qmp_wait_event(q, "DEVICE_DELETED", qmp_match_device_deleted, (void *) "hostdev0",
                                        300, NULL, &msg),
                         -ETIMEDOUT);
        assert_non_null(strstr(msg, "DEVICE_DELETED"));
        qmp_free(q);
        finish(&f);
}

static void test_fake_process(void **state) {
        struct qmp_fake f;
        struct qmp_msg *ev = NULL;
        _cleanup_free_ char *msg = NULL;
        struct qmp *q = fake_connect(&f, "events", 0, NULL);
        int got = 0, r;

        /* the way an event loop uses it: poll, process, drain */
        while (got < 2) {
                struct pollfd pfd = { .fd = qmp_fd(q), .events = POLLIN };
                assert_int_equal(poll(&pfd, 1, 5000), 1);
                r = qmp_process(q, NULL);
                assert_true(r >= 0);
                got += r;
        }
        assert_int_equal(got, 2);
        assert_int_equal(qmp_next_event(q, &ev), 1);
        assert_string_equal(ev->event, "STOP");
        qmp_msg_free(ev);
        assert_int_equal(qmp_next_event(q, &ev), 1);
        assert_string_equal(ev->event, "RESUME");
        qmp_msg_free(ev);
        /* nothing readable: returns 0 at once */
        /* then the server closes: -ECONNRESET */
        for (;;) {
                struct pollfd pfd = { .fd = qmp_fd(q), .events = POLLIN };
                assert_int_equal(poll(&pfd, 1, 5000), 1);
                r = qmp_process(q, &msg);
                if (r != 0)
                        break;
        }
        assert_int_equal(r, -ECONNRESET);
        assert_non_null(msg);
        qmp_free(q);
        finish(&f);
}

static void test_fake_bad_greeting(void **state) {
        struct qmp_fake f;
        _cleanup_free_ char *msg = NULL;
        struct qmp *q = fake_connect(&f, "bad-greeting", -EPROTO, &msg);
        assert_null(q);
        assert_non_null(strstr(msg, "greeting"));
        finish(&f);
}

static void test_fake_garbage(void **state) {
        struct qmp_fake f;
        _cleanup_free_ char *msg = NULL;
        struct qmp *q = fake_connect(&f, "garbage", -EBADMSG, &msg);
        assert_null(q);
        assert_non_null(msg);
        finish(&f);
}

static void test_connect_nonexistent(void **state) {
        _cleanup_free_ char *msg = NULL;
        struct qmp *q = NULL;
        assert_int_equal(qmp_connect("/nonexistent/hostdev-test.qmp", 1000, &q, &msg), -ENOENT);
        assert_null(q);
        assert_non_null(strstr(msg, "/nonexistent/hostdev-test.qmp"));
}

/* ---- a real QEMU --------------------------------------------------------------------------- */

static void test_real_qemu(void **state) {
        char dir[] = "/tmp/hostdev-test-qmp-XXXXXX";
        _cleanup_free_ char *sock = NULL, *qmparg = NULL, *msg = NULL, *out = NULL;
        _cleanup_json_ json_object *ret = NULL, *list = NULL, *qret = NULL;
        struct qmp *q = NULL;
        json_object *v;
        pid_t pid;
        int status, r = -1;
        bool found = false;

        assert_non_null(mkdtemp(dir));
        sock = strdup_printf("%s/qmp.sock", dir);
        qmparg = strdup_printf("unix:%s,server=on,wait=off", sock);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execlp("qemu-system-x86_64", "qemu-system-x86_64", "-M", "q35", "-accel", "tcg",
                       "-nodefaults", "-display", "none", "-S", "-m", "64", "-qmp", qmparg, NULL);
                fprintf(stderr, "FAIL: cannot run qemu-system-x86_64: %m (a prerequisite of this test)\n");
                _exit(127);
        }
        /* wait for the socket (up to 20 s: TCG under valgrind is slow to start) */
        for (int i = 0; i < 400; i++) {
                if (waitpid(pid, &status, WNOHANG) == pid)
                        fail_msg("qemu-system-x86_64 exited early with status %d", status);
                r = qmp_connect(sock, 10000, &q, NULL);
                if (r == 0)
                        break;
                usleep(50000);
        }
        if (r < 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                fail_msg("could not connect to QEMU's QMP socket: %d", r);
        }

        assert_true(json_object_object_get_ex(qmp_greeting(q), "version", &v));
        assert_int_equal(qmp_command(q, "query-status", NULL, &ret, &msg, 10000), 0);
        assert_true(json_object_object_get_ex(ret, "running", &v));
        assert_false(json_object_get_boolean(v));
        assert_true(json_object_object_get_ex(ret, "status", &v));
        assert_string_equal(json_object_get_string(v), "prelaunch");

        assert_int_equal(qmp_command_json(q, "qom-list", "{\"path\": \"/machine\"}", &list, &msg, 10000), 0);
        assert_true(json_object_is_type(list, json_type_array));
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *e = json_object_array_get_idx(list, i), *n;
                if (json_object_object_get_ex(e, "name", &n) && streq(json_object_get_string(n), "peripheral"))
                        found = true;
        }
        assert_true(found);

        /* a real QEMU error: class and text come through */
        assert_int_equal(qmp_command_json(q, "device_del", "{\"id\": \"hostdev-none\"}", NULL, &msg, 10000),
                         -EREMOTEIO);
        assert_non_null(strstr(msg, "hostdev-none"));
        assert_non_null(qmp_last_error_class(q));
        free(msg);
        msg = NULL;

        assert_int_equal(qmp_hmp(q, "info status", &out, &msg, 10000), 0);
        assert_non_null(strstr(out, "prelaunch"));

        assert_int_equal(qmp_command(q, "quit", NULL, &qret, &msg, 10000), 0);
        /* QEMU then closes the socket */
        struct qmp_msg *ev = NULL;
        r = qmp_wait_event(q, "NEVER_SENT", NULL, NULL, 10000, &ev, &msg);
        assert_int_equal(r, -ECONNRESET);
        qmp_free(q);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
        unlink(sock);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parser_split_everywhere),
                cmocka_unit_test(test_parser_split_two),
                cmocka_unit_test(test_parser_garbage),
                cmocka_unit_test(test_parser_truncated),
                cmocka_unit_test(test_parser_deep),
                cmocka_unit_test(test_parser_huge),
                cmocka_unit_test(test_fake_basic),
                cmocka_unit_test(test_fake_error),
                cmocka_unit_test(test_fake_bad_args),
                cmocka_unit_test(test_fake_timeout),
                cmocka_unit_test(test_fake_close_mid_reply),
                cmocka_unit_test(test_fake_stale_id),
                cmocka_unit_test(test_fake_device_deleted),
                cmocka_unit_test(test_fake_guest_refuses),
                cmocka_unit_test(test_fake_process),
                cmocka_unit_test(test_fake_bad_greeting),
                cmocka_unit_test(test_fake_garbage),
                cmocka_unit_test(test_connect_nonexistent),
                cmocka_unit_test(test_real_qemu),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
