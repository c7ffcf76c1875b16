/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt client glue: hostdev resolves and claims, libvirt receives a plain <hostdev>
 * (see virt.h for the XML handed over and what --config writes). */
#include "virt.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "error.h"
#include "hostdev-xml.h"
#include "resolve.h"
#include "uevent.h"
#include "util.h"
#include "virt-dl.h" /* libvirt, loaded on first use: its names call through virt_dl */
#include "watch.h"
#include "xml-util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hostdev_file *, hostdev_file_free);

struct virt_conn {
        virConnectPtr conn;
        char *uri;
};

static void quiet_error(void *userdata, virErrorPtr e) {
        (void) userdata;
        (void) e;
}

/* -errno for libvirt's last error, with its message appended to what. */
static int virt_err(char **reterr, int fallback, const char *fmt, ...) _printf_(3, 4);
static int virt_err(char **reterr, int fallback, const char *fmt, ...) {
        virErrorPtr e = virGetLastError();
        _cleanup_free_ char *what = NULL;
        int r = fallback;
        va_list ap;

        if (e && (e->code == VIR_ERR_NO_DOMAIN || e->code == VIR_ERR_NO_DOMAIN_METADATA))
                r = -ENOENT;
        va_start(ap, fmt);
        if (vasprintf(&what, fmt, ap) < 0)
                what = NULL;
        va_end(ap);
        r = error_set(reterr, r, "%s: %s", strna(what), e && e->message ? e->message : "libvirt error");
        virResetLastError();
        return r;
}

static void vlog(virt_log_func log, void *userdata, int level, const char *fmt, ...) _printf_(4, 5);
static void vlog(virt_log_func log, void *userdata, int level, const char *fmt, ...) {
        char *s = NULL;
        va_list ap;

        if (!log)
                return;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (s)
                log(userdata, level, s);
        free(s);
}

int virt_open(const char *uri, struct virt_conn **ret, char **reterr) {
        _cleanup_free_ struct virt_conn *c = NULL;
        int r;

        if (isempty(uri))
                return error_set(reterr, -EINVAL, "--connect needs a libvirt URI");
        r = virt_dl_load(reterr);
        if (r < 0)
                return r;
        if (virInitialize() < 0)
                return virt_err(reterr, -EIO, "cannot initialise libvirt");
        virSetErrorFunc(NULL, quiet_error); /* the library never prints */
        c = calloc(1, sizeof(*c));
        if (!c || !(c->uri = strdup(uri))) {
                if (c)
                        free(c->uri);
                return -ENOMEM;
        }
        c->conn = virConnectOpen(uri);
        if (!c->conn) {
                r = virt_err(reterr, -ECONNREFUSED, "cannot connect to libvirt at %s", uri);
                free(c->uri);
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

struct virt_conn *virt_close(struct virt_conn *c) {
        if (!c)
                return NULL;
        if (c->conn)
                virConnectClose(c->conn);
        free(c->uri);
        free(c);
        return NULL;
}

const char *virt_uri(const struct virt_conn *c) {
        return c ? c->uri : NULL;
}

/* ---- XML ------------------------------------------------------------------------------------ */

char *virt_usb_hostdev_xml(uint16_t vendor, uint16_t product, unsigned bus, unsigned devnum) {
        return strdup_printf("<hostdev mode='subsystem' type='usb' managed='no'>\n"
                             "  <source>\n"
                             "    <vendor id='0x%04x'/>\n"
                             "    <product id='0x%04x'/>\n"
                             "    <address bus='%u' device='%u'/>\n"
                             "  </source>\n"
                             "</hostdev>\n",
                             vendor, product, bus, devnum);
}

char *virt_pci_hostdev_xml(const struct pci_addr *a, bool managed) {
        return strdup_printf("<hostdev mode='subsystem' type='pci' managed='%s'>\n"
                             "  <source>\n"
                             "    <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n"
                             "  </source>\n"
                             "</hostdev>\n",
                             managed ? "yes" : "no", (unsigned) a->domain, a->bus, a->slot, a->function);
}

void virt_held_free_array(struct virt_held *h, size_t n) {
        for (size_t i = 0; h && i < n; i++) {
                free(h[i].domain);
                free(h[i].alias);
        }
        free(h);
}

static char *xpath_string(xmlXPathContextPtr ctx, xmlNodePtr node, const char *expr) {
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr o = NULL;
        ctx->node = node;
        o = xmlXPathEvalExpression((const xmlChar *) expr, ctx);
        if (!o || o->type != XPATH_STRING || !o->stringval || !*o->stringval)
                return NULL;
        return strdup((const char *) o->stringval);
}

static int parse_num(const char *s, unsigned base, unsigned max, unsigned *ret) {
        unsigned v;
        if (!s)
                return -ENOENT;
        if (base == 0 && (startswith(s, "0x") || startswith(s, "0X"))) {
                if (safe_atou(s + 2, 16, &v) < 0)
                        return -EINVAL;
        } else if (safe_atou(s, base ? base : 10, &v) < 0)
                return -EINVAL;
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int virt_parse_domain_hostdevs(const char *xml, struct virt_held **h, size_t *n, char **reterr) {
        _cleanup_(xmlFreeDocp) xmlDocPtr doc = NULL;
        _cleanup_(xmlXPathFreeContextp) xmlXPathContextPtr ctx = NULL;
        _cleanup_(xmlXPathFreeObjectp) xmlXPathObjectPtr set = NULL;
        _cleanup_free_ char *name = NULL;
        xmlNodePtr root;

        doc = xmlReadMemory(xml, (int) strlen(xml), "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc || !(root = xmlDocGetRootElement(doc)) || !xmlStrEqual(root->name, (const xmlChar *) "domain"))
                return error_set(reterr, -EBADMSG, "libvirt returned something that is not a <domain> XML");
        ctx = xmlXPathNewContext(doc);
        if (!ctx)
                return -ENOMEM;
        name = xpath_string(ctx, root, "string(/domain/name)");
        if (!name)
                return error_set(reterr, -EBADMSG, "libvirt domain XML without <name>");
        set = xmlXPathEvalExpression((const xmlChar *) "/domain/devices/hostdev[@mode='subsystem']", ctx);
        if (!set || !set->nodesetval)
                return 0;
        for (int i = 0; i < set->nodesetval->nodeNr; i++) {
                xmlNodePtr node = set->nodesetval->nodeTab[i];
                _cleanup_free_ char *type = xpath_string(ctx, node, "string(@type)");
                struct virt_held e = { 0 }, *a;
                unsigned v, b, d, s, f;

                if (streq_ptr(type, "usb")) {
                        _cleanup_free_ char *ven = xpath_string(ctx, node, "string(source/vendor/@id)");
                        _cleanup_free_ char *pro = xpath_string(ctx, node, "string(source/product/@id)");
                        _cleanup_free_ char *bus = xpath_string(ctx, node, "string(source/address/@bus)");
                        _cleanup_free_ char *dev = xpath_string(ctx, node, "string(source/address/@device)");
                        e.type = HOSTDEV_TYPE_USB;
                        if (parse_num(ven, 0, 0xffff, &v) >= 0 && parse_num(pro, 0, 0xffff, &d) >= 0) {
                                e.has_ids = true;
                                e.vendor = (uint16_t) v;
                                e.product = (uint16_t) d;
                        }
                        if (parse_num(bus, 10, 0xffff, &b) >= 0 && parse_num(dev, 10, 127, &d) >= 0) {
                                e.has_address = true;
                                e.bus = b;
                                e.devnum = d;
                        }
                } else if (streq_ptr(type, "pci")) {
                        _cleanup_free_ char *dom = xpath_string(ctx, node, "string(source/address/@domain)");
                        _cleanup_free_ char *bus = xpath_string(ctx, node, "string(source/address/@bus)");
                        _cleanup_free_ char *slot = xpath_string(ctx, node, "string(source/address/@slot)");
                        _cleanup_free_ char *fn = xpath_string(ctx, node, "string(source/address/@function)");
                        e.type = HOSTDEV_TYPE_PCI;
                        if (parse_num(dom ? dom : "0", 0, 0xffff, &v) < 0 || parse_num(bus, 0, 0xff, &b) < 0 ||
                            parse_num(slot, 0, 0x1f, &s) < 0 || parse_num(fn, 0, 7, &f) < 0)
                                continue; /* not a host address we can name */
                        e.has_address = true;
                        e.pci = (struct pci_addr){ .domain = v, .bus = (uint8_t) b, .slot = (uint8_t) s,
                                                   .function = (uint8_t) f };
                } else
                        continue;
                e.alias = xpath_string(ctx, node, "string(alias/@name)");
                e.domain = strdup(name);
                a = e.domain ? realloc(*h, (*n + 1) * sizeof(**h)) : NULL;
                if (!a) {
                        free(e.domain);
                        free(e.alias);
                        return -ENOMEM;
                }
                *h = a;
                (*h)[(*n)++] = e;
        }
        return 0;
}

/* ---- libvirt calls ------------------------------------------------------------------------ */

static int lookup(struct virt_conn *c, const char *domain, virDomainPtr *ret, char **reterr) {
        virDomainPtr d = virDomainLookupByName(c->conn, domain);
        if (!d)
                return virt_err(reterr, -ENOENT, "libvirt domain %s on %s", domain, c->uri);
        *ret = d;
        return 0;
}

static void domain_freep(virDomainPtr *d) {
        if (*d)
                virDomainFree(*d);
}
#define _cleanup_domain_ _cleanup_(domain_freep)

int virt_domain_xml(struct virt_conn *c, const char *domain, bool *ret_active, char **ret, char **reterr) {
        _cleanup_domain_ virDomainPtr d = NULL;
        char *xml;
        int r, active;

        r = lookup(c, domain, &d, reterr);
        if (r < 0)
                return r;
        active = virDomainIsActive(d);
        if (active < 0)
                return virt_err(reterr, -EIO, "state of domain %s", domain);
        xml = virDomainGetXMLDesc(d, 0);
        if (!xml)
                return virt_err(reterr, -EIO, "XML of domain %s", domain);
        if (ret_active)
                *ret_active = active > 0;
        *ret = xml;
        return 0;
}

int virt_list_held(struct virt_conn *c, struct virt_held **ret, size_t *ret_n, char **reterr) {
        virDomainPtr *doms = NULL;
        struct virt_held *h = NULL;
        size_t n = 0;
        int nd, r = 0;

        nd = virConnectListAllDomains(c->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (nd < 0)
                return virt_err(reterr, -EIO, "listing the domains of %s", c->uri);
        for (int i = 0; i < nd; i++) {
                char *xml = r >= 0 ? virDomainGetXMLDesc(doms[i], 0) : NULL;
                if (r >= 0 && xml) /* a domain that went away meanwhile is skipped */
                        r = virt_parse_domain_hostdevs(xml, &h, &n, reterr);
                virResetLastError();
                free(xml);
                virDomainFree(doms[i]);
        }
        free(doms);
        if (r < 0) {
                virt_held_free_array(h, n);
                return r;
        }
        *ret = h;
        *ret_n = n;
        return 0;
}

static unsigned vir_flags(unsigned flags) {
        unsigned f = 0;
        if (flags & VIRT_AFFECT_LIVE)
                f |= VIR_DOMAIN_AFFECT_LIVE;
        if (flags & VIRT_AFFECT_CONFIG)
                f |= VIR_DOMAIN_AFFECT_CONFIG;
        return f;
}

int virt_attach_xml(struct virt_conn *c, const char *domain, const char *xml, unsigned flags, char **reterr) {
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lookup(c, domain, &d, reterr);
        if (r < 0)
                return r;
        if (virDomainAttachDeviceFlags(d, xml, vir_flags(flags)) < 0)
                return virt_err(reterr, -EIO, "libvirt refused to attach the device to %s", domain);
        return 0;
}

int virt_detach_xml(struct virt_conn *c, const char *domain, const char *xml, unsigned flags, char **reterr) {
        _cleanup_domain_ virDomainPtr d = NULL;
        int r = lookup(c, domain, &d, reterr);
        if (r < 0)
                return r;
        if (virDomainDetachDeviceFlags(d, xml, vir_flags(flags)) < 0)
                return virt_err(reterr, -EIO, "libvirt refused to detach the device from %s", domain);
        return 0;
}

int virt_metadata_get(struct virt_conn *c, const char *domain, char **ret, char **reterr) {
        _cleanup_domain_ virDomainPtr d = NULL;
        char *m;
        int r = lookup(c, domain, &d, reterr);
        if (r < 0)
                return r;
        m = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, VIRT_METADATA_NS, VIR_DOMAIN_AFFECT_CONFIG);
        if (!m) {
                virErrorPtr e = virGetLastError();
                if (e && e->code == VIR_ERR_NO_DOMAIN_METADATA) {
                        virResetLastError();
                        *ret = NULL;
                        return 0;
                }
                return virt_err(reterr, -EIO, "metadata of domain %s", domain);
        }
        *ret = m;
        return 0;
}

int virt_metadata_set(struct virt_conn *c, const char *domain, const struct hostdev_def *const *defs,
                      size_t n, char **reterr) {
        _cleanup_domain_ virDomainPtr d = NULL;
        _cleanup_(strbuf_donep) struct strbuf sb = STRBUF_INIT;
        _cleanup_free_ char *xml = NULL;
        int r = lookup(c, domain, &d, reterr);
        if (r < 0)
                return r;
        if (n > 0) {
                strbuf_append(&sb, "<devices>\n");
                for (size_t i = 0; i < n; i++)
                        hostdev_def_format(defs[i], 1, &sb);
                strbuf_append(&sb, "</devices>\n");
                xml = strbuf_steal(&sb);
                if (!xml)
                        return -ENOMEM;
        }
        if (virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, xml, xml ? VIRT_METADATA_PREFIX : NULL,
                                 VIRT_METADATA_NS, VIR_DOMAIN_AFFECT_CONFIG) < 0)
                return virt_err(reterr, -EIO, "cannot store the hostdev selectors in the definition of %s", domain);
        return 0;
}

/* The selectors kept in a domain's metadata, parsed (NULL *ret when none). */
static int metadata_file(struct virt_conn *c, const char *domain, struct hostdev_file **ret, char **reterr) {
        _cleanup_free_ char *m = NULL, *name = NULL;
        int r = virt_metadata_get(c, domain, &m, reterr);
        if (r < 0)
                return r;
        if (!m) {
                *ret = NULL;
                return 0;
        }
        name = strdup_printf("metadata of %s", domain);
        if (!name)
                return -ENOMEM;
        return hostdev_file_parse_buffer(m, strlen(m), name, ret, reterr);
}

/* ---- claims and what libvirt holds ---------------------------------------------------------- */

static bool claim_is_imported(const struct claim *c) {
        return !c->selector_xml;
}

static bool held_matches_claim(const struct virt_held *h, const struct claim *c) {
        if (h->type != c->type || !streq_ptr(h->domain, c->domain) || !h->has_address)
                return false;
        if (c->type == HOSTDEV_TYPE_USB)
                return c->usb.bus == h->bus && c->usb.devnum == h->devnum;
        return c->pci.addr.domain == h->pci.domain && c->pci.addr.bus == h->pci.bus &&
               c->pci.addr.slot == h->pci.slot && c->pci.addr.function == h->pci.function;
}

static int claim_from_held(const struct virt_held *h, const struct nodedev *dev, struct claim **ret) {
        _cleanup_(claim_freep) struct claim *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->type = h->type;
        c->state = CLAIM_STATE_ATTACHED;
        c->pci.iommu_group = -1;
        if (!(c->node = strdup(dev->name)) || (h->alias && !(c->qemu_id = strdup(h->alias))))
                return -ENOMEM;
        if (h->type == HOSTDEV_TYPE_USB) {
                _cleanup_free_ char *port = usb_port_sysfs_name(dev);
                if (!port)
                        return -EINVAL; /* a root hub: not something libvirt passes */
                c->key = strdup_printf("usb:port:%s", port);
                c->usb.vendor = dev->u.usb.vendor_id;
                c->usb.product = dev->u.usb.product_id;
                c->usb.select = USB_SELECT_BUS_DEVICE;
                c->usb.bus = h->bus;
                c->usb.devnum = h->devnum;
                c->usb.port = TAKE_PTR(port);
                if (dev->u.usb.serial && !(c->usb.serial = strdup(dev->u.usb.serial)))
                        return -ENOMEM;
        } else {
                c->pci.addr = h->pci;
                c->pci.iommu_group = dev->u.pci.iommu_group;
                c->key = strdup_printf("pci:%04x:%02x:%02x.%x", (unsigned) h->pci.domain, h->pci.bus, h->pci.slot,
                                       h->pci.function);
        }
        if (!c->key)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

static int ensure_domain_record(struct registry *reg, const char *domain, const char *uri, char **reterr) {
        const struct domain_record *old = registry_domain_find(reg, domain);
        struct domain_record rec = { .name = (char *) domain, .uri = (char *) uri };
        if (old && streq_ptr(old->uri, uri))
                return 0;
        return registry_domain_set(reg, &rec, reterr);
}

static int sync_held_locked(struct virt_conn *c, struct registry *reg, const struct inventory *inv,
                            const struct virt_held *h, size_t nh, virt_log_func log, void *ud, char **reterr) {
        _cleanup_strv_free_ char **drop = NULL, **drop_dom = NULL;
        int r;

        /* imported claims libvirt no longer holds */
        for (size_t i = 0; i < registry_n_claims(reg); i++) {
                const struct claim *cl = registry_claim_at(reg, i);
                bool still = false;
                if (!claim_is_imported(cl) || !registry_domain_has_uri(reg, cl->domain, c->uri))
                        continue;
                for (size_t k = 0; k < nh && !still; k++)
                        still = held_matches_claim(&h[k], cl);
                if (!still && (strv_extend(&drop, cl->key) < 0 || strv_extend(&drop_dom, cl->domain) < 0))
                        return -ENOMEM;
        }
        for (size_t i = 0; drop && drop[i]; i++) {
                _cleanup_(claim_freep) struct claim *gone = NULL;
                if (registry_release_claim(reg, drop_dom[i], drop[i], &gone, NULL) >= 0) {
                        _cleanup_free_ char *desc = claim_describe(gone);
                        vlog(log, ud, WATCH_LOG_INFO, "libvirt no longer gives %s to %s", strna(desc), drop_dom[i]);
                }
        }

        /* devices libvirt gave on its own */
        for (size_t k = 0; k < nh; k++) {
                _cleanup_(claim_freep) struct claim *cl = NULL;
                _cleanup_free_ char *err = NULL;
                const struct nodedev *dev;
                const struct claim *holder;

                if (!h[k].has_address)
                        continue;
                dev = h[k].type == HOSTDEV_TYPE_USB ? inventory_find_usb(inv, h[k].bus, h[k].devnum)
                                                    : inventory_find_pci(inv, &h[k].pci);
                if (!dev)
                        continue; /* gone from the host (a stale entry), or not scanned */
                if (h[k].type == HOSTDEV_TYPE_USB && h[k].has_ids &&
                    (dev->u.usb.vendor_id != h[k].vendor || dev->u.usb.product_id != h[k].product))
                        continue; /* the number was reused by another device */
                holder = registry_claim_for_device(reg, dev);
                if (holder) {
                        if (!streq(holder->domain, h[k].domain))
                                vlog(log, ud, WATCH_LOG_WARNING,
                                     "libvirt gives %s to domain %s, but hostdev's claim for it is domain %s's",
                                     dev->name, h[k].domain, holder->domain);
                        continue;
                }
                r = claim_from_held(&h[k], dev, &cl);
                if (r == -EINVAL)
                        continue;
                if (r < 0)
                        return r;
                r = ensure_domain_record(reg, h[k].domain, c->uri, reterr);
                if (r < 0)
                        return r;
                r = registry_claim(reg, h[k].domain, cl, inv, &err);
                if (r < 0) {
                        vlog(log, ud, WATCH_LOG_WARNING, "libvirt gives %s to domain %s: %s", dev->name,
                             h[k].domain, err ? err : strerror(-r));
                        continue;
                }
                vlog(log, ud, WATCH_LOG_DEBUG, "libvirt gives %s to domain %s: recorded as its claim", dev->name,
                     h[k].domain);
        }
        return 0;
}

int virt_sync_held(struct virt_conn *c, struct registry *reg, const struct inventory *inv, virt_log_func log,
                   void *userdata, char **reterr) {
        struct virt_held *h = NULL;
        size_t nh = 0;
        bool lock_here = !registry_is_locked(reg);
        int r;

        r = virt_list_held(c, &h, &nh, reterr);
        if (r < 0)
                return r;
        if (lock_here) {
                r = registry_lock(reg, reterr);
                if (r < 0)
                        goto out;
        }
        r = sync_held_locked(c, reg, inv, h, nh, log, userdata, reterr);
        if (lock_here) {
                if (r >= 0)
                        r = registry_save(reg, reterr);
                registry_unlock(reg);
                if (r < 0)
                        (void) registry_reload(reg, NULL);
        }
out:
        virt_held_free_array(h, nh);
        return r;
}

/* ---- attach / detach -------------------------------------------------------------------------- */

static const struct virt_held *held_usb_at(const struct virt_held *h, size_t n, unsigned bus, unsigned devnum) {
        for (size_t i = 0; i < n; i++)
                if (h[i].type == HOSTDEV_TYPE_USB && h[i].has_address && h[i].bus == bus && h[i].devnum == devnum)
                        return &h[i];
        return NULL;
}

static const struct virt_held *held_pci_at(const struct virt_held *h, size_t n, const struct pci_addr *a) {
        for (size_t i = 0; i < n; i++)
                if (h[i].type == HOSTDEV_TYPE_PCI && h[i].pci.domain == a->domain && h[i].pci.bus == a->bus &&
                    h[i].pci.slot == a->slot && h[i].pci.function == a->function)
                        return &h[i];
        return NULL;
}

static int live_held(struct virt_conn *c, const char *domain, bool *ret_active, struct virt_held **h, size_t *n,
                     char **reterr) {
        _cleanup_free_ char *xml = NULL;
        int r = virt_domain_xml(c, domain, ret_active, &xml, reterr);
        if (r < 0)
                return r;
        return virt_parse_domain_hostdevs(xml, h, n, reterr);
}

static char *claim_device_xml(const struct claim *cl) {
        if (cl->type == HOSTDEV_TYPE_USB)
                return virt_usb_hostdev_xml(cl->usb.vendor, cl->usb.product, cl->usb.bus, cl->usb.devnum);
        return virt_pci_hostdev_xml(&cl->pci.addr, cl->pci.managed);
}

static bool def_supported(const struct hostdev_def *def) {
        return (def->type == HOSTDEV_TYPE_USB && !def->source.usb.remote_host) || def->type == HOSTDEV_TYPE_PCI;
}

/* The inventory a file needs: USB only (fast) unless it has other devices. */
static int scan_for(const struct hostdev_file *f, struct inventory **ret, char **reterr) {
        for (size_t i = 0; i < f->n_defs; i++)
                if (f->defs[i]->type != HOSTDEV_TYPE_USB)
                        return inventory_scan(ret, reterr);
        return inventory_scan_usb(ret, reterr);
}

/* Merge (add) or remove defs in the domain's metadata selectors. */
static int metadata_update(struct virt_conn *c, const char *domain, const struct hostdev_file *f, bool add,
                           char **reterr) {
        _cleanup_(hostdev_file_freep) struct hostdev_file *old = NULL;
        _cleanup_free_ const struct hostdev_def **defs = NULL;
        size_t n = 0;
        int r;

        r = metadata_file(c, domain, &old, reterr);
        if (r < 0)
                return r;
        defs = calloc((old ? old->n_defs : 0) + f->n_defs + 1, sizeof(*defs));
        if (!defs)
                return -ENOMEM;
        for (size_t i = 0; old && i < old->n_defs; i++) {
                _cleanup_free_ char *s = NULL;
                bool listed = false;
                if (hostdev_def_format_source(old->defs[i], &s) < 0)
                        return -ENOMEM;
                for (size_t k = 0; k < f->n_defs && !listed; k++) {
                        _cleanup_free_ char *t = NULL;
                        if (hostdev_def_format_source(f->defs[k], &t) < 0)
                                return -ENOMEM;
                        listed = old->defs[i]->type == f->defs[k]->type && streq(s, t);
                }
                if (add || !listed)
                        defs[n++] = old->defs[i]; /* adding keeps an existing selector where it is */
        }
        for (size_t k = 0; add && k < f->n_defs; k++) {
                _cleanup_free_ char *t = NULL;
                bool listed = false;
                if (hostdev_def_format_source(f->defs[k], &t) < 0)
                        return -ENOMEM;
                for (size_t i = 0; old && i < old->n_defs && !listed; i++) {
                        _cleanup_free_ char *s = NULL;
                        if (hostdev_def_format_source(old->defs[i], &s) < 0)
                                return -ENOMEM;
                        listed = old->defs[i]->type == f->defs[k]->type && streq(s, t);
                }
                if (!listed)
                        defs[n++] = f->defs[k];
        }
        return virt_metadata_set(c, domain, (const struct hostdev_def *const *) defs, n, reterr);
}

int virt_attach_file(struct virt_conn *c, const struct hostdev_file *f, const char *domain, unsigned flags,
                     virt_log_func log, void *ud, char **reterr) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_strv_free_ char **pre = NULL, **keys = NULL;
        struct virt_held *h = NULL;
        struct resolve_result *rs = NULL;
        size_t nh = 0, nrs = 0;
        bool active = false;
        bool *done = NULL;
        int r;

        for (size_t i = 0; i < f->n_defs; i++)
                if (!def_supported(f->defs[i]))
                        return error_set(reterr, -EOPNOTSUPP,
                                         "%s:%u: with --connect only local USB and PCI host devices are passed to libvirt",
                                         f->path, f->defs[i]->line);
        r = live_held(c, domain, &active, &h, &nh, reterr);
        if (r < 0)
                goto out;
        if (!active && !(flags & VIRT_AFFECT_CONFIG)) {
                r = error_set(reterr, -ESRCH, "libvirt domain %s is not running (--config alone records the "
                              "selectors for its next start)", domain);
                goto out;
        }
        if (!active)
                goto config; /* only the persistent selectors: watch claims them when it starts */

        r = registry_open(&reg, reterr);
        if (r < 0)
                goto out;
        r = scan_for(f, &inv, reterr);
        if (r < 0)
                goto out;
        /* what libvirt already gave away is in use */
        r = virt_sync_held(c, reg, inv, log, ud, reterr);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < registry_n_claims(reg); i++) {
                const struct claim *cl = registry_claim_at(reg, i);
                if (streq(cl->domain, domain) && strv_extend(&pre, cl->key) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        {
                struct domain_record rec = { .name = (char *) domain, .uri = c->uri };
                r = resolve_and_claim(reg, inv, f, domain, &rec, &rs, &nrs, reterr);
                if (r < 0)
                        goto out;
        }
        done = calloc(nrs + 1, sizeof(bool));
        keys = calloc(nrs + 1, sizeof(char *));
        if (!done || !keys) {
                r = -ENOMEM;
                goto rollback;
        }
        for (size_t i = 0; i < nrs; i++) {
                const struct nodedev *dev = rs[i].device;
                const struct hostdev_def *def = f->defs[rs[i].index];
                _cleanup_free_ char *xml = NULL;

                if (!dev)
                        continue; /* optional and missing */
                keys[i] = claim_key_for(def, dev);
                if (!keys[i]) {
                        r = -ENOMEM;
                        goto rollback;
                }
                if (def->type == HOSTDEV_TYPE_USB ? held_usb_at(h, nh, dev->u.usb.bus, dev->u.usb.devnum) != NULL
                                                  : held_pci_at(h, nh, &def->source.pci.addr) != NULL) {
                        vlog(log, ud, WATCH_LOG_INFO, "%s is already attached to %s", dev->name, domain);
                        continue;
                }
                xml = def->type == HOSTDEV_TYPE_USB
                              ? virt_usb_hostdev_xml(dev->u.usb.vendor_id, dev->u.usb.product_id, dev->u.usb.bus,
                                                     dev->u.usb.devnum)
                              : virt_pci_hostdev_xml(&def->source.pci.addr, def->managed != TRISTATE_NO);
                if (!xml) {
                        r = -ENOMEM;
                        goto rollback;
                }
                r = virt_attach_xml(c, domain, xml, VIRT_AFFECT_LIVE, reterr);
                if (r < 0) {
                        struct virt_held *h2 = NULL;
                        size_t n2 = 0;
                        bool there = false;
                        /* a watch daemon may have handed it over meanwhile: then it is done */
                        if (def->type == HOSTDEV_TYPE_USB && live_held(c, domain, NULL, &h2, &n2, NULL) >= 0)
                                there = held_usb_at(h2, n2, dev->u.usb.bus, dev->u.usb.devnum) != NULL;
                        virt_held_free_array(h2, n2);
                        if (!there) {
                                r = error_prefix(reterr, r, "%s:%u: %s", f->path, def->line, dev->name);
                                goto rollback;
                        }
                        if (reterr) {
                                free(*reterr);
                                *reterr = NULL;
                        }
                }
                done[i] = true;
        }

        /* record: location, libvirt's alias, attached */
        virt_held_free_array(h, nh);
        h = NULL;
        nh = 0;
        (void) live_held(c, domain, NULL, &h, &nh, NULL);
        r = registry_lock(reg, reterr);
        if (r < 0)
                goto rollback;
        for (size_t i = 0; i < nrs; i++) {
                const struct nodedev *dev = rs[i].device;
                const struct virt_held *e;
                const struct claim *cl;
                _cleanup_free_ char *desc = NULL;

                if (!dev || !keys[i] || !(cl = registry_find_by_key(reg, keys[i])))
                        continue;
                e = cl->type == HOSTDEV_TYPE_USB ? held_usb_at(h, nh, dev->u.usb.bus, dev->u.usb.devnum)
                                                 : held_pci_at(h, nh, &cl->pci.addr);
                if (cl->type == HOSTDEV_TYPE_USB)
                        r = registry_set_location(reg, keys[i], dev->name, dev->u.usb.bus, dev->u.usb.devnum,
                                                  e ? e->alias : NULL, reterr);
                if (r >= 0)
                        r = registry_set_state(reg, keys[i], CLAIM_STATE_ATTACHED, reterr);
                if (r < 0)
                        break;
                desc = claim_describe(registry_find_by_key(reg, keys[i]));
                if (done[i])
                        vlog(log, ud, WATCH_LOG_INFO, "attached %s to %s%s%s", strna(desc), domain,
                             e && e->alias ? " as " : "", e && e->alias ? e->alias : "");
        }
        if (r >= 0)
                r = registry_save(reg, reterr);
        registry_unlock(reg);
        if (r < 0)
                goto rollback;

config:
        if (flags & VIRT_AFFECT_CONFIG) {
                r = metadata_update(c, domain, f, true, reterr);
                if (r < 0)
                        goto out; /* the live devices stay: they are attached and claimed */
                vlog(log, ud, WATCH_LOG_INFO, "stored the selectors of %s in the persistent definition of %s "
                     "(metadata %s)", f->path, domain, VIRT_METADATA_NS);
        }
        r = 0;
        goto out;

rollback:
        for (size_t i = nrs; i > 0; i--) {
                _cleanup_free_ char *xml = NULL;
                const struct nodedev *dev = rs[i - 1].device;
                const struct hostdev_def *def = f->defs[rs[i - 1].index];
                if (!done || !done[i - 1] || !dev)
                        continue;
                xml = def->type == HOSTDEV_TYPE_USB
                              ? virt_usb_hostdev_xml(dev->u.usb.vendor_id, dev->u.usb.product_id, dev->u.usb.bus,
                                                     dev->u.usb.devnum)
                              : virt_pci_hostdev_xml(&def->source.pci.addr, def->managed != TRISTATE_NO);
                if (xml)
                        (void) virt_detach_xml(c, domain, xml, VIRT_AFFECT_LIVE, NULL);
        }
        for (size_t i = 0; keys && i < nrs; i++)
                if (keys[i] && !strv_contains(pre, keys[i]))
                        (void) registry_release_claim(reg, domain, keys[i], NULL, NULL);
out:
        resolve_results_free(rs, nrs);
        virt_held_free_array(h, nh);
        free(done);
        return r;
}

/* The claim of domain a def names: by the key of the device it resolves to, else by selector. */
static const struct claim *find_domain_claim(const struct registry *reg, const struct inventory *inv,
                                             const struct hostdev_def *def, const char *domain) {
        struct resolve_result res = { 0 };
        _cleanup_free_ char *key = NULL, *sel = NULL;
        const struct claim *c;

        if (resolve_def(inv, reg, def, domain, &res) >= 0 && res.status == RESOLVE_OK && res.device)
                key = claim_key_for(def, res.device);
        resolve_result_done(&res);
        if (key && (c = registry_find_by_key(reg, key)) && streq_ptr(c->domain, domain))
                return c;
        if (hostdev_def_format_source(def, &sel) < 0)
                return NULL;
        for (size_t i = 0; i < registry_n_claims(reg); i++) {
                c = registry_claim_at(reg, i);
                if (streq_ptr(c->domain, domain) && c->type == def->type && streq_ptr(c->selector_xml, sel))
                        return c;
        }
        return NULL;
}

/* Detach one claim's device from the live domain when libvirt holds it there. */
static int detach_claim_live(struct virt_conn *c, const struct claim *cl, const struct virt_held *h, size_t nh,
                             char **reterr) {
        _cleanup_free_ char *xml = NULL;
        const struct virt_held *e = NULL;

        if (cl->type == HOSTDEV_TYPE_USB) {
                if (cl->usb.bus && cl->usb.devnum)
                        e = held_usb_at(h, nh, cl->usb.bus, cl->usb.devnum);
                if (e) {
                        xml = virt_usb_hostdev_xml(e->has_ids ? e->vendor : cl->usb.vendor,
                                                   e->has_ids ? e->product : cl->usb.product, e->bus, e->devnum);
                }
        } else if (cl->type == HOSTDEV_TYPE_PCI && (e = held_pci_at(h, nh, &cl->pci.addr)))
                xml = claim_device_xml(cl);
        if (!e)
                return 0; /* not in the domain */
        if (!xml)
                return -ENOMEM;
        return virt_detach_xml(c, cl->domain, xml, VIRT_AFFECT_LIVE, reterr) < 0 ? -EIO : 1;
}

int virt_detach_file(struct virt_conn *c, const struct hostdev_file *f, const char *domain, unsigned flags,
                     virt_log_func log, void *ud, char **reterr) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_strv_free_ char **keys = NULL;
        struct virt_held *h = NULL;
        size_t nh = 0;
        bool active = false;
        int r;

        r = live_held(c, domain, &active, &h, &nh, reterr);
        if (r < 0)
                goto out;
        r = registry_open(&reg, reterr);
        if (r < 0)
                goto out;
        r = scan_for(f, &inv, reterr);
        if (r < 0)
                goto out;
        r = registry_lock(reg, reterr);
        if (r < 0)
                goto out;
        for (size_t i = 0; i < f->n_defs; i++) {
                const struct claim *cl = find_domain_claim(reg, inv, f->defs[i], domain);
                if (!cl) {
                        _cleanup_free_ char *sel = NULL;
                        if (flags & VIRT_AFFECT_CONFIG)
                                continue; /* maybe only in the persistent selectors */
                        (void) hostdev_def_format_source(f->defs[i], &sel);
                        r = error_set(reterr, -ENOENT, "%s:%u: domain %s holds no device selected by %s", f->path,
                                      f->defs[i]->line, domain, strna(sel));
                        goto unlock;
                }
                r = strv_extend(&keys, cl->key);
                if (r < 0)
                        goto unlock;
        }
        for (char **k = keys; k && *k; k++) {
                _cleanup_(claim_freep) struct claim *gone = NULL;
                _cleanup_free_ char *desc = NULL, *err = NULL;
                const struct claim *cl = registry_find_by_key(reg, *k);
                if (!cl)
                        continue;
                if (active) {
                        r = detach_claim_live(c, cl, h, nh, &err);
                        if (r < 0) {
                                r = error_set(reterr, r, "%s", strna(err));
                                goto unlock; /* still in the guest: the claim stays */
                        }
                }
                r = registry_release_claim(reg, domain, *k, &gone, reterr);
                if (r < 0)
                        goto unlock;
                desc = claim_describe(gone);
                vlog(log, ud, WATCH_LOG_INFO, "detached %s from %s", strna(desc), domain);
                r = registry_save(reg, reterr);
                if (r < 0)
                        goto unlock;
        }
        r = 0;
unlock:
        registry_unlock(reg);
        if (r >= 0 && (flags & VIRT_AFFECT_CONFIG))
                r = metadata_update(c, domain, f, false, reterr);
out:
        virt_held_free_array(h, nh);
        return r;
}

int virt_detach_domain_claims(struct virt_conn *c, const char *domain, virt_log_func log, void *ud,
                              char **reterr) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        struct virt_held *h = NULL;
        size_t nh = 0;
        bool active = false;
        int r, ret = 0;

        r = live_held(c, domain, &active, &h, &nh, reterr);
        if (r == -ENOENT)
                return 0; /* no such libvirt domain: nothing of it to detach */
        if (r < 0)
                return r;
        r = registry_open(&reg, reterr);
        if (r < 0)
                goto out;
        for (size_t i = 0; active && i < registry_n_claims(reg); i++) {
                const struct claim *cl = registry_claim_at(reg, i);
                _cleanup_free_ char *err = NULL, *desc = NULL;
                if (!streq(cl->domain, domain))
                        continue;
                desc = claim_describe(cl);
                r = detach_claim_live(c, cl, h, nh, &err);
                if (r < 0) {
                        vlog(log, ud, WATCH_LOG_ERROR, "%s", strna(err));
                        ret = error_set(reterr, r, "%s", strna(err));
                } else if (r > 0)
                        vlog(log, ud, WATCH_LOG_INFO, "detached %s from libvirt domain %s", strna(desc), domain);
        }
        r = ret;
out:
        virt_held_free_array(h, nh);
        return r;
}

/* ---- watch ------------------------------------------------------------------------------------- */

struct vwatch {
        const struct virt_watch_options *o;
        struct virt_conn *c;
        struct uevent_monitor *mon;
        struct registry *reg;
        int sigfd;
        int timer;
        bool stop;
        bool reconnect;
        char **check_metadata; /* domains whose metadata selectors are to be claimed */
        char **attach_failed;  /* "key bus:devnum" whose attach failure was already reported */
        char **started;        /* domains seen starting (or with selectors from metadata): their
                                * "claimed" claims are ours to attach; others may be in the middle
                                * of an attach-device --connect */
};

#define W_LOG(w, level, ...) vlog((w)->o->log, (w)->o->userdata, level, __VA_ARGS__)

static bool in_scope(struct vwatch *w, const char *domain) {
        return !w->o->domain || streq(w->o->domain, domain);
}

static void claim_metadata(struct vwatch *w, const struct inventory *inv) {
        char **list = TAKE_PTR(w->check_metadata);

        for (char **d = list; d && *d; d++) {
                _cleanup_(hostdev_file_freep) struct hostdev_file *f = NULL;
                _cleanup_free_ char *err = NULL;
                struct domain_record rec = { .name = *d, .uri = w->c->uri };
                bool active = false;
                char *xml = NULL;
                int r;

                if (virt_domain_xml(w->c, *d, &active, &xml, NULL) < 0 || !active) {
                        free(xml);
                        continue;
                }
                free(xml);
                r = metadata_file(w->c, *d, &f, &err);
                if (r < 0) {
                        W_LOG(w, WATCH_LOG_WARNING, "%s: cannot read its hostdev selectors: %s", *d, strna(err));
                        continue;
                }
                if (!f || f->n_defs == 0)
                        continue;
                if (!strv_contains(w->started, *d))
                        (void) strv_extend(&w->started, *d); /* what it claims now is ours to attach */
                r = resolve_and_claim(w->reg, inv, f, *d, &rec, NULL, NULL, &err);
                if (r < 0)
                        W_LOG(w, WATCH_LOG_ERROR, "%s: its devices (persistent selectors) cannot be claimed: %s", *d,
                              strna(err));
                else if (r > 0)
                        W_LOG(w, WATCH_LOG_DEBUG, "%s: claimed %d device(s) of its persistent selectors", *d, r);
        }
        strv_free(list);
}

/* The host device a claim's identity selects now (NULL: unplugged or ambiguous). */
static const struct nodedev *device_for_claim(struct vwatch *w, const struct inventory *inv, const struct claim *cl) {
        const struct nodedev *found = NULL;
        unsigned n = 0;

        for (size_t i = 0; i < inv->n_devs; i++) {
                const struct nodedev *d = inv->devs[i];
                const struct claim *holder;
                if (d->cap != NODEDEV_CAP_USB_DEVICE || d->u.usb.is_hub || d->u.usb.usbip_exported)
                        continue;
                if (!usb_identity_matches(&cl->usb, d))
                        continue;
                holder = registry_claim_for_device(w->reg, d);
                if (holder && !streq(holder->key, cl->key))
                        continue;
                if (d->u.usb.bus == cl->usb.bus && d->u.usb.devnum == cl->usb.devnum)
                        return d;
                found = d;
                n++;
        }
        if (n > 1) {
                W_LOG(w, WATCH_LOG_WARNING, "%s of %s: %u devices match its identity; leaving it alone", cl->key,
                      cl->domain, n);
                return NULL;
        }
        return found;
}

static void reconcile_domain(struct vwatch *w, const struct inventory *inv, const char *domain) {
        _cleanup_strv_free_ char **keys = NULL;
        struct virt_held *h = NULL;
        size_t nh = 0;
        bool active = false;
        int r;

        for (size_t i = 0; i < registry_n_claims(w->reg); i++) {
                const struct claim *cl = registry_claim_at(w->reg, i);
                if (streq(cl->domain, domain) && cl->type == HOSTDEV_TYPE_USB && !claim_is_imported(cl) &&
                    cl->state != CLAIM_STATE_RELEASING && strv_extend(&keys, cl->key) < 0)
                        return;
        }
        if (!keys)
                return;
        r = live_held(w->c, domain, &active, &h, &nh, NULL);
        if (r < 0 && r != -ENOENT) {
                virt_held_free_array(h, nh);
                return; /* libvirt trouble: try again at the next reconcile */
        }
        for (char **k = keys; *k; k++) {
                const struct claim *cl = registry_find_by_key(w->reg, *k);
                _cleanup_free_ char *desc = NULL, *err = NULL, *xml = NULL, *tag = NULL;
                const struct nodedev *dev;
                bool stale_left = false;

                if (!cl)
                        continue;
                desc = claim_describe(cl);
                if (!active) {
                        if (cl->state != CLAIM_STATE_CLAIMED) {
                                (void) registry_set_state(w->reg, *k, CLAIM_STATE_CLAIMED, NULL);
                                W_LOG(w, WATCH_LOG_INFO, "%s is not running: %s stays reserved for it (claimed)",
                                      domain, strna(desc));
                        }
                        continue;
                }
                if (cl->state == CLAIM_STATE_CLAIMED && !strv_contains(w->started, domain))
                        continue; /* attach-device --connect is handing it over right now */
                dev = device_for_claim(w, inv, cl);
                /* stale entries: the claim's old bus/device (or its alias) no longer this device */
                for (size_t i = 0; i < nh; i++) {
                        const struct virt_held *e = &h[i];
                        bool old_place = e->type == HOSTDEV_TYPE_USB && e->has_address &&
                                         ((cl->usb.bus && e->bus == cl->usb.bus && e->devnum == cl->usb.devnum) ||
                                          (cl->qemu_id && streq_ptr(e->alias, cl->qemu_id)));
                        _cleanup_free_ char *sx = NULL, *serr = NULL;
                        if (!old_place || (dev && dev->u.usb.bus == e->bus && dev->u.usb.devnum == e->devnum))
                                continue;
                        if (inventory_find_usb(inv, e->bus, e->devnum) && !(cl->usb.bus == e->bus &&
                                                                             cl->usb.devnum == e->devnum))
                                continue; /* that number is another live device now: not ours to remove */
                        sx = virt_usb_hostdev_xml(e->has_ids ? e->vendor : cl->usb.vendor,
                                                  e->has_ids ? e->product : cl->usb.product, e->bus, e->devnum);
                        if (!sx)
                                continue;
                        if (virt_detach_xml(w->c, domain, sx, VIRT_AFFECT_LIVE, &serr) < 0) {
                                W_LOG(w, WATCH_LOG_WARNING, "cannot remove the stale %03u:%03u of %s from %s: %s",
                                      e->bus, e->devnum, strna(desc), domain, strna(serr));
                                stale_left = true;
                        } else
                                W_LOG(w, WATCH_LOG_INFO, "removed the stale %03u:%03u (%s) from %s", e->bus,
                                      e->devnum, strna(desc), domain);
                }
                if (!dev) {
                        if (!stale_left && cl->state != CLAIM_STATE_UNPLUGGED) {
                                (void) registry_set_location(w->reg, *k, NULL, 0, 0, NULL, NULL);
                                (void) registry_set_state(w->reg, *k, CLAIM_STATE_UNPLUGGED, NULL);
                                W_LOG(w, WATCH_LOG_INFO, "%s of %s is unplugged; it goes back to %s when it returns",
                                      strna(desc), domain, domain);
                        }
                        continue;
                }
                if (held_usb_at(h, nh, dev->u.usb.bus, dev->u.usb.devnum)) {
                        const struct virt_held *e = held_usb_at(h, nh, dev->u.usb.bus, dev->u.usb.devnum);
                        if (cl->state != CLAIM_STATE_ATTACHED || cl->usb.bus != dev->u.usb.bus ||
                            cl->usb.devnum != dev->u.usb.devnum) {
                                (void) registry_set_location(w->reg, *k, dev->name, dev->u.usb.bus, dev->u.usb.devnum,
                                                             e->alias, NULL);
                                (void) registry_set_state(w->reg, *k, CLAIM_STATE_ATTACHED, NULL);
                        }
                        continue;
                }
                xml = virt_usb_hostdev_xml(dev->u.usb.vendor_id, dev->u.usb.product_id, dev->u.usb.bus,
                                           dev->u.usb.devnum);
                tag = strdup_printf("%s %u:%u", *k, dev->u.usb.bus, dev->u.usb.devnum);
                if (!xml || !tag)
                        continue;
                uint64_t t0 = now_usec();
                if (virt_attach_xml(w->c, domain, xml, VIRT_AFFECT_LIVE, &err) < 0) {
                        if (!strv_contains(w->attach_failed, tag)) {
                                W_LOG(w, WATCH_LOG_ERROR, "cannot attach %s to %s: %s", dev->name, domain, strna(err));
                                (void) strv_extend(&w->attach_failed, tag);
                        }
                        continue;
                }
                {
                        struct virt_held *h2 = NULL;
                        size_t n2 = 0;
                        const struct virt_held *e;
                        unsigned ob = cl->usb.bus, od = cl->usb.devnum;
                        bool was = cl->state == CLAIM_STATE_UNPLUGGED || ob;
                        (void) live_held(w->c, domain, NULL, &h2, &n2, NULL);
                        e = held_usb_at(h2, n2, dev->u.usb.bus, dev->u.usb.devnum);
                        (void) registry_set_location(w->reg, *k, dev->name, dev->u.usb.bus, dev->u.usb.devnum,
                                                     e ? e->alias : NULL, NULL);
                        (void) registry_set_state(w->reg, *k, CLAIM_STATE_ATTACHED, NULL);
                        free(desc);
                        desc = claim_describe(registry_find_by_key(w->reg, *k));
                        W_LOG(w, WATCH_LOG_INFO, "%s %s to %s as %03u:%03u in %.1f ms", was ? "re-attached" : "attached",
                              strna(desc), domain, dev->u.usb.bus, dev->u.usb.devnum, (now_usec() - t0) / 1000.0);
                        (void) ob;
                        (void) od;
                        virt_held_free_array(h2, n2);
                }
        }
        virt_held_free_array(h, nh);
}

static void reconcile(struct vwatch *w) {
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_strv_free_ char **domains = NULL;
        _cleanup_free_ char *err = NULL;
        int r;

        r = inventory_scan_usb(&inv, &err);
        if (r < 0) {
                W_LOG(w, WATCH_LOG_WARNING, "cannot scan USB devices: %s", strna(err));
                return;
        }
        if (w->check_metadata)
                claim_metadata(w, inv);
        r = registry_lock(w->reg, &err);
        if (r < 0) {
                W_LOG(w, WATCH_LOG_WARNING, "cannot lock the registry: %s", strna(err));
                return;
        }
        for (size_t i = 0; i < registry_n_claims(w->reg); i++) {
                const struct claim *cl = registry_claim_at(w->reg, i);
                if (cl->type == HOSTDEV_TYPE_USB && !claim_is_imported(cl) && in_scope(w, cl->domain) &&
                    registry_domain_has_uri(w->reg, cl->domain, w->c->uri) && !strv_contains(domains, cl->domain) &&
                    strv_extend(&domains, cl->domain) < 0)
                        break;
        }
        for (char **d = domains; d && *d; d++)
                reconcile_domain(w, inv, *d);
        {
                struct virt_held *h = NULL;
                size_t nh = 0;
                _cleanup_free_ char *serr = NULL;
                if (virt_list_held(w->c, &h, &nh, &serr) >= 0)
                        (void) sync_held_locked(w->c, w->reg, inv, h, nh, w->o->log, w->o->userdata, &serr);
                virt_held_free_array(h, nh);
        }
        r = registry_save(w->reg, &err);
        if (r < 0)
                W_LOG(w, WATCH_LOG_WARNING, "cannot write the registry: %s", strna(err));
        registry_unlock(w->reg);
}

static void on_timer(int timer, void *opaque) {
        struct vwatch *w = opaque;
        reconcile(w);
        virEventUpdateTimeout(timer, (int) (w->o->reconcile_ms ? w->o->reconcile_ms : 5000));
}

static void soon(struct vwatch *w) {
        virEventUpdateTimeout(w->timer, 0);
}

static void on_uevent(int watch, int fd, int events, void *opaque) {
        struct vwatch *w = opaque;
        bool any = false;
        (void) watch;
        (void) fd;
        (void) events;
        for (;;) {
                _cleanup_(usb_uevent_freep) struct usb_uevent *ev = NULL;
                int r = uevent_monitor_receive(w->mon, &ev);
                if (r <= 0)
                        break;
                if (!usb_uevent_is_usb_device(ev))
                        continue;
                W_LOG(w, WATCH_LOG_DEBUG, "uevent %s %s (%03u:%03u)", uevent_action_to_string(ev->action),
                      strna(ev->sysname), ev->bus, ev->devnum);
                any = true;
        }
        if (any)
                soon(w);
}

static void on_signal(int watch, int fd, int events, void *opaque) {
        struct vwatch *w = opaque;
        struct signalfd_siginfo si;
        (void) watch;
        (void) events;
        if (read(fd, &si, sizeof(si)) > 0)
                w->stop = true;
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        struct vwatch *w = opaque;
        const char *name = virDomainGetName(dom);
        (void) conn;
        (void) detail;
        if (!name || !in_scope(w, name))
                return 0;
        if (event == VIR_DOMAIN_EVENT_STARTED) {
                W_LOG(w, WATCH_LOG_INFO, "libvirt domain %s started", name);
                if (!strv_contains(w->started, name))
                        (void) strv_extend(&w->started, name);
                if (!strv_contains(w->check_metadata, name))
                        (void) strv_extend(&w->check_metadata, name);
                soon(w);
        } else if (event == VIR_DOMAIN_EVENT_STOPPED) {
                W_LOG(w, WATCH_LOG_INFO, "libvirt domain %s stopped", name);
                soon(w);
        }
        return 0;
}

static void on_close(virConnectPtr conn, int reason, void *opaque) {
        struct vwatch *w = opaque;
        (void) conn;
        W_LOG(w, WATCH_LOG_ERROR, "the connection to libvirt at %s closed (reason %d)", w->o->uri, reason);
        w->stop = true;
        w->reconnect = true;
}

int virt_watch_run(const struct virt_watch_options *o, char **reterr) {
        _cleanup_(virt_closep) struct virt_conn *c = NULL;
        _cleanup_(uevent_monitor_freep) struct uevent_monitor *mon = NULL;
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_close_ int sigfd = -1;
        struct vwatch w = { .o = o, .sigfd = -1, .timer = -1 };
        int hwatch = -1, swatch = -1, cb = -1, r;
        sigset_t mask, old;

        r = virt_dl_load(reterr);
        if (r < 0)
                return r;
        if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
                return virt_err(reterr, -EIO, "cannot start libvirt's event loop");
        r = virt_open(o->uri, &c, reterr);
        if (r < 0)
                return r;
        r = registry_open(&reg, reterr);
        if (r < 0)
                return error_prefix(reterr, r, "cannot open the registry");
        r = uevent_monitor_new(&mon, reterr);
        if (r < 0)
                return r;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
                return -errno;
        sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sigfd < 0) {
                r = -errno;
                goto restore;
        }
        w.c = c;
        w.mon = mon;
        w.reg = reg;

        /* every running domain's persistent selectors at start */
        {
                virDomainPtr *doms = NULL;
                int nd = virConnectListAllDomains(c->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
                for (int i = 0; i < nd; i++) {
                        const char *n = virDomainGetName(doms[i]);
                        if (n && in_scope(&w, n))
                                (void) strv_extend(&w.check_metadata, n);
                        virDomainFree(doms[i]);
                }
                free(doms);
                virResetLastError();
        }

        hwatch = virEventAddHandle(uevent_monitor_get_fd(mon), VIR_EVENT_HANDLE_READABLE, on_uevent, &w, NULL);
        swatch = virEventAddHandle(sigfd, VIR_EVENT_HANDLE_READABLE, on_signal, &w, NULL);
        w.timer = virEventAddTimeout(0, on_timer, &w, NULL);
        cb = virConnectDomainEventRegisterAny(c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                              VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), &w, NULL);
        if (hwatch < 0 || swatch < 0 || w.timer < 0 || cb < 0) {
                r = virt_err(reterr, -EIO, "cannot follow libvirt events on %s", o->uri);
                goto cleanup;
        }
        (void) virConnectRegisterCloseCallback(c->conn, on_close, &w, NULL);
        (void) virConnectSetKeepAlive(c->conn, 10, 6); /* TCG test guests are slow */
        virResetLastError();

        W_LOG(&w, WATCH_LOG_INFO, "hostdev watch: following libvirt domains on %s (pid %d)", o->uri, (int) getpid());
        if (o->ready_file) {
                FILE *f = fopen(o->ready_file, "we");
                if (f)
                        fclose(f);
        }
        r = 0;
        while (!w.stop) {
                if (virEventRunDefaultImpl() < 0) {
                        r = virt_err(reterr, -EIO, "libvirt event loop");
                        break;
                }
        }
        if (r >= 0 && w.reconnect)
                r = error_set(reterr, -ECONNRESET, "lost the connection to libvirt at %s", o->uri);

cleanup:
        if (cb >= 0)
                virConnectDomainEventDeregisterAny(c->conn, cb);
        (void) virConnectUnregisterCloseCallback(c->conn, on_close);
        if (w.timer >= 0)
                virEventRemoveTimeout(w.timer);
        if (hwatch >= 0)
                virEventRemoveHandle(hwatch);
        if (swatch >= 0)
                virEventRemoveHandle(swatch);
        strv_free(w.check_metadata);
        strv_free(w.attach_failed);
        strv_free(w.started);
restore:
        sigprocmask(SIG_SETMASK, &old, NULL);
        return r;
}
