/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev list [--cap CAP[,CAP]] [--tree] [--json] */
#include <search.h>
#include <stdint.h>
#include <sys/param.h>
#include <sys/stat.h>

#include "cli.h"
#include "error.h"
#include "inventory.h"
#include "json-util.h"
#include "registry.h"
#include "usbip.h"
#include "util.h"

/* Owners from the registry. No state directory means nothing was ever claimed: no owners,
 * and a read-only listing creates nothing. */
static void fill_owners(struct inventory *inv) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        struct stat st;
        int r;

        if (stat(state_dir(), &st) < 0)
                return;
        r = registry_open(&reg, &err);
        if (r >= 0)
                r = registry_fill_owners(reg, inv);
        if (r < 0)
                log_warning("cannot read the owners of devices: %s", err ? err : strerror(-r));
}

static json_object *json_str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

/* The keys below are literals: json-c keeps the pointer (no copy) and skips the duplicate-key
 * lookup (each is added once); a big `list --json` builds ~15 keys per device. */
#define json_object_object_add(o, key, v) \
        json_object_object_add_ex((o), "" key "", (v), JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT)

static json_object *device_to_json(const struct nodedev *d) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "name", json_str_or_null(d->name));
        json_object_object_add(o, "parent", json_str_or_null(d->parent));
        json_object_object_add(o, "capability", json_str_or_null(nodedev_cap_to_string(d->cap)));
        json_object_object_add(o, "sysfs_path", json_str_or_null(d->sysfs_path));
        json_object_object_add(o, "driver", json_str_or_null(d->driver));
        json_object_object_add(o, "owner", json_str_or_null(d->owner));
        switch (d->cap) {
        case NODEDEV_CAP_USB_DEVICE: {
                const struct usb_device_info *u = &d->u.usb;
                json_object_object_add(o, "bus", json_object_new_int((int) u->bus));
                json_object_object_add(o, "device", json_object_new_int((int) u->devnum));
                json_object_object_add(o, "port", json_str_or_null(u->port));
                json_object_object_add(o, "vendor_id", json_object_new_int(u->vendor_id));
                json_object_object_add(o, "product_id", json_object_new_int(u->product_id));
                json_object_object_add(o, "vendor", json_str_or_null(u->vendor_name ? u->vendor_name : u->manufacturer));
                json_object_object_add(o, "product",
                                       json_str_or_null(u->product_name ? u->product_name : u->product_string));
                json_object_object_add(o, "serial", json_str_or_null(u->serial));
                json_object_object_add(o, "speed", json_str_or_null(u->speed));
                /* USB/IP (only for such devices): exported here, or imported from a dongle host */
                struct usbip_import im = { 0 };
                _cleanup_free_ char *ui = usbip_describe_device(d, &im);
                if (ui) {
                        json_object *x = json_object_new_object();
                        json_object_object_add(x, "exported", json_object_new_boolean(u->usbip_exported));
                        if (im.host) {
                                json_object_object_add(x, "remote_host", json_object_new_string(im.host));
                                json_object_object_add(x, "remote_port", json_object_new_int((int) im.tcp_port));
                                json_object_object_add(x, "remote_busid", json_object_new_string(im.busid));
                        }
                        json_object_object_add(o, "usbip", x);
                }
                usbip_import_done(&im);
                break;
        }
        case NODEDEV_CAP_PCI: {
                const struct pci_device_info *p = &d->u.pci;
                json_object_object_add(o, "domain", json_object_new_int((int) p->addr.domain));
                json_object_object_add(o, "bus", json_object_new_int(p->addr.bus));
                json_object_object_add(o, "slot", json_object_new_int(p->addr.slot));
                json_object_object_add(o, "function", json_object_new_int(p->addr.function));
                json_object_object_add(o, "vendor_id", json_object_new_int(p->vendor_id));
                json_object_object_add(o, "product_id", json_object_new_int(p->product_id));
                json_object_object_add(o, "class", json_object_new_int((int) p->class));
                json_object_object_add(o, "iommu_group",
                                       p->iommu_group >= 0 ? json_object_new_int(p->iommu_group) : NULL);
                json_object_object_add(o, "numa_node",
                                       p->numa_node >= 0 ? json_object_new_int(p->numa_node) : NULL);
                break;
        }
        case NODEDEV_CAP_NET:
                json_object_object_add(o, "interface", json_str_or_null(d->u.net.ifname));
                json_object_object_add(o, "mac", json_str_or_null(d->u.net.mac));
                break;
        default:
                break;
        }
        return o;
}

/* One cell of the IDS column / the details column. */
static char *ids_of(const struct nodedev *d) {
        switch (d->cap) {
        case NODEDEV_CAP_USB_DEVICE:
                return strdup_printf("%04x:%04x", d->u.usb.vendor_id, d->u.usb.product_id);
        case NODEDEV_CAP_PCI:
                return strdup_printf("%04x:%04x", d->u.pci.vendor_id, d->u.pci.product_id);
        case NODEDEV_CAP_USB_INTERFACE:
                return strdup_printf("%02x/%02x/%02x", d->u.usb_if.iface_class, d->u.usb_if.iface_subclass,
                                     d->u.usb_if.iface_protocol);
        default:
                return strdup("-");
        }
}

static char *details_of(const struct nodedev *d) {
        switch (d->cap) {
        case NODEDEV_CAP_USB_DEVICE: {
                _cleanup_free_ char *ui = usbip_describe_device(d, NULL); /* USB/IP: exported / imported */
                return strdup_printf("bus=%u dev=%u port=%s serial=%s%s%s", d->u.usb.bus, d->u.usb.devnum,
                                     d->u.usb.port ? d->u.usb.port : "-", d->u.usb.serial ? d->u.usb.serial : "-",
                                     ui ? " usbip=" : "", ui ? ui : "");
        }
        case NODEDEV_CAP_PCI:
                if (d->u.pci.iommu_group >= 0)
                        return strdup_printf("iommu_group=%d", d->u.pci.iommu_group);
                return strdup("-");
        case NODEDEV_CAP_NET:
                return strdup_printf("%s %s", strna(d->u.net.mac), strna(d->u.net.link_state));
        case NODEDEV_CAP_STORAGE:
                return strdup(strna(d->u.storage.block));
        case NODEDEV_CAP_SCSI_GENERIC:
                return strdup(strna(d->u.sg));
        case NODEDEV_CAP_SCSI:
                return strdup(strna(d->u.scsi.type));
        case NODEDEV_CAP_MDEV:
                return strdup(strna(d->u.mdev.type));
        default:
                return strdup("-");
        }
}

struct tree {
        const struct inventory *inv;
        size_t **children; /* per device index: child indexes */
        size_t *n_children;
        const bool *keep;
};

static void tree_print(const struct tree *t, size_t i, struct strbuf *prefix, bool last, bool root) {
        const struct nodedev *d = t->inv->devs[i];
        if (root)
                printf("%s\n", d->name);
        else {
                printf("%s%s%s (%s)%s%s%s\n", strempty(prefix->buf), last ? "`-- " : "|-- ", d->name,
                       nodedev_cap_to_string(d->cap), d->driver ? " [" : "", strempty(d->driver),
                       d->driver ? "]" : "");
        }
        size_t plen = prefix->len;
        if (!root)
                strbuf_append(prefix, last ? "    " : "|   ");
        size_t n = t->n_children[i], shown = 0, total = 0;
        for (size_t k = 0; k < n; k++)
                if (t->keep[t->children[i][k]])
                        total++;
        for (size_t k = 0; k < n; k++) {
                size_t c = t->children[i][k];
                if (!t->keep[c])
                        continue;
                shown++;
                tree_print(t, c, prefix, shown == total, false);
        }
        prefix->len = plen;
        if (prefix->buf)
                prefix->buf[plen] = 0;
}

static int print_tree(const struct inventory *inv, bool *keep) {
        struct hsearch_data h = { 0 };
        struct tree t = { .inv = inv, .keep = keep };
        int r = 0;

        t.children = calloc(inv->n_devs, sizeof(*t.children));
        t.n_children = calloc(inv->n_devs, sizeof(*t.n_children));
        if (!t.children || !t.n_children || !hcreate_r(inv->n_devs * 2 + 16, &h)) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < inv->n_devs; i++) {
                ENTRY e = { .key = inv->devs[i]->name, .data = (void *) (uintptr_t) i }, *ep;
                if (!hsearch_r(e, ENTER, &ep, &h)) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        /* keep the ancestors of kept devices; children come after parents, so walk backwards */
        for (size_t i = inv->n_devs; i-- > 1;) {
                ENTRY q = { .key = inv->devs[i]->parent }, *ep = NULL;
                if (!inv->devs[i]->parent || !hsearch_r(q, FIND, &ep, &h))
                        continue;
                size_t p = (uintptr_t) ep->data;
                if (keep[i])
                        keep[p] = true;
                size_t *nc = realloc(t.children[p], (t.n_children[p] + 1) * sizeof(size_t));
                if (!nc) {
                        r = -ENOMEM;
                        goto out;
                }
                t.children[p] = nc;
                t.children[p][t.n_children[p]++] = i;
        }
        /* children were collected backwards */
        for (size_t i = 0; i < inv->n_devs; i++)
                for (size_t a = 0, b = t.n_children[i]; b > a + 1; a++, b--) {
                        size_t x = t.children[i][a];
                        t.children[i][a] = t.children[i][b - 1];
                        t.children[i][b - 1] = x;
                }
        keep[0] = true;
        {
                /* in a block: the gotos above must not jump into its cleanup's scope */
                _cleanup_strbuf_ struct strbuf prefix = STRBUF_INIT;
                strbuf_append(&prefix, "");
                tree_print(&t, 0, &prefix, true, true);
        }
out:
        if (t.children)
                for (size_t i = 0; i < inv->n_devs; i++)
                        free(t.children[i]);
        free(t.children);
        free(t.n_children);
        hdestroy_r(&h);
        return r;
}

static void print_table(const struct inventory *inv, const bool *keep) {
        size_t wn = 4, wc = 3, wd = 6;
        for (size_t i = 0; i < inv->n_devs; i++) {
                const struct nodedev *d = inv->devs[i];
                if (!keep[i])
                        continue;
                wn = MAX(wn, strlen(d->name));
                wc = MAX(wc, strlen(nodedev_cap_to_string(d->cap)));
                wd = MAX(wd, strlen(d->driver ? d->driver : "-"));
        }
        printf("%-*s  %-*s  %-*s  %-9s  %-8s  %s\n", (int) wn, "NAME", (int) wc, "CAP", (int) wd, "DRIVER",
               "IDS", "OWNER", "DETAILS");
        for (size_t i = 0; i < inv->n_devs; i++) {
                const struct nodedev *d = inv->devs[i];
                if (!keep[i])
                        continue;
                _cleanup_free_ char *ids = ids_of(d), *det = details_of(d);
                printf("%-*s  %-*s  %-*s  %-9s  %-8s  %s\n", (int) wn, d->name, (int) wc,
                       nodedev_cap_to_string(d->cap), (int) wd, d->driver ? d->driver : "-", strna(ids),
                       d->owner ? d->owner : "-", strna(det));
        }
}

int verb_list(int argc, char **argv) {
        static const struct option opts[] = {
                { "cap", required_argument, NULL, 'c' },
                { "tree", no_argument, NULL, 't' },
                { "json", no_argument, NULL, 'j' },
                {},
        };
        bool tree = false, json = false;
        bool caps[_NODEDEV_CAP_MAX] = { 0 }, any_cap = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'c': {
                        _cleanup_free_ char *copy = strdup(optarg);
                        char *save = NULL;
                        if (!copy)
                                return EXIT_FAIL;
                        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                                int k = nodedev_cap_from_string(tok);
                                if (k < 0) {
                                        log_error("unknown capability '%s' (known: pci, usb_device, usb, net, "
                                                  "scsi_host, scsi_target, scsi, storage, scsi_generic, mdev)",
                                                  tok);
                                        return EXIT_USAGE;
                                }
                                caps[k] = true;
                                any_cap = true;
                        }
                        if (!any_cap) {
                                log_error("--cap needs a capability name");
                                return EXIT_USAGE;
                        }
                        break;
                }
                case 't':
                        tree = true;
                        break;
                case 'j':
                        json = true;
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                log_error("unexpected argument '%s'", argv[optind]);
                return EXIT_USAGE;
        }
        if (tree && json) {
                log_error("--tree and --json cannot be combined");
                return EXIT_USAGE;
        }

        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_free_ char *err = NULL;
        r = inventory_scan_flags(INVENTORY_SCAN_SUMMARY, &inv, &err); /* only what is printed */
        if (r < 0) {
                report_error(r, err, "scanning host devices");
                return EXIT_FAIL;
        }
        for (char **w = inv->warnings; w && *w; w++)
                log_warning("%s", *w);
        fill_owners(inv);

        _cleanup_free_ bool *keep = calloc(inv->n_devs, sizeof(bool));
        if (!keep)
                return EXIT_FAIL;
        for (size_t i = 0; i < inv->n_devs; i++)
                keep[i] = any_cap ? caps[inv->devs[i]->cap] : true;

        if (json) {
                /* One array, written a device at a time (a big tree's whole JSON tree cost as much
                 * to build and free as the scan): json-c formats each device as the only element
                 * of an array, which is exactly its text inside the full array ("[\n" ELEMENT
                 * "\n]"); the elements are joined with ",\n" as json-c joins them. */
                const int flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE;
                bool first = true;
                fputs("[\n", stdout);
                for (size_t i = 0; i < inv->n_devs; i++) {
                        if (!keep[i])
                                continue;
                        _cleanup_json_ json_object *a = json_object_new_array();
                        json_object *o = device_to_json(inv->devs[i]);
                        const char *t;
                        size_t len = 0;
                        if (!a || !o || json_object_array_add(a, o) < 0) {
                                json_object_put(o);
                                log_error("out of memory");
                                return EXIT_FAIL;
                        }
                        t = json_object_to_json_string_length(a, flags, &len);
                        if (!t || len < 4 || !startswith(t, "[\n") || t[len - 2] != '\n' || t[len - 1] != ']') {
                                log_error("out of memory");
                                return EXIT_FAIL;
                        }
                        if (!first)
                                fputs(",\n", stdout);
                        fwrite(t + 2, 1, len - 4, stdout);
                        first = false;
                }
                fputs(first ? "]\n" : "\n]\n", stdout);
                return EXIT_OK;
        }
        if (tree) {
                r = print_tree(inv, keep);
                if (r < 0) {
                        log_error("out of memory");
                        return EXIT_FAIL;
                }
                return EXIT_OK;
        }
        print_table(inv, keep);
        return EXIT_OK;
}
