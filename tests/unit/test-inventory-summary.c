/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* INVENTORY_SCAN_SUMMARY (issue 8: `hostdev list` reads only what it prints): on every fixture
 * tree it must find the same devices, in the same order, with the same values for everything
 * `list` shows (table, --tree, --json) as the full scan, and it must really skip the PCI
 * details (hwdb names, SR-IOV links, config-space link) that list does not show. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inventory.h"
#include "util.h"

static struct inventory *scan(const char *root, unsigned flags) {
        struct inventory *inv = NULL;
        _cleanup_free_ char *err = NULL;
        setenv("HOSTDEV_SYSFS_ROOT", root, 1);
        setenv("HOSTDEV_DEV_ROOT", "/dev", 1);
        int r = inventory_scan_flags(flags, &inv, &err);
        if (r < 0)
                fail_msg("scan of %s (flags %u) failed: %s", root, flags, strna(err));
        assert_non_null(inv);
        return inv;
}

#define assert_str_same(a, b) assert_true(streq_ptr((a), (b)))

/* Returns how many PCI functions the full scan knows more about than the summary. */
static unsigned compare(const char *root) {
        _cleanup_(inventory_freep) struct inventory *full = scan(root, 0);
        _cleanup_(inventory_freep) struct inventory *sum = scan(root, INVENTORY_SCAN_SUMMARY);
        unsigned richer = 0;

        assert_true(full->n_devs > 1);
        assert_int_equal(full->n_devs, sum->n_devs);
        for (size_t i = 0; i < full->n_devs; i++) {
                const struct nodedev *a = full->devs[i], *b = sum->devs[i];
                assert_str_same(a->name, b->name);
                assert_str_same(a->parent, b->parent);
                assert_int_equal(a->cap, b->cap);
                assert_str_same(a->sysfs_path, b->sysfs_path);
                assert_str_same(a->subsystem, b->subsystem);
                assert_str_same(a->driver, b->driver);
                assert_str_same(a->devnode, b->devnode);
                switch (a->cap) {
                case NODEDEV_CAP_PCI: {
                        const struct pci_device_info *p = &a->u.pci, *q = &b->u.pci;
                        assert_memory_equal(&p->addr, &q->addr, sizeof(p->addr));
                        assert_int_equal(p->vendor_id, q->vendor_id);
                        assert_int_equal(p->product_id, q->product_id);
                        assert_int_equal(p->class, q->class);
                        assert_int_equal(p->iommu_group, q->iommu_group);
                        assert_int_equal(p->numa_node, q->numa_node);
                        /* what the summary leaves out */
                        assert_null(q->vendor_name);
                        assert_null(q->product_name);
                        assert_null(q->physfn);
                        assert_null(q->virtfns);
                        assert_null(q->link_max_speed);
                        if (p->vendor_name || p->product_name || p->virtfns || p->physfn || p->link_max_speed)
                                richer++;
                        break;
                }
                case NODEDEV_CAP_USB_DEVICE: {
                        const struct usb_device_info *u = &a->u.usb, *v = &b->u.usb;
                        assert_int_equal(u->bus, v->bus);
                        assert_int_equal(u->devnum, v->devnum);
                        assert_str_same(u->port, v->port);
                        assert_int_equal(u->vendor_id, v->vendor_id);
                        assert_int_equal(u->product_id, v->product_id);
                        assert_str_same(u->vendor_name, v->vendor_name);
                        assert_str_same(u->product_name, v->product_name);
                        assert_str_same(u->manufacturer, v->manufacturer);
                        assert_str_same(u->product_string, v->product_string);
                        assert_str_same(u->serial, v->serial);
                        assert_str_same(u->speed, v->speed);
                        assert_str_same(u->hcd_driver, v->hcd_driver);
                        assert_int_equal(u->usbip_exported, v->usbip_exported);
                        break;
                }
                case NODEDEV_CAP_USB_INTERFACE:
                        assert_memory_equal(&a->u.usb_if, &b->u.usb_if, sizeof(a->u.usb_if));
                        break;
                case NODEDEV_CAP_NET:
                        assert_str_same(a->u.net.ifname, b->u.net.ifname);
                        assert_str_same(a->u.net.mac, b->u.net.mac);
                        assert_str_same(a->u.net.link_state, b->u.net.link_state);
                        break;
                case NODEDEV_CAP_STORAGE:
                        assert_str_same(a->u.storage.block, b->u.storage.block);
                        break;
                case NODEDEV_CAP_SCSI_GENERIC:
                        assert_str_same(a->u.sg, b->u.sg);
                        break;
                case NODEDEV_CAP_SCSI:
                        assert_str_same(a->u.scsi.type, b->u.scsi.type);
                        break;
                case NODEDEV_CAP_MDEV:
                        assert_str_same(a->u.mdev.type, b->u.mdev.type);
                        break;
                default:
                        break;
                }
        }
        /* the summary may warn about less (it reads less), never about more */
        for (char **w = sum->warnings; w && *w; w++)
                assert_true(strv_contains(full->warnings, *w));
        return richer;
}

static void test_fixtures(void **state) {
        const char *data = getenv("HOSTDEV_TEST_DATA");
        assert_non_null(data); /* set by meson test */
        static const char *const trees[] = { "sys/mini", "sys/vm-dongles" };
        for (size_t i = 0; i < ELEMENTSOF(trees); i++) {
                _cleanup_free_ char *root = path_join(data, trees[i], NULL);
                assert_non_null(root);
                (void) compare(root);
        }
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
        return remove(p) < 0 ? -1 : 0;
}

/* pci-gen.sh: bridges, an SR-IOV PF with VFs, functions without IOMMU group */
static void test_pci_gen(void **state) {
        const char *data = getenv("HOSTDEV_TEST_DATA");
        char tmp[] = "/tmp/hostdev-summary-XXXXXX";
        int st;
        assert_non_null(data);
        assert_non_null(mkdtemp(tmp));
        _cleanup_free_ char *gen = path_join(data, "sys/pci-gen.sh", NULL);
        _cleanup_free_ char *root = path_join(tmp, "sys", NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                execlp("bash", "bash", gen, tmp, (char *) NULL);
                _exit(127);
        }
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        unsigned richer = compare(root);
        assert_int_equal(nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS), 0);
        /* the full scan read more than the summary somewhere (the PF's VFs at least) */
        assert_true(richer > 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fixtures),
                cmocka_unit_test(test_pci_gen),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
