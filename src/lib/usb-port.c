/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reserving USB ports for VMs' devices: usbfs port claims and giving devices back. */
#include "usb-port.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "error.h"
#include "inventory-private.h"
#include "util.h"

/* "2-1" -> hub "usb2", port 1; "1-4.1" -> hub "1-4", port 1. */
static int port_hub(const char *port, char **ret_hub, unsigned *ret_portnum) {
        unsigned bus, n;
        _cleanup_free_ char *path = NULL;
        int r = parse_usb_sysname(port, &bus, &path);
        if (r < 0)
                return r;
        if (!path)
                return -EINVAL; /* a root hub is no port */
        const char *dot = strrchr(path, '.');
        if (safe_atou(dot ? dot + 1 : path, 10, &n) < 0 || n == 0 || n > 255)
                return -EINVAL;
        char *hub = dot ? strdup_printf("%u-%.*s", bus, (int) (dot - path), path) : strdup_printf("usb%u", bus);
        if (!hub)
                return -ENOMEM;
        *ret_hub = hub;
        *ret_portnum = n;
        return 0;
}

int usb_port_claim(const char *port, char **reterr) {
        _cleanup_free_ char *hub = NULL, *dir = NULL, *dev = NULL, *busnum = NULL, *devnum = NULL, *node = NULL;
        unsigned portnum, bus, addr, maj, min;
        int r = port_hub(port, &hub, &portnum);
        if (r < 0)
                return error_set(reterr, r, "%s: not a USB port name", port);
        dir = path_join(sysfs_root(), "bus/usb/devices", hub, NULL);
        if (!dir)
                return -ENOMEM;
        _cleanup_free_ char *p1 = path_join(dir, "busnum", NULL), *p2 = path_join(dir, "devnum", NULL),
                            *p3 = path_join(dir, "dev", NULL);
        if (!p1 || !p2 || !p3)
                return -ENOMEM;
        if ((r = read_one_line_file(p1, &busnum)) < 0 || (r = read_one_line_file(p2, &devnum)) < 0 ||
            (r = read_one_line_file(p3, &dev)) < 0)
                return error_set(reterr, r, "hub %s of port %s: %s", hub, port, strerror(-r));
        if (safe_atou(busnum, 10, &bus) < 0 || safe_atou(devnum, 10, &addr) < 0 ||
            sscanf(dev, "%u:%u", &maj, &min) != 2)
                return error_set(reterr, -EINVAL, "hub %s of port %s: unexpected busnum/devnum/dev", hub, port);
        node = usb_node_path(bus, addr);
        if (!node)
                return -ENOMEM;
        _cleanup_close_ int fd = open(node, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return error_set(reterr, -errno, "%s: %s", node, strerror(errno));
        struct stat st;
        if (fstat(fd, &st) < 0)
                return error_set(reterr, -errno, "%s: %s", node, strerror(errno));
        /* a fixture tree's stand-in, or a node that is not this hub: never ioctl it */
        if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != maj || minor(st.st_rdev) != min)
                return error_set(reterr, -ENODEV, "%s is not the device node of hub %s (%u:%u)", node, hub, maj, min);
        if (ioctl(fd, USBDEVFS_CLAIM_PORT, &portnum) < 0)
                return error_set(reterr, -errno, "claiming port %u of hub %s: %s", portnum, hub,
                                 errno == EBUSY ? "another program owns it" : strerror(errno));
        return TAKE_FD(fd);
}

int usb_port_peer(const char *port, char **ret) {
        _cleanup_free_ char *hub = NULL, *link = NULL, *pd = NULL, *name = NULL;
        unsigned portnum;
        int r = port_hub(port, &hub, &portnum);
        if (r < 0)
                return r;
        /* usb2/2-0:1.0/usb2-port1, 1-4/1-4:1.0/1-4-port1 */
        bool root = startswith(hub, "usb") != NULL;
        _cleanup_free_ char *iface = root ? strdup_printf("%s-0:1.0", hub + 3) : strdup_printf("%s:1.0", hub);
        _cleanup_free_ char *pdname = strdup_printf("%s-port%u", hub, portnum);
        if (!iface || !pdname)
                return -ENOMEM;
        link = path_join(sysfs_root(), "bus/usb/devices", hub, iface, pdname, "peer", NULL);
        if (!link)
                return -ENOMEM;
        r = readlink_basename(link, &pd);
        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (r < 0)
                return r;
        r = parse_usb_port_dir(pd, &name);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(name);
        return 0;
}

bool usb_port_device(const char *port, unsigned *ret_bus, unsigned *ret_devnum) {
        _cleanup_free_ char *p1 = path_join(sysfs_root(), "bus/usb/devices", port, "busnum", NULL);
        _cleanup_free_ char *p2 = path_join(sysfs_root(), "bus/usb/devices", port, "devnum", NULL);
        _cleanup_free_ char *b = NULL, *d = NULL;
        unsigned bus, devnum;
        if (!p1 || !p2 || read_one_line_file(p1, &b) < 0 || read_one_line_file(p2, &d) < 0 ||
            safe_atou(b, 10, &bus) < 0 || safe_atou(d, 10, &devnum) < 0)
                return false;
        if (ret_bus)
                *ret_bus = bus;
        if (ret_devnum)
                *ret_devnum = devnum;
        return true;
}

int usb_device_give_back(const char *sysname, char **reterr) {
        _cleanup_free_ char *dir = path_join(sysfs_root(), "bus/usb/devices", sysname, NULL);
        _cleanup_free_ char *cfgpath = dir ? path_join(dir, "bConfigurationValue", NULL) : NULL;
        _cleanup_free_ char *cfg = NULL;
        int r;
        if (!cfgpath)
                return -ENOMEM;
        r = read_one_line_file(cfgpath, &cfg);
        if (r == -ENOENT)
                return 0; /* gone */
        if (r < 0)
                return error_set(reterr, r, "%s: %s", cfgpath, strerror(-r));
        if (isempty(cfg) || streq(cfg, "0")) {
                /* unconfigured (it came while the port was ours): let the kernel choose its
                 * configuration, as it does for a new device, by binding the generic driver again */
                _cleanup_free_ char *unbind = path_join(sysfs_root(), "bus/usb/drivers/usb/unbind", NULL);
                _cleanup_free_ char *bind = path_join(sysfs_root(), "bus/usb/drivers/usb/bind", NULL);
                if (!unbind || !bind)
                        return -ENOMEM;
                (void) write_string_file(unbind, sysname); /* -ENODEV: it was not bound */
                r = write_string_file(bind, sysname);
                if (r < 0 && r != -EBUSY)
                        return error_set(reterr, r, "binding %s to the generic USB driver: %s", sysname,
                                         strerror(-r));
                return 1;
        }
        /* configured (a VM had it): probe the host's drivers for its interfaces that have none */
        _cleanup_closedir_ DIR *d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : error_set(reterr, -errno, "%s: %s", dir, strerror(errno));
        _cleanup_free_ char *probe = path_join(sysfs_root(), "bus/usb/drivers_probe", NULL);
        if (!probe)
                return -ENOMEM;
        size_t l = strlen(sysname);
        bool did = false;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, sysname, l) != 0 || de->d_name[l] != ':')
                        continue;
                _cleanup_free_ char *drv = path_join(dir, de->d_name, "driver", NULL);
                if (!drv)
                        return -ENOMEM;
                if (faccessat(AT_FDCWD, drv, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                        continue; /* has its driver (usbfs: a VM still holds it) */
                r = write_string_file(probe, de->d_name);
                if (r < 0 && r != -ENODEV)
                        return error_set(reterr, r, "probing drivers for %s: %s", de->d_name, strerror(-r));
                did = true;
        }
        return did;
}

bool usb_node_in_use(const char *node) {
        _cleanup_closedir_ DIR *pd = opendir(proc_root());
        struct dirent *de;
        if (!pd)
                return false;
        while ((de = readdir(pd))) {
                unsigned pid;
                if (safe_atou(de->d_name, 10, &pid) < 0)
                        continue;
                _cleanup_free_ char *fddir = path_join(proc_root(), de->d_name, "fd", NULL);
                if (!fddir)
                        return true; /* cannot tell: say yes, the caller then leaves it alone */
                _cleanup_closedir_ DIR *fd = opendir(fddir);
                if (!fd)
                        continue;
                struct dirent *fe;
                while ((fe = readdir(fd))) {
                        if (fe->d_name[0] == '.')
                                continue;
                        char buf[PATH_MAX];
                        ssize_t n = readlinkat(dirfd(fd), fe->d_name, buf, sizeof buf - 1);
                        if (n <= 0)
                                continue;
                        buf[n] = 0;
                        if (streq(buf, node))
                                return true;
                }
        }
        return false;
}

int usb_port_give_back_unless_held(const char *port, char **reterr) {
        unsigned bus, devnum;
        if (!usb_port_device(port, &bus, &devnum))
                return 0;
        _cleanup_free_ char *node = usb_node_path(bus, devnum);
        if (!node)
                return -ENOMEM;
        if (usb_node_in_use(node))
                return -EBUSY;
        return usb_device_give_back(port, reterr);
}

/* ---- the worker thread ------------------------------------------------------------------- */
struct usb_port_worker {
        pthread_t thread;
        bool started, stop;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        struct usb_port_job *todo, **todo_tail;
        struct usb_port_job *done, **done_tail;
        int efd;
};

struct usb_port_job *usb_port_job_free(struct usb_port_job *j) {
        if (!j)
                return NULL;
        if (j->op == USB_PORT_RELEASE || (j->op == USB_PORT_CLAIM && j->r >= 0))
                safe_close(j->fd);
        free(j->name);
        free(j->err);
        free(j);
        return NULL;
}

static void job_list_free(struct usb_port_job *j) {
        while (j) {
                struct usb_port_job *n = j->next;
                usb_port_job_free(j);
                j = n;
        }
}

static void job_run(struct usb_port_job *j) {
        switch (j->op) {
        case USB_PORT_CLAIM:
                j->r = usb_port_claim(j->name, &j->err);
                j->fd = j->r;
                break;
        case USB_PORT_RELEASE:
                j->fd = safe_close(j->fd);
                j->r = 0;
                break;
        case USB_PORT_GIVE_BACK:
                j->r = j->unless_held ? usb_port_give_back_unless_held(j->name, &j->err)
                                      : usb_device_give_back(j->name, &j->err);
                break;
        }
}

static void *worker_main(void *arg) {
        struct usb_port_worker *w = arg;
        pthread_mutex_lock(&w->mu);
        for (;;) {
                while (!w->todo && !w->stop)
                        pthread_cond_wait(&w->cv, &w->mu);
                if (w->stop)
                        break;
                struct usb_port_job *j = w->todo;
                w->todo = j->next;
                if (!w->todo)
                        w->todo_tail = &w->todo;
                j->next = NULL;
                pthread_mutex_unlock(&w->mu);
                job_run(j);
                pthread_mutex_lock(&w->mu);
                *w->done_tail = j;
                w->done_tail = &j->next;
                uint64_t one = 1;
                (void) !write(w->efd, &one, sizeof one);
        }
        pthread_mutex_unlock(&w->mu);
        return NULL;
}

int usb_port_worker_new(struct usb_port_worker **ret) {
        struct usb_port_worker *w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0) {
                int r = -errno;
                free(w);
                return r;
        }
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        w->todo_tail = &w->todo;
        w->done_tail = &w->done;
        *ret = w;
        return 0;
}

struct usb_port_worker *usb_port_worker_free(struct usb_port_worker *w) {
        if (!w)
                return NULL;
        if (w->started) {
                pthread_mutex_lock(&w->mu);
                w->stop = true;
                pthread_cond_signal(&w->cv);
                pthread_mutex_unlock(&w->mu);
                pthread_join(w->thread, NULL);
        }
        job_list_free(w->todo);
        job_list_free(w->done);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        safe_close(w->efd);
        free(w);
        return NULL;
}

int usb_port_worker_fd(const struct usb_port_worker *w) {
        return w->efd;
}

int usb_port_worker_submit(struct usb_port_worker *w, enum usb_port_op op, const char *name, int fd,
                           bool unless_held) {
        struct usb_port_job *j = calloc(1, sizeof *j);
        if (!j) {
                if (op == USB_PORT_RELEASE)
                        safe_close(fd);
                return -ENOMEM;
        }
        j->op = op;
        j->fd = op == USB_PORT_RELEASE ? fd : -1;
        j->r = -1;
        j->unless_held = unless_held;
        j->name = name ? strdup(name) : NULL;
        if (name && !j->name) {
                usb_port_job_free(j);
                return -ENOMEM;
        }
        pthread_mutex_lock(&w->mu);
        if (!w->started) {
                sigset_t all, old;
                sigfillset(&all);
                /* the thread takes no signals: the loop's signalfd gets them */
                pthread_sigmask(SIG_BLOCK, &all, &old);
                int r = pthread_create(&w->thread, NULL, worker_main, w);
                pthread_sigmask(SIG_SETMASK, &old, NULL);
                if (r != 0) {
                        pthread_mutex_unlock(&w->mu);
                        usb_port_job_free(j);
                        return -r;
                }
                w->started = true;
        }
        *w->todo_tail = j;
        w->todo_tail = &j->next;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        return 0;
}

struct usb_port_job *usb_port_worker_take_done(struct usb_port_worker *w) {
        uint64_t v;
        (void) !read(w->efd, &v, sizeof v);
        pthread_mutex_lock(&w->mu);
        struct usb_port_job *j = w->done;
        w->done = NULL;
        w->done_tail = &w->done;
        pthread_mutex_unlock(&w->mu);
        return j;
}
