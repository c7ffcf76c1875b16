/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QMP client: a line parser (bytes in, messages out) and a socket layer on top of it. */
#include "qmp.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "error.h"
#include "json-util.h"
#include "util.h"

#define QMP_JSON_DEPTH 128
#define QMP_READ_CHUNK 65536

/* ---- messages ---------------------------------------------------------------------------- */

struct qmp_msg *qmp_msg_free(struct qmp_msg *m) {
        if (!m)
                return NULL;
        json_object_put(m->obj);
        free(m);
        return NULL;
}

const char *qmp_msg_type_to_string(enum qmp_msg_type t) {
        switch (t) {
        case QMP_MSG_GREETING:
                return "greeting";
        case QMP_MSG_RETURN:
                return "return";
        case QMP_MSG_ERROR:
                return "error";
        case QMP_MSG_EVENT:
                return "event";
        }
        return "unknown";
}

static const char *obj_get_string(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

int qmp_msg_from_json(json_object *obj, struct qmp_msg **ret, char **reterr) {
        _cleanup_free_ struct qmp_msg *m = NULL;
        json_object *v;

        if (!obj || !json_object_is_type(obj, json_type_object))
                return error_set(reterr, -EBADMSG, "QMP message is not a JSON object");

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;

        if (json_object_object_get_ex(obj, "QMP", &v)) {
                if (!json_object_is_type(v, json_type_object))
                        return error_set(reterr, -EBADMSG, "QMP greeting: \"QMP\" is not an object");
                m->type = QMP_MSG_GREETING;
                m->data = v;
        } else if (json_object_object_get_ex(obj, "event", &v)) {
                if (!json_object_is_type(v, json_type_string))
                        return error_set(reterr, -EBADMSG, "QMP event: \"event\" is not a string");
                m->type = QMP_MSG_EVENT;
                m->event = json_object_get_string(v);
                if (json_object_object_get_ex(obj, "data", &v)) {
                        if (!json_object_is_type(v, json_type_object))
                                return error_set(reterr, -EBADMSG, "QMP event %s: \"data\" is not an object",
                                                 m->event);
                        m->data = v;
                }
        } else if (json_object_object_get_ex(obj, "return", &v)) {
                m->type = QMP_MSG_RETURN;
                m->ret = v;
                m->id = obj_get_string(obj, "id");
        } else if (json_object_object_get_ex(obj, "error", &v)) {
                if (!json_object_is_type(v, json_type_object))
                        return error_set(reterr, -EBADMSG, "QMP error: \"error\" is not an object");
                m->type = QMP_MSG_ERROR;
                m->error_class = obj_get_string(v, "class");
                m->error_desc = obj_get_string(v, "desc");
                if (!m->error_class || !m->error_desc)
                        return error_set(reterr, -EBADMSG, "QMP error without class or desc");
                m->id = obj_get_string(obj, "id");
        } else
                return error_set(reterr, -EBADMSG,
                                 "QMP message is neither greeting, return, error nor event");

        m->obj = json_object_get(obj);
        *ret = TAKE_PTR(m);
        return 0;
}

/* ---- parser ------------------------------------------------------------------------------ */

struct qmp_parser {
        char *buf;
        size_t off;  /* start of unconsumed data */
        size_t len;  /* end of data */
        size_t cap;
        size_t scan; /* bytes from off already known to hold no '\n' */
        size_t max;
        bool skipping; /* discarding the rest of an overlong line */
};

int qmp_parser_new(size_t max_message, struct qmp_parser **ret) {
        struct qmp_parser *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->max = max_message > 0 ? max_message : QMP_MAX_MESSAGE_DEFAULT;
        *ret = p;
        return 0;
}

struct qmp_parser *qmp_parser_free(struct qmp_parser *p) {
        if (!p)
                return NULL;
        free(p->buf);
        free(p);
        return NULL;
}

size_t qmp_parser_pending(const struct qmp_parser *p) {
        return p->skipping ? 0 : p->len - p->off;
}

static void parser_drop_all(struct qmp_parser *p) {
        p->off = p->len = p->scan = 0;
}

int qmp_parser_feed(struct qmp_parser *p, const void *buf, size_t len) {
        if (len == 0)
                return 0;
        if (p->off > 0 && (p->off == p->len || p->off >= p->cap / 2)) {
                memmove(p->buf, p->buf + p->off, p->len - p->off);
                p->len -= p->off;
                p->off = 0;
        }
        if (p->len + len < p->len)
                return -ENOMEM;
        if (p->len + len > p->cap) {
                size_t cap = p->cap ? p->cap : 4096;
                while (cap < p->len + len) {
                        if (cap > SIZE_MAX / 2)
                                return -ENOMEM;
                        cap *= 2;
                }
                char *n = realloc(p->buf, cap);
                if (!n)
                        return -ENOMEM;
                p->buf = n;
                p->cap = cap;
        }
        memcpy(p->buf + p->len, buf, len);
        p->len += len;
        return 0;
}

static bool is_json_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int parse_line(const char *s, size_t n, struct qmp_msg **ret, char **reterr) {
        _cleanup_json_ json_object *obj = NULL;
        struct json_tokener *tok;
        enum json_tokener_error jerr;
        size_t end;

        tok = json_tokener_new_ex(QMP_JSON_DEPTH);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
        obj = json_tokener_parse_ex(tok, s, (int) n);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

        if (jerr == json_tokener_continue || (!obj && jerr == json_tokener_success))
                return error_set(reterr, -EBADMSG, "invalid JSON from QMP: truncated message");
        if (jerr != json_tokener_success)
                return error_set(reterr, -EBADMSG, "invalid JSON from QMP: %s",
                                 json_tokener_error_desc(jerr));
        for (size_t i = end; i < n; i++)
                if (!is_json_space(s[i]))
                        return error_set(reterr, -EBADMSG,
                                         "invalid JSON from QMP: trailing data after the message");
        return qmp_msg_from_json(obj, ret, reterr);
}

int qmp_parser_next(struct qmp_parser *p, struct qmp_msg **ret, char **reterr) {
        for (;;) {
                size_t avail = p->len - p->off, n;
                char *start, *nl;

                if (avail == 0) /* (buf may be NULL then: no pointer arithmetic on it) */
                        return 0;
                start = p->buf + p->off;
                nl = memchr(start + p->scan, '\n', avail - p->scan);
                if (!nl) {
                        if (p->skipping) {
                                parser_drop_all(p);
                                return 0;
                        }
                        if (avail > p->max) {
                                parser_drop_all(p);
                                p->skipping = true;
                                return error_set(reterr, -EMSGSIZE,
                                                 "QMP message longer than %zu bytes", p->max);
                        }
                        p->scan = avail;
                        return 0;
                }
                n = (size_t) (nl - start);
                p->off += n + 1;
                p->scan = 0;
                if (p->off == p->len)
                        p->off = p->len = 0;
                if (p->skipping) {
                        p->skipping = false;
                        continue;
                }
                if (n > p->max)
                        return error_set(reterr, -EMSGSIZE, "QMP message longer than %zu bytes", p->max);

                /* skip blank lines */
                size_t i = 0;
                while (i < n && is_json_space(start[i]))
                        i++;
                if (i == n)
                        continue;
                return parse_line(start, n, ret, reterr) < 0 ? -EBADMSG : 1;
        }
}

/* ---- connection -------------------------------------------------------------------------- */

struct qmp {
        int fd;
        struct qmp_parser *parser;
        struct qmp_msg *greeting;
        struct qmp_msg **events;
        size_t n_events, cap_events;
        unsigned long long next_id;
        char *last_error_class;
        bool eof;
};

struct qmp *qmp_free(struct qmp *q) {
        if (!q)
                return NULL;
        safe_close(q->fd);
        qmp_parser_free(q->parser);
        qmp_msg_free(q->greeting);
        for (size_t i = 0; i < q->n_events; i++)
                qmp_msg_free(q->events[i]);
        free(q->events);
        free(q->last_error_class);
        free(q);
        return NULL;
}

int qmp_fd(const struct qmp *q) {
        return q->fd;
}

json_object *qmp_greeting(const struct qmp *q) {
        return q->greeting ? q->greeting->data : NULL;
}

const char *qmp_last_error_class(const struct qmp *q) {
        return q->last_error_class;
}

size_t qmp_events_queued(const struct qmp *q) {
        return q->n_events;
}

static int queue_event(struct qmp *q, struct qmp_msg *m) {
        if (q->n_events == q->cap_events) {
                size_t cap = q->cap_events ? q->cap_events * 2 : 8;
                struct qmp_msg **n = realloc(q->events, cap * sizeof(*n));
                if (!n) {
                        qmp_msg_free(m);
                        return -ENOMEM;
                }
                q->events = n;
                q->cap_events = cap;
        }
        q->events[q->n_events++] = m;
        return 0;
}

static struct qmp_msg *unqueue_event(struct qmp *q, size_t i) {
        struct qmp_msg *m = q->events[i];
        memmove(q->events + i, q->events + i + 1, (q->n_events - i - 1) * sizeof(*q->events));
        q->n_events--;
        return m;
}

int qmp_next_event(struct qmp *q, struct qmp_msg **ret) {
        if (q->n_events == 0)
                return 0;
        *ret = unqueue_event(q, 0);
        return 1;
}

static uint64_t deadline_from(int timeout_ms) {
        return timeout_ms < 0 ? UINT64_MAX : now_usec() + (uint64_t) timeout_ms * 1000;
}

/* Milliseconds left until deadline for poll(), or -1 for no deadline. */
static int poll_timeout(uint64_t deadline) {
        uint64_t now;
        if (deadline == UINT64_MAX)
                return -1;
        now = now_usec();
        if (now >= deadline)
                return 0;
        return (int) ((deadline - now + 999) / 1000);
}

/* Read once. >0 bytes read, 0 nothing available (EAGAIN), -ECONNRESET on EOF. */
static int read_some(struct qmp *q, char **reterr) {
        char buf[QMP_READ_CHUNK];
        ssize_t n;

        if (q->eof)
                return error_set(reterr, -ECONNRESET, "QEMU closed the QMP connection");
        n = read(q->fd, buf, sizeof(buf));
        if (n < 0) {
                if (errno == EAGAIN || errno == EINTR)
                        return 0;
                if (errno == ECONNRESET)
                        return error_set(reterr, -ECONNRESET, "QEMU closed the QMP connection");
                return error_set(reterr, -errno, "reading from QMP socket: %m");
        }
        if (n == 0) {
                q->eof = true;
                if (qmp_parser_pending(q->parser) > 0)
                        return error_set(reterr, -ECONNRESET,
                                         "QEMU closed the QMP connection in the middle of a message");
                return error_set(reterr, -ECONNRESET, "QEMU closed the QMP connection");
        }
        if (qmp_parser_feed(q->parser, buf, (size_t) n) < 0)
                return -ENOMEM;
        return (int) n;
}

/* Wait until fd is ready for events or deadline. 1 ready, -ETIMEDOUT. */
static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = events };
                int r = poll(&pfd, 1, poll_timeout(deadline));
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        return -ETIMEDOUT;
                return 1;
        }
}

/* Next complete message, waiting up to deadline. */
static int read_message(struct qmp *q, uint64_t deadline, const char *what, struct qmp_msg **ret,
                        char **reterr) {
        for (;;) {
                int r = qmp_parser_next(q->parser, ret, reterr);
                if (r != 0)
                        return r < 0 ? r : 0;
                r = wait_fd(q->fd, POLLIN, deadline);
                if (r == -ETIMEDOUT)
                        return error_set(reterr, r, "timed out waiting for QEMU (%s)", what);
                if (r < 0)
                        return error_set(reterr, r, "waiting on QMP socket: %s", strerror(-r));
                r = read_some(q, reterr);
                if (r < 0)
                        return r;
        }
}

static int write_all(struct qmp *q, const char *s, size_t n, uint64_t deadline, char **reterr) {
        while (n > 0) {
                ssize_t k = send(q->fd, s, n, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                int r = wait_fd(q->fd, POLLOUT, deadline);
                                if (r == -ETIMEDOUT)
                                        return error_set(reterr, r, "timed out writing to QMP socket");
                                if (r < 0)
                                        return error_set(reterr, r, "waiting on QMP socket: %s",
                                                         strerror(-r));
                                continue;
                        }
                        if (errno == EPIPE || errno == ECONNRESET)
                                return error_set(reterr, -ECONNRESET, "QEMU closed the QMP connection");
                        return error_set(reterr, -errno, "writing to QMP socket: %m");
                }
                s += k;
                n -= (size_t) k;
        }
        return 0;
}

int qmp_command(struct qmp *q, const char *command, json_object *args, json_object **ret_return,
                char **reterr, int timeout_ms) {
        _cleanup_json_ json_object *req = NULL;
        _cleanup_free_ char *line = NULL;
        char id[32];
        uint64_t deadline = deadline_from(timeout_ms);
        int r;

        if (args && !json_object_is_type(args, json_type_object))
                return error_set(reterr, -EINVAL, "QMP %s: arguments must be a JSON object", command);

        snprintf(id, sizeof(id), "hostdev-%llu", ++q->next_id);
        req = json_object_new_object();
        if (!req || json_object_object_add(req, "execute", json_object_new_string(command)) < 0)
                return -ENOMEM;
        if (args && json_object_object_add(req, "arguments", json_object_get(args)) < 0)
                return -ENOMEM;
        if (json_object_object_add(req, "id", json_object_new_string(id)) < 0)
                return -ENOMEM;
        line = strdup_printf("%s\n", json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
        if (!line)
                return -ENOMEM;

        r = write_all(q, line, strlen(line), deadline, reterr);
        if (r < 0)
                return error_prefix(reterr, r, "QMP %s", command);

        for (;;) {
                _cleanup_(qmp_msg_freep) struct qmp_msg *m = NULL;

                r = read_message(q, deadline, command, &m, reterr);
                if (r < 0)
                        return r;
                if (m->type == QMP_MSG_EVENT) {
                        r = queue_event(q, TAKE_PTR(m));
                        if (r < 0)
                                return r;
                        continue;
                }
                if (m->type == QMP_MSG_GREETING)
                        continue;
                /* A reply: ours if it carries our id, or no id at all (QEMU sends errors for
                 * requests it could not parse without one). Others are stale: drop them. */
                if (m->id && !streq(m->id, id))
                        continue;
                if (m->type == QMP_MSG_ERROR) {
                        free(q->last_error_class);
                        q->last_error_class = strdup(m->error_class);
                        return error_set(reterr, -EREMOTEIO, "QEMU refused %s: %s (%s)", command,
                                         m->error_desc, m->error_class);
                }
                if (ret_return)
                        *ret_return = json_object_get(m->ret);
                return 0;
        }
}

int qmp_command_json(struct qmp *q, const char *command, const char *args_json,
                     json_object **ret_return, char **reterr, int timeout_ms) {
        _cleanup_json_ json_object *args = NULL;

        if (args_json) {
                args = json_tokener_parse(args_json);
                if (!args || !json_object_is_type(args, json_type_object))
                        return error_set(reterr, -EINVAL, "QMP %s: arguments are not a JSON object: %s",
                                         command, args_json);
        }
        return qmp_command(q, command, args, ret_return, reterr, timeout_ms);
}

int qmp_hmp(struct qmp *q, const char *command_line, char **ret_output, char **reterr, int timeout_ms) {
        _cleanup_json_ json_object *args = NULL, *ret = NULL;
        char *s;
        int r;

        args = json_object_new_object();
        if (!args || json_object_object_add(args, "command-line", json_object_new_string(command_line)) < 0)
                return -ENOMEM;
        r = qmp_command(q, "human-monitor-command", args, &ret, reterr, timeout_ms);
        if (r < 0)
                return r;
        if (!json_object_is_type(ret, json_type_string))
                return error_set(reterr, -EBADMSG, "human-monitor-command did not return a string");
        s = strdup(json_object_get_string(ret));
        if (!s)
                return -ENOMEM;
        if (ret_output)
                *ret_output = s;
        else
                free(s);
        return 0;
}

int qmp_process(struct qmp *q, char **reterr) {
        _cleanup_free_ char *err = NULL;
        int queued = 0, first_error = 0;

        /* A bounded number of reads so one chatty QEMU cannot starve an event loop. */
        for (int i = 0; i < 16; i++) {
                int r = read_some(q, &err);
                if (r < 0) {
                        first_error = r;
                        break;
                }
                if (r == 0)
                        break;
        }
        for (;;) {
                _cleanup_(qmp_msg_freep) struct qmp_msg *m = NULL;
                int r = qmp_parser_next(q->parser, &m, &err);
                if (r == 0)
                        break;
                if (r < 0) {
                        if (first_error == 0)
                                first_error = r;
                        continue;
                }
                if (m->type != QMP_MSG_EVENT)
                        continue;
                r = queue_event(q, TAKE_PTR(m));
                if (r < 0)
                        return r;
                queued++;
        }
        /* Events that arrived before an EOF are reported first; the next call gives the EOF. */
        if (first_error == -ECONNRESET && queued > 0)
                return queued;
        if (first_error < 0) {
                if (reterr && !*reterr)
                        *reterr = TAKE_PTR(err);
                return first_error;
        }
        return queued;
}

bool qmp_match_device_deleted(const struct qmp_msg *ev, void *userdata) {
        const char *dev = ev->data ? obj_get_string(ev->data, "device") : NULL;
        return dev && userdata && streq(dev, (const char *) userdata);
}

int qmp_wait_event(struct qmp *q, const char *name, qmp_event_match_t match, void *userdata,
                   int timeout_ms, struct qmp_msg **ret, char **reterr) {
        uint64_t deadline = deadline_from(timeout_ms);
        size_t seen = 0;

        for (;;) {
                for (; seen < q->n_events; seen++) {
                        struct qmp_msg *ev = q->events[seen];
                        if (streq(ev->event, name) && (!match || match(ev, userdata))) {
                                ev = unqueue_event(q, seen);
                                if (ret)
                                        *ret = ev;
                                else
                                        qmp_msg_free(ev);
                                return 0;
                        }
                }
                _cleanup_(qmp_msg_freep) struct qmp_msg *m = NULL;
                int r = read_message(q, deadline, name, &m, reterr);
                if (r < 0)
                        return r;
                if (m->type == QMP_MSG_EVENT) {
                        r = queue_event(q, TAKE_PTR(m));
                        if (r < 0)
                                return r;
                }
        }
}

int qmp_open_fd(int fd, int timeout_ms, struct qmp **ret, char **reterr) {
        _cleanup_(qmp_freep) struct qmp *q = NULL;
        _cleanup_(qmp_msg_freep) struct qmp_msg *m = NULL;
        uint64_t deadline = deadline_from(timeout_ms);
        int flags, r;

        q = calloc(1, sizeof(*q));
        if (!q) {
                safe_close(fd);
                return -ENOMEM;
        }
        q->fd = fd;
        r = qmp_parser_new(0, &q->parser);
        if (r < 0)
                return r;
        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
                return error_set(reterr, -errno, "QMP socket: %m");
        (void) fcntl(fd, F_SETFD, FD_CLOEXEC);

        r = read_message(q, deadline, "QMP greeting", &m, reterr);
        if (r < 0)
                return r;
        if (m->type != QMP_MSG_GREETING)
                return error_set(reterr, -EPROTO, "QMP: expected a greeting, got a %s",
                                 qmp_msg_type_to_string(m->type));
        q->greeting = TAKE_PTR(m);

        int left = poll_timeout(deadline);
        r = qmp_command(q, "qmp_capabilities", NULL, NULL, reterr, left < 0 ? -1 : left);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(q);
        return 0;
}

int qmp_connect(const char *path, int timeout_ms, struct qmp **ret, char **reterr) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (strlen(path) >= sizeof(sa.sun_path))
                return error_set(reterr, -ENAMETOOLONG, "QMP socket path too long: %s", path);
        strcpy(sa.sun_path, path);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_set(reterr, -errno, "socket: %m");
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return error_set(reterr, -errno, "cannot connect to QMP socket %s: %m", path);

        int r = qmp_open_fd(TAKE_FD(fd), timeout_ms, ret, reterr);
        if (r < 0)
                return error_prefix(reterr, r, "QMP socket %s", path);
        return 0;
}
