/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A QMP (QEMU Machine Protocol) client, in two layers:
 *
 *  - struct qmp_parser: bytes in, classified messages out. No I/O. QMP is line-delimited
 *    JSON (QEMU ends every message with "\r\n"); each line is parsed with json-c's
 *    json_tokener. A line longer than the parser's limit (default 16 MiB) gives -EMSGSIZE
 *    and is skipped up to its end; a line that is not one JSON object of a known QMP kind
 *    gives -EBADMSG. After an error the parser carries on with the next line.
 *
 *  - struct qmp: a connection on a unix socket (or any connected stream fd). Blocking calls
 *    with a timeout on every wait (qmp_connect, qmp_command, qmp_wait_event), plus a
 *    non-blocking API for event loops: poll qmp_fd() for POLLIN, call qmp_process() and
 *    then drain events with qmp_next_event().
 *
 * Errors: negative errno, message through reterr. -ETIMEDOUT on a timeout, -ECONNRESET when
 * QEMU closed the socket, -EREMOTEIO when QEMU answered a command with an error (its class
 * is then available from qmp_last_error_class()). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "macro.h"

#define QMP_MAX_MESSAGE_DEFAULT (16u * 1024u * 1024u)

enum qmp_msg_type {
        QMP_MSG_GREETING, /* {"QMP": {...}} */
        QMP_MSG_RETURN,   /* {"return": ..., "id": ...} */
        QMP_MSG_ERROR,    /* {"error": {"class": ..., "desc": ...}, "id": ...} */
        QMP_MSG_EVENT,    /* {"event": NAME, "data": {...}, "timestamp": {...}} */
};

struct qmp_msg {
        enum qmp_msg_type type;
        json_object *obj;         /* the whole message (owned) */
        const char *id;           /* return/error: the "id" if it was a string, else NULL */
        json_object *ret;         /* return: the "return" value (borrowed from obj) */
        const char *error_class;  /* error: "GenericError", "DeviceNotFound", ... */
        const char *error_desc;   /* error: human-readable text */
        const char *event;        /* event: its name */
        json_object *data;        /* event: "data" (borrowed, may be NULL); greeting: "QMP" */
};

struct qmp_msg *qmp_msg_free(struct qmp_msg *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct qmp_msg *, qmp_msg_free);
const char *qmp_msg_type_to_string(enum qmp_msg_type t);

/* ---- parser ------------------------------------------------------------------------------ */
struct qmp_parser;

/* max_message: longest accepted line in bytes; 0 means QMP_MAX_MESSAGE_DEFAULT. */
int qmp_parser_new(size_t max_message, struct qmp_parser **ret);
struct qmp_parser *qmp_parser_free(struct qmp_parser *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct qmp_parser *, qmp_parser_free);

/* Append bytes. Only fails on -ENOMEM. Parsing happens in qmp_parser_next(). */
int qmp_parser_feed(struct qmp_parser *p, const void *buf, size_t len);
/* Take the next complete message: 1 and *ret set; 0 when more bytes are needed; negative
 * (-EMSGSIZE, -EBADMSG) with a message for a bad line, which is consumed. */
int qmp_parser_next(struct qmp_parser *p, struct qmp_msg **ret, char **reterr);
/* Bytes buffered that do not form a complete line yet (a truncated message at EOF). */
size_t qmp_parser_pending(const struct qmp_parser *p);

/* Classify one parsed JSON value (takes a reference of its own on success). */
int qmp_msg_from_json(json_object *obj, struct qmp_msg **ret, char **reterr);

/* ---- connection -------------------------------------------------------------------------- */
struct qmp;

/* Connect to a unix socket, read the greeting, negotiate capabilities. */
int qmp_connect(const char *path, int timeout_ms, struct qmp **ret, char **reterr);
/* Same on an already connected stream fd (takes ownership of fd, also on failure). */
int qmp_open_fd(int fd, int timeout_ms, struct qmp **ret, char **reterr);
struct qmp *qmp_free(struct qmp *q);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct qmp *, qmp_free);

/* The socket, for poll/epoll (POLLIN). Non-blocking. */
int qmp_fd(const struct qmp *q);
/* The greeting's "QMP" object (borrowed), e.g. {"version": {...}, "capabilities": [...]}. */
json_object *qmp_greeting(const struct qmp *q);

/* Run one command. args: a JSON object (borrowed) or NULL. On success *ret_return (if not
 * NULL) gets a new reference to the "return" value. Events arriving meanwhile are queued. */
int qmp_command(struct qmp *q, const char *command, json_object *args, json_object **ret_return,
                char **reterr, int timeout_ms);
/* The same with the arguments as a JSON text (NULL for none); -EINVAL if it does not parse. */
int qmp_command_json(struct qmp *q, const char *command, const char *args_json,
                     json_object **ret_return, char **reterr, int timeout_ms);
/* HMP through human-monitor-command; *ret_output is its text. */
int qmp_hmp(struct qmp *q, const char *command_line, char **ret_output, char **reterr, int timeout_ms);
/* The error class of the last command that failed with -EREMOTEIO, or NULL. */
const char *qmp_last_error_class(const struct qmp *q);

/* Non-blocking: read whatever is readable now, queue the events. Returns the number of
 * events queued (>= 0), -ECONNRESET on EOF. Stray replies (ids of commands that timed out)
 * are dropped. */
int qmp_process(struct qmp *q, char **reterr);
/* Pop a queued event: 1 and *ret, or 0 if none is queued. Never blocks. */
int qmp_next_event(struct qmp *q, struct qmp_msg **ret);
size_t qmp_events_queued(const struct qmp *q);

/* Wait for an event called name for which match (if not NULL) returns true; other events
 * stay queued in order. Queued events are looked at first. */
typedef bool (*qmp_event_match_t)(const struct qmp_msg *ev, void *userdata);
int qmp_wait_event(struct qmp *q, const char *name, qmp_event_match_t match, void *userdata,
                   int timeout_ms, struct qmp_msg **ret, char **reterr);
/* Matcher for DEVICE_DELETED: userdata is the qdev id (data.device). */
bool qmp_match_device_deleted(const struct qmp_msg *ev, void *userdata);
