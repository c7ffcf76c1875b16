/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* usb-port.c against fixture trees: port names, peers, a stand-in hub node that must never be
 * ioctl'ed, and giving a device back to the host's drivers (the sysfs writes it makes). The real
 * port claim (USBDEVFS_CLAIM_PORT) is shown in the test VM (tests/vm/scenarios/watch.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "usb-port.h"
#include "util.h"

static char *fixture(const char *name) {
        const char *data = getenv("HOSTDEV_TEST_DATA");
        assert_non_null(data);
        return path_join(data, "sys", name, NULL);
}

static void test_peer(void **state) {
        _cleanup_free_ char *fx = fixture("vm-dongles");
        setenv("HOSTDEV_SYSFS_ROOT", fx, 1);
        _cleanup_free_ char *p = NULL, *q = NULL, *h = NULL;
        /* USB3 root port 2-1 and its USB2 name 1-1 */
        assert_int_equal(usb_port_peer("2-1", &p), 0);
        assert_string_equal(p, "1-1");
        assert_int_equal(usb_port_peer("1-1", &q), 0);
        assert_string_equal(q, "2-1");
        /* behind the full-speed hub on 1-4: no peer */
        h = (char *) "untouched";
        assert_int_equal(usb_port_peer("1-4.1", &h), 0);
        assert_null(h);
        /* not port names */
        char *x = NULL;
        assert_int_equal(usb_port_peer("usb1", &x), -EINVAL);
        assert_int_equal(usb_port_peer("2-", &x), -EINVAL);
        assert_int_equal(usb_port_peer("2-0", &x), -EINVAL);
        assert_null(x);
        unsetenv("HOSTDEV_SYSFS_ROOT");
}

static void test_port_device(void **state) {
        _cleanup_free_ char *fx = fixture("vm-dongles");
        setenv("HOSTDEV_SYSFS_ROOT", fx, 1);
        unsigned bus = 0, devnum = 0;
        assert_true(usb_port_device("2-1", &bus, &devnum));
        assert_int_equal(bus, 2);
        assert_int_equal(devnum, 2);
        assert_true(usb_port_device("1-4.1", &bus, &devnum));
        assert_int_equal(bus, 1);
        assert_false(usb_port_device("2-8", NULL, NULL)); /* an empty port */
        unsetenv("HOSTDEV_SYSFS_ROOT");
}

/* A fixture's hub node is a plain file: the claim must refuse it before any ioctl. */
static void test_claim_refuses_stand_in(void **state) {
        _cleanup_free_ char *fx = fixture("vm-dongles");
        char dev[] = "/tmp/hostdev-test-usbport-XXXXXX";
        assert_non_null(mkdtemp(dev));
        _cleanup_free_ char *dir = path_join(dev, "bus/usb/002", NULL);
        assert_int_equal(mkdir_p(dir, 0700), 0);
        _cleanup_free_ char *node = path_join(dir, "001", NULL);
        assert_int_equal(write_file_atomic(node, "", 0, 0600), 0);
        setenv("HOSTDEV_SYSFS_ROOT", fx, 1);
        setenv("HOSTDEV_DEV_ROOT", dev, 1);
        _cleanup_free_ char *err = NULL;
        assert_int_equal(usb_port_claim("2-1", &err), -ENODEV);
        assert_non_null(strstr(err, "is not the device node of hub usb2"));
        /* no node at all */
        _cleanup_free_ char *err2 = NULL;
        assert_int_equal(usb_port_claim("1-1", &err2), -ENOENT);
        _cleanup_free_ char *err3 = NULL;
        assert_int_equal(usb_port_claim("usb2", &err3), -EINVAL);
        unsetenv("HOSTDEV_SYSFS_ROOT");
        unsetenv("HOSTDEV_DEV_ROOT");
        unlink(node);
}

static void mkfile(const char *root, const char *rel, const char *content) {
        _cleanup_free_ char *p = path_join(root, rel, NULL);
        _cleanup_free_ char *d = strdup(p);
        *strrchr(d, '/') = 0;
        assert_int_equal(mkdir_p(d, 0700), 0);
        assert_int_equal(write_file_atomic(p, content, strlen(content), 0600), 0);
}

static char *slurp(const char *root, const char *rel) {
        _cleanup_free_ char *p = path_join(root, rel, NULL);
        char *s = NULL;
        if (read_full_file(p, 4096, &s, NULL) < 0)
                return NULL;
        return s;
}

static void test_give_back(void **state) {
        char root[] = "/tmp/hostdev-test-giveback-XXXXXX";
        assert_non_null(mkdtemp(root));
        setenv("HOSTDEV_SYSFS_ROOT", root, 1);
        mkfile(root, "bus/usb/drivers/usb/unbind", "");
        mkfile(root, "bus/usb/drivers/usb/bind", "");
        mkfile(root, "bus/usb/drivers_probe", "");

        /* it came while the port was reserved: unconfigured -> the generic driver again */
        mkfile(root, "bus/usb/devices/2-1/bConfigurationValue", "\n");
        _cleanup_free_ char *err = NULL;
        assert_int_equal(usb_device_give_back("2-1", &err), 1);
        _cleanup_free_ char *u = slurp(root, "bus/usb/drivers/usb/unbind"), *b = slurp(root, "bus/usb/drivers/usb/bind");
        assert_string_equal(u, "2-1");
        assert_string_equal(b, "2-1");
        _cleanup_free_ char *np = slurp(root, "bus/usb/drivers_probe");
        assert_string_equal(np, "");

        /* a VM configured it: only the interface without a driver is probed */
        mkfile(root, "bus/usb/devices/2-3/bConfigurationValue", "1\n");
        mkfile(root, "bus/usb/devices/2-3/2-3:1.0/bInterfaceClass", "08\n");
        mkfile(root, "bus/usb/devices/2-3/2-3:1.1/bInterfaceClass", "03\n");
        _cleanup_free_ char *drv = path_join(root, "bus/usb/devices/2-3/2-3:1.1/driver", NULL);
        assert_int_equal(symlink("../../drivers/usbhid", drv), 0);
        mkfile(root, "bus/usb/drivers/usbhid/.keep", "");
        /* 2-30 is another device: its name starts with "2-3" but it is not 2-3's interface */
        mkfile(root, "bus/usb/devices/2-3/2-30:1.0/bInterfaceClass", "08\n");
        assert_int_equal(usb_device_give_back("2-3", &err), 1);
        _cleanup_free_ char *np2 = slurp(root, "bus/usb/drivers_probe");
        assert_string_equal(np2, "2-3:1.0");

        /* every interface has its driver: nothing to do */
        mkfile(root, "bus/usb/drivers_probe", "");
        _cleanup_free_ char *drv0 = path_join(root, "bus/usb/devices/2-3/2-3:1.0/driver", NULL);
        assert_int_equal(symlink("../../drivers/usbhid", drv0), 0);
        assert_int_equal(usb_device_give_back("2-3", &err), 0);
        _cleanup_free_ char *np3 = slurp(root, "bus/usb/drivers_probe");
        assert_string_equal(np3, "");

        /* a VM (here: this test) still holds its node open: left alone, -EBUSY */
        mkfile(root, "bus/usb/devices/2-5/busnum", "2\n");
        mkfile(root, "bus/usb/devices/2-5/devnum", "9\n");
        mkfile(root, "bus/usb/devices/2-5/bConfigurationValue", "\n");
        mkfile(root, "dev/bus/usb/002/009", "");
        _cleanup_free_ char *devroot = path_join(root, "dev", NULL), *node = path_join(root, "dev/bus/usb/002/009", NULL);
        setenv("HOSTDEV_DEV_ROOT", devroot, 1);
        mkfile(root, "bus/usb/drivers/usb/bind", "");
        int fd = open(node, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(usb_port_give_back_unless_held("2-5", &err), -EBUSY);
        _cleanup_free_ char *b0 = slurp(root, "bus/usb/drivers/usb/bind");
        assert_string_equal(b0, "");
        close(fd);
        assert_int_equal(usb_port_give_back_unless_held("2-5", &err), 1);
        _cleanup_free_ char *b1 = slurp(root, "bus/usb/drivers/usb/bind");
        assert_string_equal(b1, "2-5");
        assert_int_equal(usb_port_give_back_unless_held("2-6", &err), 0); /* nothing plugged there */
        unsetenv("HOSTDEV_DEV_ROOT");

        /* gone meanwhile */
        assert_int_equal(usb_device_give_back("2-7", &err), 0);
        assert_null(err);
        unsetenv("HOSTDEV_SYSFS_ROOT");
        _cleanup_free_ char *cmd = strdup_printf("rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
}

static void test_node_in_use(void **state) {
        char path[] = "/tmp/hostdev-test-inuse-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_true(usb_node_in_use(path));
        close(fd);
        assert_false(usb_node_in_use(path));
        unlink(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_peer),
                cmocka_unit_test(test_port_device),
                cmocka_unit_test(test_claim_refuses_stand_in),
                cmocka_unit_test(test_give_back),
                cmocka_unit_test(test_node_in_use),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
