/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qemu-args: golden files (tests/data/qemu-args/NAME.xml -> NAME.args, or NAME.err for an
 * expected failure) resolved against the fixture sysfs tests/data/sys/mini, plus hand-built
 * defs for the mappings the golden files cannot reach. HOSTDEV_REGENERATE=1 rewrites .args. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "error.h"
#include "hostdev-xml.h"
#include "inventory.h"
#include "json-util.h"
#include "qemu-args.h"
#include "util.h"

static const char *data_dir(void) {
        const char *d = getenv("HOSTDEV_TEST_DATA");
        if (!d)
                fail_msg("HOSTDEV_TEST_DATA is not set (run through meson test)");
        return d;
}

/* Run one golden case; returns the output text or the error message. */
static int run_case(const char *xml, char **ret_out, char **ret_err) {
        struct hostdev_file *f = NULL;
        struct inventory *inv = NULL;
        const struct nodedev **devs = NULL;
        char **args = NULL, *err = NULL;
        struct strbuf sb = STRBUF_INIT;
        int r;

        r = hostdev_file_parse_path(xml, &f, &err);
        if (r >= 0)
                r = inventory_scan(&inv, &err);
        if (r >= 0)
                r = qemu_resolve_devices(inv, NULL, f, f->domain_name, &devs, &err);
        if (r >= 0)
                r = qemu_args_build(f, devs, &args, &err);
        if (r >= 0)
                for (char **a = args; *a; a++)
                        strbuf_appendf(&sb, "%s\n", *a);
        *ret_out = strbuf_steal(&sb);
        *ret_err = err;
        strv_free(args);
        free(devs);
        inventory_free(inv);
        hostdev_file_free(f);
        return r;
}

static void test_golden(void **state) {
        _cleanup_free_ char *dir = strdup_printf("%s/qemu-args", data_dir());
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;

        assert_non_null(d);
        while ((de = readdir(d))) {
                _cleanup_free_ char *base = NULL, *xml = NULL, *args_path = NULL, *err_path = NULL;
                _cleanup_free_ char *out = NULL, *err = NULL, *want = NULL;
                const char *dot = strrchr(de->d_name, '.');
                int r;

                if (!dot || !streq(dot, ".xml"))
                        continue;
                base = strndup(de->d_name, (size_t) (dot - de->d_name));
                xml = strdup_printf("%s/%s", dir, de->d_name);
                args_path = strdup_printf("%s/%s.args", dir, base);
                err_path = strdup_printf("%s/%s.err", dir, base);
                r = run_case(xml, &out, &err);
                n++;

                if (read_full_file(err_path, 1 << 16, &want, NULL) >= 0) {
                        want[strcspn(want, "\n")] = 0;
                        if (r >= 0)
                                fail_msg("%s: expected a failure containing '%s', got:\n%s", base, want, out);
                        if (!err || !strstr(err, want))
                                fail_msg("%s: error '%s' does not contain '%s'", base, strna(err), want);
                        continue;
                }
                if (r < 0)
                        fail_msg("%s: failed: %s (%d)", base, strna(err), r);
                if (getenv("HOSTDEV_REGENERATE"))
                        assert_int_equal(write_string_file(args_path, out), 0);
                if (read_full_file(args_path, 1 << 20, &want, NULL) < 0)
                        fail_msg("%s: no %s.args golden file", base, base);
                if (!streq(want, out))
                        fail_msg("%s: output differs from %s.args\n--- want\n%s--- got\n%s", base, base, want, out);
        }
        /* every golden case was found and run */
        assert_true(n >= 16);
}

/* ---- hand-built defs ---------------------------------------------------------------------- */

static struct nodedev usb_dev(void) {
        struct nodedev d = { .name = (char *) "usb_3_7", .cap = NODEDEV_CAP_USB_DEVICE };
        d.u.usb.bus = 3;
        d.u.usb.devnum = 17;
        d.u.usb.vendor_id = 0x46f4;
        d.u.usb.product_id = 0x0001;
        return d;
}

static char *device_json(const struct hostdev_def *def, const struct nodedev *dev, unsigned index, int *ret_r,
                         char **ret_err) {
        _cleanup_(qemu_device_freep) struct qemu_device *q = NULL;
        int r = qemu_device_build(def, dev, index, &q, ret_err);
        *ret_r = r;
        if (r < 0)
                return NULL;
        return strdup(qemu_json_string(q->device));
}

static void test_usb_guest_reset(void **state) {
        struct hostdev_def def = { .mode = HOSTDEV_MODE_SUBSYSTEM, .type = HOSTDEV_TYPE_USB };
        struct nodedev dev = usb_dev();
        static const struct {
                enum usb_guest_reset gr;
                const char *want;
        } cases[] = {
                { USB_GUEST_RESET_DEFAULT, "{\"driver\":\"usb-host\",\"hostdevice\":\"/dev/bus/usb/003/017\",\"id\":\"hostdev4\"}" },
                { USB_GUEST_RESET_OFF, "{\"driver\":\"usb-host\",\"hostdevice\":\"/dev/bus/usb/003/017\",\"id\":\"hostdev4\",\"guest-reset\":false}" },
                { USB_GUEST_RESET_UNIPORT, "{\"driver\":\"usb-host\",\"hostdevice\":\"/dev/bus/usb/003/017\",\"id\":\"hostdev4\",\"guest-reset\":true,\"guest-resets-all\":false}" },
                { USB_GUEST_RESET_ON, "{\"driver\":\"usb-host\",\"hostdevice\":\"/dev/bus/usb/003/017\",\"id\":\"hostdev4\",\"guest-reset\":true,\"guest-resets-all\":true}" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = NULL, *err = NULL;
                int r;
                def.guest_reset = cases[i].gr;
                s = device_json(&def, &dev, 4, &r, &err);
                assert_int_equal(r, 0);
                assert_string_equal(s, cases[i].want);
        }
}

static void test_usb_never_wildcard(void **state) {
        /* a USB def must be resolved to a device: no vendor/product wildcard is ever emitted */
        struct hostdev_def def = { .mode = HOSTDEV_MODE_SUBSYSTEM, .type = HOSTDEV_TYPE_USB };
        struct nodedev pci = { .name = (char *) "pci_0000_00_02_0", .cap = NODEDEV_CAP_PCI };
        _cleanup_free_ char *err = NULL, *err2 = NULL, *s = NULL;
        int r;
        def.source.usb.has_vendor = def.source.usb.has_product = true;
        def.source.usb.vendor = 0x46f4;
        def.source.usb.product = 1;
        s = device_json(&def, NULL, 0, &r, &err);
        assert_int_equal(r, -EINVAL);
        assert_non_null(err);
        s = device_json(&def, &pci, 0, &r, &err2);
        assert_int_equal(r, -EINVAL);
}

static void test_usb_dev_root(void **state) {
        struct hostdev_def def = { .mode = HOSTDEV_MODE_SUBSYSTEM, .type = HOSTDEV_TYPE_USB };
        struct nodedev dev = usb_dev();
        _cleanup_free_ char *s = NULL;
        int r;
        def.alias = (char *) "hostdev-not-user"; /* not ua-: ignored */
        setenv("HOSTDEV_DEV_ROOT", "/tmp/fake-dev", 1);
        s = device_json(&def, &dev, 0, &r, NULL);
        unsetenv("HOSTDEV_DEV_ROOT");
        assert_int_equal(r, 0);
        assert_string_equal(s, "{\"driver\":\"usb-host\",\"hostdevice\":\"/tmp/fake-dev/bus/usb/003/017\",\"id\":\"hostdev0\"}");
}

static void test_usb_bad_guest_address(void **state) {
        struct hostdev_def def = { .mode = HOSTDEV_MODE_SUBSYSTEM, .type = HOSTDEV_TYPE_USB, .line = 9 };
        struct nodedev dev = usb_dev();
        _cleanup_free_ char *s = NULL, *err = NULL;
        int r;
        def.guest_addr.type = GUEST_ADDRESS_PCI;
        s = device_json(&def, &dev, 0, &r, &err);
        assert_int_equal(r, -EOPNOTSUPP);
        assert_non_null(strstr(err, "line 9"));
}

static void test_pci_backend_kvm(void **state) {
        struct hostdev_def def = { .mode = HOSTDEV_MODE_SUBSYSTEM, .type = HOSTDEV_TYPE_PCI, .backend = PCI_BACKEND_KVM };
        struct nodedev dev = { .name = (char *) "pci_0000_00_02_0", .cap = NODEDEV_CAP_PCI };
        _cleanup_free_ char *s = NULL, *err = NULL;
        int r;
        s = device_json(&def, &dev, 0, &r, &err);
        assert_int_equal(r, -EOPNOTSUPP);
        assert_non_null(strstr(err, "kvm"));
}

static void test_pci_teaming(void **state) {
        struct hostdev_def def = { .mode = HOSTDEV_MODE_SUBSYSTEM, .type = HOSTDEV_TYPE_PCI };
        struct nodedev dev = { .name = (char *) "pci_0001_03_1f_7", .cap = NODEDEV_CAP_PCI };
        _cleanup_free_ char *s = NULL;
        int r;
        dev.u.pci.addr = (struct pci_addr){ .domain = 1, .bus = 3, .slot = 0x1f, .function = 7 };
        def.teaming = TEAMING_TRANSIENT;
        def.teaming_persistent = (char *) "ua-net0";
        def.alias = (char *) "ua-vf0";
        s = device_json(&def, &dev, 0, &r, NULL);
        assert_int_equal(r, 0);
        assert_string_equal(s, "{\"driver\":\"vfio-pci\",\"host\":\"0001:03:1f.7\",\"id\":\"ua-vf0\",\"failover_pair_id\":\"ua-net0\"}");
}

static void test_mdev_ramfb(void **state) {
        struct hostdev_def def = { .mode = HOSTDEV_MODE_SUBSYSTEM, .type = HOSTDEV_TYPE_MDEV,
                                   .mdev_model = MDEV_MODEL_VFIO_PCI, .mdev_display = TRISTATE_YES,
                                   .mdev_ramfb = TRISTATE_YES };
        _cleanup_free_ char *s = NULL;
        int r;
        def.source.mdev.uuid = (char *) "c2177883-f1bb-47f0-914d-32a22e3a8804";
        s = device_json(&def, NULL, 1, &r, NULL);
        assert_int_equal(r, 0);
        assert_string_equal(s, "{\"driver\":\"vfio-pci-nohotplug\",\"id\":\"hostdev1\",\"sysfsdev\":\"/sys/bus/mdev/devices/c2177883-f1bb-47f0-914d-32a22e3a8804\",\"display\":\"on\",\"ramfb\":true}");
}

static void test_iscsi(void **state) {
        _cleanup_(qemu_device_freep) struct qemu_device *q = NULL;
        struct hostdev_def def = { .mode = HOSTDEV_MODE_SUBSYSTEM, .type = HOSTDEV_TYPE_SCSI };
        struct iscsi_host host = { .name = (char *) "example.org", .port = (char *) "3260" };
        def.source.scsi.protocol = SCSI_PROTOCOL_ISCSI;
        def.source.scsi.iqn_name = (char *) "iqn.2008-06.org.example:iscsi/2";
        def.source.scsi.hosts = &host;
        def.source.scsi.n_hosts = 1;
        assert_int_equal(qemu_device_build(&def, NULL, 5, &q, NULL), 0);
        assert_string_equal(qemu_json_string(q->blockdev),
                            "{\"driver\":\"iscsi\",\"transport\":\"tcp\",\"portal\":\"example.org:3260\",\"target\":\"iqn.2008-06.org.example:iscsi\",\"lun\":2,\"node-name\":\"hostdev5-backend\",\"read-only\":false}");
        assert_string_equal(qemu_json_string(q->device),
                            "{\"driver\":\"scsi-generic\",\"drive\":\"hostdev5-backend\",\"id\":\"hostdev5\"}");
}

static void test_caps_refused(void **state) {
        enum hostdev_type types[] = { HOSTDEV_TYPE_CAP_STORAGE, HOSTDEV_TYPE_CAP_MISC, HOSTDEV_TYPE_CAP_NET };
        for (size_t i = 0; i < ELEMENTSOF(types); i++) {
                struct hostdev_def def = { .mode = HOSTDEV_MODE_CAPABILITIES, .type = types[i] };
                _cleanup_free_ char *s = NULL, *err = NULL;
                int r;
                s = device_json(&def, NULL, 0, &r, &err);
                assert_int_equal(r, -EOPNOTSUPP);
                assert_non_null(strstr(err, "container"));
        }
}

static void test_args_skip_missing_optional(void **state) {
        struct hostdev_def d0 = { .mode = HOSTDEV_MODE_SUBSYSTEM, .type = HOSTDEV_TYPE_USB };
        struct hostdev_def d1 = { .mode = HOSTDEV_MODE_SUBSYSTEM, .type = HOSTDEV_TYPE_USB,
                                  .startup_policy = STARTUP_POLICY_OPTIONAL };
        struct hostdev_def *defs[] = { &d0, &d1 };
        struct hostdev_file f = { .path = (char *) "x.xml", .defs = defs, .n_defs = 2 };
        struct nodedev dev = usb_dev();
        const struct nodedev *devs[] = { &dev, NULL };
        _cleanup_strv_free_ char **args = NULL;
        assert_int_equal(qemu_args_build(&f, devs, &args, NULL), 0);
        assert_int_equal(strv_length(args), 2);
        assert_string_equal(args[0], "-device");
        assert_string_equal(args[1], "{\"driver\":\"usb-host\",\"hostdevice\":\"/dev/bus/usb/003/017\",\"id\":\"hostdev0\"}");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_golden),
                cmocka_unit_test(test_usb_guest_reset),
                cmocka_unit_test(test_usb_never_wildcard),
                cmocka_unit_test(test_usb_dev_root),
                cmocka_unit_test(test_usb_bad_guest_address),
                cmocka_unit_test(test_pci_backend_kvm),
                cmocka_unit_test(test_pci_teaming),
                cmocka_unit_test(test_mdev_ramfb),
                cmocka_unit_test(test_iscsi),
                cmocka_unit_test(test_caps_refused),
                cmocka_unit_test(test_args_skip_missing_optional),
        };
        _cleanup_free_ char *sys = NULL;

        /* resolution against the fixture tree; device paths under the real /dev names */
        if (!getenv("HOSTDEV_TEST_DATA")) {
                fprintf(stderr, "FAIL: HOSTDEV_TEST_DATA is not set (run through meson test)\n");
                return 1;
        }
        sys = strdup_printf("%s/sys/mini", getenv("HOSTDEV_TEST_DATA"));
        setenv("HOSTDEV_SYSFS_ROOT", sys, 1);
        unsetenv("HOSTDEV_DEV_ROOT");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
