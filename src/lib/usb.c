/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* USB devices (1-4.1, usb1) and interfaces (1-4.1:1.0) from /sys/bus/usb/devices. */
#include <ctype.h>
#include <sys/stat.h>

#include "inventory-private.h"
#include "util.h"

/* "1-4.1" -> bus 1, port "4.1"; "usb1" -> bus 1, port NULL. Strict: digits and dots only. */
int parse_usb_sysname(const char *name, unsigned *ret_bus, char **ret_port) {
        const char *p;
        unsigned bus;
        if (!name)
                return -EINVAL;
        if ((p = startswith(name, "usb"))) {
                if (!isdigit((unsigned char) *p) || safe_atou(p, 10, &bus) < 0 || bus == 0)
                        return -EINVAL;
                *ret_bus = bus;
                *ret_port = NULL;
                return 0;
        }
        const char *dash = strchr(name, '-');
        if (!dash || dash == name || dash - name > 9)
                return -EINVAL;
        char busbuf[16];
        memcpy(busbuf, name, dash - name);
        busbuf[dash - name] = 0;
        for (const char *q = busbuf; *q; q++)
                if (!isdigit((unsigned char) *q))
                        return -EINVAL;
        if (safe_atou(busbuf, 10, &bus) < 0 || bus == 0)
                return -EINVAL;
        const char *port = dash + 1;
        /* digits separated by single dots, no empty components */
        bool want_digit = true;
        for (const char *q = port; *q; q++) {
                if (isdigit((unsigned char) *q))
                        want_digit = false;
                else if (*q == '.' && !want_digit)
                        want_digit = true;
                else
                        return -EINVAL;
        }
        if (want_digit)
                return -EINVAL;
        char *pp = strdup(port);
        if (!pp)
                return -ENOMEM;
        *ret_bus = bus;
        *ret_port = pp;
        return 0;
}

/* Port directory names: "usb2-port4" (root hub port) -> "2-4"; "2-4-port1" -> "2-4.1";
 * "2-4.1-port3" -> "2-4.1.3". */
int parse_usb_port_dir(const char *portdir, char **ret_sysname) {
        const char *pp, *num;
        unsigned n;
        if (!portdir)
                return -EINVAL;
        pp = strstr(portdir, "-port");
        if (!pp || pp == portdir)
                return -EINVAL;
        num = pp + 5;
        if (!isdigit((unsigned char) *num) || safe_atou(num, 10, &n) < 0 || n == 0)
                return -EINVAL;
        _cleanup_free_ char *hub = strndup(portdir, pp - portdir);
        if (!hub)
                return -ENOMEM;
        unsigned bus;
        _cleanup_free_ char *hubport = NULL;
        if (parse_usb_sysname(hub, &bus, &hubport) < 0)
                return -EINVAL;
        char *s = hubport ? strdup_printf("%u-%s.%u", bus, hubport, n) : strdup_printf("%u-%u", bus, n);
        if (!s)
                return -ENOMEM;
        *ret_sysname = s;
        return 0;
}

/* The port directory of this device in its parent hub: the 'port' link if the kernel has it,
 * else <hubdir>/<hub>:1.0/<hub>-portN (root hub: usbB-portN). */
static char *usb_port_dir(struct scan *s, const char *path, unsigned bus, const char *port) {
        char *pd = NULL;
        if (attr_link_resolve(s, path, "port", &pd) >= 0)
                return pd;
        if (!port)
                return NULL;
        const char *dot = strrchr(port, '.');
        const char *last = dot ? dot + 1 : port;
        _cleanup_free_ char *hubdir = strdup(path);
        if (!hubdir)
                return NULL;
        char *sl = strrchr(hubdir, '/');
        if (!sl)
                return NULL;
        *sl = 0;
        _cleanup_free_ char *hub = NULL, *iface = NULL, *pdname = NULL;
        if (dot) {
                hub = strdup_printf("%u-%.*s", bus, (int) (dot - port), port);
                iface = hub ? strdup_printf("%s:1.0", hub) : NULL;
                pdname = hub ? strdup_printf("%s-port%s", hub, last) : NULL;
        } else {
                iface = strdup_printf("%u-0:1.0", bus);
                pdname = strdup_printf("usb%u-port%s", bus, last);
        }
        if (!iface || !pdname)
                return NULL;
        _cleanup_free_ char *cand = path_join(hubdir, iface, pdname, NULL);
        if (cand && access(cand, F_OK) == 0)
                return realpath(cand, NULL);
        return NULL;
}

static int usb_read_peer(struct scan *s, const char *path, struct usb_device_info *u) {
        _cleanup_free_ char *pd = usb_port_dir(s, path, u->bus, u->port);
        _cleanup_free_ char *peer = NULL;
        if (!pd)
                return 0;
        if (attr_link_resolve_path(s, pd, "peer", &peer) < 0)
                return 0;
        const char *b = strrchr(peer, '/');
        char *name = NULL;
        if (parse_usb_port_dir(b ? b + 1 : peer, &name) < 0) {
                scan_warn(s, "%s/peer: unexpected port name '%s'", scan_rel(s, pd), b ? b + 1 : peer);
                return 0;
        }
        u->peer_port = name;
        return 0;
}

/* Driver of the host controller: walk up to the usbN root hub; its parent is the HC. */
static char *usb_hcd_driver(struct scan *s, const char *path) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return NULL;
        for (;;) {
                char *sl = strrchr(p, '/');
                if (!sl || (size_t) (sl - p) <= s->root_len)
                        return NULL;
                const char *b = sl + 1;
                const char *n = startswith(b, "usb");
                bool is_root = n && *n && strspn(n, "0123456789") == strlen(n);
                *sl = 0;
                if (is_root) {
                        char *drv = NULL;
                        if (s->hcd_cached && streq_ptr(s->hcd_path, p))
                                return s->hcd_driver ? strdup(s->hcd_driver) : NULL;
                        if (attr_link_basename(s, p, "driver", false, &drv) < 0)
                                drv = NULL;
                        if (s->hcd_cached) { /* remember the answer, "none" too */
                                char *cp = strdup(p), *cd = drv ? strdup(drv) : NULL;
                                if (cp && (!drv || cd)) {
                                        free(s->hcd_path);
                                        free(s->hcd_driver);
                                        s->hcd_path = cp;
                                        s->hcd_driver = cd;
                                } else {
                                        free(cp);
                                        free(cd);
                                }
                        }
                        return drv;
                }
        }
}

static int usb_read_interface(struct scan *s, const char *path, const char *sysname, struct nodedev **ret) {
        struct nodedev *d = nodedev_new(path, "usb", NODEDEV_CAP_USB_INTERFACE);
        unsigned v;
        if (!d)
                return -ENOMEM;
        d->name = nodedev_make_name("usb", sysname, NULL);
        if (!d->name) {
                nodedev_free(d);
                return -ENOMEM;
        }
        if (attr_uint(s, path, "bInterfaceNumber", 16, true, &v) >= 0)
                d->u.usb_if.number = v;
        if (attr_uint(s, path, "bInterfaceClass", 16, true, &v) >= 0)
                d->u.usb_if.iface_class = v;
        if (attr_uint(s, path, "bInterfaceSubClass", 16, true, &v) >= 0)
                d->u.usb_if.iface_subclass = v;
        if (attr_uint(s, path, "bInterfaceProtocol", 16, true, &v) >= 0)
                d->u.usb_if.iface_protocol = v;
        (void) attr_link_basename(s, path, "driver", false, &d->driver);
        *ret = d;
        return 0;
}

char *usb_node_path(unsigned bus, unsigned devnum) {
        return strdup_printf("%s/bus/usb/%03u/%03u", dev_root(), bus, devnum);
}

/* A USB device node named after its sysfs name ("1-4.1" -> usb_1_4_1); NULL on OOM. */
static struct nodedev *usb_device_new(const char *path, const char *sysname) {
        struct nodedev *d = nodedev_new(path, "usb", NODEDEV_CAP_USB_DEVICE);
        if (d && !(d->name = nodedev_make_name("usb", sysname, NULL)))
                d = nodedev_free(d);
        return d;
}

int usb_read(struct scan *s, const char *path, struct nodedev **ret) {
        _cleanup_free_ char *sysname = path_basename_dup(path);
        _cleanup_(nodedev_freep) struct nodedev *d = NULL;
        struct usb_device_info *u;
        unsigned v;
        int r;

        if (!sysname)
                return -ENOMEM;
        if (strchr(sysname, ':'))
                return usb_read_interface(s, path, sysname, ret);

        d = usb_device_new(path, sysname);
        if (!d)
                return -ENOMEM;
        u = &d->u.usb;

        r = parse_usb_sysname(sysname, &u->bus, &u->port);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                scan_warn(s, "%s: unexpected USB device name", scan_rel(s, path));
        if (attr_uint(s, path, "busnum", 10, true, &v) >= 0)
                u->bus = v;
        if (attr_uint(s, path, "devnum", 10, true, &v) >= 0)
                u->devnum = v;
        (void) attr_hex16(s, path, "idVendor", true, &u->vendor_id);
        (void) attr_hex16(s, path, "idProduct", true, &u->product_id);
        if (!(s->flags & INVENTORY_SCAN_NO_USB_STRINGS)) {
                (void) attr_string(s, path, "manufacturer", false, &u->manufacturer);
                (void) attr_string(s, path, "product", false, &u->product_string);
        }
        (void) attr_string(s, path, "serial", false, &u->serial);
        (void) attr_string(s, path, "speed", true, &u->speed);
        if (attr_uint(s, path, "bDeviceClass", 16, true, &v) >= 0)
                u->dev_class = v;
        if (attr_uint(s, path, "bDeviceSubClass", 16, false, &v) >= 0)
                u->dev_subclass = v;
        if (attr_uint(s, path, "bDeviceProtocol", 16, false, &v) >= 0)
                u->dev_protocol = v;
        _cleanup_free_ char *ver = NULL;
        if (attr_string(s, path, "version", false, &ver) >= 0) {
                const char *t = ver;
                while (*t == ' ')
                        t++;
                u->version = strdup(t);
        }
        u->is_hub = u->dev_class == 9;
        u->hcd_driver = usb_hcd_driver(s, path);
        (void) attr_link_basename(s, path, "driver", false, &d->driver);
        if (streq_ptr(d->driver, "usbip-host"))
                u->usbip_exported = true;
        if (u->port)
                (void) usb_read_peer(s, path, u);
        if (u->devnum > 0)
                d->devnode = usb_node_path(u->bus, u->devnum);

        char key[64];
        snprintf(key, sizeof key, "usb:v%04Xp%04X", u->vendor_id, u->product_id);
        hwdb_names(s, key, &u->vendor_name, &u->product_name);

        *ret = TAKE_PTR(d);
        return 0;
}

int usb_read_event(struct scan *s, const char *path, const struct usb_event_info *e, struct nodedev **ret) {
        _cleanup_free_ char *sysname = path_basename_dup(path);
        _cleanup_(nodedev_freep) struct nodedev *d = NULL;
        struct usb_device_info *u;
        struct stat st;
        int r;

        if (!sysname)
                return -ENOMEM;
        if (strchr(sysname, ':'))
                return -EINVAL; /* an interface: not what this is for */
        d = usb_device_new(path, sysname);
        if (!d)
                return -ENOMEM;
        u = &d->u.usb;
        r = parse_usb_sysname(sysname, &u->bus, &u->port);
        if (r < 0)
                return r;
        if (stat(path, &st) < 0)
                return -errno; /* gone again: its remove follows */
        u->bus = e->bus;
        u->devnum = e->devnum;
        u->vendor_id = e->vendor;
        u->product_id = e->product;
        u->dev_class = e->dev_class;
        u->dev_subclass = e->dev_subclass;
        u->dev_protocol = e->dev_protocol;
        u->is_hub = u->dev_class == 9;
        if (e->no_serial)
                u->serial_unread = true;
        else
                (void) attr_string(s, path, "serial", false, &u->serial);
        (void) attr_link_basename(s, path, "driver", false, &d->driver);
        if (streq_ptr(d->driver, "usbip-host"))
                u->usbip_exported = true;
        u->hcd_driver = usb_hcd_driver(s, path);
        if (u->port) {
                /* the peer port's name is the basename of port/peer: one readlink through the
                 * "port" link (nodedev_read_usb resolves both links in full) */
                _cleanup_free_ char *peer = NULL;
                if (attr_link_basename(s, path, "port/peer", false, &peer) >= 0) {
                        if (parse_usb_port_dir(peer, &u->peer_port) == -ENOMEM)
                                return -ENOMEM;
                } else /* no peer, or no "port" link (older kernels): the long way */
                        (void) usb_read_peer(s, path, u);
        }
        if (u->devnum > 0)
                d->devnode = usb_node_path(u->bus, u->devnum);
        *ret = TAKE_PTR(d);
        return 0;
}
