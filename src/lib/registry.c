/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The claims registry (registry.h): one JSON file under an flock'ed lock file. */
#include "registry.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "caps.h"
#include "error.h"
#include "json-util.h"
#include "resolve.h"
#include "usbip.h"

#define REGISTRY_VERSION 1
#define REGISTRY_MAX_SIZE (64u * 1024u * 1024u)
/* How long registry_lock() waits for another process's lock (HOSTDEV_LOCK_TIMEOUT_SEC). */
#define REGISTRY_LOCK_TIMEOUT_SEC 30u

struct registry {
        char *dir, *path, *lock_path;
        int lock_fd;
        bool locked;
        bool dirty;
        bool readonly; /* the lock file could only be opened read-only: snapshots only */

        struct claim **claims;
        size_t n_claims;
        struct domain_record *domains;
        size_t n_domains;
        struct journal_entry *journal;
        size_t n_journal;
        unsigned long long next_id;

        char **recovery;
        struct claim **dropped;
        size_t n_dropped;
};

/* ---- small helpers ------------------------------------------------------------------------ */
static const char *const state_names[_CLAIM_STATE_MAX] = {
        [CLAIM_STATE_CLAIMED] = "claimed",     [CLAIM_STATE_PREPARED] = "prepared",
        [CLAIM_STATE_ATTACHED] = "attached",   [CLAIM_STATE_UNPLUGGED] = "unplugged",
        [CLAIM_STATE_RELEASING] = "releasing",
};

const char *claim_state_to_string(enum claim_state s) {
        if ((unsigned) s >= _CLAIM_STATE_MAX)
                return NULL;
        return state_names[s];
}

int claim_state_from_string(const char *s) {
        for (unsigned i = 0; i < _CLAIM_STATE_MAX; i++)
                if (streq_ptr(state_names[i], s))
                        return (int) i;
        return -EINVAL;
}

/* Own table so the registry does not depend on the XML module. */
static const char *const type_names[] = {
        [HOSTDEV_TYPE_USB] = "usb",           [HOSTDEV_TYPE_PCI] = "pci",
        [HOSTDEV_TYPE_SCSI] = "scsi",         [HOSTDEV_TYPE_SCSI_HOST] = "scsi_host",
        [HOSTDEV_TYPE_MDEV] = "mdev",         [HOSTDEV_TYPE_CAP_STORAGE] = "storage",
        [HOSTDEV_TYPE_CAP_MISC] = "misc",     [HOSTDEV_TYPE_CAP_NET] = "net",
};

static const char *type_to_string(enum hostdev_type t) {
        if ((unsigned) t >= ELEMENTSOF(type_names))
                return NULL;
        return type_names[t];
}

static int type_from_string(const char *s) {
        for (unsigned i = 0; i < ELEMENTSOF(type_names); i++)
                if (streq_ptr(type_names[i], s))
                        return (int) i;
        return -EINVAL;
}

static int strdup_opt(const char *s, char **ret) {
        if (!s) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

void format_claim_time(time_t t, char buf[static 32]) {
        struct tm tm;
        if (!localtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, 32, "@%lld", (long long) t);
}

/* ---- claims ------------------------------------------------------------------------------- */
struct claim *claim_free(struct claim *c) {
        if (!c)
                return NULL;
        free(c->domain);
        free(c->key);
        free(c->node);
        free(c->usb.serial);
        free(c->usb.port);
        free(c->pci.orig_driver);
        free(c->qemu_id);
        free(c->qemu_props);
        free(c->selector_xml);
        free(c->caps_target);
        free(c->scsi.sg);
        free(c->scsi.block);
        free(c);
        return NULL;
}

int claim_dup(const struct claim *c, struct claim **ret) {
        _cleanup_(claim_freep) struct claim *n = calloc(1, sizeof(*n));
        if (!n)
                return -ENOMEM;
        *n = *c;
        n->domain = n->key = n->node = n->usb.serial = n->usb.port = NULL;
        n->pci.orig_driver = n->qemu_id = n->qemu_props = n->selector_xml = n->caps_target = NULL;
        n->scsi.sg = n->scsi.block = NULL;
        if (strdup_opt(c->domain, &n->domain) < 0 || strdup_opt(c->key, &n->key) < 0 ||
            strdup_opt(c->node, &n->node) < 0 || strdup_opt(c->usb.serial, &n->usb.serial) < 0 ||
            strdup_opt(c->usb.port, &n->usb.port) < 0 ||
            strdup_opt(c->pci.orig_driver, &n->pci.orig_driver) < 0 ||
            strdup_opt(c->qemu_id, &n->qemu_id) < 0 || strdup_opt(c->qemu_props, &n->qemu_props) < 0 ||
            strdup_opt(c->selector_xml, &n->selector_xml) < 0 ||
            strdup_opt(c->caps_target, &n->caps_target) < 0 || strdup_opt(c->scsi.sg, &n->scsi.sg) < 0 ||
            strdup_opt(c->scsi.block, &n->scsi.block) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(n);
        return 0;
}

char *claim_describe(const struct claim *c) {
        const char *node = c->node ? c->node : "(unplugged)";
        switch (c->type) {
        case HOSTDEV_TYPE_USB:
                if (c->usb.serial)
                        return strdup_printf("%s (%04x:%04x serial %s)", node, c->usb.vendor,
                                             c->usb.product, c->usb.serial);
                return strdup_printf("%s (%04x:%04x port %s)", node, c->usb.vendor,
                                     c->usb.product, strna(c->usb.port));
        case HOSTDEV_TYPE_PCI:
                return strdup_printf("%s (%04x:%02x:%02x.%x)", node, c->pci.addr.domain,
                                     c->pci.addr.bus, c->pci.addr.slot, c->pci.addr.function);
        default: {
                const char *k = c->key ? strchr(c->key, ':') : NULL;
                return strdup_printf("%s (%s)", node, k ? k + 1 : strna(c->key));
        }
        }
}

/* ---- domains ------------------------------------------------------------------------------ */
void domain_record_done(struct domain_record *d) {
        if (!d)
                return;
        free(d->name);
        free(d->qmp_socket);
        free(d->uri);
        *d = (struct domain_record){ 0 };
}

int process_starttime(pid_t pid, unsigned long long *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        char pidbuf[32];
        int r;

        if (pid <= 0)
                return -ESRCH;
        snprintf(pidbuf, sizeof pidbuf, "%d", (int) pid);
        path = path_join(proc_root(), pidbuf, "stat", NULL);
        if (!path)
                return -ENOMEM;
        r = read_full_file(path, 64 * 1024, &buf, NULL);
        if (r == -ENOENT || r == -ESRCH)
                return -ESRCH;
        if (r < 0)
                return r;
        /* "pid (comm) S ppid ..." — comm may contain anything: parse after the last ')'. */
        char *p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        p++;
        /* field 3 is the first after ')'; we want field 22 */
        for (int field = 3; field <= 22; field++) {
                while (*p == ' ')
                        p++;
                if (!*p)
                        return -EIO;
                if (field == 3 && (*p == 'Z' || *p == 'X'))
                        return -ESRCH; /* a zombie is dead for our purposes */
                if (field == 22) {
                        char *end;
                        errno = 0;
                        unsigned long long v = strtoull(p, &end, 10);
                        if (errno || end == p)
                                return -EIO;
                        *ret = v;
                        return 0;
                }
                while (*p && *p != ' ')
                        p++;
        }
        return -EIO;
}

int domain_record_set_process(struct domain_record *rec, pid_t pid) {
        unsigned long long st;
        int r = process_starttime(pid, &st);
        if (r < 0)
                return r;
        rec->pid = pid;
        rec->starttime = st;
        return 0;
}

static bool process_alive(pid_t pid, unsigned long long starttime) {
        unsigned long long st;
        if (pid == 0)
                return true;
        if (process_starttime(pid, &st) < 0)
                return false;
        return st == starttime;
}

const struct domain_record *registry_domain_find(const struct registry *reg, const char *name) {
        for (size_t i = 0; i < reg->n_domains; i++)
                if (streq_ptr(reg->domains[i].name, name))
                        return &reg->domains[i];
        return NULL;
}

bool registry_domain_alive(const struct registry *reg, const char *name) {
        const struct domain_record *d = registry_domain_find(reg, name);
        if (!d)
                return true;
        return process_alive(d->pid, d->starttime);
}

/* ---- handle ------------------------------------------------------------------------------- */
static void journal_entry_done(struct journal_entry *j) {
        free(j->op);
        free(j->domain);
        free(j->key);
        free(j->step);
        *j = (struct journal_entry){ 0 };
}

static void registry_clear(struct registry *reg) {
        for (size_t i = 0; i < reg->n_claims; i++)
                claim_free(reg->claims[i]);
        free(reg->claims);
        reg->claims = NULL;
        reg->n_claims = 0;
        for (size_t i = 0; i < reg->n_domains; i++)
                domain_record_done(&reg->domains[i]);
        free(reg->domains);
        reg->domains = NULL;
        reg->n_domains = 0;
        for (size_t i = 0; i < reg->n_journal; i++)
                journal_entry_done(&reg->journal[i]);
        free(reg->journal);
        reg->journal = NULL;
        reg->n_journal = 0;
        reg->next_id = 1;
        reg->dirty = false;
}

struct registry *registry_free(struct registry *reg) {
        if (!reg)
                return NULL;
        registry_unlock(reg);
        registry_clear(reg);
        safe_close(reg->lock_fd);
        for (size_t i = 0; i < reg->n_dropped; i++)
                claim_free(reg->dropped[i]);
        free(reg->dropped);
        strv_free(reg->recovery);
        free(reg->dir);
        free(reg->path);
        free(reg->lock_path);
        free(reg);
        return NULL;
}

const char *registry_path(const struct registry *reg) {
        return reg->path;
}

bool registry_is_locked(const struct registry *reg) {
        return reg->locked;
}

char *const *registry_recovery_messages(const struct registry *reg) {
        return reg->recovery;
}

int registry_take_dropped(struct registry *reg, struct claim ***ret, size_t *ret_n) {
        *ret = TAKE_PTR(reg->dropped);
        *ret_n = reg->n_dropped;
        reg->n_dropped = 0;
        return 0;
}

static int push_dropped(struct registry *reg, struct claim *c) {
        struct claim **n = realloc(reg->dropped, sizeof(*n) * (reg->n_dropped + 1));
        if (!n) {
                claim_free(c);
                return -ENOMEM;
        }
        reg->dropped = n;
        reg->dropped[reg->n_dropped++] = c;
        return 0;
}

static int add_recovery(struct registry *reg, char *msg) {
        if (!msg)
                return -ENOMEM;
        return strv_push(&reg->recovery, msg);
}

/* Remove claim i from the array and hand it to the dropped list. */
static int drop_claim_at(struct registry *reg, size_t i) {
        struct claim *c = reg->claims[i];
        memmove(reg->claims + i, reg->claims + i + 1, sizeof(*reg->claims) * (reg->n_claims - i - 1));
        reg->n_claims--;
        reg->dirty = true;
        return push_dropped(reg, c);
}

static void drop_domain_record(struct registry *reg, const char *name) {
        for (size_t i = 0; i < reg->n_domains; i++)
                if (streq_ptr(reg->domains[i].name, name)) {
                        domain_record_done(&reg->domains[i]);
                        memmove(reg->domains + i, reg->domains + i + 1,
                                sizeof(*reg->domains) * (reg->n_domains - i - 1));
                        reg->n_domains--;
                        reg->dirty = true;
                        return;
                }
}

static void drop_journal_at(struct registry *reg, size_t i) {
        journal_entry_done(&reg->journal[i]);
        memmove(reg->journal + i, reg->journal + i + 1, sizeof(*reg->journal) * (reg->n_journal - i - 1));
        reg->n_journal--;
        reg->dirty = true;
}

/* ---- (de)serialisation -------------------------------------------------------------------- */
static int json_add_str(json_object *o, const char *k, const char *v) {
        json_object *s = v ? json_object_new_string(v) : NULL;
        if (v && !s)
                return -ENOMEM;
        return json_object_object_add(o, k, s) < 0 ? -ENOMEM : 0;
}

static int json_add_int(json_object *o, const char *k, int64_t v) {
        json_object *s = json_object_new_int64(v);
        if (!s)
                return -ENOMEM;
        return json_object_object_add(o, k, s) < 0 ? -ENOMEM : 0;
}

static int json_add_bool(json_object *o, const char *k, bool v) {
        json_object *s = json_object_new_boolean(v);
        if (!s)
                return -ENOMEM;
        return json_object_object_add(o, k, s) < 0 ? -ENOMEM : 0;
}

/* A new object under o[k]; NULL on OOM. */
static json_object *json_add_object(json_object *o, const char *k) {
        json_object *sub = json_object_new_object();
        if (sub && json_object_object_add(o, k, sub) < 0) {
                json_object_put(sub);
                return NULL;
        }
        return sub;
}

static int claim_to_json(const struct claim *c, json_object **ret) {
        _cleanup_json_ json_object *o = json_object_new_object();
        int r = 0;
        if (!o)
                return -ENOMEM;
        r |= json_add_str(o, "domain", c->domain);
        r |= json_add_str(o, "type", type_to_string(c->type));
        r |= json_add_str(o, "key", c->key);
        r |= json_add_str(o, "node", c->node);
        r |= json_add_bool(o, "shareable", c->shareable);
        r |= json_add_str(o, "qemu_id", c->qemu_id);
        if (c->qemu_props)
                r |= json_add_str(o, "qemu_props", c->qemu_props);
        r |= json_add_str(o, "selector", c->selector_xml);
        r |= json_add_int(o, "since", (int64_t) c->since);
        r |= json_add_str(o, "state", claim_state_to_string(c->state));
        if (c->caps_target)
                r |= json_add_str(o, "caps_target", c->caps_target);
        if (c->type == HOSTDEV_TYPE_USB) {
                json_object *u = json_add_object(o, "usb");
                if (!u)
                        return -ENOMEM;
                r |= json_add_int(u, "vendor", c->usb.vendor);
                r |= json_add_int(u, "product", c->usb.product);
                r |= json_add_str(u, "serial", c->usb.serial);
                r |= json_add_str(u, "port", c->usb.port);
                r |= json_add_int(u, "select", c->usb.select);
                r |= json_add_int(u, "bus", c->usb.bus);
                r |= json_add_int(u, "devnum", c->usb.devnum);
        } else if (c->type == HOSTDEV_TYPE_PCI) {
                json_object *p = json_add_object(o, "pci");
                char addr[32];
                if (!p)
                        return -ENOMEM;
                snprintf(addr, sizeof addr, "%04x:%02x:%02x.%x", c->pci.addr.domain, c->pci.addr.bus,
                         c->pci.addr.slot, c->pci.addr.function);
                r |= json_add_str(p, "address", addr);
                r |= json_add_str(p, "orig_driver", c->pci.orig_driver);
                r |= json_add_bool(p, "managed", c->pci.managed);
                r |= json_add_bool(p, "detached", c->pci.detached);
                r |= json_add_int(p, "iommu_group", c->pci.iommu_group);
        } else if (c->type == HOSTDEV_TYPE_SCSI && c->scsi.known) {
                json_object *q = json_add_object(o, "scsi");
                if (!q)
                        return -ENOMEM;
                r |= json_add_int(q, "host", c->scsi.host);
                r |= json_add_int(q, "bus", c->scsi.bus);
                r |= json_add_int(q, "target", c->scsi.target);
                r |= json_add_int(q, "unit", (int64_t) c->scsi.unit);
                r |= json_add_str(q, "sg", c->scsi.sg);
                r |= json_add_str(q, "block", c->scsi.block);
        }
        if (r)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int registry_to_json(const struct registry *reg, char **ret) {
        _cleanup_json_ json_object *root = json_object_new_object();
        json_object *claims, *domains, *journal;
        int r = 0;

        if (!root)
                return -ENOMEM;
        r |= json_add_int(root, "version", REGISTRY_VERSION);
        r |= json_add_int(root, "next_journal_id", (int64_t) reg->next_id);
        domains = json_object_new_array();
        if (!domains || json_object_object_add(root, "domains", domains) < 0) {
                json_object_put(domains);
                return -ENOMEM;
        }
        claims = json_object_new_array();
        if (!claims || json_object_object_add(root, "claims", claims) < 0) {
                json_object_put(claims);
                return -ENOMEM;
        }
        journal = json_object_new_array();
        if (!journal || json_object_object_add(root, "journal", journal) < 0) {
                json_object_put(journal);
                return -ENOMEM;
        }
        if (r)
                return -ENOMEM;

        for (size_t i = 0; i < reg->n_domains; i++) {
                const struct domain_record *d = &reg->domains[i];
                json_object *o = json_object_new_object();
                if (!o || json_object_array_add(domains, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
                r |= json_add_str(o, "name", d->name);
                r |= json_add_int(o, "pid", d->pid);
                r |= json_add_int(o, "starttime", (int64_t) d->starttime);
                r |= json_add_str(o, "qmp_socket", d->qmp_socket);
                r |= json_add_str(o, "uri", d->uri);
        }
        for (size_t i = 0; i < reg->n_claims; i++) {
                json_object *o = NULL;
                if (claim_to_json(reg->claims[i], &o) < 0)
                        return -ENOMEM;
                if (json_object_array_add(claims, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
        }
        for (size_t i = 0; i < reg->n_journal; i++) {
                const struct journal_entry *j = &reg->journal[i];
                json_object *o = json_object_new_object();
                if (!o || json_object_array_add(journal, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
                r |= json_add_int(o, "id", (int64_t) j->id);
                r |= json_add_str(o, "op", j->op);
                r |= json_add_str(o, "domain", j->domain);
                r |= json_add_str(o, "key", j->key);
                r |= json_add_str(o, "step", j->step);
                r |= json_add_int(o, "pid", j->pid);
                r |= json_add_int(o, "starttime", (int64_t) j->starttime);
                r |= json_add_int(o, "since", (int64_t) j->since);
        }
        if (r)
                return -ENOMEM;
        const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        if (!s)
                return -ENOMEM;
        char *out = strdup_printf("%s\n", s);
        if (!out)
                return -ENOMEM;
        *ret = out;
        return 0;
}

/* Typed getters: a missing key gives the default; a present key of the wrong type is -EBADMSG. */
static int jget_str(json_object *o, const char *k, bool required, char **ret) {
        json_object *v;
        if (!json_object_object_get_ex(o, k, &v) || json_object_is_type(v, json_type_null)) {
                if (required)
                        return -EBADMSG;
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

static int jget_int(json_object *o, const char *k, int64_t min, int64_t max, int64_t *ret) {
        json_object *v;
        if (!json_object_object_get_ex(o, k, &v)) {
                *ret = 0;
                return 0;
        }
        if (!json_object_is_type(v, json_type_int))
                return -EBADMSG;
        errno = 0;
        int64_t x = json_object_get_int64(v);
        if (errno || x < min || x > max)
                return -EBADMSG;
        *ret = x;
        return 0;
}

/* An unsigned (32-bit) field: missing gives 0. */
static int jget_uint(json_object *o, const char *k, unsigned *ret) {
        int64_t v;
        int r = jget_int(o, k, 0, UINT32_MAX, &v);
        if (r < 0)
                return r;
        *ret = (unsigned) v;
        return 0;
}

static int jget_bool(json_object *o, const char *k, bool *ret) {
        json_object *v;
        if (!json_object_object_get_ex(o, k, &v)) {
                *ret = false;
                return 0;
        }
        if (!json_object_is_type(v, json_type_boolean))
                return -EBADMSG;
        *ret = json_object_get_boolean(v);
        return 0;
}

static int claim_from_json(json_object *o, struct claim **ret) {
        _cleanup_(claim_freep) struct claim *c = calloc(1, sizeof(*c));
        _cleanup_free_ char *type = NULL, *state = NULL;
        json_object *sub;
        int64_t v;
        int r;

        if (!c)
                return -ENOMEM;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if ((r = jget_str(o, "domain", true, &c->domain)) < 0 || (r = jget_str(o, "type", true, &type)) < 0 ||
            (r = jget_str(o, "key", true, &c->key)) < 0 || (r = jget_str(o, "node", false, &c->node)) < 0 ||
            (r = jget_bool(o, "shareable", &c->shareable)) < 0 ||
            (r = jget_str(o, "qemu_id", false, &c->qemu_id)) < 0 ||
            (r = jget_str(o, "qemu_props", false, &c->qemu_props)) < 0 ||
            (r = jget_str(o, "selector", false, &c->selector_xml)) < 0 ||
            (r = jget_str(o, "caps_target", false, &c->caps_target)) < 0 ||
            (r = jget_str(o, "state", true, &state)) < 0)
                return r;
        if ((r = jget_int(o, "since", 0, INT64_MAX, &v)) < 0)
                return r;
        c->since = (time_t) v;
        r = type_from_string(type);
        if (r < 0)
                return -EBADMSG;
        c->type = r;
        r = claim_state_from_string(state);
        if (r < 0)
                return -EBADMSG;
        c->state = r;
        c->pci.iommu_group = -1;

        if (c->type == HOSTDEV_TYPE_USB) {
                if (!json_object_object_get_ex(o, "usb", &sub) || !json_object_is_type(sub, json_type_object))
                        return -EBADMSG;
                if ((r = jget_int(sub, "vendor", 0, 0xffff, &v)) < 0)
                        return r;
                c->usb.vendor = v;
                if ((r = jget_int(sub, "product", 0, 0xffff, &v)) < 0)
                        return r;
                c->usb.product = v;
                if ((r = jget_int(sub, "select", 0, 0xff, &v)) < 0)
                        return r;
                c->usb.select = v;
                if ((r = jget_uint(sub, "bus", &c->usb.bus)) < 0 ||
                    (r = jget_uint(sub, "devnum", &c->usb.devnum)) < 0 ||
                    (r = jget_str(sub, "serial", false, &c->usb.serial)) < 0 ||
                    (r = jget_str(sub, "port", false, &c->usb.port)) < 0)
                        return r;
        } else if (c->type == HOSTDEV_TYPE_PCI) {
                _cleanup_free_ char *addr = NULL;
                unsigned d, b, s, f;
                if (!json_object_object_get_ex(o, "pci", &sub) || !json_object_is_type(sub, json_type_object))
                        return -EBADMSG;
                if ((r = jget_str(sub, "address", true, &addr)) < 0 ||
                    (r = jget_str(sub, "orig_driver", false, &c->pci.orig_driver)) < 0 ||
                    (r = jget_bool(sub, "managed", &c->pci.managed)) < 0 ||
                    (r = jget_bool(sub, "detached", &c->pci.detached)) < 0)
                        return r;
                if (sscanf(addr, "%x:%x:%x.%x", &d, &b, &s, &f) != 4 || d > 0xffff || b > 0xff ||
                    s > 0x1f || f > 7)
                        return -EBADMSG;
                c->pci.addr = (struct pci_addr){ .domain = d, .bus = b, .slot = s, .function = f };
                if ((r = jget_int(sub, "iommu_group", -1, INT32_MAX, &v)) < 0)
                        return r;
                c->pci.iommu_group = json_object_object_get_ex(sub, "iommu_group", NULL) ? (int) v : -1;
        } else if (c->type == HOSTDEV_TYPE_SCSI && json_object_object_get_ex(o, "scsi", &sub)) {
                /* optional: claims of older registries and of iSCSI have none */
                if (!json_object_is_type(sub, json_type_object))
                        return -EBADMSG;
                if ((r = jget_uint(sub, "host", &c->scsi.host)) < 0 ||
                    (r = jget_uint(sub, "bus", &c->scsi.bus)) < 0 ||
                    (r = jget_uint(sub, "target", &c->scsi.target)) < 0 ||
                    (r = jget_int(sub, "unit", 0, INT64_MAX, &v)) < 0 ||
                    (r = jget_str(sub, "sg", false, &c->scsi.sg)) < 0 ||
                    (r = jget_str(sub, "block", false, &c->scsi.block)) < 0)
                        return r;
                c->scsi.unit = (unsigned long long) v;
                c->scsi.known = true;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

/* "pid" and "starttime": the process of a domain record or journal entry. */
static int jget_process(json_object *o, pid_t *ret_pid, unsigned long long *ret_starttime) {
        int64_t pid, st;
        int r;
        if ((r = jget_int(o, "pid", 0, INT32_MAX, &pid)) < 0 ||
            (r = jget_int(o, "starttime", 0, INT64_MAX, &st)) < 0)
                return r;
        *ret_pid = (pid_t) pid;
        *ret_starttime = (unsigned long long) st;
        return 0;
}

/* Element parsers for parse_json_array(): fill the zeroed element `elem` from object o; on
 * failure the element may be half filled (the array's `done` frees it). */
static int domain_record_from_json(json_object *o, void *elem) {
        struct domain_record *d = elem;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if ((r = jget_str(o, "name", true, &d->name)) < 0 ||
            (r = jget_str(o, "qmp_socket", false, &d->qmp_socket)) < 0 ||
            (r = jget_str(o, "uri", false, &d->uri)) < 0)
                return r;
        return jget_process(o, &d->pid, &d->starttime);
}

static void domain_record_done_elem(void *elem) {
        domain_record_done(elem);
}

static int claim_from_json_elem(json_object *o, void *elem) {
        return claim_from_json(o, elem); /* elem is a struct claim * slot */
}

static void claim_free_elem(void *elem) {
        struct claim **c = elem;
        *c = claim_free(*c);
}

static int journal_entry_from_json(json_object *o, void *elem) {
        struct journal_entry *j = elem;
        int64_t v;
        int r;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if ((r = jget_str(o, "op", true, &j->op)) < 0 || (r = jget_str(o, "domain", true, &j->domain)) < 0 ||
            (r = jget_str(o, "key", false, &j->key)) < 0 || (r = jget_str(o, "step", false, &j->step)) < 0)
                return r;
        if ((r = jget_int(o, "id", 0, INT64_MAX, &v)) < 0)
                return r;
        j->id = v;
        if ((r = jget_process(o, &j->pid, &j->starttime)) < 0 ||
            (r = jget_int(o, "since", 0, INT64_MAX, &v)) < 0)
                return r;
        j->since = (time_t) v;
        return 0;
}

static void journal_entry_done_elem(void *elem) {
        journal_entry_done(elem);
}

/* Parse the optional array root[key] into a fresh calloc'ed array of elements of `size` bytes,
 * each filled by parse(). A missing key gives NULL / 0; a non-array is -EBADMSG. On failure
 * every element parsed so far (and the half-parsed one) goes through done() and *ret / *ret_n
 * are untouched. */
static int parse_json_array(json_object *root, const char *key, size_t size,
                            int (*parse)(json_object *o, void *elem), void (*done)(void *elem), void **ret,
                            size_t *ret_n) {
        json_object *arr;
        uint8_t *a;
        size_t n;
        int r;

        if (!json_object_object_get_ex(root, key, &arr)) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (!json_object_is_type(arr, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(arr);
        a = calloc(n ? n : 1, size);
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = parse(json_object_array_get_idx(arr, i), a + i * size);
                if (r < 0) {
                        for (size_t k = 0; k <= i; k++)
                                done(a + k * size);
                        free(a);
                        return r;
                }
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

static int registry_from_json(struct registry *reg, const char *text) {
        _cleanup_json_ json_object *root = NULL;
        enum json_tokener_error jerr = json_tokener_success;
        void *a;
        int64_t v;
        int r;

        root = json_tokener_parse_verbose(text, &jerr);
        if (!root || !json_object_is_type(root, json_type_object))
                return -EBADMSG;
        if ((r = jget_int(root, "version", 0, INT32_MAX, &v)) < 0)
                return r;
        if (v != REGISTRY_VERSION)
                return -EPROTONOSUPPORT;
        if ((r = jget_int(root, "next_journal_id", 0, INT64_MAX, &v)) < 0)
                return r;
        reg->next_id = v > 0 ? (unsigned long long) v : 1;

        r = parse_json_array(root, "domains", sizeof(*reg->domains), domain_record_from_json,
                             domain_record_done_elem, &a, &reg->n_domains);
        if (r < 0)
                return r;
        reg->domains = a;
        r = parse_json_array(root, "claims", sizeof(*reg->claims), claim_from_json_elem, claim_free_elem, &a,
                             &reg->n_claims);
        if (r < 0)
                return r;
        reg->claims = a;
        r = parse_json_array(root, "journal", sizeof(*reg->journal), journal_entry_from_json,
                             journal_entry_done_elem, &a, &reg->n_journal);
        if (r < 0)
                return r;
        reg->journal = a;
        return 0;
}

/* ---- recovery ----------------------------------------------------------------------------- */
static ssize_t find_claim_index(const struct registry *reg, const char *key) {
        for (size_t i = 0; i < reg->n_claims; i++)
                if (streq_ptr(reg->claims[i]->key, key))
                        return (ssize_t) i;
        return -1;
}

/* A shareable device has one claim per domain under the same key: the domain's own. */
static ssize_t find_domain_claim_index(const struct registry *reg, const char *domain, const char *key) {
        for (size_t i = 0; i < reg->n_claims; i++)
                if (streq_ptr(reg->claims[i]->key, key) && streq_ptr(reg->claims[i]->domain, domain))
                        return (ssize_t) i;
        return -1;
}

static int recover_journal(struct registry *reg) {
        int r;
        for (size_t i = 0; i < reg->n_journal;) {
                struct journal_entry *j = &reg->journal[i];
                if (process_alive(j->pid, j->starttime)) {
                        i++;
                        continue;
                }
                bool finish = streq(j->op, "release") || streq(j->op, "detach");
                const char *what = j->key ? j->key : "all devices";
                char *msg;
                if (finish) {
                        size_t dropped = 0;
                        for (size_t k = 0; k < reg->n_claims;) {
                                struct claim *c = reg->claims[k];
                                if (streq(c->domain, j->domain) && (!j->key || streq(c->key, j->key))) {
                                        if ((r = drop_claim_at(reg, k)) < 0)
                                                return r;
                                        dropped++;
                                } else
                                        k++;
                        }
                        msg = strdup_printf("interrupted %s of %s for domain %s (%s) finished: %zu claim(s) released",
                                            j->op, what, j->domain, j->step ? j->step : "no step recorded", dropped);
                } else {
                        bool alive = registry_domain_alive(reg, j->domain);
                        const char *outcome = "nothing to undo";
                        for (size_t k = 0; k < reg->n_claims;) {
                                struct claim *c = reg->claims[k];
                                if (!streq(c->domain, j->domain) || (j->key && !streq(c->key, j->key))) {
                                        k++;
                                        continue;
                                }
                                if (alive) {
                                        /* what reached the guest stays; the rest goes back to claimed */
                                        if (c->state != CLAIM_STATE_ATTACHED && c->state != CLAIM_STATE_UNPLUGGED)
                                                c->state = CLAIM_STATE_CLAIMED;
                                        outcome = "claim kept as claimed";
                                        reg->dirty = true;
                                        k++;
                                } else {
                                        if ((r = drop_claim_at(reg, k)) < 0)
                                                return r;
                                        outcome = "claim dropped (domain gone)";
                                }
                        }
                        msg = strdup_printf("interrupted %s of %s for domain %s (%s) rolled back: %s", j->op,
                                            what, j->domain, j->step ? j->step : "no step recorded", outcome);
                }
                if ((r = add_recovery(reg, msg)) < 0)
                        return r;
                drop_journal_at(reg, i);
        }
        return 0;
}

static int load_locked(struct registry *reg, char **reterr) {
        _cleanup_free_ char *text = NULL;
        int r;

        registry_clear(reg);
        strv_free(reg->recovery);
        reg->recovery = NULL;

        r = read_full_file(reg->path, REGISTRY_MAX_SIZE, &text, NULL);
        if (r == -ENOENT)
                return recover_journal(reg);
        if (r < 0)
                return error_set(reterr, r, "cannot read registry %s: %s", reg->path, strerror(-r));
        if (isempty(text))
                r = -EBADMSG;
        else
                r = registry_from_json(reg, text);
        if (r == -ENOMEM)
                return error_set(reterr, r, "out of memory reading registry %s", reg->path);
        if (r < 0) {
                /* Unreadable: move it aside (never trust half of it) and start empty. */
                _cleanup_free_ char *aside = strdup_printf("%s.corrupt-%lld", reg->path, (long long) time(NULL));
                registry_clear(reg);
                if (!aside)
                        return -ENOMEM;
                if (reg->readonly)
                        return add_recovery(reg, strdup_printf("registry %s is unreadable; showing no claims",
                                                               reg->path));
                if (rename(reg->path, aside) < 0)
                        return error_set(reterr, -errno, "registry %s is unreadable and cannot be moved aside: %s",
                                         reg->path, strerror(errno));
                r = add_recovery(reg, strdup_printf("registry %s was unreadable (%s); moved aside to %s, starting empty",
                                                    reg->path,
                                                    r == -EPROTONOSUPPORT ? "unsupported version" : "malformed JSON",
                                                    aside));
                if (r < 0)
                        return r;
                reg->dirty = true;
        }
        return recover_journal(reg);
}

/* Under the lock nobody is writing: a registry.json.tmp.PID left behind is from a writer that
 * died between creating and renaming it. */
static void remove_stale_temp_files(struct registry *reg) {
        _cleanup_closedir_ DIR *d = opendir(reg->dir);
        struct dirent *de;
        if (!d)
                return;
        while ((de = readdir(d)))
                if (startswith(de->d_name, "registry.json.tmp."))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
}

static unsigned lock_timeout_sec(void) {
        const char *e = getenv("HOSTDEV_LOCK_TIMEOUT_SEC");
        unsigned v;
        if (!isempty(e) && safe_atou(e, 10, &v) >= 0)
                return v;
        return REGISTRY_LOCK_TIMEOUT_SEC;
}

/* Who holds a lock on the file open as fd: the pid the kernel lists for it in
 * proc_root()/locks ("1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF"; waiters are marked
 * "->" and skipped), or 0 when it cannot be told. The device must match too; where the
 * filesystem reports another device than the lock table (overlayfs, btrfs subvolumes) a lone
 * holder of that inode number is taken. */
static pid_t lock_holder(int fd) {
        _cleanup_free_ char *p = path_join(proc_root(), "locks", NULL), *buf = NULL;
        pid_t same_ino = 0;
        bool several = false;
        struct stat st;

        if (!p || fstat(fd, &st) < 0 || read_full_file(p, 16 * 1024 * 1024, &buf, NULL) < 0)
                return 0;
        for (char *line = buf, *next; line && *line; line = next) {
                unsigned maj, min;
                unsigned long long ino;
                int pid;

                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (strstr(line, "->") ||
                    sscanf(line, "%*d: %*s %*s %*s %d %x:%x:%llu", &pid, &maj, &min, &ino) != 4 ||
                    pid <= 0 || ino != (unsigned long long) st.st_ino)
                        continue;
                if (maj == major(st.st_dev) && min == minor(st.st_dev))
                        return (pid_t) pid;
                if (same_ino && same_ino != pid)
                        several = true;
                same_ino = pid;
        }
        return several ? 0 : same_ino;
}

static int lock_timed_out(struct registry *reg, unsigned timeout, char **reterr) {
        _cleanup_free_ char *comm = NULL, *commp = NULL;
        pid_t pid = lock_holder(reg->lock_fd);
        char pidbuf[32];

        if (pid <= 0)
                return error_set(reterr, -ETIMEDOUT,
                                 "the claims registry %s is locked by another process (not known which: see "
                                 "who holds %s) for %u s; giving up (retry when it is done, or stop it if it is "
                                 "stuck)",
                                 reg->path, reg->lock_path, timeout);
        snprintf(pidbuf, sizeof pidbuf, "%d", (int) pid);
        commp = path_join(proc_root(), pidbuf, "comm", NULL);
        if (commp)
                (void) read_one_line_file(commp, &comm);
        return error_set(reterr, -ETIMEDOUT,
                         "the claims registry %s is locked by another process (pid %d%s%s) for %u s; giving up "
                         "(retry when it is done, or stop it if it is stuck)",
                         reg->path, (int) pid, comm ? ", " : "", strempty(comm), timeout);
}

/* flock() has no timeout: try, then sleep 1, 2, 4 ... up to 50 ms between tries. */
static int lock_wait(struct registry *reg, char **reterr) {
        unsigned timeout = lock_timeout_sec();
        uint64_t deadline = now_usec() + (uint64_t) timeout * 1000000u;
        unsigned delay_ms = 1;

        for (;;) {
                if (flock(reg->lock_fd, LOCK_EX | LOCK_NB) >= 0)
                        return 0;
                if (errno == EINTR)
                        continue;
                if (errno != EWOULDBLOCK)
                        return error_set(reterr, -errno, "cannot lock %s: %s", reg->lock_path, strerror(errno));
                uint64_t now = now_usec();
                if (now >= deadline)
                        return lock_timed_out(reg, timeout, reterr);
                uint64_t sleep_us = (uint64_t) delay_ms * 1000u;
                if (sleep_us > deadline - now)
                        sleep_us = deadline - now;
                struct timespec ts = { .tv_sec = sleep_us / 1000000u, .tv_nsec = (sleep_us % 1000000u) * 1000u };
                (void) nanosleep(&ts, NULL);
                delay_ms = delay_ms >= 25 ? 50 : delay_ms * 2;
        }
}

int registry_lock(struct registry *reg, char **reterr) {
        int r;
        if (reg->locked)
                return error_set(reterr, -EBUSY, "registry %s: lock already held by this handle", reg->path);
        r = lock_wait(reg, reterr);
        if (r < 0)
                return r;
        reg->locked = true;
        if (!reg->readonly)
                remove_stale_temp_files(reg);
        r = load_locked(reg, reterr);
        if (r < 0) {
                registry_unlock(reg);
                return r;
        }
        return 0;
}

void registry_unlock(struct registry *reg) {
        if (!reg->locked)
                return;
        (void) flock(reg->lock_fd, LOCK_UN);
        reg->locked = false;
}

int registry_save(struct registry *reg, char **reterr) {
        _cleanup_free_ char *text = NULL;
        int r;
        if (!reg->locked)
                return error_set(reterr, -ENOLCK, "registry %s: save without the lock", reg->path);
        if (reg->readonly)
                return error_set(reterr, -EACCES, "the claims registry %s is read-only for this user", reg->path);
        r = registry_to_json(reg, &text);
        if (r < 0)
                return error_set(reterr, r, "out of memory writing registry");
        r = write_file_atomic(reg->path, text, strlen(text), 0600);
        if (r < 0)
                return error_set(reterr, r, "cannot write registry %s: %s", reg->path, strerror(-r));
        reg->dirty = false;
        return 0;
}

/* Run a mutation: lock+load when the caller does not hold the lock, save if changed. */
static int auto_begin(struct registry *reg, bool *auto_locked, char **reterr) {
        *auto_locked = false;
        if (reg->locked)
                return 0;
        if (reg->readonly)
                return error_set(reterr, -EACCES, "the claims registry %s is read-only for this user", reg->path);
        int r = registry_lock(reg, reterr);
        if (r < 0)
                return r;
        *auto_locked = true;
        return 0;
}

static int auto_end(struct registry *reg, bool auto_locked, int r, char **reterr) {
        if (!auto_locked)
                return r;
        if (reg->dirty) {
                int q = registry_save(reg, r < 0 ? NULL : reterr);
                if (q < 0 && r >= 0)
                        r = q;
        }
        registry_unlock(reg);
        return r;
}

int registry_reload(struct registry *reg, char **reterr) {
        bool al;
        int r;
        if (reg->readonly && !reg->locked) {
                /* snapshot for a reader: recoveries are computed but cannot be written */
                r = registry_lock(reg, reterr);
                registry_unlock(reg);
                reg->dirty = false;
                return r;
        }
        r = auto_begin(reg, &al, reterr);
        if (r < 0)
                return r;
        if (!al)
                r = load_locked(reg, reterr);
        return auto_end(reg, al, r, reterr);
}

int registry_open(struct registry **ret, char **reterr) {
        _cleanup_(registry_freep) struct registry *reg = calloc(1, sizeof(*reg));
        int r;

        if (!reg)
                return -ENOMEM;
        reg->lock_fd = -1;
        reg->next_id = 1;
        reg->dir = strdup(state_dir());
        if (!reg->dir)
                return -ENOMEM;
        reg->path = path_join(reg->dir, "registry.json", NULL);
        reg->lock_path = path_join(reg->dir, "registry.lock", NULL);
        if (!reg->path || !reg->lock_path)
                return -ENOMEM;
        r = mkdir_p(reg->dir, 0700);
        if (r < 0)
                return error_set(reterr, r, "cannot create state directory %s: %s%s", reg->dir, strerror(-r),
                                 r == -EACCES || r == -EPERM ? " (the claims registry is root-only: run hostdev as root)" : "");
        reg->lock_fd = open(reg->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
        if (reg->lock_fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
                /* an unprivileged reader (resolve, list, status): flock works on O_RDONLY too */
                reg->lock_fd = open(reg->lock_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                reg->readonly = reg->lock_fd >= 0;
        }
        if (reg->lock_fd < 0) {
                int e = errno;
                return error_set(reterr, -e, "cannot open %s: %s%s", reg->lock_path, strerror(e),
                                 e == EACCES || e == EPERM ? " (the claims registry is root-only: run hostdev as root)"
                                                           : "");
        }
        r = registry_reload(reg, reterr);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(reg);
        return 0;
}

/* ---- gc ----------------------------------------------------------------------------------- */
static int gc_locked(struct registry *reg) {
        int n = 0, r;
        for (size_t i = 0; i < reg->n_domains;) {
                struct domain_record *d = &reg->domains[i];
                if (process_alive(d->pid, d->starttime)) {
                        i++;
                        continue;
                }
                _cleanup_free_ char *name = strdup(d->name);
                if (!name)
                        return -ENOMEM;
                for (size_t k = 0; k < reg->n_claims;) {
                        if (streq(reg->claims[k]->domain, name)) {
                                if ((r = drop_claim_at(reg, k)) < 0)
                                        return r;
                                n++;
                        } else
                                k++;
                }
                drop_domain_record(reg, name);
        }
        return n;
}

int registry_gc(struct registry *reg, char **reterr) {
        bool al;
        int r = auto_begin(reg, &al, reterr);
        if (r < 0)
                return r;
        r = gc_locked(reg);
        return auto_end(reg, al, r, reterr);
}

/* ---- claims ------------------------------------------------------------------------------- */
static int busy_message(char **reterr, const struct claim *held, const char *what_prefix) {
        char when[32];
        _cleanup_free_ char *desc = claim_describe(held);
        format_claim_time(held->since, when);
        return error_set(reterr, -EBUSY, "%sdevice %s is in use by domain %s since %s", strempty(what_prefix),
                         desc ? desc : held->key, held->domain, when);
}

/* A SCSI claim's LUN and host names from the inventory's node (nothing when it has none). */
static int scsi_info_from_inventory(struct claim *n, const struct inventory *inv) {
        const struct nodedev *dev = inv && n->node ? inventory_find(inv, n->node) : NULL;
        if (!dev || dev->cap != NODEDEV_CAP_SCSI || dev->u.scsi.lun > INT64_MAX)
                return 0;
        if (strdup_opt(dev->u.scsi.sg_name, &n->scsi.sg) < 0 || strdup_opt(dev->u.scsi.block_name, &n->scsi.block) < 0)
                return -ENOMEM;
        n->scsi.host = dev->u.scsi.host;
        n->scsi.bus = dev->u.scsi.bus;
        n->scsi.target = dev->u.scsi.target;
        n->scsi.unit = dev->u.scsi.lun;
        n->scsi.known = true;
        return 0;
}

static int pci_group_of(const struct claim *c, const struct inventory *inv) {
        if (inv) {
                struct nodedev *d = inventory_find_pci(inv, &c->pci.addr);
                if (d)
                        return d->u.pci.iommu_group;
        }
        return c->pci.iommu_group;
}

static int claim_locked(struct registry *reg, const char *domain, const struct claim *c,
                        const struct inventory *inv, char **reterr) {
        _cleanup_(claim_freep) struct claim *n = NULL;
        int r;

        r = gc_locked(reg);
        if (r < 0)
                return r;

        int group = c->type == HOSTDEV_TYPE_PCI ? pci_group_of(c, inv) : -1;
        for (size_t i = 0; i < reg->n_claims; i++) {
                const struct claim *e = reg->claims[i];
                bool same_key = streq(e->key, c->key);
                bool same_node = c->node && e->node && streq(c->node, e->node);

                if (same_key || same_node) {
                        if (streq(e->domain, domain)) {
                                if (same_key)
                                        return 0; /* already ours */
                                _cleanup_free_ char *desc = claim_describe(e);
                                return error_set(reterr, -EBUSY,
                                                 "device %s is already claimed by domain %s through another selector (%s)",
                                                 desc ? desc : e->key, domain, strna(e->selector_xml));
                        }
                        if (c->shareable && e->shareable)
                                continue;
                        if (e->shareable && !c->shareable) {
                                char when[32];
                                _cleanup_free_ char *desc = claim_describe(e);
                                format_claim_time(e->since, when);
                                return error_set(reterr, -EBUSY,
                                                 "device %s is in use by domain %s since %s (shared there; "
                                                 "add <shareable/> to share it)",
                                                 desc ? desc : e->key, e->domain, when);
                        }
                        return busy_message(reterr, e, NULL);
                }
                if (group >= 0 && e->type == HOSTDEV_TYPE_PCI && !streq(e->domain, domain) &&
                    pci_group_of(e, inv) == group) {
                        _cleanup_free_ char *mine = claim_describe(c), *theirs = claim_describe(e);
                        return error_set(reterr, -EBUSY,
                                         "device %s shares IOMMU group %d with %s, in use by domain %s",
                                         mine ? mine : c->key, group, theirs ? theirs : e->key, e->domain);
                }
        }

        r = claim_dup(c, &n);
        if (r < 0)
                return r;
        free(n->domain);
        n->domain = strdup(domain);
        if (!n->domain)
                return -ENOMEM;
        if (n->since == 0)
                n->since = time(NULL);
        if (c->type == HOSTDEV_TYPE_PCI)
                n->pci.iommu_group = group;
        if (c->type == HOSTDEV_TYPE_SCSI && !n->scsi.known && (r = scsi_info_from_inventory(n, inv)) < 0)
                return r;
        struct claim **a = realloc(reg->claims, sizeof(*a) * (reg->n_claims + 1));
        if (!a)
                return -ENOMEM;
        reg->claims = a;
        reg->claims[reg->n_claims++] = TAKE_PTR(n);
        reg->dirty = true;
        return 1;
}

int registry_claim(struct registry *reg, const char *domain, const struct claim *c,
                   const struct inventory *inv, char **reterr) {
        bool al;
        int r;
        if (isempty(domain) || isempty(c->key))
                return error_set(reterr, -EINVAL, "claim needs a domain and a device key");
        r = auto_begin(reg, &al, reterr);
        if (r < 0)
                return r;
        r = claim_locked(reg, domain, c, inv, reterr);
        return auto_end(reg, al, r, reterr);
}

static int release_domain_locked(struct registry *reg, const char *domain, struct claim ***ret, size_t *ret_n) {
        _cleanup_free_ struct claim **out = NULL;
        size_t n = 0;
        for (size_t i = 0; i < reg->n_claims;) {
                if (!streq(reg->claims[i]->domain, domain)) {
                        i++;
                        continue;
                }
                struct claim **a = realloc(out, sizeof(*a) * (n + 1));
                if (!a) {
                        for (size_t k = 0; k < n; k++)
                                claim_free(out[k]);
                        return -ENOMEM;
                }
                out = a;
                out[n++] = reg->claims[i];
                memmove(reg->claims + i, reg->claims + i + 1, sizeof(*reg->claims) * (reg->n_claims - i - 1));
                reg->n_claims--;
                reg->dirty = true;
        }
        drop_domain_record(reg, domain);
        for (size_t i = 0; i < reg->n_journal;) {
                if (streq(reg->journal[i].domain, domain) && !process_alive(reg->journal[i].pid, reg->journal[i].starttime))
                        drop_journal_at(reg, i);
                else
                        i++;
        }
        if (ret) {
                *ret = TAKE_PTR(out);
                *ret_n = n;
        } else
                for (size_t k = 0; k < n; k++)
                        claim_free(out[k]);
        return (int) n;
}

int registry_release_domain(struct registry *reg, const char *domain, struct claim ***ret,
                            size_t *ret_n, char **reterr) {
        struct claim **out = NULL;
        size_t n = 0;
        bool al;
        int r = auto_begin(reg, &al, reterr);
        if (r < 0)
                return r;
        r = release_domain_locked(reg, domain, &out, &n);
        r = auto_end(reg, al, r, reterr);
        if (r < 0) {
                for (size_t k = 0; k < n; k++)
                        claim_free(out[k]);
                free(out);
                return r;
        }
        if (ret) {
                *ret = out;
                *ret_n = n;
        } else {
                for (size_t k = 0; k < n; k++)
                        claim_free(out[k]);
                free(out);
        }
        return r;
}

int registry_release_claim(struct registry *reg, const char *domain, const char *key,
                           struct claim **ret, char **reterr) {
        struct claim *out = NULL;
        bool al;
        int r = auto_begin(reg, &al, reterr);
        if (r < 0)
                return r;
        ssize_t i = find_domain_claim_index(reg, domain, key);
        if (i < 0)
                r = error_set(reterr, -ENOENT, "domain %s holds no claim on %s", domain, key);
        else {
                out = reg->claims[i];
                memmove(reg->claims + i, reg->claims + i + 1, sizeof(*reg->claims) * (reg->n_claims - i - 1));
                reg->n_claims--;
                reg->dirty = true;
        }
        r = auto_end(reg, al, r, reterr);
        if (r < 0 || !ret)
                claim_free(out);
        else
                *ret = out;
        return r;
}

int registry_set_state(struct registry *reg, const char *key, enum claim_state state, char **reterr) {
        bool al;
        int r;
        if ((unsigned) state >= _CLAIM_STATE_MAX)
                return -EINVAL;
        r = auto_begin(reg, &al, reterr);
        if (r < 0)
                return r;
        ssize_t i = find_claim_index(reg, key);
        if (i < 0)
                r = error_set(reterr, -ENOENT, "no claim on %s", key);
        else if (reg->claims[i]->state != state) {
                reg->claims[i]->state = state;
                reg->dirty = true;
        }
        return auto_end(reg, al, r, reterr);
}

int registry_set_claim_state(struct registry *reg, const char *domain, const char *key, enum claim_state state,
                             char **reterr) {
        bool al;
        int r;
        if ((unsigned) state >= _CLAIM_STATE_MAX)
                return -EINVAL;
        r = auto_begin(reg, &al, reterr);
        if (r < 0)
                return r;
        ssize_t i = find_domain_claim_index(reg, domain, key);
        if (i < 0)
                r = error_set(reterr, -ENOENT, "domain %s holds no claim on %s", domain, key);
        else if (reg->claims[i]->state != state) {
                reg->claims[i]->state = state;
                reg->dirty = true;
        }
        return auto_end(reg, al, r, reterr);
}

const struct claim *registry_find_domain_claim(const struct registry *reg, const char *domain, const char *key) {
        ssize_t i = find_domain_claim_index(reg, domain, key);
        return i < 0 ? NULL : reg->claims[i];
}

/* Change the claim at key in place (under the lock, written back): fn returns 0 or -errno. */
static int registry_edit_claim(struct registry *reg, const char *key, int (*fn)(struct claim *c, const void *arg),
                               const void *arg, char **reterr) {
        bool al;
        int r = auto_begin(reg, &al, reterr);
        if (r < 0)
                return r;
        ssize_t i = find_claim_index(reg, key);
        if (i < 0)
                r = error_set(reterr, -ENOENT, "no claim on %s", key);
        else if ((r = fn(reg->claims[i], arg)) > 0) {
                reg->dirty = true;
                r = 0;
        }
        return auto_end(reg, al, r, reterr);
}

/* edits: 1 changed, 0 nothing to change, -errno */
static int edit_usb_port(struct claim *c, const void *arg) {
        const char *port = arg;
        char *np = NULL;
        if (streq_ptr(c->usb.port, port))
                return 0;
        if (strdup_opt(port, &np) < 0)
                return -ENOMEM;
        free(c->usb.port);
        c->usb.port = np;
        return 1;
}

int registry_set_usb_port(struct registry *reg, const char *key, const char *port, char **reterr) {
        return registry_edit_claim(reg, key, edit_usb_port, port, reterr);
}

struct location {
        const char *node, *qemu_id;
        unsigned bus, devnum;
};

static int edit_location(struct claim *c, const void *arg) {
        const struct location *l = arg;
        char *nn = NULL, *nq = NULL;
        if (strdup_opt(l->node, &nn) < 0 || (l->qemu_id && strdup_opt(l->qemu_id, &nq) < 0)) {
                free(nn);
                return -ENOMEM;
        }
        free(c->node);
        c->node = nn;
        c->usb.bus = l->bus;
        c->usb.devnum = l->devnum;
        if (nq) {
                free(c->qemu_id);
                c->qemu_id = nq;
        }
        return 1;
}

int registry_set_location(struct registry *reg, const char *key, const char *node, unsigned bus,
                          unsigned devnum, const char *qemu_id, char **reterr) {
        const struct location l = { .node = node, .qemu_id = qemu_id, .bus = bus, .devnum = devnum };
        return registry_edit_claim(reg, key, edit_location, &l, reterr);
}

const struct claim *registry_find_by_key(const struct registry *reg, const char *key) {
        ssize_t i = find_claim_index(reg, key);
        return i < 0 ? NULL : reg->claims[i];
}

const struct claim *registry_find_by_node(const struct registry *reg, const char *node) {
        for (size_t i = 0; i < reg->n_claims; i++)
                if (streq_ptr(reg->claims[i]->node, node))
                        return reg->claims[i];
        return NULL;
}

static bool claim_covers(const struct claim *c, const struct nodedev *dev) {
        switch (c->type) {
        case HOSTDEV_TYPE_USB:
                /* by identity (serial / port), whatever its node name or bus:device now: the
                 * recorded node may be stale after a replug nobody has seen yet */
                return usb_identity_matches(&c->usb, dev);
        case HOSTDEV_TYPE_PCI:
                return dev->cap == NODEDEV_CAP_PCI && dev->u.pci.addr.domain == c->pci.addr.domain &&
                       dev->u.pci.addr.bus == c->pci.addr.bus && dev->u.pci.addr.slot == c->pci.addr.slot &&
                       dev->u.pci.addr.function == c->pci.addr.function;
        default:
                return c->node && streq(c->node, dev->name);
        }
}

const struct claim *registry_claim_for_device(const struct registry *reg, const struct nodedev *dev) {
        if (!reg || !dev)
                return NULL;
        /* an exact node match wins over an identity match of an unplugged claim */
        for (size_t i = 0; i < reg->n_claims; i++)
                if (reg->claims[i]->node && streq(reg->claims[i]->node, dev->name) &&
                    claim_covers(reg->claims[i], dev) && registry_domain_alive(reg, reg->claims[i]->domain))
                        return reg->claims[i];
        for (size_t i = 0; i < reg->n_claims; i++)
                if (claim_covers(reg->claims[i], dev) && registry_domain_alive(reg, reg->claims[i]->domain))
                        return reg->claims[i];
        return NULL;
}

int registry_for_each_claim(const struct registry *reg, int (*cb)(const struct claim *c, void *userdata),
                            void *userdata) {
        for (size_t i = 0; i < reg->n_claims; i++) {
                int r = cb(reg->claims[i], userdata);
                if (r != 0)
                        return r;
        }
        return 0;
}

size_t registry_n_claims(const struct registry *reg) {
        return reg->n_claims;
}

const struct claim *registry_claim_at(const struct registry *reg, size_t i) {
        return i < reg->n_claims ? reg->claims[i] : NULL;
}

int registry_fill_owners(struct registry *reg, struct inventory *inv) {
        for (size_t i = 0; i < inv->n_devs; i++) {
                struct nodedev *d = inv->devs[i];
                const struct claim *c = registry_claim_for_device(reg, d);
                if (!c)
                        continue;
                char *o = strdup(c->domain);
                if (!o)
                        return -ENOMEM;
                free(d->owner);
                d->owner = o;
        }
        return 0;
}

/* ---- domains ------------------------------------------------------------------------------ */
int registry_domain_set(struct registry *reg, const struct domain_record *d, char **reterr) {
        struct domain_record n = { .pid = d->pid, .starttime = d->starttime };
        bool al;
        int r;

        if (isempty(d->name))
                return error_set(reterr, -EINVAL, "domain record needs a name");
        if (strdup_opt(d->name, &n.name) < 0 || strdup_opt(d->qmp_socket, &n.qmp_socket) < 0 ||
            strdup_opt(d->uri, &n.uri) < 0) {
                domain_record_done(&n);
                return -ENOMEM;
        }
        r = auto_begin(reg, &al, reterr);
        if (r < 0) {
                domain_record_done(&n);
                return r;
        }
        struct domain_record *e = (struct domain_record *) registry_domain_find(reg, d->name);
        if (e) {
                domain_record_done(e);
                *e = n;
        } else {
                struct domain_record *a = realloc(reg->domains, sizeof(*a) * (reg->n_domains + 1));
                if (!a) {
                        domain_record_done(&n);
                        r = -ENOMEM;
                } else {
                        reg->domains = a;
                        reg->domains[reg->n_domains++] = n;
                }
        }
        if (r >= 0)
                reg->dirty = true;
        return auto_end(reg, al, r, reterr);
}

/* ---- journal ------------------------------------------------------------------------------ */
int registry_journal_begin(struct registry *reg, const char *op, const char *domain, const char *key,
                           const char *step, unsigned long long *ret_id, char **reterr) {
        struct journal_entry j = { .pid = getpid(), .since = time(NULL) };
        bool al;
        int r;

        r = process_starttime(j.pid, &j.starttime);
        if (r < 0)
                return error_set(reterr, r, "cannot read own process start time from %s: %s", proc_root(),
                                 strerror(-r));
        if (strdup_opt(op, &j.op) < 0 || strdup_opt(domain, &j.domain) < 0 || strdup_opt(key, &j.key) < 0 ||
            strdup_opt(step, &j.step) < 0 || !j.op || !j.domain) {
                journal_entry_done(&j);
                return -ENOMEM;
        }
        r = auto_begin(reg, &al, reterr);
        if (r < 0) {
                journal_entry_done(&j);
                return r;
        }
        struct journal_entry *a = realloc(reg->journal, sizeof(*a) * (reg->n_journal + 1));
        if (!a) {
                journal_entry_done(&j);
                r = -ENOMEM;
        } else {
                j.id = reg->next_id++;
                reg->journal = a;
                reg->journal[reg->n_journal++] = j;
                reg->dirty = true;
                if (ret_id)
                        *ret_id = j.id;
        }
        return auto_end(reg, al, r, reterr);
}

static ssize_t find_journal(const struct registry *reg, unsigned long long id) {
        for (size_t i = 0; i < reg->n_journal; i++)
                if (reg->journal[i].id == id)
                        return (ssize_t) i;
        return -1;
}

int registry_journal_step(struct registry *reg, unsigned long long id, const char *step, char **reterr) {
        bool al;
        int r = auto_begin(reg, &al, reterr);
        if (r < 0)
                return r;
        ssize_t i = find_journal(reg, id);
        if (i < 0)
                r = error_set(reterr, -ENOENT, "no journal entry %llu", id);
        else {
                char *s = NULL;
                if (strdup_opt(step, &s) < 0)
                        r = -ENOMEM;
                else {
                        free(reg->journal[i].step);
                        reg->journal[i].step = s;
                        reg->dirty = true;
                }
        }
        return auto_end(reg, al, r, reterr);
}

int registry_journal_end(struct registry *reg, unsigned long long id, char **reterr) {
        bool al;
        int r = auto_begin(reg, &al, reterr);
        if (r < 0)
                return r;
        ssize_t i = find_journal(reg, id);
        if (i >= 0)
                drop_journal_at(reg, i);
        return auto_end(reg, al, r, reterr);
}

size_t registry_n_journal(const struct registry *reg) {
        return reg->n_journal;
}

const struct journal_entry *registry_journal_at(const struct registry *reg, size_t i) {
        return i < reg->n_journal ? &reg->journal[i] : NULL;
}

/* ---- give back ---------------------------------------------------------------------------- */
int registry_giveback(const struct claim *c, char **reterr) {
        if (c->type == HOSTDEV_TYPE_USB)
                return usbip_release_claim(c, reterr); /* usbip.c: an import goes back (vhci detach) */
        if (hostdev_type_is_caps(c->type))
                return caps_giveback(c, reterr); /* caps.c: interface back, node removed */
        if (!hostdev_giveback_claim)
                return 0;
        return hostdev_giveback_claim(c, reterr);
}

/* ---- status ------------------------------------------------------------------------------- */
/* The LUN of a SCSI claim: as recorded, else from its node name "scsi_H_B_T_L" (claims
 * recorded without an inventory; no sg/block names then). False when neither tells (iSCSI). */
static bool claim_scsi_address(const struct claim *c, struct scsi_claim_info *ret) {
        struct scsi_claim_info a = { .known = true };
        int end = -1;

        if (c->type != HOSTDEV_TYPE_SCSI)
                return false;
        if (c->scsi.known) {
                *ret = c->scsi;
                return true;
        }
        if (!c->node || sscanf(c->node, "scsi_%u_%u_%u_%llu%n", &a.host, &a.bus, &a.target, &a.unit, &end) != 4 ||
            end < 0 || c->node[end] || a.unit > INT64_MAX)
                return false;
        *ret = a;
        return true;
}

char *claim_identity_string(const struct claim *c) {
        struct scsi_claim_info scsi;

        if (claim_scsi_address(c, &scsi))
                return strdup_printf("scsi_host%u %u:%u:%llu%s%s%s%s%s", scsi.host, scsi.bus, scsi.target, scsi.unit,
                                     scsi.sg || scsi.block ? " (" : "", strempty(scsi.sg),
                                     scsi.sg && scsi.block ? ", " : "", strempty(scsi.block),
                                     scsi.sg || scsi.block ? ")" : "");
        switch (c->type) {
        case HOSTDEV_TYPE_USB:
                return strdup_printf("%04x:%04x%s%s port %s", c->usb.vendor, c->usb.product,
                                     c->usb.serial ? " serial " : "", strempty(c->usb.serial), strna(c->usb.port));
        case HOSTDEV_TYPE_PCI:
                return strdup_printf("%04x:%02x:%02x.%x%s%s%s", c->pci.addr.domain, c->pci.addr.bus, c->pci.addr.slot,
                                     c->pci.addr.function, c->pci.orig_driver ? " (host driver " : "",
                                     strempty(c->pci.orig_driver), c->pci.orig_driver ? ")" : "");
        default: {
                const char *k = strchr(c->key, ':');
                if (c->caps_target) /* capabilities mode: where it went */
                        return strdup_printf("%s in %s", k ? k + 1 : c->key, c->caps_target);
                return strdup(k ? k + 1 : c->key);
        }
        }
}

bool registry_domain_has_uri(const struct registry *reg, const char *domain, const char *uri) {
        const struct domain_record *d;
        if (!uri)
                return true;
        d = registry_domain_find(reg, domain);
        return d && streq_ptr(d->uri, uri);
}

static json_object *jstr(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static json_object *claim_status_json(const struct registry *reg, const struct claim *c) {
        json_object *o = json_object_new_object(), *id = json_object_new_object();
        struct scsi_claim_info scsi;
        char since[32];
        if (!o || !id) {
                json_object_put(o);
                json_object_put(id);
                return NULL;
        }
        format_claim_time(c->since, since);
        json_object_object_add(o, "device", jstr(c->node));
        json_object_object_add(o, "type", jstr(type_to_string(c->type)));
        json_object_object_add(o, "key", jstr(c->key));
        if (c->type == HOSTDEV_TYPE_USB) {
                json_object_object_add(id, "vendor_id", json_object_new_int(c->usb.vendor));
                json_object_object_add(id, "product_id", json_object_new_int(c->usb.product));
                json_object_object_add(id, "serial", jstr(c->usb.serial));
                json_object_object_add(id, "port", jstr(c->usb.port));
                json_object_object_add(id, "bus", c->usb.bus ? json_object_new_int((int) c->usb.bus) : NULL);
                json_object_object_add(id, "device", c->usb.devnum ? json_object_new_int((int) c->usb.devnum) : NULL);
        } else if (c->type == HOSTDEV_TYPE_PCI) {
                char addr[32];
                snprintf(addr, sizeof addr, "%04x:%02x:%02x.%x", c->pci.addr.domain, c->pci.addr.bus, c->pci.addr.slot,
                         c->pci.addr.function);
                json_object_object_add(id, "address", json_object_new_string(addr));
                json_object_object_add(id, "orig_driver", jstr(c->pci.orig_driver));
                json_object_object_add(id, "managed", json_object_new_boolean(c->pci.managed));
                json_object_object_add(id, "detached", json_object_new_boolean(c->pci.detached));
                json_object_object_add(id, "iommu_group",
                                       c->pci.iommu_group >= 0 ? json_object_new_int(c->pci.iommu_group) : NULL);
        } else if (claim_scsi_address(c, &scsi)) {
                char adapter[32];
                snprintf(adapter, sizeof adapter, "scsi_host%u", scsi.host);
                json_object_object_add(id, "adapter", json_object_new_string(adapter));
                json_object_object_add(id, "bus", json_object_new_int64(scsi.bus));
                json_object_object_add(id, "target", json_object_new_int64(scsi.target));
                json_object_object_add(id, "unit", json_object_new_int64((int64_t) scsi.unit));
                json_object_object_add(id, "sg", jstr(scsi.sg));
                json_object_object_add(id, "block", jstr(scsi.block));
        }
        json_object_object_add(o, "identity", id);
        json_object_object_add(o, "domain", jstr(c->domain));
        json_object_object_add(o, "since", json_object_new_string(since));
        json_object_object_add(o, "since_epoch", json_object_new_int64((int64_t) c->since));
        json_object_object_add(o, "state", jstr(claim_state_to_string(c->state)));
        json_object_object_add(o, "shareable", json_object_new_boolean(c->shareable));
        json_object_object_add(o, "qemu_id", jstr(c->qemu_id));
        json_object_object_add(o, "selector", jstr(c->selector_xml));
        json_object_object_add(o, "alive", json_object_new_boolean(registry_domain_alive(reg, c->domain)));
        return o;
}

int registry_status_json(const struct registry *reg, const char *uri, char **ret) {
        _cleanup_json_ json_object *arr = json_object_new_array();
        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; reg && i < reg->n_claims; i++) {
                const struct claim *c = reg->claims[i];
                if (!registry_domain_has_uri(reg, c->domain, uri))
                        continue;
                json_object *o = claim_status_json(reg, c);
                if (!o || json_object_array_add(arr, o) < 0) {
                        json_object_put(o);
                        return -ENOMEM;
                }
        }
        const char *s = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
        char *out = s ? strdup(s) : NULL;
        if (!out)
                return -ENOMEM;
        *ret = out;
        return 0;
}

/* ---- detached snapshots ------------------------------------------------------------------- */
int registry_parse_text(const char *text, struct registry **ret) {
        _cleanup_(registry_freep) struct registry *reg = calloc(1, sizeof(*reg));
        int r;
        if (!reg)
                return -ENOMEM;
        reg->lock_fd = -1;
        reg->readonly = true;
        reg->next_id = 1;
        reg->dir = strdup("(detached)");
        reg->path = strdup("(detached)");
        reg->lock_path = strdup("(detached)");
        if (!reg->dir || !reg->path || !reg->lock_path)
                return -ENOMEM;
        r = registry_from_json(reg, text);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(reg);
        return 0;
}

int registry_format_text(const struct registry *reg, char **ret) {
        return registry_to_json(reg, ret);
}
