/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Host-side PCI (vfio.c) against the fake kernel (fakekernel.c) on the pci-gen.sh fixture. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fakekernel.h"
#include "registry.h"
#include "util.h"
#include "vfio.h"

static struct pci_addr A(const char *s) {
        struct pci_addr a = { 0 };
        int r = pci_addr_parse_any(s, &a);
        if (r < 0)
                fail_msg("bad address in test: %s", s);
        return a;
}

static int write_string_file_create(const char *path, const char *s) {
        FILE *f = fopen(path, "we");
        if (!f)
                return -errno;
        fputs(s, f);
        return fclose(f) == 0 ? 0 : -errno;
}

/* address of a parsed address, for one-off arguments (a small ring of buffers) */
static const struct pci_addr *PA(const char *s) {
        static struct pci_addr ring[8];
        static unsigned i;
        struct pci_addr *p = &ring[i++ % ELEMENTSOF(ring)];
        *p = A(s);
        return p;
}

static int setup(void **state) {
        struct fakekernel *fk = NULL;
        int r = fakekernel_new(&fk);
        if (r < 0) {
                fprintf(stderr, "fake kernel: cannot build the fixture (HOSTDEV_TEST_DATA=%s): %s\n",
                        strna(getenv("HOSTDEV_TEST_DATA")), strerror(-r));
                return -1;
        }
        pci_bind_timeout_usec = 100000;
        *state = fk;
        return 0;
}

static int teardown(void **state) {
        fakekernel_free(*state);
        return 0;
}

static void assert_driver(struct fakekernel *fk, const char *addr, const char *want) {
        _cleanup_free_ char *d = fakekernel_driver(fk, addr);
        assert_non_null(d);
        assert_string_equal(d, want);
}

static void assert_override(struct fakekernel *fk, const char *addr, const char *want) {
        _cleanup_free_ char *d = fakekernel_override(fk, addr);
        assert_non_null(d);
        assert_string_equal(d, want);
}

static bool exists(struct fakekernel *fk, const char *rel) {
        _cleanup_free_ char *p = fakekernel_path(fk, rel);
        return access(p, F_OK) == 0;
}

static void assert_contains(const char *s, const char *part) {
        if (!s || !strstr(s, part))
                fail_msg("'%s' does not contain '%s'", strna(s), part);
}

/* ---- names ------------------------------------------------------------------------------- */

static void test_parse(void **state) {
        struct pci_addr a;
        char b[PCI_ADDR_STRLEN], n[PCI_NODE_STRLEN];

        assert_int_equal(pci_addr_parse_any("pci_0000_00_03_0", &a), 0);
        assert_string_equal(pci_addr_format_sysfs(&a, b), "0000:00:03.0");
        assert_int_equal(pci_addr_parse_any("0000:01:1f.7", &a), 0);
        assert_string_equal(pci_addr_format_node(&a, n), "pci_0000_01_1f_7");
        assert_int_equal(pci_addr_parse_any("00:03.0", &a), 0);
        assert_string_equal(pci_addr_format_sysfs(&a, b), "0000:00:03.0");
        assert_int_equal(pci_addr_parse_any("pci_abcd_ff_1f_7", &a), 0);
        assert_int_equal(a.domain, 0xabcd);
        assert_int_equal(a.bus, 0xff);

        assert_int_equal(pci_addr_parse_any("pci_0000_00_20_0", &a), -ERANGE);
        assert_int_equal(pci_addr_parse_any("0000:00:03.8", &a), -ERANGE);
        assert_int_equal(pci_addr_parse_any("0000:00:03:0", &a), -EINVAL);
        assert_int_equal(pci_addr_parse_any("pci_0000_00_03", &a), -EINVAL);
        assert_int_equal(pci_addr_parse_any("pci_0000_00_03_0_1", &a), -EINVAL);
        assert_int_equal(pci_addr_parse_any("0000:00:0x.0", &a), -EINVAL);
        assert_int_equal(pci_addr_parse_any("eth0", &a), -EINVAL);
        assert_int_equal(pci_addr_parse_any("", &a), -EINVAL);
        assert_int_equal(pci_addr_parse_any("10000:00:03.0", &a), -EINVAL);
}

/* ---- detach / reattach ---------------------------------------------------------------------- */

static void test_detach_reattach(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:00:03.0");
        _cleanup_free_ char *orig = NULL, *orig2 = NULL, *err = NULL, *rec = NULL;

        assert_driver(fk, "0000:00:03.0", "e1000");
        assert_false(exists(fk, "dev/vfio/2"));

        assert_int_equal(pci_detach(&a, NULL, 0, &orig, &err), 1);
        assert_null(err);
        assert_string_equal(orig, "e1000");
        assert_driver(fk, "0000:00:03.0", "vfio-pci");
        assert_override(fk, "0000:00:03.0", "vfio-pci");
        assert_true(exists(fk, "dev/vfio/2"));
        assert_true(exists(fk, "state/pci/0000:00:03.0.json"));
        assert_int_equal(pci_record_get(&a, &rec), 1);
        assert_string_equal(rec, "e1000");

        /* idempotent: a second detach changes nothing and returns the recorded driver */
        unsigned w = fk->n_writes;
        assert_int_equal(pci_detach(&a, "vfio-pci", 0, &orig2, &err), 0);
        assert_null(err);
        assert_string_equal(orig2, "e1000");
        assert_int_equal(fk->n_writes, w);

        /* reattach to the recorded original */
        assert_int_equal(pci_reattach(&a, NULL, &err), 1);
        assert_null(err);
        assert_driver(fk, "0000:00:03.0", "e1000");
        assert_override(fk, "0000:00:03.0", "(null)");
        assert_false(exists(fk, "dev/vfio/2"));
        assert_false(exists(fk, "state/pci/0000:00:03.0.json"));
        assert_int_equal(pci_record_get(&a, NULL), 0);

        /* idempotent: a device on its driver is left alone */
        w = fk->n_writes;
        assert_int_equal(pci_reattach(&a, NULL, &err), 0);
        assert_null(err);
        assert_int_equal(fk->n_writes, w);
        assert_driver(fk, "0000:00:03.0", "e1000");
}

static void test_detach_sequence(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("pci_0000_00_03_0");
        _cleanup_free_ char *err = NULL;

        assert_int_equal(pci_detach(&a, NULL, 0, NULL, &err), 1);
        /* the kernel's way, in this order */
        assert_int_equal(strv_length(fk->log), 3);
        assert_string_equal(fk->log[0], "bus/pci/devices/0000:00:03.0/driver_override <- vfio-pci");
        assert_string_equal(fk->log[1], "bus/pci/drivers/e1000/unbind <- 0000:00:03.0");
        assert_string_equal(fk->log[2], "bus/pci/drivers_probe <- 0000:00:03.0");
}

static void test_reattach_explicit_and_no_record(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:01:02.0");
        _cleanup_free_ char *err = NULL;

        /* someone else put it on vfio-pci: no record */
        assert_int_equal(fakekernel_write(fk, "bus/pci/devices/0000:01:02.0/driver_override", "vfio-pci"), 0);
        assert_int_equal(fakekernel_write(fk, "bus/pci/drivers/e1000/unbind", "0000:01:02.0"), 0);
        assert_int_equal(fakekernel_write(fk, "bus/pci/drivers_probe", "0000:01:02.0"), 0);
        assert_driver(fk, "0000:01:02.0", "vfio-pci");
        assert_true(exists(fk, "dev/vfio/4"));

        /* no record, no orig given: the kernel picks (e1000 matches) */
        assert_int_equal(pci_reattach(&a, NULL, &err), 1);
        assert_null(err);
        assert_driver(fk, "0000:01:02.0", "e1000");
        assert_override(fk, "0000:01:02.0", "(null)");
        assert_false(exists(fk, "dev/vfio/4"));

        /* pci-stub, then an explicit original driver */
        assert_int_equal(pci_detach(&a, "pci-stub", 0, NULL, &err), 1);
        assert_driver(fk, "0000:01:02.0", "pci-stub");
        assert_int_equal(pci_reattach(&a, "e1000", &err), 1);
        assert_null(err);
        assert_driver(fk, "0000:01:02.0", "e1000");
}

static void test_reattach_unbound(void **state) {
        struct fakekernel *fk = *state;
        _cleanup_free_ char *err = NULL;

        /* unbound by hand, no record: reattach lets the kernel probe it */
        assert_int_equal(fakekernel_write(fk, "bus/pci/drivers/e1000/unbind", "0000:00:03.0"), 0);
        assert_driver(fk, "0000:00:03.0", "");
        assert_int_equal(pci_reattach(PA("0000:00:03.0"), NULL, &err), 1);
        assert_null(err);
        assert_driver(fk, "0000:00:03.0", "e1000");

        /* an unbound device detaches too, and its record says it had no driver */
        assert_int_equal(fakekernel_write(fk, "bus/pci/drivers/e1000/unbind", "0000:00:03.0"), 0);
        _cleanup_free_ char *orig = NULL, *rec = NULL;
        assert_int_equal(pci_detach(PA("0000:00:03.0"), NULL, 0, &orig, &err), 1);
        assert_null(orig);
        assert_driver(fk, "0000:00:03.0", "vfio-pci");
        assert_int_equal(pci_record_get(PA("0000:00:03.0"), &rec), 1);
        assert_null(rec);
}

static void test_interrupted_detach(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:00:03.0");
        _cleanup_free_ char *err = NULL, *orig = NULL;

        /* a detach that died after the unbind: override set, no driver, record written */
        assert_int_equal(pci_detach(&a, NULL, 0, NULL, &err), 1);
        assert_int_equal(fakekernel_write(fk, "bus/pci/drivers/vfio-pci/unbind", "0000:00:03.0"), 0);
        assert_driver(fk, "0000:00:03.0", "");
        /* detaching again finishes the job and still knows the original driver */
        assert_int_equal(pci_detach(&a, NULL, 0, &orig, &err), 1);
        assert_null(err);
        assert_string_equal(orig, "e1000");
        assert_driver(fk, "0000:00:03.0", "vfio-pci");

        /* one that died after setting the override: still on e1000 */
        assert_int_equal(pci_reattach(&a, NULL, &err), 1);
        assert_int_equal(fakekernel_write(fk, "bus/pci/devices/0000:00:03.0/driver_override", "vfio-pci"), 0);
        /* reattach tidies up: override cleared, nothing else to do */
        assert_int_equal(pci_reattach(&a, NULL, &err), 0);
        assert_null(err);
        assert_override(fk, "0000:00:03.0", "(null)");
        assert_driver(fk, "0000:00:03.0", "e1000");
}

static void test_reattach_in_use(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:00:03.0");
        _cleanup_free_ char *err = NULL, *comm = NULL, *fd = NULL, *dir = NULL, *cp = NULL, *node = NULL;
        int pid = 0;

        assert_int_equal(pci_detach(&a, NULL, 0, NULL, &err), 1);
        assert_int_equal(pci_vfio_user(&a, &pid, &comm), 0);
        /* a "QEMU" (pid 4242) holds /dev/vfio/2 open */
        dir = fakekernel_path(fk, "proc/4242/fd");
        assert_int_equal(mkdir_p(dir, 0755), 0);
        cp = fakekernel_path(fk, "proc/4242/comm");
        assert_int_equal(write_string_file_create(cp, "qemu-system-x86\n"), 0);
        fd = fakekernel_path(fk, "proc/4242/fd/17");
        node = fakekernel_path(fk, "dev/vfio/2");
        assert_int_equal(symlink(node, fd), 0);

        assert_int_equal(pci_vfio_user(&a, &pid, &comm), 1);
        assert_int_equal(pid, 4242);
        assert_string_equal(comm, "qemu-system-x86");
        unsigned w = fk->n_writes;
        assert_int_equal(pci_reattach(&a, NULL, &err), -EBUSY);
        assert_contains(err, "in use through vfio by process 4242 (qemu-system-x86)");
        assert_int_equal(fk->n_writes, w);
        assert_driver(fk, "0000:00:03.0", "vfio-pci");

        /* the VM let go */
        assert_int_equal(unlink(fd), 0);
        free(err);
        err = NULL;
        assert_int_equal(pci_reattach(&a, NULL, &err), 1);
        assert_driver(fk, "0000:00:03.0", "e1000");
}

static void test_stub_to_vfio_keeps_orig(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:00:03.0");
        _cleanup_free_ char *err = NULL, *o1 = NULL, *o2 = NULL;

        assert_int_equal(pci_detach(&a, "pci-stub", 0, &o1, &err), 1);
        assert_string_equal(o1, "e1000");
        assert_int_equal(pci_detach(&a, "vfio-pci", 0, &o2, &err), 1);
        assert_null(err);
        assert_string_equal(o2, "e1000"); /* not "pci-stub" */
        assert_driver(fk, "0000:00:03.0", "vfio-pci");
        assert_int_equal(pci_reattach(&a, NULL, &err), 1);
        assert_driver(fk, "0000:00:03.0", "e1000");
}

static void test_rollback_failed_bind(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:00:03.0");
        _cleanup_free_ char *err = NULL, *orig = NULL;

        fk->fail_probe_driver = strdup("vfio-pci");
        assert_int_equal(pci_detach(&a, NULL, 0, &orig, &err), -EIO);
        assert_null(orig);
        assert_contains(err, "0000:00:03.0 did not bind to vfio-pci (driver now: none)");
        assert_contains(err, "rolled back to e1000");
        assert_driver(fk, "0000:00:03.0", "e1000");
        assert_override(fk, "0000:00:03.0", "(null)");
        assert_false(exists(fk, "state/pci/0000:00:03.0.json"));
        assert_false(exists(fk, "dev/vfio/2"));
}

static void test_rollback_failed_unbind(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:00:03.0");
        _cleanup_free_ char *err = NULL;

        fk->fail_write_suffix = strdup("/e1000/unbind");
        fk->fail_write_errno = EBUSY;
        assert_int_equal(pci_detach(&a, NULL, 0, NULL, &err), -EBUSY);
        assert_contains(err, "cannot unbind 0000:00:03.0 from e1000");
        assert_contains(err, "left on its driver");
        assert_driver(fk, "0000:00:03.0", "e1000");
        assert_override(fk, "0000:00:03.0", "(null)");
        assert_false(exists(fk, "state/pci/0000:00:03.0.json"));
}

static void test_rollback_no_vfio_node(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:00:03.0");
        _cleanup_free_ char *err = NULL;

        fk->no_vfio_node = true;
        assert_int_equal(pci_detach(&a, NULL, 0, NULL, &err), -ENOENT);
        assert_contains(err, "/vfio/2 did not appear");
        assert_contains(err, "rolled back");
        assert_driver(fk, "0000:00:03.0", "e1000");
        assert_override(fk, "0000:00:03.0", "(null)");
}

static void test_reattach_fails_keeps_record(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:00:03.0");
        _cleanup_free_ char *err = NULL;

        assert_int_equal(pci_detach(&a, NULL, 0, NULL, &err), 1);
        fk->fail_probe_driver = strdup("e1000");
        assert_int_equal(pci_reattach(&a, NULL, &err), -EIO);
        assert_contains(err, "did not bind back to e1000 (driver now: none)");
        assert_true(exists(fk, "state/pci/0000:00:03.0.json"));
        /* the module comes back: a second reattach works from the record */
        free(fk->fail_probe_driver);
        fk->fail_probe_driver = NULL;
        free(err);
        err = NULL;
        assert_int_equal(pci_reattach(&a, NULL, &err), 1);
        assert_null(err);
        assert_driver(fk, "0000:00:03.0", "e1000");
        assert_false(exists(fk, "state/pci/0000:00:03.0.json"));
}

static void test_missing_device(void **state) {
        struct pci_addr a = A("0000:00:1f.0");
        _cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL;
        assert_int_equal(pci_detach(&a, NULL, 0, NULL, &err), -ENODEV);
        assert_contains(err, "PCI device 0000:00:1f.0 not found");
        assert_int_equal(pci_reattach(&a, NULL, &err2), -ENODEV);
        assert_int_equal(pci_reset(&a, &err3), -ENODEV);
        assert_int_equal(pci_host_uses(&a, NULL), -ENODEV);
}

static void test_no_iommu_group(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:00:08.0");
        _cleanup_free_ char *err = NULL, *err2 = NULL;

        assert_int_equal(pci_detach(&a, NULL, 0, NULL, &err), -ENXIO);
        assert_contains(err, "no IOMMU group");
        assert_int_equal(fk->n_writes, 0);
        assert_driver(fk, "0000:00:08.0", "e1000");
        assert_int_equal(pci_group_check_viable(&a, &err2), -ENOENT);
        assert_contains(err2, "has no IOMMU group");
}

/* ---- IOMMU groups ----------------------------------------------------------------------------- */

static void test_group(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:01:01.0"), b = A("0000:01:02.0");
        _cleanup_free_ struct pci_addr *m = NULL;
        _cleanup_free_ char *err = NULL, *err2 = NULL;
        char s[PCI_ADDR_STRLEN];
        size_t n = 0;

        assert_int_equal(pci_iommu_group(&a), 4);
        assert_int_equal(pci_group_members(&a, &m, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(pci_addr_format_sysfs(&m[0], s), "0000:00:04.0");
        assert_string_equal(pci_addr_format_sysfs(&m[1], s), "0000:01:01.0");
        assert_string_equal(pci_addr_format_sysfs(&m[2], s), "0000:01:02.0");

        /* a lone group member on its host driver */
        assert_int_equal(pci_group_check_viable(PA("0000:00:03.0"), &err), -EBUSY);
        assert_contains(err, "0000:00:03.0 e1000: run 'hostdev nodedev-detach pci_0000_00_03_0'");
        free(err);
        err = NULL;

        assert_int_equal(pci_detach(&a, NULL, 0, NULL, &err), 1);
        assert_null(err);
        assert_int_equal(pci_group_check_viable(&a, &err), -EBUSY);
        assert_contains(err, "IOMMU group 4 of 0000:01:01.0 is not viable");
        assert_contains(err, "\n  0000:00:04.0 no driver: PCI bridge, exempt");
        assert_contains(err, "\n  0000:01:01.0 vfio-pci: ok");
        assert_contains(err, "\n  0000:01:02.0 e1000: run 'hostdev nodedev-detach pci_0000_01_02_0'");

        assert_int_equal(pci_detach(&b, NULL, 0, NULL, &err2), 1);
        assert_null(err2);
        assert_int_equal(pci_group_check_viable(&a, &err2), 0);
        assert_null(err2);
        assert_int_equal(pci_group_check_viable(&b, &err2), 0);
        /* /dev/vfio/4 stays while a member is on vfio-pci */
        assert_int_equal(pci_reattach(&a, NULL, &err2), 1);
        assert_true(exists(fk, "dev/vfio/4"));
        assert_int_equal(pci_reattach(&b, NULL, &err2), 1);
        assert_false(exists(fk, "dev/vfio/4"));

        /* an unbound endpoint is fine too */
        assert_int_equal(fakekernel_write(fk, "bus/pci/drivers/e1000/unbind", "0000:01:01.0"), 0);
        assert_int_equal(fakekernel_write(fk, "bus/pci/drivers/e1000/unbind", "0000:01:02.0"), 0);
        assert_int_equal(pci_group_check_viable(&a, &err2), 0);
}

/* ---- host safety -------------------------------------------------------------------------------- */

static void check_refused(struct fakekernel *fk, const char *addr, const char *drv, const char *why) {
        struct pci_addr a = A(addr);
        _cleanup_free_ char *reason = NULL, *err = NULL;
        unsigned w = fk->n_writes;
        char rel[128];

        assert_int_equal(pci_host_uses(&a, &reason), 1);
        assert_contains(reason, addr);
        assert_contains(reason, why);
        assert_int_equal(pci_detach(&a, NULL, 0, NULL, &err), -EBUSY);
        assert_contains(err, "refusing to detach");
        assert_contains(err, why);
        assert_contains(err, "use --force");
        /* untouched */
        assert_int_equal(fk->n_writes, w);
        assert_driver(fk, addr, drv);
        assert_override(fk, addr, "(null)");
        snprintf(rel, sizeof rel, "state/pci/%s.json", addr);
        assert_false(exists(fk, rel));
}

static void test_host_nic_address(void **state) {
        check_refused(*state, "0000:00:02.0", "e1000", "eth0 has address fec0::2/64");
}

static void test_host_mounted(void **state) {
        check_refused(*state, "0000:00:05.0", "virtio-pci", "controller of vda1, mounted on / (ext4)");
}

static void test_host_swap(void **state) {
        check_refused(*state, "0000:00:07.0", "virtio-pci", "controller of active swap /dev/vdb (vdb)");
}

static void test_host_mounted_dm(void **state) {
        check_refused(*state, "0000:00:0a.0", "virtio-pci", "controller of vdc1 (under dm-0), mounted on /home (ext4)");
}

static void test_host_mounted_btrfs(void **state) {
        check_refused(*state, "0000:00:0b.0", "virtio-pci", "controller of vdd, mounted on /srv (btrfs)");
}

static void test_host_console(void **state) {
        check_refused(*state, "0000:00:06.0", "bochs-drm", "drives fb0, the framebuffer of the active console");
}

static void test_host_enslaved(void **state) {
        check_refused(*state, "0000:00:09.0", "e1000", "eth5 is enslaved to br0, and br0 carries the route 192.168.0.0/24");
}

static void test_host_sriov_pf(void **state) {
        struct fakekernel *fk = *state;
        _cleanup_free_ char *p = fakekernel_path(fk, "sys/bus/pci/devices/0000:00:0c.0/sriov_numvfs"), *reason = NULL;
        check_refused(fk, "0000:00:0c.0", "e1000", "SR-IOV physical function with 2 virtual functions enabled");
        assert_int_equal(write_string_file(p, "0\n"), 0);
        assert_int_equal(pci_host_uses(PA("0000:00:0c.0"), &reason), 0);
}

static void test_host_route_v4(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:00:02.0");
        _cleanup_free_ char *reason = NULL;
        /* without its IPv6 address, eth0 is still used through its IPv4 routes */
        _cleanup_free_ char *p = fakekernel_path(fk, "proc/net/if_inet6");
        assert_int_equal(unlink(p), 0);
        assert_int_equal(pci_host_uses(&a, &reason), 1);
        assert_contains(reason, "eth0 carries the default route via 10.0.2.2");
}

static void test_console_unbound(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:00:06.0");
        _cleanup_free_ char *p = fakekernel_path(fk, "sys/devices/virtual/vtconsole/vtcon1/bind"), *reason = NULL;
        assert_int_equal(write_string_file(p, "0\n"), 0);
        assert_int_equal(pci_host_uses(&a, &reason), 0);
        assert_null(reason);
}

static void test_host_free(void **state) {
        struct fakekernel *fk = *state;
        _cleanup_free_ char *reason = NULL;
        /* eth1 has only a link-local address and the fe80::/64 and ff00::/8 routes */
        assert_int_equal(pci_host_uses(PA("0000:00:03.0"), &reason), 0);
        assert_null(reason);
        assert_int_equal(pci_host_uses(PA("0000:01:01.0"), &reason), 0);
        assert_int_equal(fk->n_writes, 0);
}

static void test_force(void **state) {
        struct fakekernel *fk = *state;
        struct pci_addr a = A("0000:00:02.0");
        _cleanup_free_ char *err = NULL, *orig = NULL;

        assert_int_equal(pci_detach(&a, NULL, PCI_FORCE, &orig, &err), 1);
        assert_null(err);
        assert_string_equal(orig, "e1000");
        assert_driver(fk, "0000:00:02.0", "vfio-pci");
        assert_true(exists(fk, "dev/vfio/1"));
        assert_int_equal(pci_reattach(&a, NULL, &err), 1);
        assert_driver(fk, "0000:00:02.0", "e1000");
}

static void test_bridge_refused(void **state) {
        struct fakekernel *fk = *state;
        _cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL, *reason = NULL;

        assert_int_equal(pci_is_bridge(PA("0000:00:04.0")), 1);
        assert_int_equal(pci_is_bridge(PA("0000:00:03.0")), 0);
        /* even with --force */
        assert_int_equal(pci_detach(PA("0000:00:04.0"), NULL, PCI_FORCE, NULL, &err), -EPERM);
        assert_contains(err, "refusing to detach 0000:00:04.0: it is a bridge (class 0x060400)");
        assert_int_equal(pci_detach(PA("0000:00:00.0"), NULL, PCI_FORCE, NULL, &err2), -EPERM);
        assert_contains(err2, "bridge (class 0x060000)");
        assert_int_equal(pci_host_uses(PA("0000:00:04.0"), &reason), 1);
        assert_contains(reason, "bridges are never detached");
        assert_int_equal(pci_reset(PA("0000:00:04.0"), &err3), -EBUSY);
        assert_int_equal(fk->n_writes, 0);
}

/* ---- reset --------------------------------------------------------------------------------------- */

static void test_reset(void **state) {
        struct fakekernel *fk = *state;
        _cleanup_free_ char *err = NULL, *err2 = NULL, *err3 = NULL;

        assert_int_equal(pci_reset(PA("0000:00:03.0"), &err), 0);
        assert_null(err);
        assert_int_equal(fk->n_resets, 1);
        assert_string_equal(fk->last_reset, "0000:00:03.0");

        assert_int_equal(pci_reset(PA("0000:01:01.0"), &err2), -EOPNOTSUPP);
        assert_contains(err2, "0000:01:01.0 offers no reset method (no 'reset' attribute");
        assert_int_equal(fk->n_resets, 1);

        /* the host's own NIC is not reset under it */
        assert_int_equal(pci_reset(PA("0000:00:02.0"), &err3), -EBUSY);
        assert_contains(err3, "refusing to reset 0000:00:02.0");
        assert_int_equal(fk->n_resets, 1);
}

static void test_reset_write_error(void **state) {
        struct fakekernel *fk = *state;
        _cleanup_free_ char *err = NULL;
        fk->fail_write_suffix = strdup("/reset");
        fk->fail_write_errno = ENOTTY;
        assert_int_equal(pci_reset(PA("0000:00:03.0"), &err), -ENOTTY);
        assert_contains(err, "reset of 0000:00:03.0 failed (methods: flr bus)");
}

/* ---- registry give-back -------------------------------------------------------------------------- */

static void test_giveback(void **state) {
        struct fakekernel *fk = *state;
        struct claim c = { .type = HOSTDEV_TYPE_PCI };
        _cleanup_free_ char *err = NULL, *orig = NULL;

        c.pci.addr = A("0000:00:03.0");
        assert_int_equal(pci_detach(&c.pci.addr, NULL, 0, &orig, &err), 1);
        c.pci.orig_driver = orig;
        c.pci.detached = false;
        assert_int_equal(hostdev_giveback_claim(&c, &err), 0); /* not detached by hostdev: left */
        assert_driver(fk, "0000:00:03.0", "vfio-pci");
        c.pci.detached = true;
        assert_int_equal(hostdev_giveback_claim(&c, &err), 1);
        assert_null(err);
        assert_driver(fk, "0000:00:03.0", "e1000");
}

/* ---- the CLI refuses to take a claimed device (or its IOMMU group) from its domain --------- */

/* Run $HOSTDEV_BIN with args; exit status, stderr into *ret_err. */
static int run_cli(char **ret_err, const char *a1, const char *a2) {
        const char *bin = getenv("HOSTDEV_BIN");
        int pfd[2], st;
        if (!bin)
                fail_msg("HOSTDEV_BIN not set: run through meson test");
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(pfd[1], STDERR_FILENO);
                int null = open("/dev/null", O_WRONLY);
                if (null >= 0)
                        dup2(null, STDOUT_FILENO);
                close(pfd[0]);
                execl(bin, bin, a1, a2, (char *) NULL);
                _exit(127);
        }
        close(pfd[1]);
        struct strbuf sb = STRBUF_INIT;
        char buf[4096];
        ssize_t n;
        while ((n = read(pfd[0], buf, sizeof buf)) > 0)
                strbuf_appendn(&sb, buf, (size_t) n);
        close(pfd[0]);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        *ret_err = strbuf_steal(&sb);
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli_claimed(void **state) {
        struct fakekernel *fk = *state;
        _cleanup_(registry_freep) struct registry *reg = NULL;
        _cleanup_free_ char *err = NULL, *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
        struct claim c = { .type = HOSTDEV_TYPE_PCI, .state = CLAIM_STATE_ATTACHED };

        assert_int_equal(pci_detach(PA("0000:01:01.0"), NULL, 0, NULL, &err), 1);
        assert_int_equal(pci_detach(PA("0000:01:02.0"), NULL, 0, NULL, &err), 1);
        assert_null(err);
        /* vm-a holds 0000:01:02.0 (no domain record: never stale) */
        assert_int_equal(registry_open(&reg, &err), 0);
        c.key = (char *) "pci:0000:01:02.0";
        c.node = (char *) "pci_0000_01_02_0";
        c.pci.addr = A("0000:01:02.0");
        c.pci.orig_driver = (char *) "e1000";
        c.pci.detached = true;
        c.pci.iommu_group = 4;
        assert_true(registry_claim(reg, "vm-a", &c, NULL, &err) >= 0);
        assert_null(err);

        unsigned w = fk->n_writes;
        assert_int_equal(run_cli(&e1, "nodedev-reattach", "pci_0000_01_02_0"), 1);
        assert_contains(e1, "hostdev: error: cannot reattach pci_0000_01_02_0: it is in use by domain vm-a");
        assert_int_equal(run_cli(&e2, "nodedev-reattach", "0000:01:01.0"), 1);
        assert_contains(e2, "cannot reattach pci_0000_01_01_0: it shares IOMMU group 4 with pci_0000_01_02_0, in use by domain vm-a");
        assert_int_equal(run_cli(&e3, "nodedev-reset", "pci_0000_01_02_0"), 1);
        assert_contains(e3, "cannot reset pci_0000_01_02_0: it is in use by domain vm-a");
        /* another device is not concerned */
        assert_int_equal(run_cli(&e4, "nodedev-reattach", "pci_0000_00_03_0"), 0);
        /* nothing moved */
        assert_int_equal(fk->n_writes, w);
        assert_driver(fk, "0000:01:01.0", "vfio-pci");
        assert_driver(fk, "0000:01:02.0", "vfio-pci");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                T(test_detach_reattach),
                T(test_detach_sequence),
                T(test_reattach_explicit_and_no_record),
                T(test_reattach_unbound),
                T(test_interrupted_detach),
                T(test_reattach_in_use),
                T(test_stub_to_vfio_keeps_orig),
                T(test_rollback_failed_bind),
                T(test_rollback_failed_unbind),
                T(test_rollback_no_vfio_node),
                T(test_reattach_fails_keeps_record),
                T(test_missing_device),
                T(test_no_iommu_group),
                T(test_group),
                T(test_host_nic_address),
                T(test_host_mounted),
                T(test_host_swap),
                T(test_host_mounted_dm),
                T(test_host_mounted_btrfs),
                T(test_host_console),
                T(test_host_enslaved),
                T(test_host_sriov_pf),
                T(test_host_route_v4),
                T(test_console_unbound),
                T(test_host_free),
                T(test_force),
                T(test_bridge_refused),
                T(test_reset),
                T(test_reset_write_error),
                T(test_giveback),
                T(test_cli_claimed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
