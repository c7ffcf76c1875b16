/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* nodedev-detach, nodedev-reattach, nodedev-reset: host-side PCI binding (vfio.h). */
#include "cli.h"

#include "registry.h"
#include "vfio.h"

/* Parse the options shared by the three verbs; NAME into *ret. Returns -1 after reporting. */
static int parse_args(int argc, char **argv, bool with_detach_opts, const char **ret_driver, bool *ret_force,
                      struct pci_addr *ret) {
        static const struct option detach_opts[] = {
                { "driver", required_argument, NULL, 'd' },
                { "force", no_argument, NULL, 'f' },
                {},
        };
        static const struct option no_opts[] = {
                {},
        };
        int c;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":", with_detach_opts ? detach_opts : no_opts, NULL)) >= 0) {
                switch (c) {
                case 'd':
                        *ret_driver = optarg;
                        break;
                case 'f':
                        *ret_force = true;
                        break;
                case ':':
                        log_error("%s: option '%s' needs a value", argv[0], argv[optind - 1]);
                        return -1;
                default:
                        log_error("%s: unknown option '%s'; see 'hostdev %s --help'", argv[0], argv[optind - 1],
                                  argv[0]);
                        return -1;
                }
        }
        if (argc - optind != 1) {
                log_error("%s needs exactly one PCI device name, e.g. pci_0000_00_03_0 or 0000:00:03.0", argv[0]);
                return -1;
        }
        const char *name = argv[optind];
        int r = pci_addr_parse_any(name, ret);
        if (r < 0) {
                if (startswith(name, "pci_") || strchr(name, ':'))
                        log_error("invalid PCI device name '%s': %s", name,
                                  r == -ERANGE ? "a field is out of range (bus <= ff, slot <= 1f, function <= 7)"
                                               : "expected pci_DDDD_BB_SS_F or DDDD:BB:SS.F");
                else
                        log_error("'%s' is not a PCI device name: nodedev-* take pci_0000_00_03_0 or 0000:00:03.0", name);
                return -1;
        }
        if (ret_driver && *ret_driver && (isempty(*ret_driver) || strchr(*ret_driver, '/'))) {
                log_error("invalid driver name '%s'", *ret_driver);
                return -1;
        }
        return 0;
}

/* A device (or a member of its IOMMU group) that a domain holds must not be taken from it
 * behind the registry's back. Returns EXIT_OK when free, EXIT_FAIL after reporting. */
static int check_not_claimed(const struct pci_addr *a, const char *verb) {
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        _cleanup_free_ struct pci_addr *m = NULL;
        size_t n = 0;
        int r;

        r = registry_open(&reg, &err);
        if (r < 0) {
                report_error(r, err, "cannot read the claims registry");
                return EXIT_FAIL;
        }
        if (pci_group_members(a, &m, &n) < 0) {
                m = malloc(sizeof *m);
                if (!m) {
                        log_error("out of memory");
                        return EXIT_FAIL;
                }
                m[0] = *a;
                n = 1;
        }
        for (size_t i = 0; i < n; i++) {
                char key[PCI_ADDR_STRLEN + 8], b[PCI_ADDR_STRLEN], node[PCI_NODE_STRLEN], self[PCI_NODE_STRLEN];
                snprintf(key, sizeof key, "pci:%s", pci_addr_format_sysfs(&m[i], b));
                pci_addr_format_node(&m[i], node);
                const struct claim *c = registry_find_by_key(reg, key);
                if (!c)
                        c = registry_find_by_node(reg, node);
                if (!c)
                        continue;
                pci_addr_format_node(a, self);
                if (memcmp(&m[i], a, sizeof *a) == 0)
                        log_error("cannot %s %s: it is in use by domain %s (state %s); use 'hostdev detach-device' or 'hostdev release %s' first",
                                  verb, self, c->domain, claim_state_to_string(c->state), c->domain);
                else
                        log_error("cannot %s %s: it shares IOMMU group %d with %s, in use by domain %s; use 'hostdev release %s' first",
                                  verb, self, pci_iommu_group(a), node, c->domain, c->domain);
                return EXIT_FAIL;
        }
        return EXIT_OK;
}

int verb_nodedev_detach(int argc, char **argv) {
        const char *driver = NULL;
        bool force = false;
        struct pci_addr a;
        _cleanup_free_ char *orig = NULL, *err = NULL, *gerr = NULL;
        char node[PCI_NODE_STRLEN];
        int r;

        if (parse_args(argc, argv, true, &driver, &force, &a) < 0)
                return EXIT_USAGE;
        if (!driver)
                driver = PCI_STUB_DRIVER_DEFAULT;
        pci_addr_format_node(&a, node);

        r = pci_detach(&a, driver, force ? PCI_FORCE : 0, &orig, &err);
        if (r < 0) {
                report_error(r, err, "nodedev-detach");
                return EXIT_FAIL;
        }
        if (r == 0)
                printf("Device %s is already detached (bound to %s)\n", node, driver);
        else
                printf("Device %s detached (bound to %s, was %s)\n", node, driver, orig ? orig : "unbound");

        /* A guest can use it only when the whole IOMMU group is ready: say what is missing. */
        if (streq(driver, "vfio-pci") && pci_group_check_viable(&a, &gerr) == -EBUSY && gerr)
                log_warning("%s", gerr);
        return EXIT_OK;
}

int verb_nodedev_reattach(int argc, char **argv) {
        struct pci_addr a;
        _cleanup_free_ char *err = NULL, *now = NULL;
        char node[PCI_NODE_STRLEN];
        int r;

        if (parse_args(argc, argv, false, NULL, NULL, &a) < 0)
                return EXIT_USAGE;
        pci_addr_format_node(&a, node);
        r = pci_current_driver(&a, &now);
        if (r == -ENODEV) {
                /* let pci_reattach word the message */
        } else if (check_not_claimed(&a, "reattach") != EXIT_OK)
                return EXIT_FAIL;
        free(now);
        now = NULL;

        r = pci_reattach(&a, NULL, &err);
        if (r < 0) {
                report_error(r, err, "nodedev-reattach");
                return EXIT_FAIL;
        }
        (void) pci_current_driver(&a, &now);
        if (r == 0)
                printf("Device %s is already attached to the host (driver %s)\n", node, now ? now : "none");
        else
                printf("Device %s re-attached (driver %s)\n", node, now ? now : "none");
        return EXIT_OK;
}

int verb_nodedev_reset(int argc, char **argv) {
        struct pci_addr a;
        _cleanup_free_ char *err = NULL, *now = NULL;
        char node[PCI_NODE_STRLEN];
        int r;

        if (parse_args(argc, argv, false, NULL, NULL, &a) < 0)
                return EXIT_USAGE;
        pci_addr_format_node(&a, node);
        r = pci_current_driver(&a, &now);
        if (r != -ENODEV && check_not_claimed(&a, "reset") != EXIT_OK)
                return EXIT_FAIL;

        r = pci_reset(&a, &err);
        if (r < 0) {
                report_error(r, err, "nodedev-reset");
                return EXIT_FAIL;
        }
        printf("Device %s reset\n", node);
        return EXIT_OK;
}
