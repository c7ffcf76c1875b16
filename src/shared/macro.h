/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#define _public_ __attribute__((visibility("default")))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Take ownership of a pointer: return it and leave NULL behind. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) *_pp_ = &(p);                                                        \
                __typeof__(p) _p_ = *_pp_;                                                         \
                *_pp_ = NULL;                                                                      \
                _p_;                                                                               \
        })

#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int *_fdp_ = &(fd);                                                                \
                int _fd_ = *_fdp_;                                                                 \
                *_fdp_ = -1;                                                                       \
                _fd_;                                                                              \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -1;
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline FILE *safe_fclose(FILE *f) {
        if (f)
                fclose(f);
        return NULL;
}
static inline void fclosep(FILE **f) {
        safe_fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}
#define _cleanup_closedir_ _cleanup_(closedirp)

/* Define foo_unrefp()/foo_freep() style helpers for a destructor that accepts NULL. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
        static inline void func##p(type *p) {                                                      \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

#define streq(a, b) (strcmp((a), (b)) == 0)
#define strneq(a, b, n) (strncmp((a), (b), (n)) == 0)
static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return streq(a, b);
}
static inline const char *strempty(const char *s) {
        return s ? s : "";
}
static inline const char *strna(const char *s) {
        return s ? s : "n/a";
}
static inline bool isempty(const char *s) {
        return !s || !*s;
}
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

/* Assign to *ret only if ret is non-NULL. */
#define RET_SET(ret, v)                                                                            \
        do {                                                                                       \
                if (ret)                                                                           \
                        *(ret) = (v);                                                              \
        } while (0)

#define RET_NERRNO(expr)                                                                           \
        ({                                                                                         \
                int _r_ = (expr);                                                                  \
                _r_ < 0 ? -errno : _r_;                                                            \
        })
