/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* USB/IP export (dongle host) and import (VM host); see usbip.h and docs/usbip.md. */
#include "usbip.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "error.h"
#include "hostdev-xml.h"
#include "registry.h"
#include "util.h"

/* ---- buffers ------------------------------------------------------------------------------ */
static uint16_t get16(const uint8_t *p) {
        return (uint16_t) ((p[0] << 8) | p[1]);
}
static uint32_t get32(const uint8_t *p) {
        return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}
static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}
static void put32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24);
        p[1] = (uint8_t) (v >> 16);
        p[2] = (uint8_t) (v >> 8);
        p[3] = (uint8_t) v;
}

const char *usbip_status_to_string(uint32_t status) {
        switch (status) {
        case USBIP_ST_OK:
                return "ok";
        case USBIP_ST_NA:
                return "not available";
        case USBIP_ST_DEV_BUSY:
                return "device busy (imported by another host)";
        case USBIP_ST_DEV_ERR:
                return "device in error state";
        case USBIP_ST_NODEV:
                return "no such device exported";
        case USBIP_ST_ERROR:
                return "request failed";
        default:
                return "unknown status";
        }
}

bool usbip_busid_valid(const char *s) {
        unsigned levels = 0;
        const char *p = s;

        if (!s || strlen(s) >= USBIP_BUSID_SIZE)
                return false;
        /* bus number, '-', then port numbers separated by '.' */
        for (;;) {
                unsigned v = 0;
                size_t nd = 0;
                while (*p >= '0' && *p <= '9') {
                        v = v * 10 + (unsigned) (*p - '0');
                        if (++nd > 3)
                                return false;
                        p++;
                }
                if (nd == 0 || v > 255 || (nd > 1 && p[-(ptrdiff_t) nd] == '0'))
                        return false;
                if (levels == 0 && v == 0)
                        return false;
                if (levels > 0 && v == 0)
                        return false;
                levels++;
                if (*p == 0)
                        return levels >= 2 && levels <= 8;
                if (levels == 1 ? *p != '-' : *p != '.')
                        return false;
                p++;
        }
}

void usbip_encode_op_common(uint16_t code, uint32_t status, uint8_t buf[static USBIP_OP_COMMON_SIZE]) {
        put16(buf, USBIP_VERSION);
        put16(buf + 2, code);
        put32(buf + 4, status);
}

int usbip_encode_import_request(const char *busid, uint8_t buf[static USBIP_IMPORT_REQ_SIZE]) {
        if (!usbip_busid_valid(busid))
                return -EINVAL;
        usbip_encode_op_common(USBIP_OP_REQ_IMPORT, 0, buf);
        memset(buf + USBIP_OP_COMMON_SIZE, 0, USBIP_BUSID_SIZE);
        memcpy(buf + USBIP_OP_COMMON_SIZE, busid, strlen(busid));
        return 0;
}

int usbip_decode_op_common(const uint8_t *buf, size_t len, uint16_t code, uint32_t *ret_status) {
        if (!buf || len < USBIP_OP_COMMON_SIZE)
                return -EBADMSG;
        if (get16(buf) != USBIP_VERSION || get16(buf + 2) != code)
                return -EBADMSG;
        RET_SET(ret_status, get32(buf + 4));
        return 0;
}

/* A fixed-size string field must hold a NUL within it. */
static bool field_string_ok(const uint8_t *p, size_t size) {
        return memchr(p, 0, size) != NULL;
}

int usbip_decode_device(const uint8_t *buf, size_t len, struct usbip_device *ret) {
        struct usbip_device d = { 0 };

        if (!buf || len < USBIP_DEVICE_SIZE)
                return -EBADMSG;
        if (!field_string_ok(buf, USBIP_PATH_SIZE) || !field_string_ok(buf + 256, USBIP_BUSID_SIZE))
                return -EBADMSG;
        memcpy(d.path, buf, USBIP_PATH_SIZE);
        memcpy(d.busid, buf + 256, USBIP_BUSID_SIZE);
        if (!usbip_busid_valid(d.busid))
                return -EBADMSG;
        d.busnum = get32(buf + 288);
        d.devnum = get32(buf + 292);
        d.speed = get32(buf + 296);
        if (d.busnum == 0 || d.busnum > 0xffff || d.devnum == 0 || d.devnum > 0xffff || d.speed > 6)
                return -EBADMSG;
        d.vendor = get16(buf + 300);
        d.product = get16(buf + 302);
        d.bcd_device = get16(buf + 304);
        d.dev_class = buf[306];
        d.dev_subclass = buf[307];
        d.dev_protocol = buf[308];
        d.configuration_value = buf[309];
        d.num_configurations = buf[310];
        d.num_interfaces = buf[311];
        *ret = d;
        return 0;
}

struct usbip_devlist *usbip_devlist_free(struct usbip_devlist *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_devs; i++)
                free(l->devs[i].interfaces);
        free(l->devs);
        free(l);
        return NULL;
}

int usbip_decode_devlist(const uint8_t *buf, size_t len, struct usbip_devlist **ret) {
        _cleanup_(usbip_devlist_freep) struct usbip_devlist *l = NULL;
        uint32_t status, ndev;
        size_t off;
        int r;

        r = usbip_decode_op_common(buf, len, USBIP_OP_REP_DEVLIST, &status);
        if (r < 0)
                return r;
        if (status != USBIP_ST_OK)
                return -EPROTO;
        if (len < USBIP_OP_COMMON_SIZE + 4 || len > USBIP_MAX_DEVLIST_SIZE)
                return -EBADMSG;
        ndev = get32(buf + USBIP_OP_COMMON_SIZE);
        if (ndev > USBIP_MAX_DEVICES)
                return -EBADMSG;
        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        if (ndev > 0 && !(l->devs = calloc(ndev, sizeof(*l->devs))))
                return -ENOMEM;
        off = USBIP_OP_COMMON_SIZE + 4;
        for (uint32_t i = 0; i < ndev; i++) {
                struct usbip_device *d = &l->devs[i];
                r = usbip_decode_device(buf + off, len - off, d);
                if (r < 0)
                        return r;
                l->n_devs++;
                off += USBIP_DEVICE_SIZE;
                if (d->num_interfaces > USBIP_MAX_INTERFACES)
                        return -EBADMSG;
                if (len - off < (size_t) d->num_interfaces * USBIP_INTERFACE_SIZE)
                        return -EBADMSG;
                if (d->num_interfaces > 0) {
                        d->interfaces = calloc(d->num_interfaces, sizeof(*d->interfaces));
                        if (!d->interfaces)
                                return -ENOMEM;
                }
                for (unsigned k = 0; k < d->num_interfaces; k++) {
                        d->interfaces[k].iface_class = buf[off];
                        d->interfaces[k].iface_subclass = buf[off + 1];
                        d->interfaces[k].iface_protocol = buf[off + 2];
                        off += USBIP_INTERFACE_SIZE;
                }
                for (uint32_t k = 0; k < i; k++)
                        if (streq(l->devs[k].busid, d->busid))
                                return -EBADMSG; /* one busid twice: not a sane list */
        }
        if (off != len)
                return -EBADMSG;
        *ret = TAKE_PTR(l);
        return 0;
}

int usbip_decode_import_reply(const uint8_t *buf, size_t len, struct usbip_device *ret) {
        struct usbip_device d;
        uint32_t status;
        int r;

        r = usbip_decode_op_common(buf, len, USBIP_OP_REP_IMPORT, &status);
        if (r < 0)
                return r;
        if (status != USBIP_ST_OK) {
                if (status > 0x7fffffff)
                        return -EBADMSG;
                return (int) status;
        }
        if (len != USBIP_IMPORT_REP_SIZE)
                return -EBADMSG;
        r = usbip_decode_device(buf + USBIP_OP_COMMON_SIZE, len - USBIP_OP_COMMON_SIZE, &d);
        if (r < 0)
                return r;
        if (ret)
                *ret = d;
        return 0;
}

/* ---- vhci status -------------------------------------------------------------------------- */
int vhci_parse_status(const char *text, struct vhci_port **ret, size_t *ret_n) {
        _cleanup_free_ struct vhci_port *ports = NULL;
        size_t n = 0, cap = 0;
        const char *line = text;

        while (line && *line) {
                const char *nl = strchr(line, '\n');
                size_t l = nl ? (size_t) (nl - line) : strlen(line);
                char buf[256], hub[3], busid[64], sock[32];
                struct vhci_port p = { 0 };
                unsigned port, sta, spd;
                unsigned long devid;
                int used = 0;

                if (l >= sizeof buf)
                        return -EBADMSG;
                memcpy(buf, line, l);
                buf[l] = 0;
                line = nl ? nl + 1 : NULL;
                if (l == 0 || startswith(buf, "hub ") || startswith(buf, "prt "))
                        continue; /* header */
                /* the "sockfd" column is the kernel's %16p of the socket (hashed pointer): a token */
                if (sscanf(buf, "%2s %u %u %u %lx %31s %63s%n", hub, &port, &sta, &spd, &devid, sock, busid, &used) !=
                            7 ||
                    (size_t) used != l)
                        return -EBADMSG;
                if (!streq(hub, "hs") && !streq(hub, "ss"))
                        return -EBADMSG;
                if (strlen(busid) >= sizeof p.local_busid || devid > 0xffffffffUL)
                        return -EBADMSG;
                p.ss = streq(hub, "ss");
                p.port = port;
                p.status = sta;
                p.speed = spd;
                p.devid = (uint32_t) devid;
                strcpy(p.local_busid, busid);
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 16;
                        struct vhci_port *np;
                        if (nc > 4096)
                                return -EBADMSG;
                        np = realloc(ports, nc * sizeof(*np));
                        if (!np)
                                return -ENOMEM;
                        ports = np;
                        cap = nc;
                }
                ports[n++] = p;
        }
        *ret = TAKE_PTR(ports);
        *ret_n = n;
        return 0;
}

#define VHCI_ST_NULL 4
#define VHCI_DIR "devices/platform/vhci_hcd.0"

static int vhci_read_status(struct vhci_port **ret, size_t *ret_n, char **reterr) {
        _cleanup_free_ char *path = path_join(sysfs_root(), VHCI_DIR, "status", NULL), *text = NULL;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_full_file(path, 1 << 20, &text, NULL);
        if (r == -ENOENT)
                return error_set(reterr, r, "%s is missing: load the vhci-hcd kernel module (modprobe vhci-hcd)",
                                 path);
        if (r < 0)
                return error_set(reterr, r, "reading %s: %s", path, strerror(-r));
        r = vhci_parse_status(text, ret, ret_n);
        if (r < 0)
                return error_set(reterr, r, "%s: unexpected content", path);
        return 0;
}

static int vhci_write(const char *file, const char *s, char **reterr) {
        _cleanup_free_ char *path = path_join(sysfs_root(), VHCI_DIR, file, NULL);
        int r;
        if (!path)
                return -ENOMEM;
        r = write_string_file(path, s);
        if (r < 0)
                return error_set(reterr, r, "writing '%s' to %s: %s", s, path, strerror(-r));
        return 0;
}

static void sleep_ms(unsigned ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

/* Detach and wait (bounded) until the port is free again, so it can be reused at once. */
static int vhci_detach_port(unsigned port, char **reterr) {
        char buf[16];
        int r;
        snprintf(buf, sizeof buf, "%u", port);
        r = vhci_write("detach", buf, reterr);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < 100; i++) {
                _cleanup_free_ struct vhci_port *ports = NULL;
                size_t n = 0;
                bool busy = false;
                if (vhci_read_status(&ports, &n, NULL) < 0)
                        break;
                for (size_t k = 0; k < n; k++)
                        if (ports[k].port == port && ports[k].status != VHCI_ST_NULL)
                                busy = true;
                if (!busy)
                        return 0;
                sleep_ms(50);
        }
        return 0;
}

/* ---- import records ----------------------------------------------------------------------- */
void usbip_import_done(struct usbip_import *i) {
        free(i->host);
        free(i->busid);
        free(i->local_busid);
        *i = (struct usbip_import){ 0 };
}

static char *record_path(unsigned vhci_port) {
        char name[32];
        snprintf(name, sizeof name, "port%u", vhci_port);
        return path_join(state_dir(), "usbip", name, NULL);
}

static int record_write(const struct usbip_import *im) {
        _cleanup_free_ char *dir = path_join(state_dir(), "usbip", NULL), *path = record_path(im->vhci_port),
                            *text = NULL;
        int r;
        if (!dir || !path)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return r;
        text = strdup_printf("%s %u %s %s\n", im->host, im->tcp_port, im->busid,
                             im->local_busid ? im->local_busid : "-");
        if (!text)
                return -ENOMEM;
        return write_file_atomic(path, text, strlen(text), 0600);
}

static void record_remove(unsigned vhci_port) {
        _cleanup_free_ char *path = record_path(vhci_port);
        if (path)
                (void) unlink(path);
}

static int record_read(unsigned vhci_port, struct usbip_import *ret) {
        _cleanup_free_ char *path = record_path(vhci_port), *text = NULL;
        char host[256], busid[64], local[64];
        unsigned tport;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_one_line_file(path, &text);
        if (r < 0)
                return r;
        if (sscanf(text, "%255s %u %63s %63s", host, &tport, busid, local) != 4 || !usbip_busid_valid(busid))
                return -EBADMSG;
        struct usbip_import im = { .vhci_port = vhci_port, .tcp_port = tport };
        im.host = strdup(host);
        im.busid = strdup(busid);
        im.local_busid = streq(local, "-") ? NULL : strdup(local);
        if (!im.host || !im.busid || (!streq(local, "-") && !im.local_busid)) {
                usbip_import_done(&im);
                return -ENOMEM;
        }
        *ret = im;
        return 0;
}

int usbip_import_find_local(const char *local_busid, struct usbip_import *ret) {
        _cleanup_free_ struct vhci_port *ports = NULL;
        size_t n = 0;
        int r;

        if (!local_busid)
                return -ENOENT;
        r = vhci_read_status(&ports, &n, NULL);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                struct usbip_import im;
                if (ports[i].status == VHCI_ST_NULL || !streq(ports[i].local_busid, local_busid))
                        continue;
                r = record_read(ports[i].port, &im);
                if (r < 0)
                        return r == -ENOMEM ? r : -ENOENT;
                if (!streq_ptr(im.local_busid, local_busid)) {
                        usbip_import_done(&im); /* a stale record: the port was reused */
                        return -ENOENT;
                }
                *ret = im;
                return 0;
        }
        return -ENOENT;
}

static char *dev_sysname(const struct nodedev *dev) {
        const char *b = strrchr(dev->sysfs_path, '/');
        return strdup(b ? b + 1 : dev->sysfs_path);
}

bool usbip_device_is_import(const struct nodedev *dev, const char *host, unsigned tcp_port) {
        struct usbip_import im;
        bool ok;

        if (dev->cap != NODEDEV_CAP_USB_DEVICE || !streq_ptr(dev->u.usb.hcd_driver, "vhci_hcd"))
                return false;
        _cleanup_free_ char *name = dev_sysname(dev);
        if (!name || usbip_import_find_local(name, &im) < 0)
                return false;
        ok = !host || (streq(im.host, host) && im.tcp_port == tcp_port);
        usbip_import_done(&im);
        return ok;
}

bool usbip_import_matches(const struct usb_source *s, const struct nodedev *dev) {
        const struct usb_device_info *u = &dev->u.usb;
        struct usbip_import im;
        bool ok = true;

        if (!s->remote_host || dev->cap != NODEDEV_CAP_USB_DEVICE || !streq_ptr(u->hcd_driver, "vhci_hcd"))
                return false;
        if ((s->has_vendor && u->vendor_id != s->vendor) || (s->has_product && u->product_id != s->product) ||
            (s->serial && !streq_ptr(u->serial, s->serial)))
                return false;
        _cleanup_free_ char *name = dev_sysname(dev);
        if (!name || usbip_import_find_local(name, &im) < 0)
                return false;
        if (!streq(im.host, s->remote_host) || im.tcp_port != (s->remote_port ? s->remote_port : USBIP_DEFAULT_PORT))
                ok = false;
        if (ok && s->has_bus && s->port) {
                _cleanup_free_ char *want = strdup_printf("%u-%s", s->bus, s->port);
                ok = want && streq(want, im.busid);
        } else if (ok && s->has_bus) {
                unsigned b;
                ok = sscanf(im.busid, "%u-", &b) == 1 && b == s->bus;
        }
        usbip_import_done(&im);
        return ok;
}

char *usbip_describe_device(const struct nodedev *dev, struct usbip_import *ret_import) {
        struct usbip_import im;
        char *s;

        if (dev->cap != NODEDEV_CAP_USB_DEVICE)
                return NULL;
        if (dev->u.usb.usbip_exported)
                return strdup("exported");
        if (!streq_ptr(dev->u.usb.hcd_driver, "vhci_hcd"))
                return NULL;
        _cleanup_free_ char *name = dev_sysname(dev);
        if (!name || usbip_import_find_local(name, &im) < 0)
                return NULL;
        s = strdup_printf("imported from %s:%u bus id %s", im.host, im.tcp_port, im.busid);
        if (ret_import)
                *ret_import = im;
        else
                usbip_import_done(&im);
        return s;
}

/* ---- dongle host -------------------------------------------------------------------------- */
static int usb_drv_write(const char *driver, const char *file, const char *s, char **reterr) {
        _cleanup_free_ char *path = driver ? path_join(sysfs_root(), "bus/usb/drivers", driver, file, NULL)
                                           : path_join(sysfs_root(), "bus/usb", file, NULL);
        int r;
        if (!path)
                return -ENOMEM;
        r = write_string_file(path, s);
        if (r == -ENOENT && streq_ptr(driver, "usbip-host"))
                return error_set(reterr, r, "%s is missing: load the usbip-host kernel module (modprobe usbip-host)",
                                 path);
        if (r < 0)
                return error_set(reterr, r, "writing '%s' to %s: %s", s, path, strerror(-r));
        return 0;
}

int usbip_export_device(const struct nodedev *dev, char **reterr) {
        _cleanup_free_ char *busid = dev_sysname(dev), *add = NULL;
        int r;

        if (!busid)
                return -ENOMEM;
        if (dev->cap != NODEDEV_CAP_USB_DEVICE || dev->u.usb.is_hub || !usbip_busid_valid(busid))
                return error_set(reterr, -EINVAL, "%s cannot be exported over USB/IP (not a USB device or a hub)",
                                 dev->name);
        if (streq_ptr(dev->u.usb.hcd_driver, "vhci_hcd"))
                return error_set(reterr, -EINVAL, "%s is itself imported over USB/IP (vhci_hcd): not exported again",
                                 dev->name);
        if (streq_ptr(dev->driver, "usbip-host"))
                return 0;
        if (!(add = strdup_printf("add %s", busid)))
                return -ENOMEM;
        r = usb_drv_write("usbip-host", "match_busid", add, reterr);
        if (r < 0)
                return r;
        if (dev->driver) {
                r = usb_drv_write(dev->driver, "unbind", busid, reterr);
                if (r < 0)
                        return r;
        }
        r = usb_drv_write("usbip-host", "bind", busid, NULL);
        if (r >= 0)
                return 0;
        if (r != -EBUSY && r != -ENODEV)
                return usb_drv_write("usbip-host", "bind", busid, reterr); /* again, for the message */
        /* a freshly plugged device: the kernel's own probe may have bound it meanwhile */
        _cleanup_free_ char *link = path_join(dev->sysfs_path, "driver", NULL), *drv = NULL;
        if (link && readlink_basename(link, &drv) >= 0) {
                if (streq(drv, "usbip-host"))
                        return 0;
                (void) usb_drv_write(drv, "unbind", busid, NULL);
        }
        return usb_drv_write("usbip-host", "bind", busid, reterr);
}

int usbip_unexport_device(const struct nodedev *dev, char **reterr) {
        _cleanup_free_ char *busid = dev_sysname(dev), *del = NULL;
        int r;

        if (!busid)
                return -ENOMEM;
        if (!(del = strdup_printf("del %s", busid)))
                return -ENOMEM;
        if (streq_ptr(dev->driver, "usbip-host")) {
                r = usb_drv_write("usbip-host", "unbind", busid, reterr);
                if (r < 0)
                        return r;
        }
        r = usb_drv_write("usbip-host", "match_busid", del, NULL);
        if (r < 0 && r != -ENODEV && r != -ENOENT && r != -EINVAL)
                return error_set(reterr, r, "removing %s from usbip-host's match_busid: %s", busid, strerror(-r));
        return usb_drv_write(NULL, "drivers_probe", busid, reterr);
}

/* ---- sockets ------------------------------------------------------------------------------- */
#define USBIP_TIMEOUT_SEC 5

static int set_timeouts(int fd, unsigned sec) {
        struct timeval tv = { .tv_sec = sec };
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
                return -errno;
        return 0;
}

static int usbip_connect(const char *host, unsigned port, int *ret_fd, char **reterr) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV }, *res = NULL;
        char service[16];
        int r, err = ECONNREFUSED;

        snprintf(service, sizeof service, "%u", port);
        r = getaddrinfo(host, service, &hints, &res);
        if (r != 0)
                return error_set(reterr, -EHOSTUNREACH, "USB/IP host %s: %s", host, gai_strerror(r));
        for (struct addrinfo *a = res; a; a = a->ai_next) {
                int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
                if (fd < 0) {
                        err = errno;
                        continue;
                }
                int one = 1;
                (void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
                if (set_timeouts(fd, USBIP_TIMEOUT_SEC) < 0 || connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
                        err = errno == EINPROGRESS || errno == EAGAIN ? ETIMEDOUT : errno;
                        close(fd);
                        continue;
                }
                freeaddrinfo(res);
                *ret_fd = fd;
                return 0;
        }
        freeaddrinfo(res);
        return error_set(reterr, -err, "cannot connect to usbipd on %s port %u: %s", host, port, strerror(err));
}

static int write_all(int fd, const uint8_t *buf, size_t len) {
        while (len > 0) {
                ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? -ETIMEDOUT : -errno;
                }
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Read exactly len bytes (-EPIPE on early EOF). */
static int read_exact(int fd, uint8_t *buf, size_t len) {
        while (len > 0) {
                ssize_t n = recv(fd, buf, len, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return errno == EAGAIN ? -ETIMEDOUT : -errno;
                }
                if (n == 0)
                        return -EPIPE;
                buf += n;
                len -= (size_t) n;
        }
        return 0;
}

int usbip_remote_devlist(const char *host, unsigned port, struct usbip_devlist **ret, char **reterr) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *buf = NULL;
        uint8_t req[USBIP_OP_COMMON_SIZE];
        size_t len = 0, cap = 4096;
        int r;

        r = usbip_connect(host, port, &fd, reterr);
        if (r < 0)
                return r;
        usbip_encode_op_common(USBIP_OP_REQ_DEVLIST, 0, req);
        r = write_all(fd, req, sizeof req);
        if (r < 0)
                return error_set(reterr, r, "usbipd on %s port %u: sending the device list request: %s", host, port,
                                 strerror(-r));
        /* usbipd closes the connection after the reply: read to EOF, bounded */
        buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (len == cap) {
                        if (cap >= USBIP_MAX_DEVLIST_SIZE)
                                return error_set(reterr, -EBADMSG, "usbipd on %s port %u: device list too long",
                                                 host, port);
                        size_t nc = cap * 2 > USBIP_MAX_DEVLIST_SIZE ? USBIP_MAX_DEVLIST_SIZE : cap * 2;
                        uint8_t *nb = realloc(buf, nc);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        cap = nc;
                }
                ssize_t n = recv(fd, buf + len, cap - len, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return error_set(reterr, errno == EAGAIN ? -ETIMEDOUT : -errno,
                                         "usbipd on %s port %u: reading the device list: %s", host, port,
                                         strerror(errno == EAGAIN ? ETIMEDOUT : errno));
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        r = usbip_decode_devlist(buf, len, ret);
        if (r == -EPROTO)
                return error_set(reterr, r, "usbipd on %s port %u refused to list its devices", host, port);
        if (r < 0)
                return error_set(reterr, r, "usbipd on %s port %u sent a malformed device list", host, port);
        return 0;
}

/* OP_REQ_IMPORT busid: >0 usbipd status (refused), 0 with *ret_fd connected and *ret_dev. */
static int usbip_request_import(const char *host, unsigned port, const char *busid, int *ret_fd,
                                struct usbip_device *ret_dev, char **reterr) {
        _cleanup_close_ int fd = -1;
        uint8_t req[USBIP_IMPORT_REQ_SIZE], rep[USBIP_IMPORT_REP_SIZE];
        int r;

        r = usbip_encode_import_request(busid, req);
        if (r < 0)
                return error_set(reterr, r, "invalid bus id '%s'", busid);
        r = usbip_connect(host, port, &fd, reterr);
        if (r < 0)
                return r;
        r = write_all(fd, req, sizeof req);
        if (r >= 0)
                r = read_exact(fd, rep, USBIP_OP_COMMON_SIZE);
        if (r < 0)
                return error_set(reterr, r, "usbipd on %s port %u: importing %s: %s", host, port, busid,
                                 strerror(-r));
        uint32_t st;
        r = usbip_decode_op_common(rep, USBIP_OP_COMMON_SIZE, USBIP_OP_REP_IMPORT, &st);
        if (r < 0)
                return error_set(reterr, r, "usbipd on %s port %u: malformed import reply", host, port);
        if (st != USBIP_ST_OK)
                return st > 0x7fffffff ? error_set(reterr, -EBADMSG, "usbipd on %s port %u: bad status", host, port)
                                       : (int) st;
        r = read_exact(fd, rep + USBIP_OP_COMMON_SIZE, USBIP_DEVICE_SIZE);
        if (r < 0)
                return error_set(reterr, r, "usbipd on %s port %u: importing %s: %s", host, port, busid,
                                 strerror(-r));
        r = usbip_decode_import_reply(rep, sizeof rep, ret_dev);
        if (r != 0)
                return error_set(reterr, -EBADMSG, "usbipd on %s port %u: malformed import reply", host, port);
        if (!streq(ret_dev->busid, busid))
                return error_set(reterr, -EBADMSG, "usbipd on %s port %u answered the import of %s with %s", host,
                                 port, busid, ret_dev->busid);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

#define IMPORT_SETTLE_MS 30000

/* Attach a connected, imported socket to a free vhci port; wait until the local device shows. */
static int vhci_attach(const char *host, unsigned tport, const struct usbip_device *d, int fd,
                       struct usbip_import *ret, char **reterr) {
        _cleanup_free_ struct vhci_port *ports = NULL;
        size_t n = 0;
        bool want_ss = d->speed >= 5;
        int r, port = -1;
        char line[64];

        r = vhci_read_status(&ports, &n, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && port < 0; i++)
                if (ports[i].status == VHCI_ST_NULL && ports[i].ss == want_ss)
                        port = (int) ports[i].port;
        if (port < 0)
                return error_set(reterr, -EBUSY, "no free %s port on vhci_hcd for %s from %s",
                                 want_ss ? "SuperSpeed" : "high-speed", d->busid, host);
        /* the kernel owns the socket from now: no timeouts on its reads */
        r = set_timeouts(fd, 0);
        if (r < 0)
                return error_set(reterr, r, "socket options: %s", strerror(-r));
        snprintf(line, sizeof line, "%d %d %u %u", port, fd, (d->busnum << 16) | d->devnum, d->speed);
        r = vhci_write("attach", line, reterr);
        if (r < 0)
                return r;

        struct usbip_import im = { .vhci_port = (unsigned) port, .tcp_port = tport };
        im.host = strdup(host);
        im.busid = strdup(d->busid);
        if (!im.host || !im.busid) {
                usbip_import_done(&im);
                (void) vhci_detach_port((unsigned) port, NULL);
                return -ENOMEM;
        }
        r = record_write(&im);
        if (r < 0) {
                usbip_import_done(&im);
                (void) vhci_detach_port((unsigned) port, NULL);
                return error_set(reterr, r, "recording the import in %s: %s", state_dir(), strerror(-r));
        }
        /* the device enumerates on the vhci root hub: wait for its sysfs directory */
        for (uint64_t start = now_usec(); now_usec() - start < (uint64_t) IMPORT_SETTLE_MS * 1000;) {
                _cleanup_free_ struct vhci_port *p2 = NULL;
                size_t n2 = 0;
                sleep_ms(100);
                if (vhci_read_status(&p2, &n2, NULL) < 0)
                        continue;
                for (size_t i = 0; i < n2; i++) {
                        if (p2[i].port != (unsigned) port)
                                continue;
                        if (p2[i].status == VHCI_ST_NULL) {
                                record_remove((unsigned) port);
                                usbip_import_done(&im);
                                return error_set(reterr, -EIO, "the import of %s from %s ended at once", d->busid,
                                                 host);
                        }
                        if (!streq(p2[i].local_busid, "0-0")) {
                                _cleanup_free_ char *vid = path_join(sysfs_root(), "bus/usb/devices",
                                                                     p2[i].local_busid, "idVendor", NULL);
                                if (!vid)
                                        break;
                                if (access(vid, F_OK) < 0)
                                        break;
                                im.local_busid = strdup(p2[i].local_busid);
                                if (!im.local_busid || record_write(&im) < 0) {
                                        (void) vhci_detach_port((unsigned) port, NULL);
                                        record_remove((unsigned) port);
                                        usbip_import_done(&im);
                                        return -ENOMEM;
                                }
                                *ret = im;
                                return 0;
                        }
                }
        }
        (void) vhci_detach_port((unsigned) port, NULL);
        record_remove((unsigned) port);
        usbip_import_done(&im);
        return error_set(reterr, -ETIMEDOUT, "the device %s imported from %s did not appear under vhci_hcd",
                         d->busid, host);
}

static char *local_attr(const char *local_busid, const char *attr) {
        _cleanup_free_ char *p = path_join(sysfs_root(), "bus/usb/devices", local_busid, attr, NULL);
        char *v = NULL;
        if (!p || read_one_line_file(p, &v) < 0)
                return NULL;
        return v;
}

static bool devlist_entry_matches(const struct usb_source *s, const struct usbip_device *d) {
        if (s->has_vendor && d->vendor != s->vendor)
                return false;
        if (s->has_product && d->product != s->product)
                return false;
        if (s->has_bus && s->port) {
                char want[USBIP_BUSID_SIZE + 16];
                snprintf(want, sizeof want, "%u-%s", s->bus, s->port);
                if (!streq(want, d->busid))
                        return false;
        } else if (s->has_bus && d->busnum != s->bus)
                return false;
        if (s->has_device && d->devnum != s->device)
                return false;
        if (d->dev_class == 9)
                return false; /* hubs are never for guests */
        return true;
}

/* Does an existing import (record im) satisfy s? */
static bool import_matches(const struct usb_source *s, const struct usbip_import *im) {
        _cleanup_free_ char *vid = NULL, *pid = NULL, *ser = NULL;
        unsigned v, p;

        if (!im->local_busid)
                return false;
        vid = local_attr(im->local_busid, "idVendor");
        pid = local_attr(im->local_busid, "idProduct");
        ser = local_attr(im->local_busid, "serial");
        if (!vid || !pid || safe_atou(vid, 16, &v) < 0 || safe_atou(pid, 16, &p) < 0)
                return false;
        if ((s->has_vendor && v != s->vendor) || (s->has_product && p != s->product))
                return false;
        if (s->serial && !streq_ptr(ser, s->serial))
                return false;
        if (s->has_bus && s->port) {
                _cleanup_free_ char *want = strdup_printf("%u-%s", s->bus, s->port);
                if (!want || !streq(want, im->busid))
                        return false;
        }
        return true;
}

static char *source_desc(const struct usb_source *s) {
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
        if (s->has_vendor || s->has_product)
                strbuf_appendf(&sb, "%04x:%04x", s->vendor, s->product);
        if (s->serial)
                strbuf_appendf(&sb, "%sserial '%s'", sb.len ? " " : "", s->serial);
        if (s->has_bus && s->port)
                strbuf_appendf(&sb, "%sport %u-%s", sb.len ? " " : "", s->bus, s->port);
        else if (s->has_bus)
                strbuf_appendf(&sb, "%sbus %u", sb.len ? " " : "", s->bus);
        if (s->has_device)
                strbuf_appendf(&sb, "%sdevice %u", sb.len ? " " : "", s->device);
        if (!sb.len)
                strbuf_append(&sb, "any device");
        return strbuf_steal(&sb);
}

int usbip_import_source(const struct usb_source *s, char **reterr) {
        _cleanup_(usbip_devlist_freep) struct usbip_devlist *l = NULL;
        _cleanup_free_ struct vhci_port *ports = NULL;
        _cleanup_free_ char *desc = source_desc(s);
        _cleanup_strv_free_ char **ours = NULL, **busy = NULL;
        _cleanup_free_ const struct usbip_device **cands = NULL;
        const char *host = s->remote_host;
        unsigned tport = s->remote_port ? s->remote_port : USBIP_DEFAULT_PORT;
        size_t n = 0, nc = 0;
        int r;

        if (!host)
                return error_set(reterr, -EINVAL, "no <remote host=> in the USB source");
        if (!desc)
                return -ENOMEM;
        /* 1. an import from that host that already matches */
        r = vhci_read_status(&ports, &n, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                struct usbip_import im;
                bool match;
                if (ports[i].status == VHCI_ST_NULL)
                        continue;
                if (record_read(ports[i].port, &im) < 0)
                        continue;
                if (!im.local_busid || !streq(im.local_busid, ports[i].local_busid) || !streq(im.host, host) ||
                    im.tcp_port != tport) {
                        usbip_import_done(&im);
                        continue;
                }
                match = import_matches(s, &im);
                r = strv_extend(&ours, im.busid);
                usbip_import_done(&im);
                if (r < 0)
                        return r;
                if (match)
                        return 0;
        }
        /* 2. what the host exports */
        r = usbip_remote_devlist(host, tport, &l, reterr);
        if (r < 0)
                return r;
        cands = calloc(l->n_devs + 1, sizeof(*cands));
        if (!cands)
                return -ENOMEM;
        for (size_t i = 0; i < l->n_devs; i++)
                if (devlist_entry_matches(s, &l->devs[i]) && !strv_contains(ours, l->devs[i].busid))
                        cands[nc++] = &l->devs[i];
        if (nc == 0) {
                _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
                strbuf_appendf(&sb, "no device exported by %s port %u matches %s", host, tport, desc);
                for (size_t i = 0; i < l->n_devs; i++)
                        strbuf_appendf(&sb, "\n  exported there: %s (%04x:%04x)%s", l->devs[i].busid,
                                       l->devs[i].vendor, l->devs[i].product,
                                       strv_contains(ours, l->devs[i].busid) ? ", imported here" : "");
                if (l->n_devs == 0)
                        strbuf_append(&sb, "\n  it exports nothing (run 'hostdev export' there)");
                return error_set(reterr, -ENODEV, "%s", strempty(sb.buf));
        }
        if (nc > 1 && !s->serial) {
                _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
                strbuf_appendf(&sb, "%s matches %zu devices exported by %s port %u; select one by <serial> or "
                                    "<address bus= port=/>:", desc, nc, host, tport);
                for (size_t i = 0; i < nc; i++)
                        strbuf_appendf(&sb, "\n  %s (%04x:%04x)", cands[i]->busid, cands[i]->vendor,
                                       cands[i]->product);
                return error_set(reterr, -ENOTUNIQ, "%s", strempty(sb.buf));
        }
        /* 3. import candidates; with a serial, check it on the imported device */
        for (size_t i = 0; i < nc; i++) {
                _cleanup_close_ int fd = -1;
                _cleanup_free_ char *err = NULL, *ser = NULL;
                struct usbip_device d;
                struct usbip_import im;

                r = usbip_request_import(host, tport, cands[i]->busid, &fd, &d, &err);
                if (r < 0)
                        return error_set(reterr, r, "%s", strna(err));
                if (r > 0) {
                        _cleanup_free_ char *why = strdup_printf("%s: %s", cands[i]->busid, usbip_status_to_string((uint32_t) r));
                        if (!why || strv_push(&busy, TAKE_PTR(why)) < 0)
                                return -ENOMEM;
                        continue;
                }
                r = vhci_attach(host, tport, &d, fd, &im, &err);
                if (r < 0)
                        return error_set(reterr, r, "%s", strna(err));
                if (!s->serial)
                        goto found;
                ser = local_attr(im.local_busid, "serial");
                if (streq_ptr(ser, s->serial))
                        goto found;
                /* not the one: give it back at once */
                r = vhci_detach_port(im.vhci_port, &err);
                record_remove(im.vhci_port);
                usbip_import_done(&im);
                if (r < 0)
                        return error_set(reterr, r, "%s", strna(err));
                continue;
        found:
                usbip_import_done(&im);
                return 1;
        }
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
        if (busy) {
                strbuf_appendf(&sb, "the device %s exported by %s port %u is in use by another importer", desc, host,
                               tport);
                if (s->serial && nc > strv_length(busy))
                        strbuf_append(&sb, " (the devices that could be checked have other serials)");
                for (char **b = busy; *b; b++)
                        strbuf_appendf(&sb, "\n  usbipd refused %s", *b);
                return error_set(reterr, -EBUSY, "%s", strempty(sb.buf));
        }
        strbuf_appendf(&sb, "no device exported by %s port %u matches %s (checked %zu with these ids: other serials)",
                       host, tport, desc, nc);
        return error_set(reterr, -ENODEV, "%s", strempty(sb.buf));
}

int usbip_detach_local(const char *local_busid, char **reterr) {
        struct usbip_import im;
        int r;

        r = usbip_import_find_local(local_busid, &im);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return error_set(reterr, r, "finding the import of %s: %s", local_busid, strerror(-r));
        r = vhci_detach_port(im.vhci_port, reterr);
        if (r >= 0)
                record_remove(im.vhci_port);
        usbip_import_done(&im);
        return r;
}

static bool domain_holds(const struct registry *reg, const char *domain, const struct hostdev_def *def) {
        _cleanup_free_ char *sel = NULL;
        if (!reg || !domain || hostdev_def_format_source(def, &sel) < 0)
                return false;
        for (size_t i = 0; i < registry_n_claims(reg); i++) {
                const struct claim *c = registry_claim_at(reg, i);
                if (streq_ptr(c->domain, domain) && streq_ptr(c->selector_xml, sel))
                        return true;
        }
        return false;
}

int usbip_import_file(const struct hostdev_file *f, const struct registry *reg, const char *domain,
                      char **reterr) {
        int r, n = 0;
        for (size_t i = 0; i < f->n_defs; i++) {
                const struct hostdev_def *def = f->defs[i];
                if (def->type != HOSTDEV_TYPE_USB || !def->source.usb.remote_host || domain_holds(reg, domain, def))
                        continue;
                r = usbip_import_source(&def->source.usb, reterr);
                if (r < 0)
                        return r;
                n += r;
        }
        return n;
}

/* Is the vhci device local_busid the claim's device now (bus/devnum as the registry last saw
 * it, or its port name and serial at claim time)? */
static bool import_is_claims(const char *local_busid, const struct claim *c) {
        _cleanup_free_ char *bus = local_attr(local_busid, "busnum"), *dev = local_attr(local_busid, "devnum"),
                            *ser = local_attr(local_busid, "serial");
        unsigned b, d;
        if (c->usb.bus && bus && dev && safe_atou(bus, 10, &b) >= 0 && safe_atou(dev, 10, &d) >= 0 &&
            b == c->usb.bus && d == c->usb.devnum)
                return true;
        return streq_ptr(local_busid, c->usb.port) && streq_ptr(ser, c->usb.serial);
}

int usbip_release_claim(const struct claim *c, char **reterr) {
        _cleanup_free_ struct vhci_port *ports = NULL;
        size_t n = 0;

        if (c->type != HOSTDEV_TYPE_USB)
                return 0;
        /* only an import of ours is given back; anything else (no vhci_hcd here, a local device,
         * an import already gone) has nothing to undo */
        if (vhci_read_status(&ports, &n, NULL) < 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                struct usbip_import im;
                int r;
                if (ports[i].status == VHCI_ST_NULL || record_read(ports[i].port, &im) < 0)
                        continue;
                if (!streq_ptr(im.local_busid, ports[i].local_busid) || !import_is_claims(im.local_busid, c)) {
                        usbip_import_done(&im);
                        continue;
                }
                r = vhci_detach_port(im.vhci_port, reterr);
                if (r >= 0)
                        record_remove(im.vhci_port);
                usbip_import_done(&im);
                return r;
        }
        return 0;
}

/* ---- recovery ------------------------------------------------------------------------------ */
bool usbip_registry_has_export_claim(const struct registry *reg) {
        for (size_t i = 0; reg && i < registry_n_claims(reg); i++)
                if (streq_ptr(registry_claim_at(reg, i)->domain, USBIP_EXPORT_DOMAIN))
                        return true;
        return false;
}

int usbip_reexport_device(const struct registry *reg, const struct nodedev *dev, char **reterr) {
        const struct claim *c;
        int r;

        if (!reg || dev->cap != NODEDEV_CAP_USB_DEVICE || dev->u.usb.is_hub || dev->u.usb.usbip_exported ||
            !dev->u.usb.port || streq_ptr(dev->u.usb.hcd_driver, "vhci_hcd"))
                return 0;
        /* Only a host that exports dongles has an export claim. Without one, the lookup below is
         * skipped: it checks each covering claim's domain is alive by reading its QEMU's
         * /proc/PID/stat, which the watch loop would do on every USB add, before its device_add. */
        if (!usbip_registry_has_export_claim(reg))
                return 0;
        c = registry_claim_for_device(reg, dev);
        if (!c || !streq_ptr(c->domain, USBIP_EXPORT_DOMAIN))
                return 0;
        r = usbip_export_device(dev, reterr);
        return r < 0 ? r : 1;
}

bool usbip_claim_is_remote(const struct claim *c) {
        return c && c->type == HOSTDEV_TYPE_USB && c->selector_xml && strstr(c->selector_xml, "<remote ");
}

struct backoff {
        char *key;
        uint64_t next_usec;
        unsigned delay_ms;
};
static struct backoff backoffs[64];

static struct backoff *backoff_for(const char *key) {
        struct backoff *free_slot = NULL;
        for (size_t i = 0; i < ELEMENTSOF(backoffs); i++) {
                if (backoffs[i].key && streq(backoffs[i].key, key))
                        return &backoffs[i];
                if (!backoffs[i].key && !free_slot)
                        free_slot = &backoffs[i];
        }
        if (!free_slot) {
                free_slot = &backoffs[0]; /* more than 64 remote claims: recycle */
                free(free_slot->key);
                *free_slot = (struct backoff){ 0 };
        }
        free_slot->key = strdup(key);
        return free_slot->key ? free_slot : NULL;
}

static int source_of_claim(const struct claim *c, struct hostdev_file **ret) {
        _cleanup_free_ char *xml = strdup_printf("<hostdev mode='subsystem' type='usb'>%s</hostdev>", c->selector_xml);
        if (!xml)
                return -ENOMEM;
        return hostdev_file_parse_buffer(xml, strlen(xml), "claim", ret, NULL);
}

int usbip_reimport_claims(const struct registry *reg, const char *domain,
                          void (*log)(void *userdata, bool error, const char *line), void *userdata) {
        int n = 0;

        if (!reg)
                return 0;
        for (size_t i = 0; i < registry_n_claims(reg); i++) {
                const struct claim *c = registry_claim_at(reg, i);
                struct hostdev_file *f = NULL;
                struct backoff *b;
                char *err = NULL;
                uint64_t now;
                int r;

                if (!usbip_claim_is_remote(c) || (domain && !streq_ptr(c->domain, domain)) ||
                    streq_ptr(c->domain, USBIP_EXPORT_DOMAIN) || !registry_domain_alive(reg, c->domain))
                        continue;
                if (!(b = backoff_for(c->key)))
                        return -ENOMEM;
                now = now_usec();
                if (now < b->next_usec)
                        continue;
                if (source_of_claim(c, &f) < 0 || f->n_defs != 1 || f->defs[0]->type != HOSTDEV_TYPE_USB) {
                        hostdev_file_free(f);
                        continue;
                }
                r = usbip_import_source(&f->defs[0]->source.usb, &err);
                if (r >= 0) {
                        if (r > 0 && log) {
                                _cleanup_free_ char *line = strdup_printf("re-imported %s for %s from %s over USB/IP",
                                                                          c->key, c->domain,
                                                                          f->defs[0]->source.usb.remote_host);
                                if (line)
                                        log(userdata, false, line);
                        }
                        n += r;
                        b->delay_ms = 0;
                        b->next_usec = 0;
                } else {
                        b->delay_ms = b->delay_ms ? b->delay_ms * 2 : 1000;
                        if (b->delay_ms > 15000)
                                b->delay_ms = 15000;
                        b->next_usec = now_usec() + (uint64_t) b->delay_ms * 1000;
                        if (log) {
                                _cleanup_free_ char *line = strdup_printf(
                                        "cannot import %s for %s yet (next try in %u s): %s", c->key, c->domain,
                                        b->delay_ms / 1000, err ? err : strerror(-r));
                                if (line)
                                        log(userdata, true, line);
                        }
                }
                free(err);
                hostdev_file_free(f);
        }
        return n;
}
