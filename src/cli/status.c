/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hostdev status [--json] [--connect URI]: every claim: device, identity, domain, since, state. */
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "error.h"
#include "json-util.h"
#include "registry.h"
#include "util.h"

static const char *type_name(enum hostdev_type t) {
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
        return "?";
}

static void format_since(time_t t, char buf[static 32]) {
        struct tm tm;
        if (!localtime_r(&t, &tm) || strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, 32, "@%lld", (long long) t);
}

/* "46f4:0001 serial DONGLE-A port 1-1", "0000:03:00.0 (was e1000e)", or the key's value */
static char *identity_string(const struct claim *c) {
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
                return strdup(k ? k + 1 : c->key);
        }
        }
}

static json_object *json_str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static json_object *claim_json(const struct registry *reg, const struct claim *c) {
        json_object *o = json_object_new_object(), *id = json_object_new_object();
        char since[32];
        if (!o || !id) {
                json_object_put(o);
                json_object_put(id);
                return NULL;
        }
        format_since(c->since, since);
        json_object_object_add(o, "device", json_str_or_null(c->node));
        json_object_object_add(o, "type", json_object_new_string(type_name(c->type)));
        json_object_object_add(o, "key", json_object_new_string(c->key));
        if (c->type == HOSTDEV_TYPE_USB) {
                json_object_object_add(id, "vendor_id", json_object_new_int(c->usb.vendor));
                json_object_object_add(id, "product_id", json_object_new_int(c->usb.product));
                json_object_object_add(id, "serial", json_str_or_null(c->usb.serial));
                json_object_object_add(id, "port", json_str_or_null(c->usb.port));
                json_object_object_add(id, "bus", c->usb.bus ? json_object_new_int((int) c->usb.bus) : NULL);
                json_object_object_add(id, "device", c->usb.devnum ? json_object_new_int((int) c->usb.devnum) : NULL);
        } else if (c->type == HOSTDEV_TYPE_PCI) {
                char addr[32];
                snprintf(addr, sizeof addr, "%04x:%02x:%02x.%x", c->pci.addr.domain, c->pci.addr.bus, c->pci.addr.slot,
                         c->pci.addr.function);
                json_object_object_add(id, "address", json_object_new_string(addr));
                json_object_object_add(id, "orig_driver", json_str_or_null(c->pci.orig_driver));
                json_object_object_add(id, "managed", json_object_new_boolean(c->pci.managed));
                json_object_object_add(id, "detached", json_object_new_boolean(c->pci.detached));
                json_object_object_add(id, "iommu_group",
                                       c->pci.iommu_group >= 0 ? json_object_new_int(c->pci.iommu_group) : NULL);
        }
        json_object_object_add(o, "identity", id);
        json_object_object_add(o, "domain", json_object_new_string(c->domain));
        json_object_object_add(o, "since", json_object_new_string(since));
        json_object_object_add(o, "since_epoch", json_object_new_int64((int64_t) c->since));
        json_object_object_add(o, "state", json_object_new_string(claim_state_to_string(c->state)));
        json_object_object_add(o, "shareable", json_object_new_boolean(c->shareable));
        json_object_object_add(o, "qemu_id", json_str_or_null(c->qemu_id));
        json_object_object_add(o, "selector", json_str_or_null(c->selector_xml));
        json_object_object_add(o, "alive", json_object_new_boolean(registry_domain_alive(reg, c->domain)));
        return o;
}

static bool domain_matches_uri(const struct registry *reg, const char *domain, const char *uri) {
        const struct domain_record *d;
        if (!uri)
                return true;
        d = registry_domain_find(reg, domain);
        return d && streq_ptr(d->uri, uri);
}

int verb_status(int argc, char **argv) {
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "connect", required_argument, NULL, 'c' },
                {},
        };
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        const char *uri = NULL;
        bool json = false;
        struct stat st;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'j':
                        json = true;
                        break;
                case 'c':
                        uri = optarg;
                        break;
                default:
                        return EXIT_USAGE;
                }
        }
        if (optind != argc) {
                log_error("usage: hostdev status [--json] [--connect URI]");
                return EXIT_USAGE;
        }

        if (stat(state_dir(), &st) >= 0) {
                r = registry_open(&reg, &err);
                if (r < 0) {
                        report_error(r, err, "reading the claims registry");
                        return EXIT_FAIL;
                }
                char *const *msgs = registry_recovery_messages(reg);
                for (size_t i = 0; msgs && msgs[i]; i++)
                        log_warning("%s", msgs[i]);
        }
        size_t n = reg ? registry_n_claims(reg) : 0;

        if (json) {
                _cleanup_json_ json_object *arr = json_object_new_array();
                if (!arr)
                        return report_error(-ENOMEM, NULL, "status"), EXIT_FAIL;
                for (size_t i = 0; i < n; i++) {
                        const struct claim *cl = registry_claim_at(reg, i);
                        if (!domain_matches_uri(reg, cl->domain, uri))
                                continue;
                        json_object *o = claim_json(reg, cl);
                        if (!o || json_object_array_add(arr, o) < 0) {
                                json_object_put(o);
                                return report_error(-ENOMEM, NULL, "status"), EXIT_FAIL;
                        }
                }
                puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                 JSON_C_TO_STRING_NOSLASHESCAPE));
                return EXIT_OK;
        }

        if (n == 0) {
                printf("no claims\n");
                return EXIT_OK;
        }
        int wdev = 6, wid = 8, wdom = 6;
        for (size_t i = 0; i < n; i++) {
                const struct claim *cl = registry_claim_at(reg, i);
                _cleanup_free_ char *id = identity_string(cl);
                int l = cl->node ? (int) strlen(cl->node) : 11;
                wdev = l > wdev ? l : wdev;
                l = id ? (int) strlen(id) : 0;
                wid = l > wid ? l : wid;
                l = (int) strlen(cl->domain);
                wdom = l > wdom ? l : wdom;
        }
        printf("%-*s  %-*s  %-*s  %-19s  %s\n", wdev, "DEVICE", wid, "IDENTITY", wdom, "DOMAIN", "SINCE", "STATE");
        for (size_t i = 0; i < n; i++) {
                const struct claim *cl = registry_claim_at(reg, i);
                _cleanup_free_ char *id = identity_string(cl);
                char since[32];
                if (!domain_matches_uri(reg, cl->domain, uri))
                        continue;
                format_since(cl->since, since);
                printf("%-*s  %-*s  %-*s  %-19s  %s%s\n", wdev, cl->node ? cl->node : "(unplugged)", wid, strna(id),
                       wdom, cl->domain, since, claim_state_to_string(cl->state),
                       registry_domain_alive(reg, cl->domain) ? "" : " (stale: domain process gone)");
        }
        return EXIT_OK;
}
