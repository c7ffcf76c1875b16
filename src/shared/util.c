/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "util.h"

#include <ctype.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>

void strbuf_appendn(struct strbuf *sb, const char *s, size_t n) {
        if (sb->oom)
                return;
        if (sb->len + n + 1 > sb->cap) {
                size_t cap = sb->cap ? sb->cap : 64;
                while (cap < sb->len + n + 1)
                        cap *= 2;
                char *p = realloc(sb->buf, cap);
                if (!p) {
                        sb->oom = true;
                        return;
                }
                sb->buf = p;
                sb->cap = cap;
        }
        memcpy(sb->buf + sb->len, s, n);
        sb->len += n;
        sb->buf[sb->len] = 0;
}

void strbuf_append(struct strbuf *sb, const char *s) {
        strbuf_appendn(sb, s, strlen(s));
}

void strbuf_vappendf(struct strbuf *sb, const char *fmt, va_list ap) {
        char *s = NULL;
        if (sb->oom)
                return;
        if (vasprintf(&s, fmt, ap) < 0) {
                sb->oom = true;
                return;
        }
        strbuf_append(sb, s);
        free(s);
}

void strbuf_appendf(struct strbuf *sb, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        strbuf_vappendf(sb, fmt, ap);
        va_end(ap);
}

void strbuf_append_xml_escaped(struct strbuf *sb, const char *s) {
        for (; *s; s++) {
                switch (*s) {
                case '&': strbuf_append(sb, "&amp;"); break;
                case '<': strbuf_append(sb, "&lt;"); break;
                case '>': strbuf_append(sb, "&gt;"); break;
                case '\'': strbuf_append(sb, "&apos;"); break;
                case '"': strbuf_append(sb, "&quot;"); break;
                default: strbuf_appendn(sb, s, 1);
                }
        }
}

char *strbuf_steal(struct strbuf *sb) {
        char *r;
        if (sb->oom) {
                strbuf_done(sb);
                return NULL;
        }
        r = sb->buf ? sb->buf : strdup("");
        *sb = STRBUF_INIT;
        return r;
}

void strbuf_done(struct strbuf *sb) {
        free(sb->buf);
        *sb = STRBUF_INIT;
}

char *strdup_printf(const char *fmt, ...) {
        va_list ap;
        char *s;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        if (l)
                while (l[n])
                        n++;
        return n;
}

int strv_push(char ***l, char *value) {
        size_t n = strv_length(*l);
        char **c = realloc(*l, sizeof(char *) * (n + 2));
        if (!c) {
                free(value);
                return -ENOMEM;
        }
        c[n] = value;
        c[n + 1] = NULL;
        *l = c;
        return 0;
}

int strv_extend(char ***l, const char *value) {
        char *v = strdup(value);
        if (!v)
                return -ENOMEM;
        return strv_push(l, v);
}

bool strv_contains(char *const *l, const char *s) {
        if (l)
                for (; *l; l++)
                        if (streq(*l, s))
                                return true;
        return false;
}

int read_full_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                if (len + 4096 + 1 > cap) {
                        size_t ncap = cap ? cap * 2 : 4096 + 1;
                        char *p;
                        if (ncap > max + 4096 + 1)
                                ncap = max + 4096 + 1;
                        p = realloc(buf, ncap);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap = ncap;
                }
                ssize_t n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += n;
                if (len > max)
                        return -EFBIG;
        }
        if (!buf) {
                buf = strdup("");
                if (!buf)
                        return -ENOMEM;
        }
        buf[len] = 0;
        if (ret_size)
                *ret_size = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int read_full_file_optional(const char *path, size_t max, char **ret) {
        int r = read_full_file(path, max, ret, NULL);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r < 0 ? r : 1;
}

int read_one_line_file(const char *path, char **ret) {
        char *s = NULL;
        int r = read_full_file(path, 64 * 1024, &s, NULL);
        if (r < 0)
                return r;
        char *nl = strchr(s, '\n');
        if (nl)
                *nl = 0;
        size_t l = strlen(s);
        while (l > 0 && isspace((unsigned char) s[l - 1]))
                s[--l] = 0;
        *ret = s;
        return 0;
}

int write_string_file(const char *path, const char *s) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        size_t l = strlen(s);
        ssize_t n = write(fd, s, l);
        if (n < 0)
                return -errno;
        if ((size_t) n != l)
                return -EIO;
        return 0;
}

int readlink_malloc(const char *path, char **ret) {
        size_t sz = 256;
        for (;;) {
                _cleanup_free_ char *buf = malloc(sz);
                if (!buf)
                        return -ENOMEM;
                ssize_t n = readlink(path, buf, sz);
                if (n < 0)
                        return -errno;
                if ((size_t) n < sz) {
                        buf[n] = 0;
                        *ret = TAKE_PTR(buf);
                        return 0;
                }
                if (sz > 65536)
                        return -ENAMETOOLONG;
                sz *= 2;
        }
}

int readlink_basename(const char *path, char **ret) {
        _cleanup_free_ char *t = NULL;
        int r = readlink_malloc(path, &t);
        if (r < 0)
                return r;
        const char *b = strrchr(t, '/');
        char *s = strdup(b ? b + 1 : t);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int write_file_atomic(const char *path, const char *content, size_t len, mode_t mode) {
        _cleanup_free_ char *tmp = NULL, *dir = NULL;
        _cleanup_close_ int fd = -1, dfd = -1;
        int r;

        tmp = strdup_printf("%s.tmp.%d", path, (int) getpid());
        dir = strdup(path);
        if (!tmp || !dir)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        if (fd < 0)
                return -errno;
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, content + off, len - off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        unlink(tmp);
                        return r;
                }
                off += n;
        }
        if (fsync(fd) < 0 || rename(tmp, path) < 0) {
                r = -errno;
                unlink(tmp);
                return r;
        }
        dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0)
                (void) fsync(dfd);
        return 0;
}

int safe_atoull(const char *s, unsigned base, unsigned long long *ret) {
        char *end = NULL;
        unsigned long long v;

        if (!s || !*s || isspace((unsigned char) *s) || *s == '-' || *s == '+')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, base);
        if (errno == ERANGE)
                return -ERANGE;
        if (end == s)
                return -EINVAL;
        while (*end && isspace((unsigned char) *end))
                end++;
        if (*end)
                return -EINVAL;
        *ret = v;
        return 0;
}

int safe_atou(const char *s, unsigned base, unsigned *ret) {
        unsigned long long v;
        int r = safe_atoull(s, base, &v);
        if (r < 0)
                return r;
        if (v > UINT_MAX)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

int safe_atoi(const char *s, int *ret) {
        char *end = NULL;
        long v;
        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno == ERANGE || v > INT_MAX || v < INT_MIN)
                return -ERANGE;
        while (*end && isspace((unsigned char) *end))
                end++;
        if (end == s || *end)
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

static const char *env_or(const char *name, const char *def) {
        const char *e = getenv(name);
        return isempty(e) ? def : e;
}
const char *sysfs_root(void) {
        return env_or("HOSTDEV_SYSFS_ROOT", "/sys");
}
const char *dev_root(void) {
        return env_or("HOSTDEV_DEV_ROOT", "/dev");
}
const char *proc_root(void) {
        return env_or("HOSTDEV_PROC_ROOT", "/proc");
}
const char *state_dir(void) {
        return env_or("HOSTDEV_STATE_DIR", "/run/hostdev");
}

char *path_join(const char *first, ...) {
        struct strbuf sb = STRBUF_INIT;
        va_list ap;
        const char *p = first;

        va_start(ap, first);
        while (p) {
                if (sb.len > 0) {
                        bool has = sb.buf[sb.len - 1] == '/';
                        while (*p == '/' && has)
                                p++;
                        if (!has && *p != '/')
                                strbuf_append(&sb, "/");
                }
                strbuf_append(&sb, p);
                p = va_arg(ap, const char *);
        }
        va_end(ap);
        return strbuf_steal(&sb);
}

uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}
