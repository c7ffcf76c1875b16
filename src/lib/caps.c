/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capabilities mode: network interfaces into a container's namespace, device nodes into its
 * root (see caps.h). */
#include "caps.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "error.h"
#include "util.h"

/* ---- rtnetlink ---------------------------------------------------------------------------- */

struct nlreq {
        union {
                struct nlmsghdr h;
                char buf[2048];
        } u;
};

static void nlreq_init(struct nlreq *q, uint16_t type, uint16_t flags, const void *hdr, size_t hdr_len) {
        memset(q, 0, sizeof(*q));
        q->u.h.nlmsg_len = NLMSG_LENGTH(hdr_len);
        q->u.h.nlmsg_type = type;
        q->u.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        memcpy(NLMSG_DATA(&q->u.h), hdr, hdr_len);
}

static int nlreq_attr(struct nlreq *q, uint16_t type, const void *data, size_t len) {
        size_t off = NLMSG_ALIGN(q->u.h.nlmsg_len);
        struct rtattr *a;
        if (off + RTA_SPACE(len) > sizeof(q->u.buf))
                return -ENOBUFS;
        a = (struct rtattr *) (q->u.buf + off);
        a->rta_type = type;
        a->rta_len = RTA_LENGTH(len);
        if (len)
                memcpy(RTA_DATA(a), data, len);
        q->u.h.nlmsg_len = off + RTA_ALIGN(a->rta_len);
        return 0;
}

static int nlreq_attr_u32(struct nlreq *q, uint16_t type, uint32_t v) {
        return nlreq_attr(q, type, &v, sizeof(v));
}

static int nlreq_attr_str(struct nlreq *q, uint16_t type, const char *s) {
        return nlreq_attr(q, type, s, strlen(s) + 1);
}

/* Send q and read until its ACK/error. Replies other than the ACK go to cb. The kernel's
 * extended ack message (NLMSGERR_ATTR_MSG), when there is one, goes to *ret_msg. */
static int nl_talk(int fd, struct nlreq *q, void (*cb)(const struct nlmsghdr *m, void *ud), void *ud,
                   char **ret_msg) {
        static uint32_t seq;
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));

        q->u.h.nlmsg_seq = ++seq;
        if (sendto(fd, q->u.buf, q->u.h.nlmsg_len, 0, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return -errno;
        for (;;) {
                ssize_t n = recv(fd, buf, sizeof(buf), 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (struct nlmsghdr *m = (struct nlmsghdr *) buf; NLMSG_OK(m, (size_t) n); m = NLMSG_NEXT(m, n)) {
                        if (m->nlmsg_seq != q->u.h.nlmsg_seq)
                                continue;
                        if (m->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(m);
                                if (m->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
                                        return -EBADMSG;
                                if (e->error && ret_msg && (m->nlmsg_flags & NLM_F_ACK_TLVS)) {
                                        size_t off = sizeof(*e);
                                        if (!(m->nlmsg_flags & NLM_F_CAPPED))
                                                off += e->msg.nlmsg_len - NLMSG_HDRLEN;
                                        if (NLMSG_LENGTH(off) <= m->nlmsg_len) {
                                                struct rtattr *a = (struct rtattr *) ((char *) e + NLMSG_ALIGN(off));
                                                int alen = (int) (m->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(off)));
                                                for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
                                                        if (a->rta_type == NLMSGERR_ATTR_MSG && RTA_PAYLOAD(a) > 0)
                                                                *ret_msg = strndup(RTA_DATA(a), RTA_PAYLOAD(a));
                                        }
                                }
                                return e->error;
                        }
                        if (m->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (cb)
                                cb(m, ud);
                }
        }
}

static int nl_open(int *ret) {
        int one = 1;
        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
        *ret = TAKE_FD(fd);
        return 0;
}

/* A rtnetlink socket bound to namespace nsfd (the socket keeps its namespace afterwards). */
static int nl_open_in(int nsfd, int *ret, char **reterr) {
        _cleanup_close_ int own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        int fd = -1, r;
        if (own < 0)
                return error_set(reterr, -errno, "cannot open this thread's network namespace: %m");
        if (setns(nsfd, CLONE_NEWNET) < 0)
                return error_set(reterr, -errno, "cannot enter the container's network namespace: %m");
        r = nl_open(&fd);
        if (setns(own, CLONE_NEWNET) < 0) {
                /* cannot happen with the rights we just used; never continue in the wrong namespace */
                abort();
        }
        if (r < 0)
                return error_set(reterr, r, "cannot open rtnetlink in the container's namespace: %s", strerror(-r));
        *ret = fd;
        return 0;
}

static void getlink_cb(const struct nlmsghdr *m, void *ud) {
        if (m->nlmsg_type == RTM_NEWLINK && m->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg)))
                *(int *) ud = ((const struct ifinfomsg *) NLMSG_DATA(m))->ifi_index;
}

/* Index of ifname in the socket's namespace: > 0, or -ENODEV. */
static int nl_ifindex(int fd, const char *ifname) {
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
        struct nlreq q;
        int idx = 0, r;
        nlreq_init(&q, RTM_GETLINK, 0, &ifi, sizeof(ifi));
        r = nlreq_attr_str(&q, IFLA_IFNAME, ifname);
        if (r < 0)
                return r;
        r = nl_talk(fd, &q, getlink_cb, &idx, NULL);
        if (r == -ENODEV || (r >= 0 && idx <= 0))
                return -ENODEV;
        return r < 0 ? r : idx;
}

static int nl_link_set_netns(int fd, int ifindex, int target_nsfd, char **ret_msg) {
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex };
        struct nlreq q;
        int r;
        nlreq_init(&q, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
        r = nlreq_attr_u32(&q, IFLA_NET_NS_FD, (uint32_t) target_nsfd);
        return r < 0 ? r : nl_talk(fd, &q, NULL, NULL, ret_msg);
}

static int nl_link_up(int fd, int ifindex, char **ret_msg) {
        struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = IFF_UP,
                                 .ifi_change = IFF_UP };
        struct nlreq q;
        nlreq_init(&q, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
        return nl_talk(fd, &q, NULL, NULL, ret_msg);
}

struct inaddr {
        int family;
        union {
                struct in_addr v4;
                struct in6_addr v6;
        } a;
};

static int parse_inaddr(const char *s, const char *family, struct inaddr *ret) {
        int fam = family && streq(family, "ipv6") ? AF_INET6
                  : family && streq(family, "ipv4") ? AF_INET
                  : strchr(s, ':')                  ? AF_INET6
                                                    : AF_INET;
        if (inet_pton(fam, s, &ret->a) != 1)
                return -EINVAL;
        ret->family = fam;
        return 0;
}

static size_t inaddr_len(const struct inaddr *a) {
        return a->family == AF_INET ? sizeof(a->a.v4) : sizeof(a->a.v6);
}

unsigned caps_default_prefix(int family, const void *addr) {
        if (family == AF_INET6)
                return 64;
        uint8_t first = ((const uint8_t *) addr)[0];
        if (first < 128)
                return 8;
        if (first < 192)
                return 16;
        if (first < 224)
                return 24;
        return 32;
}

static int nl_addr_add(int fd, int ifindex, const struct ip_def *ip, char **ret_msg, char **reterr) {
        struct inaddr a;
        struct nlreq q;
        int r;
        if (!ip->address || parse_inaddr(ip->address, ip->family, &a) < 0)
                return error_set(reterr, -EINVAL, "invalid <ip address='%s'>", strna(ip->address));
        unsigned max = a.family == AF_INET ? 32 : 128;
        unsigned prefix = ip->has_prefix ? ip->prefix : caps_default_prefix(a.family, &a.a);
        if (prefix > max)
                return error_set(reterr, -EINVAL, "<ip address='%s' prefix='%u'>: prefix above %u", ip->address,
                                 prefix, max);
        struct ifaddrmsg ifa = { .ifa_family = (uint8_t) a.family, .ifa_prefixlen = (uint8_t) prefix,
                                 .ifa_index = (uint32_t) ifindex, .ifa_scope = RT_SCOPE_UNIVERSE };
        nlreq_init(&q, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof(ifa));
        r = nlreq_attr(&q, IFA_LOCAL, &a.a, inaddr_len(&a));
        if (r >= 0)
                r = nlreq_attr(&q, IFA_ADDRESS, &a.a, inaddr_len(&a));
        if (r >= 0 && a.family == AF_INET && prefix < 31) {
                struct in_addr b = a.a.v4;
                b.s_addr |= htonl(prefix == 0 ? 0xffffffffu : (1u << (32 - prefix)) - 1);
                r = nlreq_attr(&q, IFA_BROADCAST, &b, sizeof(b));
        }
        if (r < 0)
                return r;
        r = nl_talk(fd, &q, NULL, NULL, ret_msg);
        if (r < 0)
                return error_set(reterr, r, "cannot add address %s/%u: %s", ip->address, prefix, strerror(-r));
        return 0;
}

static int netmask_to_prefix(const char *mask, unsigned *ret) {
        struct in_addr m;
        if (inet_pton(AF_INET, mask, &m) != 1)
                return -EINVAL;
        uint32_t v = ntohl(m.s_addr);
        unsigned n = (unsigned) __builtin_popcount(v);
        if (n && v != (0xffffffffu << (32 - n)))
                return -EINVAL; /* not contiguous */
        *ret = n;
        return 0;
}

static int nl_route_add(int fd, int ifindex, const struct route_def *rt, char **ret_msg, char **reterr) {
        struct inaddr dst, gw;
        struct nlreq q;
        unsigned prefix;
        int r;
        if (!rt->address || parse_inaddr(rt->address, rt->family, &dst) < 0)
                return error_set(reterr, -EINVAL, "invalid <route address='%s'>", strna(rt->address));
        if (rt->has_prefix)
                prefix = rt->prefix;
        else if (rt->netmask) {
                if (dst.family != AF_INET || netmask_to_prefix(rt->netmask, &prefix) < 0)
                        return error_set(reterr, -EINVAL, "invalid <route netmask='%s'>", rt->netmask);
        } else
                prefix = dst.family == AF_INET ? 32 : 128;
        if (prefix > (dst.family == AF_INET ? 32u : 128u))
                return error_set(reterr, -EINVAL, "<route address='%s' prefix='%u'>: prefix too long", rt->address,
                                 prefix);
        if (rt->gateway && (parse_inaddr(rt->gateway, NULL, &gw) < 0 || gw.family != dst.family))
                return error_set(reterr, -EINVAL, "invalid <route gateway='%s'>", rt->gateway);
        struct rtmsg rtm = { .rtm_family = (uint8_t) dst.family, .rtm_dst_len = (uint8_t) prefix,
                             .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT,
                             .rtm_scope = rt->gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
                             .rtm_type = RTN_UNICAST };
        nlreq_init(&q, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rtm, sizeof(rtm));
        r = prefix > 0 ? nlreq_attr(&q, RTA_DST, &dst.a, inaddr_len(&dst)) : 0;
        if (r >= 0 && rt->gateway)
                r = nlreq_attr(&q, RTA_GATEWAY, &gw.a, inaddr_len(&gw));
        if (r >= 0)
                r = nlreq_attr_u32(&q, RTA_OIF, (uint32_t) ifindex);
        if (r >= 0 && rt->has_metric)
                r = nlreq_attr_u32(&q, RTA_PRIORITY, rt->metric);
        if (r < 0)
                return r;
        r = nl_talk(fd, &q, NULL, NULL, ret_msg);
        if (r < 0)
                return error_set(reterr, r, "cannot add route to %s/%u%s%s: %s", rt->address, prefix,
                                 rt->gateway ? " via " : "", strempty(rt->gateway), strerror(-r));
        return 0;
}

/* ---- namespaces ---------------------------------------------------------------------------- */

int caps_netns_open(const char *spec, int *ret_fd, char **reterr) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -1;
        unsigned pid;

        if (isempty(spec))
                return error_set(reterr, -EINVAL, "empty --netns");
        if (safe_atou(spec, 10, &pid) >= 0) {
                if (pid == 0)
                        return error_set(reterr, -EINVAL, "--netns 0 is not a process");
                path = strdup_printf("/proc/%u/ns/net", pid);
        } else
                path = strdup(spec);
        if (!path)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return error_set(reterr, -errno, "cannot open network namespace %s: %m", path);
        int t = ioctl(fd, NS_GET_NSTYPE);
        if (t >= 0 && t != CLONE_NEWNET)
                return error_set(reterr, -EINVAL, "%s is not a network namespace", path);
        if (t < 0) {
                /* old kernel without NS_GET_NSTYPE: setns() will check the type */
                struct stat st;
                if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode))
                        return error_set(reterr, -EINVAL, "%s is not a network namespace", path);
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static bool same_file(int a, int b) {
        struct stat sa, sb;
        return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int net_configure(int fd, int ifindex, const struct hostdev_def *def, char **reterr) {
        const struct caps_source *cs = &def->source.caps;
        int r;
        for (size_t i = 0; i < cs->n_ips; i++) {
                _cleanup_free_ char *m = NULL;
                r = nl_addr_add(fd, ifindex, &cs->ips[i], &m, reterr);
                if (r < 0)
                        return m ? error_prefix(reterr, r, "%s", m) : r;
        }
        _cleanup_free_ char *m = NULL;
        r = nl_link_up(fd, ifindex, &m);
        if (r < 0)
                return error_set(reterr, r, "cannot set %s up: %s", cs->interface, m ? m : strerror(-r));
        for (size_t i = 0; i < cs->n_routes; i++) {
                _cleanup_free_ char *rm = NULL;
                r = nl_route_add(fd, ifindex, &cs->routes[i], &rm, reterr);
                if (r < 0)
                        return rm ? error_prefix(reterr, r, "%s", rm) : r;
        }
        return 0;
}

int caps_net_move_in(const struct hostdev_def *def, const char *netns, char **reterr) {
        const char *ifname = def->source.caps.interface;
        _cleanup_close_ int ctr = -1, own = -1, s_own = -1, s_ctr = -1;
        _cleanup_free_ char *msg = NULL;
        int idx, cidx, r;

        if (def->type != HOSTDEV_TYPE_CAP_NET || isempty(ifname))
                return error_set(reterr, -EINVAL, "line %u: not a capabilities net <hostdev> with an interface",
                                 def->line);
        r = caps_netns_open(netns, &ctr, reterr);
        if (r < 0)
                return r;
        own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (own < 0)
                return error_set(reterr, -errno, "cannot open this thread's network namespace: %m");
        if (same_file(own, ctr))
                return error_set(reterr, -EINVAL, "--netns %s is hostdev's own network namespace", netns);
        r = nl_open(&s_own);
        if (r < 0)
                return error_set(reterr, r, "cannot open rtnetlink: %s", strerror(-r));
        r = nl_open_in(ctr, &s_ctr, reterr);
        if (r < 0)
                return r;
        idx = nl_ifindex(s_own, ifname);
        if (idx < 0)
                return error_set(reterr, idx, "no network interface %s in hostdev's namespace%s", ifname,
                                 idx == -ENODEV ? "" : " (rtnetlink error)");
        if (nl_ifindex(s_ctr, ifname) > 0)
                return error_set(reterr, -EEXIST, "the namespace %s already has an interface named %s", netns,
                                 ifname);
        r = nl_link_set_netns(s_own, idx, ctr, &msg);
        if (r < 0)
                return error_set(reterr, r, "cannot move %s into %s: %s", ifname, netns, msg ? msg : strerror(-r));
        cidx = nl_ifindex(s_ctr, ifname);
        if (cidx < 0)
                r = error_set(reterr, -EIO, "%s was moved into %s but is not found there by name", ifname, netns);
        else
                r = net_configure(s_ctr, cidx, def, reterr);
        if (r < 0) {
                /* put it back where it was */
                if (cidx > 0)
                        (void) nl_link_set_netns(s_ctr, cidx, own, NULL);
                return error_prefix(reterr, r, "%s in %s", ifname, netns);
        }
        return 0;
}

int caps_net_move_out(const char *ifname, const char *netns, char **reterr) {
        _cleanup_close_ int ctr = -1, own = -1, s_own = -1, s_ctr = -1;
        _cleanup_free_ char *msg = NULL, *err = NULL;
        int idx, r;

        r = nl_open(&s_own);
        if (r < 0)
                return error_set(reterr, r, "cannot open rtnetlink: %s", strerror(-r));
        r = caps_netns_open(netns, &ctr, &err);
        if (r < 0) {
                if (nl_ifindex(s_own, ifname) > 0)
                        return 0; /* the container is gone and the interface came back here */
                return error_set(reterr, r, "%s: %s; the interface is not in hostdev's namespace either", ifname,
                                 strna(err));
        }
        own = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (own < 0)
                return error_set(reterr, -errno, "cannot open this thread's network namespace: %m");
        r = nl_open_in(ctr, &s_ctr, reterr);
        if (r < 0)
                return r;
        idx = nl_ifindex(s_ctr, ifname);
        if (idx < 0) {
                if (nl_ifindex(s_own, ifname) > 0)
                        return 0;
                return error_set(reterr, -ENODEV, "no interface %s in %s nor in hostdev's namespace", ifname, netns);
        }
        if (nl_ifindex(s_own, ifname) > 0)
                return error_set(reterr, -EEXIST, "cannot move %s back from %s: hostdev's namespace has another "
                                 "interface with that name", ifname, netns);
        r = nl_link_set_netns(s_ctr, idx, own, &msg);
        if (r < 0)
                return error_set(reterr, r, "cannot move %s back from %s: %s", ifname, netns, msg ? msg : strerror(-r));
        return 0;
}

/* ---- device nodes -------------------------------------------------------------------------- */

static bool path_is_safe(const char *p) {
        if (!p || p[0] != '/')
                return false;
        for (const char *s = p; (s = strstr(s, "..")); s += 2)
                if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == 0))
                        return false;
        return true;
}

static char *host_node_path(const char *p) {
        const char *rest = startswith(p, "/dev/");
        return rest ? path_join(dev_root(), rest, NULL) : strdup(p);
}

int caps_node_create(const struct hostdev_def *def, const char *root, char **reterr) {
        bool block = def->type == HOSTDEV_TYPE_CAP_STORAGE;
        const char *p = block ? def->source.caps.block : def->source.caps.char_dev;
        const char *what = block ? "block" : "character";
        _cleanup_free_ char *host = NULL, *target = NULL, *dir = NULL;
        struct stat st, tst;

        if (def->type != HOSTDEV_TYPE_CAP_STORAGE && def->type != HOSTDEV_TYPE_CAP_MISC)
                return error_set(reterr, -EINVAL, "line %u: not a capabilities storage/misc <hostdev>", def->line);
        if (!path_is_safe(p))
                return error_set(reterr, -EINVAL, "line %u: %s device '%s' must be an absolute path without '..'",
                                 def->line, what, strna(p));
        if (isempty(root) || root[0] != '/')
                return error_set(reterr, -EINVAL, "--root must be an absolute directory");
        host = host_node_path(p);
        target = path_join(root, p + 1, NULL);
        if (!host || !target)
                return -ENOMEM;
        if (stat(host, &st) < 0)
                return error_set(reterr, -errno, "%s: %m", host);
        if (block ? !S_ISBLK(st.st_mode) : !S_ISCHR(st.st_mode))
                return error_set(reterr, -ENOTBLK, "%s is not a %s device", host, what);
        if (stat(root, &tst) < 0 || !S_ISDIR(tst.st_mode))
                return error_set(reterr, -ENOTDIR, "--root %s is not a directory", root);
        dir = strdup(target);
        if (!dir)
                return -ENOMEM;
        *strrchr(dir, '/') = 0;
        int r = mkdir_p(dir, 0755);
        if (r < 0)
                return error_set(reterr, r, "cannot create %s: %s", dir, strerror(-r));
        if (mknod(target, st.st_mode & (S_IFMT | 07777), st.st_rdev) < 0) {
                if (errno != EEXIST)
                        return error_set(reterr, -errno, "cannot create %s: %m", target);
                if (lstat(target, &tst) < 0)
                        return error_set(reterr, -errno, "%s: %m", target);
                if ((tst.st_mode & S_IFMT) != (st.st_mode & S_IFMT) || tst.st_rdev != st.st_rdev)
                        return error_set(reterr, -EEXIST, "%s exists and is not %s device %u:%u", target, what,
                                         major(st.st_rdev), minor(st.st_rdev));
                return 0;
        }
        if (chown(target, st.st_uid, st.st_gid) < 0) {
                r = error_set(reterr, -errno, "cannot set the owner of %s: %m", target);
                (void) unlink(target);
                return r;
        }
        return 1;
}

int caps_node_remove(const char *path, const char *root, char **reterr) {
        _cleanup_free_ char *target = NULL;
        struct stat st;
        if (!path_is_safe(path) || isempty(root))
                return error_set(reterr, -EINVAL, "invalid node %s under %s", strna(path), strna(root));
        target = path_join(root, path + 1, NULL);
        if (!target)
                return -ENOMEM;
        if (lstat(target, &st) < 0)
                return errno == ENOENT ? 0 : error_set(reterr, -errno, "%s: %m", target);
        if (!S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode))
                return error_set(reterr, -EINVAL, "%s is not a device node; left alone", target);
        if (unlink(target) < 0)
                return error_set(reterr, -errno, "cannot remove %s: %m", target);
        return 0;
}

/* ---- prepare / give back ------------------------------------------------------------------- */

int caps_prepare(const struct hostdev_def *def, const char *netns, const char *root, char **reterr) {
        switch (def->type) {
        case HOSTDEV_TYPE_CAP_NET:
                if (!netns)
                        return error_set(reterr, -EINVAL,
                                         "line %u: <hostdev mode='capabilities' type='net'> needs --netns PATH|PID",
                                         def->line);
                return caps_net_move_in(def, netns, reterr);
        case HOSTDEV_TYPE_CAP_STORAGE:
        case HOSTDEV_TYPE_CAP_MISC:
                if (!root)
                        return error_set(reterr, -EINVAL, "line %u: <hostdev mode='capabilities' type='%s'> needs --root DIR",
                                         def->line, def->type == HOSTDEV_TYPE_CAP_STORAGE ? "storage" : "misc");
                return caps_node_create(def, root, reterr);
        default:
                return 0;
        }
}

int caps_giveback(const struct claim *c, char **reterr) {
        const char *what;
        if (!c || !hostdev_type_is_caps(c->type) || !c->caps_target || !c->key)
                return 0;
        switch (c->type) {
        case HOSTDEV_TYPE_CAP_NET:
                what = startswith(c->key, "net:");
                return what ? caps_net_move_out(what, c->caps_target, reterr) : 0;
        case HOSTDEV_TYPE_CAP_STORAGE:
                what = startswith(c->key, "storage:");
                return what ? caps_node_remove(what, c->caps_target, reterr) : 0;
        case HOSTDEV_TYPE_CAP_MISC:
                what = startswith(c->key, "misc:");
                return what ? caps_node_remove(what, c->caps_target, reterr) : 0;
        default:
                return 0;
        }
}
