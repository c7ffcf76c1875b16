/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Resolution rules and messages against the identical-dongles fixture
 * (tests/data/sys/make-dongles.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "hostdev/hostdev.h"
#include "inventory.h"
#include "registry.h"
#include "resolve.h"
#include "util.h"

static char tmpdir[256];

/* Build the fixture with the given variants and scan it. */
static struct inventory *fixture(const char *variants) {
        const char *src = getenv("HOSTDEV_SRCDIR");
        struct inventory *inv = NULL;
        _cleanup_free_ char *err = NULL;
        assert_non_null(src); /* run through meson test */
        _cleanup_free_ char *cmd = strdup_printf("bash %s/tests/data/sys/make-dongles.sh %s %s", src, tmpdir, variants);
        assert_int_equal(system(cmd), 0);
        _cleanup_free_ char *sys = path_join(tmpdir, "sys", NULL), *dev = path_join(tmpdir, "dev", NULL);
        setenv("HOSTDEV_SYSFS_ROOT", sys, 1);
        setenv("HOSTDEV_DEV_ROOT", dev, 1);
        assert_int_equal(inventory_scan(&inv, &err), 0);
        return inv;
}

static int setup(void **state) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/hostdev-resolve-XXXXXX");
        if (!mkdtemp(tmpdir))
                return -1;
        _cleanup_free_ char *st = path_join(tmpdir, "state", NULL);
        setenv("HOSTDEV_STATE_DIR", st, 1);
        setenv("TZ", "UTC", 1);
        tzset();
        return 0;
}

static int teardown(void **state) {
        _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

static struct hostdev_def *usb_def(int vendor, int product, const char *serial, int bus, const char *port, int device) {
        struct hostdev_def *d = calloc(1, sizeof(*d));
        assert_non_null(d);
        d->mode = HOSTDEV_MODE_SUBSYSTEM;
        d->type = HOSTDEV_TYPE_USB;
        struct usb_source *s = &d->source.usb;
        if (vendor >= 0) {
                s->has_vendor = true;
                s->vendor = vendor;
        }
        if (product >= 0) {
                s->has_product = true;
                s->product = product;
        }
        if (serial)
                s->serial = strdup(serial);
        if (bus >= 0) {
                s->has_bus = true;
                s->bus = bus;
        }
        if (port)
                s->port = strdup(port);
        if (device >= 0) {
                s->has_device = true;
                s->device = device;
        }
        return d;
}

static void def_free(struct hostdev_def *d) {
        if (!d)
                return;
        free(d->source.usb.serial);
        free(d->source.usb.port);
        if (d->type == HOSTDEV_TYPE_CAP_NET)
                free(d->source.caps.interface);
        free(d->alias);
        free(d);
}

static void resolve_one(const struct inventory *inv, const struct registry *reg, const struct hostdev_def *def,
                        const char *domain, struct resolve_result *res) {
        assert_int_equal(resolve_def(inv, reg, def, domain, res), 0);
}

static void test_unique_selectors(void **state) {
        struct inventory *inv = fixture("");
        struct {
                int vendor, product;
                const char *serial;
                int bus;
                const char *port;
                int device;
                const char *want;
        } cases[] = {
                { 0x46f4, 0x0001, "DONGLE-C", -1, NULL, -1, "usb_1_4_1" },  /* ids + serial */
                { -1, -1, "DONGLE-B", -1, NULL, -1, "usb_1_2" },            /* serial alone */
                { 0x46f4, 0x0001, NULL, 1, "4.2", -1, "usb_1_4_2" },        /* ids + port */
                { -1, -1, NULL, 1, "4.1", -1, "usb_1_4_1" },                /* port alone */
                { -1, -1, NULL, 1, "3", -1, "usb_2_3" },    /* USB2 name of the USB3 device's port */
                { -1, -1, NULL, 2, "3", -1, "usb_2_3" },    /* its own USB3 name */
                { -1, -1, NULL, 1, NULL, 3, "usb_1_2" },    /* bus + device */
                { 0x46f4, 0x0001, NULL, 1, NULL, 6, "usb_1_4_2" },
                { 0x0781, 0x5581, NULL, -1, NULL, -1, "usb_2_3" }, /* ids alone, unique */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct hostdev_def *d = usb_def(cases[i].vendor, cases[i].product, cases[i].serial, cases[i].bus,
                                                cases[i].port, cases[i].device);
                struct resolve_result r;
                resolve_one(inv, NULL, d, NULL, &r);
                if (r.status != RESOLVE_OK)
                        fail_msg("case %zu: %s", i, r.message);
                assert_non_null(r.device);
                assert_string_equal(r.device->name, cases[i].want);
                assert_int_equal(strv_length(r.candidates), 1);
                assert_null(r.owner);
                assert_null(r.message);
                assert_string_equal(resolve_status_to_string(r.status), "ok");
                resolve_result_done(&r);
                def_free(d);
        }
        inventory_free(inv);
}

static void test_ambiguous(void **state) {
        struct inventory *inv = fixture("");
        struct hostdev_def *d = usb_def(0x46f4, 0x0001, NULL, -1, NULL, -1);
        struct resolve_result r;

        resolve_one(inv, NULL, d, NULL, &r);
        assert_int_equal(r.status, RESOLVE_AMBIGUOUS);
        assert_string_equal(resolve_status_to_string(r.status), "ambiguous");
        assert_null(r.device);
        assert_int_equal(strv_length(r.candidates), 4);
        assert_string_equal(r.candidates[0], "usb_1_1");
        assert_string_equal(r.candidates[3], "usb_1_4_2");
        assert_string_equal(r.selector, "<source><vendor id='0x46f4'/><product id='0x0001'/></source>");
        /* the message names every candidate with bus/device, port, serial, product, owner, and
         * the <source> that selects it (by serial: unique here) */
        assert_non_null(strstr(r.message, "matches 4 USB devices; select one of them:"));
        assert_non_null(strstr(r.message, "usb_1_4_1: bus 1 device 5, port 1-4.1, 46f4:0001, serial 'DONGLE-C', "
                                          "product 'Sentinel HL', owner none"));
        assert_non_null(strstr(r.message, "select it with: <source><vendor id='0x46f4'/><product id='0x0001'/>"
                                          "<serial>DONGLE-A</serial></source>"));
        assert_non_null(strstr(r.message, "<serial>DONGLE-D</serial>"));
        assert_null(strstr(r.message, "not unique"));
        resolve_result_done(&r);
        def_free(d);
        inventory_free(inv);
}

static void test_serial_collision(void **state) {
        struct inventory *inv = fixture("collide noserial");
        struct hostdev_def *d = usb_def(0x46f4, 0x0001, "0001", -1, NULL, -1);
        struct resolve_result r;

        resolve_one(inv, NULL, d, NULL, &r);
        assert_int_equal(r.status, RESOLVE_AMBIGUOUS);
        assert_int_equal(strv_length(r.candidates), 2);
        assert_non_null(strstr(r.message, "serial '0001' is not unique (usb_1_4_1, usb_1_4_2 have it): "
                                          "select by port path"));
        /* colliding serials: the suggestion is the port path */
        assert_non_null(strstr(r.message, "select it with: <source><vendor id='0x46f4'/><product id='0x0001'/>"
                                          "<address bus='1' port='4.1'/></source>"));
        assert_non_null(strstr(r.message, "<address bus='1' port='4.2'/>"));
        resolve_result_done(&r);
        def_free(d);

        /* ids alone: 4 candidates; unique serial DONGLE-A by serial, 1-2 (no serial) by port */
        d = usb_def(0x46f4, 0x0001, NULL, -1, NULL, -1);
        resolve_one(inv, NULL, d, NULL, &r);
        assert_int_equal(r.status, RESOLVE_AMBIGUOUS);
        assert_non_null(strstr(r.message, "<serial>DONGLE-A</serial>"));
        assert_non_null(strstr(r.message, "usb_1_2: bus 1 device 3, port 1-2, 46f4:0001, no serial"));
        assert_non_null(strstr(r.message, "<address bus='1' port='2'/>"));
        assert_non_null(strstr(r.message, "devices without a serial can only be selected by port path"));
        resolve_result_done(&r);
        def_free(d);
        inventory_free(inv);
}

static void test_missing_policy(void **state) {
        struct inventory *inv = fixture("");
        struct hostdev_def *d = usb_def(0x46f4, 0x0001, "DONGLE-Z", -1, NULL, -1);
        struct resolve_result r;

        resolve_one(inv, NULL, d, NULL, &r);
        assert_int_equal(r.status, RESOLVE_MISSING);
        assert_null(r.device);
        assert_null(r.candidates);
        assert_non_null(strstr(r.message, "no USB device matches <source><vendor id='0x46f4'/><product id='0x0001'/>"
                                          "<serial>DONGLE-Z</serial></source>"));
        /* a hint lists what is there */
        assert_non_null(strstr(r.message, "present with 46f4:0001:"));
        assert_non_null(strstr(r.message, "serial 'DONGLE-B'"));
        resolve_result_done(&r);

        d->startup_policy = STARTUP_POLICY_REQUISITE;
        resolve_one(inv, NULL, d, NULL, &r);
        assert_int_equal(r.status, RESOLVE_MISSING);
        resolve_result_done(&r);

        d->startup_policy = STARTUP_POLICY_OPTIONAL;
        resolve_one(inv, NULL, d, NULL, &r);
        assert_int_equal(r.status, RESOLVE_SKIPPED);
        assert_string_equal(resolve_status_to_string(r.status), "missing");
        assert_non_null(strstr(r.message, "startupPolicy='optional'"));
        resolve_result_done(&r);
        def_free(d);

        /* a port with nothing on it */
        d = usb_def(-1, -1, NULL, 1, "4.3", -1);
        resolve_one(inv, NULL, d, NULL, &r);
        assert_int_equal(r.status, RESOLVE_MISSING);
        resolve_result_done(&r);
        def_free(d);

        /* root hubs are never selected */
        d = usb_def(0x1d6b, 0x0002, NULL, -1, NULL, -1);
        resolve_one(inv, NULL, d, NULL, &r);
        assert_int_equal(r.status, RESOLVE_MISSING);
        resolve_result_done(&r);
        def_free(d);
        inventory_free(inv);
}

static void test_usbip_exported(void **state) {
        struct inventory *inv = fixture("usbip");
        struct hostdev_def *d = usb_def(0x46f4, 0x0001, "DONGLE-A", -1, NULL, -1);
        struct resolve_result r;

        resolve_one(inv, NULL, d, NULL, &r);
        assert_int_equal(r.status, RESOLVE_MISSING);
        assert_non_null(strstr(r.message, "usb_1_1: bus 1 device 2"));
        assert_non_null(strstr(r.message, "is exported over USB/IP (bound to usbip-host)"));
        resolve_result_done(&r);
        def_free(d);

        /* ids alone: the exported one is not a candidate */
        d = usb_def(0x46f4, 0x0001, NULL, -1, NULL, -1);
        resolve_one(inv, NULL, d, NULL, &r);
        assert_int_equal(r.status, RESOLVE_AMBIGUOUS);
        assert_int_equal(strv_length(r.candidates), 3);
        assert_false(strv_contains(r.candidates, "usb_1_1"));
        resolve_result_done(&r);
        def_free(d);
        inventory_free(inv);
}

static void test_in_use_and_owners(void **state) {
        struct inventory *inv = fixture("");
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        struct hostdev_def *d = usb_def(0x46f4, 0x0001, "DONGLE-B", -1, NULL, -1);
        struct resolve_result r;
        struct claim *c = NULL;

        assert_int_equal(registry_open(&reg, &err), 0);
        resolve_one(inv, reg, d, "vm-a", &r);
        assert_int_equal(r.status, RESOLVE_OK);
        assert_int_equal(resolve_make_claim(d, r.device, &c), 0);
        assert_string_equal(c->key, "usb:46f4:0001:serial:DONGLE-B");
        assert_string_equal(c->node, "usb_1_2");
        assert_string_equal(c->usb.port, "1-2");
        assert_int_equal(c->usb.select, USB_SELECT_IDS | USB_SELECT_SERIAL);
        assert_int_equal(c->usb.devnum, 3);
        c->since = 1795614002;
        assert_int_equal(registry_claim(reg, "vm-a", c, inv, &err), 1);
        claim_free(c);
        resolve_result_done(&r);

        /* the holder itself: ok, owner named */
        resolve_one(inv, reg, d, "vm-a", &r);
        assert_int_equal(r.status, RESOLVE_OK);
        assert_string_equal(r.owner, "vm-a");
        resolve_result_done(&r);

        /* another domain: in use */
        resolve_one(inv, reg, d, "vm-b", &r);
        assert_int_equal(r.status, RESOLVE_IN_USE);
        assert_string_equal(resolve_status_to_string(r.status), "in_use");
        assert_string_equal(r.owner, "vm-a");
        assert_string_equal(r.device->name, "usb_1_2");
        assert_string_equal(r.message, "device usb_1_2 (46f4:0001 serial DONGLE-B) is in use by domain vm-a since "
                                       "2026-11-25 13:40:02");
        resolve_result_done(&r);
        def_free(d);

        /* a port claim of the hub-side dongle, then the owner shows in the ambiguity list */
        d = usb_def(-1, -1, NULL, 1, "4.1", -1);
        resolve_one(inv, reg, d, "vm-c", &r);
        assert_int_equal(r.status, RESOLVE_OK);
        assert_int_equal(resolve_make_claim(d, r.device, &c), 0);
        assert_string_equal(c->key, "usb:port:1-4.1");
        assert_int_equal(registry_claim(reg, "vm-c", c, inv, &err), 1);
        claim_free(c);
        resolve_result_done(&r);
        def_free(d);

        d = usb_def(0x46f4, 0x0001, NULL, -1, NULL, -1);
        resolve_one(inv, reg, d, "vm-x", &r);
        assert_int_equal(r.status, RESOLVE_AMBIGUOUS);
        assert_non_null(strstr(r.message, "serial 'DONGLE-B', product 'Sentinel HL', owner vm-a"));
        assert_non_null(strstr(r.message, "serial 'DONGLE-C', product 'Sentinel HL', owner vm-c"));
        resolve_result_done(&r);
        def_free(d);

        /* owners for `hostdev list` */
        assert_int_equal(registry_fill_owners(reg, inv), 0);
        assert_string_equal(inventory_find(inv, "usb_1_2")->owner, "vm-a");
        assert_string_equal(inventory_find(inv, "usb_1_4_1")->owner, "vm-c");
        assert_null(inventory_find(inv, "usb_1_1")->owner);
        assert_null(inventory_find(inv, "usb_1_4_2")->owner);
        inventory_free(inv);

        /* after a replug elsewhere, the owner follows the identity, not the bus:device */
        assert_int_equal(registry_set_location(reg, "usb:46f4:0001:serial:DONGLE-B", NULL, 0, 0, NULL, &err), 0);
        inv = fixture("move-a");
        assert_int_equal(registry_fill_owners(reg, inv), 0);
        assert_string_equal(inventory_find(inv, "usb_1_2")->owner, "vm-a");
        assert_null(inventory_find(inv, "usb_1_3")->owner);
        inventory_free(inv);
        assert_int_equal(registry_release_domain(reg, "vm-a", NULL, NULL, &err), 1);
        assert_int_equal(registry_release_domain(reg, "vm-c", NULL, NULL, &err), 1);
}

static void test_identity_matches(void **state) {
        struct inventory *inv = fixture("move-a");
        const struct nodedev *moved = inventory_find(inv, "usb_1_3"), *b = inventory_find(inv, "usb_1_2"),
                             *stick = inventory_find(inv, "usb_2_3");
        assert_non_null(moved);
        assert_non_null(b);
        assert_null(stick); /* move-a: the stick is gone, DONGLE-A is on port 3 */

        /* claimed by serial on port 1-1: matches DONGLE-A on its new port */
        struct usb_identity id = { .vendor = 0x46f4, .product = 0x0001, .serial = (char *) "DONGLE-A",
                                   .port = (char *) "1-1", .select = USB_SELECT_IDS | USB_SELECT_SERIAL };
        assert_true(usb_identity_matches(&id, moved));
        assert_false(usb_identity_matches(&id, b));
        /* claimed by port 1-1: does not follow the dongle to 1-3 */
        id.select = USB_SELECT_PORT;
        assert_false(usb_identity_matches(&id, moved));
        /* claimed by port 1-3 (or by its USB3 name 2-3): matches whatever identical dongle is there */
        id.port = (char *) "1-3";
        assert_true(usb_identity_matches(&id, moved));
        id.port = (char *) "2-3";
        assert_true(usb_identity_matches(&id, moved));
        /* by ids alone, a device with a serial is followed by serial */
        id.select = USB_SELECT_IDS;
        id.port = (char *) "1-1";
        assert_true(usb_identity_matches(&id, moved));
        /* other ids never match */
        id.vendor = 0x0781;
        assert_false(usb_identity_matches(&id, moved));
        inventory_free(inv);
}

static void test_other_types(void **state) {
        struct inventory *inv = fixture("");
        struct hostdev_def d = { .mode = HOSTDEV_MODE_SUBSYSTEM, .type = HOSTDEV_TYPE_PCI };
        struct resolve_result r;

        d.source.pci.has_addr = true;
        d.source.pci.addr = (struct pci_addr){ .domain = 0, .bus = 0, .slot = 4, .function = 0 };
        resolve_one(inv, NULL, &d, NULL, &r);
        assert_int_equal(r.status, RESOLVE_OK);
        assert_string_equal(r.device->name, "pci_0000_00_04_0");
        _cleanup_free_ char *key = claim_key_for(&d, r.device);
        assert_string_equal(key, "pci:0000:00:04.0");
        resolve_result_done(&r);

        d.source.pci.addr.slot = 5;
        resolve_one(inv, NULL, &d, NULL, &r);
        assert_int_equal(r.status, RESOLVE_MISSING);
        assert_string_equal(r.message, "no PCI device at 0000:00:05.0");
        resolve_result_done(&r);

        struct hostdev_def n = { .mode = HOSTDEV_MODE_CAPABILITIES, .type = HOSTDEV_TYPE_CAP_NET };
        n.source.caps.interface = (char *) "eth9";
        resolve_one(inv, NULL, &n, NULL, &r);
        assert_int_equal(r.status, RESOLVE_MISSING);
        assert_string_equal(r.message, "no network interface eth9");
        resolve_result_done(&r);

        /* misc by node path: present under HOSTDEV_DEV_ROOT though not an inventory device */
        struct hostdev_def m = { .mode = HOSTDEV_MODE_CAPABILITIES, .type = HOSTDEV_TYPE_CAP_MISC };
        m.source.caps.char_dev = (char *) "/dev/bus/usb/001/005";
        resolve_one(inv, NULL, &m, NULL, &r);
        assert_int_equal(r.status, RESOLVE_OK);
        resolve_result_done(&r);
        m.source.caps.char_dev = (char *) "/dev/input/event9";
        resolve_one(inv, NULL, &m, NULL, &r);
        assert_int_equal(r.status, RESOLVE_MISSING);
        assert_string_equal(r.message, "no character device /dev/input/event9");
        resolve_result_done(&r);

        /* resolve_file keeps input order and indexes */
        struct hostdev_def *u = usb_def(0x46f4, 0x0001, "DONGLE-A", -1, NULL, -1);
        struct hostdev_def *defs[] = { &d, u };
        struct hostdev_file f = { .defs = defs, .n_defs = 2 };
        struct resolve_result *rs = NULL;
        size_t nr = 0;
        assert_int_equal(resolve_file(inv, NULL, &f, NULL, &rs, &nr), 0);
        assert_int_equal(nr, 2);
        assert_int_equal(rs[0].index, 0);
        assert_int_equal(rs[0].status, RESOLVE_MISSING);
        assert_int_equal(rs[1].index, 1);
        assert_int_equal(rs[1].status, RESOLVE_OK);
        assert_string_equal(rs[1].device->name, "usb_1_1");
        resolve_results_free(rs, nr);
        def_free(u);
        inventory_free(inv);
}


/* The public API: resolve, claim (all or nothing), status, release. */
static void test_public_api(void **state) {
        struct inventory *inv = fixture("");
        inventory_free(inv);
        _cleanup_free_ char *path = path_join(tmpdir, "vm.xml", NULL), *any = path_join(tmpdir, "any.xml", NULL);
        const char *xml = "<domain><name>vm-a</name><devices>"
                          "<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/>"
                          "<serial>DONGLE-A</serial></source></hostdev>"
                          "<hostdev mode='subsystem' type='usb'><source><address bus='1' port='4.2'/></source></hostdev>"
                          "</devices></domain>\n";
        const char *xml2 = "<devices><hostdev mode='subsystem' type='usb'><source><address bus='1' port='4.2'/></source></hostdev>"
                           "<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/></source></hostdev>"
                           "</devices>\n";
        assert_int_equal(write_file_atomic(path, xml, strlen(xml), 0644), 0);
        assert_int_equal(write_file_atomic(any, xml2, strlen(xml2), 0644), 0);

        hostdev_resolution *res = NULL;
        char *err = NULL;
        assert_int_equal(hostdev_resolve_file(path, NULL, &res, &err), 0);
        assert_int_equal(hostdev_resolution_count(res), 2);
        assert_string_equal(hostdev_resolution_status(res, 0), "ok");
        assert_string_equal(hostdev_resolution_device(res, 0), "usb_1_1");
        assert_string_equal(hostdev_resolution_device(res, 1), "usb_1_4_2");
        assert_int_equal(hostdev_resolution_n_candidates(res, 1), 1);
        assert_string_equal(hostdev_resolution_candidate(res, 1, 0), "usb_1_4_2");
        assert_null(hostdev_resolution_candidate(res, 1, 1));
        assert_null(hostdev_resolution_status(res, 2));
        assert_null(hostdev_resolution_message(res, 0));
        char *json = NULL;
        assert_int_equal(hostdev_resolution_to_json(res, &json), 0);
        assert_non_null(strstr(json, "\"device\": \"usb_1_4_2\""));
        free(json);
        hostdev_resolution_free(res);

        /* claim: 2 devices; again: no-op; another domain: refused, nothing claimed (all or nothing) */
        assert_int_equal(hostdev_claim("vm-a", path, 0, &err), 2);
        assert_int_equal(hostdev_claim("vm-a", path, 0, &err), 0);
        assert_int_equal(hostdev_claim("vm-b", any, 0, &err), -EBUSY);
        assert_non_null(strstr(err, "device usb_1_4_2 (46f4:0001 serial DONGLE-D) is in use by domain vm-a since"));
        free(TAKE_PTR(err));
        assert_int_equal(hostdev_claim("vm-c", any, getpid(), &err), -EBUSY);
        free(TAKE_PTR(err));
        char *st = NULL;
        assert_int_equal(hostdev_status(&st, &err), 0);
        assert_null(strstr(st, "vm-b"));
        assert_null(strstr(st, "vm-c"));
        assert_non_null(strstr(st, "\"key\": \"usb:port:1-4.2\""));
        free(st);

        /* resolve as seen by another domain */
        assert_int_equal(hostdev_resolve_file(path, "vm-z", &res, &err), 0);
        assert_string_equal(hostdev_resolution_status(res, 0), "in_use");
        assert_string_equal(hostdev_resolution_owner(res, 0), "vm-a");
        assert_non_null(strstr(hostdev_resolution_message(res, 0), "in use by domain vm-a"));
        hostdev_resolution_free(res);

        assert_int_equal(hostdev_release_domain("vm-a", &err), 2);
        assert_int_equal(hostdev_release_domain("vm-a", &err), 0);
        /* now the ambiguous file: the second element is ambiguous */
        assert_int_equal(hostdev_claim("vm-b", any, 0, &err), -ENOTUNIQ);
        assert_non_null(strstr(err, "matches 4 USB devices"));
        free(TAKE_PTR(err));
        assert_int_equal(hostdev_claim("vm-b", "/nonexistent.xml", 0, &err), -ENOENT);
        assert_non_null(err);
        free(TAKE_PTR(err));
        assert_int_equal(hostdev_status(&st, &err), 0);
        assert_string_equal(st, "[\n]");
        free(st);
}


/* PCI: a device whose IOMMU group has a member held by another domain is in use, and cannot be
 * claimed; groups come from the inventory (pci-gen.sh: 01:01.0 and 01:02.0 share group 4). */
static void test_pci_iommu_group(void **state) {
        const char *src = getenv("HOSTDEV_SRCDIR");
        struct inventory *inv = NULL;
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        assert_non_null(src);
        _cleanup_free_ char *cmd = strdup_printf("bash %s/tests/data/sys/pci-gen.sh %s/pci >/dev/null", src, tmpdir);
        assert_int_equal(system(cmd), 0);
        _cleanup_free_ char *sys = strdup_printf("%s/pci/sys", tmpdir), *dev = strdup_printf("%s/pci/dev", tmpdir);
        setenv("HOSTDEV_SYSFS_ROOT", sys, 1);
        setenv("HOSTDEV_DEV_ROOT", dev, 1);
        assert_int_equal(inventory_scan(&inv, &err), 0);
        assert_int_equal(registry_open(&reg, &err), 0);

        struct hostdev_def d1 = { .mode = HOSTDEV_MODE_SUBSYSTEM, .type = HOSTDEV_TYPE_PCI, .managed = TRISTATE_YES };
        d1.source.pci.has_addr = true;
        d1.source.pci.addr = (struct pci_addr){ .bus = 1, .slot = 1 };
        struct hostdev_def d2 = d1;
        d2.source.pci.addr.slot = 2;
        struct hostdev_def d3 = d1;
        d3.source.pci.addr = (struct pci_addr){ .bus = 0, .slot = 3 };
        struct resolve_result r;
        struct claim *c = NULL;

        resolve_one(inv, reg, &d1, "vm-a", &r);
        assert_int_equal(r.status, RESOLVE_OK);
        assert_int_equal(resolve_make_claim(&d1, r.device, &c), 0);
        assert_string_equal(c->key, "pci:0000:01:01.0");
        assert_int_equal(c->pci.iommu_group, 4);
        assert_string_equal(c->pci.orig_driver, "e1000");
        assert_true(c->pci.managed);
        c->pci.iommu_group = -1; /* the inventory's group is used, not only the recorded one */
        assert_int_equal(registry_claim(reg, "vm-a", c, inv, &err), 1);
        claim_free(c);
        resolve_result_done(&r);

        resolve_one(inv, reg, &d2, "vm-b", &r);
        assert_int_equal(r.status, RESOLVE_IN_USE);
        assert_string_equal(r.owner, "vm-a");
        assert_string_equal(r.message, "device pci_0000_01_02_0 shares IOMMU group 4 with pci_0000_01_01_0 (0000:01:01.0), "
                                       "in use by domain vm-a");
        assert_int_equal(resolve_make_claim(&d2, r.device, &c), 0);
        assert_int_equal(registry_claim(reg, "vm-b", c, inv, &err), -EBUSY);
        assert_string_equal(err, "device pci_0000_01_02_0 (0000:01:02.0) shares IOMMU group 4 with pci_0000_01_01_0 "
                                 "(0000:01:01.0), in use by domain vm-a");
        free(TAKE_PTR(err));
        /* the same domain may take the whole group */
        assert_int_equal(registry_claim(reg, "vm-a", c, inv, &err), 1);
        claim_free(c);
        resolve_result_done(&r);

        /* another group is free */
        resolve_one(inv, reg, &d3, "vm-b", &r);
        assert_int_equal(r.status, RESOLVE_OK);
        assert_null(r.owner);
        resolve_result_done(&r);
        assert_int_equal(registry_release_domain(reg, "vm-a", NULL, NULL, &err), 2);
        inventory_free(inv);
}


/* A replug nobody has recorded yet: the owner follows the identity, not the stale node. */
static void test_owner_after_unseen_replug(void **state) {
        struct inventory *inv = fixture("");
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL;
        struct hostdev_def *a = usb_def(0x46f4, 0x0001, "DONGLE-A", -1, NULL, -1), *p = usb_def(-1, -1, NULL, 1, "2", -1);
        struct resolve_result r;
        struct claim *c = NULL;

        assert_int_equal(registry_open(&reg, &err), 0);
        assert_int_equal(resolve_and_claim(reg, inv, &(struct hostdev_file){ .defs = &a, .n_defs = 1 }, "vm-a", NULL,
                                           NULL, NULL, &err), 1);
        assert_int_equal(resolve_and_claim(reg, inv, &(struct hostdev_file){ .defs = &p, .n_defs = 1 }, "vm-p", NULL,
                                           NULL, NULL, &err), 1);
        assert_string_equal(registry_find_by_key(reg, "usb:46f4:0001:serial:DONGLE-A")->node, "usb_1_1");
        inventory_free(inv);

        inv = fixture("move-a"); /* DONGLE-A now on port 1-3; port 1-2 keeps DONGLE-B */
        assert_int_equal(registry_fill_owners(reg, inv), 0);
        assert_string_equal(inventory_find(inv, "usb_1_3")->owner, "vm-a");
        assert_string_equal(inventory_find(inv, "usb_1_2")->owner, "vm-p");
        assert_null(inventory_find(inv, "usb_1_4_1")->owner);
        /* and for resolve: DONGLE-A on its new port is in use by vm-a */
        resolve_one(inv, reg, a, "vm-b", &r);
        assert_int_equal(r.status, RESOLVE_IN_USE);
        assert_string_equal(r.device->name, "usb_1_3");
        assert_string_equal(r.owner, "vm-a");
        resolve_result_done(&r);
        /* a new claim of the moved dongle by another domain is refused by key */
        resolve_one(inv, NULL, a, "vm-b", &r);
        assert_int_equal(resolve_make_claim(a, r.device, &c), 0);
        assert_int_equal(registry_claim(reg, "vm-b", c, inv, &err), -EBUSY);
        assert_non_null(strstr(err, "in use by domain vm-a"));
        claim_free(c);
        resolve_result_done(&r);
        def_free(a);
        def_free(p);
        inventory_free(inv);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_unique_selectors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ambiguous, setup, teardown),
                cmocka_unit_test_setup_teardown(test_serial_collision, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_policy, setup, teardown),
                cmocka_unit_test_setup_teardown(test_usbip_exported, setup, teardown),
                cmocka_unit_test_setup_teardown(test_in_use_and_owners, setup, teardown),
                cmocka_unit_test_setup_teardown(test_identity_matches, setup, teardown),
                cmocka_unit_test_setup_teardown(test_other_types, setup, teardown),
                cmocka_unit_test_setup_teardown(test_public_api, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pci_iommu_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_owner_after_unseen_replug, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
