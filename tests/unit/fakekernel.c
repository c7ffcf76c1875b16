/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The in-test fake kernel: see fakekernel.h. */
#include "fakekernel.h"

#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "util.h"
#include "vfio.h"

char *fakekernel_path(struct fakekernel *fk, const char *rel) {
        return path_join(fk->root, rel, NULL);
}

static char *devdir(struct fakekernel *fk, const char *addr) {
        return path_join(fk->sys, "bus/pci/devices", addr, NULL);
}

char *fakekernel_driver(struct fakekernel *fk, const char *addr) {
        _cleanup_free_ char *d = devdir(fk, addr), *l = path_join(d, "driver", NULL);
        char *drv = NULL;
        if (readlink_basename(l, &drv) < 0)
                return strdup("");
        return drv;
}

char *fakekernel_override(struct fakekernel *fk, const char *addr) {
        _cleanup_free_ char *d = devdir(fk, addr), *p = path_join(d, "driver_override", NULL);
        char *v = NULL;
        if (read_one_line_file(p, &v) < 0)
                return NULL;
        return v;
}

static int read_hex(const char *dir, const char *attr, unsigned *ret) {
        _cleanup_free_ char *p = path_join(dir, attr, NULL), *v = NULL;
        int r = read_one_line_file(p, &v);
        if (r < 0)
                return r;
        return safe_atou(v, 16, ret);
}

static int group_of(const char *dir) {
        _cleanup_free_ char *l = path_join(dir, "iommu_group", NULL), *g = NULL;
        int n;
        if (readlink_basename(l, &g) < 0 || safe_atoi(g, &n) < 0)
                return -1;
        return n;
}

static bool id_table_matches(const char *drv, unsigned ven, unsigned dev) {
        if (streq(drv, "e1000"))
                return ven == 0x8086 && dev == 0x100e;
        if (streq(drv, "virtio-pci"))
                return ven == 0x1af4;
        if (streq(drv, "bochs-drm"))
                return ven == 0x1234 && dev == 0x1111;
        return false; /* vfio-pci, pci-stub: only by override */
}

/* Does drv match the device (override rules as drivers/pci/pci-driver.c)? */
static bool driver_matches(const char *dir, const char *drv) {
        _cleanup_free_ char *op = path_join(dir, "driver_override", NULL), *ov = NULL;
        unsigned ven = 0, dev = 0;
        if (read_one_line_file(op, &ov) >= 0 && !isempty(ov) && !streq(ov, "(null)"))
                return streq(ov, drv);
        (void) read_hex(dir, "vendor", &ven);
        (void) read_hex(dir, "device", &dev);
        return id_table_matches(drv, ven, dev);
}

static char *vfio_node(struct fakekernel *fk, int group) {
        char gs[16];
        snprintf(gs, sizeof gs, "%d", group);
        return path_join(fk->dev, "vfio", gs, NULL);
}

/* Probe: bind dir (addr) to drv. */
static int do_bind(struct fakekernel *fk, const char *addr, const char *dir, const char *drv) {
        _cleanup_free_ char *ddir = path_join(fk->sys, "bus/pci/drivers", drv, NULL);
        _cleanup_free_ char *link = path_join(dir, "driver", NULL), *back = path_join(ddir, addr, NULL);
        _cleanup_free_ char *real = realpath(dir, NULL);
        int group = group_of(dir);

        if (access(ddir, F_OK) < 0)
                return -ENODEV;
        if (fk->fail_probe_driver && streq(fk->fail_probe_driver, drv))
                return -EINVAL;
        if (streq(drv, "vfio-pci") && group < 0)
                return -EINVAL; /* vfio-pci: "No IOMMU group" */
        if (symlink(ddir, link) < 0 || symlink(real, back) < 0)
                return -errno;
        if (streq(drv, "vfio-pci") && !fk->no_vfio_node) {
                _cleanup_free_ char *n = vfio_node(fk, group);
                int fd = open(n, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                if (fd >= 0)
                        close(fd);
        }
        return 0;
}

static bool group_has_vfio(struct fakekernel *fk, int group) {
        char gs[16];
        snprintf(gs, sizeof gs, "%d", group);
        _cleanup_free_ char *gd = path_join(fk->sys, "kernel/iommu_groups", gs, "devices", NULL);
        _cleanup_closedir_ DIR *d = opendir(gd);
        if (!d)
                return false;
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *drv = fakekernel_driver(fk, de->d_name);
                if (streq(drv, "vfio-pci"))
                        return true;
        }
        return false;
}

static int do_unbind(struct fakekernel *fk, const char *addr, const char *dir, const char *drv) {
        _cleanup_free_ char *link = path_join(dir, "driver", NULL);
        _cleanup_free_ char *back = path_join(fk->sys, "bus/pci/drivers", drv, addr, NULL);
        _cleanup_free_ char *cur = fakekernel_driver(fk, addr);
        if (!streq(cur, drv))
                return -ENODEV;
        if (unlink(link) < 0)
                return -errno;
        (void) unlink(back);
        int group = group_of(dir);
        if (streq(drv, "vfio-pci") && group >= 0 && !group_has_vfio(fk, group)) {
                _cleanup_free_ char *n = vfio_node(fk, group);
                (void) unlink(n);
        }
        return 0;
}

static const char *const probe_order[] = { "e1000", "virtio-pci", "bochs-drm", "vfio-pci", "pci-stub" };

int fakekernel_write(struct fakekernel *fk, const char *rel, const char *value) {
        _cleanup_free_ char *addr = strdup(value);
        const char *p;
        int r;

        if (!addr)
                return -ENOMEM;
        addr[strcspn(addr, "\n")] = 0;

        if ((p = startswith(rel, "bus/pci/drivers/"))) {
                _cleanup_free_ char *drv = strdup(p);
                char *slash = strchr(drv, '/');
                if (!slash)
                        return -EISDIR;
                *slash = 0;
                const char *attr = slash + 1;
                _cleanup_free_ char *dir = devdir(fk, addr);
                if (streq(attr, "new_id") || streq(attr, "remove_id"))
                        return 0;
                if (access(dir, F_OK) < 0)
                        return -ENODEV;
                if (streq(attr, "unbind"))
                        return do_unbind(fk, addr, dir, drv);
                if (streq(attr, "bind")) {
                        _cleanup_free_ char *cur = fakekernel_driver(fk, addr);
                        if (!isempty(cur))
                                return -EBUSY;
                        if (!driver_matches(dir, drv))
                                return -ENODEV;
                        return do_bind(fk, addr, dir, drv);
                }
                return -EACCES;
        }
        if (streq(rel, "bus/pci/drivers_probe")) {
                _cleanup_free_ char *dir = devdir(fk, addr), *cur = NULL;
                if (access(dir, F_OK) < 0)
                        return -ENODEV;
                cur = fakekernel_driver(fk, addr);
                if (!isempty(cur))
                        return 0;
                for (size_t i = 0; i < ELEMENTSOF(probe_order); i++)
                        if (driver_matches(dir, probe_order[i])) {
                                r = do_bind(fk, addr, dir, probe_order[i]);
                                if (r >= 0)
                                        break; /* a failed probe tries the next driver */
                        }
                return 0;
        }
        if ((p = startswith(rel, "devices/")) || (p = startswith(rel, "bus/pci/devices/"))) {
                const char *attr = strrchr(rel, '/');
                _cleanup_free_ char *full = path_join(fk->sys, rel, NULL);
                if (!attr)
                        return -EACCES;
                attr++;
                if (streq(attr, "driver_override")) {
                        const char *v = isempty(addr) ? "(null)" : addr;
                        _cleanup_free_ char *line = strdup_printf("%s\n", v);
                        return write_string_file(full, line);
                }
                if (streq(attr, "reset")) {
                        if (access(full, F_OK) < 0)
                                return -ENOENT;
                        fk->n_resets++;
                        free(fk->last_reset);
                        /* the device directory's name */
                        _cleanup_free_ char *d = strndup(rel, (size_t) (attr - 1 - rel));
                        const char *b = d ? strrchr(d, '/') : NULL;
                        fk->last_reset = strdup(b ? b + 1 : "");
                        return 0;
                }
                return -EACCES;
        }
        return -EACCES;
}

static int hook(const char *path, const char *value, void *userdata) {
        struct fakekernel *fk = userdata;
        const char *rel = startswith(path, fk->sys);

        fk->n_writes++;
        if (rel && *rel == '/')
                rel++;
        else
                rel = NULL;
        (void) strv_push(&fk->log, strdup_printf("%s <- %s", rel ? rel : path, value));
        if (!rel)
                return -EACCES; /* the library must never write outside sysfs_root() */
        if (fk->fail_write_suffix) {
                size_t l = strlen(path), s = strlen(fk->fail_write_suffix);
                if (l >= s && streq(path + l - s, fk->fail_write_suffix))
                        return -fk->fail_write_errno;
        }
        /* resolve the bus/pci/devices/X and devices/... forms alike */
        return fakekernel_write(fk, rel, value);
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

/* The fixture is generated once per process (pci-gen.sh) and copied for each test. */
static char *template_dir;
static const char *copy_dst;
static size_t copy_src_len;

static void template_cleanup(void) {
        if (template_dir)
                (void) nftw(template_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        free(template_dir);
        template_dir = NULL;
}

static int make_template(void) {
        const char *data = getenv("HOSTDEV_TEST_DATA");
        _cleanup_free_ char *tmpl = strdup("/tmp/hostdev-fk-tmpl-XXXXXX"), *gen = NULL;
        int st;

        if (template_dir)
                return 0;
        if (!data)
                return -ENOENT; /* run through meson test */
        if (!tmpl || !mkdtemp(tmpl))
                return -errno;
        gen = path_join(data, "sys/pci-gen.sh", NULL);
        if (!gen)
                return -ENOMEM;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                execlp("bash", "bash", gen, tmpl, (char *) NULL);
                _exit(127);
        }
        if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                (void) nftw(tmpl, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
                return -EIO;
        }
        template_dir = TAKE_PTR(tmpl);
        atexit(template_cleanup);
        return 0;
}

static int copy_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
        _cleanup_free_ char *dst = path_join(copy_dst, path + copy_src_len, NULL);
        if (!dst)
                return -1;
        if (flag == FTW_D)
                return mkdir(dst, 0755) < 0 && errno != EEXIST ? -1 : 0;
        if (flag == FTW_SL) {
                _cleanup_free_ char *t = NULL;
                if (readlink_malloc(path, &t) < 0)
                        return -1;
                return symlink(t, dst) < 0 ? -1 : 0;
        }
        if (flag == FTW_F) {
                _cleanup_free_ char *buf = NULL;
                size_t n = 0;
                _cleanup_close_ int fd = -1;
                if (read_full_file(path, 1 << 20, &buf, &n) < 0)
                        return -1;
                fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, sb->st_mode & 0777);
                if (fd < 0 || (n > 0 && write(fd, buf, n) != (ssize_t) n))
                        return -1;
                return 0;
        }
        return -1;
}

int fakekernel_new(struct fakekernel **ret) {
        _cleanup_free_ char *tmpl = strdup("/tmp/hostdev-fk-XXXXXX");
        struct fakekernel *fk;
        int r;

        r = make_template();
        if (r < 0)
                return r;
        if (!tmpl || !mkdtemp(tmpl))
                return -errno;
        copy_dst = tmpl;
        copy_src_len = strlen(template_dir);
        if (nftw(template_dir, copy_cb, 16, FTW_PHYS) != 0) {
                r = errno ? -errno : -EIO;
                (void) nftw(tmpl, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
                return r;
        }

        fk = calloc(1, sizeof *fk);
        if (!fk)
                return -ENOMEM;
        fk->root = TAKE_PTR(tmpl);
        fk->sys = path_join(fk->root, "sys", NULL);
        fk->proc = path_join(fk->root, "proc", NULL);
        fk->dev = path_join(fk->root, "dev", NULL);
        fk->state = path_join(fk->root, "state", NULL);
        setenv("HOSTDEV_SYSFS_ROOT", fk->sys, 1);
        setenv("HOSTDEV_PROC_ROOT", fk->proc, 1);
        setenv("HOSTDEV_DEV_ROOT", fk->dev, 1);
        setenv("HOSTDEV_STATE_DIR", fk->state, 1);
        pci_sysfs_write_hook = hook;
        pci_sysfs_write_hook_userdata = fk;
        *ret = fk;
        return 0;
}

struct fakekernel *fakekernel_free(struct fakekernel *fk) {
        if (!fk)
                return NULL;
        if (pci_sysfs_write_hook_userdata == fk) {
                pci_sysfs_write_hook = NULL;
                pci_sysfs_write_hook_userdata = NULL;
        }
        if (fk->root)
                (void) nftw(fk->root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
        unsetenv("HOSTDEV_SYSFS_ROOT");
        unsetenv("HOSTDEV_PROC_ROOT");
        unsetenv("HOSTDEV_DEV_ROOT");
        unsetenv("HOSTDEV_STATE_DIR");
        free(fk->root);
        free(fk->sys);
        free(fk->proc);
        free(fk->dev);
        free(fk->state);
        free(fk->fail_probe_driver);
        free(fk->fail_write_suffix);
        free(fk->last_reset);
        strv_free(fk->log);
        free(fk);
        return NULL;
}
