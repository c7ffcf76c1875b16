/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SCSI passthrough: adapter and sg-name resolution to /dev/sgN on the mini fixture, the QEMU
 * -blockdev/scsi-generic mapping, shareable claims, sgio (unpriv_sgio) and rawio, and the
 * vhost-scsi target check against fixture configfs trees (tests/data/sys/scsi-vhost-* are
 * built here, in a temporary directory, from the cases below). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <cmocka.h>

#include "error.h"
#include "json-util.h"
#include "hostdev-xml.h"
#include "inventory.h"
#include "qemu-args.h"
#include "registry.h"
#include "resolve.h"
#include "scsi-host.h"
#include "util.h"

static char tmpdir[256];

static const char *data_dir(void) {
        const char *d = getenv("HOSTDEV_TEST_DATA");
        if (!d)
                fail_msg("HOSTDEV_TEST_DATA is not set (run through meson test)");
        return d;
}

static int setup(void **state) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/hostdev-scsi-XXXXXX");
        if (!mkdtemp(tmpdir))
                return -1;
        _cleanup_free_ char *st = path_join(tmpdir, "state", NULL);
        setenv("HOSTDEV_STATE_DIR", st, 1);
        unsetenv("HOSTDEV_PROC_ROOT");
        return 0;
}

static int teardown(void **state) {
        _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

/* A private copy of the mini fixture (tests change it), scanned. */
static struct inventory *mini_copy(const char *name) {
        _cleanup_free_ char *dst = path_join(tmpdir, name, NULL), *err = NULL;
        _cleanup_free_ char *cmd = strdup_printf("cp -a '%s/sys/mini' '%s'", data_dir(), dst);
        struct inventory *inv = NULL;
        assert_int_equal(system(cmd), 0);
        setenv("HOSTDEV_SYSFS_ROOT", dst, 1);
        setenv("HOSTDEV_DEV_ROOT", "/dev", 1);
        assert_int_equal(inventory_scan(&inv, &err), 0);
        return inv;
}

/* write_string_file() writes existing (sysfs) files only; fixtures need new ones. */
static void create_file(const char *path, const char *text) {
        FILE *fp = fopen(path, "we");
        assert_non_null(fp);
        assert_true(fputs(text, fp) >= 0);
        assert_int_equal(fclose(fp), 0);
}

static struct hostdev_file *parse(const char *xml) {
        struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL;
        int r = hostdev_file_parse_buffer(xml, strlen(xml), "test.xml", &f, &err);
        if (r < 0)
                fail_msg("parse failed: %s", strna(err));
        return f;
}

static const char adapter_xml[] = "<hostdev mode='subsystem' type='scsi'>"
                                  "<source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source>"
                                  "<address type='drive' controller='1' bus='0' target='3' unit='2'/>"
                                  "</hostdev>";
/* the reviewed design's older form */
static const char sg_xml[] = "<hostdev mode='capability' type='scsi'><source name='sg0'/>"
                             "<target address='0:0:0:0'/></hostdev>";

static void test_resolve_forms(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = mini_copy("sys");
        struct hostdev_file *fa = parse(adapter_xml), *fs = parse(sg_xml);
        struct resolve_result ra = { 0 }, rs = { 0 };
        _cleanup_free_ char *ka = NULL, *ks = NULL;

        assert_int_equal(resolve_def(inv, NULL, fa->defs[0], "vm-a", &ra), 0);
        assert_int_equal(ra.status, RESOLVE_OK);
        assert_string_equal(ra.device->name, "scsi_0_0_0_0");
        assert_string_equal(ra.device->u.scsi.sg_name, "sg0");
        assert_int_equal(resolve_def(inv, NULL, fs->defs[0], "vm-a", &rs), 0);
        assert_int_equal(rs.status, RESOLVE_OK);
        /* both forms select the same device and so conflict through the same claim key */
        assert_ptr_equal(ra.device, rs.device);
        ka = claim_key_for(fa->defs[0], ra.device);
        ks = claim_key_for(fs->defs[0], rs.device);
        assert_string_equal(ka, ks);

        /* a wrong address is missing, with the address in the message */
        fa->defs[0]->source.scsi.target = 5;
        resolve_result_done(&ra);
        assert_int_equal(resolve_def(inv, NULL, fa->defs[0], "vm-a", &ra), 0);
        assert_int_equal(ra.status, RESOLVE_MISSING);
        assert_non_null(strstr(ra.message, "scsi_host0 bus 0 target 5 unit 0"));
        resolve_result_done(&ra);
        resolve_result_done(&rs);
        hostdev_file_free(fa);
        hostdev_file_free(fs);
}

static void test_qemu_device(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = mini_copy("sys");
        struct hostdev_file *f = parse(adapter_xml);
        _cleanup_(qemu_device_freep) struct qemu_device *d = NULL;
        _cleanup_free_ char *err = NULL;
        const struct nodedev *dev = inventory_find(inv, "scsi_0_0_0_0");

        assert_non_null(dev);
        assert_int_equal(qemu_device_build(f->defs[0], dev, 4, &d, &err), 0);
        assert_non_null(d->blockdev);
        assert_string_equal(qemu_json_string(d->blockdev),
                            "{\"driver\":\"host_device\",\"filename\":\"/dev/sg0\",\"node-name\":\"hostdev4-backend\","
                            "\"read-only\":false}");
        assert_string_equal(qemu_json_string(d->device),
                            "{\"driver\":\"scsi-generic\",\"drive\":\"hostdev4-backend\",\"id\":\"hostdev4\","
                            "\"bus\":\"scsi1.0\",\"channel\":0,\"scsi-id\":3,\"lun\":2}");
        /* hotplug renames keep the blockdev node and the drive in step */
        assert_int_equal(qemu_device_set_id(d, "hostdev9"), 0);
        assert_string_equal(qemu_json_string(d->blockdev),
                            "{\"driver\":\"host_device\",\"filename\":\"/dev/sg0\",\"node-name\":\"hostdev9-backend\","
                            "\"read-only\":false}");
        assert_non_null(strstr(qemu_json_string(d->device), "\"drive\":\"hostdev9-backend\""));
        hostdev_file_free(f);
}

static struct claim *scsi_claim(const struct inventory *inv, bool shareable) {
        struct hostdev_file *f = parse(adapter_xml);
        struct claim *c = NULL;
        f->defs[0]->shareable = shareable;
        assert_int_equal(resolve_make_claim(f->defs[0], inventory_find(inv, "scsi_0_0_0_0"), &c), 0);
        hostdev_file_free(f);
        return c;
}

static void test_shareable(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = mini_copy("sys");
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_(claim_freep) struct claim *shared = scsi_claim(inv, true), *excl = scsi_claim(inv, false);
        _cleanup_free_ char *err = NULL;

        assert_int_equal(registry_open(&reg, &err), 0);
        /* two domains that both say shareable may hold it */
        assert_int_equal(registry_claim(reg, "vm-a", shared, inv, &err), 1);
        assert_int_equal(registry_claim(reg, "vm-b", shared, inv, &err), 1);
        assert_int_equal(registry_n_claims(reg), 2);
        /* one that does not say so may not, and is told why */
        assert_int_equal(registry_claim(reg, "vm-c", excl, inv, &err), -EBUSY);
        assert_non_null(strstr(err, "add <shareable/>"));
        free(err);
        err = NULL;

        /* each domain acts on its own claim of the shared key */
        assert_int_equal(registry_set_claim_state(reg, "vm-b", shared->key, CLAIM_STATE_ATTACHED, &err), 0);
        assert_int_equal(registry_find_domain_claim(reg, "vm-a", shared->key)->state, CLAIM_STATE_CLAIMED);
        assert_int_equal(registry_find_domain_claim(reg, "vm-b", shared->key)->state, CLAIM_STATE_ATTACHED);
        assert_int_equal(registry_release_claim(reg, "vm-b", shared->key, NULL, &err), 0);
        assert_non_null(registry_find_domain_claim(reg, "vm-a", shared->key));
        assert_null(registry_find_domain_claim(reg, "vm-b", shared->key));

        /* resolve agrees: in use for an exclusive request, fine for a shareable one */
        struct hostdev_file *f = parse(adapter_xml);
        struct resolve_result r = { 0 };
        assert_int_equal(resolve_def(inv, reg, f->defs[0], "vm-c", &r), 0);
        assert_int_equal(r.status, RESOLVE_IN_USE);
        assert_string_equal(r.owner, "vm-a");
        resolve_result_done(&r);
        f->defs[0]->shareable = true;
        assert_int_equal(resolve_def(inv, reg, f->defs[0], "vm-c", &r), 0);
        assert_int_equal(r.status, RESOLVE_OK);
        resolve_result_done(&r);
        hostdev_file_free(f);

        /* an exclusive holder blocks a shareable request too */
        assert_int_equal(registry_release_domain(reg, "vm-a", NULL, NULL, &err), 1);
        assert_int_equal(registry_claim(reg, "vm-x", excl, inv, &err), 1);
        assert_int_equal(registry_claim(reg, "vm-y", shared, inv, &err), -EBUSY);
}

/* hostdev status names a SCSI claim by its LUN (adapter bus:target:unit) and the host's sg/block
 * names, as USB and PCI claims by theirs; recorded in the registry, so a reload keeps them. */
static void assert_scsi_identity_json(const struct registry *reg, const char *sg, const char *block) {
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_object *arr = NULL;
        json_object *id, *v;

        assert_int_equal(registry_status_json(reg, NULL, &text), 0);
        arr = json_tokener_parse(text);
        assert_non_null(arr);
        assert_int_equal(json_object_array_length(arr), 1);
        assert_true(json_object_object_get_ex(json_object_array_get_idx(arr, 0), "identity", &id));
        assert_true(json_object_object_get_ex(id, "adapter", &v));
        assert_string_equal(json_object_get_string(v), "scsi_host0");
        assert_true(json_object_object_get_ex(id, "bus", &v));
        assert_int_equal(json_object_get_int(v), 0);
        assert_true(json_object_object_get_ex(id, "target", &v));
        assert_int_equal(json_object_get_int(v), 0);
        assert_true(json_object_object_get_ex(id, "unit", &v));
        assert_int_equal(json_object_get_int(v), 0);
        assert_true(json_object_object_get_ex(id, "sg", &v));
        if (sg)
                assert_string_equal(json_object_get_string(v), sg);
        else
                assert_null(v);
        assert_true(json_object_object_get_ex(id, "block", &v));
        if (block)
                assert_string_equal(json_object_get_string(v), block);
        else
                assert_null(v);
}

static void test_status_identity(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = mini_copy("sys");
        _cleanup_(registry_freep) struct registry *reg = NULL, *again = NULL;
        _cleanup_(claim_freep) struct claim *c = scsi_claim(inv, false);
        _cleanup_free_ char *err = NULL, *id = NULL, *id2 = NULL, *id3 = NULL;

        assert_int_equal(registry_open(&reg, &err), 0);
        assert_int_equal(registry_claim(reg, "vm-a", c, inv, &err), 1);
        id = claim_identity_string(registry_claim_at(reg, 0));
        assert_string_equal(id, "scsi_host0 0:0:0 (sg0, sda)");
        assert_scsi_identity_json(reg, "sg0", "sda");

        /* from the registry file, as another hostdev process reads it */
        assert_int_equal(registry_open(&again, &err), 0);
        id2 = claim_identity_string(registry_claim_at(again, 0));
        assert_string_equal(id2, "scsi_host0 0:0:0 (sg0, sda)");
        assert_scsi_identity_json(again, "sg0", "sda");

        /* claimed without an inventory: the LUN from the node name, no host names */
        assert_int_equal(registry_release_domain(reg, "vm-a", NULL, NULL, &err), 1);
        assert_int_equal(registry_claim(reg, "vm-b", c, NULL, &err), 1);
        id3 = claim_identity_string(registry_claim_at(reg, 0));
        assert_string_equal(id3, "scsi_host0 0:0:0");
        assert_scsi_identity_json(reg, NULL, NULL);
}

static void test_sgio(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = mini_copy("sys");
        struct hostdev_file *f = parse(adapter_xml);
        const struct nodedev *dev = inventory_find(inv, "scsi_0_0_0_0");
        _cleanup_free_ char *err = NULL, *path = NULL, *val = NULL;
        _cleanup_free_ char *attr = path_join(dev->sysfs_path, "block/sda/queue/unpriv_sgio", NULL);

        /* the mini kernel has no unpriv_sgio: unfiltered is refused, filtered is a no-op */
        assert_int_equal(scsi_unpriv_sgio_path(dev, &path), -ENOENT);
        f->defs[0]->sgio = SCSI_SGIO_UNFILTERED;
        assert_int_equal(scsi_hostdev_prepare(f->defs[0], dev, 0, &err), -EOPNOTSUPP);
        assert_non_null(strstr(err, "unpriv_sgio"));
        free(err);
        err = NULL;
        f->defs[0]->sgio = SCSI_SGIO_FILTERED;
        assert_int_equal(scsi_hostdev_prepare(f->defs[0], dev, 0, &err), 0);

        /* a kernel with the attribute: it is written */
        _cleanup_free_ char *qdir = path_join(dev->sysfs_path, "block/sda/queue", NULL);
        assert_int_equal(mkdir_p(qdir, 0755), 0);
        create_file(attr, "0\n");
        assert_int_equal(scsi_unpriv_sgio_path(dev, &path), 0);
        assert_string_equal(path, attr);
        f->defs[0]->sgio = SCSI_SGIO_UNFILTERED;
        assert_int_equal(scsi_hostdev_prepare(f->defs[0], dev, 0, &err), 0);
        assert_int_equal(read_one_line_file(attr, &val), 0);
        assert_string_equal(val, "1");
        free(val);
        val = NULL;
        f->defs[0]->sgio = SCSI_SGIO_FILTERED;
        assert_int_equal(scsi_hostdev_prepare(f->defs[0], dev, 0, &err), 0);
        assert_int_equal(read_one_line_file(attr, &val), 0);
        assert_string_equal(val, "0");
        hostdev_file_free(f);
}

static void write_status(const char *proc, int pid, const char *capeff) {
        _cleanup_free_ char *dir = strdup_printf("%s/%d", proc, pid), *p = NULL;
        _cleanup_free_ char *text = strdup_printf("Name:\tqemu\nCapInh:\t0000000000000000\nCapEff:\t%s\n", capeff);
        assert_int_equal(mkdir_p(dir, 0755), 0);
        p = path_join(dir, "status", NULL);
        create_file(p, text);
}

static void test_rawio(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = mini_copy("sys");
        struct hostdev_file *f = parse(adapter_xml);
        const struct nodedev *dev = inventory_find(inv, "scsi_0_0_0_0");
        _cleanup_free_ char *err = NULL, *proc = path_join(tmpdir, "proc", NULL);

        write_status(proc, 100, "0000000000000000");
        write_status(proc, 101, "0000000000020000"); /* CAP_SYS_RAWIO = 17 */
        setenv("HOSTDEV_PROC_ROOT", proc, 1);
        f->defs[0]->rawio = TRISTATE_YES;
        assert_int_equal(scsi_hostdev_prepare(f->defs[0], dev, 100, &err), -EPERM);
        assert_non_null(strstr(err, "CAP_SYS_RAWIO"));
        assert_int_equal(scsi_hostdev_prepare(f->defs[0], dev, 101, &err), 0);
        assert_int_equal(scsi_hostdev_prepare(f->defs[0], dev, 102, &err), -ENOENT); /* no such process */
        f->defs[0]->rawio = TRISTATE_NO;
        assert_int_equal(scsi_hostdev_prepare(f->defs[0], dev, 100, &err), 0);
        unsetenv("HOSTDEV_PROC_ROOT");
        hostdev_file_free(f);
}

/* ---- vhost-scsi -------------------------------------------------------------------------- */

static void mkdirs(const char *root, const char *rel) {
        _cleanup_free_ char *p = path_join(root, rel, NULL);
        assert_int_equal(mkdir_p(p, 0755), 0);
}

static int check(const char *wwpn, char **err) {
        free(*err);
        *err = NULL;
        return vhost_scsi_check_target(wwpn, err);
}

static void test_vhost_target(void **state) {
        _cleanup_free_ char *sys = path_join(tmpdir, "scsi-vhost-sys", NULL);
        _cleanup_free_ char *dev = path_join(tmpdir, "scsi-vhost-dev", NULL);
        _cleanup_free_ char *node = path_join(dev, "vhost-scsi", NULL), *err = NULL;
        const char *w = "naa.5001405df3e54061";

        assert_int_equal(mkdir_p(sys, 0755), 0);
        assert_int_equal(mkdir_p(dev, 0755), 0);
        setenv("HOSTDEV_SYSFS_ROOT", sys, 1);
        setenv("HOSTDEV_DEV_ROOT", dev, 1);

        assert_int_equal(check(w, &err), -ENOENT);
        assert_non_null(strstr(err, "configfs"));
        mkdirs(sys, "kernel/config/target");
        assert_int_equal(check(w, &err), -ENOENT);
        assert_non_null(strstr(err, "no vhost fabric"));
        mkdirs(sys, "kernel/config/target/vhost/naa.50014050000000aa/tpgt_1");
        assert_int_equal(check(w, &err), -ENOENT);
        assert_non_null(strstr(err, "no vhost-scsi target naa.5001405df3e54061"));
        assert_non_null(strstr(err, "configured: naa.50014050000000aa"));
        mkdirs(sys, "kernel/config/target/vhost/naa.5001405df3e54061");
        assert_int_equal(check(w, &err), -ENOENT);
        assert_non_null(strstr(err, "no target portal group"));
        mkdirs(sys, "kernel/config/target/vhost/naa.5001405df3e54061/tpgt_1/lun/lun_0");
        assert_int_equal(check(w, &err), -ENODEV);
        assert_non_null(strstr(err, "vhost-scsi is not there"));
        /* the node QEMU opens: a character device (mknod needs root, as this suite does) */
        if (mknod(node, S_IFCHR | 0600, makedev(10, 60)) < 0)
                fail_msg("mknod %s: %s (test-scsi needs root)", node, strerror(errno));
        assert_int_equal(check(w, &err), 0);
        assert_int_equal(check("../etc", &err), -EINVAL);
        assert_int_equal(check("", &err), -EINVAL);

        /* and the QEMU device for it */
        struct hostdev_file *f =
                parse("<hostdev mode='subsystem' type='scsi_host'><source protocol='vhost' wwpn='naa.5001405df3e54061'/>"
                      "<address type='pci' domain='0x0000' bus='0x00' slot='0x0a' function='0x0'/></hostdev>");
        _cleanup_(qemu_device_freep) struct qemu_device *d = NULL;
        struct resolve_result r = { 0 };
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        assert_int_equal(inventory_scan(&inv, &err), 0);
        assert_int_equal(resolve_def(inv, NULL, f->defs[0], "vm-a", &r), 0);
        assert_int_equal(r.status, RESOLVE_OK);
        assert_null(r.device);
        resolve_result_done(&r);
        assert_int_equal(qemu_device_build(f->defs[0], NULL, 0, &d, &err), 0);
        assert_null(d->blockdev);
        assert_string_equal(qemu_json_string(d->device),
                            "{\"driver\":\"vhost-scsi-pci\",\"wwpn\":\"naa.5001405df3e54061\",\"id\":\"hostdev0\","
                            "\"bus\":\"pcie.0\",\"addr\":\"0xa\"}");
        hostdev_file_free(f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_resolve_forms, setup, teardown),
                cmocka_unit_test_setup_teardown(test_qemu_device, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shareable, setup, teardown),
                cmocka_unit_test_setup_teardown(test_status_identity, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sgio, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rawio, setup, teardown),
                cmocka_unit_test_setup_teardown(test_vhost_target, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
