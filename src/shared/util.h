/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* ---- growable string ---------------------------------------------------- */
struct strbuf {
        char *buf;
        size_t len, cap;
        bool oom; /* sticky: an allocation failed; strbuf_steal() returns NULL */
};
#define STRBUF_INIT ((struct strbuf){ 0 })
void strbuf_append(struct strbuf *sb, const char *s);
void strbuf_appendn(struct strbuf *sb, const char *s, size_t n);
void strbuf_appendf(struct strbuf *sb, const char *fmt, ...) _printf_(2, 3);
void strbuf_vappendf(struct strbuf *sb, const char *fmt, va_list ap);
/* Append s with XML escaping of & < > ' " */
void strbuf_append_xml_escaped(struct strbuf *sb, const char *s);
/* Returns the buffer (caller frees) or NULL on OOM; resets sb. Never NULL for an empty buffer. */
char *strbuf_steal(struct strbuf *sb);
void strbuf_done(struct strbuf *sb);
static inline void strbuf_donep(struct strbuf *sb) {
        strbuf_done(sb);
}
#define _cleanup_strbuf_ _cleanup_(strbuf_donep)

char *strdup_printf(const char *fmt, ...) _printf_(1, 2);

/* ---- string vectors (NULL-terminated) ------------------------------------ */
char **strv_free(char **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, strv_free);
#define _cleanup_strv_free_ _cleanup_(strv_freep)
size_t strv_length(char *const *l);
int strv_push(char ***l, char *value); /* takes ownership of value (also on failure) */
int strv_extend(char ***l, const char *value);
bool strv_contains(char *const *l, const char *s);

/* ---- files ---------------------------------------------------------------- */
/* Read a whole file (up to max bytes, -EFBIG beyond). ret_size may be NULL. */
int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size);
/* The same for a file that may legitimately be absent (proc/sys entries, state records):
 * 1 and *ret when read, 0 and *ret = NULL when it does not exist (ENOENT), negative errno
 * otherwise (*ret untouched). */
int read_full_file_optional(const char *path, size_t max, char **ret);
/* Read a one-line attribute, trailing newline/whitespace stripped. */
int read_one_line_file(const char *path, char **ret);
/* Write a string (no newline added) with a single write(); the kernel's sysfs way. */
int write_string_file(const char *path, const char *s);
/* readlink() into a fresh string. */
int readlink_malloc(const char *path, char **ret);
/* basename of a symlink's target, e.g. driver -> ../../bus/pci/drivers/e1000 gives "e1000" */
int readlink_basename(const char *path, char **ret);
/* Atomically replace path with content: temp file, fsync, rename, fsync dir. */
int write_file_atomic(const char *path, const char *content, size_t len, mode_t mode);
int mkdir_p(const char *path, mode_t mode);

/* ---- numbers --------------------------------------------------------------- */
/* Strict parsers: the whole string (after trimming trailing whitespace) must be a number. */
int safe_atou(const char *s, unsigned base, unsigned *ret);
int safe_atoull(const char *s, unsigned base, unsigned long long *ret);
int safe_atoi(const char *s, int *ret);

/* ---- roots (HOSTDEV_SYSFS_ROOT etc.) -------------------------------------- */
const char *sysfs_root(void);     /* default "/sys" */
const char *dev_root(void);       /* default "/dev" */
const char *proc_root(void);      /* default "/proc" */
const char *state_dir(void);      /* default "/run/hostdev" */
/* Join path components with '/', collapsing duplicate slashes at the seams. */
char *path_join(const char *first, ...) __attribute__((sentinel));

/* Monotonic clock in microseconds. */
uint64_t now_usec(void);
