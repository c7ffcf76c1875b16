/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Capabilities mode (<hostdev mode='capabilities'>): host resources handed to a container.
 *
 *   net      the interface moves into the container's network namespace (--netns PATH|PID)
 *            keeping its name; the <ip> addresses and <route>s of the def are set there and the
 *            link is brought up. On give back it moves to the namespace of the process doing
 *            the release ("hostdev's own namespace"). Done with plain rtnetlink
 *            (RTM_NEWLINK + IFLA_NET_NS_FD, RTM_NEWADDR, RTM_NEWROUTE): no fork/exec of `ip`,
 *            errors come back as errno values with the kernel's extended ack text.
 *   storage  a block node, misc a character node, created at the same path inside the
 *   misc     container's root (--root DIR) with the host node's type, major:minor, mode and
 *            owner (stat of the host node, under dev_root() for /dev/... paths). Removed on
 *            give back.
 *
 * The target (namespace spec or root) is recorded in the claim (claim->caps_target) so that
 * `release` and `detach-device` can undo it without the option. */

#include <stdbool.h>
#include <stddef.h>

#include "hostdev-def.h"
#include "registry.h"

static inline bool hostdev_type_is_caps(enum hostdev_type t) {
        return t == HOSTDEV_TYPE_CAP_NET || t == HOSTDEV_TYPE_CAP_STORAGE || t == HOSTDEV_TYPE_CAP_MISC;
}

/* Open a network namespace given as a path (/run/netns/NAME, /proc/PID/ns/net) or a process id
 * and check it is one. */
int caps_netns_open(const char *spec, int *ret_fd, char **reterr);

/* Move def's interface from the current namespace into netns (spec as above), apply its
 * addresses and routes, set it up. On failure the interface is back where it was. */
int caps_net_move_in(const struct hostdev_def *def, const char *netns, char **reterr);
/* Move ifname from netns back to the calling thread's namespace. 0 also when it is already
 * here; -ENODEV when it is neither there nor here. */
int caps_net_move_out(const char *ifname, const char *netns, char **reterr);

/* Create def's node (storage: block, misc: char) under root. 1 created, 0 already there with
 * the same device number. */
int caps_node_create(const struct hostdev_def *def, const char *root, char **reterr);
/* Remove the device node path (as in the def, "/dev/sdf1") under root; 0 when absent. */
int caps_node_remove(const char *path, const char *root, char **reterr);

/* Prepare a capabilities def: net needs netns, storage/misc need root (-EINVAL with a message
 * naming the missing option otherwise). */
int caps_prepare(const struct hostdev_def *def, const char *netns, const char *root, char **reterr);
/* Undo caps_prepare for a claim (its key names the interface/node, caps_target the
 * namespace/root). 0 for other claim types or when nothing was recorded. */
int caps_giveback(const struct claim *c, char **reterr);

/* Default IPv4 prefix when <ip> has none (classful, as libvirt), IPv6: 64. */
unsigned caps_default_prefix(int family, const void *addr);
