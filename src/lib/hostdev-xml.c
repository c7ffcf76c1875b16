/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The <hostdev> XML model: parse every accepted input form into struct hostdev_def, format it
 * back in libvirt's normalised form. See CONTRACT.md "Input files". */
#include "hostdev-xml.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>

#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>

#include "error.h"
#include "util.h"
#include "xml-util.h"

#define INPUT_MAX (16u * 1024u * 1024u)
#define DEPTH_MAX 64

#define GA_REG GUEST_ADDRESS_GIVEN_REG
#define GA_IOBASE GUEST_ADDRESS_GIVEN_IOBASE
#define GA_IRQ GUEST_ADDRESS_GIVEN_IRQ
#define GA_SLOT GUEST_ADDRESS_GIVEN_SLOT
#define GA_BASE GUEST_ADDRESS_GIVEN_BASE
#define GA_CCW GUEST_ADDRESS_GIVEN_CCW
#define GA_ZPCI_UID GUEST_ADDRESS_GIVEN_ZPCI_UID
#define GA_ZPCI_FID GUEST_ADDRESS_GIVEN_ZPCI_FID

/* ---- freeing ------------------------------------------------------------------------------ */

static void virtualport_free(struct virtualport_def *vp) {
        if (!vp)
                return;
        free(vp->type);
        for (size_t i = 0; i < vp->n_params; i++) {
                free(vp->param_names[i]);
                free(vp->param_values[i]);
        }
        free(vp->param_names);
        free(vp->param_values);
        free(vp);
}

static void iface_free(struct interface_extras *x) {
        if (!x)
                return;
        free(x->mac);
        free(x->model);
        for (size_t i = 0; i < x->n_vlan_tags; i++)
                free(x->vlan_tags[i].native_mode);
        free(x->vlan_tags);
        virtualport_free(x->virtualport);
        free(x);
}

struct hostdev_def *hostdev_def_free(struct hostdev_def *def) {
        if (!def)
                return NULL;
        switch (def->type) {
        case HOSTDEV_TYPE_USB:
                free(def->source.usb.serial);
                free(def->source.usb.port);
                free(def->source.usb.remote_host);
                break;
        case HOSTDEV_TYPE_PCI:
                break;
        case HOSTDEV_TYPE_SCSI: {
                struct scsi_source *s = &def->source.scsi;
                free(s->adapter);
                free(s->sg_name);
                free(s->iqn_name);
                for (size_t i = 0; i < s->n_hosts; i++) {
                        free(s->hosts[i].name);
                        free(s->hosts[i].port);
                }
                free(s->hosts);
                free(s->auth_username);
                free(s->auth_secret_type);
                free(s->auth_secret_usage);
                free(s->auth_secret_uuid);
                free(s->initiator_iqn);
                break;
        }
        case HOSTDEV_TYPE_SCSI_HOST:
                free(def->source.scsi_host.protocol);
                free(def->source.scsi_host.wwpn);
                break;
        case HOSTDEV_TYPE_MDEV:
                free(def->source.mdev.uuid);
                break;
        case HOSTDEV_TYPE_CAP_STORAGE:
        case HOSTDEV_TYPE_CAP_MISC:
        case HOSTDEV_TYPE_CAP_NET: {
                struct caps_source *s = &def->source.caps;
                free(s->block);
                free(s->char_dev);
                free(s->interface);
                for (size_t i = 0; i < s->n_ips; i++) {
                        free(s->ips[i].address);
                        free(s->ips[i].family);
                }
                free(s->ips);
                for (size_t i = 0; i < s->n_routes; i++) {
                        free(s->routes[i].family);
                        free(s->routes[i].address);
                        free(s->routes[i].netmask);
                        free(s->routes[i].gateway);
                }
                free(s->routes);
                break;
        }
        }
        free(def->scsi_host_model);
        free(def->boot_loadparm);
        free(def->rom_file);
        free(def->teaming_persistent);
        free(def->alias);
        free(def->guest_addr.usb_port);
        iface_free(def->iface);
        free(def);
        return NULL;
}

struct hostdev_file *hostdev_file_free(struct hostdev_file *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; i < f->n_defs; i++)
                hostdev_def_free(f->defs[i]);
        free(f->defs);
        free(f->path);
        free(f->domain_name);
        free(f);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hostdev_def *, hostdev_def_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct hostdev_file *, hostdev_file_free);

const char *hostdev_type_to_string(enum hostdev_type t) {
        switch (t) {
        case HOSTDEV_TYPE_USB: return "usb";
        case HOSTDEV_TYPE_PCI: return "pci";
        case HOSTDEV_TYPE_SCSI: return "scsi";
        case HOSTDEV_TYPE_SCSI_HOST: return "scsi_host";
        case HOSTDEV_TYPE_MDEV: return "mdev";
        case HOSTDEV_TYPE_CAP_STORAGE: return "storage";
        case HOSTDEV_TYPE_CAP_MISC: return "misc";
        case HOSTDEV_TYPE_CAP_NET: return "net";
        }
        return NULL;
}

/* ---- parse context and errors ------------------------------------------------------------- */

struct pctx {
        const char *name;
        char **reterr;
};

static long node_line(xmlNodePtr n) {
        long l = n ? xmlGetLineNo(n) : -1;
        return l > 0 ? l : 1;
}

_printf_(3, 4) static int perr(struct pctx *c, xmlNodePtr n, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg)
                return -ENOMEM;
        return error_set(c->reterr, -EINVAL, "%s:%ld: %s", c->name, node_line(n), msg);
}

static const char *nname(xmlNodePtr n) {
        return (const char *) n->name;
}

static bool is_elem(xmlNodePtr n, const char *name) {
        return n->type == XML_ELEMENT_NODE && !n->ns && streq(nname(n), name);
}

/* A copy of attribute `name` (no namespace), or NULL; *ret_oom on allocation failure. */
static char *attr(xmlNodePtr n, const char *name) {
        xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *) name);
        char *r;
        if (!v)
                return NULL;
        r = strdup((const char *) v);
        xmlFree(v);
        return r;
}

static bool has_attr(xmlNodePtr n, const char *name) {
        return xmlHasNsProp(n, (const xmlChar *) name, NULL) != NULL;
}

static char *join_names(const char *const *l) {
        struct strbuf sb = STRBUF_INIT;
        for (size_t i = 0; l[i]; i++) {
                if (i > 0)
                        strbuf_append(&sb, ", ");
                strbuf_append(&sb, l[i]);
        }
        return strbuf_steal(&sb);
}

static bool in_list(const char *const *l, const char *s) {
        for (size_t i = 0; l[i]; i++)
                if (streq(l[i], s))
                        return true;
        return false;
}

/* Every attribute of n must be in allowed (NULL-terminated). */
static bool has_control_chars(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static int check_attrs(struct pctx *c, xmlNodePtr n, const char *const *allowed) {
        for (xmlAttrPtr a = n->properties; a; a = a->next) {
                if (!a->ns && in_list(allowed, (const char *) a->name)) {
                        xmlChar *v = xmlNodeGetContent((xmlNodePtr) a);
                        bool bad;
                        if (!v)
                                return -ENOMEM;
                        bad = has_control_chars((const char *) v);
                        xmlFree(v);
                        if (bad)
                                return perr(c, n, "<%s %s=...>: control characters (tab, newline, ...) are not allowed in values",
                                            nname(n), (const char *) a->name);
                        continue;
                }
                if (!allowed[0])
                        return perr(c, n, "<%s> takes no attributes, remove '%s%s%s'", nname(n),
                                    a->ns && a->ns->prefix ? (const char *) a->ns->prefix : "",
                                    a->ns && a->ns->prefix ? ":" : "", (const char *) a->name);
                _cleanup_free_ char *names = join_names(allowed);
                return perr(c, n, "unknown attribute '%s%s%s' on <%s> (allowed: %s)",
                            a->ns && a->ns->prefix ? (const char *) a->ns->prefix : "",
                            a->ns && a->ns->prefix ? ":" : "", (const char *) a->name, nname(n),
                            strempty(names));
        }
        return 0;
}

#define CHECK_ATTRS(c, n, ...)                                                                     \
        check_attrs(c, n, (const char *const[]){ __VA_ARGS__ __VA_OPT__(, ) NULL })

static bool is_blank(const char *s) {
        for (; s && *s; s++)
                if (!isspace((unsigned char) *s))
                        return false;
        return true;
}

/* Next element child starting at n (n itself included); text must be blank. */
static int next_elem(struct pctx *c, xmlNodePtr parent, xmlNodePtr n, xmlNodePtr *ret) {
        for (; n; n = n->next) {
                switch (n->type) {
                case XML_ELEMENT_NODE:
                        *ret = n;
                        return 1;
                case XML_TEXT_NODE:
                case XML_CDATA_SECTION_NODE:
                        if (!is_blank((const char *) n->content))
                                return perr(c, n, "unexpected text inside <%s>", nname(parent));
                        break;
                case XML_ENTITY_REF_NODE:
                        return perr(c, n, "DOCTYPE/entities are not allowed");
                default:
                        break;
                }
        }
        *ret = NULL;
        return 0;
}

#define FOREACH_CHILD(c, parent, child, r)                                                         \
        for (xmlNodePtr _n_##child = (parent)->children;                                           \
             ((r) = next_elem((c), (parent), _n_##child, &(child))) > 0; _n_##child = (child)->next)

static int unknown_child(struct pctx *c, xmlNodePtr parent, xmlNodePtr child, const char *expected) {
        if (expected)
                return perr(c, child, "unknown element <%s%s%s> inside <%s> (expected: %s)",
                            child->ns && child->ns->prefix ? (const char *) child->ns->prefix : "",
                            child->ns && child->ns->prefix ? ":" : "", nname(child), nname(parent),
                            expected);
        return perr(c, child, "<%s> takes no child elements, remove <%s>", nname(parent), nname(child));
}

static int no_children(struct pctx *c, xmlNodePtr n) {
        xmlNodePtr ch;
        int r;
        FOREACH_CHILD(c, n, ch, r)
                return unknown_child(c, n, ch, NULL);
        return r;
}

static int dup_child(struct pctx *c, xmlNodePtr n) {
        return perr(c, n, "duplicate <%s>", nname(n));
}

/* Text content of a leaf element, surrounding whitespace trimmed; no child elements allowed. */
static int elem_text(struct pctx *c, xmlNodePtr n, bool allow_empty, char **ret) {
        int r = CHECK_ATTRS(c, n);
        if (r < 0)
                return r;
        for (xmlNodePtr ch = n->children; ch; ch = ch->next) {
                if (ch->type == XML_ELEMENT_NODE)
                        return unknown_child(c, n, ch, NULL);
                if (ch->type == XML_ENTITY_REF_NODE)
                        return perr(c, ch, "DOCTYPE/entities are not allowed");
        }
        xmlChar *t = xmlNodeGetContent(n);
        if (!t)
                return -ENOMEM;
        const char *s = (const char *) t, *e;
        while (isspace((unsigned char) *s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                e--;
        char *v = strndup(s, e - s);
        xmlFree(t);
        if (!v)
                return -ENOMEM;
        if (has_control_chars(v)) {
                free(v);
                return perr(c, n, "<%s>: control characters (tab, newline, ...) are not allowed in the value", nname(n));
        }
        if (!allow_empty && !*v) {
                free(v);
                return perr(c, n, "<%s> is empty; write its value between <%s> and </%s>", nname(n),
                            nname(n), nname(n));
        }
        *ret = v;
        return 0;
}

/* Required attribute. */
static int req_attr(struct pctx *c, xmlNodePtr n, const char *name, const char *example, char **ret) {
        char *v = attr(n, name);
        if (!v) {
                if (has_attr(n, name))
                        return -ENOMEM;
                return perr(c, n, "<%s> needs attribute %s, e.g. <%s %s='%s'/>", nname(n), name,
                            nname(n), name, example);
        }
        if (!*v) {
                free(v);
                return perr(c, n, "<%s %s=''> is empty, e.g. write %s='%s'", nname(n), name, name,
                            example);
        }
        *ret = v;
        return 0;
}

/* ---- numbers ------------------------------------------------------------------------------ */

enum numfmt {
        NUM_ID,     /* 0x hex or decimal; a leading zero without 0x is rejected (USB ids) */
        NUM_HEXDEC, /* 0x hex or decimal; leading zeros only where the value is unambiguous */
        NUM_DEC,    /* decimal, leading zeros allowed, not octal */
        NUM_HEX,    /* hex, optional 0x (as lsusb prints) */
};

static bool all_digits(const char *s, int (*f)(int)) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!f((unsigned char) *s))
                        return false;
        return true;
}

static int parse_num(struct pctx *c, xmlNodePtr n, const char *aname, const char *s, enum numfmt f,
                     unsigned long long min, unsigned long long max, const char *range,
                     unsigned long long *ret) {
        const char *hex = NULL;
        unsigned long long v;
        char *end;

        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                hex = s + 2;

        switch (f) {
        case NUM_HEX:
                if (!hex)
                        hex = s;
                break;
        case NUM_DEC:
                if (hex && all_digits(hex, isxdigit)) {
                        errno = 0;
                        v = strtoull(hex, &end, 16);
                        if (errno == 0)
                                return perr(c, n, "<%s %s='%s'>: this number is decimal, not hex; write %s='%llu'",
                                            nname(n), aname, s, aname, v);
                }
                if (!all_digits(s, isdigit))
                        return perr(c, n, "<%s %s='%s'>: not a decimal number", nname(n), aname, s);
                break;
        case NUM_ID:
        case NUM_HEXDEC:
                if (hex)
                        break;
                if (!all_digits(s, isdigit)) {
                        if (all_digits(s, isxdigit))
                                return perr(c, n, "<%s %s='%s'>: not a number; write %s='0x%s' for hex",
                                            nname(n), aname, s, aname, s);
                        return perr(c, n, "<%s %s='%s'>: not a number; write 0x-prefixed hex or decimal",
                                    nname(n), aname, s);
                }
                if (s[0] == '0' && s[1]) {
                        const char *p = s;
                        while (*p == '0' && p[1])
                                p++;
                        if (f == NUM_ID || p[1] || *p >= '8')
                                return perr(c, n, "<%s %s='%s'>: a leading zero without 0x is ambiguous; write %s='0x%s' for hex (as lsusb and lspci print it) or drop the leading zeros for decimal",
                                            nname(n), aname, s, aname, s);
                }
                break;
        }

        if (hex) {
                if (!all_digits(hex, isxdigit))
                        return perr(c, n, "<%s %s='%s'>: not a hex number", nname(n), aname, s);
                errno = 0;
                v = strtoull(hex, &end, 16);
        } else {
                errno = 0;
                v = strtoull(s, &end, 10);
        }
        if (errno == ERANGE || v < min || v > max)
                return perr(c, n, "<%s %s='%s'>: out of range, %s", nname(n), aname, s, range);
        *ret = v;
        return 0;
}

/* Attribute as a number; returns 0 if absent (ret untouched), 1 if set. */
static int num_attr(struct pctx *c, xmlNodePtr n, const char *aname, enum numfmt f,
                    unsigned long long min, unsigned long long max, const char *range,
                    unsigned long long *ret) {
        _cleanup_free_ char *v = attr(n, aname);
        int r;
        if (!v)
                return has_attr(n, aname) ? -ENOMEM : 0;
        r = parse_num(c, n, aname, v, f, min, max, range, ret);
        return r < 0 ? r : 1;
}

static int num_attr_req(struct pctx *c, xmlNodePtr n, const char *aname, const char *example,
                        enum numfmt f, unsigned long long min, unsigned long long max,
                        const char *range, unsigned long long *ret) {
        int r = num_attr(c, n, aname, f, min, max, range, ret);
        if (r == 0)
                return perr(c, n, "<%s> needs attribute %s, e.g. %s='%s'", nname(n), aname, aname, example);
        return r;
}

/* yes/no or on/off attribute into a tristate. */
static int tristate_attr(struct pctx *c, xmlNodePtr n, const char *aname, const char *yes,
                         const char *no, enum tristate *ret) {
        _cleanup_free_ char *v = attr(n, aname);
        if (!v)
                return has_attr(n, aname) ? -ENOMEM : 0;
        if (streq(v, yes))
                *ret = TRISTATE_YES;
        else if (streq(v, no))
                *ret = TRISTATE_NO;
        else
                return perr(c, n, "<%s %s='%s'>: write %s='%s' or %s='%s'", nname(n), aname, v, aname,
                            yes, aname, no);
        return 1;
}

/* Enumerated attribute: index into values (NULL-terminated), or 0 if absent (*ret untouched). */
static int enum_attr(struct pctx *c, xmlNodePtr n, const char *aname, const char *const *values,
                     int *ret) {
        _cleanup_free_ char *v = attr(n, aname);
        if (!v)
                return has_attr(n, aname) ? -ENOMEM : 0;
        for (int i = 0; values[i]; i++)
                if (streq(values[i], v)) {
                        *ret = i;
                        return 1;
                }
        _cleanup_free_ char *names = join_names(values);
        return perr(c, n, "<%s %s='%s'>: unknown value (allowed: %s)", nname(n), aname, v, strempty(names));
}

static bool valid_chars(const char *s, const char *extra) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr(extra, *s))
                        return false;
        return true;
}

static int uuid_normalize(const char *s, char **ret) {
        char hex[33];
        size_t k = 0, len = strlen(s);
        if (len == 36) {
                for (size_t i = 0; i < len; i++) {
                        if (i == 8 || i == 13 || i == 18 || i == 23) {
                                if (s[i] != '-')
                                        return -EINVAL;
                        } else if (!isxdigit((unsigned char) s[i]))
                                return -EINVAL;
                        else
                                hex[k++] = (char) tolower((unsigned char) s[i]);
                }
        } else if (len == 32) {
                for (size_t i = 0; i < len; i++) {
                        if (!isxdigit((unsigned char) s[i]))
                                return -EINVAL;
                        hex[k++] = (char) tolower((unsigned char) s[i]);
                }
        } else
                return -EINVAL;
        hex[32] = 0;
        char *r = strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}

/* ---- common children ---------------------------------------------------------------------- */

static int parse_pci_addr(struct pctx *c, xmlNodePtr n, bool all_required, struct pci_addr *ret) {
        unsigned long long v;
        int r;
        struct pci_addr a = { 0 };
        static const char *const names[] = { "domain", "bus", "slot", "function" };
        static const unsigned long long maxes[] = { 0xffff, 0xff, 0x1f, 7 };
        static const char *const ranges[] = { "a PCI domain is at most 0xffff",
                                              "a PCI bus is at most 0xff",
                                              "a PCI slot is at most 0x1f",
                                              "a PCI function is at most 7" };
        static const char *const examples[] = { "0x0000", "0x00", "0x00", "0x0" };
        for (size_t i = 0; i < 4; i++) {
                v = 0;
                if (all_required)
                        r = num_attr_req(c, n, names[i], examples[i], NUM_HEXDEC, 0, maxes[i], ranges[i], &v);
                else
                        r = num_attr(c, n, names[i], NUM_HEXDEC, 0, maxes[i], ranges[i], &v);
                if (r < 0)
                        return r;
                switch (i) {
                case 0: a.domain = (uint32_t) v; break;
                case 1: a.bus = (uint8_t) v; break;
                case 2: a.slot = (uint8_t) v; break;
                case 3: a.function = (uint8_t) v; break;
                }
        }
        *ret = a;
        return 0;
}

static const char *const guest_address_types[] = {
        [GUEST_ADDRESS_NONE] = "none",
        [GUEST_ADDRESS_PCI] = "pci",
        [GUEST_ADDRESS_DRIVE] = "drive",
        [GUEST_ADDRESS_USB] = "usb",
        [GUEST_ADDRESS_CCW] = "ccw",
        [GUEST_ADDRESS_VIRTIO_SERIAL] = "virtio-serial",
        [GUEST_ADDRESS_CCID] = "ccid",
        [GUEST_ADDRESS_SPAPR_VIO] = "spapr-vio",
        [GUEST_ADDRESS_VIRTIO_S390] = "virtio-s390",
        [GUEST_ADDRESS_VIRTIO_MMIO] = "virtio-mmio",
        [GUEST_ADDRESS_ISA] = "isa",
        [GUEST_ADDRESS_DIMM] = "dimm",
        [GUEST_ADDRESS_UNASSIGNED] = "unassigned",
        NULL,
};

static int parse_usb_port_path(const char *s, unsigned max_parts, char **ret) {
        /* "1.2.3": 1..max_parts decimal components 1..255, normalised without leading zeros */
        struct strbuf sb = STRBUF_INIT;
        const char *p = s;
        unsigned parts = 0;
        for (;;) {
                char *end;
                unsigned long v;
                if (!isdigit((unsigned char) *p)) {
                        strbuf_done(&sb);
                        return -EINVAL;
                }
                errno = 0;
                v = strtoul(p, &end, 10);
                if (errno || v < 1 || v > 255 || ++parts > max_parts) {
                        strbuf_done(&sb);
                        return -EINVAL;
                }
                strbuf_appendf(&sb, "%s%lu", parts > 1 ? "." : "", v);
                p = end;
                if (!*p)
                        break;
                if (*p != '.') {
                        strbuf_done(&sb);
                        return -EINVAL;
                }
                p++;
        }
        char *r = strbuf_steal(&sb);
        if (!r)
                return -ENOMEM;
        *ret = r;
        return 0;
}

static int parse_guest_address(struct pctx *c, xmlNodePtr n, struct guest_address *ga) {
        int r, t = -1;
        unsigned long long v;

        r = enum_attr(c, n, "type", guest_address_types, &t);
        if (r < 0)
                return r;
        if (r == 0)
                return perr(c, n, "<address> needs a type, e.g. <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>");
        if (t == GUEST_ADDRESS_NONE)
                return perr(c, n, "<address type='none'> is not an address; remove the element");
        ga->type = t;

        switch (ga->type) {
        case GUEST_ADDRESS_PCI: {
                xmlNodePtr ch;
                r = CHECK_ATTRS(c, n, "type", "domain", "bus", "slot", "function", "multifunction");
                if (r < 0)
                        return r;
                r = parse_pci_addr(c, n, false, &ga->pci);
                if (r < 0)
                        return r;
                r = tristate_attr(c, n, "multifunction", "on", "off", &ga->multifunction);
                if (r < 0)
                        return r;
                FOREACH_CHILD(c, n, ch, r) {
                        if (!is_elem(ch, "zpci"))
                                return unknown_child(c, n, ch, "zpci");
                        if (ga->has_zpci)
                                return dup_child(c, ch);
                        ga->has_zpci = true;
                        r = CHECK_ATTRS(c, ch, "uid", "fid");
                        if (r < 0)
                                return r;
                        r = num_attr(c, ch, "uid", NUM_HEXDEC, 1, 0xffff, "a zPCI uid is 0x0001..0xffff", &v);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                ga->zpci_uid = (uint32_t) v;
                                ga->given |= GA_ZPCI_UID;
                        }
                        r = num_attr(c, ch, "fid", NUM_HEXDEC, 0, 0xffffffff, "a zPCI fid is at most 0xffffffff", &v);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                ga->zpci_fid = (uint32_t) v;
                                ga->given |= GA_ZPCI_FID;
                        }
                        r = no_children(c, ch);
                        if (r < 0)
                                return r;
                }
                return r;
        }
        case GUEST_ADDRESS_DRIVE:
                r = CHECK_ATTRS(c, n, "type", "controller", "bus", "target", "unit");
                if (r < 0)
                        return r;
                v = 0;
                if ((r = num_attr(c, n, "controller", NUM_DEC, 0, 99, "a drive controller is 0..99", &v)) < 0)
                        return r;
                ga->controller = (unsigned) v;
                v = 0;
                if ((r = num_attr(c, n, "bus", NUM_DEC, 0, 99, "a drive bus is 0..99", &v)) < 0)
                        return r;
                ga->bus = (unsigned) v;
                v = 0;
                if ((r = num_attr(c, n, "target", NUM_DEC, 0, 99, "a drive target is 0..99", &v)) < 0)
                        return r;
                ga->target = (unsigned) v;
                v = 0;
                if ((r = num_attr(c, n, "unit", NUM_DEC, 0, 99999, "a drive unit is 0..99999", &v)) < 0)
                        return r;
                ga->unit = (unsigned) v;
                break;
        case GUEST_ADDRESS_USB: {
                _cleanup_free_ char *port = NULL;
                r = CHECK_ATTRS(c, n, "type", "bus", "port");
                if (r < 0)
                        return r;
                r = num_attr_req(c, n, "bus", "0", NUM_DEC, 0, 999, "a guest USB bus is 0..999", &v);
                if (r < 0)
                        return r;
                ga->bus = (unsigned) v;
                port = attr(n, "port");
                if (port) {
                        r = parse_usb_port_path(port, 4, &ga->usb_port);
                        if (r == -EINVAL)
                                return perr(c, n, "<address type='usb' port='%s'>: write a port path such as port='1' or port='1.2' (up to 4 numbers 1..255)", port);
                        if (r < 0)
                                return r;
                }
                break;
        }
        case GUEST_ADDRESS_CCW: {
                bool a = has_attr(n, "cssid"), b = has_attr(n, "ssid"), d = has_attr(n, "devno");
                r = CHECK_ATTRS(c, n, "type", "cssid", "ssid", "devno");
                if (r < 0)
                        return r;
                if (!a && !b && !d)
                        break;
                if (!a || !b || !d)
                        return perr(c, n, "<address type='ccw'> needs all of cssid, ssid and devno, e.g. cssid='0xfe' ssid='0x0' devno='0x0001'");
                ga->given |= GA_CCW;
                if ((r = num_attr(c, n, "cssid", NUM_HEXDEC, 0, 0xfe, "a CCW cssid is at most 0xfe", &v)) < 0)
                        return r;
                ga->cssid = (unsigned) v;
                if ((r = num_attr(c, n, "ssid", NUM_HEXDEC, 0, 3, "a CCW ssid is at most 0x3", &v)) < 0)
                        return r;
                ga->ssid = (unsigned) v;
                if ((r = num_attr(c, n, "devno", NUM_HEXDEC, 0, 0xffff, "a CCW devno is at most 0xffff", &v)) < 0)
                        return r;
                ga->devno = (unsigned) v;
                break;
        }
        case GUEST_ADDRESS_VIRTIO_SERIAL:
                r = CHECK_ATTRS(c, n, "type", "controller", "bus", "port");
                if (r < 0)
                        return r;
                if ((r = num_attr_req(c, n, "controller", "0", NUM_DEC, 0, 99, "a controller is 0..99", &v)) < 0)
                        return r;
                ga->controller = (unsigned) v;
                v = 0;
                if ((r = num_attr(c, n, "bus", NUM_DEC, 0, 99, "a bus is 0..99", &v)) < 0)
                        return r;
                ga->bus = (unsigned) v;
                if ((r = num_attr(c, n, "port", NUM_DEC, 0, 99, "a port is 0..99", &v)) < 0)
                        return r;
                if (r > 0) {
                        ga->port = (unsigned) v;
                        ga->has_port = true;
                }
                break;
        case GUEST_ADDRESS_CCID:
                r = CHECK_ATTRS(c, n, "type", "controller", "slot");
                if (r < 0)
                        return r;
                if ((r = num_attr_req(c, n, "controller", "0", NUM_DEC, 0, 99, "a controller is 0..99", &v)) < 0)
                        return r;
                ga->controller = (unsigned) v;
                if ((r = num_attr(c, n, "slot", NUM_DEC, 0, 99, "a slot is 0..99", &v)) < 0)
                        return r;
                if (r > 0) {
                        ga->slot = (unsigned) v;
                        ga->given |= GA_SLOT;
                }
                break;
        case GUEST_ADDRESS_SPAPR_VIO:
                r = CHECK_ATTRS(c, n, "type", "reg");
                if (r < 0)
                        return r;
                if ((r = num_attr(c, n, "reg", NUM_HEX, 0, 0xffffffffULL, "a spapr-vio reg is at most 0xffffffff", &ga->reg)) < 0)
                        return r;
                if (r > 0)
                        ga->given |= GA_REG;
                break;
        case GUEST_ADDRESS_ISA:
                r = CHECK_ATTRS(c, n, "type", "iobase", "irq");
                if (r < 0)
                        return r;
                if ((r = num_attr(c, n, "iobase", NUM_HEX, 0, 0xffff, "an ISA iobase is at most 0xffff", &v)) < 0)
                        return r;
                if (r > 0) {
                        ga->iobase = (unsigned) v;
                        ga->given |= GA_IOBASE;
                }
                if ((r = num_attr(c, n, "irq", NUM_HEX, 0, 0xf, "an ISA irq is at most 0xf", &v)) < 0)
                        return r;
                if (r > 0) {
                        ga->irq = (unsigned) v;
                        ga->given |= GA_IRQ;
                }
                break;
        case GUEST_ADDRESS_DIMM:
                r = CHECK_ATTRS(c, n, "type", "slot", "base");
                if (r < 0)
                        return r;
                if ((r = num_attr(c, n, "slot", NUM_DEC, 0, UINT_MAX, "a DIMM slot is a 32-bit number", &v)) < 0)
                        return r;
                if (r > 0) {
                        ga->slot = (unsigned) v;
                        ga->given |= GA_SLOT;
                }
                if ((r = num_attr(c, n, "base", NUM_HEX, 0, ULLONG_MAX, "a DIMM base is a 64-bit number", &ga->base)) < 0)
                        return r;
                if (r > 0)
                        ga->given |= GA_BASE;
                break;
        default:
                r = CHECK_ATTRS(c, n, "type");
                if (r < 0)
                        return r;
                break;
        }
        return no_children(c, n);
}

/* Children every <hostdev>/<interface> may have. Returns 1 if consumed, 0 if not ours. */
static int parse_common_child(struct pctx *c, xmlNodePtr ch, struct hostdev_def *def, unsigned *seen) {
        unsigned long long v;
        int r;
        enum { S_BOOT = 1, S_ALIAS = 2, S_ACPI = 4, S_ROM = 8, S_ADDR = 16, S_RO = 32, S_SH = 64, S_TEAM = 128 };

#define ONCE(bit)                                                                                  \
        do {                                                                                       \
                if (*seen & (bit))                                                                 \
                        return dup_child(c, ch);                                                   \
                *seen |= (bit);                                                                    \
        } while (0)

        if (is_elem(ch, "boot")) {
                ONCE(S_BOOT);
                if ((r = CHECK_ATTRS(c, ch, "order", "loadparm")) < 0)
                        return r;
                if ((r = num_attr_req(c, ch, "order", "1", NUM_DEC, 1, INT_MAX, "a boot order is 1 or more", &v)) < 0)
                        return r;
                def->has_boot = true;
                def->boot_order = (unsigned) v;
                def->boot_loadparm = attr(ch, "loadparm");
                if (def->boot_loadparm) {
                        size_t l = strlen(def->boot_loadparm);
                        if (l < 1 || l > 8 || !valid_chars(def->boot_loadparm, ". "))
                                return perr(c, ch, "<boot loadparm='%s'>: write 1 to 8 letters, digits, dots or spaces",
                                            def->boot_loadparm);
                }
        } else if (is_elem(ch, "alias")) {
                ONCE(S_ALIAS);
                if ((r = CHECK_ATTRS(c, ch, "name")) < 0)
                        return r;
                if ((r = req_attr(c, ch, "name", "ua-dongle1", &def->alias)) < 0)
                        return r;
                if (!valid_chars(def->alias, "_-."))
                        return perr(c, ch, "<alias name='%s'>: use only letters, digits, '_', '-' and '.', e.g. name='ua-dongle1'",
                                    def->alias);
        } else if (is_elem(ch, "acpi")) {
                ONCE(S_ACPI);
                if ((r = CHECK_ATTRS(c, ch, "index")) < 0)
                        return r;
                if ((r = num_attr_req(c, ch, "index", "1", NUM_DEC, 1, 16383, "an ACPI index is 1..16383", &v)) < 0)
                        return r;
                def->has_acpi_index = true;
                def->acpi_index = (unsigned) v;
        } else if (is_elem(ch, "rom")) {
                ONCE(S_ROM);
                if ((r = CHECK_ATTRS(c, ch, "bar", "file", "enabled")) < 0)
                        return r;
                if ((r = tristate_attr(c, ch, "bar", "on", "off", &def->rom_bar)) < 0)
                        return r;
                if ((r = tristate_attr(c, ch, "enabled", "yes", "no", &def->rom_enabled)) < 0)
                        return r;
                def->rom_file = attr(ch, "file");
                if (def->rom_file && def->rom_file[0] != '/')
                        return perr(c, ch, "<rom file='%s'>: write an absolute path, e.g. file='/usr/share/roms/card.rom'",
                                    def->rom_file);
        } else if (is_elem(ch, "address")) {
                ONCE(S_ADDR);
                r = parse_guest_address(c, ch, &def->guest_addr);
                return r < 0 ? r : 1;
        } else if (is_elem(ch, "readonly")) {
                ONCE(S_RO);
                def->readonly = true;
                if ((r = CHECK_ATTRS(c, ch)) < 0)
                        return r;
        } else if (is_elem(ch, "shareable")) {
                ONCE(S_SH);
                def->shareable = true;
                if ((r = CHECK_ATTRS(c, ch)) < 0)
                        return r;
        } else if (is_elem(ch, "teaming")) {
                int t = 0;
                ONCE(S_TEAM);
                if ((r = CHECK_ATTRS(c, ch, "type", "persistent")) < 0)
                        return r;
                r = enum_attr(c, ch, "type", (const char *const[]){ "none", "persistent", "transient", NULL }, &t);
                if (r < 0)
                        return r;
                if (r == 0 || t == 0)
                        return perr(c, ch, "<teaming> needs type='persistent' or type='transient'");
                def->teaming = t;
                def->teaming_persistent = attr(ch, "persistent");
                if (t == TEAMING_TRANSIENT && !def->teaming_persistent)
                        return perr(c, ch, "<teaming type='transient'> needs persistent='ALIAS', the alias of the persistent device");
                if (t == TEAMING_PERSISTENT && def->teaming_persistent)
                        return perr(c, ch, "<teaming type='persistent'> takes no persistent= attribute");
        } else
                return 0;
#undef ONCE
        r = no_children(c, ch);
        return r < 0 ? r : 1;
}

#define COMMON_CHILDREN "boot, alias, acpi, rom, address, readonly, shareable, teaming"

/* ---- sources ------------------------------------------------------------------------------ */

static int parse_usb_source(struct pctx *c, xmlNodePtr src, struct hostdev_def *def) {
        struct usb_source *u = &def->source.usb;
        bool seen_vendor = false, seen_product = false, seen_addr = false, seen_serial = false,
             seen_remote = false;
        unsigned long long v;
        xmlNodePtr ch;
        int r, t;

        if (def->form == HOSTDEV_FORM_LIBVIRT) {
                if ((r = CHECK_ATTRS(c, src, "startupPolicy", "guestReset")) < 0)
                        return r;
                t = 0;
                r = enum_attr(c, src, "startupPolicy",
                              (const char *const[]){ "default", "mandatory", "requisite", "optional", NULL }, &t);
                if (r < 0)
                        return r;
                def->startup_policy = t;
                t = 0;
                r = enum_attr(c, src, "guestReset",
                              (const char *const[]){ "default", "off", "uninitialized", "on", NULL }, &t);
                if (r < 0)
                        return r;
                def->guest_reset = t;
        } else if ((r = CHECK_ATTRS(c, src)) < 0)
                return r;

        FOREACH_CHILD(c, src, ch, r) {
                if (is_elem(ch, "vendor") || is_elem(ch, "product")) {
                        bool vendor = is_elem(ch, "vendor");
                        if (vendor ? seen_vendor : seen_product)
                                return dup_child(c, ch);
                        if (vendor)
                                seen_vendor = true;
                        else
                                seen_product = true;
                        if ((r = CHECK_ATTRS(c, ch, "id")) < 0)
                                return r;
                        if ((r = num_attr_req(c, ch, "id", vendor ? "0x46f4" : "0x0001", NUM_ID, 0, 0xffff,
                                              "a USB id is at most 0xffff", &v)) < 0)
                                return r;
                        if (vendor) {
                                u->has_vendor = true;
                                u->vendor = (uint16_t) v;
                        } else {
                                u->has_product = true;
                                u->product = (uint16_t) v;
                        }
                        if ((r = no_children(c, ch)) < 0)
                                return r;
                } else if (is_elem(ch, "address")) {
                        const char *devattr = "device";
                        _cleanup_free_ char *port = NULL;
                        if (seen_addr)
                                return dup_child(c, ch);
                        seen_addr = true;
                        if (def->form == HOSTDEV_FORM_DESIGN) {
                                devattr = "dev";
                                r = CHECK_ATTRS(c, ch, "bus", "dev", "port");
                        } else
                                r = CHECK_ATTRS(c, ch, "bus", "device", "port");
                        if (r < 0)
                                return r;
                        if ((r = num_attr_req(c, ch, "bus", "1", NUM_DEC, 1, 999, "a USB bus number is 1..999", &v)) < 0)
                                return r;
                        u->has_bus = true;
                        u->bus = (unsigned) v;
                        if ((r = num_attr(c, ch, devattr, NUM_DEC, 1, 127, "a USB device number is 1..127", &v)) < 0)
                                return r;
                        if (r > 0) {
                                u->has_device = true;
                                u->device = (unsigned) v;
                        }
                        port = attr(ch, "port");
                        if (port) {
                                r = parse_usb_port_path(port, 7, &u->port);
                                if (r == -EINVAL)
                                        return perr(c, ch, "<address port='%s'>: write the physical port path as in the sysfs name %u-PATH, e.g. port='1.2.3' (up to 7 numbers 1..255)",
                                                    port, u->bus);
                                if (r < 0)
                                        return r;
                        }
                        if (!u->has_device && !u->port)
                                return perr(c, ch, "<address bus='%u'> needs %s='N' (device number) or port='1.2' (physical port path)",
                                            u->bus, devattr);
                        if ((r = no_children(c, ch)) < 0)
                                return r;
                } else if (is_elem(ch, "serial")) {
                        if (seen_serial)
                                return dup_child(c, ch);
                        seen_serial = true;
                        if ((r = elem_text(c, ch, false, &u->serial)) < 0)
                                return r;
                } else if (is_elem(ch, "remote")) {
                        if (seen_remote)
                                return dup_child(c, ch);
                        seen_remote = true;
                        if ((r = CHECK_ATTRS(c, ch, "host", "port")) < 0)
                                return r;
                        if ((r = req_attr(c, ch, "host", "192.0.2.10", &u->remote_host)) < 0)
                                return r;
                        v = 3240;
                        if ((r = num_attr(c, ch, "port", NUM_DEC, 1, 65535, "a TCP port is 1..65535", &v)) < 0)
                                return r;
                        u->remote_port = (unsigned) v;
                        if ((r = no_children(c, ch)) < 0)
                                return r;
                } else
                        return unknown_child(c, src, ch, "vendor, product, address, serial, remote");
        }
        if (r < 0)
                return r;
        if (u->has_vendor != u->has_product)
                return perr(c, src, "<source> has <%s> without <%s>; give both, e.g. <vendor id='0x46f4'/><product id='0x0001'/>",
                            u->has_vendor ? "vendor" : "product", u->has_vendor ? "product" : "vendor");
        if (!u->has_vendor && !u->has_bus && !u->serial)
                return perr(c, src, "USB <source> selects no device; give <vendor id=/><product id=/>, <address bus= device=/>, <address bus= port=/> or <serial>");
        return 0;
}

static int parse_pci_source(struct pctx *c, xmlNodePtr src, struct hostdev_def *def, bool iface) {
        struct pci_source *p = &def->source.pci;
        xmlNodePtr ch;
        int r, t;

        if (iface)
                r = CHECK_ATTRS(c, src);
        else if (def->form == HOSTDEV_FORM_LIBVIRT)
                r = CHECK_ATTRS(c, src, "startupPolicy", "writeFiltering");
        else
                r = CHECK_ATTRS(c, src);
        if (r < 0)
                return r;
        if (!iface && def->form == HOSTDEV_FORM_LIBVIRT) {
                t = 0;
                r = enum_attr(c, src, "startupPolicy",
                              (const char *const[]){ "default", "mandatory", "requisite", "optional", NULL }, &t);
                if (r < 0)
                        return r;
                def->startup_policy = t;
                if ((r = tristate_attr(c, src, "writeFiltering", "yes", "no", &p->writeFiltering)) < 0)
                        return r;
        }
        FOREACH_CHILD(c, src, ch, r) {
                if (!is_elem(ch, "address"))
                        return unknown_child(c, src, ch, "address");
                if (p->has_addr)
                        return dup_child(c, ch);
                if ((r = CHECK_ATTRS(c, ch, "type", "domain", "bus", "slot", "function")) < 0)
                        return r;
                _cleanup_free_ char *type = attr(ch, "type");
                if (iface && !type)
                        return perr(c, ch, "<address> in an <interface type='hostdev'> source needs type='pci'");
                if (type && !streq(type, "pci"))
                        return perr(c, ch, "<address type='%s'>: a PCI host device address has type='pci'", type);
                if ((r = parse_pci_addr(c, ch, true, &p->addr)) < 0)
                        return r;
                p->has_addr = true;
                if ((r = no_children(c, ch)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (!p->has_addr)
                return perr(c, src, "PCI <source> needs <address domain='0x0000' bus='0x00' slot='0x00' function='0x0'/>");
        return 0;
}

static int parse_scsi_source(struct pctx *c, xmlNodePtr src, struct hostdev_def *def) {
        struct scsi_source *s = &def->source.scsi;
        _cleanup_free_ char *protocol = attr(src, "protocol");
        unsigned long long v;
        xmlNodePtr ch;
        int r;
        bool seen_adapter = false, seen_auth = false, seen_init = false;

        if (protocol && streq(protocol, "iscsi")) {
                s->protocol = SCSI_PROTOCOL_ISCSI;
                if ((r = CHECK_ATTRS(c, src, "protocol", "name")) < 0)
                        return r;
                if ((r = req_attr(c, src, "name", "iqn.2014-08.com.example:iscsi-nopool/1", &s->iqn_name)) < 0)
                        return r;
                FOREACH_CHILD(c, src, ch, r) {
                        if (is_elem(ch, "host")) {
                                struct iscsi_host *h = reallocarray(s->hosts, s->n_hosts + 1, sizeof(*h));
                                if (!h)
                                        return -ENOMEM;
                                s->hosts = h;
                                h = &s->hosts[s->n_hosts++];
                                *h = (struct iscsi_host){ 0 };
                                if ((r = CHECK_ATTRS(c, ch, "name", "port")) < 0)
                                        return r;
                                if ((r = req_attr(c, ch, "name", "iscsi.example.com", &h->name)) < 0)
                                        return r;
                                if ((r = num_attr(c, ch, "port", NUM_DEC, 1, 65535, "a TCP port is 1..65535", &v)) < 0)
                                        return r;
                                if (r > 0 && !(h->port = strdup_printf("%llu", v)))
                                        return -ENOMEM;
                        } else if (is_elem(ch, "auth")) {
                                xmlNodePtr sec;
                                int n_sec = 0;
                                if (seen_auth)
                                        return dup_child(c, ch);
                                seen_auth = true;
                                if ((r = CHECK_ATTRS(c, ch, "username")) < 0)
                                        return r;
                                if ((r = req_attr(c, ch, "username", "myuser", &s->auth_username)) < 0)
                                        return r;
                                FOREACH_CHILD(c, ch, sec, r) {
                                        if (!is_elem(sec, "secret"))
                                                return unknown_child(c, ch, sec, "secret");
                                        if (n_sec++)
                                                return dup_child(c, sec);
                                        if ((r = CHECK_ATTRS(c, sec, "type", "usage", "uuid")) < 0)
                                                return r;
                                        if ((r = req_attr(c, sec, "type", "iscsi", &s->auth_secret_type)) < 0)
                                                return r;
                                        if (!streq(s->auth_secret_type, "iscsi") && !streq(s->auth_secret_type, "ceph"))
                                                return perr(c, sec, "<secret type='%s'>: write type='iscsi'", s->auth_secret_type);
                                        s->auth_secret_usage = attr(sec, "usage");
                                        _cleanup_free_ char *uuid = attr(sec, "uuid");
                                        if (uuid && uuid_normalize(uuid, &s->auth_secret_uuid) < 0)
                                                return perr(c, sec, "<secret uuid='%s'>: not a UUID; write e.g. uuid='c4dbe20b-b1a3-4ac1-b6e6-2ac97852ebb6'", uuid);
                                        if (!!s->auth_secret_usage == !!s->auth_secret_uuid)
                                                return perr(c, sec, "<secret> needs exactly one of usage='NAME' or uuid='UUID'");
                                        if ((r = no_children(c, sec)) < 0)
                                                return r;
                                }
                                if (r < 0)
                                        return r;
                                if (!n_sec)
                                        return perr(c, ch, "<auth> needs <secret type='iscsi' usage='NAME'/>");
                                continue;
                        } else if (is_elem(ch, "initiator")) {
                                xmlNodePtr iqn;
                                if (seen_init)
                                        return dup_child(c, ch);
                                seen_init = true;
                                if ((r = CHECK_ATTRS(c, ch)) < 0)
                                        return r;
                                FOREACH_CHILD(c, ch, iqn, r) {
                                        if (!is_elem(iqn, "iqn"))
                                                return unknown_child(c, ch, iqn, "iqn");
                                        if (s->initiator_iqn)
                                                return dup_child(c, iqn);
                                        if ((r = CHECK_ATTRS(c, iqn, "name")) < 0)
                                                return r;
                                        if ((r = req_attr(c, iqn, "name", "iqn.2013-07.com.example:client", &s->initiator_iqn)) < 0)
                                                return r;
                                        if ((r = no_children(c, iqn)) < 0)
                                                return r;
                                }
                                if (r < 0)
                                        return r;
                                if (!s->initiator_iqn)
                                        return perr(c, ch, "<initiator> needs <iqn name='...'/>");
                                continue;
                        } else
                                return unknown_child(c, src, ch, "host, auth, initiator");
                        if ((r = no_children(c, ch)) < 0)
                                return r;
                }
                if (r < 0)
                        return r;
                if (s->n_hosts == 0)
                        return perr(c, src, "iSCSI <source> needs at least one <host name='...' port='3260'/>");
                return 0;
        }

        if (protocol && !streq(protocol, "adapter"))
                return perr(c, src, "<source protocol='%s'>: write protocol='iscsi', or leave it out for a host adapter", protocol);
        s->protocol = SCSI_PROTOCOL_ADAPTER;
        if ((r = CHECK_ATTRS(c, src, "protocol")) < 0)
                return r;
        FOREACH_CHILD(c, src, ch, r) {
                if (is_elem(ch, "adapter")) {
                        if (seen_adapter)
                                return dup_child(c, ch);
                        seen_adapter = true;
                        if ((r = CHECK_ATTRS(c, ch, "type", "name")) < 0)
                                return r;
                        _cleanup_free_ char *type = attr(ch, "type");
                        if (type && !streq(type, "scsi_host"))
                                return perr(c, ch, "<adapter type='%s'>: only type='scsi_host' is supported", type);
                        if ((r = req_attr(c, ch, "name", "scsi_host0", &s->adapter)) < 0)
                                return r;
                } else if (is_elem(ch, "address")) {
                        if (s->has_address)
                                return dup_child(c, ch);
                        if ((r = CHECK_ATTRS(c, ch, "bus", "target", "unit")) < 0)
                                return r;
                        if ((r = num_attr_req(c, ch, "bus", "0", NUM_DEC, 0, 99, "a SCSI bus is 0..99", &v)) < 0)
                                return r;
                        s->bus = (unsigned) v;
                        if ((r = num_attr_req(c, ch, "target", "0", NUM_DEC, 0, UINT_MAX, "a SCSI target is a 32-bit number", &v)) < 0)
                                return r;
                        s->target = (unsigned) v;
                        if ((r = num_attr_req(c, ch, "unit", "0", NUM_DEC, 0, ULLONG_MAX, "a SCSI unit is a 64-bit number", &s->unit)) < 0)
                                return r;
                        s->has_address = true;
                } else
                        return unknown_child(c, src, ch, "adapter, address");
                if ((r = no_children(c, ch)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (!seen_adapter || !s->has_address)
                return perr(c, src, "SCSI <source> needs <adapter name='scsi_host0'/> and <address bus='0' target='0' unit='0'/>");
        return 0;
}

static int parse_scsi_host_source(struct pctx *c, xmlNodePtr src, struct hostdev_def *def) {
        struct scsi_host_source *s = &def->source.scsi_host;
        const char *w;
        int r;
        if ((r = CHECK_ATTRS(c, src, "protocol", "wwpn")) < 0)
                return r;
        if ((r = req_attr(c, src, "protocol", "vhost", &s->protocol)) < 0)
                return r;
        if (!streq(s->protocol, "vhost"))
                return perr(c, src, "<source protocol='%s'>: write protocol='vhost'", s->protocol);
        if ((r = req_attr(c, src, "wwpn", "naa.5001405df3e54061", &s->wwpn)) < 0)
                return r;
        w = startswith(s->wwpn, "naa.");
        if (!w || strlen(w) != 16 || !all_digits(w, isxdigit))
                return perr(c, src, "<source wwpn='%s'>: write 'naa.' and 16 hex digits, e.g. wwpn='naa.5001405df3e54061'", s->wwpn);
        return no_children(c, src);
}

static int parse_mdev_source(struct pctx *c, xmlNodePtr src, struct hostdev_def *def) {
        xmlNodePtr ch;
        int r;
        if ((r = CHECK_ATTRS(c, src)) < 0)
                return r;
        FOREACH_CHILD(c, src, ch, r) {
                if (!is_elem(ch, "address"))
                        return unknown_child(c, src, ch, "address");
                if (def->source.mdev.uuid)
                        return dup_child(c, ch);
                if ((r = CHECK_ATTRS(c, ch, "uuid")) < 0)
                        return r;
                _cleanup_free_ char *uuid = NULL;
                if ((r = req_attr(c, ch, "uuid", "c2177883-f1bb-47f0-914d-32a22e3a8804", &uuid)) < 0)
                        return r;
                r = uuid_normalize(uuid, &def->source.mdev.uuid);
                if (r == -EINVAL)
                        return perr(c, ch, "<address uuid='%s'>: not a UUID; write e.g. uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'", uuid);
                if (r < 0)
                        return r;
                if ((r = no_children(c, ch)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (!def->source.mdev.uuid)
                return perr(c, src, "mdev <source> needs <address uuid='...'/>");
        return 0;
}

static int parse_caps_source(struct pctx *c, xmlNodePtr src, struct hostdev_def *def) {
        struct caps_source *s = &def->source.caps;
        const char *want = def->type == HOSTDEV_TYPE_CAP_STORAGE ? "block"
                           : def->type == HOSTDEV_TYPE_CAP_MISC  ? "char"
                                                                 : "interface";
        char **slot = def->type == HOSTDEV_TYPE_CAP_STORAGE ? &s->block
                      : def->type == HOSTDEV_TYPE_CAP_MISC  ? &s->char_dev
                                                            : &s->interface;
        xmlNodePtr ch;
        int r;
        if ((r = CHECK_ATTRS(c, src)) < 0)
                return r;
        FOREACH_CHILD(c, src, ch, r) {
                if (!is_elem(ch, want))
                        return unknown_child(c, src, ch, want);
                if (*slot)
                        return dup_child(c, ch);
                if ((r = elem_text(c, ch, false, slot)) < 0)
                        return r;
                if (def->type == HOSTDEV_TYPE_CAP_NET) {
                        if (!valid_chars(*slot, "_.-\\:/"))
                                return perr(c, ch, "<interface>%s</interface>: not an interface name", *slot);
                } else if ((*slot)[0] != '/')
                        return perr(c, ch, "<%s>%s</%s>: write an absolute path, e.g. /dev/%s", want, *slot, want,
                                    def->type == HOSTDEV_TYPE_CAP_STORAGE ? "sdf1" : "input/event3");
        }
        if (r < 0)
                return r;
        if (!*slot)
                return perr(c, src, "<source> needs <%s>, e.g. <source><%s>%s</%s></source>", want, want,
                            def->type == HOSTDEV_TYPE_CAP_STORAGE ? "/dev/sdf1"
                            : def->type == HOSTDEV_TYPE_CAP_MISC  ? "/dev/input/event3"
                                                                  : "eth0",
                            want);
        return 0;
}

static int ip_check(struct pctx *c, xmlNodePtr n, const char *aname, const char *v, bool v4only) {
        unsigned char buf[16];
        if (inet_pton(AF_INET, v, buf) == 1)
                return 0;
        if (!v4only && inet_pton(AF_INET6, v, buf) == 1)
                return 0;
        return perr(c, n, "<%s %s='%s'>: not an IP%s address", nname(n), aname, v, v4only ? "v4" : "");
}

static int family_attr(struct pctx *c, xmlNodePtr n, char **ret) {
        char *f = attr(n, "family");
        if (f && !streq(f, "ipv4") && !streq(f, "ipv6")) {
                int r = perr(c, n, "<%s family='%s'>: write family='ipv4' or family='ipv6'", nname(n), f);
                free(f);
                return r;
        }
        *ret = f;
        return 0;
}

static int parse_ip(struct pctx *c, xmlNodePtr n, struct caps_source *s) {
        unsigned long long v;
        int r;
        struct ip_def *ips = reallocarray(s->ips, s->n_ips + 1, sizeof(*ips));
        if (!ips)
                return -ENOMEM;
        s->ips = ips;
        struct ip_def *ip = &s->ips[s->n_ips++];
        *ip = (struct ip_def){ 0 };
        if ((r = CHECK_ATTRS(c, n, "address", "family", "prefix")) < 0)
                return r;
        if ((r = req_attr(c, n, "address", "192.168.122.2", &ip->address)) < 0)
                return r;
        if ((r = ip_check(c, n, "address", ip->address, false)) < 0)
                return r;
        if ((r = family_attr(c, n, &ip->family)) < 0)
                return r;
        if ((r = num_attr(c, n, "prefix", NUM_DEC, 0, 128, "a prefix is 0..128", &v)) < 0)
                return r;
        if (r > 0) {
                ip->has_prefix = true;
                ip->prefix = (unsigned) v;
        }
        return no_children(c, n);
}

static int parse_route(struct pctx *c, xmlNodePtr n, struct caps_source *s) {
        unsigned long long v;
        int r;
        struct route_def *rts = reallocarray(s->routes, s->n_routes + 1, sizeof(*rts));
        if (!rts)
                return -ENOMEM;
        s->routes = rts;
        struct route_def *rt = &s->routes[s->n_routes++];
        *rt = (struct route_def){ 0 };
        if ((r = CHECK_ATTRS(c, n, "family", "address", "netmask", "prefix", "gateway", "metric")) < 0)
                return r;
        if ((r = family_attr(c, n, &rt->family)) < 0)
                return r;
        rt->address = attr(n, "address");
        if (rt->address && (r = ip_check(c, n, "address", rt->address, false)) < 0)
                return r;
        rt->netmask = attr(n, "netmask");
        if (rt->netmask && (r = ip_check(c, n, "netmask", rt->netmask, true)) < 0)
                return r;
        if ((r = num_attr(c, n, "prefix", NUM_DEC, 0, 128, "a prefix is 0..128", &v)) < 0)
                return r;
        if (r > 0) {
                rt->has_prefix = true;
                rt->prefix = (unsigned) v;
        }
        if (rt->netmask && rt->has_prefix)
                return perr(c, n, "<route> takes netmask= or prefix=, not both");
        if ((r = req_attr(c, n, "gateway", "192.168.122.1", &rt->gateway)) < 0)
                return r;
        if ((r = ip_check(c, n, "gateway", rt->gateway, false)) < 0)
                return r;
        if ((r = num_attr(c, n, "metric", NUM_DEC, 1, UINT_MAX, "a metric is 1 or more", &v)) < 0)
                return r;
        if (r > 0) {
                rt->has_metric = true;
                rt->metric = (unsigned) v;
        }
        return no_children(c, n);
}

/* ---- <hostdev> ---------------------------------------------------------------------------- */

static const char *const subsys_types[] = { "usb", "pci", "scsi", "scsi_host", "mdev", NULL };
static const char *const caps_types[] = { "storage", "misc", "net", NULL };

static int parse_source_for_type(struct pctx *c, xmlNodePtr src, struct hostdev_def *def) {
        switch (def->type) {
        case HOSTDEV_TYPE_USB: return parse_usb_source(c, src, def);
        case HOSTDEV_TYPE_PCI: return parse_pci_source(c, src, def, false);
        case HOSTDEV_TYPE_SCSI: return parse_scsi_source(c, src, def);
        case HOSTDEV_TYPE_SCSI_HOST: return parse_scsi_host_source(c, src, def);
        case HOSTDEV_TYPE_MDEV: return parse_mdev_source(c, src, def);
        default: return parse_caps_source(c, src, def);
        }
}

/* mode='capability' type='scsi': <source name='sg3'/> and <target address='H:B:T:L'/> */
static int parse_design_scsi_target(struct pctx *c, xmlNodePtr n, struct hostdev_def *def) {
        struct scsi_source *s = &def->source.scsi;
        _cleanup_free_ char *a = NULL;
        unsigned h, b, t;
        unsigned long long l;
        int r, consumed = 0;
        if (s->adapter)
                return dup_child(c, n);
        if ((r = CHECK_ATTRS(c, n, "address")) < 0)
                return r;
        if ((r = req_attr(c, n, "address", "0:0:0:0", &a)) < 0)
                return r;
        if (!isdigit((unsigned char) a[0]) || sscanf(a, "%u:%u:%u:%llu%n", &h, &b, &t, &l, &consumed) != 4 ||
            (size_t) consumed != strlen(a) || strchr(a, '-') || strchr(a, '+') || strchr(a, ' ') || b > 99)
                return perr(c, n, "<target address='%s'>: write HOST:BUS:TARGET:LUN in decimal, e.g. address='0:0:0:0'", a);
        if (!(s->adapter = strdup_printf("scsi_host%u", h)))
                return -ENOMEM;
        s->bus = b;
        s->target = t;
        s->unit = l;
        s->has_address = true;
        return no_children(c, n);
}

static int parse_hostdev(struct pctx *c, xmlNodePtr n, struct hostdev_def **ret) {
        _cleanup_(hostdev_def_freep) struct hostdev_def *def = calloc(1, sizeof(*def));
        _cleanup_free_ char *mode = NULL, *type = NULL;
        bool seen_source = false, seen_driver = false;
        unsigned seen = 0;
        xmlNodePtr ch;
        int r, t;

        if (!def)
                return -ENOMEM;
        def->origin = HOSTDEV_ORIGIN_HOSTDEV;
        def->line = (unsigned) node_line(n);
        mode = attr(n, "mode");
        type = attr(n, "type");

        if (!mode && (has_attr(n, "vendor") || has_attr(n, "product") || has_attr(n, "bus") || has_attr(n, "device"))) {
                /* the first patch: <hostdev type='usb' vendor='0204' product='6025'/> */
                unsigned long long v;
                struct usb_source *u = &def->source.usb;
                def->form = HOSTDEV_FORM_PATCH;
                def->mode = HOSTDEV_MODE_SUBSYSTEM;
                def->type = HOSTDEV_TYPE_USB;
                if ((r = CHECK_ATTRS(c, n, "type", "vendor", "product", "bus", "device")) < 0)
                        return r;
                if (!type || !streq(type, "usb"))
                        return perr(c, n, "<hostdev vendor=... product=...> needs type='usb'");
                if ((r = num_attr(c, n, "vendor", NUM_HEX, 0, 0xffff, "a USB id is at most ffff", &v)) < 0)
                        return r;
                if (r > 0) {
                        u->has_vendor = true;
                        u->vendor = (uint16_t) v;
                }
                if ((r = num_attr(c, n, "product", NUM_HEX, 0, 0xffff, "a USB id is at most ffff", &v)) < 0)
                        return r;
                if (r > 0) {
                        u->has_product = true;
                        u->product = (uint16_t) v;
                }
                if ((r = num_attr(c, n, "bus", NUM_DEC, 1, 999, "a USB bus number is 1..999", &v)) < 0)
                        return r;
                if (r > 0) {
                        u->has_bus = true;
                        u->bus = (unsigned) v;
                }
                if ((r = num_attr(c, n, "device", NUM_DEC, 1, 127, "a USB device number is 1..127", &v)) < 0)
                        return r;
                if (r > 0) {
                        u->has_device = true;
                        u->device = (unsigned) v;
                }
                if (u->has_vendor != u->has_product)
                        return perr(c, n, "<hostdev type='usb'> needs both vendor= and product=, e.g. vendor='46f4' product='0001'");
                if (u->has_bus != u->has_device)
                        return perr(c, n, "<hostdev type='usb'> needs both bus= and device=, e.g. bus='001' device='007'");
                FOREACH_CHILD(c, n, ch, r) {
                        r = parse_common_child(c, ch, def, &seen);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                return unknown_child(c, n, ch, COMMON_CHILDREN);
                }
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(def);
                return 0;
        }

        if (!mode || streq(mode, "subsystem")) {
                def->form = HOSTDEV_FORM_LIBVIRT;
                def->mode = HOSTDEV_MODE_SUBSYSTEM;
                if (!type)
                        return perr(c, n, "<hostdev> needs type='usb', 'pci', 'scsi', 'scsi_host' or 'mdev'");
                t = -1;
                for (int i = 0; subsys_types[i]; i++)
                        if (streq(subsys_types[i], type))
                                t = i;
                if (t < 0)
                        return perr(c, n, "<hostdev mode='subsystem' type='%s'>: unknown type; write type='usb', 'pci', 'scsi', 'scsi_host' or 'mdev'", type);
                def->type = (enum hostdev_type) t;
                switch (def->type) {
                case HOSTDEV_TYPE_SCSI:
                        r = CHECK_ATTRS(c, n, "mode", "type", "managed", "sgio", "rawio");
                        break;
                case HOSTDEV_TYPE_SCSI_HOST:
                        r = CHECK_ATTRS(c, n, "mode", "type", "managed", "model");
                        break;
                case HOSTDEV_TYPE_MDEV:
                        r = CHECK_ATTRS(c, n, "mode", "type", "managed", "model", "display", "ramfb");
                        break;
                default:
                        r = CHECK_ATTRS(c, n, "mode", "type", "managed");
                }
                if (r < 0)
                        return r;
        } else if (streq(mode, "capabilities")) {
                def->form = HOSTDEV_FORM_LIBVIRT;
                def->mode = HOSTDEV_MODE_CAPABILITIES;
                t = -1;
                for (int i = 0; type && caps_types[i]; i++)
                        if (streq(caps_types[i], type))
                                t = i;
                if (t < 0)
                        return perr(c, n, "<hostdev mode='capabilities'> needs type='storage', 'misc' or 'net'");
                def->type = (enum hostdev_type) (HOSTDEV_TYPE_CAP_STORAGE + t);
                if ((r = CHECK_ATTRS(c, n, "mode", "type")) < 0)
                        return r;
        } else if (streq(mode, "bus")) {
                _cleanup_free_ char *bus = attr(n, "bus");
                def->form = HOSTDEV_FORM_DESIGN;
                def->mode = HOSTDEV_MODE_SUBSYSTEM;
                if ((r = CHECK_ATTRS(c, n, "mode", "bus", "managed")) < 0)
                        return r;
                if (bus && streq(bus, "usb"))
                        def->type = HOSTDEV_TYPE_USB;
                else if (bus && streq(bus, "pci"))
                        def->type = HOSTDEV_TYPE_PCI;
                else
                        return perr(c, n, "<hostdev mode='bus'> needs bus='usb' or bus='pci'");
        } else if (streq(mode, "capability")) {
                def->form = HOSTDEV_FORM_DESIGN;
                if ((r = CHECK_ATTRS(c, n, "mode", "type")) < 0)
                        return r;
                if (type && streq(type, "net")) {
                        def->mode = HOSTDEV_MODE_CAPABILITIES;
                        def->type = HOSTDEV_TYPE_CAP_NET;
                } else if (type && streq(type, "scsi")) {
                        def->mode = HOSTDEV_MODE_SUBSYSTEM;
                        def->type = HOSTDEV_TYPE_SCSI;
                } else
                        return perr(c, n, "<hostdev mode='capability'> needs type='net' or type='scsi'");
        } else
                return perr(c, n, "<hostdev mode='%s'>: unknown mode; write mode='subsystem' or mode='capabilities'", mode);

        if ((r = tristate_attr(c, n, "managed", "yes", "no", &def->managed)) < 0)
                return r;
        if (def->type == HOSTDEV_TYPE_SCSI && def->form == HOSTDEV_FORM_LIBVIRT) {
                t = 0;
                r = enum_attr(c, n, "sgio", (const char *const[]){ "default", "filtered", "unfiltered", NULL }, &t);
                if (r < 0)
                        return r;
                def->sgio = t;
                if ((r = tristate_attr(c, n, "rawio", "yes", "no", &def->rawio)) < 0)
                        return r;
        }
        if (def->type == HOSTDEV_TYPE_SCSI_HOST) {
                t = -1;
                r = enum_attr(c, n, "model",
                              (const char *const[]){ "virtio", "virtio-transitional", "virtio-non-transitional", NULL }, &t);
                if (r < 0)
                        return r;
                if (r > 0 && !(def->scsi_host_model = attr(n, "model")))
                        return -ENOMEM;
        }
        if (def->type == HOSTDEV_TYPE_MDEV) {
                t = 0;
                r = enum_attr(c, n, "model", (const char *const[]){ "none", "vfio-pci", "vfio-ccw", "vfio-ap", NULL }, &t);
                if (r < 0)
                        return r;
                if (t == MDEV_MODEL_NONE)
                        return perr(c, n, "<hostdev type='mdev'> needs model='vfio-pci', 'vfio-ccw' or 'vfio-ap'");
                def->mdev_model = t;
                if ((r = tristate_attr(c, n, "display", "on", "off", &def->mdev_display)) < 0)
                        return r;
                if ((r = tristate_attr(c, n, "ramfb", "on", "off", &def->mdev_ramfb)) < 0)
                        return r;
        }

        FOREACH_CHILD(c, n, ch, r) {
                if (is_elem(ch, "source")) {
                        if (seen_source)
                                return dup_child(c, ch);
                        seen_source = true;
                        if (def->form == HOSTDEV_FORM_DESIGN && def->type == HOSTDEV_TYPE_CAP_NET) {
                                struct caps_source *s = &def->source.caps;
                                if ((r = CHECK_ATTRS(c, ch, "name")) < 0)
                                        return r;
                                if ((r = req_attr(c, ch, "name", "eth0", &s->interface)) < 0)
                                        return r;
                                if (!valid_chars(s->interface, "_.-\\:/"))
                                        return perr(c, ch, "<source name='%s'>: not an interface name", s->interface);
                                if ((r = no_children(c, ch)) < 0)
                                        return r;
                        } else if (def->form == HOSTDEV_FORM_DESIGN && def->type == HOSTDEV_TYPE_SCSI) {
                                xmlNodePtr tg;
                                if ((r = CHECK_ATTRS(c, ch, "name")) < 0)
                                        return r;
                                if ((r = req_attr(c, ch, "name", "sg3", &def->source.scsi.sg_name)) < 0)
                                        return r;
                                FOREACH_CHILD(c, ch, tg, r) {
                                        if (!is_elem(tg, "target"))
                                                return unknown_child(c, ch, tg, "target");
                                        if ((r = parse_design_scsi_target(c, tg, def)) < 0)
                                                return r;
                                }
                                if (r < 0)
                                        return r;
                        } else if ((r = parse_source_for_type(c, ch, def)) < 0)
                                return r;
                        continue;
                }
                if (def->form == HOSTDEV_FORM_DESIGN && def->type == HOSTDEV_TYPE_SCSI && is_elem(ch, "target")) {
                        if ((r = parse_design_scsi_target(c, ch, def)) < 0)
                                return r;
                        continue;
                }
                if (def->type == HOSTDEV_TYPE_PCI && is_elem(ch, "driver")) {
                        if (seen_driver)
                                return dup_child(c, ch);
                        seen_driver = true;
                        if ((r = CHECK_ATTRS(c, ch, "name")) < 0)
                                return r;
                        t = 0;
                        r = enum_attr(c, ch, "name", (const char *const[]){ "default", "kvm", "vfio", "xen", NULL }, &t);
                        if (r < 0)
                                return r;
                        def->backend = t;
                        if ((r = no_children(c, ch)) < 0)
                                return r;
                        continue;
                }
                if (def->type == HOSTDEV_TYPE_CAP_NET && is_elem(ch, "ip")) {
                        if ((r = parse_ip(c, ch, &def->source.caps)) < 0)
                                return r;
                        continue;
                }
                if (def->type == HOSTDEV_TYPE_CAP_NET && is_elem(ch, "route")) {
                        if ((r = parse_route(c, ch, &def->source.caps)) < 0)
                                return r;
                        continue;
                }
                r = parse_common_child(c, ch, def, &seen);
                if (r < 0)
                        return r;
                if (r == 0) {
                        const char *extra = def->type == HOSTDEV_TYPE_PCI        ? "source, driver, "
                                            : def->type == HOSTDEV_TYPE_CAP_NET ? "source, ip, route, "
                                            : def->form == HOSTDEV_FORM_DESIGN && def->type == HOSTDEV_TYPE_SCSI
                                                    ? "source, target, "
                                                    : "source, ";
                        _cleanup_free_ char *exp = strdup_printf("%s%s", extra, COMMON_CHILDREN);
                        return unknown_child(c, n, ch, exp ? exp : COMMON_CHILDREN);
                }
        }
        if (r < 0)
                return r;
        if (!seen_source)
                return perr(c, n, "<hostdev type='%s'> needs a <source> element", hostdev_type_to_string(def->type));
        if (def->form == HOSTDEV_FORM_DESIGN && def->type == HOSTDEV_TYPE_SCSI && !def->source.scsi.adapter)
                return perr(c, n, "<hostdev mode='capability' type='scsi'> needs <target address='H:B:T:L'/>, e.g. address='0:0:0:0'");
        if (def->teaming != TEAMING_NONE && def->type != HOSTDEV_TYPE_PCI)
                return perr(c, n, "<teaming> is only for PCI host devices");
        *ret = TAKE_PTR(def);
        return 0;
}

/* ---- <interface type='hostdev'> ----------------------------------------------------------- */

static int parse_mac(struct pctx *c, xmlNodePtr n, char **ret) {
        _cleanup_free_ char *a = NULL;
        int r;
        if ((r = CHECK_ATTRS(c, n, "address")) < 0)
                return r;
        if ((r = req_attr(c, n, "address", "52:54:00:6d:90:02", &a)) < 0)
                return r;
        if (strlen(a) != 17)
                goto bad;
        for (size_t i = 0; i < 17; i++) {
                if (i % 3 == 2 ? a[i] != ':' : !isxdigit((unsigned char) a[i]))
                        goto bad;
                a[i] = (char) tolower((unsigned char) a[i]);
        }
        {
                int first = isdigit((unsigned char) a[1]) ? a[1] - '0' : a[1] - 'a' + 10;
                if (first & 1)
                        return perr(c, n, "<mac address='%s'>: a multicast address; the first byte must be even, e.g. 52:54:00:...", a);
        }
        *ret = TAKE_PTR(a);
        return no_children(c, n);
bad:
        return perr(c, n, "<mac address='%s'>: write six hex pairs separated by ':', e.g. address='52:54:00:6d:90:02'", a);
}

static int parse_vlan(struct pctx *c, xmlNodePtr n, struct interface_extras *x) {
        unsigned long long v;
        xmlNodePtr ch;
        int r;
        enum tristate trunk = TRISTATE_ABSENT;
        if ((r = CHECK_ATTRS(c, n, "trunk")) < 0)
                return r;
        if ((r = tristate_attr(c, n, "trunk", "yes", "no", &trunk)) < 0)
                return r;
        x->vlan_trunk = trunk == TRISTATE_YES;
        FOREACH_CHILD(c, n, ch, r) {
                if (!is_elem(ch, "tag"))
                        return unknown_child(c, n, ch, "tag");
                struct vlan_tag *tags = reallocarray(x->vlan_tags, x->n_vlan_tags + 1, sizeof(*tags));
                if (!tags)
                        return -ENOMEM;
                x->vlan_tags = tags;
                struct vlan_tag *tag = &x->vlan_tags[x->n_vlan_tags++];
                *tag = (struct vlan_tag){ 0 };
                if ((r = CHECK_ATTRS(c, ch, "id", "nativeMode")) < 0)
                        return r;
                if ((r = num_attr_req(c, ch, "id", "42", NUM_DEC, 0, 4095, "a VLAN id is 0..4095", &v)) < 0)
                        return r;
                tag->id = (unsigned) v;
                tag->native_mode = attr(ch, "nativeMode");
                if (tag->native_mode && !streq(tag->native_mode, "tagged") && !streq(tag->native_mode, "untagged"))
                        return perr(c, ch, "<tag nativeMode='%s'>: write nativeMode='tagged' or 'untagged'", tag->native_mode);
                if ((r = no_children(c, ch)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (x->n_vlan_tags == 0)
                return perr(c, n, "<vlan> needs at least one <tag id='42'/>");
        if (x->n_vlan_tags > 1 && !x->vlan_trunk && trunk == TRISTATE_NO)
                return perr(c, n, "<vlan trunk='no'> takes a single <tag>");
        if (x->n_vlan_tags > 1)
                x->vlan_trunk = true;
        return 0;
}

static int parse_virtualport(struct pctx *c, xmlNodePtr n, struct interface_extras *x) {
        static const char *const params[] = { "managerid", "typeid", "typeidversion", "instanceid",
                                              "profileid", "interfaceid", NULL };
        static const char *const types[] = { "802.1Qbg", "802.1Qbh", "openvswitch", "midonet", NULL };
        xmlNodePtr ch;
        int r, t;
        bool seen = false;
        struct virtualport_def *vp = calloc(1, sizeof(*vp));
        if (!vp)
                return -ENOMEM;
        x->virtualport = vp;
        if ((r = CHECK_ATTRS(c, n, "type")) < 0)
                return r;
        if ((r = enum_attr(c, n, "type", types, &t)) < 0)
                return r;
        if (r > 0 && !(vp->type = strdup(types[t])))
                return -ENOMEM;
        FOREACH_CHILD(c, n, ch, r) {
                if (!is_elem(ch, "parameters"))
                        return unknown_child(c, n, ch, "parameters");
                if (seen)
                        return dup_child(c, ch);
                seen = true;
                if ((r = check_attrs(c, ch, params)) < 0)
                        return r;
                for (xmlAttrPtr a = ch->properties; a; a = a->next) {
                        char **nn = reallocarray(vp->param_names, vp->n_params + 1, sizeof(char *));
                        if (!nn)
                                return -ENOMEM;
                        vp->param_names = nn;
                        char **vv = reallocarray(vp->param_values, vp->n_params + 1, sizeof(char *));
                        if (!vv)
                                return -ENOMEM;
                        vp->param_values = vv;
                        vp->param_names[vp->n_params] = strdup((const char *) a->name);
                        vp->param_values[vp->n_params] = attr(ch, (const char *) a->name);
                        vp->n_params++;
                        if (!vp->param_names[vp->n_params - 1] || !vp->param_values[vp->n_params - 1])
                                return -ENOMEM;
                }
                if ((r = no_children(c, ch)) < 0)
                        return r;
        }
        return r;
}

static int parse_interface(struct pctx *c, xmlNodePtr n, struct hostdev_def **ret) {
        _cleanup_(hostdev_def_freep) struct hostdev_def *def = calloc(1, sizeof(*def));
        struct interface_extras *x;
        bool seen_source = false, seen_mac = false, seen_driver = false, seen_vlan = false,
             seen_vp = false, seen_model = false;
        unsigned seen = 0;
        xmlNodePtr ch;
        int r, t;

        if (!def)
                return -ENOMEM;
        def->origin = HOSTDEV_ORIGIN_INTERFACE;
        def->form = HOSTDEV_FORM_LIBVIRT;
        def->mode = HOSTDEV_MODE_SUBSYSTEM;
        def->type = HOSTDEV_TYPE_PCI;
        def->line = (unsigned) node_line(n);
        x = def->iface = calloc(1, sizeof(*x));
        if (!x)
                return -ENOMEM;
        if ((r = CHECK_ATTRS(c, n, "type", "managed", "trustGuestRxFilters")) < 0)
                return r;
        if ((r = tristate_attr(c, n, "managed", "yes", "no", &def->managed)) < 0)
                return r;
        if ((r = tristate_attr(c, n, "trustGuestRxFilters", "yes", "no", &x->trust_guest_rx_filters)) < 0)
                return r;

        FOREACH_CHILD(c, n, ch, r) {
                if (is_elem(ch, "source")) {
                        if (seen_source)
                                return dup_child(c, ch);
                        seen_source = true;
                        if ((r = parse_pci_source(c, ch, def, true)) < 0)
                                return r;
                } else if (is_elem(ch, "mac")) {
                        if (seen_mac)
                                return dup_child(c, ch);
                        seen_mac = true;
                        if ((r = parse_mac(c, ch, &x->mac)) < 0)
                                return r;
                } else if (is_elem(ch, "driver")) {
                        if (seen_driver)
                                return dup_child(c, ch);
                        seen_driver = true;
                        if ((r = CHECK_ATTRS(c, ch, "name")) < 0)
                                return r;
                        t = 0;
                        r = enum_attr(c, ch, "name", (const char *const[]){ "default", "kvm", "vfio", "xen", NULL }, &t);
                        if (r < 0)
                                return r;
                        def->backend = t;
                        if ((r = no_children(c, ch)) < 0)
                                return r;
                } else if (is_elem(ch, "vlan")) {
                        if (seen_vlan)
                                return dup_child(c, ch);
                        seen_vlan = true;
                        if ((r = parse_vlan(c, ch, x)) < 0)
                                return r;
                } else if (is_elem(ch, "virtualport")) {
                        if (seen_vp)
                                return dup_child(c, ch);
                        seen_vp = true;
                        if ((r = parse_virtualport(c, ch, x)) < 0)
                                return r;
                } else if (is_elem(ch, "model")) {
                        if (seen_model)
                                return dup_child(c, ch);
                        seen_model = true;
                        if ((r = CHECK_ATTRS(c, ch, "type")) < 0)
                                return r;
                        if ((r = req_attr(c, ch, "type", "virtio", &x->model)) < 0)
                                return r;
                        if (!valid_chars(x->model, "_-."))
                                return perr(c, ch, "<model type='%s'>: not a model name", x->model);
                        if ((r = no_children(c, ch)) < 0)
                                return r;
                } else {
                        r = parse_common_child(c, ch, def, &seen);
                        if (r < 0)
                                return r;
                        if (r == 0 || is_elem(ch, "readonly") || is_elem(ch, "shareable"))
                                return unknown_child(c, n, ch, "source, mac, driver, vlan, virtualport, model, boot, alias, acpi, rom, address, teaming");
                }
        }
        if (r < 0)
                return r;
        if (!seen_source)
                return perr(c, n, "<interface type='hostdev'> needs <source><address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/></source>");
        *ret = TAKE_PTR(def);
        return 0;
}

/* ---- containers --------------------------------------------------------------------------- */

static int file_add(struct hostdev_file *f, struct hostdev_def *def) {
        struct hostdev_def **d = reallocarray(f->defs, f->n_defs + 1, sizeof(*d));
        if (!d) {
                hostdev_def_free(def);
                return -ENOMEM;
        }
        f->defs = d;
        f->defs[f->n_defs++] = def;
        return 0;
}

static int parse_device_elem(struct pctx *c, xmlNodePtr n, struct hostdev_file *f, bool in_container) {
        struct hostdev_def *def = NULL;
        int r;
        if (is_elem(n, "hostdev")) {
                r = parse_hostdev(c, n, &def);
        } else if (is_elem(n, "interface")) {
                _cleanup_free_ char *type = attr(n, "type");
                if (!type || !streq(type, "hostdev")) {
                        if (in_container)
                                return 0;
                        return perr(c, n, "<interface type='%s'> is not a host device; only <interface type='hostdev'> is accepted",
                                    strempty(type));
                }
                r = parse_interface(c, n, &def);
        } else
                return 0;
        if (r < 0)
                return r;
        return file_add(f, def);
}

static int parse_devices(struct pctx *c, xmlNodePtr devices, struct hostdev_file *f) {
        for (xmlNodePtr ch = devices->children; ch; ch = ch->next) {
                int r;
                if (ch->type != XML_ELEMENT_NODE)
                        continue;
                r = parse_device_elem(c, ch, f, true);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_root(struct pctx *c, xmlNodePtr root, struct hostdev_file *f) {
        int r;
        if (is_elem(root, "hostdev") || is_elem(root, "interface"))
                return parse_device_elem(c, root, f, false);
        if (is_elem(root, "devices"))
                return parse_devices(c, root, f);
        if (is_elem(root, "domain")) {
                bool seen_name = false;
                for (xmlNodePtr ch = root->children; ch; ch = ch->next) {
                        if (ch->type != XML_ELEMENT_NODE)
                                continue;
                        if (is_elem(ch, "name")) {
                                if (seen_name)
                                        return dup_child(c, ch);
                                seen_name = true;
                                if ((r = elem_text(c, ch, false, &f->domain_name)) < 0)
                                        return r;
                        } else if (is_elem(ch, "devices")) {
                                if ((r = parse_devices(c, ch, f)) < 0)
                                        return r;
                        }
                }
                if (!seen_name)
                        return perr(c, root, "<domain> needs a <name>");
                return 0;
        }
        return perr(c, root, "<%s%s%s> is not a host device description; write <hostdev>, <interface type='hostdev'>, <devices> or <domain>",
                    root->ns && root->ns->prefix ? (const char *) root->ns->prefix : "",
                    root->ns && root->ns->prefix ? ":" : "", nname(root));
}

/* ---- libxml2 plumbing --------------------------------------------------------------------- */

struct xml_state {
        const char *name;
        char *err;    /* first error, "NAME:LINE: message" */
        int depth;
        startElementNsSAX2Func start;
        endElementNsSAX2Func end;
};

static void xml_state_fail(xmlParserCtxtPtr ctxt, struct xml_state *st, const char *msg) {
        if (!st->err) {
                long line = ctxt->input ? ctxt->input->line : 1;
                st->err = strdup_printf("%s:%ld: %s", st->name, line > 0 ? line : 1, msg);
        }
        xmlStopParser(ctxt);
}

static void on_structured_error(void *data, xmlErrorPtr e) {
        xmlParserCtxtPtr ctxt = data;
        struct xml_state *st = ctxt ? ctxt->_private : NULL;
        if (!st || !e || e->level < XML_ERR_ERROR || st->err)
                return;
        if (e->code == XML_ERR_USER_STOP)
                return;
        const char *m = e->message ? e->message : "malformed XML";
        size_t l = strlen(m);
        while (l > 0 && (m[l - 1] == '\n' || m[l - 1] == ' '))
                l--;
        int line = e->line > 0 ? e->line : (ctxt->input && ctxt->input->line > 0 ? ctxt->input->line : 1);
        if (e->code == XML_ERR_INTERNAL_ERROR && strstr(m, "depth"))
                st->err = strdup_printf("%s:%d: elements nested deeper than %d levels", st->name, line, DEPTH_MAX);
        else if (e->code == XML_ERR_UNDECLARED_ENTITY || e->code == XML_WAR_UNDECLARED_ENTITY ||
                 e->code == XML_ERR_ENTITY_LOOP)
                st->err = strdup_printf("%s:%d: DOCTYPE/entities are not allowed (%.*s)", st->name, line, (int) l, m);
        else
                st->err = strdup_printf("%s:%d: %.*s", st->name, line, (int) l, m);
}

/* libxml2 reports some errors (encoding, I/O) without the parser context, through its global
 * handlers: silence the generic one for the duration of a parse. */
static void on_generic_error(void *ctx, const char *msg, ...) {
}

static void on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys) {
        xmlParserCtxtPtr ctxt = ctx;
        xml_state_fail(ctxt, ctxt->_private, "DOCTYPE/entities are not allowed; remove the <!DOCTYPE ...> declaration");
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *publicId,
                           const xmlChar *systemId, xmlChar *content) {
        xmlParserCtxtPtr ctxt = ctx;
        xml_state_fail(ctxt, ctxt->_private, "DOCTYPE/entities are not allowed; remove the <!ENTITY ...> declaration");
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *URI,
                     int nb_namespaces, const xmlChar **namespaces, int nb_attributes, int nb_defaulted,
                     const xmlChar **attributes) {
        xmlParserCtxtPtr ctxt = ctx;
        struct xml_state *st = ctxt->_private;
        if (++st->depth > DEPTH_MAX) {
                char msg[80];
                snprintf(msg, sizeof msg, "elements nested deeper than %d levels", DEPTH_MAX);
                xml_state_fail(ctxt, st, msg);
                return;
        }
        st->start(ctx, localname, prefix, URI, nb_namespaces, namespaces, nb_attributes, nb_defaulted, attributes);
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *URI) {
        xmlParserCtxtPtr ctxt = ctx;
        struct xml_state *st = ctxt->_private;
        st->depth--;
        st->end(ctx, localname, prefix, URI);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(xmlParserCtxtPtr, xmlFreeParserCtxt);

int hostdev_file_parse_buffer(const char *buf, size_t len, const char *name, struct hostdev_file **ret,
                              char **reterr) {
        _cleanup_(xmlFreeParserCtxtp) xmlParserCtxtPtr ctxt = NULL;
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = NULL;
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
        struct xml_state st = { .name = name ? name : "input" };
        struct pctx c = { .name = st.name, .reterr = reterr };
        xmlNodePtr root;
        int r;

        if (!buf)
                return error_set(reterr, -EINVAL, "%s: no input", st.name);
        if (len > INPUT_MAX)
                return error_set(reterr, -EFBIG, "%s: input larger than 16 MiB", st.name);

        xmlInitParser();
        ctxt = xmlNewParserCtxt();
        if (!ctxt)
                return error_set(reterr, -ENOMEM, "%s: out of memory", st.name);
        ctxt->_private = &st;
        ctxt->sax->initialized = XML_SAX2_MAGIC;
        ctxt->sax->serror = on_structured_error;
        ctxt->sax->error = NULL;
        ctxt->sax->warning = NULL;
        ctxt->sax->internalSubset = on_internal_subset;
        ctxt->sax->externalSubset = on_internal_subset;
        ctxt->sax->entityDecl = on_entity_decl;
        st.start = ctxt->sax->startElementNs;
        st.end = ctxt->sax->endElementNs;
        ctxt->sax->startElementNs = on_start;
        ctxt->sax->endElementNs = on_end;
        ctxt->vctxt.error = NULL;
        ctxt->vctxt.warning = NULL;

        xmlStructuredErrorFunc saved_serror = xmlStructuredError;
        void *saved_sctx = xmlStructuredErrorContext;
        xmlGenericErrorFunc saved_gerror = xmlGenericError;
        void *saved_gctx = xmlGenericErrorContext;
        xmlSetStructuredErrorFunc(ctxt, on_structured_error);
        xmlSetGenericErrorFunc(NULL, on_generic_error);
        doc = xmlCtxtReadMemory(ctxt, buf, (int) len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES |
                                        XML_PARSE_NOXINCNODE);
        xmlSetStructuredErrorFunc(saved_sctx, saved_serror);
        xmlSetGenericErrorFunc(saved_gctx, saved_gerror);
        if (st.err) {
                r = error_set(reterr, -EINVAL, "%s", st.err);
                free(st.err);
                return r;
        }
        if (!doc)
                return error_set(reterr, -EINVAL, "%s:1: not well-formed XML", st.name);
        if (doc->intSubset || doc->extSubset)
                return error_set(reterr, -EINVAL, "%s:1: DOCTYPE/entities are not allowed", st.name);
        root = xmlDocGetRootElement(doc);
        if (!root)
                return error_set(reterr, -EINVAL, "%s:1: empty document", st.name);

        f = calloc(1, sizeof(*f));
        if (!f)
                return error_set(reterr, -ENOMEM, "%s: out of memory", st.name);
        f->path = strdup(st.name);
        if (!f->path)
                return error_set(reterr, -ENOMEM, "%s: out of memory", st.name);
        r = parse_root(&c, root, f);
        if (r < 0)
                return error_set(reterr, r, "%s: %s", st.name, r == -ENOMEM ? "out of memory" : strerror(-r));
        *ret = TAKE_PTR(f);
        return 0;
}

int hostdev_file_parse_path(const char *path, struct hostdev_file **ret, char **reterr) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        bool std_in = streq(path, "-");
        const char *name = std_in ? "<stdin>" : path;
        int r;

        r = read_full_file(std_in ? "/dev/stdin" : path, INPUT_MAX, &buf, &size);
        if (r == -EFBIG)
                return error_set(reterr, r, "%s: input larger than 16 MiB", name);
        if (r < 0)
                return error_set(reterr, r, "cannot read %s: %s", name, strerror(-r));
        return hostdev_file_parse_buffer(buf, size, name, ret, reterr);
}

/* ---- formatting --------------------------------------------------------------------------- */

struct out {
        struct strbuf *sb;
        bool oneline;
};

static void o_begin(struct out *o, unsigned indent) {
        if (o->oneline)
                return;
        for (unsigned i = 0; i < indent; i++)
                strbuf_append(o->sb, " ");
}

static void o_end(struct out *o) {
        if (!o->oneline)
                strbuf_append(o->sb, "\n");
}

static void a_str(struct out *o, const char *name, const char *v) {
        strbuf_appendf(o->sb, " %s='", name);
        strbuf_append_xml_escaped(o->sb, strempty(v));
        strbuf_append(o->sb, "'");
}

static void a_fmt(struct out *o, const char *name, const char *fmt, ...) _printf_(3, 4);
static void a_fmt(struct out *o, const char *name, const char *fmt, ...) {
        va_list ap;
        strbuf_appendf(o->sb, " %s='", name);
        va_start(ap, fmt);
        strbuf_vappendf(o->sb, fmt, ap);
        va_end(ap);
        strbuf_append(o->sb, "'");
}

static void text_elem(struct out *o, unsigned indent, const char *name, const char *v) {
        o_begin(o, indent);
        strbuf_appendf(o->sb, "<%s>", name);
        strbuf_append_xml_escaped(o->sb, strempty(v));
        strbuf_appendf(o->sb, "</%s>", name);
        o_end(o);
}

static void fmt_pci_addr(struct out *o, const struct pci_addr *a) {
        a_fmt(o, "domain", "0x%04x", a->domain);
        a_fmt(o, "bus", "0x%02x", a->bus);
        a_fmt(o, "slot", "0x%02x", a->slot);
        a_fmt(o, "function", "0x%x", a->function);
}

static const char *const startup_policy_str[] = { NULL, "mandatory", "requisite", "optional" };
static const char *const guest_reset_str[] = { NULL, "off", "uninitialized", "on" };

static void fmt_source(const struct hostdev_def *def, struct out *o, unsigned in) {
        struct strbuf *sb = o->sb;
        switch (def->type) {
        case HOSTDEV_TYPE_USB: {
                const struct usb_source *u = &def->source.usb;
                o_begin(o, in);
                strbuf_append(sb, "<source");
                if (def->startup_policy)
                        a_str(o, "startupPolicy", startup_policy_str[def->startup_policy]);
                if (def->guest_reset)
                        a_str(o, "guestReset", guest_reset_str[def->guest_reset]);
                strbuf_append(sb, ">");
                o_end(o);
                if (u->has_vendor) {
                        o_begin(o, in + 2);
                        strbuf_appendf(sb, "<vendor id='0x%04x'/>", u->vendor);
                        o_end(o);
                        o_begin(o, in + 2);
                        strbuf_appendf(sb, "<product id='0x%04x'/>", u->product);
                        o_end(o);
                }
                if (u->has_bus) {
                        o_begin(o, in + 2);
                        strbuf_appendf(sb, "<address bus='%u'", u->bus);
                        if (u->has_device)
                                a_fmt(o, "device", "%u", u->device);
                        if (u->port)
                                a_str(o, "port", u->port);
                        strbuf_append(sb, "/>");
                        o_end(o);
                }
                if (u->serial)
                        text_elem(o, in + 2, "serial", u->serial);
                if (u->remote_host) {
                        o_begin(o, in + 2);
                        strbuf_append(sb, "<remote");
                        a_str(o, "host", u->remote_host);
                        a_fmt(o, "port", "%u", u->remote_port);
                        strbuf_append(sb, "/>");
                        o_end(o);
                }
                o_begin(o, in);
                strbuf_append(sb, "</source>");
                o_end(o);
                break;
        }
        case HOSTDEV_TYPE_PCI: {
                const struct pci_source *p = &def->source.pci;
                o_begin(o, in);
                strbuf_append(sb, "<source");
                if (def->startup_policy)
                        a_str(o, "startupPolicy", startup_policy_str[def->startup_policy]);
                if (p->writeFiltering)
                        a_str(o, "writeFiltering", p->writeFiltering == TRISTATE_YES ? "yes" : "no");
                strbuf_append(sb, ">");
                o_end(o);
                o_begin(o, in + 2);
                strbuf_append(sb, "<address");
                if (def->origin == HOSTDEV_ORIGIN_INTERFACE)
                        a_str(o, "type", "pci");
                fmt_pci_addr(o, &p->addr);
                strbuf_append(sb, "/>");
                o_end(o);
                o_begin(o, in);
                strbuf_append(sb, "</source>");
                o_end(o);
                break;
        }
        case HOSTDEV_TYPE_SCSI: {
                const struct scsi_source *s = &def->source.scsi;
                o_begin(o, in);
                if (s->protocol == SCSI_PROTOCOL_ISCSI) {
                        strbuf_append(sb, "<source protocol='iscsi'");
                        a_str(o, "name", s->iqn_name);
                        strbuf_append(sb, ">");
                        o_end(o);
                        for (size_t i = 0; i < s->n_hosts; i++) {
                                o_begin(o, in + 2);
                                strbuf_append(sb, "<host");
                                a_str(o, "name", s->hosts[i].name);
                                if (s->hosts[i].port)
                                        a_str(o, "port", s->hosts[i].port);
                                strbuf_append(sb, "/>");
                                o_end(o);
                        }
                        if (s->auth_username) {
                                o_begin(o, in + 2);
                                strbuf_append(sb, "<auth");
                                a_str(o, "username", s->auth_username);
                                strbuf_append(sb, ">");
                                o_end(o);
                                o_begin(o, in + 4);
                                strbuf_append(sb, "<secret");
                                a_str(o, "type", s->auth_secret_type);
                                if (s->auth_secret_usage)
                                        a_str(o, "usage", s->auth_secret_usage);
                                if (s->auth_secret_uuid)
                                        a_str(o, "uuid", s->auth_secret_uuid);
                                strbuf_append(sb, "/>");
                                o_end(o);
                                o_begin(o, in + 2);
                                strbuf_append(sb, "</auth>");
                                o_end(o);
                        }
                        if (s->initiator_iqn) {
                                o_begin(o, in + 2);
                                strbuf_append(sb, "<initiator>");
                                o_end(o);
                                o_begin(o, in + 4);
                                strbuf_append(sb, "<iqn");
                                a_str(o, "name", s->initiator_iqn);
                                strbuf_append(sb, "/>");
                                o_end(o);
                                o_begin(o, in + 2);
                                strbuf_append(sb, "</initiator>");
                                o_end(o);
                        }
                } else {
                        strbuf_append(sb, "<source>");
                        o_end(o);
                        o_begin(o, in + 2);
                        strbuf_append(sb, "<adapter");
                        a_str(o, "name", s->adapter);
                        strbuf_append(sb, "/>");
                        o_end(o);
                        o_begin(o, in + 2);
                        strbuf_appendf(sb, "<address bus='%u' target='%u' unit='%llu'/>", s->bus, s->target, s->unit);
                        o_end(o);
                }
                o_begin(o, in);
                strbuf_append(sb, "</source>");
                o_end(o);
                break;
        }
        case HOSTDEV_TYPE_SCSI_HOST:
                o_begin(o, in);
                strbuf_append(sb, "<source");
                a_str(o, "protocol", def->source.scsi_host.protocol);
                a_str(o, "wwpn", def->source.scsi_host.wwpn);
                strbuf_append(sb, "/>");
                o_end(o);
                break;
        case HOSTDEV_TYPE_MDEV:
                o_begin(o, in);
                strbuf_append(sb, "<source>");
                o_end(o);
                o_begin(o, in + 2);
                strbuf_append(sb, "<address");
                a_str(o, "uuid", def->source.mdev.uuid);
                strbuf_append(sb, "/>");
                o_end(o);
                o_begin(o, in);
                strbuf_append(sb, "</source>");
                o_end(o);
                break;
        case HOSTDEV_TYPE_CAP_STORAGE:
        case HOSTDEV_TYPE_CAP_MISC:
        case HOSTDEV_TYPE_CAP_NET:
                o_begin(o, in);
                strbuf_append(sb, "<source>");
                o_end(o);
                if (def->type == HOSTDEV_TYPE_CAP_STORAGE)
                        text_elem(o, in + 2, "block", def->source.caps.block);
                else if (def->type == HOSTDEV_TYPE_CAP_MISC)
                        text_elem(o, in + 2, "char", def->source.caps.char_dev);
                else
                        text_elem(o, in + 2, "interface", def->source.caps.interface);
                o_begin(o, in);
                strbuf_append(sb, "</source>");
                o_end(o);
                break;
        }
}

static void fmt_guest_address(const struct guest_address *ga, struct out *o, unsigned in) {
        struct strbuf *sb = o->sb;
        if (ga->type == GUEST_ADDRESS_NONE)
                return;
        o_begin(o, in);
        strbuf_append(sb, "<address");
        a_str(o, "type", guest_address_types[ga->type]);
        switch (ga->type) {
        case GUEST_ADDRESS_PCI:
                fmt_pci_addr(o, &ga->pci);
                if (ga->multifunction)
                        a_str(o, "multifunction", ga->multifunction == TRISTATE_YES ? "on" : "off");
                if (ga->has_zpci) {
                        strbuf_append(sb, ">");
                        o_end(o);
                        o_begin(o, in + 2);
                        strbuf_append(sb, "<zpci");
                        if (ga->given & GA_ZPCI_UID)
                                a_fmt(o, "uid", "0x%04x", ga->zpci_uid);
                        if (ga->given & GA_ZPCI_FID)
                                a_fmt(o, "fid", "0x%08x", ga->zpci_fid);
                        strbuf_append(sb, "/>");
                        o_end(o);
                        o_begin(o, in);
                        strbuf_append(sb, "</address>");
                        o_end(o);
                        return;
                }
                break;
        case GUEST_ADDRESS_DRIVE:
                strbuf_appendf(sb, " controller='%u' bus='%u' target='%u' unit='%u'", ga->controller, ga->bus,
                               ga->target, ga->unit);
                break;
        case GUEST_ADDRESS_USB:
                a_fmt(o, "bus", "%u", ga->bus);
                if (ga->usb_port)
                        a_str(o, "port", ga->usb_port);
                break;
        case GUEST_ADDRESS_CCW:
                if (ga->given & GA_CCW)
                        strbuf_appendf(sb, " cssid='0x%x' ssid='0x%x' devno='0x%04x'", ga->cssid, ga->ssid, ga->devno);
                break;
        case GUEST_ADDRESS_VIRTIO_SERIAL:
                strbuf_appendf(sb, " controller='%u' bus='%u'", ga->controller, ga->bus);
                if (ga->has_port)
                        a_fmt(o, "port", "%u", ga->port);
                break;
        case GUEST_ADDRESS_CCID:
                a_fmt(o, "controller", "%u", ga->controller);
                if (ga->given & GA_SLOT)
                        a_fmt(o, "slot", "%u", ga->slot);
                break;
        case GUEST_ADDRESS_SPAPR_VIO:
                if (ga->given & GA_REG)
                        a_fmt(o, "reg", "0x%08llx", ga->reg);
                break;
        case GUEST_ADDRESS_ISA:
                if (ga->given & GA_IOBASE)
                        a_fmt(o, "iobase", "0x%x", ga->iobase);
                if (ga->given & GA_IRQ)
                        a_fmt(o, "irq", "0x%x", ga->irq);
                break;
        case GUEST_ADDRESS_DIMM:
                if (ga->given & GA_SLOT)
                        a_fmt(o, "slot", "%u", ga->slot);
                if (ga->given & GA_BASE)
                        a_fmt(o, "base", "0x%llx", ga->base);
                break;
        default:
                break;
        }
        strbuf_append(sb, "/>");
        o_end(o);
}

static void fmt_empty(struct out *o, unsigned in, const char *s) {
        o_begin(o, in);
        strbuf_append(o->sb, s);
        o_end(o);
}

static void fmt_teaming(const struct hostdev_def *def, struct out *o, unsigned in) {
        if (def->teaming == TEAMING_NONE)
                return;
        o_begin(o, in);
        strbuf_append(o->sb, "<teaming");
        a_str(o, "type", def->teaming == TEAMING_PERSISTENT ? "persistent" : "transient");
        if (def->teaming_persistent)
                a_str(o, "persistent", def->teaming_persistent);
        strbuf_append(o->sb, "/>");
        o_end(o);
}

static void fmt_device_info(const struct hostdev_def *def, struct out *o, unsigned in) {
        struct strbuf *sb = o->sb;
        if (def->has_boot) {
                o_begin(o, in);
                strbuf_appendf(sb, "<boot order='%u'", def->boot_order);
                if (def->boot_loadparm)
                        a_str(o, "loadparm", def->boot_loadparm);
                strbuf_append(sb, "/>");
                o_end(o);
        }
        if (def->alias) {
                o_begin(o, in);
                strbuf_append(sb, "<alias");
                a_str(o, "name", def->alias);
                strbuf_append(sb, "/>");
                o_end(o);
        }
        if (def->has_acpi_index) {
                o_begin(o, in);
                strbuf_appendf(sb, "<acpi index='%u'/>", def->acpi_index);
                o_end(o);
        }
        if (def->rom_bar || def->rom_file || def->rom_enabled) {
                o_begin(o, in);
                strbuf_append(sb, "<rom");
                if (def->rom_enabled)
                        a_str(o, "enabled", def->rom_enabled == TRISTATE_YES ? "yes" : "no");
                if (def->rom_bar)
                        a_str(o, "bar", def->rom_bar == TRISTATE_YES ? "on" : "off");
                if (def->rom_file)
                        a_str(o, "file", def->rom_file);
                strbuf_append(sb, "/>");
                o_end(o);
        }
        fmt_guest_address(&def->guest_addr, o, in);
}

static const char *const backend_str[] = { NULL, "kvm", "vfio", "xen" };
static const char *const mdev_model_str[] = { NULL, "vfio-pci", "vfio-ccw", "vfio-ap" };

static void fmt_interface(const struct hostdev_def *def, struct out *o, unsigned in) {
        struct strbuf *sb = o->sb;
        const struct interface_extras *x = def->iface;
        o_begin(o, in);
        strbuf_append(sb, "<interface type='hostdev'");
        if (def->managed)
                a_str(o, "managed", def->managed == TRISTATE_YES ? "yes" : "no");
        if (x && x->trust_guest_rx_filters)
                a_str(o, "trustGuestRxFilters", x->trust_guest_rx_filters == TRISTATE_YES ? "yes" : "no");
        strbuf_append(sb, ">");
        o_end(o);
        if (x && x->mac) {
                o_begin(o, in + 2);
                strbuf_append(sb, "<mac");
                a_str(o, "address", x->mac);
                strbuf_append(sb, "/>");
                o_end(o);
        }
        if (def->backend) {
                o_begin(o, in + 2);
                strbuf_appendf(sb, "<driver name='%s'/>", backend_str[def->backend]);
                o_end(o);
        }
        fmt_source(def, o, in + 2);
        if (x && x->n_vlan_tags > 0) {
                fmt_empty(o, in + 2, x->vlan_trunk ? "<vlan trunk='yes'>" : "<vlan>");
                for (size_t i = 0; i < x->n_vlan_tags; i++) {
                        o_begin(o, in + 4);
                        strbuf_appendf(sb, "<tag id='%u'", x->vlan_tags[i].id);
                        if (x->vlan_tags[i].native_mode)
                                a_str(o, "nativeMode", x->vlan_tags[i].native_mode);
                        strbuf_append(sb, "/>");
                        o_end(o);
                }
                fmt_empty(o, in + 2, "</vlan>");
        }
        if (x && x->virtualport) {
                const struct virtualport_def *vp = x->virtualport;
                o_begin(o, in + 2);
                strbuf_append(sb, "<virtualport");
                if (vp->type)
                        a_str(o, "type", vp->type);
                if (vp->n_params == 0) {
                        strbuf_append(sb, "/>");
                        o_end(o);
                } else {
                        strbuf_append(sb, ">");
                        o_end(o);
                        o_begin(o, in + 4);
                        strbuf_append(sb, "<parameters");
                        for (size_t i = 0; i < vp->n_params; i++)
                                a_str(o, vp->param_names[i], vp->param_values[i]);
                        strbuf_append(sb, "/>");
                        o_end(o);
                        fmt_empty(o, in + 2, "</virtualport>");
                }
        }
        if (x && x->model) {
                o_begin(o, in + 2);
                strbuf_append(sb, "<model");
                a_str(o, "type", x->model);
                strbuf_append(sb, "/>");
                o_end(o);
        }
        fmt_teaming(def, o, in + 2);
        fmt_device_info(def, o, in + 2);
        fmt_empty(o, in, "</interface>");
}

void hostdev_def_format(const struct hostdev_def *def, unsigned indent, struct strbuf *sb) {
        struct out o = { .sb = sb };
        struct out *op = &o;
        unsigned in = indent;

        if (def->origin == HOSTDEV_ORIGIN_INTERFACE) {
                fmt_interface(def, op, in);
                return;
        }
        o_begin(op, in);
        strbuf_appendf(sb, "<hostdev mode='%s'", def->mode == HOSTDEV_MODE_SUBSYSTEM ? "subsystem" : "capabilities");
        a_str(op, "type", hostdev_type_to_string(def->type));
        if (def->mode == HOSTDEV_MODE_SUBSYSTEM) {
                if (def->managed)
                        a_str(op, "managed", def->managed == TRISTATE_YES ? "yes" : "no");
                if (def->type == HOSTDEV_TYPE_SCSI) {
                        if (def->sgio)
                                a_str(op, "sgio", def->sgio == SCSI_SGIO_FILTERED ? "filtered" : "unfiltered");
                        if (def->rawio)
                                a_str(op, "rawio", def->rawio == TRISTATE_YES ? "yes" : "no");
                }
                if (def->type == HOSTDEV_TYPE_SCSI_HOST && def->scsi_host_model)
                        a_str(op, "model", def->scsi_host_model);
                if (def->type == HOSTDEV_TYPE_MDEV) {
                        if (def->mdev_model)
                                a_str(op, "model", mdev_model_str[def->mdev_model]);
                        if (def->mdev_display)
                                a_str(op, "display", def->mdev_display == TRISTATE_YES ? "on" : "off");
                        if (def->mdev_ramfb)
                                a_str(op, "ramfb", def->mdev_ramfb == TRISTATE_YES ? "on" : "off");
                }
        }
        strbuf_append(sb, ">");
        o_end(op);
        if (def->type == HOSTDEV_TYPE_PCI && def->backend) {
                o_begin(op, in + 2);
                strbuf_appendf(sb, "<driver name='%s'/>", backend_str[def->backend]);
                o_end(op);
        }
        fmt_source(def, op, in + 2);
        if (def->type == HOSTDEV_TYPE_CAP_NET) {
                const struct caps_source *s = &def->source.caps;
                for (size_t i = 0; i < s->n_ips; i++) {
                        o_begin(op, in + 2);
                        strbuf_append(sb, "<ip");
                        a_str(op, "address", s->ips[i].address);
                        if (s->ips[i].family)
                                a_str(op, "family", s->ips[i].family);
                        if (s->ips[i].has_prefix)
                                a_fmt(op, "prefix", "%u", s->ips[i].prefix);
                        strbuf_append(sb, "/>");
                        o_end(op);
                }
                for (size_t i = 0; i < s->n_routes; i++) {
                        const struct route_def *rt = &s->routes[i];
                        o_begin(op, in + 2);
                        strbuf_append(sb, "<route");
                        if (rt->family)
                                a_str(op, "family", rt->family);
                        if (rt->address)
                                a_str(op, "address", rt->address);
                        if (rt->netmask)
                                a_str(op, "netmask", rt->netmask);
                        if (rt->has_prefix)
                                a_fmt(op, "prefix", "%u", rt->prefix);
                        a_str(op, "gateway", rt->gateway);
                        if (rt->has_metric)
                                a_fmt(op, "metric", "%u", rt->metric);
                        strbuf_append(sb, "/>");
                        o_end(op);
                }
        }
        fmt_teaming(def, op, in + 2);
        if (def->readonly)
                fmt_empty(op, in + 2, "<readonly/>");
        if (def->shareable)
                fmt_empty(op, in + 2, "<shareable/>");
        fmt_device_info(def, op, in + 2);
        fmt_empty(op, in, "</hostdev>");
}

int hostdev_file_format(const struct hostdev_file *f, char **ret) {
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
        char *s;
        if (f->domain_name) {
                strbuf_append(&sb, "<domain>\n  <name>");
                strbuf_append_xml_escaped(&sb, f->domain_name);
                strbuf_append(&sb, "</name>\n");
                if (f->n_defs == 0)
                        strbuf_append(&sb, "  <devices/>\n");
                else {
                        strbuf_append(&sb, "  <devices>\n");
                        for (size_t i = 0; i < f->n_defs; i++)
                                hostdev_def_format(f->defs[i], 4, &sb);
                        strbuf_append(&sb, "  </devices>\n");
                }
                strbuf_append(&sb, "</domain>\n");
        } else if (f->n_defs == 1)
                hostdev_def_format(f->defs[0], 0, &sb);
        else if (f->n_defs == 0)
                strbuf_append(&sb, "<devices/>\n");
        else {
                strbuf_append(&sb, "<devices>\n");
                for (size_t i = 0; i < f->n_defs; i++)
                        hostdev_def_format(f->defs[i], 2, &sb);
                strbuf_append(&sb, "</devices>\n");
        }
        s = strbuf_steal(&sb);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int hostdev_def_format_source(const struct hostdev_def *def, char **ret) {
        _cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
        struct out o = { .sb = &sb, .oneline = true };
        char *s;
        fmt_source(def, &o, 0);
        s = strbuf_steal(&sb);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
