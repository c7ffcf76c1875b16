/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inventory walk: collect device directories from /sys/bus and /sys/class under
 * sysfs_root(), resolve them to /sys/devices/..., read each with its subsystem's reader,
 * order parents before children and link each device to its nearest listed ancestor. */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <libudev.h>

#include "error.h"
#include "inventory-private.h"
#include "util.h"

static const char *const cap_names[_NODEDEV_CAP_MAX] = {
        [NODEDEV_CAP_SYSTEM] = "system",
        [NODEDEV_CAP_PCI] = "pci",
        [NODEDEV_CAP_USB_DEVICE] = "usb_device",
        [NODEDEV_CAP_USB_INTERFACE] = "usb",
        [NODEDEV_CAP_NET] = "net",
        [NODEDEV_CAP_SCSI_HOST] = "scsi_host",
        [NODEDEV_CAP_SCSI_TARGET] = "scsi_target",
        [NODEDEV_CAP_SCSI] = "scsi",
        [NODEDEV_CAP_STORAGE] = "storage",
        [NODEDEV_CAP_SCSI_GENERIC] = "scsi_generic",
        [NODEDEV_CAP_MDEV] = "mdev",
        [NODEDEV_CAP_DRM] = "drm",
};

const char *nodedev_cap_to_string(enum nodedev_cap c) {
        if ((unsigned) c >= _NODEDEV_CAP_MAX)
                return NULL;
        return cap_names[c];
}

int nodedev_cap_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (unsigned i = 0; i < _NODEDEV_CAP_MAX; i++)
                if (streq(s, cap_names[i]))
                        return (int) i;
        return -EINVAL;
}

char *nodedev_make_name(const char *prefix, const char *sysname, const char *suffix) {
        char *n = suffix ? strdup_printf("%s_%s_%s", prefix, sysname, suffix)
                         : strdup_printf("%s_%s", prefix, sysname);
        if (!n)
                return NULL;
        for (char *p = n; *p; p++)
                if (!isalnum((unsigned char) *p))
                        *p = '_';
        return n;
}

char *path_basename_dup(const char *path) {
        const char *b = strrchr(path, '/');
        return strdup(b ? b + 1 : path);
}

/* ---- warnings and attributes ------------------------------------------------------------- */

void scan_warn(struct scan *s, const char *fmt, ...) {
        va_list ap;
        char *m = NULL;
        if (!s || !s->warnings)
                return;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        if (m && !strv_contains(*s->warnings, m))
                (void) strv_push(s->warnings, m);
        else
                free(m);
}

const char *scan_rel(const struct scan *s, const char *path) {
        if (s && s->root && strneq(path, s->root, s->root_len) && path[s->root_len] == '/')
                return path + s->root_len + 1;
        return path;
}

void scan_close_dir(struct scan *s) {
        if (s && s->dfd_path) {
                safe_close(s->dfd);
                free(s->dfd_path);
                s->dfd_path = NULL;
        }
}

/* An fd for dir, reused while the readers stay in one directory (openat() then walks one
 * component instead of the whole path: most of a big scan's system time). -1 if unusable. */
static int scan_dir_fd(struct scan *s, const char *dir) {
        if (!s)
                return -1;
        if (s->dfd_path && streq(s->dfd_path, dir))
                return s->dfd;
        scan_close_dir(s);
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_PATH);
        if (fd < 0)
                return -1;
        s->dfd_path = strdup(dir);
        if (!s->dfd_path) {
                safe_close(fd);
                return -1;
        }
        s->dfd = fd;
        return fd;
}

/* One attribute: a single read() for sysfs' one-page values, more for longer files. */
/* `whole`: keep every line (uevent); else the first line, trailing blanks dropped. */
static int read_attr_at(int dfd, const char *path, const char *name, bool whole, char **ret) {
        _cleanup_close_ int fd = dfd >= 0 ? openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY)
                                          : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;
        char small[4097];
        if (fd < 0)
                return -errno;
        /* Nearly every attribute fits one page: read it on the stack and keep only its length
         * (a 4 KiB heap buffer per kept value cost a page fault each on big trees). */
        for (;;) {
                ssize_t n = read(fd, small, sizeof(small) - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if ((size_t) n < sizeof(small) - 1) {
                        small[n] = 0;
                        char *nl = whole ? NULL : strchr(small, '\n');
                        if (nl)
                                *nl = 0;
                        size_t l = strlen(small);
                        while (l > 0 && isspace((unsigned char) small[l - 1]))
                                small[--l] = 0;
                        char *v = strndup(small, l);
                        if (!v)
                                return -ENOMEM;
                        *ret = v;
                        return 0;
                }
                buf = malloc(2 * 4097);
                if (!buf)
                        return -ENOMEM;
                memcpy(buf, small, (size_t) n);
                len = (size_t) n;
                cap = 2 * 4097;
                break;
        }
        for (;;) {
                if (cap - len < 4097) {
                        if (cap >= 64 * 1024)
                                return -EFBIG;
                        char *nb = realloc(buf, cap ? cap * 2 : 4097);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        cap = cap ? cap * 2 : 4097;
                }
                ssize_t n = read(fd, buf + len, cap - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                len += n;
                if (n == 0 || (size_t) n < 4096)
                        break;
        }
        buf[len] = 0;
        char *nl = whole ? NULL : strchr(buf, '\n');
        if (nl)
                *nl = 0;
        size_t l = strlen(buf);
        while (l > 0 && isspace((unsigned char) buf[l - 1]))
                buf[--l] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* Device-provided strings (a USB serial, a SCSI model) may hold anything: control characters
 * would reach the terminal through `list` and make `dumpxml` output that is not XML, invalid
 * UTF-8 likewise. Replace each such byte by '_', as udev does for its ID_ properties. */
static void string_sanitize(char *v) {
        unsigned char *p = (unsigned char *) v;
        while (*p) {
                unsigned n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
                                                                  : (*p & 0xf8) == 0xf0 ? 3 : 4;
                bool ok = n < 4 && !(n == 1 && *p < 0xc2) && !(n == 3 && *p > 0xf4);
                for (unsigned i = 1; ok && i <= n; i++)
                        ok = (p[i] & 0xc0) == 0x80;
                if (ok && n == 2) /* no overlong forms, no surrogates, not U+FFFE/U+FFFF (no XML Char) */
                        ok = !(p[0] == 0xe0 && p[1] < 0xa0) && !(p[0] == 0xed && p[1] >= 0xa0) &&
                             !(p[0] == 0xef && p[1] == 0xbf && p[2] >= 0xbe);
                if (ok && n == 3)
                        ok = !(p[0] == 0xf0 && p[1] < 0x90) && !(p[0] == 0xf4 && p[1] >= 0x90);
                if (!ok || (n == 0 && (*p < 0x20 || *p == 0x7f))) {
                        *p++ = '_';
                        continue;
                }
                p += n + 1;
        }
}

int attr_string(struct scan *s, const char *dir, const char *attr, bool required, char **ret) {
        _cleanup_free_ char *p = path_join(dir, attr, NULL);
        char *v = NULL;
        int r;
        if (!p)
                return -ENOMEM;
        r = read_attr_at(scan_dir_fd(s, dir), p, attr, false, &v);
        if (r < 0) {
                if (r != -ENOENT || required)
                        scan_warn(s, "%s: cannot read: %s", scan_rel(s, p), strerror(-r));
                return r;
        }
        string_sanitize(v);
        *ret = v;
        return 0;
}

int attr_read_lines(struct scan *s, const char *dir, const char *attr, char **ret) {
        _cleanup_free_ char *p = path_join(dir, attr, NULL);
        if (!p)
                return -ENOMEM;
        int r = read_attr_at(scan_dir_fd(s, dir), p, attr, true, ret);
        if (r < 0 && r != -ENOENT)
                scan_warn(s, "%s: cannot read: %s", scan_rel(s, p), strerror(-r));
        return r;
}

int attr_uint(struct scan *s, const char *dir, const char *attr, unsigned base, bool required,
              unsigned *ret) {
        _cleanup_free_ char *v = NULL;
        int r = attr_string(s, dir, attr, required, &v);
        if (r < 0)
                return r;
        const char *t = v;
        while (*t == ' ')
                t++;
        if (base == 16 && (startswith(t, "0x") || startswith(t, "0X")))
                t += 2;
        r = safe_atou(t, base, ret);
        if (r < 0)
                scan_warn(s, "%s/%s: invalid number '%s'", scan_rel(s, dir), attr, v);
        return r;
}

int attr_int(struct scan *s, const char *dir, const char *attr, bool required, int *ret) {
        _cleanup_free_ char *v = NULL;
        int r = attr_string(s, dir, attr, required, &v);
        if (r < 0)
                return r;
        r = safe_atoi(v, ret);
        if (r < 0)
                scan_warn(s, "%s/%s: invalid number '%s'", scan_rel(s, dir), attr, v);
        return r;
}

int parse_hex16(const char *v, uint16_t *ret) {
        unsigned u;
        int r;
        if (!v)
                return -EINVAL;
        if (startswith(v, "0x") || startswith(v, "0X"))
                v += 2;
        if (!isxdigit((unsigned char) *v))
                return -EINVAL;
        r = safe_atou(v, 16, &u);
        if (r < 0)
                return r;
        if (u > 0xffff)
                return -ERANGE;
        *ret = (uint16_t) u;
        return 0;
}

int attr_hex16(struct scan *s, const char *dir, const char *attr, bool required, uint16_t *ret) {
        _cleanup_free_ char *v = NULL;
        int r = attr_string(s, dir, attr, required, &v);
        if (r < 0)
                return r;
        r = parse_hex16(v, ret);
        if (r < 0)
                scan_warn(s, "%s/%s: invalid hex id '%s'", scan_rel(s, dir), attr, v);
        return r;
}

static int readlinkat_malloc(int dfd, const char *path, const char *name, char **ret) {
        char buf[PATH_MAX];
        ssize_t n = dfd >= 0 ? readlinkat(dfd, name, buf, sizeof buf - 1) : readlink(path, buf, sizeof buf - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        char *c = strdup(buf);
        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}

int attr_link_basename(struct scan *s, const char *dir, const char *link, bool required, char **ret) {
        _cleanup_free_ char *p = path_join(dir, link, NULL), *t = NULL;
        int r;
        if (!p)
                return -ENOMEM;
        r = readlinkat_malloc(scan_dir_fd(s, dir), p, link, &t);
        if (r >= 0) {
                const char *b = strrchr(t, '/');
                char *c = strdup(b ? b + 1 : t);
                if (!c)
                        return -ENOMEM;
                *ret = c;
        }
        if (r < 0 && (r != -ENOENT || required))
                scan_warn(s, "%s: cannot read link: %s", scan_rel(s, p), strerror(-r));
        return r;
}

/* Join dir (absolute, canonical) and a relative link target, folding "." and "..". */
static char *join_lexical(const char *dir, const char *target) {
        size_t ld = strlen(dir), lt = strlen(target);
        char *out = malloc(ld + lt + 2);
        if (!out)
                return NULL;
        memcpy(out, dir, ld + 1);
        size_t len = ld;
        while (len > 1 && out[len - 1] == '/')
                out[--len] = 0;
        const char *t = target;
        while (*t) {
                const char *e = strchr(t, '/');
                size_t cl = e ? (size_t) (e - t) : strlen(t);
                if (cl == 0 || (cl == 1 && t[0] == '.')) {
                        /* nothing */
                } else if (cl == 2 && t[0] == '.' && t[1] == '.') {
                        while (len > 0 && out[len - 1] != '/')
                                len--;
                        if (len > 1)
                                len--;
                        out[len] = 0;
                        if (len == 0)
                                out[0] = '/', out[1] = 0, len = 1;
                } else {
                        if (len > 1 || out[0] != '/')
                                out[len++] = '/';
                        memcpy(out + len, t, cl);
                        len += cl;
                        out[len] = 0;
                }
                t += cl;
                if (*t == '/')
                        t++;
        }
        return out;
}

/* keep_dir: the target is a device directory about to be read: keep it open as the scan's
 * directory fd */
static int link_resolve_at(struct scan *s, int dfd, const char *dir, const char *link, bool keep_dir, char **ret) {
        _cleanup_free_ char *p = path_join(dir, link, NULL), *target = NULL;
        struct stat st;
        char *rp = NULL;
        int r;
        if (!p)
                return -ENOMEM;
        /* sysfs links are relative and lead through real directories: fold them lexically (two
         * system calls) instead of realpath() (one per path component); realpath() for the rest */
        r = readlinkat_malloc(dfd, p, link, &target);
        if (r == -ENOENT)
                return r;
        if (r >= 0 && target[0] != '/' && dir[0] == '/') {
                rp = join_lexical(dir, target);
                if (!rp)
                        return -ENOMEM;
                /* the existence check: open the directory for the readers that come next
                 * (scan_dir_fd() then finds it), instead of stat() and a second open() */
                int fd = s && keep_dir ? open(rp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_PATH) : -1;
                if (fd >= 0) {
                        char *dp = strdup(rp);
                        if (dp) {
                                scan_close_dir(s);
                                s->dfd = fd;
                                s->dfd_path = dp;
                        } else
                                safe_close(fd);
                } else if (stat(rp, &st) < 0) {
                        free(rp);
                        rp = NULL;
                }
        }
        if (!rp) {
                if (lstat(p, &st) < 0)
                        return -errno;
                rp = realpath(p, NULL);
                if (!rp) {
                        r = -errno;
                        scan_warn(s, "%s: dangling link: %s", scan_rel(s, p), strerror(-r));
                        return r;
                }
        }
        if (s && s->root && !(strneq(rp, s->root, s->root_len) && rp[s->root_len] == '/')) {
                scan_warn(s, "%s: link leaves the sysfs root", scan_rel(s, p));
                free(rp);
                return -EXDEV;
        }
        *ret = rp;
        return 0;
}

int attr_link_resolve(struct scan *s, const char *dir, const char *link, char **ret) {
        return link_resolve_at(s, scan_dir_fd(s, dir), dir, link, false, ret);
}

int attr_link_resolve_path(struct scan *s, const char *dir, const char *link, char **ret) {
        return link_resolve_at(s, -1, dir, link, false, ret);
}

static void hwdb_lookup(struct scan *s, const char *key, char **ret_vendor, char **ret_model) {
        struct udev_list_entry *e;
        udev_list_entry_foreach(e, udev_hwdb_get_properties_list_entry(s->hwdb, key, 0)) {
                const char *n = udev_list_entry_get_name(e);
                const char *v = udev_list_entry_get_value(e);
                if (!v)
                        continue;
                if (ret_vendor && !*ret_vendor && streq(n, "ID_VENDOR_FROM_DATABASE"))
                        *ret_vendor = strdup(v);
                else if (ret_model && !*ret_model && streq(n, "ID_MODEL_FROM_DATABASE"))
                        *ret_model = strdup(v);
        }
}

static void hwdb_cache_clear(struct scan *s) {
        for (size_t i = 0; i < ELEMENTSOF(s->hwdb_cache); i++) {
                s->hwdb_cache[i].key[0] = 0;
                free(s->hwdb_cache[i].vendor);
                free(s->hwdb_cache[i].model);
                s->hwdb_cache[i].vendor = s->hwdb_cache[i].model = NULL;
        }
}

void hwdb_names(struct scan *s, const char *key, char **ret_vendor, char **ret_model) {
        if (!s)
                return;
        if (!s->hwdb && s->hwdb_wanted) {
                s->hwdb_wanted = false; /* one attempt */
                s->udev = udev_new();
                if (s->udev)
                        s->hwdb = udev_hwdb_new(s->udev);
        }
        if (!s->hwdb)
                return;
        if (strlen(key) >= sizeof(s->hwdb_cache[0].key)) {
                hwdb_lookup(s, key, ret_vendor, ret_model);
                return;
        }
        size_t i;
        for (i = 0; i < ELEMENTSOF(s->hwdb_cache); i++)
                if (streq(s->hwdb_cache[i].key, key))
                        break;
        if (i == ELEMENTSOF(s->hwdb_cache)) {
                char *v = NULL, *m = NULL;
                hwdb_lookup(s, key, &v, &m);
                i = s->hwdb_cache_next++ % ELEMENTSOF(s->hwdb_cache);
                free(s->hwdb_cache[i].vendor);
                free(s->hwdb_cache[i].model);
                s->hwdb_cache[i].vendor = v;
                s->hwdb_cache[i].model = m;
                strcpy(s->hwdb_cache[i].key, key);
        }
        if (ret_vendor && !*ret_vendor && s->hwdb_cache[i].vendor)
                *ret_vendor = strdup(s->hwdb_cache[i].vendor);
        if (ret_model && !*ret_model && s->hwdb_cache[i].model)
                *ret_model = strdup(s->hwdb_cache[i].model);
}

/* ---- nodedev lifetime -------------------------------------------------------------------- */

struct nodedev *nodedev_new(const char *path, const char *subsystem, enum nodedev_cap cap) {
        struct nodedev *d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        d->cap = cap;
        d->sysfs_path = path ? strdup(path) : NULL;
        d->subsystem = subsystem ? strdup(subsystem) : NULL;
        if ((path && !d->sysfs_path) || (subsystem && !d->subsystem))
                return nodedev_free(d);
        if (cap == NODEDEV_CAP_PCI) {
                d->u.pci.iommu_group = -1;
                d->u.pci.numa_node = -1;
                d->u.pci.sriov_totalvfs = -1;
                d->u.pci.link_max_width = d->u.pci.link_cur_width = -1;
        } else if (cap == NODEDEV_CAP_MDEV)
                d->u.mdev.iommu_group = -1;
        return d;
}

struct nodedev *nodedev_free(struct nodedev *d) {
        if (!d)
                return NULL;
        switch (d->cap) {
        case NODEDEV_CAP_USB_DEVICE: {
                struct usb_device_info *u = &d->u.usb;
                free(u->port);
                free(u->peer_port);
                free(u->vendor_name);
                free(u->product_name);
                free(u->manufacturer);
                free(u->product_string);
                free(u->serial);
                free(u->speed);
                free(u->version);
                free(u->hcd_driver);
                break;
        }
        case NODEDEV_CAP_PCI: {
                struct pci_device_info *p = &d->u.pci;
                free(p->vendor_name);
                free(p->product_name);
                free(p->physfn);
                strv_free(p->virtfns);
                free(p->link_max_speed);
                free(p->link_cur_speed);
                free(p->reset_method);
                for (size_t i = 0; i < p->n_mdev_types; i++) {
                        free(p->mdev_types[i].id);
                        free(p->mdev_types[i].name);
                        free(p->mdev_types[i].device_api);
                }
                free(p->mdev_types);
                free(p->physfn_addr);
                strv_free(p->virtfn_addrs);
                break;
        }
        case NODEDEV_CAP_NET:
                free(d->u.net.ifname);
                free(d->u.net.mac);
                free(d->u.net.link_state);
                break;
        case NODEDEV_CAP_SCSI:
                free(d->u.scsi.type);
                free(d->u.scsi.vendor);
                free(d->u.scsi.model);
                free(d->u.scsi.sg_name);
                free(d->u.scsi.block_name);
                break;
        case NODEDEV_CAP_STORAGE: {
                struct storage_info *st = &d->u.storage;
                free(st->block);
                free(st->bus);
                free(st->drive_type);
                free(st->vendor);
                free(st->model);
                free(st->serial);
                break;
        }
        case NODEDEV_CAP_SCSI_GENERIC:
                free(d->u.sg);
                break;
        case NODEDEV_CAP_MDEV:
                free(d->u.mdev.type);
                free(d->u.mdev.uuid);
                break;
        case NODEDEV_CAP_SYSTEM: {
                struct system_info *y = &d->u.system;
                free(y->product);
                free(y->hw_vendor);
                free(y->hw_version);
                free(y->hw_serial);
                free(y->hw_uuid);
                free(y->fw_vendor);
                free(y->fw_version);
                free(y->fw_date);
                break;
        }
        default:
                break;
        }
        free(d->name);
        free(d->parent);
        free(d->sysfs_path);
        free(d->subsystem);
        free(d->driver);
        free(d->devnode);
        free(d->owner);
        free(d);
        return NULL;
}

struct inventory *inventory_free(struct inventory *inv) {
        if (!inv)
                return NULL;
        for (size_t i = 0; i < inv->n_devs; i++)
                nodedev_free(inv->devs[i]);
        free(inv->devs);
        strv_free(inv->warnings);
        free(inv);
        return NULL;
}

/* ---- a small path -> device hash (open addressing, FNV-1a) ------------------------------- */

struct pathmap {
        struct nodedev **slots;
        size_t cap; /* power of two */
        size_t n;
};

static uint64_t fnv1a(const char *s) {
        uint64_t h = 1469598103934665603ULL;
        for (; *s; s++) {
                h ^= (unsigned char) *s;
                h *= 1099511628211ULL;
        }
        return h;
}

static int pathmap_grow(struct pathmap *m) {
        size_t ncap = m->cap ? m->cap * 2 : 256;
        struct nodedev **ns = calloc(ncap, sizeof(*ns));
        if (!ns)
                return -ENOMEM;
        for (size_t i = 0; i < m->cap; i++) {
                struct nodedev *d = m->slots[i];
                if (!d)
                        continue;
                size_t j = fnv1a(d->sysfs_path) & (ncap - 1);
                while (ns[j])
                        j = (j + 1) & (ncap - 1);
                ns[j] = d;
        }
        free(m->slots);
        m->slots = ns;
        m->cap = ncap;
        return 0;
}

static struct nodedev *pathmap_get_n(const struct pathmap *m, const char *path, size_t len) {
        if (!m->cap)
                return NULL;
        /* hash of the first len bytes */
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < len; i++) {
                h ^= (unsigned char) path[i];
                h *= 1099511628211ULL;
        }
        for (size_t j = h & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
                struct nodedev *d = m->slots[j];
                if (!d)
                        return NULL;
                if (strlen(d->sysfs_path) == len && strneq(d->sysfs_path, path, len))
                        return d;
        }
}

static int pathmap_put(struct pathmap *m, struct nodedev *d) {
        if ((m->n + 1) * 2 > m->cap) {
                int r = pathmap_grow(m);
                if (r < 0)
                        return r;
        }
        size_t j = fnv1a(d->sysfs_path) & (m->cap - 1);
        while (m->slots[j])
                j = (j + 1) & (m->cap - 1);
        m->slots[j] = d;
        m->n++;
        return 0;
}

/* ---- the walk ------------------------------------------------------------------------------ */

struct devlist {
        struct nodedev **devs;
        size_t n, cap;
        struct pathmap map;
};

static void devlist_done(struct devlist *l) {
        for (size_t i = 0; i < l->n; i++)
                nodedev_free(l->devs[i]);
        free(l->devs);
        free(l->map.slots);
}

static int devlist_add(struct devlist *l, struct nodedev *d) {
        if (l->n == l->cap) {
                size_t nc = l->cap ? l->cap * 2 : 64;
                struct nodedev **nd = realloc(l->devs, nc * sizeof(*nd));
                if (!nd)
                        return -ENOMEM;
                l->devs = nd;
                l->cap = nc;
        }
        int r = pathmap_put(&l->map, d);
        if (r < 0)
                return r;
        l->devs[l->n++] = d;
        return 0;
}

typedef int (*reader_func)(struct scan *s, const char *path, struct nodedev **ret);

/* For each entry of root/dir: resolve, skip known paths, read, add. `filter` may pick the reader. */
static int walk_dir(struct scan *s, struct devlist *l, const char *dir,
                    reader_func (*pick)(const char *entry_name, const char *resolved)) {
        _cleanup_free_ char *full = path_join(s->root, dir, NULL);
        _cleanup_closedir_ DIR *dh = NULL;
        struct dirent *de;
        int r;

        if (!full)
                return -ENOMEM;
        dh = opendir(full);
        if (!dh) {
                if (errno != ENOENT)
                        scan_warn(s, "%s: cannot list: %s", dir, strerror(errno));
                return 0;
        }
        while ((de = readdir(dh))) {
                _cleanup_free_ char *rp = NULL;
                struct nodedev *d = NULL;
                if (de->d_name[0] == '.')
                        continue;
                r = link_resolve_at(s, dirfd(dh), full, de->d_name, true, &rp);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                if (pathmap_get_n(&l->map, rp, strlen(rp)))
                        continue;
                reader_func f = pick(de->d_name, rp);
                if (!f)
                        continue;
                r = f(s, rp, &d);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || !d)
                        continue;
                r = devlist_add(l, d);
                if (r < 0) {
                        nodedev_free(d);
                        return r;
                }
        }
        return 0;
}

static reader_func pick_pci(const char *n, const char *rp) {
        return pci_read;
}
static reader_func pick_usb(const char *n, const char *rp) {
        return usb_read;
}
static reader_func pick_net(const char *n, const char *rp) {
        return net_read;
}
static reader_func pick_scsi(const char *n, const char *rp) {
        return scsi_read;
}
static reader_func pick_sg(const char *n, const char *rp) {
        return scsi_generic_read;
}
static reader_func pick_block(const char *n, const char *rp) {
        /* like libvirt: no loop, ram, zram ... (virtual block devices without a storage type),
         * except device-mapper disks */
        if (strstr(rp, "/devices/virtual/block/") && !startswith(n, "dm-"))
                return NULL;
        /* whole disks only: partitions have a 'partition' attribute */
        _cleanup_free_ char *p = path_join(rp, "partition", NULL);
        if (p && access(p, F_OK) == 0)
                return NULL;
        return storage_read;
}
static reader_func pick_mdev(const char *n, const char *rp) {
        return mdev_read;
}

static int add_scsi_hosts_from_class(struct scan *s, struct devlist *l) {
        /* class/scsi_host/hostN -> .../hostN/scsi_host/hostN: the bus device is two levels up */
        _cleanup_free_ char *full = path_join(s->root, "class/scsi_host", NULL);
        _cleanup_closedir_ DIR *dh = NULL;
        struct dirent *de;
        if (!full)
                return -ENOMEM;
        dh = opendir(full);
        if (!dh)
                return 0;
        while ((de = readdir(dh))) {
                _cleanup_free_ char *rp = NULL;
                struct nodedev *d = NULL;
                if (de->d_name[0] == '.')
                        continue;
                if (link_resolve_at(s, dirfd(dh), full, de->d_name, false, &rp) < 0)
                        continue;
                char *sl = strrchr(rp, '/');
                if (!sl)
                        continue;
                *sl = 0;
                sl = strrchr(rp, '/');
                if (!sl || !streq(sl + 1, "scsi_host"))
                        continue;
                *sl = 0;
                if (pathmap_get_n(&l->map, rp, strlen(rp)))
                        continue;
                if (scsi_read(s, rp, &d) < 0 || !d)
                        continue;
                if (devlist_add(l, d) < 0) {
                        nodedev_free(d);
                        return -ENOMEM;
                }
        }
        return 0;
}

/* DMI strings for "computer" (libvirt's udevGetDMIData); absent on many VMs and containers. */
int system_read(struct scan *s, struct nodedev *c) {
        _cleanup_free_ char *dmi = path_join(s->root, "devices/virtual/dmi/id", NULL);
        struct system_info *y = &c->u.system;
        if (!dmi)
                return -ENOMEM;
        if (access(dmi, F_OK) < 0)
                return 0;
        (void) attr_string(s, dmi, "product_name", false, &y->product);
        (void) attr_string(s, dmi, "sys_vendor", false, &y->hw_vendor);
        (void) attr_string(s, dmi, "product_version", false, &y->hw_version);
        (void) attr_string(s, dmi, "product_serial", false, &y->hw_serial);
        (void) attr_string(s, dmi, "product_uuid", false, &y->hw_uuid);
        (void) attr_string(s, dmi, "bios_vendor", false, &y->fw_vendor);
        (void) attr_string(s, dmi, "bios_version", false, &y->fw_version);
        (void) attr_string(s, dmi, "bios_date", false, &y->fw_date);
        if (y->hw_uuid)
                for (char *q = y->hw_uuid; *q; q++)
                        *q = (char) tolower((unsigned char) *q);
        return 0;
}

static int cmp_path(const void *a, const void *b) {
        const struct nodedev *x = *(struct nodedev *const *) a, *y = *(struct nodedev *const *) b;
        return strcmp(x->sysfs_path, y->sysfs_path);
}

static void scan_done(struct scan *s) {
        scan_close_dir(s);
        hwdb_cache_clear(s);
        free(s->hcd_path);
        free(s->hcd_driver);
        free(s->root);
        if (s->hwdb)
                udev_hwdb_unref(s->hwdb);
        if (s->udev)
                udev_unref(s->udev);
}

static int scan_init(struct scan *s, char ***warnings, bool hwdb, char **reterr) {
        *s = (struct scan){ .warnings = warnings };
        s->root = realpath(sysfs_root(), NULL);
        if (!s->root)
                return error_set(reterr, -errno, "cannot open sysfs root %s: %s", sysfs_root(),
                                 strerror(errno));
        s->root_len = strlen(s->root);
        if (s->root_len == 1) /* "/" */
                s->root_len = 0;
        s->hwdb_wanted = hwdb; /* opened by the first hwdb_names() */
        s->hcd_cached = true;
        return 0;
}

/* Post-pass over the sorted list: parents, usbip flags, PCI PF/VF names. */
static int link_devices(struct scan *s, struct devlist *l) {
        for (size_t i = 0; i < l->n; i++) {
                struct nodedev *d = l->devs[i];
                const char *p = d->sysfs_path;
                size_t len = strlen(p);
                struct nodedev *parent = NULL;
                while (len > s->root_len + 1) {
                        while (len > 0 && p[len - 1] != '/')
                                len--;
                        if (len > 0)
                                len--; /* drop the slash */
                        if (len <= s->root_len)
                                break;
                        parent = pathmap_get_n(&l->map, p, len);
                        if (parent)
                                break;
                }
                d->parent = strdup(parent ? parent->name : "computer");
                if (!d->parent)
                        return -ENOMEM;

                if (d->cap == NODEDEV_CAP_USB_INTERFACE && parent &&
                    parent->cap == NODEDEV_CAP_USB_DEVICE && streq_ptr(d->driver, "usbip-host"))
                        parent->u.usb.usbip_exported = true;

                if (d->cap == NODEDEV_CAP_PCI) {
                        struct pci_device_info *pci = &d->u.pci;
                        struct pci_addr a;
                        if (pci->physfn_addr && parse_pci_addr(pci->physfn_addr, &a) >= 0) {
                                pci->physfn = strdup_printf("pci_%04x_%02x_%02x_%x", a.domain, a.bus,
                                                            a.slot, a.function);
                                if (!pci->physfn)
                                        return -ENOMEM;
                        }
                        for (char **v = pci->virtfn_addrs; v && *v; v++)
                                if (parse_pci_addr(*v, &a) >= 0) {
                                        int r = strv_push(&pci->virtfns,
                                                          strdup_printf("pci_%04x_%02x_%02x_%x", a.domain,
                                                                        a.bus, a.slot, a.function));
                                        if (r < 0)
                                                return r;
                                }
                }
        }
        return 0;
}

static int do_scan(bool usb_only, unsigned flags, struct inventory **ret, char **reterr) {
        _cleanup_(inventory_freep) struct inventory *inv = calloc(1, sizeof(*inv));
        struct devlist l = { 0 };
        struct scan s;
        int r;

        if (!inv)
                return -ENOMEM;
        r = scan_init(&s, &inv->warnings, !(flags & INVENTORY_SCAN_NO_HWDB), reterr);
        if (r < 0)
                return r;
        s.flags = flags;

        if (!usb_only) {
                r = walk_dir(&s, &l, "bus/pci/devices", pick_pci);
                if (r >= 0)
                        r = walk_dir(&s, &l, "bus/usb/devices", pick_usb);
                if (r >= 0)
                        r = walk_dir(&s, &l, "class/net", pick_net);
                if (r >= 0)
                        r = walk_dir(&s, &l, "bus/scsi/devices", pick_scsi);
                if (r >= 0)
                        r = add_scsi_hosts_from_class(&s, &l);
                if (r >= 0)
                        r = walk_dir(&s, &l, "class/scsi_generic", pick_sg);
                if (r >= 0)
                        r = walk_dir(&s, &l, "class/block", pick_block);
                if (r >= 0)
                        r = walk_dir(&s, &l, "bus/mdev/devices", pick_mdev);
        } else
                r = walk_dir(&s, &l, "bus/usb/devices", pick_usb);
        if (r < 0)
                goto fail;

        /* Sorting by path puts every ancestor before its descendants. The map holds pointers
         * and stays valid. */
        if (l.n > 1)
                qsort(l.devs, l.n, sizeof(*l.devs), cmp_path);
        r = link_devices(&s, &l);
        if (r < 0)
                goto fail;

        inv->devs = calloc(l.n + 1, sizeof(*inv->devs));
        if (!inv->devs) {
                r = -ENOMEM;
                goto fail;
        }
        struct nodedev *c = nodedev_new(s.root, NULL, NODEDEV_CAP_SYSTEM);
        if (!c || !(c->name = strdup("computer"))) {
                nodedev_free(c);
                r = -ENOMEM;
                goto fail;
        }
        if (!usb_only && system_read(&s, c) == -ENOMEM) {
                nodedev_free(c);
                r = -ENOMEM;
                goto fail;
        }
        inv->devs[0] = c;
        if (l.n > 0)
                memcpy(inv->devs + 1, l.devs, l.n * sizeof(*l.devs));
        inv->n_devs = l.n + 1;
        l.n = 0;
        devlist_done(&l);
        scan_done(&s);
        *ret = TAKE_PTR(inv);
        return 0;
fail:
        devlist_done(&l);
        scan_done(&s);
        return error_set(reterr, r, "scanning %s: %s", sysfs_root(), strerror(-r));
}

int inventory_scan(struct inventory **ret, char **reterr) {
        return do_scan(false, 0, ret, reterr);
}

int inventory_scan_flags(unsigned flags, struct inventory **ret, char **reterr) {
        return do_scan(false, flags, ret, reterr);
}

int inventory_scan_usb(struct inventory **ret, char **reterr) {
        return do_scan(true, 0, ret, reterr);
}

int inventory_scan_usb_flags(unsigned flags, struct inventory **ret, char **reterr) {
        return do_scan(true, flags, ret, reterr);
}

int nodedev_read_usb(const char *sysfs_dir, unsigned flags, struct nodedev **ret, char **reterr) {
        _cleanup_strv_free_ char **warnings = NULL;
        struct nodedev *d = NULL;
        struct scan s;
        /* no hwdb: this runs per uevent in the watch loop, which names devices by ids and
         * serial; opening the hwdb and walking its trie each time costs more than the rest */
        int r = scan_init(&s, &warnings, false, reterr);
        if (r < 0)
                return r;
        s.flags = flags & INVENTORY_SCAN_NO_USB_STRINGS;
        char *rp = realpath(sysfs_dir, NULL);
        if (!rp) {
                r = -errno;
                scan_done(&s);
                return error_set(reterr, r, "%s: %s", sysfs_dir, strerror(-r));
        }
        r = usb_read(&s, rp, &d);
        free(rp);
        scan_done(&s);
        if (r < 0)
                return error_set(reterr, r, "%s: %s", sysfs_dir,
                                 warnings && warnings[0] ? warnings[0] : strerror(-r));
        *ret = d;
        return 0;
}

int nodedev_read_usb_event(const struct usb_event_info *e, struct nodedev **ret, char **reterr) {
        _cleanup_strv_free_ char **warnings = NULL;
        struct nodedev *d = NULL;
        struct scan s;

        if (!e || isempty(e->devpath) || e->devpath[0] != '/' || strstr(e->devpath, "/../"))
                return error_set(reterr, -EINVAL, "not a device path: %s", e ? strna(e->devpath) : "(null)");
        int r = scan_init(&s, &warnings, false, reterr);
        if (r < 0)
                return r;
        /* the kernel's DEVPATH is canonical already: below the canonical root, no realpath() */
        _cleanup_free_ char *path = strdup_printf("%s%s", s.root_len ? s.root : "", e->devpath);
        r = path ? usb_read_event(&s, path, e, &d) : -ENOMEM;
        scan_done(&s);
        if (r < 0)
                return error_set(reterr, r, "%s: %s", e->devpath, warnings && warnings[0] ? warnings[0] : strerror(-r));
        *ret = d;
        return 0;
}

int nodedev_usb_read_serial(struct nodedev *d) {
        char *v = NULL;

        if (!d || d->cap != NODEDEV_CAP_USB_DEVICE || !d->u.usb.serial_unread)
                return 0;
        /* the reader every scan uses (first line, sanitized): the same string a full read gives */
        struct scan s = { .dfd = -1 };
        int r = attr_string(&s, d->sysfs_path, "serial", false, &v);
        scan_close_dir(&s);
        if (r < 0 && r != -ENOENT)
                return r; /* unreadable now (gone?): still unknown */
        free(d->u.usb.serial);
        d->u.usb.serial = v;
        d->u.usb.serial_unread = false;
        return 0;
}

struct nodedev *inventory_find(const struct inventory *inv, const char *name) {
        if (!inv || !name)
                return NULL;
        for (size_t i = 0; i < inv->n_devs; i++)
                if (streq_ptr(inv->devs[i]->name, name))
                        return inv->devs[i];
        return NULL;
}

struct nodedev *inventory_find_pci(const struct inventory *inv, const struct pci_addr *a) {
        if (!inv || !a)
                return NULL;
        for (size_t i = 0; i < inv->n_devs; i++) {
                struct nodedev *d = inv->devs[i];
                if (d->cap == NODEDEV_CAP_PCI && d->u.pci.addr.domain == a->domain &&
                    d->u.pci.addr.bus == a->bus && d->u.pci.addr.slot == a->slot &&
                    d->u.pci.addr.function == a->function)
                        return d;
        }
        return NULL;
}

struct nodedev *inventory_find_usb(const struct inventory *inv, unsigned bus, unsigned devnum) {
        if (!inv)
                return NULL;
        for (size_t i = 0; i < inv->n_devs; i++) {
                struct nodedev *d = inv->devs[i];
                if (d->cap == NODEDEV_CAP_USB_DEVICE && d->u.usb.bus == bus && d->u.usb.devnum == devnum)
                        return d;
        }
        return NULL;
}

int inventory_fill_owners(struct inventory *inv, nodedev_owner_func f, void *userdata) {
        if (!inv || !f)
                return 0;
        for (size_t i = 0; i < inv->n_devs; i++) {
                struct nodedev *d = inv->devs[i];
                const char *o = f(d, userdata);
                char *c = NULL;
                if (o && !(c = strdup(o)))
                        return -ENOMEM;
                free(d->owner);
                d->owner = c;
        }
        return 0;
}
