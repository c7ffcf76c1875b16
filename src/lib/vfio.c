/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host-side PCI: detach to vfio-pci and back, reset, IOMMU groups, host-safety checks.
 * See vfio.h. */
#include "vfio.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>

#include "error.h"
#include "json-util.h"
#include "registry.h"
#include "util.h"

int (*pci_sysfs_write_hook)(const char *path, const char *value, void *userdata) = NULL;
void *pci_sysfs_write_hook_userdata = NULL;
unsigned long long pci_bind_timeout_usec = 5ULL * 1000000ULL;

#define POLL_USEC 10000

static char *mfree_str(char *s) {
        free(s);
        return NULL;
}

/* ---- names ------------------------------------------------------------------------------- */

static int parse_hex_field(const char *s, size_t len, size_t maxdigits, unsigned max, unsigned *ret) {
        unsigned v = 0;
        if (len == 0 || len > maxdigits)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (!isxdigit((unsigned char) s[i]))
                        return -EINVAL;
                v = v * 16 + (unsigned) (isdigit((unsigned char) s[i]) ? s[i] - '0'
                                                                         : tolower((unsigned char) s[i]) - 'a' + 10);
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int pci_addr_parse_any(const char *s, struct pci_addr *ret) {
        const char *p, *fields[4];
        size_t lens[4], n = 0;
        char sep_main, sep_fn;
        unsigned dom = 0, bus, slot, fn;
        int r;

        if (!s)
                return -EINVAL;
        if ((p = startswith(s, "pci_"))) {
                sep_main = '_';
                sep_fn = '_';
        } else {
                p = s;
                sep_main = ':';
                sep_fn = '.';
        }
        /* split: [dom SEP] bus SEP slot FNSEP fn */
        const char *start = p;
        for (const char *c = p;; c++) {
                if (*c == sep_main || *c == sep_fn || *c == 0) {
                        if (n >= 4)
                                return -EINVAL;
                        fields[n] = start;
                        lens[n] = (size_t) (c - start);
                        n++;
                        if (*c == 0)
                                break;
                        start = c + 1;
                }
        }
        if (sep_main == ':') {
                /* the function separator must be '.', the others ':' */
                const char *dot = strrchr(p, '.');
                if (!dot || strchr(dot, ':'))
                        return -EINVAL;
                if (n != 3 && n != 4)
                        return -EINVAL;
        } else if (n != 4)
                return -EINVAL;

        size_t i = 0;
        if (n == 4) {
                r = parse_hex_field(fields[0], lens[0], 4, 0xffff, &dom);
                if (r < 0)
                        return r;
                i = 1;
        }
        r = parse_hex_field(fields[i], lens[i], 2, 0xff, &bus);
        if (r < 0)
                return r;
        r = parse_hex_field(fields[i + 1], lens[i + 1], 2, 0x1f, &slot);
        if (r < 0)
                return r;
        r = parse_hex_field(fields[i + 2], lens[i + 2], 1, 7, &fn);
        if (r < 0)
                return r;
        *ret = (struct pci_addr){ .domain = dom, .bus = (uint8_t) bus, .slot = (uint8_t) slot,
                                  .function = (uint8_t) fn };
        return 0;
}

char *pci_addr_format_sysfs(const struct pci_addr *a, char buf[static PCI_ADDR_STRLEN]) {
        snprintf(buf, PCI_ADDR_STRLEN, "%04x:%02x:%02x.%x", (unsigned) (a->domain & 0xffff),
                 (unsigned) a->bus, (unsigned) (a->slot & 0x1f), (unsigned) (a->function & 7));
        return buf;
}

char *pci_addr_format_node(const struct pci_addr *a, char buf[static PCI_NODE_STRLEN]) {
        snprintf(buf, PCI_NODE_STRLEN, "pci_%04x_%02x_%02x_%x", (unsigned) (a->domain & 0xffff),
                 (unsigned) a->bus, (unsigned) (a->slot & 0x1f), (unsigned) (a->function & 7));
        return buf;
}

static int pci_addr_cmp(const void *x, const void *y) {
        const struct pci_addr *a = x, *b = y;
        if (a->domain != b->domain)
                return a->domain < b->domain ? -1 : 1;
        if (a->bus != b->bus)
                return a->bus < b->bus ? -1 : 1;
        if (a->slot != b->slot)
                return a->slot < b->slot ? -1 : 1;
        if (a->function != b->function)
                return a->function < b->function ? -1 : 1;
        return 0;
}

/* ---- sysfs helpers ------------------------------------------------------------------------ */

/* sysfs_root()/bus/pci/devices/ADDR[/attr] */
static char *dev_path(const struct pci_addr *a, const char *attr) {
        char b[PCI_ADDR_STRLEN];
        return path_join(sysfs_root(), "bus/pci/devices", pci_addr_format_sysfs(a, b), attr, NULL);
}

static int sysfs_write_attr(const char *path, const char *value) {
        if (pci_sysfs_write_hook)
                return pci_sysfs_write_hook(path, value, pci_sysfs_write_hook_userdata);
        return write_string_file(path, value);
}

static int device_check_exists(const struct pci_addr *a, char **reterr) {
        _cleanup_free_ char *p = dev_path(a, NULL);
        char b[PCI_ADDR_STRLEN];
        if (!p)
                return -ENOMEM;
        if (access(p, F_OK) < 0) {
                if (errno == ENOENT)
                        return error_set(reterr, -ENODEV, "PCI device %s not found (no %s)",
                                         pci_addr_format_sysfs(a, b), p);
                return error_set(reterr, -errno, "cannot access %s: %s", p, strerror(errno));
        }
        return 0;
}

int pci_current_driver(const struct pci_addr *a, char **ret) {
        _cleanup_free_ char *dir = dev_path(a, NULL), *link = dev_path(a, "driver"), *drv = NULL;
        int r;
        if (!dir || !link)
                return -ENOMEM;
        if (access(dir, F_OK) < 0)
                return errno == ENOENT ? -ENODEV : -errno;
        r = readlink_basename(link, &drv);
        if (r == -ENOENT)
                drv = NULL;
        else if (r < 0)
                return r;
        *ret = TAKE_PTR(drv);
        return 0;
}

/* driver_override: NULL when unset ("(null)" or empty). -EOPNOTSUPP when the kernel lacks it. */
static int read_override(const struct pci_addr *a, char **ret) {
        _cleanup_free_ char *p = dev_path(a, "driver_override"), *v = NULL;
        int r;
        if (!p)
                return -ENOMEM;
        r = read_one_line_file(p, &v);
        if (r == -ENOENT)
                return -EOPNOTSUPP;
        if (r < 0)
                return r;
        if (isempty(v) || streq(v, "(null)"))
                v = mfree_str(v);
        *ret = TAKE_PTR(v);
        return 0;
}

static int read_class(const struct pci_addr *a, unsigned *ret) {
        _cleanup_free_ char *p = dev_path(a, "class"), *v = NULL;
        int r;
        if (!p)
                return -ENOMEM;
        r = read_one_line_file(p, &v);
        if (r < 0)
                return r == -ENOENT ? -ENODEV : r;
        return safe_atou(v, 16, ret);
}

static bool class_is_pci_bridge(unsigned class) {
        unsigned sub = class >> 8;
        return sub == 0x0604 || sub == 0x0607 || sub == 0x0609;
}

int pci_is_bridge(const struct pci_addr *a) {
        unsigned class;
        int r = read_class(a, &class);
        if (r < 0)
                return r;
        return (class >> 16) == 0x06;
}

static bool driver_is_stub(const char *drv) {
        return drv && (streq(drv, "vfio-pci") || streq(drv, "pci-stub"));
}

/* Wait until the driver link names want (NULL: unbound). */
static int wait_for_driver(const struct pci_addr *a, const char *want, char **ret_now) {
        uint64_t deadline = now_usec() + pci_bind_timeout_usec;
        for (;;) {
                _cleanup_free_ char *cur = NULL;
                int r = pci_current_driver(a, &cur);
                if (r < 0)
                        return r;
                if (streq_ptr(cur, want))
                        return 0;
                if (now_usec() >= deadline) {
                        if (ret_now)
                                *ret_now = TAKE_PTR(cur);
                        return -ETIMEDOUT;
                }
                usleep(POLL_USEC);
        }
}

static int write_addr_to(const struct pci_addr *a, const char *path) {
        char b[PCI_ADDR_STRLEN];
        return sysfs_write_attr(path, pci_addr_format_sysfs(a, b));
}

static int drivers_probe(const struct pci_addr *a) {
        _cleanup_free_ char *p = path_join(sysfs_root(), "bus/pci/drivers_probe", NULL);
        if (!p)
                return -ENOMEM;
        return write_addr_to(a, p);
}

static int unbind_from(const struct pci_addr *a, const char *drv) {
        _cleanup_free_ char *p = path_join(sysfs_root(), "bus/pci/drivers", drv, "unbind", NULL);
        if (!p)
                return -ENOMEM;
        return write_addr_to(a, p);
}

static int bind_to(const struct pci_addr *a, const char *drv) {
        _cleanup_free_ char *p = path_join(sysfs_root(), "bus/pci/drivers", drv, "bind", NULL);
        if (!p)
                return -ENOMEM;
        return write_addr_to(a, p);
}

static int set_override(const struct pci_addr *a, const char *drv) {
        _cleanup_free_ char *p = dev_path(a, "driver_override");
        if (!p)
                return -ENOMEM;
        return sysfs_write_attr(p, drv ? drv : "\n");
}

static bool driver_available(const char *drv) {
        _cleanup_free_ char *p = path_join(sysfs_root(), "bus/pci/drivers", drv, NULL);
        return p && access(p, F_OK) == 0;
}

/* modprobe the stub on the real /sys; never on a fixture tree. */
static int load_stub_module(const char *drv, char **reterr) {
        if (driver_available(drv))
                return 0;
        if (!streq(sysfs_root(), "/sys"))
                return error_set(reterr, -ENOENT,
                                 "driver %s is not available (no %s/bus/pci/drivers/%s; fixture sysfs tree: modprobe skipped)",
                                 drv, sysfs_root(), drv);
        pid_t pid = fork();
        if (pid < 0)
                return error_set(reterr, -errno, "cannot run modprobe %s: %s", drv, strerror(errno));
        if (pid == 0) {
                int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (fd >= 0) {
                        dup2(fd, STDIN_FILENO);
                        dup2(fd, STDOUT_FILENO);
                        dup2(fd, STDERR_FILENO);
                }
                execlp("modprobe", "modprobe", drv, (char *) NULL);
                _exit(127);
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return error_set(reterr, -errno, "waiting for modprobe: %s", strerror(errno));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !driver_available(drv))
                return error_set(reterr, -ENOENT,
                                 "driver %s is not available and 'modprobe %s' failed (exit %d); is the module installed?",
                                 drv, drv, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 0;
}

/* ---- the host-side record ----------------------------------------------------------------- */

static char *record_path(const struct pci_addr *a) {
        char b[PCI_ADDR_STRLEN], name[PCI_ADDR_STRLEN + 8];
        snprintf(name, sizeof name, "%s.json", pci_addr_format_sysfs(a, b));
        return path_join(state_dir(), "pci", name, NULL);
}

static int record_write(const struct pci_addr *a, const char *orig, const char *stub) {
        _cleanup_free_ char *dir = path_join(state_dir(), "pci", NULL), *p = record_path(a);
        _cleanup_json_ json_object *o = json_object_new_object();
        char b[PCI_ADDR_STRLEN];
        int r;

        if (!dir || !p || !o)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        json_object_object_add(o, "address", json_object_new_string(pci_addr_format_sysfs(a, b)));
        json_object_object_add(o, "orig_driver", orig ? json_object_new_string(orig) : NULL);
        json_object_object_add(o, "stub_driver", json_object_new_string(stub));
        json_object_object_add(o, "detached_by", json_object_new_string("hostdev"));
        json_object_object_add(o, "since", json_object_new_int64((int64_t) time(NULL)));
        const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
        _cleanup_free_ char *content = strdup_printf("%s\n", s);
        if (!content)
                return -ENOMEM;
        return write_file_atomic(p, content, strlen(content), 0600);
}

static int record_read(const struct pci_addr *a, char **ret_orig, char **ret_stub) {
        _cleanup_free_ char *p = record_path(a), *buf = NULL, *orig = NULL, *stub = NULL;
        _cleanup_json_ json_object *o = NULL;
        json_object *v;
        int r;

        if (!p)
                return -ENOMEM;
        r = read_full_file_optional(p, 64 * 1024, &buf);
        if (r <= 0)
                return r;
        o = json_tokener_parse(buf);
        if (!o || !json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if (json_object_object_get_ex(o, "orig_driver", &v) && json_object_is_type(v, json_type_string)) {
                orig = strdup(json_object_get_string(v));
                if (!orig)
                        return -ENOMEM;
        }
        if (json_object_object_get_ex(o, "stub_driver", &v) && json_object_is_type(v, json_type_string)) {
                stub = strdup(json_object_get_string(v));
                if (!stub)
                        return -ENOMEM;
        }
        if (ret_orig)
                *ret_orig = TAKE_PTR(orig);
        if (ret_stub)
                *ret_stub = TAKE_PTR(stub);
        return 1;
}

static int record_remove(const struct pci_addr *a) {
        _cleanup_free_ char *p = record_path(a);
        if (!p)
                return -ENOMEM;
        if (unlink(p) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* Serialise hostdev processes working on the same device: an flock()ed
 * state_dir()/pci/ADDR.lock, released when the returned fd is closed. */
static int device_lock(const struct pci_addr *a, char **reterr) {
        char b[PCI_ADDR_STRLEN], name[PCI_ADDR_STRLEN + 8];
        _cleanup_free_ char *dir = path_join(state_dir(), "pci", NULL), *p = NULL;
        int fd, r;

        snprintf(name, sizeof name, "%s.lock", pci_addr_format_sysfs(a, b));
        p = path_join(state_dir(), "pci", name, NULL);
        if (!dir || !p)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return error_set(reterr, r, "cannot create %s: %s", dir, strerror(-r));
        fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return error_set(reterr, -errno, "cannot open %s: %s", p, strerror(errno));
        while (flock(fd, LOCK_EX) < 0) {
                if (errno != EINTR) {
                        r = -errno;
                        safe_close(fd);
                        return error_set(reterr, r, "cannot lock %s: %s", p, strerror(-r));
                }
        }
        return fd;
}

int pci_record_get(const struct pci_addr *a, char **ret_orig_driver) {
        _cleanup_free_ char *orig = NULL;
        int r = record_read(a, &orig, NULL);
        if (r <= 0)
                return r;
        if (ret_orig_driver)
                *ret_orig_driver = TAKE_PTR(orig);
        return 1;
}

/* ---- IOMMU groups ------------------------------------------------------------------------- */

int pci_iommu_group(const struct pci_addr *a) {
        _cleanup_free_ char *p = dev_path(a, "iommu_group"), *g = NULL;
        int r, n;
        if (!p)
                return -ENOMEM;
        r = readlink_basename(p, &g);
        if (r < 0)
                return r;
        r = safe_atoi(g, &n);
        if (r < 0)
                return r;
        return n < 0 ? -EINVAL : n;
}

int pci_group_members(const struct pci_addr *a, struct pci_addr **ret, size_t *ret_n) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_free_ struct pci_addr *list = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        size_t n = 0;
        char gs[16];
        int g;

        g = pci_iommu_group(a);
        if (g < 0)
                return g;
        snprintf(gs, sizeof gs, "%d", g);
        dir = path_join(sysfs_root(), "kernel/iommu_groups", gs, "devices", NULL);
        if (!dir)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));) {
                struct pci_addr m;
                if (de->d_name[0] == '.')
                        continue;
                if (pci_addr_parse_any(de->d_name, &m) < 0)
                        continue;
                struct pci_addr *nl = realloc(list, sizeof(*list) * (n + 1));
                if (!nl)
                        return -ENOMEM;
                list = nl;
                list[n++] = m;
        }
        if (n > 1)
                qsort(list, n, sizeof(*list), pci_addr_cmp);
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

int pci_group_check_viable(const struct pci_addr *a, char **reterr) {
        _cleanup_free_ struct pci_addr *m = NULL;
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
        char b[PCI_ADDR_STRLEN], nb[PCI_NODE_STRLEN];
        size_t n = 0, bad = 0;
        int g, r;

        g = pci_iommu_group(a);
        if (g < 0)
                return error_set(reterr, g == -ENOENT ? -ENOENT : g,
                                 "PCI device %s has no IOMMU group: enable the IOMMU (intel_iommu=on or amd_iommu=on) to use vfio-pci",
                                 pci_addr_format_sysfs(a, b));
        r = pci_group_members(a, &m, &n);
        if (r < 0)
                return error_set(reterr, r, "cannot list IOMMU group %d: %s", g, strerror(-r));

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *drv = NULL;
                unsigned class = 0;
                (void) read_class(&m[i], &class);
                r = pci_current_driver(&m[i], &drv);
                if (r < 0)
                        return error_set(reterr, r, "cannot read driver of %s: %s",
                                         pci_addr_format_sysfs(&m[i], b), strerror(-r));
                strbuf_appendf(&sb, "\n  %s ", pci_addr_format_sysfs(&m[i], b));
                if (class_is_pci_bridge(class))
                        strbuf_appendf(&sb, "%s: PCI bridge, exempt", drv ? drv : "no driver");
                else if (!drv)
                        strbuf_append(&sb, "no driver: ok");
                else if (driver_is_stub(drv))
                        strbuf_appendf(&sb, "%s: ok", drv);
                else {
                        strbuf_appendf(&sb, "%s: run 'hostdev nodedev-detach %s'", drv,
                                       pci_addr_format_node(&m[i], nb));
                        bad++;
                }
        }
        if (sb.oom)
                return -ENOMEM;
        if (bad == 0)
                return 0;
        return error_set(reterr, -EBUSY,
                         "IOMMU group %d of %s is not viable: every endpoint device in the group must be bound to vfio-pci (or have no driver) before any of them can be assigned:%s",
                         g, pci_addr_format_sysfs(a, b), sb.buf);
}

/* ---- host-safety ---------------------------------------------------------------------------- */

static bool path_is_under(const char *child, const char *dir) {
        size_t l = strlen(dir);
        return strneq(child, dir, l) && (child[l] == '/' || child[l] == 0);
}

/* Is the block device at sysfs directory bdir (resolved) on the PCI device devdir, directly or
 * through its slaves (dm, md)? */
static const char *last_component(const char *p) {
        const char *b = strrchr(p, '/');
        return b ? b + 1 : p;
}

/* Is the block device at sysfs directory bdir (resolved) on the PCI device devdir, directly or
 * through its slaves (dm, md)? *ret_leaf (may be NULL) gets the name of the block device found
 * on devdir ("vdc1" under "dm-0"). */
static bool block_is_on(const char *bdir, const char *devdir, unsigned depth, char **ret_leaf) {
        if (path_is_under(bdir, devdir)) {
                if (ret_leaf)
                        *ret_leaf = strdup(last_component(bdir));
                return true;
        }
        if (depth > 8)
                return false;
        _cleanup_free_ char *sl = path_join(bdir, "slaves", NULL);
        _cleanup_closedir_ DIR *d = sl ? opendir(sl) : NULL;
        if (!d)
                return false;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *p = path_join(sl, de->d_name, NULL);
                _cleanup_free_ char *rp = p ? realpath(p, NULL) : NULL;
                if (rp && block_is_on(rp, devdir, depth + 1, ret_leaf))
                        return true;
        }
        return false;
}

/* "vda1" or "vdc1 (under dm-0)" */
static char *block_describe(const char *bdir, const char *leaf) {
        const char *top = last_component(bdir);
        if (!leaf || streq(leaf, top))
                return strdup(top);
        return strdup_printf("%s (under %s)", leaf, top);
}

static char *block_dir_by_devnum(unsigned maj, unsigned min) {
        char mm[32];
        snprintf(mm, sizeof mm, "%u:%u", maj, min);
        _cleanup_free_ char *p = path_join(sysfs_root(), "dev/block", mm, NULL);
        return p ? realpath(p, NULL) : NULL;
}

static char *block_dir_by_devname(const char *devpath) {
        const char *name = startswith(devpath, "/dev/");
        if (!name || strchr(name, '/'))
                return NULL;
        _cleanup_free_ char *p = path_join(sysfs_root(), "class/block", name, NULL);
        return p ? realpath(p, NULL) : NULL;
}

static int check_mounts(const char *devdir, const char *addr, char **ret_reason) {
        _cleanup_free_ char *p = path_join(proc_root(), "self/mountinfo", NULL), *buf = NULL;
        int r;
        if (!p)
                return -ENOMEM;
        r = read_full_file_optional(p, 16 * 1024 * 1024, &buf);
        if (r <= 0)
                return r;
        for (char *line = buf, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                char mp[4096], src[4096], fstype[256];
                unsigned maj, min;
                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
                if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min, mp) != 3)
                        continue;
                const char *sep = strstr(line, " - ");
                if (!sep || sscanf(sep + 3, "%255s %4095s", fstype, src) != 2)
                        continue;
                _cleanup_free_ char *bdir = maj != 0 ? block_dir_by_devnum(maj, min) : block_dir_by_devname(src);
                if (!bdir)
                        continue;
                _cleanup_free_ char *leaf = NULL;
                if (block_is_on(bdir, devdir, 0, &leaf)) {
                        _cleanup_free_ char *what = block_describe(bdir, leaf);
                        if (ret_reason)
                                *ret_reason = strdup_printf("%s is the controller of %s, mounted on %s (%s)", addr,
                                                            strna(what), mp, fstype);
                        return 1;
                }
        }
        return 0;
}

static int check_swaps(const char *devdir, const char *addr, char **ret_reason) {
        _cleanup_free_ char *p = path_join(proc_root(), "swaps", NULL), *buf = NULL;
        int r;
        if (!p)
                return -ENOMEM;
        r = read_full_file_optional(p, 1024 * 1024, &buf);
        if (r <= 0)
                return r;
        char *line = strchr(buf, '\n'); /* skip the header */
        for (char *next; line && *++line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next = 0;
                else
                        next = line + strlen(line) - 1;
                char file[4096], type[64];
                if (sscanf(line, "%4095s %63s", file, type) == 2) {
                        _cleanup_free_ char *bdir = NULL;
                        struct stat st;
                        if (streq(type, "partition"))
                                bdir = block_dir_by_devname(file);
                        else if (stat(file, &st) == 0)
                                bdir = block_dir_by_devnum(major(st.st_dev), minor(st.st_dev));
                        _cleanup_free_ char *leaf = NULL;
                        if (bdir && block_is_on(bdir, devdir, 0, &leaf)) {
                                _cleanup_free_ char *what = block_describe(bdir, leaf);
                                if (ret_reason)
                                        *ret_reason = strdup_printf("%s is the controller of active swap %s (%s)",
                                                                    addr, file, strna(what));
                                return 1;
                        }
                }
        }
        return 0;
}

/* Describe a non-link-local address or a route of interface ifname, or NULL. */
static char *iface_in_use(const char *ifname) {
        _cleanup_free_ char *buf = NULL, *p = NULL;

        /* IPv4 addresses: only through the kernel (getifaddrs) on the real /proc. */
        if (streq(proc_root(), "/proc")) {
                struct ifaddrs *ifa = NULL;
                if (getifaddrs(&ifa) == 0) {
                        char *res = NULL;
                        for (struct ifaddrs *i = ifa; i && !res; i = i->ifa_next) {
                                if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !streq(i->ifa_name, ifname))
                                        continue;
                                char txt[INET_ADDRSTRLEN] = "?";
                                inet_ntop(AF_INET, &((struct sockaddr_in *) (void *) i->ifa_addr)->sin_addr, txt, sizeof txt);
                                int plen = -1;
                                if (i->ifa_netmask && i->ifa_netmask->sa_family == AF_INET)
                                        plen = __builtin_popcount(
                                                ((struct sockaddr_in *) (void *) i->ifa_netmask)->sin_addr.s_addr);
                                res = plen >= 0 ? strdup_printf("has address %s/%d", txt, plen)
                                                : strdup_printf("has address %s", txt);
                        }
                        freeifaddrs(ifa);
                        if (res)
                                return res;
                }
        }

        /* IPv6 addresses: ADDR IFINDEX PREFIXLEN SCOPE FLAGS IFNAME */
        p = path_join(proc_root(), "net/if_inet6", NULL);
        if (p && read_full_file(p, 4 * 1024 * 1024, &buf, NULL) >= 0) {
                for (char *line = buf, *next; line && *line; line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = 0;
                        char hex[33], name[IFNAMSIZ + 1];
                        unsigned idx, plen, scope, flags;
                        if (sscanf(line, "%32s %x %x %x %x %16s", hex, &idx, &plen, &scope, &flags, name) != 6)
                                continue;
                        if (!streq(name, ifname) || scope == 0x20 /* link */ || scope == 0x10 /* host */)
                                continue;
                        struct in6_addr in6;
                        char txt[INET6_ADDRSTRLEN] = "?";
                        for (int i = 0; i < 16; i++) {
                                unsigned byte;
                                if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
                                        byte = 0;
                                in6.s6_addr[i] = (uint8_t) byte;
                        }
                        inet_ntop(AF_INET6, &in6, txt, sizeof txt);
                        return strdup_printf("has address %s/%u", txt, plen);
                }
        }
        buf = mfree_str(buf);
        p = mfree_str(p);

        /* IPv4 routes: Iface Destination Gateway Flags RefCnt Use Metric Mask ... */
        p = path_join(proc_root(), "net/route", NULL);
        if (p && read_full_file(p, 16 * 1024 * 1024, &buf, NULL) >= 0) {
                char *line = strchr(buf, '\n'); /* skip the header */
                for (char *next; line && *++line; line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next = 0;
                        else
                                next = line + strlen(line) - 1;
                        char name[IFNAMSIZ + 1];
                        unsigned dst, gw, flags, mask;
                        if (sscanf(line, "%16s %x %x %x %*d %*d %*d %x", name, &dst, &gw, &flags, &mask) == 5 &&
                            streq(name, ifname) && (flags & 1 /* RTF_UP */)) {
                                struct in_addr d = { .s_addr = dst }, g = { .s_addr = gw };
                                char dt[INET_ADDRSTRLEN], gt[INET_ADDRSTRLEN];
                                inet_ntop(AF_INET, &d, dt, sizeof dt);
                                inet_ntop(AF_INET, &g, gt, sizeof gt);
                                if (mask == 0)
                                        return strdup_printf("carries the default route via %s", gt);
                                return strdup_printf("carries the route %s/%d", dt, __builtin_popcount(mask));
                        }
                }
        }
        buf = mfree_str(buf);
        p = mfree_str(p);

        /* IPv6 routes: DST DSTLEN SRC SRCLEN NEXTHOP METRIC REF USE FLAGS IFNAME */
        p = path_join(proc_root(), "net/ipv6_route", NULL);
        if (p && read_full_file(p, 16 * 1024 * 1024, &buf, NULL) >= 0) {
                for (char *line = buf, *next; line && *line; line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = 0;
                        char dst[33], name[IFNAMSIZ + 1];
                        unsigned plen, flags;
                        if (sscanf(line, "%32s %x %*s %*s %*s %*s %*s %*s %x %16s", dst, &plen, &flags, name) != 4)
                                continue;
                        if (!streq(name, ifname))
                                continue;
                        /* every up interface has fe80::/64 and ff00::/8: not a use */
                        if (strneq(dst, "fe8", 3) || strneq(dst, "fe9", 3) || strneq(dst, "fea", 3) ||
                            strneq(dst, "feb", 3) || strneq(dst, "ff", 2))
                                continue;
                        return strdup_printf("carries an IPv6 route (%s/%u)", dst, plen);
                }
        }
        return NULL;
}

static char *netdev_in_use(const char *ifname, unsigned depth) {
        char *why = iface_in_use(ifname);
        if (why) {
                char *s = strdup_printf("%s %s", ifname, why);
                free(why);
                return s;
        }
        if (depth > 4)
                return NULL;
        _cleanup_free_ char *ml = path_join(sysfs_root(), "class/net", ifname, "master", NULL);
        _cleanup_free_ char *master = NULL;
        if (ml && readlink_basename(ml, &master) >= 0) {
                _cleanup_free_ char *up = netdev_in_use(master, depth + 1);
                if (up)
                        return strdup_printf("%s is enslaved to %s, and %s", ifname, master, up);
        }
        return NULL;
}

static int check_net(const char *devdir, const char *addr, char **ret_reason) {
        _cleanup_free_ char *cn = path_join(sysfs_root(), "class/net", NULL);
        _cleanup_closedir_ DIR *d = NULL;
        if (!cn)
                return -ENOMEM;
        d = opendir(cn);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *p = path_join(cn, de->d_name, NULL);
                _cleanup_free_ char *rp = p ? realpath(p, NULL) : NULL;
                if (!rp || !path_is_under(rp, devdir))
                        continue;
                _cleanup_free_ char *why = netdev_in_use(de->d_name, 0);
                if (why) {
                        if (ret_reason)
                                *ret_reason = strdup_printf("%s is the host's network device: %s", addr, why);
                        return 1;
                }
        }
        return 0;
}

static bool vtconsole_bound(const char *name_part) {
        _cleanup_free_ char *cv = path_join(sysfs_root(), "class/vtconsole", NULL);
        _cleanup_closedir_ DIR *d = cv ? opendir(cv) : NULL;
        if (!d)
                return false;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *np = path_join(cv, de->d_name, "name", NULL);
                _cleanup_free_ char *bp = path_join(cv, de->d_name, "bind", NULL);
                _cleanup_free_ char *name = NULL, *bind = NULL;
                if (!np || !bp || read_one_line_file(np, &name) < 0 || read_one_line_file(bp, &bind) < 0)
                        continue;
                if (strstr(name, name_part) && streq(bind, "1"))
                        return true;
        }
        return false;
}

static int check_console(const struct pci_addr *a, const char *devdir, const char *addr, char **ret_reason) {
        _cleanup_free_ char *cg = path_join(sysfs_root(), "class/graphics", NULL);
        _cleanup_closedir_ DIR *d = NULL;
        if (!cg)
                return -ENOMEM;
        d = opendir(cg);
        if (d) {
                for (struct dirent *de; (de = readdir(d));) {
                        if (!startswith(de->d_name, "fb"))
                                continue;
                        _cleanup_free_ char *p = path_join(cg, de->d_name, NULL);
                        _cleanup_free_ char *rp = p ? realpath(p, NULL) : NULL;
                        if (!rp || !path_is_under(rp, devdir))
                                continue;
                        if (vtconsole_bound("frame buffer")) {
                                if (ret_reason)
                                        *ret_reason = strdup_printf(
                                                "%s drives %s, the framebuffer of the active console (fbcon)", addr,
                                                de->d_name);
                                return 1;
                        }
                }
        }
        _cleanup_free_ char *bv = dev_path(a, "boot_vga"), *v = NULL;
        if (bv && read_one_line_file(bv, &v) >= 0 && streq(v, "1") && vtconsole_bound("VGA")) {
                if (ret_reason)
                        *ret_reason = strdup_printf("%s is the boot VGA device with the active VGA text console", addr);
                return 1;
        }
        return 0;
}

int pci_host_uses(const struct pci_addr *a, char **ret_reason) {
        _cleanup_free_ char *p = dev_path(a, NULL), *devdir = NULL, *reason = NULL;
        char addr[PCI_ADDR_STRLEN];
        unsigned class;
        int r;

        if (!p)
                return -ENOMEM;
        pci_addr_format_sysfs(a, addr);
        devdir = realpath(p, NULL);
        if (!devdir)
                return errno == ENOENT ? -ENODEV : -errno;
        r = read_class(a, &class);
        if (r < 0)
                return r;
        if ((class >> 16) == 0x06)
                reason = strdup_printf("%s is a bridge (class 0x%06x): bridges are never detached", addr, class);
        if (!reason && (r = check_mounts(devdir, addr, &reason)) < 0)
                return r;
        if (!reason && (r = check_swaps(devdir, addr, &reason)) < 0)
                return r;
        if (!reason && (r = check_net(devdir, addr, &reason)) < 0)
                return r;
        if (!reason && (r = check_console(a, devdir, addr, &reason)) < 0)
                return r;
        if (!reason) {
                /* an SR-IOV physical function with VFs enabled: detaching it removes them */
                _cleanup_free_ char *np = dev_path(a, "sriov_numvfs"), *nv = NULL;
                unsigned numvfs = 0;
                if (np && read_one_line_file(np, &nv) >= 0 && safe_atou(nv, 10, &numvfs) >= 0 && numvfs > 0)
                        reason = strdup_printf("%s is an SR-IOV physical function with %u virtual function%s enabled (sriov_numvfs); detaching it would remove them",
                                               addr, numvfs, numvfs == 1 ? "" : "s");
        }
        if (!reason)
                return 0;
        if (ret_reason)
                *ret_reason = TAKE_PTR(reason);
        return 1;
}

/* ---- who holds a vfio device open ----------------------------------------------------------- */

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

int pci_vfio_user(const struct pci_addr *a, int *ret_pid, char **ret_comm) {
        _cleanup_strv_free_ char **targets = NULL;
        _cleanup_closedir_ DIR *pd = NULL;
        char gs[32];
        int g, r;

        g = pci_iommu_group(a);
        if (g >= 0) {
                snprintf(gs, sizeof gs, "/dev/vfio/%d", g);
                r = strv_extend(&targets, gs);
                if (r < 0)
                        return r;
                snprintf(gs, sizeof gs, "vfio/%d", g);
                char *p = path_join(dev_root(), gs, NULL);
                if (!p || strv_push(&targets, p) < 0)
                        return -ENOMEM;
        }
        /* iommufd character devices: devices/X/vfio-dev/vfioN -> /dev/vfio/devices/vfioN */
        _cleanup_free_ char *vd = dev_path(a, "vfio-dev");
        _cleanup_closedir_ DIR *d = vd ? opendir(vd) : NULL;
        if (d)
                for (struct dirent *de; (de = readdir(d));) {
                        if (!startswith(de->d_name, "vfio"))
                                continue;
                        char *p = strdup_printf("/dev/vfio/devices/%s", de->d_name);
                        if (!p || strv_push(&targets, p) < 0)
                                return -ENOMEM;
                }
        if (!targets)
                return 0;

        pd = opendir(proc_root());
        if (!pd)
                return -errno;
        for (struct dirent *de; (de = readdir(pd));) {
                if (!all_digits(de->d_name))
                        continue;
                _cleanup_free_ char *fdd = path_join(proc_root(), de->d_name, "fd", NULL);
                _cleanup_closedir_ DIR *fdir = fdd ? opendir(fdd) : NULL;
                if (!fdir)
                        continue; /* gone, or not ours to see */
                for (struct dirent *fe; (fe = readdir(fdir));) {
                        if (fe->d_name[0] == '.')
                                continue;
                        _cleanup_free_ char *l = path_join(fdd, fe->d_name, NULL), *t = NULL;
                        if (!l || readlink_malloc(l, &t) < 0 || !strv_contains(targets, t))
                                continue;
                        int pid = 0;
                        (void) safe_atoi(de->d_name, &pid);
                        if (ret_comm) {
                                _cleanup_free_ char *cp = path_join(proc_root(), de->d_name, "comm", NULL);
                                char *comm = NULL;
                                if (cp && read_one_line_file(cp, &comm) >= 0)
                                        *ret_comm = comm;
                                else
                                        *ret_comm = NULL;
                        }
                        if (ret_pid)
                                *ret_pid = pid;
                        return 1;
                }
        }
        return 0;
}

/* ---- detach / reattach / reset -------------------------------------------------------------- */

/* Bring the device back to orig (NULL: whatever the kernel picks). Best effort; returns 0 when
 * the device ended on orig. */
static int rollback(const struct pci_addr *a, const char *orig) {
        _cleanup_free_ char *cur = NULL;
        int r;

        (void) set_override(a, NULL);
        r = pci_current_driver(a, &cur);
        if (r < 0)
                return r;
        if (cur && !streq_ptr(cur, orig))
                (void) unbind_from(a, cur);
        if (!orig)
                return 0;
        if (streq_ptr(cur, orig))
                return 0;
        (void) drivers_probe(a);
        r = wait_for_driver(a, orig, NULL);
        if (r < 0) {
                (void) bind_to(a, orig);
                r = wait_for_driver(a, orig, NULL);
        }
        return r;
}

static int wait_for_vfio_node(int group) {
        char gs[16];
        snprintf(gs, sizeof gs, "%d", group);
        _cleanup_free_ char *p = path_join(dev_root(), "vfio", gs, NULL);
        if (!p)
                return -ENOMEM;
        uint64_t deadline = now_usec() + pci_bind_timeout_usec;
        while (access(p, F_OK) < 0) {
                if (now_usec() >= deadline)
                        return -ENOENT;
                usleep(POLL_USEC);
        }
        return 0;
}

static int detach_locked(const struct pci_addr *a, const char *stub_driver, unsigned flags,
                         char **ret_orig_driver, char **reterr) {
        _cleanup_free_ char *cur = NULL, *orig = NULL, *rec_orig = NULL, *rec_stub = NULL, *reason = NULL,
                            *now = NULL, *ov = NULL;
        const char *stub = stub_driver ? stub_driver : PCI_STUB_DRIVER_DEFAULT;
        char addr[PCI_ADDR_STRLEN];
        unsigned class;
        int r, has_rec, group = -1;

        pci_addr_format_sysfs(a, addr);
        if (isempty(stub) || strchr(stub, '/') || streq(stub, ".") || streq(stub, ".."))
                return error_set(reterr, -EINVAL, "invalid driver name '%s'", strempty(stub_driver));
        r = device_check_exists(a, reterr);
        if (r < 0)
                return r;
        r = read_class(a, &class);
        if (r < 0)
                return error_set(reterr, r, "cannot read the class of %s: %s", addr, strerror(-r));
        if ((class >> 16) == 0x06)
                return error_set(reterr, -EPERM,
                                 "refusing to detach %s: it is a bridge (class 0x%06x), not an endpoint device; bridges are never detached",
                                 addr, class);
        r = pci_current_driver(a, &cur);
        if (r < 0)
                return error_set(reterr, r, "cannot read the driver of %s: %s", addr, strerror(-r));
        has_rec = record_read(a, &rec_orig, &rec_stub);
        if (has_rec < 0)
                has_rec = 0; /* an unreadable record is replaced below */

        if (streq_ptr(cur, stub)) {
                /* already detached: a no-op */
                if (ret_orig_driver)
                        *ret_orig_driver = TAKE_PTR(rec_orig);
                return 0;
        }
        /* on another stub that hostdev put it on, or left unbound by an interrupted detach:
         * the original is the recorded one */
        if (has_rec && (!cur || driver_is_stub(cur)))
                orig = TAKE_PTR(rec_orig);
        else if (cur && !(orig = strdup(cur)))
                return -ENOMEM;

        if (!(flags & PCI_FORCE)) {
                r = pci_host_uses(a, &reason);
                if (r < 0)
                        return error_set(reterr, r, "cannot check whether the host uses %s: %s", addr, strerror(-r));
                if (r > 0) {
                        /* the reason names the device first: say "it" instead */
                        const char *rest = reason ? startswith(reason, addr) : NULL;
                        return error_set(reterr, -EBUSY, "refusing to detach %s: %s%s (use --force to detach it anyway)",
                                         addr, rest ? "it" : "", rest ? rest : reason ? reason : "the host uses it");
                }
        }
        if (streq(stub, "vfio-pci")) {
                group = pci_iommu_group(a);
                if (group < 0)
                        return error_set(reterr, -ENXIO,
                                         "cannot detach %s to vfio-pci: it has no IOMMU group; enable the IOMMU (boot with intel_iommu=on or amd_iommu=on)",
                                         addr);
        }
        r = load_stub_module(stub, reterr);
        if (r < 0)
                return r;
        r = read_override(a, &ov);
        if (r == -EOPNOTSUPP)
                return error_set(reterr, r, "the kernel offers no driver_override for %s; cannot bind it to %s", addr, stub);
        if (r < 0)
                return error_set(reterr, r, "cannot read driver_override of %s: %s", addr, strerror(-r));

        /* remember the original driver before the first change */
        r = record_write(a, orig, stub);
        if (r < 0)
                return error_set(reterr, r, "cannot write the record of %s under %s/pci: %s", addr, state_dir(),
                                 strerror(-r));

        r = set_override(a, stub);
        if (r < 0) {
                (void) record_remove(a);
                return error_set(reterr, r, "cannot set driver_override of %s to %s: %s", addr, stub, strerror(-r));
        }
        if (cur) {
                r = unbind_from(a, cur);
                if (r >= 0)
                        r = wait_for_driver(a, NULL, NULL);
                if (r < 0) {
                        int q = rollback(a, orig);
                        if (q >= 0)
                                (void) record_remove(a);
                        return error_set(reterr, r, "cannot unbind %s from %s: %s; %s", addr, cur,
                                         r == -ETIMEDOUT ? "the driver did not let go of it in time" : strerror(-r),
                                         q >= 0 ? "left on its driver" : "and could not restore it");
                }
        }
        r = drivers_probe(a);
        if (r >= 0)
                r = wait_for_driver(a, stub, &now);
        if (r >= 0 && group >= 0) {
                r = wait_for_vfio_node(group);
                if (r < 0) {
                        int q = rollback(a, orig);
                        if (q >= 0)
                                (void) record_remove(a);
                        return error_set(reterr, -ENOENT,
                                         "%s was bound to vfio-pci but %s/vfio/%d did not appear; %s", addr, dev_root(),
                                         group, q >= 0 ? (orig ? "rolled back to its driver" : "rolled back") :
                                                            "rollback failed too: check the device");
                }
        }
        if (r < 0) {
                int q = rollback(a, orig);
                if (q >= 0)
                        (void) record_remove(a);
                return error_set(reterr, r == -ETIMEDOUT ? -EIO : r,
                                 "%s did not bind to %s (driver now: %s)%s%s%s", addr, stub, now ? now : "none",
                                 q >= 0 ? "; rolled back" : "; rollback failed, the device may be unbound",
                                 q >= 0 && orig ? " to " : "", q >= 0 && orig ? orig : "");
        }
        if (ret_orig_driver)
                *ret_orig_driver = TAKE_PTR(orig);
        return 1;
}

static int reattach_locked(const struct pci_addr *a, const char *orig_driver, char **reterr) {
        _cleanup_free_ char *cur = NULL, *ov = NULL, *rec_orig = NULL, *rec_stub = NULL, *now = NULL;
        const char *orig;
        char addr[PCI_ADDR_STRLEN];
        int r, has_rec;

        pci_addr_format_sysfs(a, addr);
        r = device_check_exists(a, reterr);
        if (r < 0)
                return r;
        r = pci_current_driver(a, &cur);
        if (r < 0)
                return error_set(reterr, r, "cannot read the driver of %s: %s", addr, strerror(-r));
        r = read_override(a, &ov);
        if (r < 0 && r != -EOPNOTSUPP)
                return error_set(reterr, r, "cannot read driver_override of %s: %s", addr, strerror(-r));
        has_rec = record_read(a, &rec_orig, &rec_stub);
        if (has_rec < 0)
                has_rec = 0;
        orig = orig_driver ? orig_driver : rec_orig;

        bool on_stub = driver_is_stub(cur) || (cur && has_rec && streq_ptr(cur, rec_stub));
        if (orig && driver_is_stub(orig))
                orig = NULL; /* "back" to a stub makes no sense: let the kernel choose */

        if (cur && !on_stub) {
                /* already on a host driver: nothing to do but tidy up */
                if (ov)
                        (void) set_override(a, NULL);
                (void) record_remove(a);
                return 0;
        }
        /* unbinding vfio-pci while a process (QEMU) has the device open blocks until it lets go */
        if (streq_ptr(cur, "vfio-pci")) {
                _cleanup_free_ char *comm = NULL;
                int pid = 0;
                r = pci_vfio_user(a, &pid, &comm);
                if (r > 0)
                        return error_set(reterr, -EBUSY,
                                         "cannot reattach %s: it is in use through vfio by process %d (%s); stop that VM or unplug the device first",
                                         addr, pid, comm ? comm : "?");
        }
        /* unbound (or on a stub): clear the override, unbind, and let the kernel probe */
        if (ov) {
                r = set_override(a, NULL);
                if (r < 0)
                        return error_set(reterr, r, "cannot clear driver_override of %s: %s", addr, strerror(-r));
        }
        if (cur) {
                r = unbind_from(a, cur);
                if (r >= 0)
                        r = wait_for_driver(a, NULL, NULL);
                if (r < 0)
                        return error_set(reterr, r, "cannot unbind %s from %s: %s", addr, cur, strerror(-r));
        }
        r = drivers_probe(a);
        if (r < 0 && !orig)
                return error_set(reterr, r, "cannot probe drivers for %s: %s", addr, strerror(-r));
        if (orig) {
                r = wait_for_driver(a, orig, &now);
                if (r < 0 && !now) {
                        /* not claimed by anyone: ask the original driver directly */
                        if (driver_available(orig))
                                (void) bind_to(a, orig);
                        now = mfree_str(now);
                        r = wait_for_driver(a, orig, &now);
                }
                if (r < 0)
                        return error_set(reterr, -EIO,
                                         "%s did not bind back to %s (driver now: %s); is the %s module loaded? ('modprobe %s', then 'hostdev nodedev-reattach %s' again)",
                                         addr, orig, now ? now : "none", orig, orig, addr);
        }
        (void) record_remove(a);
        return 1;
}

int pci_detach(const struct pci_addr *a, const char *stub_driver, unsigned flags,
               char **ret_orig_driver, char **reterr) {
        _cleanup_close_ int lock = -1;
        int r = device_check_exists(a, reterr);
        if (r < 0)
                return r;
        lock = device_lock(a, reterr);
        if (lock < 0)
                return lock;
        return detach_locked(a, stub_driver, flags, ret_orig_driver, reterr);
}

int pci_reattach(const struct pci_addr *a, const char *orig_driver, char **reterr) {
        _cleanup_close_ int lock = -1;
        int r = device_check_exists(a, reterr);
        if (r < 0)
                return r;
        lock = device_lock(a, reterr);
        if (lock < 0)
                return lock;
        return reattach_locked(a, orig_driver, reterr);
}

int pci_reset(const struct pci_addr *a, char **reterr) {
        _cleanup_free_ char *rp = dev_path(a, "reset"), *mp = dev_path(a, "reset_method"), *methods = NULL,
                            *reason = NULL;
        char addr[PCI_ADDR_STRLEN];
        int r;

        if (!rp || !mp)
                return -ENOMEM;
        pci_addr_format_sysfs(a, addr);
        r = device_check_exists(a, reterr);
        if (r < 0)
                return r;
        r = pci_host_uses(a, &reason);
        if (r < 0)
                return error_set(reterr, r, "cannot check whether the host uses %s: %s", addr, strerror(-r));
        if (r > 0) {
                const char *rest = reason ? startswith(reason, addr) : NULL;
                return error_set(reterr, -EBUSY, "refusing to reset %s: %s%s", addr, rest ? "it" : "",
                                 rest ? rest : reason ? reason : "the host uses it");
        }
        if (access(rp, F_OK) < 0)
                return error_set(reterr, -EOPNOTSUPP,
                                 "%s offers no reset method (no 'reset' attribute: no FLR, power-management or bus reset is available)",
                                 addr);
        (void) read_one_line_file(mp, &methods);
        r = sysfs_write_attr(rp, "1");
        if (r < 0)
                return error_set(reterr, r, "reset of %s failed%s%s%s: %s", addr, methods ? " (methods: " : "",
                                 methods ? methods : "", methods ? ")" : "", strerror(-r));
        return 0;
}

/* ---- registry give-back (declared weak in registry.h) ----------------------------------------- */

int hostdev_giveback_claim(const struct claim *c, char **reterr) {
        if (!c || c->type != HOSTDEV_TYPE_PCI || !c->pci.detached)
                return 0;
        return pci_reattach(&c->pci.addr, c->pci.orig_driver, reterr);
}
