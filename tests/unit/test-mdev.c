/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Mediated devices on fixture trees (copies of tests/data/sys/mini, changed per case): types and
 * instances in the inventory, resolution by uuid, the vfio-pci sysfsdev argument, and the
 * errors for a missing instance, a type the parent no longer offers, a wrong device API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "error.h"
#include "hostdev-xml.h"
#include "inventory.h"
#include "qemu-args.h"
#include "resolve.h"
#include "util.h"

#define UUID "8f1c4a2e-0c2b-4a5e-9d3f-6a7b8c9d0e1f"
#define GPU "devices/pci0000:00/0000:00:06.0"

static char tmpdir[256];

static int setup(void **state) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/hostdev-mdev-XXXXXX");
        return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
        _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", tmpdir);
        return system(cmd) == 0 ? 0 : -1;
}

/* tmpdir/mdev-NAME: a copy of the mini fixture, after `shell` ran in it; scanned. */
static struct inventory *fixture(const char *name, const char *shell) {
        const char *data = getenv("HOSTDEV_TEST_DATA");
        _cleanup_free_ char *dst = NULL, *cmd = NULL, *err = NULL;
        struct inventory *inv = NULL;
        if (!data)
                fail_msg("HOSTDEV_TEST_DATA is not set (run through meson test)");
        dst = strdup_printf("%s/mdev-%s", tmpdir, name);
        cmd = strdup_printf("cp -a '%s/sys/mini' '%s' && cd '%s' && { %s; }", data, dst, dst, shell ? shell : ":");
        assert_int_equal(system(cmd), 0);
        setenv("HOSTDEV_SYSFS_ROOT", dst, 1);
        assert_int_equal(inventory_scan(&inv, &err), 0);
        return inv;
}

static struct hostdev_file *parse(const char *xml) {
        struct hostdev_file *f = NULL;
        _cleanup_free_ char *err = NULL;
        if (hostdev_file_parse_buffer(xml, strlen(xml), "test.xml", &f, &err) < 0)
                fail_msg("parse failed: %s", strna(err));
        return f;
}

static struct hostdev_file *mdev_file(const char *uuid, const char *model) {
        _cleanup_free_ char *xml = strdup_printf("<hostdev mode='subsystem' type='mdev' model='%s'>"
                                                 "<source><address uuid='%s'/></source></hostdev>",
                                                 model, uuid);
        return parse(xml);
}

static void test_inventory(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv =
                fixture("two-types", "mkdir -p " GPU "/mdev_supported_types/nvidia-12 && "
                                     "echo 'GRID M60-1Q' > " GPU "/mdev_supported_types/nvidia-12/name && "
                                     "echo vfio-pci > " GPU "/mdev_supported_types/nvidia-12/device_api && "
                                     "echo 0 > " GPU "/mdev_supported_types/nvidia-12/available_instances");
        const struct nodedev *gpu = inventory_find(inv, "pci_0000_00_06_0");
        const struct nodedev *m = inventory_find(inv, "mdev_8f1c4a2e_0c2b_4a5e_9d3f_6a7b8c9d0e1f");
        unsigned seen = 0;

        assert_non_null(gpu);
        assert_int_equal(gpu->u.pci.n_mdev_types, 2);
        for (size_t i = 0; i < gpu->u.pci.n_mdev_types; i++) {
                const struct mdev_type_info *t = &gpu->u.pci.mdev_types[i];
                assert_string_equal(t->device_api, "vfio-pci");
                if (streq(t->id, "nvidia-11")) {
                        assert_int_equal(t->available_instances, 15);
                        assert_string_equal(t->name, "GRID M60-0B");
                        seen |= 1;
                } else if (streq(t->id, "nvidia-12")) {
                        assert_int_equal(t->available_instances, 0);
                        seen |= 2;
                }
        }
        assert_int_equal(seen, 3);
        assert_non_null(m);
        assert_int_equal(m->cap, NODEDEV_CAP_MDEV);
        assert_string_equal(m->parent, "pci_0000_00_06_0");
        assert_string_equal(m->u.mdev.uuid, UUID);
        assert_string_equal(m->u.mdev.type, "nvidia-11");
}

static void test_resolve_and_args(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = fixture("plain", NULL);
        /* upper case in the file: normalised */
        struct hostdev_file *f = mdev_file("8F1C4A2E-0C2B-4A5E-9D3F-6A7B8C9D0E1F", "vfio-pci");
        _cleanup_(qemu_device_freep) struct qemu_device *d = NULL;
        _cleanup_free_ char *err = NULL;
        struct resolve_result r = { 0 };

        assert_int_equal(resolve_def(inv, NULL, f->defs[0], "vm-a", &r), 0);
        assert_int_equal(r.status, RESOLVE_OK);
        assert_string_equal(r.device->name, "mdev_8f1c4a2e_0c2b_4a5e_9d3f_6a7b8c9d0e1f");
        assert_int_equal(mdev_check_instance(r.device, f->defs[0]->mdev_model, &err), 0);
        assert_int_equal(qemu_device_build(f->defs[0], r.device, 2, &d, &err), 0);
        assert_string_equal(qemu_json_string(d->device), "{\"driver\":\"vfio-pci\",\"id\":\"hostdev2\",\"sysfsdev\":"
                                                         "\"/sys/bus/mdev/devices/" UUID "\"}");
        _cleanup_free_ char *key = claim_key_for(f->defs[0], r.device);
        assert_string_equal(key, "mdev:" UUID);
        resolve_result_done(&r);
        hostdev_file_free(f);
}

static void test_missing_instance(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = fixture("plain", NULL);
        struct hostdev_file *f = mdev_file("11111111-2222-3333-4444-555555555555", "vfio-pci");
        struct resolve_result r = { 0 };

        assert_int_equal(resolve_def(inv, NULL, f->defs[0], "vm-a", &r), 0);
        assert_int_equal(r.status, RESOLVE_MISSING);
        assert_null(r.device);
        assert_non_null(strstr(r.message, "no mediated device 11111111-2222-3333-4444-555555555555"));
        assert_non_null(strstr(r.message, "instances on this host: " UUID " of type nvidia-11"));
        assert_non_null(strstr(r.message, "pci_0000_00_06_0 can create one"));
        assert_non_null(strstr(r.message, "nvidia-11 [15 available]"));
        resolve_result_done(&r);
        hostdev_file_free(f);

        /* a host without any mdev: says so */
        _cleanup_(inventory_freep) struct inventory *none =
                fixture("none", "rm -rf " GPU "/" UUID " " GPU "/mdev_supported_types bus/mdev/devices/" UUID);
        f = mdev_file(UUID, "vfio-pci");
        assert_int_equal(resolve_def(none, NULL, f->defs[0], "vm-a", &r), 0);
        assert_int_equal(r.status, RESOLVE_MISSING);
        assert_non_null(strstr(r.message, "this host has no mediated device instances"));
        assert_null(strstr(r.message, "can create"));
        resolve_result_done(&r);
        hostdev_file_free(f);
}

static void test_parent_lost_type(void **state) {
        /* the parent no longer offers the instance's type (driver reloaded with other types) */
        _cleanup_(inventory_freep) struct inventory *inv =
                fixture("lost-type", "rm -rf " GPU "/mdev_supported_types/nvidia-11");
        const struct nodedev *m = inventory_find(inv, "mdev_8f1c4a2e_0c2b_4a5e_9d3f_6a7b8c9d0e1f");
        _cleanup_free_ char *err = NULL;

        assert_non_null(m);
        assert_int_equal(mdev_check_instance(m, MDEV_MODEL_VFIO_PCI, &err), -ENOENT);
        assert_non_null(strstr(err, "the parent pci_0000_00_06_0 of mediated device " UUID " has no mdev type nvidia-11"));
}

static void test_wrong_device_api(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = fixture("plain", NULL);
        const struct nodedev *m = inventory_find(inv, "mdev_8f1c4a2e_0c2b_4a5e_9d3f_6a7b8c9d0e1f");
        _cleanup_free_ char *err = NULL;

        assert_int_equal(mdev_check_instance(m, MDEV_MODEL_VFIO_CCW, &err), -EINVAL);
        assert_non_null(strstr(err, "device API vfio-pci, not vfio-ccw"));
        free(err);
        err = NULL;
        /* and an instance without a mdev_type link at all */
        _cleanup_(inventory_freep) struct inventory *broken = fixture("no-link", "rm -f " GPU "/" UUID "/mdev_type");
        m = inventory_find(broken, "mdev_8f1c4a2e_0c2b_4a5e_9d3f_6a7b8c9d0e1f");
        assert_non_null(m);
        assert_int_equal(mdev_check_instance(m, MDEV_MODEL_VFIO_PCI, &err), -ENOENT);
        assert_non_null(strstr(err, "has no mdev_type"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_inventory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_resolve_and_args, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_instance, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parent_lost_type, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wrong_device_api, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
