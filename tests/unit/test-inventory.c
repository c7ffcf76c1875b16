/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The inventory on the fixture tree tests/data/sys/mini (see tests/data/sys/make-mini.py)
 * and on broken copies of it made at test time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <libudev.h>

#include "error.h"
#include "inventory-private.h"
#include "inventory.h"
#include "util.h"

static char *fixture_dir(void) {
        const char *d = getenv("HOSTDEV_TEST_DATA");
        assert_non_null(d); /* set by meson test */
        return path_join(d, "sys/mini", NULL);
}

static struct inventory *scan_at(const char *root) {
        struct inventory *inv = NULL;
        _cleanup_free_ char *err = NULL;
        setenv("HOSTDEV_SYSFS_ROOT", root, 1);
        setenv("HOSTDEV_DEV_ROOT", "/dev", 1);
        int r = inventory_scan(&inv, &err);
        if (r < 0)
                fail_msg("scan of %s failed: %s", root, strna(err));
        assert_non_null(inv);
        return inv;
}

static struct inventory *scan_mini(void) {
        _cleanup_free_ char *d = fixture_dir();
        return scan_at(d);
}

static struct nodedev *must_find(const struct inventory *inv, const char *name) {
        struct nodedev *d = inventory_find(inv, name);
        if (!d)
                fail_msg("device %s not found", name);
        return d;
}

static bool warnings_match(const struct inventory *inv, const char *a, const char *b) {
        for (char **w = inv->warnings; w && *w; w++)
                if (strstr(*w, a) && (!b || strstr(*w, b)))
                        return true;
        return false;
}

static void dump_warnings(const struct inventory *inv) {
        for (char **w = inv->warnings; w && *w; w++)
                print_message("warning: %s\n", *w);
}

/* ---- tree ---------------------------------------------------------------------------------- */

static void test_tree(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = scan_mini();
        dump_warnings(inv);
        assert_null(inv->warnings); /* the fixture is clean */
        assert_true(inv->n_devs > 30);
        assert_string_equal(inv->devs[0]->name, "computer");
        assert_null(inv->devs[0]->parent);
        assert_int_equal(inv->devs[0]->cap, NODEDEV_CAP_SYSTEM);
        /* each parent exists and comes before its child; names are unique */
        for (size_t i = 1; i < inv->n_devs; i++) {
                const struct nodedev *d = inv->devs[i];
                assert_non_null(d->parent);
                bool found = false;
                for (size_t j = 0; j < i; j++)
                        if (streq(inv->devs[j]->name, d->parent))
                                found = true;
                if (!found)
                        fail_msg("%s: parent %s not listed before it", d->name, d->parent);
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(inv->devs[j]->name, d->name);
                assert_non_null(d->sysfs_path);
                assert_non_null(strstr(d->sysfs_path, "/devices/"));
        }
        assert_string_equal(must_find(inv, "pci_0000_00_04_0")->parent, "computer");
        assert_string_equal(must_find(inv, "pci_0000_02_01_0")->parent, "pci_0000_00_03_0");
        assert_string_equal(must_find(inv, "usb_usb1")->parent, "pci_0000_00_04_0");
        assert_string_equal(must_find(inv, "usb_1_3")->parent, "usb_usb1");
        assert_string_equal(must_find(inv, "usb_1_3_1")->parent, "usb_1_3");
        assert_string_equal(must_find(inv, "usb_1_3_1_1_0")->parent, "usb_1_3_1");
        assert_string_equal(must_find(inv, "net_eth0_52_54_00_12_34_56")->parent, "pci_0000_01_00_0");
        assert_string_equal(must_find(inv, "net_lo_00_00_00_00_00_00")->parent, "computer");
        assert_string_equal(must_find(inv, "scsi_host0")->parent, "pci_0000_00_05_0");
        assert_string_equal(must_find(inv, "scsi_target0_0_0")->parent, "scsi_host0");
        assert_string_equal(must_find(inv, "scsi_0_0_0_0")->parent, "scsi_target0_0_0");
        assert_string_equal(must_find(inv, "scsi_generic_sg0")->parent, "scsi_0_0_0_0");
        assert_string_equal(must_find(inv, "block_sda")->parent, "scsi_0_0_0_0");
        assert_null(inventory_find(inv, "block_sda1")); /* partitions are not devices */
        assert_string_equal(must_find(inv, "mdev_8f1c4a2e_0c2b_4a5e_9d3f_6a7b8c9d0e1f")->parent,
                            "pci_0000_00_06_0");
}

/* ---- USB ---------------------------------------------------------------------------------- */

static void check_dongle(const struct inventory *inv, const char *name, unsigned devnum, const char *serial,
                         const char *port, const char *peer, bool usbip) {
        const struct nodedev *d = must_find(inv, name);
        const struct usb_device_info *u = &d->u.usb;
        assert_int_equal(d->cap, NODEDEV_CAP_USB_DEVICE);
        assert_string_equal(d->subsystem, "usb");
        assert_int_equal(u->bus, 1);
        assert_int_equal(u->devnum, devnum);
        assert_int_equal(u->vendor_id, 0x46f4);
        assert_int_equal(u->product_id, 0x0001);
        assert_string_equal(u->serial, serial);
        assert_string_equal(u->port, port);
        if (peer)
                assert_string_equal(u->peer_port, peer);
        else
                assert_null(u->peer_port);
        assert_string_equal(u->manufacturer, "QEMU");
        assert_string_equal(u->product_string, "QEMU USB HARDDRIVE");
        assert_string_equal(u->speed, "480");
        assert_string_equal(u->version, "2.00");
        assert_int_equal(u->dev_class, 0);
        assert_false(u->is_hub);
        assert_string_equal(u->hcd_driver, "xhci_hcd");
        assert_int_equal(u->usbip_exported, usbip);
        _cleanup_free_ char *node = strdup_printf("/dev/bus/usb/001/%03u", devnum);
        assert_string_equal(d->devnode, node);
        assert_ptr_equal(inventory_find_usb(inv, 1, devnum), d);
}

static void test_usb(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = scan_mini();
        check_dongle(inv, "usb_1_1", 2, "DONGLE-A", "1", "2-1", false);
        check_dongle(inv, "usb_1_2", 3, "DONGLE-B", "2", "2-2", false);
        check_dongle(inv, "usb_1_3_1", 5, "DONGLE-C", "3.1", NULL, false);
        check_dongle(inv, "usb_1_3_2", 6, "DONGLE-D", "3.2", NULL, true);
        assert_string_equal(must_find(inv, "usb_1_3_2")->driver, "usbip-host");

        const struct nodedev *hub = must_find(inv, "usb_1_3");
        assert_true(hub->u.usb.is_hub);
        assert_int_equal(hub->u.usb.vendor_id, 0x0409);
        assert_int_equal(hub->u.usb.product_id, 0x55aa);
        assert_null(hub->u.usb.serial);
        assert_string_equal(hub->u.usb.peer_port, "2-3");

        const struct nodedev *rh = must_find(inv, "usb_usb2");
        assert_int_equal(rh->u.usb.bus, 2);
        assert_null(rh->u.usb.port);
        assert_string_equal(rh->u.usb.speed, "5000");
        assert_string_equal(rh->u.usb.version, "3.00");
        assert_string_equal(rh->u.usb.hcd_driver, "xhci_hcd");
        assert_true(rh->u.usb.is_hub);

        const struct nodedev *i = must_find(inv, "usb_1_1_1_0");
        assert_int_equal(i->cap, NODEDEV_CAP_USB_INTERFACE);
        assert_int_equal(i->u.usb_if.number, 0);
        assert_int_equal(i->u.usb_if.iface_class, 8);
        assert_int_equal(i->u.usb_if.iface_subclass, 6);
        assert_int_equal(i->u.usb_if.iface_protocol, 0x50);
        assert_string_equal(i->driver, "usb-storage");

        /* the fast path sees the same dongles and nothing else */
        _cleanup_(inventory_freep) struct inventory *u = NULL;
        assert_int_equal(inventory_scan_usb(&u, NULL), 0);
        for (size_t k = 1; k < u->n_devs; k++)
                assert_true(u->devs[k]->cap == NODEDEV_CAP_USB_DEVICE ||
                            u->devs[k]->cap == NODEDEV_CAP_USB_INTERFACE);
        check_dongle(u, "usb_1_3_1", 5, "DONGLE-C", "3.1", NULL, false);
        assert_string_equal(must_find(u, "usb_usb1")->parent, "computer");

        /* one device on its own (after a uevent) */
        _cleanup_(nodedev_freep) struct nodedev *one = NULL;
        _cleanup_free_ char *err = NULL;
        assert_int_equal(nodedev_read_usb(must_find(inv, "usb_1_2")->sysfs_path, 0, &one, &err), 0);
        assert_string_equal(one->name, "usb_1_2");
        assert_string_equal(one->u.usb.serial, "DONGLE-B");
        assert_string_equal(one->u.usb.port, "2");
        assert_int_equal(one->u.usb.devnum, 3);
        assert_string_equal(one->u.usb.peer_port, "2-2");
        assert_string_equal(one->u.usb.manufacturer, "QEMU");
        /* the watch loop's read: the serial, not the strings that take the device's lock */
        _cleanup_(nodedev_freep) struct nodedev *lean = NULL;
        assert_int_equal(nodedev_read_usb(one->sysfs_path, INVENTORY_SCAN_NO_USB_STRINGS, &lean, NULL), 0);
        assert_string_equal(lean->u.usb.serial, "DONGLE-B");
        assert_null(lean->u.usb.manufacturer);
        assert_null(lean->u.usb.product_string);
        assert_int_equal(lean->u.usb.vendor_id, one->u.usb.vendor_id);
        assert_string_equal(lean->u.usb.peer_port, "2-2");
        _cleanup_(inventory_freep) struct inventory *ul = NULL;
        assert_int_equal(inventory_scan_usb_flags(INVENTORY_SCAN_NO_HWDB | INVENTORY_SCAN_NO_USB_STRINGS, &ul, NULL), 0);
        assert_int_equal(ul->n_devs, u->n_devs);
        assert_string_equal(must_find(ul, "usb_1_3_1")->u.usb.serial, "DONGLE-C");
        assert_string_equal(must_find(ul, "usb_1_3_1")->u.usb.port, "3.1");
        assert_null(must_find(ul, "usb_1_3_1")->u.usb.product_string);
        assert_null(must_find(ul, "usb_1_3_1")->u.usb.manufacturer);
        /* the watch loop's read of a device that has just appeared: the uevent's fields, the
         * serial, the driver and the links give what the full read gives for matching */
        struct usb_event_info info = { .devpath = "/devices/pci0000:00/0000:00:04.0/usb1/1-2", .bus = 1, .devnum = 3, .vendor = 0x46f4, .product = 0x0001 };
        _cleanup_(nodedev_freep) struct nodedev *fast = NULL;
        assert_int_equal(nodedev_read_usb_event(&info, &fast, NULL), 0);
        assert_string_equal(fast->name, one->name);
        assert_string_equal(fast->sysfs_path, one->sysfs_path);
        assert_int_equal(fast->cap, NODEDEV_CAP_USB_DEVICE);
        assert_int_equal(fast->u.usb.bus, 1);
        assert_int_equal(fast->u.usb.devnum, 3);
        assert_int_equal(fast->u.usb.vendor_id, one->u.usb.vendor_id);
        assert_int_equal(fast->u.usb.product_id, one->u.usb.product_id);
        assert_string_equal(fast->u.usb.serial, "DONGLE-B");
        assert_string_equal(fast->u.usb.port, "2");
        assert_string_equal(fast->u.usb.peer_port, "2-2");
        assert_string_equal(fast->u.usb.hcd_driver, one->u.usb.hcd_driver);
        assert_string_equal(fast->driver, one->driver);
        assert_string_equal(fast->devnode, one->devnode);
        assert_false(fast->u.usb.is_hub);
        assert_null(fast->u.usb.manufacturer);
        /* behind a hub: no peer (full speed hub), the hub's class from TYPE */
        _cleanup_(nodedev_freep) struct nodedev *behind = NULL, *hubdev = NULL;
        info = (struct usb_event_info){ .devpath = "/devices/pci0000:00/0000:00:04.0/usb1/1-3/1-3.1", .bus = 1, .devnum = 5, .vendor = 0x46f4, .product = 1 };
        assert_int_equal(nodedev_read_usb_event(&info, &behind, NULL), 0);
        assert_string_equal(behind->u.usb.serial, "DONGLE-C");
        assert_string_equal(behind->u.usb.port, "3.1");
        assert_null(behind->u.usb.peer_port);
        info = (struct usb_event_info){ .devpath = "/devices/pci0000:00/0000:00:04.0/usb1/1-3", .bus = 1, .devnum = 4,
                                        .dev_class = 9 };
        assert_int_equal(nodedev_read_usb_event(&info, &hubdev, NULL), 0);
        assert_true(hubdev->u.usb.is_hub);
        /* gone again, or not a device path */
        struct nodedev *gone = NULL;
        info = (struct usb_event_info){ .devpath = "/devices/pci0000:00/0000:00:04.0/usb1/1-7", .bus = 1, .devnum = 9 };
        assert_int_equal(nodedev_read_usb_event(&info, &gone, NULL), -ENOENT);
        info.devpath = "/devices/../../etc";
        assert_int_equal(nodedev_read_usb_event(&info, &gone, NULL), -EINVAL);
        info.devpath = "/devices/pci0000:00/0000:00:04.0/usb1/1-2/1-2:1.0";
        assert_int_equal(nodedev_read_usb_event(&info, &gone, NULL), -EINVAL);
        assert_null(gone);
        struct nodedev *none = NULL;
        assert_true(nodedev_read_usb("/nonexistent/1-1", 0, &none, NULL) < 0);
        assert_null(none);
}

/* ---- PCI ---------------------------------------------------------------------------------- */

static void test_pci(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = scan_mini();
        const struct nodedev *d = must_find(inv, "pci_0000_01_00_0");
        const struct pci_device_info *p = &d->u.pci;
        assert_int_equal(d->cap, NODEDEV_CAP_PCI);
        assert_string_equal(d->driver, "igb");
        assert_int_equal(p->addr.domain, 0);
        assert_int_equal(p->addr.bus, 1);
        assert_int_equal(p->addr.slot, 0);
        assert_int_equal(p->addr.function, 0);
        assert_int_equal(p->vendor_id, 0x8086);
        assert_int_equal(p->product_id, 0x10c9);
        assert_int_equal(p->subsys_vendor_id, 0x8086);
        assert_int_equal(p->subsys_product_id, 0xa03c);
        assert_int_equal(p->class, 0x020000);
        assert_int_equal(p->iommu_group, 2);
        assert_int_equal(p->numa_node, 0);
        assert_false(p->is_bridge);
        assert_int_equal(p->sriov_totalvfs, 7);
        assert_non_null(p->virtfns);
        assert_string_equal(p->virtfns[0], "pci_0000_01_10_0");
        assert_null(p->virtfns[1]);
        assert_null(p->physfn);
        assert_string_equal(p->link_max_speed, "2.5");
        assert_int_equal(p->link_max_width, 4);
        assert_string_equal(p->link_cur_speed, "2.5");
        assert_int_equal(p->link_cur_width, 1);
        assert_true(p->has_reset);
        assert_string_equal(p->reset_method, "flr bus");

        const struct nodedev *vf = must_find(inv, "pci_0000_01_10_0");
        assert_string_equal(vf->u.pci.physfn, "pci_0000_01_00_0");
        assert_int_equal(vf->u.pci.iommu_group, 3);
        assert_int_equal(vf->u.pci.sriov_totalvfs, -1);

        const struct nodedev *rp = must_find(inv, "pci_0000_00_01_0");
        assert_true(rp->u.pci.is_bridge);
        assert_string_equal(rp->u.pci.link_max_speed, "16");
        assert_string_equal(rp->u.pci.link_cur_speed, "8");
        assert_int_equal(rp->u.pci.link_max_width, 16);
        assert_int_equal(rp->u.pci.link_cur_width, 16);
        assert_int_equal(rp->u.pci.link_port, 1); /* from config space */
        assert_true(rp->u.pci.is_pcie);
        assert_true(rp->u.pci.has_link);
        assert_true(must_find(inv, "pci_0000_00_00_0")->u.pci.is_pcie);
        assert_false(must_find(inv, "pci_0000_00_00_0")->u.pci.has_link);
        assert_true(p->is_pcie); /* no config file: from the sysfs link attributes */
        assert_string_equal(rp->driver, "pcieport");

        const struct nodedev *br = must_find(inv, "pci_0000_00_03_0");
        assert_true(br->u.pci.is_bridge);
        assert_null(br->driver);
        assert_int_equal(br->u.pci.iommu_group, 5);
        assert_int_equal(br->u.pci.numa_node, -1);
        assert_int_equal(br->u.pci.link_max_width, -1);
        assert_null(br->u.pci.link_max_speed);
        assert_int_equal(must_find(inv, "pci_0000_02_01_0")->u.pci.iommu_group, 5);

        const struct nodedev *gpu = must_find(inv, "pci_0000_00_06_0");
        assert_int_equal(gpu->u.pci.n_mdev_types, 1);
        assert_string_equal(gpu->u.pci.mdev_types[0].id, "nvidia-11");
        assert_string_equal(gpu->u.pci.mdev_types[0].name, "GRID M60-0B");
        assert_string_equal(gpu->u.pci.mdev_types[0].device_api, "vfio-pci");
        assert_int_equal(gpu->u.pci.mdev_types[0].available_instances, 15);

        struct pci_addr a = { 0, 2, 1, 0 };
        assert_ptr_equal(inventory_find_pci(inv, &a), must_find(inv, "pci_0000_02_01_0"));
        a.function = 1;
        assert_null(inventory_find_pci(inv, &a));

        /* hwdb names when the hwdb can be opened, else NULL */
        struct udev *u = udev_new();
        struct udev_hwdb *hw = u ? udev_hwdb_new(u) : NULL;
        if (hw)
                assert_string_equal(p->vendor_name, "Intel Corporation");
        else
                assert_null(p->vendor_name);
        if (hw)
                udev_hwdb_unref(hw);
        if (u)
                udev_unref(u);
}

/* ---- net, SCSI, storage, mdev ---------------------------------------------------------------- */

static void test_net_scsi_mdev(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = scan_mini();
        const struct nodedev *n = must_find(inv, "net_eth0_52_54_00_12_34_56");
        assert_int_equal(n->cap, NODEDEV_CAP_NET);
        assert_string_equal(n->u.net.ifname, "eth0");
        assert_string_equal(n->u.net.mac, "52:54:00:12:34:56");
        assert_string_equal(n->u.net.link_state, "up");
        assert_int_equal(n->u.net.speed, 1000);
        assert_null(n->driver); /* as libvirt: the interface has no driver, its parent has */
        const struct nodedev *n1 = must_find(inv, "net_eth1_52_54_00_ab_cd_ef");
        assert_string_equal(n1->u.net.link_state, "down");
        assert_int_equal(n1->u.net.speed, 4294967295U); /* "-1", printed as libvirt 9.0 does */
        assert_string_equal(must_find(inv, "net_eth2_52_54_00_00_00_02")->parent, "pci_0000_02_01_0");

        const struct nodedev *h = must_find(inv, "scsi_host0");
        assert_int_equal(h->cap, NODEDEV_CAP_SCSI_HOST);
        assert_int_equal(h->u.scsi_host, 0);
        const struct nodedev *s = must_find(inv, "scsi_0_0_0_0");
        assert_int_equal(s->cap, NODEDEV_CAP_SCSI);
        assert_string_equal(s->u.scsi.type, "disk");
        assert_string_equal(s->u.scsi.vendor, "QEMU");
        assert_string_equal(s->u.scsi.model, "QEMU HARDDISK");
        assert_string_equal(s->u.scsi.sg_name, "sg0");
        assert_string_equal(s->u.scsi.block_name, "sda");
        assert_string_equal(s->driver, "sd");

        const struct nodedev *b = must_find(inv, "block_sda");
        assert_int_equal(b->cap, NODEDEV_CAP_STORAGE);
        assert_string_equal(b->u.block, "/dev/sda");
        assert_string_equal(b->u.storage.bus, "scsi");
        assert_string_equal(b->u.storage.drive_type, "disk");
        assert_int_equal(b->u.storage.size, 2097152ULL * 512);
        assert_int_equal(b->u.storage.logical_block_size, 512);
        assert_string_equal(b->devnode, "/dev/sda");

        const struct nodedev *g = must_find(inv, "scsi_generic_sg0");
        assert_string_equal(g->u.sg, "/dev/sg0");

        const struct nodedev *m = must_find(inv, "mdev_8f1c4a2e_0c2b_4a5e_9d3f_6a7b8c9d0e1f");
        assert_int_equal(m->cap, NODEDEV_CAP_MDEV);
        assert_string_equal(m->u.mdev_type, "nvidia-11");
        assert_string_equal(m->u.mdev.uuid, "8f1c4a2e-0c2b-4a5e-9d3f-6a7b8c9d0e1f");
        assert_int_equal(m->u.mdev.iommu_group, 9);
        assert_string_equal(m->driver, "vfio_mdev");
}

/* ---- XML ---------------------------------------------------------------------------------- */

static void test_xml(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = scan_mini();
        _cleanup_free_ char *x = NULL, *want = NULL;
        const struct nodedev *d = must_find(inv, "usb_1_3_1");

        assert_int_equal(nodedev_format_xml(inv, d, &x), 0);
        want = strdup_printf("<device>\n"
                             "  <name>usb_1_3_1</name>\n"
                             "  <path>%s</path>\n"
                             "  <devnode type='dev'>/dev/bus/usb/001/005</devnode>\n"
                             "  <parent>usb_1_3</parent>\n"
                             "  <driver>\n"
                             "    <name>usb</name>\n"
                             "  </driver>\n"
                             "  <capability type='usb_device'>\n"
                             "    <bus>1</bus>\n"
                             "    <device>5</device>\n"
                             "    <product id='0x0001'>QEMU USB HARDDRIVE</product>\n"
                             "    <vendor id='0x46f4'>%s</vendor>\n"
                             "    <serial>DONGLE-C</serial>\n"
                             "    <port>3.1</port>\n"
                             "  </capability>\n"
                             "</device>\n",
                             d->sysfs_path, d->u.usb.vendor_name ? d->u.usb.vendor_name : "QEMU");
        if (d->u.usb.product_name) /* a hwdb that knows 46f4:0001 names it */
                assert_non_null(strstr(x, "<product id='0x0001'>"));
        else
                assert_string_equal(x, want);

        /* PCI: iommu group members, VFs, link */
        free(x), x = NULL;
        assert_int_equal(nodedev_format_xml(inv, must_find(inv, "pci_0000_00_03_0"), &x), 0);
        assert_non_null(strstr(x, "<class>0x060400</class>\n    <domain>0</domain>\n    <bus>0</bus>\n"
                                  "    <slot>3</slot>\n    <function>0</function>\n"));
        assert_non_null(strstr(x, "<iommuGroup number='5'>\n"
                                  "      <address domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>\n"
                                  "      <address domain='0x0000' bus='0x02' slot='0x01' function='0x0'/>\n"
                                  "    </iommuGroup>\n"));
        assert_null(strstr(x, "<driver>"));
        assert_null(strstr(x, "<numa"));
        assert_null(strstr(x, "pci-express")); /* 256-byte config: conventional PCI */
        free(x), x = NULL;
        assert_int_equal(nodedev_format_xml(inv, must_find(inv, "pci_0000_00_00_0"), &x), 0);
        assert_non_null(strstr(x, "    </iommuGroup>\n    <pci-express/>\n  </capability>\n"));
        free(x), x = NULL;
        assert_int_equal(nodedev_format_xml(inv, must_find(inv, "pci_0000_00_01_0"), &x), 0);
        assert_non_null(strstr(x, "    <pci-express>\n"
                                  "      <link validity='cap' port='1' speed='16' width='16'/>\n"
                                  "      <link validity='sta' speed='8' width='16'/>\n"
                                  "    </pci-express>\n"));
        free(x), x = NULL;
        assert_int_equal(nodedev_format_xml(inv, must_find(inv, "pci_0000_01_00_0"), &x), 0);
        assert_non_null(strstr(x, "<capability type='virt_functions' maxCount='7'>\n"
                                  "      <address domain='0x0000' bus='0x01' slot='0x10' function='0x0'/>\n"));
        assert_non_null(strstr(x, "<numa node='0'/>\n    <pci-express>\n"
                                  "      <link validity='cap' speed='2.5' width='4'/>\n"
                                  "      <link validity='sta' speed='2.5' width='1'/>\n"));
        free(x), x = NULL;
        assert_int_equal(nodedev_format_xml(inv, must_find(inv, "pci_0000_01_10_0"), &x), 0);
        assert_non_null(strstr(x, "<capability type='phys_function'>\n"
                                  "      <address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>\n"));
        free(x), x = NULL;
        assert_int_equal(nodedev_format_xml(inv, must_find(inv, "pci_0000_00_06_0"), &x), 0);
        assert_non_null(strstr(x, "<capability type='mdev_types'>\n      <type id='nvidia-11'>\n"
                                  "        <name>GRID M60-0B</name>\n        <deviceAPI>vfio-pci</deviceAPI>\n"
                                  "        <availableInstances>15</availableInstances>\n"));
        free(x), x = NULL;
        assert_int_equal(nodedev_format_xml(inv, must_find(inv, "net_eth0_52_54_00_12_34_56"), &x), 0);
        assert_non_null(strstr(x, "<capability type='net'>\n    <interface>eth0</interface>\n"
                                  "    <address>52:54:00:12:34:56</address>\n"
                                  "    <link speed='1000' state='up'/>\n"
                                  "    <capability type='80203'/>\n"));
        free(x), x = NULL;
        assert_int_equal(nodedev_format_xml(inv, must_find(inv, "scsi_0_0_0_0"), &x), 0);
        assert_non_null(strstr(x, "<capability type='scsi'>\n    <host>0</host>\n    <bus>0</bus>\n"
                                  "    <target>0</target>\n    <lun>0</lun>\n    <type>disk</type>\n"));
        free(x), x = NULL;
        assert_int_equal(nodedev_format_xml(inv, must_find(inv, "scsi_generic_sg0"), &x), 0);
        assert_non_null(strstr(x, "<capability type='scsi_generic'>\n    <char>/dev/sg0</char>\n"));
        free(x), x = NULL;
        assert_int_equal(nodedev_format_xml(inv, must_find(inv, "block_sda"), &x), 0);
        assert_non_null(strstr(x, "<capability type='storage'>\n    <block>/dev/sda</block>\n"
                                  "    <bus>scsi</bus>\n    <drive_type>disk</drive_type>\n"));
        free(x), x = NULL;
        assert_int_equal(nodedev_format_xml(inv, must_find(inv, "usb_1_1_1_0"), &x), 0);
        assert_non_null(strstr(x, "<capability type='usb'>\n    <number>0</number>\n    <class>8</class>\n"
                                  "    <subclass>6</subclass>\n    <protocol>80</protocol>\n"));
        free(x), x = NULL;
        assert_int_equal(nodedev_format_xml(inv, inv->devs[0], &x), 0);
        assert_string_equal(x, "<device>\n  <name>computer</name>\n  <capability type='system'>\n"
                               "    <hardware>\n      <uuid>00000000-0000-0000-0000-000000000000</uuid>\n"
                               "    </hardware>\n    <firmware>\n    </firmware>\n  </capability>\n</device>\n");
}


/* ---- the test VM's captured sysfs (tests/data/sys/vm-dongles, from tests/vm via
 * tests/data/sys/vm-capture.sh): a real kernel's layout ---------------------------------------- */

static void check_vm_dongle(const struct inventory *inv, const char *name, unsigned bus, unsigned devnum,
                            const char *serial, const char *port, const char *peer, const char *speed) {
        const struct nodedev *d = must_find(inv, name);
        assert_int_equal(d->cap, NODEDEV_CAP_USB_DEVICE);
        assert_int_equal(d->u.usb.bus, bus);
        assert_int_equal(d->u.usb.devnum, devnum);
        assert_int_equal(d->u.usb.vendor_id, 0x46f4);
        assert_int_equal(d->u.usb.product_id, 0x0001);
        assert_string_equal(d->u.usb.serial, serial);
        assert_string_equal(d->u.usb.port, port);
        if (peer)
                assert_string_equal(d->u.usb.peer_port, peer);
        else
                assert_null(d->u.usb.peer_port);
        assert_string_equal(d->u.usb.speed, speed);
        assert_string_equal(d->u.usb.hcd_driver, "xhci_hcd");
        assert_false(d->u.usb.usbip_exported);
        assert_string_equal(d->driver, "usb");
}

static void test_vm_dongles(void **state) {
        const char *td = getenv("HOSTDEV_TEST_DATA");
        assert_non_null(td);
        _cleanup_free_ char *root = path_join(td, "sys/vm-dongles", NULL);
        if (access(root, F_OK) < 0)
                fail_msg("fixture %s is missing", root);
        _cleanup_(inventory_freep) struct inventory *inv = scan_at(root);
        dump_warnings(inv);
        assert_null(inv->warnings);

        /* the dongles: identical ids, told apart by serial and port; two share serial DUP */
        check_vm_dongle(inv, "usb_2_1", 2, 2, "DONGLE-A", "1", "1-1", "5000");
        check_vm_dongle(inv, "usb_2_2", 2, 3, "DONGLE-B", "2", "1-2", "5000");
        check_vm_dongle(inv, "usb_2_3", 2, 4, "DONGLE-C", "3", "1-3", "5000");
        check_vm_dongle(inv, "usb_2_5", 2, 5, "DUP", "5", "1-5", "5000");
        check_vm_dongle(inv, "usb_1_4_1", 1, 3, "DUP", "4.1", NULL, "12");
        assert_string_equal(must_find(inv, "usb_1_4_1")->parent, "usb_1_4");
        const struct nodedev *hub = must_find(inv, "usb_1_4");
        assert_true(hub->u.usb.is_hub);
        assert_int_equal(hub->u.usb.vendor_id, 0x0409);
        assert_int_equal(hub->u.usb.product_id, 0x55aa);
        assert_string_equal(hub->u.usb.peer_port, "2-4");
        assert_string_equal(hub->parent, "usb_usb1");
        assert_string_equal(must_find(inv, "usb_usb1")->parent, "pci_0000_00_0b_0");
        assert_string_equal(must_find(inv, "usb_2_1_1_0")->driver, "usb-storage");
        /* usbip's virtual host controllers: root hubs without a listed parent */
        const struct nodedev *v = must_find(inv, "usb_usb3");
        assert_string_equal(v->parent, "computer");
        assert_string_equal(v->u.usb.hcd_driver, "vhci_hcd");
        assert_ptr_equal(inventory_find_usb(inv, 2, 5), must_find(inv, "usb_2_5"));

        /* each dongle's disk hangs under it */
        const struct nodedev *sdb = must_find(inv, "scsi_1_0_0_0");
        assert_string_equal(sdb->u.scsi.block_name, "sdb");
        assert_string_equal(sdb->u.scsi.sg_name, "sg1");
        assert_string_equal(must_find(inv, "scsi_host1")->parent, "usb_2_1_1_0");
        assert_string_equal(must_find(inv, "block_sdb")->u.storage.bus, "usb");

        /* PCI: the NICs behind the conventional bridge share its IOMMU group */
        const struct nodedev *br = must_find(inv, "pci_0000_00_05_0");
        assert_true(br->u.pci.is_bridge);
        assert_false(br->u.pci.is_pcie); /* 256-byte config space */
        assert_null(br->driver);
        for (size_t i = 0; i < 2; i++) {
                const struct nodedev *n = must_find(inv, i ? "pci_0000_01_02_0" : "pci_0000_01_01_0");
                assert_string_equal(n->parent, "pci_0000_00_05_0");
                assert_int_equal(n->u.pci.iommu_group, br->u.pci.iommu_group);
                assert_string_equal(n->driver, "e1000");
                assert_int_equal(n->u.pci.vendor_id, 0x8086);
                assert_int_equal(n->u.pci.product_id, 0x100e);
        }
        assert_int_equal(br->u.pci.iommu_group, 3);
        assert_int_equal(must_find(inv, "pci_0000_00_04_0")->u.pci.iommu_group, 2);
        assert_true(must_find(inv, "pci_0000_00_0b_0")->u.pci.is_pcie);
        assert_string_equal(must_find(inv, "net_enp0s3_52_54_00_12_34_03")->parent, "pci_0000_00_03_0");
        assert_string_equal(must_find(inv, "net_ens1_52_54_00_12_34_11")->parent, "pci_0000_01_01_0");

        /* the virtio-scsi disk and the host's own virtio-blk disk */
        assert_string_equal(must_find(inv, "scsi_host0")->parent, "pci_0000_00_06_0");
        assert_string_equal(must_find(inv, "scsi_0_0_0_0")->u.scsi.type, "disk");
        const struct nodedev *vda = must_find(inv, "block_vda_HOSTDISK");
        assert_string_equal(vda->parent, "pci_0000_00_07_0");
        assert_string_equal(vda->u.storage.serial, "HOSTDISK");
        assert_string_equal(vda->u.storage.bus, "virtio");

        _cleanup_free_ char *x = NULL;
        assert_int_equal(nodedev_format_xml(inv, br, &x), 0);
        assert_non_null(strstr(x, "<iommuGroup number='3'>\n"
                                  "      <address domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>\n"
                                  "      <address domain='0x0000' bus='0x01' slot='0x01' function='0x0'/>\n"
                                  "      <address domain='0x0000' bus='0x01' slot='0x02' function='0x0'/>\n"
                                  "    </iommuGroup>\n"));
}

/* ---- owners ------------------------------------------------------------------------------ */

static const char *owner_cb(const struct nodedev *d, void *userdata) {
        return streq(d->name, "usb_1_2") ? (const char *) userdata : NULL;
}

static void test_owners(void **state) {
        _cleanup_(inventory_freep) struct inventory *inv = scan_mini();
        assert_int_equal(inventory_fill_owners(inv, owner_cb, (void *) "vm1"), 0);
        assert_string_equal(must_find(inv, "usb_1_2")->owner, "vm1");
        assert_null(must_find(inv, "usb_1_1")->owner);
}

/* ---- broken trees ---------------------------------------------------------------------------- */

struct broken {
        char *root;
};

static int broken_setup(void **state) {
        _cleanup_free_ char *src = fixture_dir();
        char tmpl[] = "/tmp/hostdev-inv-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        _cleanup_free_ char *cmd = strdup_printf("cp -a '%s/.' '%s/'", src, tmpl);
        assert_int_equal(system(cmd), 0);
        struct broken *b = calloc(1, sizeof(*b));
        b->root = strdup(tmpl);
        *state = b;
        return 0;
}

static int broken_teardown(void **state) {
        struct broken *b = *state;
        _cleanup_free_ char *cmd = strdup_printf("chmod -R u+rwX '%s'; rm -rf '%s'", b->root, b->root);
        assert_int_equal(system(cmd), 0);
        free(b->root);
        free(b);
        return 0;
}

static char *usbdev(struct broken *b, const char *rel) {
        return path_join(b->root, "devices/pci0000:00/0000:00:04.0/usb1", rel, NULL);
}

static void put(const char *path, const char *content) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static void test_broken_missing_attr(void **state) {
        struct broken *b = *state;
        _cleanup_free_ char *p = usbdev(b, "1-1/idVendor");
        assert_int_equal(unlink(p), 0);
        _cleanup_free_ char *p2 = path_join(b->root, "devices/pci0000:00/0000:00:02.0/class", NULL);
        assert_int_equal(unlink(p2), 0);
        _cleanup_(inventory_freep) struct inventory *inv = scan_at(b->root);
        dump_warnings(inv);
        const struct nodedev *d = must_find(inv, "usb_1_1");
        assert_int_equal(d->u.usb.vendor_id, 0);
        assert_int_equal(d->u.usb.product_id, 1);
        assert_string_equal(d->u.usb.serial, "DONGLE-A");
        assert_true(warnings_match(inv, "1-1/idVendor", "No such file"));
        assert_true(warnings_match(inv, "0000:00:02.0/class", "No such file"));
        assert_int_equal(must_find(inv, "pci_0000_00_02_0")->u.pci.vendor_id, 0x8086);
        assert_int_equal(strv_length(inv->warnings), 2);
}

/* A serial left unread at "add" and read later is the same string a full read gives: control
 * characters and invalid UTF-8 sanitized alike, an empty one kept empty (a claim recorded from
 * one read must match the device as the other read sees it). */
static void test_serial_read_later(void **state) {
        struct broken *b = *state;
        static const char *const serials[] = { "DONGLE\001X\377\n", "\n", "  PADDED  \n" };
        setenv("HOSTDEV_SYSFS_ROOT", b->root, 1);
        setenv("HOSTDEV_DEV_ROOT", "/dev", 1);
        for (size_t i = 0; i < ELEMENTSOF(serials); i++) {
                _cleanup_free_ char *serial = usbdev(b, "1-2/serial"), *dir = usbdev(b, "1-2");
                put(serial, serials[i]);
                _cleanup_(nodedev_freep) struct nodedev *full = NULL, *later = NULL;
                assert_int_equal(nodedev_read_usb(dir, INVENTORY_SCAN_NO_USB_STRINGS, &full, NULL), 0);
                struct usb_event_info info = { .devpath = "/devices/pci0000:00/0000:00:04.0/usb1/1-2", .bus = 1,
                                               .devnum = 3, .vendor = 0x46f4, .product = 1, .no_serial = true };
                assert_int_equal(nodedev_read_usb_event(&info, &later, NULL), 0);
                assert_true(later->u.usb.serial_unread);
                assert_null(later->u.usb.serial);
                assert_int_equal(nodedev_usb_read_serial(later), 0);
                assert_false(later->u.usb.serial_unread);
                assert_non_null(full->u.usb.serial);
                assert_non_null(later->u.usb.serial);
                assert_string_equal(later->u.usb.serial, full->u.usb.serial);
        }
}

static void test_broken_garbage(void **state) {
        struct broken *b = *state;
        _cleanup_free_ char *p = usbdev(b, "1-2/devnum");
        put(p, "abc\n");
        _cleanup_free_ char *p2 = usbdev(b, "1-3/1-3.1/idProduct");
        put(p2, "0xzz\n");
        _cleanup_free_ char *p3 = path_join(b->root, "devices/pci0000:00/0000:00:01.0/0000:01:00.0/max_link_speed", NULL);
        put(p3, "fast\n");
        _cleanup_free_ char *p4 = path_join(b->root, "devices/pci0000:00/0000:00:02.0/numa_node", NULL);
        put(p4, "\n");
        _cleanup_free_ char *p5 = usbdev(b, "1-1/busnum");
        put(p5, "99999999999999999999\n");
        _cleanup_(inventory_freep) struct inventory *inv = scan_at(b->root);
        dump_warnings(inv);
        const struct nodedev *d = must_find(inv, "usb_1_2");
        assert_int_equal(d->u.usb.devnum, 0);
        assert_null(d->devnode);
        assert_string_equal(d->u.usb.serial, "DONGLE-B");
        assert_true(warnings_match(inv, "1-2/devnum", "invalid number 'abc'"));
        assert_int_equal(must_find(inv, "usb_1_3_1")->u.usb.product_id, 0);
        assert_true(warnings_match(inv, "1-3.1/idProduct", "0xzz"));
        assert_null(must_find(inv, "pci_0000_01_00_0")->u.pci.link_max_speed);
        assert_string_equal(must_find(inv, "pci_0000_01_00_0")->u.pci.link_cur_speed, "2.5");
        assert_true(warnings_match(inv, "max_link_speed", "fast"));
        assert_int_equal(must_find(inv, "pci_0000_00_02_0")->u.pci.numa_node, -1);
        assert_true(warnings_match(inv, "0000:00:02.0/numa_node", "invalid number"));
        /* the bus number falls back to the one in the sysfs name */
        assert_int_equal(must_find(inv, "usb_1_1")->u.usb.bus, 1);
        assert_true(warnings_match(inv, "1-1/busnum", "invalid number"));
        assert_int_equal(strv_length(inv->warnings), 5);
}

static void test_broken_dangling(void **state) {
        struct broken *b = *state;
        /* a bus entry pointing nowhere, a dangling port link, a dangling mdev_type */
        _cleanup_free_ char *l = path_join(b->root, "bus/usb/devices/1-4", NULL);
        assert_int_equal(symlink("../../../devices/pci0000:00/0000:00:04.0/usb1/1-4", l), 0);
        _cleanup_free_ char *port = usbdev(b, "1-1/port");
        assert_int_equal(unlink(port), 0);
        assert_int_equal(symlink("../1-0:1.0/usb1-port9", port), 0);
        _cleanup_free_ char *esc = path_join(b->root, "bus/pci/devices/0000:00:09.0", NULL);
        assert_int_equal(symlink("../../../../../../../../../../../etc", esc), 0);
        _cleanup_(inventory_freep) struct inventory *inv = scan_at(b->root);
        dump_warnings(inv);
        assert_true(warnings_match(inv, "bus/usb/devices/1-4", "dangling"));
        assert_true(warnings_match(inv, "1-1/port", "dangling"));
        assert_true(warnings_match(inv, "bus/pci/devices/0000:00:09.0", "leaves the sysfs root"));
        assert_null(inventory_find(inv, "usb_1_4"));
        assert_null(inventory_find(inv, "pci_0000_00_09_0"));
        /* the port is found again by its name in the hub, so the peer is still known */
        assert_string_equal(must_find(inv, "usb_1_1")->u.usb.peer_port, "2-1");
        assert_string_equal(must_find(inv, "usb_1_2")->u.usb.peer_port, "2-2");
}

static void test_broken_unreadable(void **state) {
        struct broken *b = *state;
        /* a directory where a file should be: read() fails with EISDIR, even for root */
        _cleanup_free_ char *p = usbdev(b, "1-3/1-3.2/serial");
        assert_int_equal(unlink(p), 0);
        assert_int_equal(mkdir(p, 0755), 0);
        _cleanup_free_ char *p2 = path_join(b->root, "devices/pci0000:00/0000:00:05.0/virtio3/host0/target0:0:0/0:0:0:0/type", NULL);
        assert_int_equal(unlink(p2), 0);
        assert_int_equal(mkdir(p2, 0755), 0);
        /* an unreadable directory of class entries */
        _cleanup_free_ char *p3 = usbdev(b, "1-2/speed");
        assert_int_equal(chmod(p3, 0), 0);
        bool root = geteuid() == 0;
        _cleanup_(inventory_freep) struct inventory *inv = scan_at(b->root);
        dump_warnings(inv);
        const struct nodedev *d = must_find(inv, "usb_1_3_2");
        assert_null(d->u.usb.serial);
        assert_int_equal(d->u.usb.devnum, 6);
        assert_true(warnings_match(inv, "1-3.2/serial", "directory"));
        assert_null(must_find(inv, "scsi_0_0_0_0")->u.scsi.type);
        assert_true(warnings_match(inv, "0:0:0:0/type", "directory"));
        if (root) /* root reads mode-0 files */
                assert_string_equal(must_find(inv, "usb_1_2")->u.usb.speed, "480");
        else {
                assert_null(must_find(inv, "usb_1_2")->u.usb.speed);
                assert_true(warnings_match(inv, "1-2/speed", "Permission denied"));
        }
}

static void test_broken_empty_root(void **state) {
        char tmpl[] = "/tmp/hostdev-inv-empty-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        _cleanup_(inventory_freep) struct inventory *inv = scan_at(tmpl);
        assert_int_equal(inv->n_devs, 1);
        assert_string_equal(inv->devs[0]->name, "computer");
        rmdir(tmpl);
        struct inventory *none = NULL;
        _cleanup_free_ char *err = NULL;
        setenv("HOSTDEV_SYSFS_ROOT", "/nonexistent-hostdev-root", 1);
        assert_true(inventory_scan(&none, &err) < 0);
        assert_null(none);
        assert_non_null(err);
        assert_non_null(strstr(err, "/nonexistent-hostdev-root"));
}

/* ---- parsers ------------------------------------------------------------------------------ */

static void test_parsers(void **state) {
        unsigned bus;
        char *port = NULL, *s = NULL;
        assert_int_equal(parse_usb_sysname("1-4.1", &bus, &port), 0);
        assert_int_equal(bus, 1);
        assert_string_equal(port, "4.1");
        free(port), port = NULL;
        assert_int_equal(parse_usb_sysname("usb12", &bus, &port), 0);
        assert_int_equal(bus, 12);
        assert_null(port);
        assert_int_equal(parse_usb_sysname("1-4.", &bus, &port), -EINVAL);
        assert_int_equal(parse_usb_sysname("1-", &bus, &port), -EINVAL);
        assert_int_equal(parse_usb_sysname("-1", &bus, &port), -EINVAL);
        assert_int_equal(parse_usb_sysname("1-4:1.0", &bus, &port), -EINVAL);
        assert_int_equal(parse_usb_sysname("usb", &bus, &port), -EINVAL);
        assert_int_equal(parse_usb_sysname("0-1", &bus, &port), -EINVAL);

        assert_int_equal(parse_usb_port_dir("usb2-port4", &s), 0);
        assert_string_equal(s, "2-4");
        free(s), s = NULL;
        assert_int_equal(parse_usb_port_dir("2-4-port1", &s), 0);
        assert_string_equal(s, "2-4.1");
        free(s), s = NULL;
        assert_int_equal(parse_usb_port_dir("2-4.1-port13", &s), 0);
        assert_string_equal(s, "2-4.1.13");
        free(s), s = NULL;
        assert_int_equal(parse_usb_port_dir("port4", &s), -EINVAL);
        assert_int_equal(parse_usb_port_dir("usb2-port", &s), -EINVAL);
        assert_int_equal(parse_usb_port_dir("usb2-port0", &s), -EINVAL);

        uint16_t v;
        assert_int_equal(parse_hex16("0x8086", &v), 0);
        assert_int_equal(v, 0x8086);
        assert_int_equal(parse_hex16("46f4", &v), 0);
        assert_int_equal(v, 0x46f4);
        assert_int_equal(parse_hex16("0x10000", &v), -ERANGE);
        assert_int_equal(parse_hex16("0x", &v), -EINVAL);
        assert_int_equal(parse_hex16("-1", &v), -EINVAL);

        assert_int_equal(parse_link_speed("8.0 GT/s PCIe", &s), 0);
        assert_string_equal(s, "8");
        free(s), s = NULL;
        assert_int_equal(parse_link_speed("2.5 GT/s", &s), 0);
        assert_string_equal(s, "2.5");
        free(s), s = NULL;
        assert_int_equal(parse_link_speed("32.0 GT/s PCIe", &s), 0);
        assert_string_equal(s, "32");
        free(s), s = NULL;
        assert_int_equal(parse_link_speed("Unknown", &s), -EINVAL);
        assert_int_equal(parse_link_speed("3.0 GT/s", &s), -EINVAL);

        struct pci_addr a;
        assert_int_equal(parse_pci_addr("0000:03:1f.7", &a), 0);
        assert_int_equal(a.bus, 3);
        assert_int_equal(a.slot, 0x1f);
        assert_int_equal(a.function, 7);
        assert_int_equal(parse_pci_addr("0000:03:20.0", &a), -ERANGE);
        assert_int_equal(parse_pci_addr("0000:03:00.0x", &a), -EINVAL);
        assert_int_equal(parse_pci_addr("0000:03:00", &a), -EINVAL);

        unsigned h, bb, t;
        unsigned long long l;
        assert_int_equal(parse_scsi_hbtl("2:0:1:5", &h, &bb, &t, &l), 0);
        assert_int_equal(h, 2);
        assert_int_equal(t, 1);
        assert_int_equal(l, 5);
        assert_int_equal(parse_scsi_hbtl("2:0:1", &h, &bb, &t, &l), -EINVAL);
        assert_int_equal(parse_scsi_hbtl("host2", &h, &bb, &t, &l), -EINVAL);
        assert_string_equal(scsi_type_to_string(5), "cdrom");
        assert_null(scsi_type_to_string(0x1f));

        _cleanup_free_ char *n = nodedev_make_name("net", "eth0", "52:54:00:12:34:56");
        assert_string_equal(n, "net_eth0_52_54_00_12_34_56");
        _cleanup_free_ char *m = nodedev_make_name("usb", "1-4.1:1.0", NULL);
        assert_string_equal(m, "usb_1_4_1_1_0");

        assert_string_equal(nodedev_cap_to_string(NODEDEV_CAP_USB_INTERFACE), "usb");
        assert_int_equal(nodedev_cap_from_string("usb_device"), NODEDEV_CAP_USB_DEVICE);
        assert_int_equal(nodedev_cap_from_string("bogus"), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_tree),
                cmocka_unit_test(test_usb),
                cmocka_unit_test(test_pci),
                cmocka_unit_test(test_net_scsi_mdev),
                cmocka_unit_test(test_xml),
                cmocka_unit_test(test_owners),
                cmocka_unit_test(test_vm_dongles),
                cmocka_unit_test_setup_teardown(test_broken_missing_attr, broken_setup, broken_teardown),
                cmocka_unit_test_setup_teardown(test_broken_garbage, broken_setup, broken_teardown),
                cmocka_unit_test_setup_teardown(test_serial_read_later, broken_setup, broken_teardown),
                cmocka_unit_test_setup_teardown(test_broken_dangling, broken_setup, broken_teardown),
                cmocka_unit_test_setup_teardown(test_broken_unreadable, broken_setup, broken_teardown),
                cmocka_unit_test(test_broken_empty_root),
                cmocka_unit_test(test_parsers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
