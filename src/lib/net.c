/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Network interfaces from /sys/class/net. */
#include "inventory-private.h"
#include "util.h"

int net_read(struct scan *s, const char *path, struct nodedev **ret) {
        _cleanup_free_ char *ifname = path_basename_dup(path);
        _cleanup_(nodedev_freep) struct nodedev *d = NULL;
        struct net_info *n;

        if (!ifname)
                return -ENOMEM;
        d = nodedev_new(path, "net", NODEDEV_CAP_NET);
        if (!d)
                return -ENOMEM;
        n = &d->u.net;
        n->ifname = TAKE_PTR(ifname);
        (void) attr_string(s, path, "address", true, &n->mac);
        (void) attr_string(s, path, "operstate", false, &n->link_state);

        /* 'speed' fails with EINVAL on interfaces that are down (unknown: 0, no warning). It
         * reads -1 when the driver does not know; libvirt 9.0 then prints 4294967295, and so do
         * we, for XML that compares equal. */
        _cleanup_free_ char *sp = path_join(path, "speed", NULL), *v = NULL;
        int sv;
        if (sp && read_one_line_file(sp, &v) >= 0 && safe_atoi(v, &sv) >= 0)
                n->speed = (unsigned) sv;

        d->name = nodedev_make_name("net", n->ifname, n->mac);
        if (!d->name)
                return -ENOMEM;
        /* a net interface has no driver of its own (libvirt shows none); its parent has */
        *ret = TAKE_PTR(d);
        return 0;
}
