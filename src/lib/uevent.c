/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "uevent.h"

#include <libudev.h>

#include "error.h"
#include "util.h"

static const char *const action_names[] = {
        [UEVENT_OTHER] = "other", [UEVENT_ADD] = "add",   [UEVENT_REMOVE] = "remove",
        [UEVENT_CHANGE] = "change", [UEVENT_BIND] = "bind", [UEVENT_UNBIND] = "unbind",
};

const char *uevent_action_to_string(enum uevent_action a) {
        if ((size_t) a >= ELEMENTSOF(action_names))
                return "other";
        return action_names[a];
}

enum uevent_action uevent_action_from_string(const char *s) {
        if (!s)
                return UEVENT_OTHER;
        for (size_t i = 1; i < ELEMENTSOF(action_names); i++)
                if (streq(s, action_names[i]))
                        return (enum uevent_action) i;
        return UEVENT_OTHER;
}

void usb_uevent_done(struct usb_uevent *ev) {
        if (!ev)
                return;
        free(ev->devpath);
        free(ev->sysname);
        free(ev->subsystem);
        free(ev->devtype);
        free(ev->devname);
        free(ev->driver);
        *ev = (struct usb_uevent){ 0 };
}

struct usb_uevent *usb_uevent_free(struct usb_uevent *ev) {
        usb_uevent_done(ev);
        free(ev);
        return NULL;
}

static int replace_str(char **p, const char *v) {
        char *c = strdup(v);
        if (!c)
                return -ENOMEM;
        free(*p);
        *p = c;
        return 0;
}

/* PRODUCT=46f4/1/100: hex vendor, product, bcdDevice without leading zeros. */
static int parse_product(const char *v, uint16_t *ret_vendor, uint16_t *ret_product) {
        char a[8], b[8];
        const char *s1 = strchr(v, '/');
        if (!s1)
                return -EINVAL;
        const char *s2 = strchr(s1 + 1, '/');
        size_t la = (size_t) (s1 - v), lb = s2 ? (size_t) (s2 - s1 - 1) : strlen(s1 + 1);
        if (la == 0 || lb == 0 || la >= sizeof a || lb >= sizeof b)
                return -EINVAL;
        memcpy(a, v, la);
        a[la] = 0;
        memcpy(b, s1 + 1, lb);
        b[lb] = 0;
        unsigned x, y;
        if (safe_atou(a, 16, &x) < 0 || safe_atou(b, 16, &y) < 0 || x > 0xffff || y > 0xffff)
                return -EINVAL;
        *ret_vendor = (uint16_t) x;
        *ret_product = (uint16_t) y;
        return 0;
}

static int parse_type(const char *v, unsigned ret[3]) {
        const char *p = v;
        for (int i = 0; i < 3; i++) {
                char num[4];
                size_t n = strspn(p, "0123456789");
                if (n == 0 || n >= sizeof num || p[n] != (i < 2 ? '/' : 0))
                        return -EINVAL;
                memcpy(num, p, n);
                num[n] = 0;
                if (safe_atou(num, 10, &ret[i]) < 0 || ret[i] > 255)
                        return -EINVAL;
                p += n + 1;
        }
        return 0;
}

int usb_uevent_set_property(struct usb_uevent *ev, const char *key, const char *value) {
        unsigned u;
        if (!key || !value)
                return -EINVAL;
        if (streq(key, "ACTION")) {
                ev->action = uevent_action_from_string(value);
                return 0;
        }
        if (streq(key, "DEVPATH")) {
                if (value[0] != '/' || strstr(value, "/../") || strlen(value) > 4096)
                        return -EINVAL;
                const char *slash = strrchr(value, '/');
                if (isempty(slash + 1))
                        return -EINVAL;
                if (replace_str(&ev->devpath, value) < 0 || replace_str(&ev->sysname, slash + 1) < 0)
                        return -ENOMEM;
                return 0;
        }
        if (streq(key, "SUBSYSTEM"))
                return replace_str(&ev->subsystem, value);
        if (streq(key, "DEVTYPE"))
                return replace_str(&ev->devtype, value);
        if (streq(key, "DEVNAME"))
                return replace_str(&ev->devname, value);
        if (streq(key, "DRIVER"))
                return replace_str(&ev->driver, value);
        if (streq(key, "BUSNUM")) {
                if (safe_atou(value, 10, &u) < 0 || u == 0 || u > 0xffff)
                        return -EINVAL;
                ev->bus = u;
                return 0;
        }
        if (streq(key, "DEVNUM")) {
                if (safe_atou(value, 10, &u) < 0 || u == 0 || u > 127)
                        return -EINVAL;
                ev->devnum = u;
                return 0;
        }
        if (streq(key, "PRODUCT")) {
                uint16_t v, p;
                if (parse_product(value, &v, &p) < 0)
                        return -EINVAL;
                ev->vendor = v;
                ev->product = p;
                ev->has_ids = true;
                return 0;
        }
        if (streq(key, "TYPE")) {
                /* the device's class/subclass/protocol, decimal: "0/0/0", "9/0/1" (a hub) */
                unsigned c[3];
                if (parse_type(value, c) < 0)
                        return -EINVAL;
                ev->dev_class = (uint8_t) c[0];
                ev->dev_subclass = (uint8_t) c[1];
                ev->dev_protocol = (uint8_t) c[2];
                ev->has_type = true;
                return 0;
        }
        if (streq(key, "SEQNUM")) {
                unsigned long long s;
                if (safe_atoull(value, 10, &s) < 0)
                        return -EINVAL;
                ev->seqnum = s;
                return 0;
        }
        return 0;
}

int usb_uevent_parse(const char *buf, size_t len, struct usb_uevent **ret) {
        _cleanup_(usb_uevent_freep) struct usb_uevent *ev = calloc(1, sizeof *ev);
        bool have_action = false;
        size_t i = 0;

        if (!ev)
                return -ENOMEM;
        if (!buf)
                return -EINVAL;
        while (i < len) {
                const char *s = buf + i;
                const char *nul = memchr(s, 0, len - i);
                size_t l = nul ? (size_t) (nul - s) : len - i;
                _cleanup_free_ char *item = strndup(s, l);
                if (!item)
                        return -ENOMEM;
                i += l + 1;
                if (l == 0)
                        continue;
                char *eq = strchr(item, '=');
                if (!eq) {
                        /* header "add@/devices/..." (only the first item) */
                        if (s == buf && strchr(item, '@'))
                                continue;
                        return -EINVAL;
                }
                *eq = 0;
                int r = usb_uevent_set_property(ev, item, eq + 1);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return -EINVAL;
                if (streq(item, "ACTION"))
                        have_action = true;
        }
        if (!have_action || !ev->devpath)
                return -EINVAL;
        ev->received_usec = now_usec();
        *ret = TAKE_PTR(ev);
        return 0;
}

bool usb_uevent_is_usb_device(const struct usb_uevent *ev) {
        if (!ev || !ev->sysname)
                return false;
        if (!streq_ptr(ev->subsystem, "usb") || !streq_ptr(ev->devtype, "usb_device"))
                return false;
        /* root hubs ("usb1") are never claimed */
        if (startswith(ev->sysname, "usb"))
                return false;
        return ev->action == UEVENT_ADD || ev->action == UEVENT_REMOVE ||
               ev->action == UEVENT_CHANGE || ev->action == UEVENT_BIND ||
               ev->action == UEVENT_UNBIND;
}

char *usb_node_name_from_sysname(const char *sysname) {
        if (isempty(sysname))
                return NULL;
        char *n = strdup_printf("usb_%s", sysname);
        if (!n)
                return NULL;
        for (char *p = n + 4; *p; p++)
                if (*p == '-' || *p == '.' || *p == ':')
                        *p = '_';
        return n;
}

/* ---- monitor ---------------------------------------------------------------------------- */
struct uevent_monitor {
        struct udev *udev;
        struct udev_monitor *mon;
};

struct uevent_monitor *uevent_monitor_free(struct uevent_monitor *m) {
        if (!m)
                return NULL;
        if (m->mon)
                udev_monitor_unref(m->mon);
        if (m->udev)
                udev_unref(m->udev);
        free(m);
        return NULL;
}

int uevent_monitor_new_source(struct uevent_monitor **ret, enum uevent_source source, char **reterr) {
        _cleanup_(uevent_monitor_freep) struct uevent_monitor *m = calloc(1, sizeof *m);
        int r;

        if (!m)
                return -ENOMEM;
        m->udev = udev_new();
        if (!m->udev)
                return error_set(reterr, -ENOMEM, "cannot create a udev context");
        /* libudev accepts only what the kernel (sender pid 0) or udevd sent, with credentials */
        m->mon = udev_monitor_new_from_netlink(m->udev, source == UEVENT_SOURCE_KERNEL ? "kernel" : "udev");
        if (!m->mon)
                return error_set(reterr, -EPERM,
                                 source == UEVENT_SOURCE_KERNEL
                                         ? "cannot open the kernel uevent monitor (netlink)"
                                         : "cannot open the udev monitor (netlink): are udevd and /run/udev there?");
        r = udev_monitor_filter_add_match_subsystem_devtype(m->mon, "usb", "usb_device");
        if (r < 0)
                return error_set(reterr, r, "cannot filter the udev monitor to usb devices");
        /* a hub with many dongles replugged at once: don't lose events */
        (void) udev_monitor_set_receive_buffer_size(m->mon, 16 * 1024 * 1024);
        r = udev_monitor_enable_receiving(m->mon);
        if (r < 0)
                return error_set(reterr, r, "cannot start receiving udev events");
        *ret = TAKE_PTR(m);
        return 0;
}

int uevent_monitor_new(struct uevent_monitor **ret, char **reterr) {
        return uevent_monitor_new_source(ret, UEVENT_SOURCE_UDEV, reterr);
}

int uevent_monitor_get_fd(const struct uevent_monitor *m) {
        return udev_monitor_get_fd(m->mon);
}

int uevent_monitor_receive(struct uevent_monitor *m, struct usb_uevent **ret) {
        for (;;) {
                struct udev_device *d = udev_monitor_receive_device(m->mon);
                struct udev_list_entry *e;
                int r = 0;

                if (!d)
                        return 0; /* nothing (more) pending */
                _cleanup_(usb_uevent_freep) struct usb_uevent *ev = calloc(1, sizeof *ev);
                if (!ev) {
                        udev_device_unref(d);
                        return -ENOMEM;
                }
                ev->received_usec = now_usec();
                udev_list_entry_foreach(e, udev_device_get_properties_list_entry(d)) {
                        r = usb_uevent_set_property(ev, udev_list_entry_get_name(e),
                                                    udev_list_entry_get_value(e));
                        if (r == -ENOMEM)
                                break;
                }
                udev_device_unref(d);
                if (r == -ENOMEM)
                        return r;
                if (!usb_uevent_is_usb_device(ev))
                        continue;
                *ret = TAKE_PTR(ev);
                return 1;
        }
}
