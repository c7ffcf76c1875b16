/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The re-attach loop: see watch.h.
 *
 * Per claim, what we believe the VM holds under its qdev id:
 *   UNKNOWN  not reconciled yet (domain not connected, or after a lost connection)
 *   ABSENT   no such qdev in the VM
 *   ADDING   device_add sent, no reply yet
 *   PRESENT  the usb-host qdev is there, for (bus, devnum)
 *   DELETING device_del sent, waiting for DEVICE_DELETED
 * A device that appears while the old qdev id still exists (quick replug: remove and add
 * both before DEVICE_DELETED) is queued on the claim and added when DEVICE_DELETED arrives.
 *
 * QMP: one non-blocking connection per domain, messages split and classified by
 * qmp_parser (qmp.h); commands are pipelined with string ids and completed by callbacks. */
#include "watch.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <signal.h>

#include "error.h"
#include "inventory.h"
#include "json-util.h"
#include "qmp.h"
#include "registry.h"
#include "usb-port.h"
#include "usbip.h"
#include "uevent.h"
#include "util.h"

#define USEC_PER_MSEC 1000ULL
#define RECONNECT_MIN_USEC (50 * USEC_PER_MSEC)
#define RECONNECT_MAX_USEC (2000 * USEC_PER_MSEC)

enum cstate { CS_UNKNOWN, CS_ABSENT, CS_ADDING, CS_PRESENT, CS_DELETING };
static const char *const cstate_names[] = { "unknown", "absent", "adding", "present", "deleting" };

struct devref { /* a host device the loop is about to give to a claim */
        bool set;
        unsigned bus, devnum;
        char *node, *desc;
        char *port; /* its physical port's sysfs name ("2-7"), or NULL */
        uint64_t t0; /* uevent receipt, 0 if not from a uevent */
        uint64_t t_decided; /* sysfs read, claim found */
        const char *waited_for; /* what the device_add waited for after that, or NULL */
        uint64_t t_sent; /* device_add sent */
};

struct wclaim {
        struct watch_claim c;
        enum cstate state;
        bool active;     /* registry state attached/unplugged (or no registry): ours to manage */
        bool made_up_id;
        struct devref adding; /* device_add in flight */
        bool del_after_add;
        struct devref queued; /* waiting for the old qdev id to go */
        /* reconcile: VM's view of the qdev */
        int rc_pending;
        unsigned rc_bus, rc_addr;
        char *rc_hostdevice;
        uint64_t del_deadline;
        uint64_t unplugged_at; /* its device went away (a replug may follow) */
        char *prev_port; /* the port its dongle was on before it last moved (kept reserved) */
        bool mark;
};

struct watch;
struct wdomain;

enum source_type { SRC_UDEV, SRC_INOTIFY, SRC_TIMER, SRC_SIGNAL, SRC_QMP, SRC_INJECT, SRC_PORTS };
struct source {
        enum source_type type;
        struct wdomain *d;
};

typedef void (*cmd_cb_t)(struct wdomain *d, const char *qdev_id, const struct qmp_msg *reply);

struct pcmd {
        struct pcmd *next;
        char id[24];
        char *qdev_id; /* claim the command is about, or NULL */
        cmd_cb_t cb;
        uint64_t deadline;
};

enum dstate { D_OFF, D_GREETING, D_CAPS, D_READY };

struct wdomain {
        struct watch *w;
        struct source src;
        char *name, *qmp_path;
        int fd;
        enum dstate state;
        struct qmp_parser *parser;
        struct strbuf out;
        bool want_out;
        struct pcmd *cmds;
        uint64_t next_id;
        uint64_t retry_at, retry_delay;
        uint64_t connect_deadline;
        uint64_t idle_since;
        bool need_connect;   /* work is waiting for a connection */
        bool idle_closed;    /* we closed an idle connection, knowing the VM's state: reconnecting
                              * for new work needs no reconcile */
        bool reconcile_wanted;
        bool reconciling;
        bool is_static;      /* added by watch_add_domain() */
        bool mark;
        char *last_error;
};

struct watch {
        struct watch_options o;
        char *only_domain;
        int epfd, timerfd, inotify_fd, sigfd, inject_fd;
        struct source src_udev, src_inotify, src_timer, src_signal, src_inject, src_ports;
        struct strbuf inject_buf;
        struct uevent_monitor *mon;
        struct registry *reg;
        struct wclaim **claims;
        size_t n_claims;
        struct wdomain **domains;
        size_t n_domains;
        uint64_t next_reconcile, next_gc;
        bool registry_dirty;
        bool stop;
        struct watch_stats stats;
        unsigned made_up_ids;
        char *marker;
        /* The host's USB devices for reconciling: one full scan, then kept up to date from the
         * uevents (a device read again after its uevent was acted on, dropped on remove), so a
         * reconcile does not block the loop with a full scan each time (a few hundred ms in the
         * TCG test VM) while a replug's uevent waits. Scanned again when it is old and the
         * USB side has been quiet for a while. */
        struct inventory *usb_inv;
        uint64_t usb_inv_at, last_usb_uevent;
        /* Ports reserved for the claims of running domains (usb-port.h): each claim's port and
         * its peer, claimed through usbfs, so the kernel binds no host driver to a dongle
         * replugged there and QEMU can take it as soon as it is enumerated. */
        struct wport *ports;
        size_t n_ports;
        bool ports_dirty;
        struct usb_port_worker *port_worker; /* the blocking usbfs and sysfs work (usb-port.h) */
};

struct wport {
        char *name;     /* "2-1" */
        int fd;         /* the usbfs fd holding the claim, or -1 */
        bool wanted;    /* a claim of a running domain is (or was last) on this port */
        bool foreign;   /* another device is plugged there: not ours until it goes */
        bool pending;   /* a claim of it is with the worker */
        bool giveback;  /* released with a device on it that still has to go back to the host */
        bool failed;    /* the last claim failed: tried again at the next reconcile tick */
        bool said;      /* ... and that was logged (once) */
};

/* ---- logging ----------------------------------------------------------------------------- */
static void wlog(struct watch *w, enum watch_log_level level, const char *fmt, ...) _printf_(3, 4);
static void wlog(struct watch *w, enum watch_log_level level, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        if (!w->o.log)
                return;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (s)
                w->o.log(w->o.userdata, level, s);
        free(s);
}

/* ---- claims ------------------------------------------------------------------------------ */
static void devref_done(struct devref *r) {
        free(r->node);
        free(r->desc);
        free(r->port);
        *r = (struct devref){ 0 };
}

static void watch_claim_done(struct watch_claim *c) {
        free(c->domain);
        free(c->key);
        free(c->qdev_id);
        free(c->serial);
        free(c->port);
        free(c->node);
        free(c->qemu_props);
        *c = (struct watch_claim){ 0 };
}

static struct wclaim *wclaim_free(struct wclaim *cl) {
        if (!cl)
                return NULL;
        watch_claim_done(&cl->c);
        devref_done(&cl->adding);
        devref_done(&cl->queued);
        free(cl->rc_hostdevice);
        free(cl->prev_port);
        free(cl);
        return NULL;
}

static int strdup_or_null(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int watch_claim_copy(const struct watch_claim *src, struct watch_claim *dst) {
        struct watch_claim c = *src;
        c.domain = c.key = c.qdev_id = c.serial = c.port = c.node = c.qemu_props = NULL;
        if (strdup_or_null(src->domain, &c.domain) < 0 || strdup_or_null(src->key, &c.key) < 0 ||
            strdup_or_null(src->qdev_id, &c.qdev_id) < 0 || strdup_or_null(src->serial, &c.serial) < 0 ||
            strdup_or_null(src->port, &c.port) < 0 || strdup_or_null(src->node, &c.node) < 0 ||
            strdup_or_null(src->qemu_props, &c.qemu_props) < 0) {
                watch_claim_done(&c);
                return -ENOMEM;
        }
        *dst = c;
        return 0;
}

static char *usb_dev_port_name(const struct nodedev *dev) {
        if (!dev->u.usb.port)
                return NULL;
        return strdup_printf("%u-%s", dev->u.usb.bus, dev->u.usb.port);
}

bool watch_claim_matches(const struct watch_claim *c, const struct nodedev *dev) {
        const struct usb_device_info *u;
        bool port_match = false;

        if (!c || !dev || dev->cap != NODEDEV_CAP_USB_DEVICE)
                return false;
        u = &dev->u.usb;
        if (u->is_hub || u->usbip_exported)
                return false;
        if (c->remote && !streq_ptr(u->hcd_driver, "vhci_hcd"))
                return false; /* a <remote> claim: the local dongle with that serial is not it */
        if ((c->vendor || c->product) && (u->vendor_id != c->vendor || u->product_id != c->product))
                return false;
        if (c->port) {
                _cleanup_free_ char *p = usb_dev_port_name(dev);
                port_match = (p && streq(p, c->port)) || streq_ptr(u->peer_port, c->port);
        }
        if (c->select & USB_SELECT_SERIAL)
                return c->serial && streq_ptr(u->serial, c->serial) &&
                       (!(c->select & USB_SELECT_PORT) || port_match);
        if (c->select & (USB_SELECT_PORT | USB_SELECT_BUS_DEVICE))
                return port_match;
        /* selected by ids alone: the identity recorded at claim time */
        if (c->serial)
                return streq_ptr(u->serial, c->serial);
        if (c->port)
                return port_match;
        return c->vendor || c->product;
}

/* How specific a match is (higher wins when several claims match one device). */
/* Does the claim know its device by serial (so its port is just where it is now)? */
static bool claim_identity_is_serial(const struct watch_claim *c) {
        return !isempty(c->serial) && !(c->select & (USB_SELECT_PORT | USB_SELECT_BUS_DEVICE));
}

static int match_score(const struct watch_claim *c, const struct nodedev *dev) {
        if (c->serial && streq_ptr(dev->u.usb.serial, c->serial))
                return c->port ? 4 : 3;
        if (c->port)
                return 2;
        return 1;
}

static struct wdomain *find_domain(struct watch *w, const char *name) {
        for (size_t i = 0; i < w->n_domains; i++)
                if (streq(w->domains[i]->name, name))
                        return w->domains[i];
        return NULL;
}

static struct wclaim *find_claim_by_id(struct watch *w, const char *domain, const char *qdev_id) {
        for (size_t i = 0; i < w->n_claims; i++)
                if (streq_ptr(w->claims[i]->c.domain, domain) && streq_ptr(w->claims[i]->c.qdev_id, qdev_id))
                        return w->claims[i];
        return NULL;
}

static struct wclaim *find_claim_by_key(struct watch *w, const char *domain, const char *key) {
        for (size_t i = 0; i < w->n_claims; i++)
                if (streq_ptr(w->claims[i]->c.domain, domain) && streq_ptr(w->claims[i]->c.key, key))
                        return w->claims[i];
        return NULL;
}

static bool in_scope(struct watch *w, const char *domain) {
        return !w->only_domain || streq_ptr(w->only_domain, domain);
}

static void make_up_id(struct watch *w, struct wclaim *cl) {
        if (cl->c.qdev_id)
                return;
        for (;;) {
                char *id = strdup_printf("hostdev-w%u", w->made_up_ids++);
                if (!id)
                        return;
                if (!find_claim_by_id(w, cl->c.domain, id)) {
                        cl->c.qdev_id = id;
                        cl->made_up_id = true;
                        return;
                }
                free(id);
        }
}

static int claims_append(struct watch *w, struct wclaim *cl) {
        struct wclaim **n = realloc(w->claims, sizeof(*n) * (w->n_claims + 1));
        if (!n)
                return -ENOMEM;
        w->claims = n;
        w->claims[w->n_claims++] = cl;
        return 0;
}

static void claims_remove(struct watch *w, struct wclaim *cl) {
        for (size_t i = 0; i < w->n_claims; i++)
                if (w->claims[i] == cl) {
                        memmove(w->claims + i, w->claims + i + 1, sizeof(*w->claims) * (w->n_claims - i - 1));
                        w->n_claims--;
                        wclaim_free(cl);
                        return;
                }
}

int watch_add_claim(struct watch *w, const struct watch_claim *c, char **reterr) {
        struct wclaim *cl;
        int r;

        if (!c || !c->domain)
                return error_set(reterr, -EINVAL, "a claim needs a domain");
        cl = c->qdev_id ? find_claim_by_id(w, c->domain, c->qdev_id) : NULL;
        if (cl) {
                struct watch_claim n;
                r = watch_claim_copy(c, &n);
                if (r < 0)
                        return r;
                watch_claim_done(&cl->c);
                cl->c = n;
                cl->active = true;
                w->ports_dirty = true;
                return 0;
        }
        cl = calloc(1, sizeof *cl);
        if (!cl)
                return -ENOMEM;
        r = watch_claim_copy(c, &cl->c);
        if (r < 0) {
                free(cl);
                return r;
        }
        cl->active = true;
        make_up_id(w, cl);
        r = claims_append(w, cl);
        if (r < 0) {
                wclaim_free(cl);
                return r;
        }
        struct wdomain *d = find_domain(w, c->domain);
        if (d)
                d->reconcile_wanted = true;
        w->ports_dirty = true;
        return 0;
}

static char *describe(unsigned bus, unsigned devnum, const char *node, const struct watch_claim *c) {
        struct strbuf sb = STRBUF_INIT;
        if (node)
                strbuf_append(&sb, node);
        else
                strbuf_appendf(&sb, "%03u:%03u", bus, devnum);
        strbuf_appendf(&sb, " (%04x:%04x", c->vendor, c->product);
        if (c->serial)
                strbuf_appendf(&sb, " serial %s", c->serial);
        else if (c->port)
                strbuf_appendf(&sb, " port %s", c->port);
        strbuf_append(&sb, ")");
        return strbuf_steal(&sb);
}

/* ---- registry write-back ----------------------------------------------------------------- */
static void registry_note(struct watch *w, struct wclaim *cl, bool attached) {
        _cleanup_free_ char *err = NULL;
        uint64_t t_start = now_usec();
        int r;

        if (!w->reg || !cl->c.key)
                return;
        /* one critical section: location and state change together */
        r = registry_lock(w->reg, &err);
        if (r >= 0) {
                if (!registry_find_by_key(w->reg, cl->c.key)) {
                        registry_unlock(w->reg); /* released meanwhile: nothing to record */
                        return;
                }
                r = registry_set_location(w->reg, cl->c.key, attached ? cl->c.node : NULL,
                                          attached ? cl->c.bus : 0, attached ? cl->c.devnum : 0,
                                          cl->c.qdev_id, &err);
                if (r >= 0 && attached && cl->c.port && claim_identity_is_serial(&cl->c))
                        r = registry_set_usb_port(w->reg, cl->c.key, cl->c.port, &err);
                if (r >= 0)
                        r = registry_set_state(w->reg, cl->c.key,
                                               attached ? CLAIM_STATE_ATTACHED : CLAIM_STATE_UNPLUGGED, &err);
                if (r >= 0)
                        r = registry_save(w->reg, &err);
                registry_unlock(w->reg);
        }
        if (r < 0)
                wlog(w, WATCH_LOG_WARNING, "cannot record %s of %s in the registry: %s", cl->c.key,
                     cl->c.domain, err ? err : strerror(-r));
        if (now_usec() - t_start > 20 * USEC_PER_MSEC)
                wlog(w, WATCH_LOG_DEBUG, "slow: registry write %.1f ms", (now_usec() - t_start) / 1000.0);
}

/* ---- QMP connection ---------------------------------------------------------------------- */
static void domain_disconnect(struct wdomain *d, const char *why);

static void arm_out(struct wdomain *d, bool want) {
        struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = &d->src };
        if (d->fd < 0 || d->want_out == want)
                return;
        d->want_out = want;
        (void) epoll_ctl(d->w->epfd, EPOLL_CTL_MOD, d->fd, &ev);
}

static int domain_flush(struct wdomain *d) {
        while (d->out.len > 0) {
                ssize_t n = send(d->fd, d->out.buf, d->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR) {
                                arm_out(d, true);
                                return 0;
                        }
                        return -errno;
                }
                memmove(d->out.buf, d->out.buf + n, d->out.len - (size_t) n);
                d->out.len -= (size_t) n;
        }
        arm_out(d, false);
        return 0;
}

static uint64_t qmp_timeout_usec(struct watch *w) {
        return (uint64_t) (w->o.qmp_timeout_ms ? w->o.qmp_timeout_ms : 5000) * USEC_PER_MSEC;
}

/* Send a command (args borrowed). The callback gets the reply, or NULL if the connection
 * went away or the command timed out. */
static int domain_send(struct wdomain *d, const char *command, json_object *args, const char *qdev_id,
                       cmd_cb_t cb) {
        _cleanup_json_ json_object *o = json_object_new_object();
        struct pcmd *p;
        int r;

        if (!o)
                return -ENOMEM;
        p = calloc(1, sizeof *p);
        if (!p)
                return -ENOMEM;
        snprintf(p->id, sizeof p->id, "w%llu", (unsigned long long) ++d->next_id);
        if (qdev_id && !(p->qdev_id = strdup(qdev_id))) {
                free(p);
                return -ENOMEM;
        }
        p->cb = cb;
        p->deadline = now_usec() + qmp_timeout_usec(d->w);
        json_object_object_add(o, "execute", json_object_new_string(command));
        if (args)
                json_object_object_add(o, "arguments", json_object_get(args));
        json_object_object_add(o, "id", json_object_new_string(p->id));
        strbuf_append(&d->out, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        strbuf_append(&d->out, "\r\n");
        if (d->out.oom) {
                free(p->qdev_id);
                free(p);
                return -ENOMEM;
        }
        /* append at the tail: replies come in order */
        struct pcmd **tail = &d->cmds;
        while (*tail)
                tail = &(*tail)->next;
        *tail = p;
        r = domain_flush(d);
        if (r < 0) {
                domain_disconnect(d, "write failed");
                return r;
        }
        return 0;
}

static void pcmd_free(struct pcmd *p) {
        free(p->qdev_id);
        free(p);
}

static void on_caps(struct wdomain *d, const char *qdev_id, const struct qmp_msg *m);
static void domain_reconcile(struct wdomain *d);
static void claim_work(struct wdomain *d, struct wclaim *cl);

static void domain_schedule_retry(struct wdomain *d) {
        uint64_t now = now_usec();
        d->retry_delay = d->retry_delay ? d->retry_delay * 2 : RECONNECT_MIN_USEC;
        if (d->retry_delay > RECONNECT_MAX_USEC)
                d->retry_delay = RECONNECT_MAX_USEC;
        d->retry_at = now + d->retry_delay;
}

static void domain_disconnect(struct wdomain *d, const char *why) {
        struct watch *w = d->w;
        struct pcmd *p;

        if (d->fd >= 0) {
                (void) epoll_ctl(w->epfd, EPOLL_CTL_DEL, d->fd, NULL);
                d->fd = safe_close(d->fd);
        }
        d->idle_closed = false;
        if (why && d->state != D_OFF)
                wlog(w, WATCH_LOG_DEBUG, "%s: QMP connection closed: %s", d->name, why);
        d->state = D_OFF;
        d->want_out = false;
        strbuf_done(&d->out);
        d->parser = qmp_parser_free(d->parser);
        while ((p = d->cmds)) {
                d->cmds = p->next;
                pcmd_free(p);
        }
        d->reconciling = false;
        /* what was in flight is unknown now: reconcile after reconnecting */
        for (size_t i = 0; i < w->n_claims; i++) {
                struct wclaim *cl = w->claims[i];
                if (!streq_ptr(cl->c.domain, d->name))
                        continue;
                if (cl->state == CS_ADDING || cl->state == CS_DELETING) {
                        if (cl->state == CS_ADDING && !cl->queued.set) {
                                cl->queued = cl->adding;
                                cl->adding = (struct devref){ 0 };
                        }
                        devref_done(&cl->adding);
                        cl->state = CS_UNKNOWN;
                        d->need_connect = true;
                }
                if (cl->state != CS_ABSENT && cl->state != CS_PRESENT)
                        cl->state = CS_UNKNOWN;
                cl->rc_pending = 0;
        }
        d->reconcile_wanted = true;
        domain_schedule_retry(d);
}

static int domain_connect(struct wdomain *d) {
        struct watch *w = d->w;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        int r;

        if (d->state != D_OFF)
                return 0;
        if (!d->qmp_path || strlen(d->qmp_path) >= sizeof sa.sun_path) {
                domain_schedule_retry(d);
                return -EINVAL;
        }
        strcpy(sa.sun_path, d->qmp_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS && errno != EAGAIN) {
                r = -errno;
                if (!streq_ptr(d->last_error, strerror(-r))) {
                        free(d->last_error);
                        d->last_error = strdup(strerror(-r));
                        wlog(w, WATCH_LOG_DEBUG, "%s: cannot connect to %s: %s (retrying)", d->name,
                             d->qmp_path, strerror(-r));
                }
                domain_schedule_retry(d);
                return r;
        }
        r = qmp_parser_new(0, &d->parser);
        if (r < 0)
                return r;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &d->src };
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                d->parser = qmp_parser_free(d->parser);
                return -errno;
        }
        d->fd = TAKE_FD(fd);
        d->connect_deadline = now_usec() + qmp_timeout_usec(w);
        d->idle_since = 0;
        /* No round trip for the greeting: QEMU sends it as it accepts and reads what we wrote
         * only after that, in order. So qmp_capabilities goes out now, and so does the work
         * that waited for the connection (a device_add for a replugged dongle): they are
         * answered in turn; if the negotiation fails, they fail too and the connection is
         * made again. */
        d->state = D_CAPS;
        r = domain_send(d, "qmp_capabilities", NULL, NULL, on_caps);
        if (r < 0)
                return r;
        for (size_t i = 0; i < w->n_claims && d->state == D_CAPS; i++)
                if (streq_ptr(w->claims[i]->c.domain, d->name))
                        claim_work(d, w->claims[i]);
        return 0;
}

/* Commands can be written: connected, or negotiating (what we write is read after that). */
static bool domain_can_send(const struct wdomain *d) {
        return d->state == D_READY || d->state == D_CAPS;
}

static void on_caps(struct wdomain *d, const char *qdev_id, const struct qmp_msg *m) {
        if (!m || m->type != QMP_MSG_RETURN) {
                domain_disconnect(d, m ? m->error_desc : "qmp_capabilities got no answer");
                return;
        }
        d->state = D_READY;
        d->retry_delay = 0;
        free(d->last_error);
        d->last_error = NULL;
        d->need_connect = false;
        wlog(d->w, WATCH_LOG_DEBUG, "%s: connected to %s", d->name, d->qmp_path);
        /* work that waited for the connection first, then the full comparison (not when we
         * closed the last connection ourselves while idle and nothing asks for one) */
        for (size_t i = 0; i < d->w->n_claims && d->fd >= 0; i++)
                if (streq_ptr(d->w->claims[i]->c.domain, d->name))
                        claim_work(d, d->w->claims[i]);
        if (!d->idle_closed || d->reconcile_wanted)
                domain_reconcile(d);
        d->idle_closed = false;
}

static void handle_event(struct wdomain *d, const struct qmp_msg *m);

static void handle_msg(struct wdomain *d, struct qmp_msg *m) {
        struct pcmd *p, **pp;

        switch (m->type) {
        case QMP_MSG_GREETING:
                /* qmp_capabilities went out with the connect (domain_connect) */
                return;
        case QMP_MSG_EVENT:
                handle_event(d, m);
                return;
        case QMP_MSG_RETURN:
        case QMP_MSG_ERROR:
                if (!m->id)
                        return;
                for (pp = &d->cmds; (p = *pp); pp = &p->next)
                        if (streq(p->id, m->id)) {
                                *pp = p->next;
                                p->cb(d, p->qdev_id, m);
                                pcmd_free(p);
                                return;
                        }
                return; /* stray reply of a timed-out command */
        }
}

static void domain_readable(struct wdomain *d) {
        char buf[16384];

        for (;;) {
                ssize_t n = recv(d->fd, buf, sizeof buf, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                break;
                        domain_disconnect(d, strerror(errno));
                        return;
                }
                if (n == 0) {
                        domain_disconnect(d, "QEMU closed the socket");
                        return;
                }
                if (qmp_parser_feed(d->parser, buf, (size_t) n) < 0) {
                        domain_disconnect(d, "out of memory");
                        return;
                }
                for (;;) {
                        _cleanup_(qmp_msg_freep) struct qmp_msg *m = NULL;
                        _cleanup_free_ char *err = NULL;
                        int r = qmp_parser_next(d->parser, &m, &err);
                        if (r == 0)
                                break;
                        if (r < 0) {
                                wlog(d->w, WATCH_LOG_WARNING, "%s: bad QMP message: %s", d->name, strna(err));
                                continue;
                        }
                        handle_msg(d, m);
                        if (d->fd < 0) /* disconnected by a handler */
                                return;
                }
                if ((size_t) n < sizeof buf)
                        break;
        }
}

/* ---- actions ----------------------------------------------------------------------------- */
static void on_add_reply(struct wdomain *d, const char *qdev_id, const struct qmp_msg *m);
static void on_del_reply(struct wdomain *d, const char *qdev_id, const struct qmp_msg *m);

static void send_del(struct wdomain *d, struct wclaim *cl) {
        _cleanup_json_ json_object *a = json_object_new_object();
        if (!a)
                return;
        json_object_object_add(a, "id", json_object_new_string(cl->c.qdev_id));
        cl->state = CS_DELETING;
        cl->del_deadline = now_usec() + qmp_timeout_usec(d->w);
        d->w->stats.dels_sent++;
        (void) domain_send(d, "device_del", a, cl->c.qdev_id, on_del_reply);
}

static void send_add(struct wdomain *d, struct wclaim *cl, struct devref *ref) {
        _cleanup_json_ json_object *a = json_object_new_object();
        if (!a)
                return;
        json_object_object_add(a, "driver", json_object_new_string("usb-host"));
        json_object_object_add(a, "id", json_object_new_string(cl->c.qdev_id));
        /* where the guest had it (bus, port), its bootindex, ...: as at the first attach */
        if (cl->c.qemu_props) {
                _cleanup_json_ json_object *extra = json_tokener_parse(cl->c.qemu_props);
                if (extra && json_object_is_type(extra, json_type_object)) {
                        json_object_object_foreach(extra, k, v) {
                                if (!streq(k, "driver") && !streq(k, "id") && !streq(k, "hostdevice") &&
                                    !streq(k, "hostbus") && !streq(k, "hostaddr") && !streq(k, "hostport"))
                                        json_object_object_add(a, k, json_object_get(v));
                        }
                }
        }
        /* by its node, as on `hostdev run`'s command line: QEMU opens the path itself, so it
         * needs neither libusb's device list (which learns of new devices only through udevd)
         * nor a rescan */
        _cleanup_free_ char *node = usb_node_path(ref->bus, ref->devnum);
        if (!node)
                return;
        json_object_object_add(a, "hostdevice", json_object_new_string(node));
        devref_done(&cl->adding);
        cl->adding = *ref;
        cl->adding.t_sent = now_usec();
        *ref = (struct devref){ 0 };
        cl->del_after_add = false;
        cl->state = CS_ADDING;
        d->w->stats.adds_sent++;
        (void) domain_send(d, "device_add", a, cl->c.qdev_id, on_add_reply);
}

static void on_add_reply(struct wdomain *d, const char *qdev_id, const struct qmp_msg *m) {
        struct watch *w = d->w;
        struct wclaim *cl = find_claim_by_id(w, d->name, qdev_id);
        uint64_t t1 = now_usec();

        if (!cl || cl->state != CS_ADDING)
                return;
        if (!m) {
                cl->state = CS_UNKNOWN;
                return;
        }
        if (m->type == QMP_MSG_RETURN) {
                w->stats.adds_ok++;
                cl->state = CS_PRESENT;
                cl->c.bus = cl->adding.bus;
                cl->c.devnum = cl->adding.devnum;
                free(cl->c.node);
                cl->c.node = TAKE_PTR(cl->adding.node);
                /* identity by serial: the port is only where it is now (status shows it) */
                if (cl->adding.port && claim_identity_is_serial(&cl->c) && !streq_ptr(cl->c.port, cl->adding.port)) {
                        free(cl->prev_port);
                        cl->prev_port = cl->c.port;
                        cl->c.port = TAKE_PTR(cl->adding.port);
                }
                if (cl->adding.t0) {
                        wlog(w, WATCH_LOG_INFO, "re-attached %s to %s in %.1f ms", strna(cl->adding.desc),
                             d->name, (double) (t1 - cl->adding.t0) / 1000.0);
                        wlog(w, WATCH_LOG_DEBUG, "%s: %.1f ms from the uevent to device_add, %.1f ms in QEMU's device_add"
                             " (reading sysfs and finding the claim %.1f ms, then waiting %.1f ms for %s;"
                             " uevent received at %.6f s, CLOCK_MONOTONIC)",
                             d->name, (double) (cl->adding.t_sent - cl->adding.t0) / 1000.0,
                             (double) (t1 - cl->adding.t_sent) / 1000.0,
                             (double) (cl->adding.t_decided - cl->adding.t0) / 1000.0,
                             (double) (cl->adding.t_sent - cl->adding.t_decided) / 1000.0,
                             cl->adding.waited_for ? cl->adding.waited_for : "nothing",
                             (double) cl->adding.t0 / 1e6);
                }
                else
                        wlog(w, WATCH_LOG_INFO, "attached %s to %s", strna(cl->adding.desc), d->name);
                devref_done(&cl->adding);
                w->ports_dirty = true; /* its port may have changed */
                registry_note(w, cl, true);
                if (cl->del_after_add) /* it went away while we were adding it */
                        send_del(d, cl);
                else if (cl->queued.set)
                        send_del(d, cl);
                return;
        }
        w->stats.adds_failed++;
        if (m->error_desc && strstr(m->error_desc, "Duplicate")) {
                /* the old qdev is still there: remove it, then add */
                if (!cl->queued.set) {
                        cl->queued = cl->adding;
                        cl->adding = (struct devref){ 0 };
                }
                cl->state = CS_PRESENT;
                send_del(d, cl);
                return;
        }
        wlog(w, WATCH_LOG_ERROR, "cannot attach %s to %s: QEMU: %s", strna(cl->adding.desc), d->name,
             strna(m->error_desc));
        devref_done(&cl->adding);
        cl->state = CS_ABSENT;
}

static void on_del_reply(struct wdomain *d, const char *qdev_id, const struct qmp_msg *m) {
        struct wclaim *cl = find_claim_by_id(d->w, d->name, qdev_id);
        if (!cl || cl->state != CS_DELETING)
                return;
        if (!m) {
                cl->state = CS_UNKNOWN;
                return;
        }
        if (m->type == QMP_MSG_ERROR) {
                /* DeviceNotFound: it is already gone */
                if (streq_ptr(m->error_class, "DeviceNotFound")) {
                        cl->state = CS_ABSENT;
                        claim_work(d, cl);
                        return;
                }
                wlog(d->w, WATCH_LOG_ERROR, "%s: device_del %s failed: %s", d->name, qdev_id,
                     strna(m->error_desc));
                cl->state = CS_UNKNOWN;
                d->reconcile_wanted = true;
        }
        /* success: wait for DEVICE_DELETED */
}

static void handle_event(struct wdomain *d, const struct qmp_msg *m) {
        json_object *dev;
        struct wclaim *cl;

        if (!streq_ptr(m->event, "DEVICE_DELETED") || !m->data ||
            !json_object_object_get_ex(m->data, "device", &dev))
                return;
        d->w->stats.deleted_events++;
        cl = find_claim_by_id(d->w, d->name, json_object_get_string(dev));
        if (!cl)
                return;
        if (cl->state == CS_DELETING || cl->state == CS_PRESENT || cl->state == CS_UNKNOWN) {
                cl->state = CS_ABSENT;
                claim_work(d, cl);
        }
}

/* Bring the VM in line with what the claim should hold, for the states that allow it. */
static void claim_work(struct wdomain *d, struct wclaim *cl) {
        if (!domain_can_send(d)) {
                d->need_connect = true;
                return;
        }
        switch (cl->state) {
        case CS_ABSENT:
                if (cl->queued.set) {
                        struct devref r = cl->queued;
                        cl->queued = (struct devref){ 0 };
                        send_add(d, cl, &r);
                }
                break;
        case CS_PRESENT:
                if (cl->queued.set || cl->c.bus == 0) /* replaced, or gone from the host */
                        send_del(d, cl);
                break;
        default:
                break;
        }
}

static void device_added(struct watch *w, struct wclaim *cl, const struct nodedev *dev, const char *node,
                         uint64_t t0) {
        struct wdomain *d = find_domain(w, cl->c.domain);
        unsigned bus = dev->u.usb.bus, devnum = dev->u.usb.devnum;
        struct devref ref = { .set = true, .bus = bus, .devnum = devnum, .t0 = t0, .t_decided = now_usec() };

        if (!d)
                return;
        ref.waited_for = !domain_can_send(d)             ? "the QMP connection"
                         : cl->state == CS_DELETING      ? "DEVICE_DELETED of the old one"
                         : cl->state == CS_ADDING        ? "the previous device_add"
                         : d->cmds                       ? "earlier QMP commands"
                                                         : NULL;
        if (cl->state == CS_PRESENT && cl->c.bus == bus && cl->c.devnum == devnum)
                return; /* already there */
        if (cl->state == CS_ADDING && cl->adding.bus == bus && cl->adding.devnum == devnum)
                return;
        if (cl->queued.set && cl->queued.bus == bus && cl->queued.devnum == devnum)
                return;
        ref.node = node ? strdup(node) : NULL;
        ref.port = usb_dev_port_name(dev);
        ref.desc = describe(bus, devnum, node, &cl->c);
        devref_done(&cl->queued);
        cl->queued = ref;
        if (cl->state == CS_DELETING || cl->state == CS_ADDING)
                w->stats.queued_adds++;
        claim_work(d, cl);
}

static void device_removed(struct watch *w, struct wclaim *cl) {
        struct wdomain *d = find_domain(w, cl->c.domain);
        _cleanup_free_ char *desc = describe(cl->c.bus, cl->c.devnum, cl->c.node, &cl->c);

        cl->c.bus = cl->c.devnum = 0;
        free(cl->c.node);
        cl->c.node = NULL;
        cl->unplugged_at = now_usec();
        if (!d)
                return;
        if (cl->state == CS_PRESENT && domain_can_send(d)) {
                wlog(w, WATCH_LOG_INFO, "unplugged %s from %s (device_del %s)", strna(desc), d->name,
                     cl->c.qdev_id);
                send_del(d, cl);
        } else if (cl->state == CS_PRESENT || cl->state == CS_UNKNOWN) {
                /* not connected right now (idle): device_del as soon as we are */
                wlog(w, WATCH_LOG_INFO, "unplugged %s from %s (device_del %s when connected)", strna(desc),
                     d->name, cl->c.qdev_id);
                d->need_connect = true;
                if (cl->state == CS_UNKNOWN)
                        d->reconcile_wanted = true;
        }
        registry_note(w, cl, false);
}

/* The claim that should get dev: the most specific match among active claims of known
 * domains that hold no other device. NULL if none or if claims of different domains tie. */
static struct wclaim *claim_for_device(struct watch *w, const struct nodedev *dev, bool *ret_ambiguous) {
        struct wclaim *best = NULL;
        int best_score = 0;
        bool tie = false;
        unsigned bus = dev->u.usb.bus, devnum = dev->u.usb.devnum;

        *ret_ambiguous = false;
        for (size_t i = 0; i < w->n_claims; i++) {
                struct wclaim *cl = w->claims[i];
                if (!cl->active || !find_domain(w, cl->c.domain))
                        continue;
                if (cl->c.bus == bus && cl->c.devnum == devnum && watch_claim_matches(&cl->c, dev))
                        return cl; /* already holds it */
                if (cl->adding.set && cl->adding.bus == bus && cl->adding.devnum == devnum)
                        return cl;
        }
        for (size_t i = 0; i < w->n_claims; i++) {
                struct wclaim *cl = w->claims[i];
                if (!cl->active || !find_domain(w, cl->c.domain))
                        continue;
                if (cl->c.bus != 0) /* holds another device */
                        continue;
                if (cl->state == CS_ADDING)
                        continue;
                if (!watch_claim_matches(&cl->c, dev))
                        continue;
                int s = match_score(&cl->c, dev);
                if (s > best_score) {
                        best = cl;
                        best_score = s;
                        tie = false;
                } else if (s == best_score && !streq_ptr(best->c.domain, cl->c.domain))
                        tie = true;
        }
        if (tie) {
                *ret_ambiguous = true;
                return NULL;
        }
        return best;
}

static struct wclaim *claim_holding(struct watch *w, unsigned bus, unsigned devnum, const char *node) {
        for (size_t i = 0; i < w->n_claims; i++) {
                struct wclaim *cl = w->claims[i];
                if (bus && cl->c.bus == bus && cl->c.devnum == devnum)
                        return cl;
                if (!bus && node && streq_ptr(cl->c.node, node))
                        return cl;
        }
        return NULL;
}

/* ---- reserved ports ------------------------------------------------------------------------
 * The port of each claim of a running domain (and the port's peer, its other name) is claimed
 * through usbfs while the loop runs: a device plugged there stays unconfigured, with no host
 * driver, until the loop has matched it (usb-port.h). A device that turns out not to be the
 * claim's goes back to the host at once, and its port stays released until it is unplugged. */
static struct wport *port_find(struct watch *w, const char *name) {
        for (size_t i = 0; name && i < w->n_ports; i++)
                if (streq(w->ports[i].name, name))
                        return &w->ports[i];
        return NULL;
}

static bool device_is_claimed(struct watch *w, unsigned bus, unsigned devnum) {
        for (size_t i = 0; i < w->n_claims; i++) {
                const struct wclaim *cl = w->claims[i];
                if ((cl->c.bus == bus && cl->c.devnum == devnum) ||
                    (cl->adding.set && cl->adding.bus == bus && cl->adding.devnum == devnum) ||
                    (cl->queued.set && cl->queued.bus == bus && cl->queued.devnum == devnum))
                        return true;
        }
        return false;
}

static void log_give_back(struct watch *w, const char *port, int r, const char *err) {
        if (r > 0)
                wlog(w, WATCH_LOG_INFO, "gave the device on port %s back to the host's drivers", port);
        else if (r < 0)
                wlog(w, WATCH_LOG_WARNING, "cannot give the device on port %s back to the host: %s", port,
                     err ? err : strerror(-r));
}

/* The port goes free (its fd closed by the worker: closing waits for the hub's lock too). */
static void port_release(struct watch *w, struct wport *p) {
        if (p->fd < 0)
                return;
        if (!w->port_worker || usb_port_worker_submit(w->port_worker, USB_PORT_RELEASE, p->name, p->fd, false) < 0)
                safe_close(p->fd); /* (submit closed it on failure) */
        p->fd = -1;
}

/* The device on a port we no longer hold goes back to the host's drivers, unless one of our
 * claims has it; if a process (a QEMU) still has it open, it is tried again later. */
static void port_give_back(struct watch *w, struct wport *p) {
        unsigned bus, devnum;

        p->giveback = false;
        if (!w->port_worker || !usb_port_device(p->name, &bus, &devnum) || device_is_claimed(w, bus, devnum))
                return;
        if (usb_port_worker_submit(w->port_worker, USB_PORT_GIVE_BACK, p->name, -1, true) < 0)
                p->giveback = true;
}

static int ports_want(struct watch *w, const char *name) {
        struct wport *p = port_find(w, name);
        if (!p) {
                struct wport *n = realloc(w->ports, sizeof(*n) * (w->n_ports + 1));
                if (!n)
                        return -ENOMEM;
                w->ports = n;
                p = &w->ports[w->n_ports];
                *p = (struct wport){ .name = strdup(name), .fd = -1 };
                if (!p->name)
                        return -ENOMEM;
                w->n_ports++;
        }
        p->wanted = true;
        return 0;
}

static void ports_drop(struct watch *w, size_t i) {
        free(w->ports[i].name);
        safe_close(w->ports[i].fd);
        memmove(w->ports + i, w->ports + i + 1, sizeof(*w->ports) * (w->n_ports - i - 1));
        w->n_ports--;
}

static void ports_sync(struct watch *w) {
        w->ports_dirty = false;
        if (!w->port_worker)
                return;
        for (size_t i = 0; i < w->n_ports; i++)
                w->ports[i].wanted = false;
        for (size_t i = 0; i < w->n_claims; i++) {
                const struct wclaim *cl = w->claims[i];
                if (!cl->active || cl->c.remote || !cl->c.port || !find_domain(w, cl->c.domain))
                        continue;
                /* where it is (or was last), and where it was before it moved */
                const char *where[2] = { cl->c.port, cl->prev_port };
                for (size_t k = 0; k < ELEMENTSOF(where); k++) {
                        _cleanup_free_ char *peer = NULL;
                        if (!where[k])
                                continue;
                        if (ports_want(w, where[k]) < 0)
                                return;
                        if (usb_port_peer(where[k], &peer) >= 0 && peer && ports_want(w, peer) < 0)
                                return;
                }
        }
        for (size_t i = w->n_ports; i > 0; i--) {
                struct wport *p = &w->ports[i - 1];
                unsigned bus, devnum;
                if (!p->wanted) {
                        bool held = p->fd >= 0;
                        if (held) {
                                port_release(w, p);
                                wlog(w, WATCH_LOG_DEBUG, "port %s: no longer reserved", p->name);
                        }
                        if (held || p->giveback)
                                port_give_back(w, p);
                        if (!p->giveback && !p->pending)
                                ports_drop(w, i - 1);
                        continue;
                }
                if (p->fd >= 0 || p->foreign || p->pending || p->failed)
                        continue;
                /* another device is there now: the port is reserved once it has gone */
                if (usb_port_device(p->name, &bus, &devnum) && !device_is_claimed(w, bus, devnum))
                        continue;
                if (usb_port_worker_submit(w->port_worker, USB_PORT_CLAIM, p->name, -1, false) >= 0)
                        p->pending = true;
        }
}

/* The worker's results. */
static void ports_done(struct watch *w) {
        struct usb_port_job *j = usb_port_worker_take_done(w->port_worker);
        while (j) {
                struct usb_port_job *next = j->next;
                struct wport *p = port_find(w, j->name);
                if (j->op == USB_PORT_CLAIM && p) {
                        p->pending = false;
                        if (j->r >= 0 && p->wanted && !p->foreign) {
                                p->fd = TAKE_FD(j->fd);
                                j->r = -1;
                                p->said = false;
                                wlog(w, WATCH_LOG_DEBUG, "port %s: reserved (no host driver binds a device plugged there)",
                                     p->name);
                        } else if (j->r >= 0) {
                                /* not wanted any more: the worker closes it (closing waits too) */
                                (void) usb_port_worker_submit(w->port_worker, USB_PORT_RELEASE, p->name, TAKE_FD(j->fd), false);
                                j->r = -1;
                                w->ports_dirty = true; /* drop it */
                        } else {
                                p->failed = true; /* not before the next tick: no busy retry */
                                if (!p->said)
                                        wlog(w, WATCH_LOG_DEBUG, "port %s: cannot reserve it: %s", p->name,
                                             j->err ? j->err : strerror(-j->r));
                                p->said = true;
                                if (!p->wanted)
                                        w->ports_dirty = true; /* drop it */
                        }
                } else if (j->op == USB_PORT_GIVE_BACK) {
                        if (j->r == -EBUSY) {
                                if (p)
                                        p->giveback = true; /* still open: again at the next tick */
                        } else
                                log_give_back(w, j->name, j->r, j->err);
                }
                usb_port_job_free(j); /* a claim's fd nobody took is closed: the port goes free */
                j = next;
        }
}

/* A device that no claim takes came on a port we hold: release the port (both its names) and
 * hand the device to the host's drivers; the port is reserved again once the device goes. */
static void port_foreign_device(struct watch *w, const struct nodedev *dev) {
        _cleanup_free_ char *name = usb_dev_port_name(dev);
        const char *names[2] = { name, dev->u.usb.peer_port };
        bool ours = false;

        for (size_t k = 0; k < ELEMENTSOF(names); k++) {
                struct wport *p = port_find(w, names[k]);
                if (!p)
                        continue;
                if (p->fd >= 0 || p->pending)
                        ours = true;
                port_release(w, p);
                p->foreign = true;
        }
        if (!ours || !name || !w->port_worker)
                return;
        /* after the release (the worker keeps the order); nobody can hold it yet */
        if (usb_port_worker_submit(w->port_worker, USB_PORT_GIVE_BACK, name, -1, false) >= 0)
                wlog(w, WATCH_LOG_INFO, "%s (%04x:%04x serial %s) on a reserved port is no claimed device: "
                     "given to the host's drivers", strna(dev->name), dev->u.usb.vendor_id, dev->u.usb.product_id,
                     dev->u.usb.serial_unread ? "not read" : strna(dev->u.usb.serial));
}

static void port_device_removed(struct watch *w, const char *sysname) {
        struct wport *p = port_find(w, sysname);
        if (p && p->foreign) {
                p->foreign = false;
                _cleanup_free_ char *peer = NULL;
                struct wport *q = usb_port_peer(sysname, &peer) >= 0 ? port_find(w, peer) : NULL;
                if (q)
                        q->foreign = false;
                w->ports_dirty = true;
        }
}

static void usb_inventory_update(struct watch *w, const struct usb_uevent *ev, struct nodedev *dev, int read_r);

/* What the watch loop reads of a USB device: not the manufacturer and product strings, whose
 * reads take the device's lock that QEMU's open() of the node waits for. */
#define WATCH_USB_READ (INVENTORY_SCAN_NO_HWDB | INVENTORY_SCAN_NO_USB_STRINGS)

/* Could a new device's serial decide anything? Only if a claim could take it (an active claim
 * of a known domain that holds no device and is adding none, whose ids match), a claim holds
 * that very bus:device already, or a dongle host's export claim could cover it. Otherwise the
 * serial is left unread: reading it takes the device's lock, which the host driver's probe
 * holds (usb-storage on a port nobody reserved: 60 ms seen), and the loop would wait. */
static bool serial_wanted(struct watch *w, const struct usb_uevent *ev) {
        for (size_t i = 0; i < w->n_claims; i++) {
                const struct wclaim *cl = w->claims[i];
                if ((cl->c.bus == ev->bus && cl->c.devnum == ev->devnum) ||
                    (cl->adding.set && cl->adding.bus == ev->bus && cl->adding.devnum == ev->devnum))
                        return true;
                if (!cl->active || !find_domain(w, cl->c.domain) || cl->c.bus != 0 || cl->state == CS_ADDING)
                        continue;
                if ((cl->c.vendor || cl->c.product) && (cl->c.vendor != ev->vendor || cl->c.product != ev->product))
                        continue;
                return true;
        }
        return usbip_registry_has_export_claim(w->reg);
}

/* The device of a uevent, read from sysfs in full as the loop reads devices (WATCH_USB_READ). */
static int read_usb_device(const struct usb_uevent *ev, struct nodedev **ret, char **reterr) {
        _cleanup_free_ char *dir = path_join(sysfs_root(), ev->devpath, NULL);
        return dir ? nodedev_read_usb(dir, WATCH_USB_READ, ret, reterr) : -ENOMEM;
}

/* Act on one USB device uevent. On "add", *ret_dev is the device as read from sysfs (NULL if
 * it could not be read) and the read's result is returned, for usb_inventory_update(). */
static int handle_uevent(struct watch *w, const struct usb_uevent *ev, struct nodedev **ret_dev) {
        _cleanup_free_ char *node = usb_node_name_from_sysname(ev->sysname);

        *ret_dev = NULL;
        w->stats.uevents++;
        if (!usb_uevent_is_usb_device(ev))
                return 0;
        w->last_usb_uevent = now_usec();
        wlog(w, WATCH_LOG_DEBUG, "uevent %s %s (%u:%u)", uevent_action_to_string(ev->action),
             strna(ev->sysname), ev->bus, ev->devnum);
        if (ev->action == UEVENT_REMOVE) {
                for (size_t i = 0; i < w->n_claims; i++) {
                        struct wclaim *cl = w->claims[i];
                        if (cl->queued.set && cl->queued.bus == ev->bus && cl->queued.devnum == ev->devnum)
                                devref_done(&cl->queued); /* gone again before we could add it */
                        if (cl->state == CS_ADDING && cl->adding.bus == ev->bus && cl->adding.devnum == ev->devnum)
                                cl->del_after_add = true;
                }
                struct wclaim *cl = claim_holding(w, ev->bus, ev->devnum, node);
                if (cl && cl->active)
                        device_removed(w, cl);
                port_device_removed(w, ev->sysname);
                return 0;
        }
        if (ev->action != UEVENT_ADD)
                return 0; /* bind/change of a device we saw being added: nothing new */

        _cleanup_free_ char *err = NULL;
        struct nodedev *dev = NULL;
        int r;
        if (ev->has_ids && ev->has_type && ev->bus && ev->devnum) {
                /* what the kernel said, plus the serial and a few links */
                struct usb_event_info info = {
                        .devpath = ev->devpath, .bus = ev->bus, .devnum = ev->devnum, .vendor = ev->vendor,
                        .product = ev->product, .dev_class = ev->dev_class, .dev_subclass = ev->dev_subclass,
                        .dev_protocol = ev->dev_protocol, .no_serial = !serial_wanted(w, ev),
                };
                r = nodedev_read_usb_event(&info, &dev, &err);
        } else
                r = read_usb_device(ev, &dev, &err);
        if (r < 0) {
                wlog(w, WATCH_LOG_DEBUG, "%s appeared but cannot be read: %s", ev->sysname,
                     err ? err : strerror(-r));
                return r;
        }
        *ret_dev = dev; /* the caller's: it goes into the device list as read here */
        if (dev->cap != NODEDEV_CAP_USB_DEVICE)
                return 0;
        /* dongle host: an exported dongle that came back (any port) goes to usbip-host again
         * (on "add" only: a "bind" after `unexport` gave it back must stay with its driver) */
        r = ev->action == UEVENT_ADD ? usbip_reexport_device(w->reg, dev, &err) : 0;
        if (r != 0) {
                if (r > 0)
                        wlog(w, WATCH_LOG_INFO, "exported %s (%04x:%04x serial %s) over USB/IP again", strna(dev->name),
                             dev->u.usb.vendor_id, dev->u.usb.product_id, strna(dev->u.usb.serial));
                else
                        wlog(w, WATCH_LOG_WARNING, "cannot export %s again: %s", strna(dev->name),
                             err ? err : strerror(-r));
                return 0;
        }
        bool ambiguous;
        struct wclaim *cl = claim_for_device(w, dev, &ambiguous);
        if (!cl) {
                if (!ambiguous && dev->u.usb.serial_unread)
                        wlog(w, WATCH_LOG_DEBUG, "%s (%04x:%04x, serial not read: no claim could take it) "
                             "is not claimed by a running domain", strna(dev->name), dev->u.usb.vendor_id,
                             dev->u.usb.product_id);
                else if (!ambiguous)
                        wlog(w, WATCH_LOG_DEBUG, "%s (%04x:%04x serial %s) is not claimed by a running domain",
                             strna(dev->name), dev->u.usb.vendor_id, dev->u.usb.product_id,
                             strna(dev->u.usb.serial));
                if (ambiguous)
                        wlog(w, WATCH_LOG_WARNING,
                             "%s (%04x:%04x) matches claims of several domains; leaving it alone",
                             strna(dev->name), dev->u.usb.vendor_id, dev->u.usb.product_id);
                port_foreign_device(w, dev);
                return 0;
        }
        device_added(w, cl, dev, dev->name ? dev->name : node,
                     ev->received_usec ? ev->received_usec : now_usec());
        return 0;
}

static uint64_t timeval_usec(const struct timeval *tv) {
        return (uint64_t) tv->tv_sec * 1000000u + (uint64_t) tv->tv_usec;
}

/* One uevent: act on it, then bring the cached device list in line with it. */
static void uevent_received(struct watch *w, const struct usb_uevent *ev) {
        struct nodedev *dev = NULL;
        struct rusage ru0 = { 0 }, ru1 = { 0 };
        bool have_ru = getrusage(RUSAGE_THREAD, &ru0) == 0;
        uint64_t t_start = now_usec();
        int r = handle_uevent(w, ev, &dev);
        usb_inventory_update(w, ev, dev, r);
        uint64_t took = now_usec() - t_start;
        if (took <= 10 * USEC_PER_MSEC)
                return;
        /* where the time went: on a CPU, asleep in a syscall (voluntary switches: a lock, a
         * read), or runnable while others ran (involuntary switches) */
        if (have_ru && getrusage(RUSAGE_THREAD, &ru1) == 0) {
                uint64_t cpu = timeval_usec(&ru1.ru_utime) + timeval_usec(&ru1.ru_stime) -
                               timeval_usec(&ru0.ru_utime) - timeval_usec(&ru0.ru_stime);
                wlog(w, WATCH_LOG_DEBUG, "slow: uevent %s %s handled in %.1f ms (%.1f ms on a CPU; "
                     "%ld voluntary, %ld involuntary context switches)", uevent_action_to_string(ev->action),
                     strna(ev->sysname), took / 1000.0, cpu / 1000.0, ru1.ru_nvcsw - ru0.ru_nvcsw,
                     ru1.ru_nivcsw - ru0.ru_nivcsw);
        } else
                wlog(w, WATCH_LOG_DEBUG, "slow: uevent %s %s handled in %.1f ms", uevent_action_to_string(ev->action),
                     strna(ev->sysname), took / 1000.0);
}

int watch_inject_uevent(struct watch *w, const struct usb_uevent *ev) {
        uevent_received(w, ev);
        return 0;
}

static void inject_line(struct watch *w, char *line, size_t len) {
        _cleanup_(usb_uevent_freep) struct usb_uevent *ev = NULL;
        for (size_t i = 0; i < len; i++)
                if (line[i] == ' ' || line[i] == '\t')
                        line[i] = 0;
        if (usb_uevent_parse(line, len, &ev) < 0) {
                wlog(w, WATCH_LOG_WARNING, "ignoring a malformed injected uevent");
                return;
        }
        uevent_received(w, ev);
}

static void inject_readable(struct watch *w) {
        char buf[4096];
        for (;;) {
                ssize_t n = read(w->inject_fd, buf, sizeof buf);
                if (n <= 0) {
                        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                                /* writer closed: keep the fd (a FIFO reopens), but stop
                                 * busy-looping on EPOLLHUP */
                                (void) epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->inject_fd, NULL);
                                w->inject_fd = safe_close(w->inject_fd);
                        }
                        break;
                }
                strbuf_appendn(&w->inject_buf, buf, (size_t) n);
                if (w->inject_buf.oom || w->inject_buf.len > 1024 * 1024) {
                        strbuf_done(&w->inject_buf);
                        continue;
                }
                char *nl;
                while (w->inject_buf.len && (nl = memchr(w->inject_buf.buf, '\n', w->inject_buf.len))) {
                        size_t l = (size_t) (nl - w->inject_buf.buf);
                        inject_line(w, w->inject_buf.buf, l);
                        memmove(w->inject_buf.buf, nl + 1, w->inject_buf.len - l - 1);
                        w->inject_buf.len -= l + 1;
                        w->inject_buf.buf[w->inject_buf.len] = 0;
                }
        }
}

/* ---- reconcile ------------------------------------------------------------------------------ */
static void reconcile_decide(struct wdomain *d, struct wclaim *cl, bool in_vm, const struct inventory *inv);

#define USB_INVENTORY_MAX_AGE_USEC (60000 * USEC_PER_MSEC)
#define USB_QUIET_USEC (5000 * USEC_PER_MSEC)

/* The host's USB devices now (owned by w). NULL if sysfs cannot be read. */
static const struct inventory *usb_inventory(struct watch *w) {
        _cleanup_free_ char *err = NULL;
        uint64_t now = now_usec();

        if (w->usb_inv && (now - w->usb_inv_at < USB_INVENTORY_MAX_AGE_USEC ||
                           now - w->last_usb_uevent < USB_QUIET_USEC)) {
                /* what reconciling matches on: serials left unread at "add" (no bind since) */
                for (size_t i = 0; i < w->usb_inv->n_devs; i++)
                        (void) nodedev_usb_read_serial(w->usb_inv->devs[i]);
                return w->usb_inv;
        }
        w->usb_inv = inventory_free(w->usb_inv);
        if (inventory_scan_usb_flags(WATCH_USB_READ, &w->usb_inv, &err) < 0) {
                wlog(w, WATCH_LOG_WARNING, "cannot read USB devices: %s", strna(err));
                w->usb_inv = NULL;
                return NULL;
        }
        if (now_usec() - now > 20 * USEC_PER_MSEC)
                wlog(w, WATCH_LOG_DEBUG, "slow: USB scan %.1f ms", (now_usec() - now) / 1000.0);
        w->usb_inv_at = now;
        return w->usb_inv;
}

/* After a USB device's uevent was acted on: bring the cached device list in line with it.
 * dev (taken; may be NULL) is the device handle_uevent() read for an "add", read_r that read's
 * result. Nothing here reads a device's string attributes again: QEMU may be opening its node
 * right now (a re-attach was just sent), and those reads take the lock its open() waits for. */
static void usb_inventory_update(struct watch *w, const struct usb_uevent *ev, struct nodedev *dev, int read_r) {
        _cleanup_(nodedev_freep) struct nodedev *owned = dev;
        struct inventory *inv = w->usb_inv;
        _cleanup_free_ char *node = usb_node_name_from_sysname(ev->sysname), *err = NULL;
        struct nodedev *cached = NULL;
        size_t at = 0;

        if (!inv || !usb_uevent_is_usb_device(ev))
                return; /* nothing cached (the next reconcile scans), or not a USB device */
        if (!node) {
                w->usb_inv = inventory_free(w->usb_inv);
                return;
        }
        for (at = 0; at < inv->n_devs; at++)
                if (streq_ptr(inv->devs[at]->name, node)) {
                        cached = inv->devs[at];
                        break;
                }
        if (cached && (ev->action == UEVENT_BIND || ev->action == UEVENT_UNBIND)) {
                /* a serial left unread at "add": the host driver's probe is over now */
                if (ev->action == UEVENT_BIND && nodedev_usb_read_serial(cached) == -ENOMEM) {
                        w->usb_inv = inventory_free(w->usb_inv);
                        return;
                }
                /* only its driver changed, and the uevent names it */
                char *drv = NULL;
                if (ev->action == UEVENT_BIND && ev->driver && !(drv = strdup(ev->driver))) {
                        w->usb_inv = inventory_free(w->usb_inv);
                        return;
                }
                free(cached->driver);
                cached->driver = drv;
                cached->u.usb.usbip_exported = streq_ptr(drv, "usbip-host");
                return;
        }
        if (cached) {
                nodedev_free(cached);
                memmove(inv->devs + at, inv->devs + at + 1, sizeof(*inv->devs) * (inv->n_devs - at - 1));
                inv->n_devs--;
        }
        if (ev->action == UEVENT_REMOVE)
                return;
        if (ev->action != UEVENT_ADD) {
                /* a change, or a bind of a device the list missed: read it (as the loop reads) */
                read_r = read_usb_device(ev, &owned, &err);
        }
        if (read_r == -ENOENT)
                return; /* gone already (its "unbind" is read after the unplug): its remove follows */
        if (read_r < 0 || !owned) {
                /* cannot tell: read them all at the next reconcile */
                wlog(w, WATCH_LOG_DEBUG, "cannot read %s (%s): the next reconcile scans", strna(ev->sysname),
                     err ? err : strerror(read_r < 0 ? -read_r : EIO));
                w->usb_inv = inventory_free(w->usb_inv);
                return;
        }
        struct nodedev **a = realloc(inv->devs, sizeof(*inv->devs) * (inv->n_devs + 1));
        if (!a) {
                w->usb_inv = inventory_free(w->usb_inv);
                return;
        }
        inv->devs = a;
        inv->devs[inv->n_devs++] = TAKE_PTR(owned);
}

static const struct nodedev *host_device_for(struct watch *w, struct wclaim *cl, const struct inventory *inv) {
        const struct nodedev *best = NULL;
        if (!inv)
                return NULL;
        for (size_t i = 0; i < inv->n_devs; i++) {
                const struct nodedev *dev = inv->devs[i];
                if (dev->cap != NODEDEV_CAP_USB_DEVICE || !watch_claim_matches(&cl->c, dev))
                        continue;
                if (cl->c.bus && dev->u.usb.bus == cl->c.bus && dev->u.usb.devnum == cl->c.devnum)
                        return dev;
                struct wclaim *other = claim_holding(w, dev->u.usb.bus, dev->u.usb.devnum, NULL);
                if (other && other != cl)
                        continue;
                if (!best)
                        best = dev;
        }
        return best;
}

static int parse_hostdevice(const char *s, unsigned *bus, unsigned *addr) {
        /* "/dev/bus/usb/001/005" (any dev root) */
        const char *p = s ? strstr(s, "bus/usb/") : NULL;
        unsigned b, a;
        if (!p || sscanf(p, "bus/usb/%u/%u", &b, &a) != 2)
                return -EINVAL;
        *bus = b;
        *addr = a;
        return 0;
}

static void reconcile_claim_done(struct wdomain *d, struct wclaim *cl) {
        reconcile_decide(d, cl, true, usb_inventory(d->w));
}

static void on_qom_get(struct wdomain *d, const char *qdev_id, const struct qmp_msg *m, int which) {
        struct wclaim *cl = find_claim_by_id(d->w, d->name, qdev_id);
        if (!cl || cl->rc_pending <= 0)
                return;
        if (m && m->type == QMP_MSG_RETURN && m->ret) {
                if (which == 0)
                        cl->rc_bus = (unsigned) json_object_get_int(m->ret);
                else if (which == 1)
                        cl->rc_addr = (unsigned) json_object_get_int(m->ret);
                else if (json_object_is_type(m->ret, json_type_string)) {
                        free(cl->rc_hostdevice);
                        cl->rc_hostdevice = strdup(json_object_get_string(m->ret));
                }
        }
        if (--cl->rc_pending == 0)
                reconcile_claim_done(d, cl);
}
static void on_qom_bus(struct wdomain *d, const char *id, const struct qmp_msg *m) { on_qom_get(d, id, m, 0); }
static void on_qom_addr(struct wdomain *d, const char *id, const struct qmp_msg *m) { on_qom_get(d, id, m, 1); }
static void on_qom_dev(struct wdomain *d, const char *id, const struct qmp_msg *m) { on_qom_get(d, id, m, 2); }

static void reconcile_decide(struct wdomain *d, struct wclaim *cl, bool in_vm, const struct inventory *inv) {
        struct watch *w = d->w;
        const struct nodedev *dev;

        if (cl->state == CS_ADDING || cl->state == CS_DELETING)
                return; /* an operation is under way; its completion decides */
        dev = host_device_for(w, cl, inv);
        if (in_vm) {
                unsigned vb = cl->rc_bus, va = cl->rc_addr;
                if ((vb == 0 || va == 0) && cl->rc_hostdevice)
                        (void) parse_hostdevice(cl->rc_hostdevice, &vb, &va);
                /* the device the VM holds, if it is still there and still the claimed one */
                for (size_t i = 0; inv && vb && i < inv->n_devs; i++) {
                        const struct nodedev *x = inv->devs[i];
                        struct wclaim *other;
                        if (x->cap != NODEDEV_CAP_USB_DEVICE || x->u.usb.bus != vb || x->u.usb.devnum != va ||
                            !watch_claim_matches(&cl->c, x))
                                continue;
                        other = claim_holding(w, vb, va, NULL);
                        if (!other || other == cl)
                                dev = x;
                        break;
                }
                cl->state = CS_PRESENT;
                if (dev && dev->u.usb.bus == vb && dev->u.usb.devnum == va) {
                        if (cl->c.bus != vb || cl->c.devnum != va || !streq_ptr(cl->c.node, dev->name)) {
                                cl->c.bus = vb;
                                cl->c.devnum = va;
                                free(cl->c.node);
                                cl->c.node = dev->name ? strdup(dev->name) : NULL;
                                registry_note(w, cl, true);
                        }
                        return;
                }
                /* the VM holds a stale (or another) host device */
                if (dev) {
                        wlog(w, WATCH_LOG_INFO, "reconcile %s: %s holds %u:%u, the device is now %s",
                             d->name, cl->c.qdev_id, vb, va, strna(dev->name));
                        cl->c.bus = cl->c.devnum = 0;
                        device_added(w, cl, dev, dev->name, 0);
                        if (cl->state == CS_PRESENT)
                                send_del(d, cl);
                } else {
                        wlog(w, WATCH_LOG_INFO, "reconcile %s: %s holds a device that is gone; removing it",
                             d->name, cl->c.qdev_id);
                        cl->c.bus = cl->c.devnum = 0;
                        send_del(d, cl);
                        registry_note(w, cl, false);
                }
                return;
        }
        cl->state = CS_ABSENT;
        if (dev) {
                wlog(w, WATCH_LOG_INFO, "reconcile %s: %s is missing in the VM; adding %s", d->name,
                     cl->c.qdev_id, strna(dev->name));
                cl->c.bus = cl->c.devnum = 0;
                device_added(w, cl, dev, dev->name, 0);
        } else if (cl->c.bus) {
                cl->c.bus = cl->c.devnum = 0;
                free(cl->c.node);
                cl->c.node = NULL;
                registry_note(w, cl, false);
        }
}

static void on_qom_list(struct wdomain *d, const char *qdev_id, const struct qmp_msg *m) {
        struct watch *w = d->w;
        const struct inventory *inv;

        d->reconciling = false;
        if (!m || m->type != QMP_MSG_RETURN || !json_object_is_type(m->ret, json_type_array)) {
                wlog(w, WATCH_LOG_WARNING, "%s: qom-list /machine/peripheral failed: %s", d->name,
                     m ? strna(m->error_desc) : "no answer");
                return;
        }
        w->stats.reconciles++;
        inv = usb_inventory(w);
        for (size_t i = 0; i < w->n_claims; i++) {
                struct wclaim *cl = w->claims[i];
                bool in_vm = false;
                if (!streq_ptr(cl->c.domain, d->name) || !cl->active)
                        continue;
                if (cl->state == CS_ADDING || cl->state == CS_DELETING || cl->rc_pending > 0)
                        continue;
                size_t n = json_object_array_length(m->ret);
                for (size_t j = 0; j < n; j++) {
                        json_object *e = json_object_array_get_idx(m->ret, j), *name, *type;
                        if (json_object_object_get_ex(e, "name", &name) &&
                            json_object_object_get_ex(e, "type", &type) &&
                            streq_ptr(json_object_get_string(name), cl->c.qdev_id) &&
                            startswith(json_object_get_string(type), "child<usb-host")) {
                                in_vm = true;
                                break;
                        }
                }
                if (!in_vm) {
                        reconcile_decide(d, cl, false, inv);
                        continue;
                }
                /* ask the qdev which host device it holds */
                _cleanup_free_ char *path = strdup_printf("/machine/peripheral/%s", cl->c.qdev_id);
                static const char *const props[] = { "hostbus", "hostaddr", "hostdevice" };
                static const cmd_cb_t cbs[] = { on_qom_bus, on_qom_addr, on_qom_dev };
                if (!path)
                        continue;
                cl->rc_bus = cl->rc_addr = 0;
                free(cl->rc_hostdevice);
                cl->rc_hostdevice = NULL;
                cl->rc_pending = 3;
                for (size_t k = 0; k < 3 && d->fd >= 0; k++) {
                        _cleanup_json_ json_object *a = json_object_new_object();
                        if (!a)
                                break;
                        json_object_object_add(a, "path", json_object_new_string(path));
                        json_object_object_add(a, "property", json_object_new_string(props[k]));
                        (void) domain_send(d, "qom-get", a, cl->c.qdev_id, cbs[k]);
                }
        }
}

static void domain_reconcile(struct wdomain *d) {
        _cleanup_json_ json_object *a = json_object_new_object();
        if (d->state != D_READY) {
                d->reconcile_wanted = true;
                d->need_connect = true;
                return;
        }
        if (d->reconciling || !a)
                return;
        d->reconcile_wanted = false;
        d->reconciling = true;
        json_object_object_add(a, "path", json_object_new_string("/machine/peripheral"));
        (void) domain_send(d, "qom-list", a, NULL, on_qom_list);
}

/* ---- domains ------------------------------------------------------------------------------ */
static struct wdomain *wdomain_free(struct wdomain *d) {
        if (!d)
                return NULL;
        struct pcmd *p;
        if (d->fd >= 0) {
                (void) epoll_ctl(d->w->epfd, EPOLL_CTL_DEL, d->fd, NULL);
                safe_close(d->fd);
        }
        qmp_parser_free(d->parser);
        strbuf_done(&d->out);
        while ((p = d->cmds)) {
                d->cmds = p->next;
                pcmd_free(p);
        }
        free(d->name);
        free(d->qmp_path);
        free(d->last_error);
        free(d);
        return NULL;
}

static int domain_ensure(struct watch *w, const char *name, const char *qmp_path, struct wdomain **ret) {
        struct wdomain *d = find_domain(w, name);
        if (d) {
                if (qmp_path && !streq_ptr(d->qmp_path, qmp_path)) {
                        char *p = strdup(qmp_path);
                        if (!p)
                                return -ENOMEM;
                        free(d->qmp_path);
                        d->qmp_path = p;
                        domain_disconnect(d, "QMP socket changed");
                        d->retry_at = 0;
                        d->need_connect = true;
                }
                *ret = d;
                return 0;
        }
        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        d->w = w;
        d->fd = -1;
        d->src = (struct source){ .type = SRC_QMP, .d = d };
        d->name = strdup(name);
        d->qmp_path = qmp_path ? strdup(qmp_path) : NULL;
        if (!d->name || (qmp_path && !d->qmp_path)) {
                wdomain_free(d);
                return -ENOMEM;
        }
        struct wdomain **n = realloc(w->domains, sizeof(*n) * (w->n_domains + 1));
        if (!n) {
                wdomain_free(d);
                return -ENOMEM;
        }
        w->domains = n;
        w->domains[w->n_domains++] = d;
        d->need_connect = true;
        d->reconcile_wanted = true;
        *ret = d;
        return 0;
}

static void domain_drop(struct watch *w, struct wdomain *d) {
        w->ports_dirty = true;
        for (size_t i = 0; i < w->n_domains; i++)
                if (w->domains[i] == d) {
                        memmove(w->domains + i, w->domains + i + 1, sizeof(*w->domains) * (w->n_domains - i - 1));
                        w->n_domains--;
                        wdomain_free(d);
                        return;
                }
}

int watch_add_domain(struct watch *w, const char *name, const char *qmp_path, char **reterr) {
        struct wdomain *d;
        int r;
        if (isempty(name))
                return error_set(reterr, -EINVAL, "a domain needs a name");
        r = domain_ensure(w, name, qmp_path, &d);
        if (r < 0)
                return error_set(reterr, r, "out of memory");
        d->is_static = true;
        w->ports_dirty = true;
        return 0;
}

int watch_remove_domain(struct watch *w, const char *name) {
        struct wdomain *d = find_domain(w, name);
        if (!d)
                return -ENOENT;
        domain_drop(w, d);
        return 0;
}

/* ---- who serves a domain --------------------------------------------------------------------
 * A single-domain loop (hostdev run, hostdev watch --domain) leaves state_dir()/watch.NAME.pid
 * while it runs, so the daemon leaves that domain to it instead of both acting on it. */
static char *marker_path(const char *domain) {
        _cleanup_free_ char *f = strdup_printf("watch.%s.pid", domain);
        return f ? path_join(state_dir(), f, NULL) : NULL;
}

static bool served_elsewhere(const char *domain) {
        _cleanup_free_ char *p = marker_path(domain), *s = NULL;
        int pid;
        if (!p || read_one_line_file(p, &s) < 0 || safe_atoi(s, &pid) < 0 || pid <= 0)
                return false;
        if (pid == (int) getpid())
                return false;
        return kill(pid, 0) == 0 || errno == EPERM;
}

static void marker_create(struct watch *w) {
        _cleanup_free_ char *p = marker_path(w->only_domain), *s = strdup_printf("%d\n", (int) getpid());
        if (!p || !s)
                return;
        (void) mkdir_p(state_dir(), 0700);
        if (write_file_atomic(p, s, strlen(s), 0600) < 0)
                wlog(w, WATCH_LOG_DEBUG, "cannot write %s", p);
        else
                w->marker = TAKE_PTR(p);
}

static void marker_remove(struct watch *w) {
        _cleanup_free_ char *s = NULL;
        int pid;
        if (!w->marker)
                return;
        if (read_one_line_file(w->marker, &s) >= 0 && safe_atoi(s, &pid) >= 0 && pid == (int) getpid())
                (void) unlink(w->marker);
        free(w->marker);
        w->marker = NULL;
}

/* ---- registry read ------------------------------------------------------------------------- */
static int claim_from_registry(const struct claim *c, struct watch_claim *ret) {
        struct watch_claim wc = {
                .domain = (char *) c->domain,
                .key = (char *) c->key,
                .qdev_id = (char *) c->qemu_id,
                .vendor = c->usb.vendor,
                .product = c->usb.product,
                .serial = (char *) c->usb.serial,
                .port = (char *) c->usb.port,
                .select = c->usb.select,
                .bus = c->usb.bus,
                .devnum = c->usb.devnum,
                .node = (char *) c->node,
                .remote = usbip_claim_is_remote(c),
                .qemu_props = (char *) c->qemu_props,
        };
        return watch_claim_copy(&wc, ret);
}

static void registry_refresh(struct watch *w, bool gc) {
        _cleanup_free_ char *err = NULL;
        int r;

        if (!w->reg)
                return;
        w->registry_dirty = false;
        if (gc) {
                _cleanup_free_ char *gerr = NULL;
                r = registry_gc(w->reg, &gerr);
                if (r > 0) {
                        struct claim **dropped = NULL;
                        size_t n = 0;
                        if (registry_take_dropped(w->reg, &dropped, &n) >= 0) {
                                for (size_t i = 0; i < n; i++) {
                                        _cleanup_free_ char *desc = claim_describe(dropped[i]);
                                        _cleanup_free_ char *gberr = NULL;
                                        wlog(w, WATCH_LOG_INFO, "released %s of %s (domain is not running)",
                                             strna(desc), dropped[i]->domain);
                                        if (registry_giveback(dropped[i], &gberr) < 0)
                                                wlog(w, WATCH_LOG_WARNING, "cannot give back %s: %s",
                                                     strna(desc), strna(gberr));
                                        claim_free(dropped[i]);
                                }
                                free(dropped);
                        }
                } else if (r < 0)
                        wlog(w, WATCH_LOG_WARNING, "registry gc failed: %s", gerr ? gerr : strerror(-r));
        }
        r = registry_reload(w->reg, &err);
        if (r < 0) {
                wlog(w, WATCH_LOG_WARNING, "cannot read the registry: %s", err ? err : strerror(-r));
                return;
        }

        for (size_t i = 0; i < w->n_claims; i++)
                w->claims[i]->mark = false;
        for (size_t i = 0; i < w->n_domains; i++)
                w->domains[i]->mark = w->domains[i]->is_static;

        size_t n = registry_n_claims(w->reg);
        for (size_t i = 0; i < n; i++) {
                const struct claim *c = registry_claim_at(w->reg, i);
                struct wclaim *cl;
                bool active;

                if (!c || c->type != HOSTDEV_TYPE_USB || !in_scope(w, c->domain))
                        continue;
                if (c->usb.select & USB_SELECT_BUS_DEVICE && !c->usb.port)
                        continue; /* bus+device only: nothing stable to follow */
                active = c->state == CLAIM_STATE_ATTACHED || c->state == CLAIM_STATE_UNPLUGGED;
                if (!w->only_domain) {
                        const struct domain_record *rec = registry_domain_find(w->reg, c->domain);
                        struct wdomain *d;
                        if (!rec || !rec->qmp_socket || !registry_domain_alive(w->reg, c->domain))
                                continue; /* VM off (or not ours to reach): leave its devices alone */
                        if (served_elsewhere(c->domain))
                                continue; /* its own `hostdev run` loop re-attaches */
                        if (domain_ensure(w, c->domain, rec->qmp_socket, &d) >= 0)
                                d->mark = true;
                }
                cl = find_claim_by_key(w, c->domain, c->key);
                if (!cl) {
                        cl = calloc(1, sizeof *cl);
                        if (!cl || claim_from_registry(c, &cl->c) < 0) {
                                free(cl);
                                continue;
                        }
                        make_up_id(w, cl);
                        if (claims_append(w, cl) < 0) {
                                wclaim_free(cl);
                                continue;
                        }
                        struct wdomain *d = find_domain(w, c->domain);
                        if (d)
                                d->reconcile_wanted = true;
                } else if ((cl->state == CS_ABSENT || cl->state == CS_PRESENT || cl->state == CS_UNKNOWN) &&
                           !cl->queued.set && cl->rc_pending == 0) {
                        /* someone else (attach-device) may have moved it */
                        if (c->usb.bus != cl->c.bus || c->usb.devnum != cl->c.devnum ||
                            (c->qemu_id && !streq_ptr(c->qemu_id, cl->c.qdev_id))) {
                                struct watch_claim nc;
                                if (claim_from_registry(c, &nc) >= 0) {
                                        if (!nc.qdev_id) {
                                                nc.qdev_id = TAKE_PTR(cl->c.qdev_id);
                                        } else
                                                cl->made_up_id = false;
                                        watch_claim_done(&cl->c);
                                        cl->c = nc;
                                        struct wdomain *d = find_domain(w, c->domain);
                                        if (d)
                                                d->reconcile_wanted = true;
                                }
                        }
                }
                if (active && !cl->active) {
                        struct wdomain *d = find_domain(w, c->domain);
                        if (d)
                                d->reconcile_wanted = true;
                }
                cl->active = active;
                cl->mark = true;
        }
        for (size_t i = w->n_claims; i > 0; i--)
                if (!w->claims[i - 1]->mark)
                        claims_remove(w, w->claims[i - 1]); /* released */
        for (size_t i = w->n_domains; i > 0; i--)
                if (!w->domains[i - 1]->mark) {
                        wlog(w, WATCH_LOG_DEBUG, "%s: no longer watched", w->domains[i - 1]->name);
                        domain_drop(w, w->domains[i - 1]);
                }
        w->ports_dirty = true;
}

/* ---- loop ---------------------------------------------------------------------------------- */
/* After an unplug, stay connected this long: the replug usually follows within seconds and
 * then needs no reconnect. */
#define REPLUG_LINGER_USEC (5000 * USEC_PER_MSEC)

static bool domain_busy(struct watch *w, struct wdomain *d) {
        uint64_t now = now_usec();
        if (d->cmds || d->reconciling || d->reconcile_wanted)
                return true;
        for (size_t i = 0; i < w->n_claims; i++) {
                struct wclaim *cl = w->claims[i];
                if (streq_ptr(cl->c.domain, d->name) &&
                    (cl->queued.set || cl->state == CS_ADDING || cl->state == CS_DELETING || cl->rc_pending ||
                     (cl->c.bus == 0 && cl->unplugged_at && now - cl->unplugged_at < REPLUG_LINGER_USEC)))
                        return true;
        }
        return false;
}

static void usbip_log(void *userdata, bool error, const char *line) {
        wlog(userdata, error ? WATCH_LOG_WARNING : WATCH_LOG_INFO, "%s", line);
}

static void run_timers(struct watch *w) {
        uint64_t now = now_usec();

        if (w->registry_dirty)
                registry_refresh(w, false);
        if (now >= w->next_reconcile) {
                unsigned ms = w->o.reconcile_ms ? w->o.reconcile_ms : 2000;
                if (w->reg && now >= w->next_gc) {
                        registry_refresh(w, !w->only_domain);
                        w->next_gc = now + 5 * (uint64_t) ms * USEC_PER_MSEC;
                }
                for (size_t i = 0; i < w->n_domains; i++)
                        w->domains[i]->reconcile_wanted = true;
                /* VM host: imports of <remote> claims that went away are made again (usbip.c) */
                (void) usbip_reimport_claims(w->reg, w->o.domain, usbip_log, w);
                for (size_t i = 0; i < w->n_ports; i++) {
                        w->ports[i].failed = false;
                        if (w->ports[i].giveback || (w->ports[i].wanted && w->ports[i].fd < 0))
                                w->ports_dirty = true;
                }
                w->next_reconcile = now + (uint64_t) ms * USEC_PER_MSEC;
        }
        for (size_t i = 0; i < w->n_domains; i++) {
                struct wdomain *d = w->domains[i];
                /* timeouts: a slow or dead QEMU must not stall the others */
                if (d->state == D_GREETING || d->state == D_CAPS) {
                        if (now >= d->connect_deadline)
                                domain_disconnect(d, "no QMP greeting in time");
                } else if (d->state == D_READY && d->cmds && now >= d->cmds->deadline) {
                        wlog(w, WATCH_LOG_WARNING, "%s: QMP command timed out; reconnecting", d->name);
                        domain_disconnect(d, "command timed out");
                }
                if (d->state == D_READY) {
                        for (size_t j = 0; j < w->n_claims; j++) {
                                struct wclaim *cl = w->claims[j];
                                if (cl->state == CS_DELETING && streq_ptr(cl->c.domain, d->name) &&
                                    now >= cl->del_deadline) {
                                        wlog(w, WATCH_LOG_WARNING, "%s: no DEVICE_DELETED for %s in time",
                                             d->name, cl->c.qdev_id);
                                        cl->state = CS_UNKNOWN;
                                        d->reconcile_wanted = true;
                                }
                        }
                        if (d->reconcile_wanted)
                                domain_reconcile(d);
                        if (w->o.idle_disconnect_ms) {
                                if (domain_busy(w, d))
                                        d->idle_since = 0;
                                else if (!d->idle_since)
                                        d->idle_since = now;
                                else if (now - d->idle_since >= w->o.idle_disconnect_ms * USEC_PER_MSEC) {
                                        domain_disconnect(d, NULL);
                                        d->retry_delay = 0;
                                        d->retry_at = 0;
                                        d->need_connect = false;
                                        d->reconcile_wanted = false;
                                        d->idle_closed = true;
                                }
                        }
                }
                if (d->state == D_OFF && (d->need_connect || d->reconcile_wanted || !w->o.idle_disconnect_ms) &&
                    now >= d->retry_at)
                        (void) domain_connect(d);
        }
}

static uint64_t next_deadline(const struct watch *w) {
        uint64_t t = w->next_reconcile;
        for (size_t i = 0; i < w->n_domains; i++) {
                const struct wdomain *d = w->domains[i];
                if (d->state == D_OFF && (d->need_connect || d->reconcile_wanted || !w->o.idle_disconnect_ms))
                        t = d->retry_at < t ? d->retry_at : t;
                if (d->state == D_GREETING || d->state == D_CAPS)
                        t = d->connect_deadline < t ? d->connect_deadline : t;
                if (d->cmds && d->cmds->deadline < t)
                        t = d->cmds->deadline;
                if (d->state == D_READY && d->reconcile_wanted)
                        t = 0;
                if (d->state == D_READY && w->o.idle_disconnect_ms && d->idle_since) {
                        uint64_t x = d->idle_since + w->o.idle_disconnect_ms * USEC_PER_MSEC;
                        t = x < t ? x : t;
                }
        }
        for (size_t i = 0; i < w->n_claims; i++)
                if (w->claims[i]->state == CS_DELETING && w->claims[i]->del_deadline < t)
                        t = w->claims[i]->del_deadline;
        if (w->registry_dirty)
                t = 0;
        return t;
}

int watch_get_timeout_ms(const struct watch *w) {
        uint64_t t = next_deadline(w), now = now_usec();
        if (t <= now)
                return 0;
        uint64_t ms = (t - now + 999) / 1000;
        return ms > 60000 ? 60000 : (int) ms;
}

static void arm_timer(struct watch *w) {
        uint64_t t = next_deadline(w);
        struct itimerspec its = { 0 };
        if (t == 0)
                t = 1; /* due now; 0 would disarm */
        its.it_value.tv_sec = (time_t) (t / 1000000);
        its.it_value.tv_nsec = (long) (t % 1000000) * 1000;
        (void) timerfd_settime(w->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

int watch_get_fd(const struct watch *w) {
        return w->epfd;
}

static void drain_fd(int fd) {
        char buf[4096];
        while (read(fd, buf, sizeof buf) > 0)
                ;
}

int watch_process(struct watch *w) {
        struct epoll_event evs[16];
        int n;

        for (int round = 0; round < 64; round++) {
                n = epoll_wait(w->epfd, evs, ELEMENTSOF(evs), 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (int i = 0; i < n; i++) {
                        struct source *s = evs[i].data.ptr;
                        uint64_t t_start = now_usec();
                        switch (s->type) {
                        case SRC_UDEV:
                                for (;;) {
                                        _cleanup_(usb_uevent_freep) struct usb_uevent *ev = NULL;
                                        int r = uevent_monitor_receive(w->mon, &ev);
                                        if (r <= 0)
                                                break;
                                        uevent_received(w, ev);
                                }
                                break;
                        case SRC_INOTIFY:
                                drain_fd(w->inotify_fd);
                                w->registry_dirty = true;
                                break;
                        case SRC_TIMER:
                                drain_fd(w->timerfd);
                                break;
                        case SRC_INJECT:
                                if (w->inject_fd >= 0)
                                        inject_readable(w);
                                break;
                        case SRC_PORTS:
                                ports_done(w);
                                break;
                        case SRC_SIGNAL: {
                                struct signalfd_siginfo si;
                                while (read(w->sigfd, &si, sizeof si) == sizeof si)
                                        w->stop = true;
                                break;
                        }
                        case SRC_QMP: {
                                struct wdomain *d = s->d;
                                if (d->fd < 0)
                                        break;
                                if (evs[i].events & EPOLLOUT && domain_flush(d) < 0) {
                                        domain_disconnect(d, "write failed");
                                        break;
                                }
                                if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                                        domain_readable(d);
                                break;
                        }
                        }
                        /* a uevent waits while the loop is busy: say what kept it */
                        uint64_t busy = now_usec() - t_start;
                        if (busy > 50 * USEC_PER_MSEC)
                                wlog(w, WATCH_LOG_DEBUG, "loop busy %.1f ms handling source %d", busy / 1000.0,
                                     (int) s->type);
                }
                uint64_t t_timers = now_usec();
                run_timers(w);
                if (w->ports_dirty)
                        ports_sync(w);
                uint64_t busy = now_usec() - t_timers;
                if (busy > 50 * USEC_PER_MSEC)
                        wlog(w, WATCH_LOG_DEBUG, "loop busy %.1f ms in its timers", busy / 1000.0);
                if (n < (int) ELEMENTSOF(evs))
                        break;
        }
        arm_timer(w);
        return 0;
}

void watch_request_stop(struct watch *w) {
        w->stop = true;
}

int watch_run(struct watch *w) {
        sigset_t mask, old;
        int r = 0;

        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
                return -errno;
        w->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (w->sigfd < 0) {
                r = -errno;
                goto out;
        }
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &w->src_signal };
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->sigfd, &ev) < 0) {
                r = -errno;
                goto out;
        }
        r = watch_process(w);
        while (r >= 0 && !w->stop) {
                struct epoll_event e;
                int t = watch_get_timeout_ms(w);
                if (epoll_wait(w->epfd, &e, 1, t) < 0 && errno != EINTR) {
                        r = -errno;
                        break;
                }
                r = watch_process(w);
        }
        (void) epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->sigfd, NULL);
out:
        w->sigfd = safe_close(w->sigfd);
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        return r < 0 ? r : 0;
}

/* ---- lifetime ------------------------------------------------------------------------------ */
struct watch *watch_free(struct watch *w) {
        if (!w)
                return NULL;
        /* leaving: the ports go free; a device on one that no process holds (its VM has gone,
         * as at the end of `hostdev run`) goes back to the host's drivers; QEMU's own attempt
         * to give it back when it let go found the port still reserved. Here, at the end, it
         * is done in this thread (the worker finishes its job first; what it did not start is
         * dropped, claims' fds closed). */
        w->port_worker = usb_port_worker_free(w->port_worker);
        for (size_t i = 0; i < w->n_ports; i++) {
                struct wport *p = &w->ports[i];
                bool held = p->fd >= 0;
                p->fd = safe_close(p->fd);
                if (held || p->giveback) {
                        _cleanup_free_ char *err = NULL;
                        int r = usb_port_give_back_unless_held(p->name, &err);
                        if (r != -EBUSY) /* still in a running VM: it stays there */
                                log_give_back(w, p->name, r, err);
                }
                free(p->name);
        }
        free(w->ports);
        for (size_t i = 0; i < w->n_domains; i++)
                wdomain_free(w->domains[i]);
        free(w->domains);
        for (size_t i = 0; i < w->n_claims; i++)
                wclaim_free(w->claims[i]);
        free(w->claims);
        uevent_monitor_free(w->mon);
        registry_free(w->reg);
        inventory_free(w->usb_inv);
        marker_remove(w);
        safe_close(w->inotify_fd);
        safe_close(w->inject_fd);
        strbuf_done(&w->inject_buf);
        safe_close(w->timerfd);
        safe_close(w->sigfd);
        safe_close(w->epfd);
        free(w->only_domain);
        free(w);
        return NULL;
}

static int epoll_add(struct watch *w, int fd, struct source *s) {
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };
        return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int watch_new(struct watch **ret, const struct watch_options *opts, char **reterr) {
        _cleanup_(watch_freep) struct watch *w = calloc(1, sizeof *w);
        int r;

        if (!w)
                return -ENOMEM;
        w->epfd = w->timerfd = w->inotify_fd = w->sigfd = w->inject_fd = -1;
        if (opts)
                w->o = *opts;
        if (w->o.domain && !(w->only_domain = strdup(w->o.domain)))
                return -ENOMEM;
        w->o.domain = w->only_domain;
        if (w->only_domain && !w->o.no_registry)
                marker_create(w);
        w->src_udev.type = SRC_UDEV;
        w->src_inotify.type = SRC_INOTIFY;
        w->src_timer.type = SRC_TIMER;
        w->src_signal.type = SRC_SIGNAL;
        w->src_inject.type = SRC_INJECT;
        w->src_ports.type = SRC_PORTS;

        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (w->epfd < 0)
                return error_set(reterr, -errno, "epoll_create1: %s", strerror(errno));
        w->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (w->timerfd < 0)
                return error_set(reterr, -errno, "timerfd_create: %s", strerror(errno));
        r = epoll_add(w, w->timerfd, &w->src_timer);
        if (r < 0)
                return error_set(reterr, r, "epoll: %s", strerror(-r));

        if (!w->o.no_udev) {
                r = uevent_monitor_new_source(&w->mon, w->o.udev_events ? UEVENT_SOURCE_UDEV : UEVENT_SOURCE_KERNEL,
                                              reterr);
                if (r < 0)
                        return r;
                r = epoll_add(w, uevent_monitor_get_fd(w->mon), &w->src_udev);
                if (r < 0)
                        return error_set(reterr, r, "epoll: %s", strerror(-r));
                /* reserved ports (usb-port.h): their blocking work runs in a thread of its own */
                r = usb_port_worker_new(&w->port_worker);
                if (r < 0)
                        return error_set(reterr, r, "cannot set up the port worker: %s", strerror(-r));
                r = epoll_add(w, usb_port_worker_fd(w->port_worker), &w->src_ports);
                if (r < 0)
                        return error_set(reterr, r, "epoll: %s", strerror(-r));
        }
        if (!w->o.no_registry) {
                r = registry_open(&w->reg, reterr);
                if (r < 0)
                        return error_prefix(reterr, r, "cannot open the registry");
                w->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                if (w->inotify_fd < 0)
                        return error_set(reterr, -errno, "inotify_init1: %s", strerror(errno));
                /* registry.json is replaced by rename: watch the directory */
                if (inotify_add_watch(w->inotify_fd, state_dir(), IN_MOVED_TO | IN_CLOSE_WRITE) < 0)
                        return error_set(reterr, -errno, "cannot watch %s: %s", state_dir(), strerror(errno));
                r = epoll_add(w, w->inotify_fd, &w->src_inotify);
                if (r < 0)
                        return error_set(reterr, r, "epoll: %s", strerror(-r));
                registry_refresh(w, !w->only_domain);
        }
        unsigned ms = w->o.reconcile_ms ? w->o.reconcile_ms : 2000;
        w->next_reconcile = now_usec() + (uint64_t) ms * USEC_PER_MSEC;
        w->next_gc = w->next_reconcile;
        arm_timer(w);
        *ret = TAKE_PTR(w);
        return 0;
}

int watch_add_inject_fd(struct watch *w, int fd, char **reterr) {
        int r;
        if (fd < 0)
                return error_set(reterr, -EBADF, "no inject fd");
        if (w->inject_fd >= 0) {
                (void) epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->inject_fd, NULL);
                w->inject_fd = safe_close(w->inject_fd);
        }
        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        w->inject_fd = fd;
        r = epoll_add(w, fd, &w->src_inject);
        if (r < 0) {
                w->inject_fd = safe_close(w->inject_fd);
                return error_set(reterr, r, "epoll: %s", strerror(-r));
        }
        return 0;
}

void watch_get_stats(const struct watch *w, struct watch_stats *ret) {
        *ret = w->stats;
}

const char *watch_claim_state(const struct watch *w, const char *domain, const char *qdev_id,
                              unsigned *ret_bus, unsigned *ret_devnum) {
        for (size_t i = 0; i < w->n_claims; i++) {
                const struct wclaim *cl = w->claims[i];
                if (streq_ptr(cl->c.domain, domain) && streq_ptr(cl->c.qdev_id, qdev_id)) {
                        RET_SET(ret_bus, cl->c.bus);
                        RET_SET(ret_devnum, cl->c.devnum);
                        return cstate_names[cl->state];
                }
        }
        return NULL;
}

bool watch_claim_queued(const struct watch *w, const char *domain, const char *qdev_id) {
        for (size_t i = 0; i < w->n_claims; i++) {
                const struct wclaim *cl = w->claims[i];
                if (streq_ptr(cl->c.domain, domain) && streq_ptr(cl->c.qdev_id, qdev_id))
                        return cl->queued.set;
        }
        return false;
}

size_t watch_n_connected(const struct watch *w) {
        size_t n = 0;
        for (size_t i = 0; i < w->n_domains; i++)
                n += w->domains[i]->state == D_READY;
        return n;
}
