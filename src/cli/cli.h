/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <getopt.h>

#include "macro.h"
#include "watch.h"

/* Exit statuses (CONTRACT.md). */
#define EXIT_OK 0
#define EXIT_FAIL 1  /* the operation failed: missing, ambiguous, in use, QEMU refused ... */
#define EXIT_USAGE 2 /* bad usage or invalid input */

/* Report at the boundary: "hostdev: error: MESSAGE" (one line; embedded newlines are kept
 * for multi-line explanations such as ambiguity lists, each extra line indented). */
void log_error(const char *fmt, ...) _printf_(1, 2);
void log_warning(const char *fmt, ...) _printf_(1, 2);
void log_info(const char *fmt, ...) _printf_(1, 2);

/* The library's log lines (watch.h's enum watch_log_level; virt.h's virt_log_func passes the
 * same levels as int) on stderr (watch-log.c): errors and warnings as log_error/log_warning
 * print them ("hostdev: error: LINE"), INFO as a bare "LINE" (the daemon's action lines) or,
 * with prefix_info, as log_info prints it ("hostdev: LINE"); DEBUG only with debug, as
 * "debug: LINE" (or "hostdev: LINE" with prefix_info). The callbacks take a
 * const struct cli_log_style * as userdata (NULL: bare INFO, no DEBUG). */
struct cli_log_style {
        bool prefix_info;
        bool debug;
};
void cli_log_line(const struct cli_log_style *style, int level, const char *line);
void cli_watch_log(void *userdata, enum watch_log_level level, const char *line); /* watch_options.log */
void cli_virt_log(void *userdata, int level, const char *line);                   /* virt_log_func */

/* Report a library failure: msg if set, else a generic text for r (never a bare errno). */
int report_error(int r, const char *msg, const char *what);

/* A verb: argv[0] is the verb name; getopt state is reset before the call. */
typedef int (*verb_func)(int argc, char **argv);

struct verb {
        const char *name;
        verb_func func;
        const char *usage;   /* "FILE [--json]" */
        const char *summary; /* one line */
        const char *help;    /* option descriptions, may be NULL */
        const char *example; /* one example command line */
};

const struct verb *verb_find(const char *name);
/* Print "usage: hostdev VERB USAGE" etc. for `hostdev VERB --help`. */
void verb_help(const struct verb *v, FILE *f);
/* For verbs: if argv has --help/-h anywhere before "--", print help and return true. */
bool verb_wants_help(int argc, char **argv);

/* Shared domain options (--connect, --netns, --root), parsed by verbs that take them. */
struct domain_opts {
        const char *connect;
        const char *netns;
        const char *root;
};

int verb_list(int argc, char **argv);
int verb_dumpxml(int argc, char **argv);
int verb_validate(int argc, char **argv);
int verb_resolve(int argc, char **argv);
int verb_qemu_args(int argc, char **argv);
int verb_attach_device(int argc, char **argv);
int verb_detach_device(int argc, char **argv);
int verb_run(int argc, char **argv);
int verb_nodedev_detach(int argc, char **argv);
int verb_nodedev_reattach(int argc, char **argv);
int verb_nodedev_reset(int argc, char **argv);
int verb_status(int argc, char **argv);
int verb_release(int argc, char **argv);
int verb_watch(int argc, char **argv);
int verb_export(int argc, char **argv);
int verb_unexport(int argc, char **argv);
