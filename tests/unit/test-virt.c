/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt glue (src/lib/virt.c) against libvirt's own test driver (test:///FILE, no daemon):
 * the plain <hostdev> handed to libvirt, parsing what domains hold, importing devices libvirt
 * gave on its own as claims (and dropping them when libvirt lets go), refusing them to other
 * domains, all-or-nothing attach when libvirt refuses, and --config selectors in <metadata>.
 * Host devices: a copy of the mini sysfs fixture (DONGLE-A 1-1 dev 2, DONGLE-B 1-2 dev 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostdev-xml.h"
#include "inventory.h"
#include "registry.h"
#include "resolve.h"
#include "util.h"
#include "virt.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hostdev_file *, hostdev_file_free);

static char *tmpdir, *uri, *nodefile;

#define DOMAIN(name, state, devices)                                                               \
        "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"          \
        "    <name>" name "</name>\n"                                                             \
        "    <memory>131072</memory>\n"                                                           \
        "    <os><type>hvm</type></os>\n"                                                         \
        "    <devices>" devices "</devices>\n"                                                    \
        "    <test:runstate>" state "</test:runstate>\n"                                          \
        "  </domain>\n"
#define HOSTDEV_B                                                                                  \
        "<hostdev mode='subsystem' type='usb' managed='no'><source><vendor id='0x46f4'/>"         \
        "<product id='0x0001'/><address bus='1' device='3'/></source></hostdev>"

/* vm-a running (no devices), vm-b running with DONGLE-B (libvirt's own), vm-c shut off */
static void write_node(bool b_holds) {
        _cleanup_free_ char *text = strdup_printf("<node>\n%s%s%s</node>\n", DOMAIN("vm-a", "1", ""),
                                                  b_holds ? DOMAIN("vm-b", "1", HOSTDEV_B) : DOMAIN("vm-b", "1", ""),
                                                  DOMAIN("vm-c", "5", ""));
        FILE *f = fopen(nodefile, "we");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static int setup(void **state) {
        char t[] = "/tmp/test-virt-XXXXXX";
        const char *data = getenv("HOSTDEV_TEST_DATA");
        (void) state;
        if (!data || !mkdtemp(t))
                return -1;
        tmpdir = strdup(t);
        _cleanup_free_ char *sys = path_join(tmpdir, "sys", NULL);
        _cleanup_free_ char *cmd = strdup_printf("cp -a '%s/sys/mini' '%s'", data, sys);
        if (system(cmd) != 0)
                return -1;
        setenv("HOSTDEV_SYSFS_ROOT", sys, 1);
        _cleanup_free_ char *st = path_join(tmpdir, "state", NULL);
        setenv("HOSTDEV_STATE_DIR", st, 1);
        nodefile = path_join(tmpdir, "node.xml", NULL);
        uri = strdup_printf("test://%s", nodefile);
        write_node(true);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", tmpdir);
        (void) !system(cmd);
        free(tmpdir);
        free(uri);
        free(nodefile);
        return 0;
}

static char *logbuf;
static void log_cb(void *userdata, int level, const char *line) {
        (void) userdata;
        (void) level;
        char *n = strdup_printf("%s%s\n", logbuf ? logbuf : "", line);
        free(logbuf);
        logbuf = n;
}

static struct hostdev_file *parse(const char *xml) {
        struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL;
        assert_int_equal(hostdev_file_parse_buffer(xml, strlen(xml), "test.xml", &f, &err), 0);
        return f;
}

#define SERIAL_XML(s)                                                                              \
        "<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/>" \
        "<serial>" s "</serial></source></hostdev>"

static void test_usb_xml(void **state) {
        (void) state;
        _cleanup_free_ char *x = virt_usb_hostdev_xml(0x46f4, 0x0001, 2, 5);
        assert_string_equal(x, "<hostdev mode='subsystem' type='usb' managed='no'>\n"
                               "  <source>\n"
                               "    <vendor id='0x46f4'/>\n"
                               "    <product id='0x0001'/>\n"
                               "    <address bus='2' device='5'/>\n"
                               "  </source>\n"
                               "</hostdev>\n");
        struct pci_addr a = { .domain = 0, .bus = 3, .slot = 0x1f, .function = 7 };
        _cleanup_free_ char *p = virt_pci_hostdev_xml(&a, true);
        assert_non_null(strstr(p, "managed='yes'"));
        assert_non_null(strstr(p, "<address domain='0x0000' bus='0x03' slot='0x1f' function='0x7'/>"));
}

static void test_parse(void **state) {
        (void) state;
        const char *xml =
                "<domain type='kvm'><name>vm-x</name><devices>"
                "<hostdev mode='subsystem' type='usb' managed='no'><source><vendor id='0x46f4'/>"
                "<product id='0x0001'/><address bus='2' device='7'/></source><alias name='hostdev0'/></hostdev>"
                "<hostdev mode='subsystem' type='usb'><source><vendor id='0x0204'/><product id='0x6025'/></source></hostdev>"
                "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x03' "
                "slot='0x00' function='0x1'/></source></hostdev>"
                "<hostdev mode='capabilities' type='net'><source><interface>eth1</interface></source></hostdev>"
                "<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host0'/></source></hostdev>"
                "</devices></domain>";
        struct virt_held *h = NULL;
        size_t n = 0;
        _cleanup_free_ char *err = NULL;

        assert_int_equal(virt_parse_domain_hostdevs(xml, &h, &n, &err), 0);
        assert_int_equal(n, 3);
        assert_string_equal(h[0].domain, "vm-x");
        assert_int_equal(h[0].type, HOSTDEV_TYPE_USB);
        assert_true(h[0].has_ids && h[0].has_address);
        assert_int_equal(h[0].vendor, 0x46f4);
        assert_int_equal(h[0].product, 1);
        assert_int_equal(h[0].bus, 2);
        assert_int_equal(h[0].devnum, 7);
        assert_string_equal(h[0].alias, "hostdev0");
        assert_true(h[1].has_ids);
        assert_false(h[1].has_address);
        assert_null(h[1].alias);
        assert_int_equal(h[2].type, HOSTDEV_TYPE_PCI);
        assert_int_equal(h[2].pci.bus, 3);
        assert_int_equal(h[2].pci.function, 1);
        virt_held_free_array(h, n);

        h = NULL;
        n = 0;
        assert_int_equal(virt_parse_domain_hostdevs("<devices/>", &h, &n, &err), -EBADMSG);
        assert_non_null(err);
        assert_int_equal(n, 0);
}

/* libvirt's own DONGLE-B of vm-b becomes vm-b's claim; list shows the owner */
static void test_sync_held(void **state) {
        (void) state;
        _cleanup_(virt_closep) struct virt_conn *c = NULL;
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_free_ char *err = NULL;
        const struct claim *cl;

        write_node(true);
        assert_int_equal(virt_open(uri, &c, &err), 0);
        assert_int_equal(registry_open(&reg, &err), 0);
        assert_int_equal(inventory_scan_usb(&inv, &err), 0);
        assert_int_equal(virt_sync_held(c, reg, inv, log_cb, NULL, &err), 0);
        assert_int_equal(registry_n_claims(reg), 1);
        cl = registry_claim_at(reg, 0);
        assert_string_equal(cl->domain, "vm-b");
        assert_string_equal(cl->node, "usb_1_2");
        assert_string_equal(cl->usb.serial, "DONGLE-B");
        assert_int_equal(cl->state, CLAIM_STATE_ATTACHED);
        assert_null(cl->selector_xml);
        assert_string_equal(registry_domain_find(reg, "vm-b")->uri, uri);
        assert_int_equal(registry_fill_owners(reg, inv), 0);
        assert_string_equal(inventory_find(inv, "usb_1_2")->owner, "vm-b");
        assert_null(inventory_find(inv, "usb_1_1")->owner);
        /* idempotent */
        assert_int_equal(virt_sync_held(c, reg, inv, log_cb, NULL, &err), 0);
        assert_int_equal(registry_n_claims(reg), 1);
}

/* DONGLE-B, held by vm-b through libvirt, is refused to vm-a before libvirt is asked */
static void test_attach_in_use(void **state) {
        (void) state;
        _cleanup_(virt_closep) struct virt_conn *c = NULL;
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = parse(SERIAL_XML("DONGLE-B"));
        _cleanup_free_ char *err = NULL;

        write_node(true);
        assert_int_equal(virt_open(uri, &c, &err), 0);
        assert_int_equal(virt_attach_file(c, f, "vm-a", VIRT_AFFECT_LIVE, log_cb, NULL, &err), -EBUSY);
        assert_non_null(strstr(err, "in use by domain vm-b"));
        assert_int_equal(registry_open(&reg, NULL), 0);
        for (size_t i = 0; i < registry_n_claims(reg); i++)
                assert_string_not_equal(registry_claim_at(reg, i)->domain, "vm-a");
}

/* libvirt refuses (the test driver cannot hotplug): nothing stays claimed for vm-a */
static void test_attach_refused_rolls_back(void **state) {
        (void) state;
        _cleanup_(virt_closep) struct virt_conn *c = NULL;
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = parse(SERIAL_XML("DONGLE-A"));
        _cleanup_free_ char *err = NULL;

        write_node(true);
        assert_int_equal(virt_open(uri, &c, &err), 0);
        assert_true(virt_attach_file(c, f, "vm-a", VIRT_AFFECT_LIVE, log_cb, NULL, &err) < 0);
        assert_non_null(strstr(err, "libvirt refused to attach"));
        assert_non_null(strstr(err, "usb_1_1"));
        assert_int_equal(registry_open(&reg, NULL), 0);
        assert_null(registry_find_by_node(reg, "usb_1_1"));
        /* not running and no --config: refused up front */
        free(err);
        err = NULL;
        assert_int_equal(virt_attach_file(c, f, "vm-c", VIRT_AFFECT_LIVE, log_cb, NULL, &err), -ESRCH);
        assert_non_null(strstr(err, "not running"));
        free(err);
        err = NULL;
        assert_int_equal(virt_attach_file(c, f, "no-such-vm", VIRT_AFFECT_LIVE, log_cb, NULL, &err), -ENOENT);
}

/* --config: the selectors go to the persistent <metadata>, never a bus/device */
static void test_config_metadata(void **state) {
        (void) state;
        _cleanup_(virt_closep) struct virt_conn *c = NULL;
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = parse(SERIAL_XML("DONGLE-A"));
        _cleanup_(hostdev_file_freep) struct hostdev_file *g = parse(SERIAL_XML("DONGLE-B"));
        _cleanup_(hostdev_file_freep) struct hostdev_file *back = NULL;
        _cleanup_free_ char *err = NULL, *m = NULL, *m2 = NULL, *m3 = NULL;

        write_node(true);
        assert_int_equal(virt_open(uri, &c, &err), 0);
        assert_int_equal(virt_metadata_get(c, "vm-c", &m, &err), 0);
        assert_null(m);
        assert_int_equal(virt_attach_file(c, f, "vm-c", VIRT_AFFECT_LIVE | VIRT_AFFECT_CONFIG, log_cb, NULL, &err), 0);
        assert_int_equal(virt_attach_file(c, g, "vm-c", VIRT_AFFECT_LIVE | VIRT_AFFECT_CONFIG, log_cb, NULL, &err), 0);
        /* the same selector twice is kept once */
        assert_int_equal(virt_attach_file(c, f, "vm-c", VIRT_AFFECT_LIVE | VIRT_AFFECT_CONFIG, log_cb, NULL, &err), 0);
        assert_int_equal(virt_metadata_get(c, "vm-c", &m, &err), 0);
        assert_non_null(m);
        assert_non_null(strstr(m, "<devices"));
        assert_non_null(strstr(m, "DONGLE-A"));
        assert_null(strstr(m, "device="));
        assert_int_equal(hostdev_file_parse_buffer(m, strlen(m), "metadata", &back, &err), 0);
        assert_int_equal(back->n_defs, 2);
        assert_string_equal(back->defs[0]->source.usb.serial, "DONGLE-A");
        assert_string_equal(back->defs[1]->source.usb.serial, "DONGLE-B");
        /* the persistent <devices> got nothing */
        {
                struct virt_held *h = NULL;
                size_t n = 0;
                _cleanup_free_ char *xml = NULL;
                bool active = true;
                assert_int_equal(virt_domain_xml(c, "vm-c", &active, &xml, &err), 0);
                assert_false(active);
                assert_int_equal(virt_parse_domain_hostdevs(xml, &h, &n, &err), 0);
                assert_int_equal(n, 0);
                virt_held_free_array(h, n);
        }
        /* detach --config removes exactly that selector */
        assert_int_equal(virt_detach_file(c, f, "vm-c", VIRT_AFFECT_LIVE | VIRT_AFFECT_CONFIG, log_cb, NULL, &err), 0);
        assert_int_equal(virt_metadata_get(c, "vm-c", &m2, &err), 0);
        assert_non_null(m2);
        assert_null(strstr(m2, "DONGLE-A"));
        assert_non_null(strstr(m2, "DONGLE-B"));
        assert_int_equal(virt_detach_file(c, g, "vm-c", VIRT_AFFECT_LIVE | VIRT_AFFECT_CONFIG, log_cb, NULL, &err), 0);
        assert_int_equal(virt_metadata_get(c, "vm-c", &m3, &err), 0);
        assert_null(m3);
}

/* libvirt lets DONGLE-B go: the imported claim is dropped; hostdev's own claims are not */
static void test_sync_drops(void **state) {
        (void) state;
        _cleanup_(virt_closep) struct virt_conn *c = NULL, *c2 = NULL;
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        _cleanup_free_ char *err = NULL;
        struct domain_record rec = { .name = (char *) "vm-a", .uri = uri };
        _cleanup_(hostdev_file_freep) struct hostdev_file *f = parse(SERIAL_XML("DONGLE-A"));

        write_node(true);
        assert_int_equal(virt_open(uri, &c, &err), 0);
        assert_int_equal(registry_open(&reg, &err), 0);
        assert_int_equal(inventory_scan_usb(&inv, &err), 0);
        assert_int_equal(virt_sync_held(c, reg, inv, log_cb, NULL, &err), 0);
        assert_non_null(registry_find_by_node(reg, "usb_1_2"));
        /* hostdev's own claim of vm-a (as attach-device --connect leaves it) */
        assert_int_equal(resolve_and_claim(reg, inv, f, "vm-a", &rec, NULL, NULL, &err), 1);

        write_node(false); /* a new connection sees vm-b without the device */
        assert_int_equal(virt_open(uri, &c2, &err), 0);
        assert_int_equal(virt_sync_held(c2, reg, inv, log_cb, NULL, &err), 0);
        assert_null(registry_find_by_node(reg, "usb_1_2"));
        assert_non_null(registry_find_by_node(reg, "usb_1_1"));
        assert_non_null(strstr(logbuf, "libvirt no longer gives usb_1_2"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_usb_xml),
                cmocka_unit_test(test_parse),
                cmocka_unit_test_setup_teardown(test_sync_held, setup, teardown),
                cmocka_unit_test_setup_teardown(test_attach_in_use, setup, teardown),
                cmocka_unit_test_setup_teardown(test_attach_refused_rolls_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_metadata, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sync_drops, setup, teardown),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        free(logbuf);
        return r;
}
