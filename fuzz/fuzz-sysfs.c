/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the inventory's sysfs attribute handling: arbitrary bytes as the value
 * of every attribute of a USB device, a USB interface, a PCI function, a net interface and a
 * SCSI device in a scratch sysfs tree, read by the real readers, and as input to each pure
 * parser. Never a crash, leak or hang; warnings are fine. */
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "inventory-private.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *root;

static const char *const usb_attrs[] = { "busnum", "devnum", "idVendor", "idProduct", "serial",
                                         "manufacturer", "product", "speed", "bDeviceClass",
                                         "bDeviceSubClass", "bDeviceProtocol", "version" };
static const char *const if_attrs[] = { "bInterfaceNumber", "bInterfaceClass", "bInterfaceSubClass",
                                        "bInterfaceProtocol" };
static const char *const pci_attrs[] = { "vendor", "device", "subsystem_vendor", "subsystem_device",
                                         "class", "numa_node", "max_link_speed", "current_link_speed",
                                         "max_link_width", "current_link_width", "sriov_totalvfs",
                                         "reset_method" };
static const char *const net_attrs[] = { "address", "operstate", "speed" };
static const char *const scsi_attrs[] = { "type", "vendor", "model" };

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(p) < 0 ? 0 : 0;
}

static void cleanup_root(void) {
        if (root)
                (void) nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void put(const char *dir, const char *name, const uint8_t *data, size_t size) {
        _cleanup_free_ char *p = path_join(dir, name, NULL);
        _cleanup_close_ int fd = p ? open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
        if (fd >= 0 && size > 0)
                (void) !write(fd, data, size);
}

static char *mkdev(const char *rel) {
        char *p = path_join(root, rel, NULL);
        if (p)
                (void) mkdir_p(p, 0755);
        return p;
}

static void read_with(int (*reader)(struct scan *, const char *, struct nodedev **), const char *dir,
                      const char *const *attrs, size_t n, const uint8_t *data, size_t size) {
        char **warnings = NULL;
        struct scan s = { .root = root, .root_len = strlen(root), .warnings = &warnings };
        struct nodedev *d = NULL;
        for (size_t i = 0; i < n; i++)
                put(dir, attrs[i], data, size);
        if (reader(&s, dir, &d) >= 0)
                nodedev_free(d);
        scan_close_dir(&s);
        strv_free(warnings);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 4096)
                return 0;
        if (!root) {
                /* tmpfs if there is one: the target writes ~30 small files per input */
                char tmpl[] = "/dev/shm/fuzz-sysfs-XXXXXX", tmpl2[] = "/tmp/fuzz-sysfs-XXXXXX";
                const char *t = mkdtemp(tmpl);
                if (!t)
                        t = mkdtemp(tmpl2);
                if (!t)
                        abort();
                root = strdup(t);
                atexit(cleanup_root);
        }
        static char *usb, *uif, *pci, *net, *scsi; /* made once, kept for the process */
        if (!usb) {
                usb = mkdev("devices/pci0000:00/0000:00:04.0/usb1/1-4.1");
                uif = mkdev("devices/pci0000:00/0000:00:04.0/usb1/1-4.1/1-4.1:1.0");
                pci = mkdev("devices/pci0000:00/0000:00:03.0");
                net = mkdev("devices/pci0000:00/0000:00:03.0/net/eth0");
                scsi = mkdev("devices/pci0000:00/0000:00:05.0/host0/target0:0:0/0:0:0:0");
        }
        if (!usb || !uif || !pci || !net || !scsi)
                abort();
        read_with(usb_read, usb, usb_attrs, ELEMENTSOF(usb_attrs), data, size);
        read_with(usb_read, uif, if_attrs, ELEMENTSOF(if_attrs), data, size);
        read_with(pci_read, pci, pci_attrs, ELEMENTSOF(pci_attrs), data, size);
        read_with(net_read, net, net_attrs, ELEMENTSOF(net_attrs), data, size);
        read_with(scsi_read, scsi, scsi_attrs, ELEMENTSOF(scsi_attrs), data, size);

        /* the pure parsers, on the bytes as a C string */
        _cleanup_free_ char *s = malloc(size + 1);
        if (!s)
                return 0;
        memcpy(s, data, size);
        s[size] = 0;
        unsigned u1, u2, u3;
        unsigned long long ll;
        uint16_t h;
        struct pci_addr a;
        char *out = NULL;
        if (parse_usb_sysname(s, &u1, &out) >= 0)
                free(out);
        out = NULL;
        if (parse_usb_port_dir(s, &out) >= 0)
                free(out);
        out = NULL;
        if (parse_link_speed(s, &out) >= 0)
                free(out);
        (void) parse_hex16(s, &h);
        (void) parse_pci_addr(s, &a);
        (void) parse_scsi_hbtl(s, &u1, &u2, &u3, &ll);
        (void) scsi_type_to_string(size ? data[0] : 0);
        free(nodedev_make_name("net", s, s));
        return 0;
}
