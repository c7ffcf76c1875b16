/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the node-device XML (`hostdev dumpxml`): a device of the kind the first
 * byte picks (USB device, USB interface, PCI function, net interface, SCSI device) is read by
 * the real reader from a scratch sysfs tree whose attribute values are the rest of the input,
 * split at '|' (an attribute with no value left is absent), then formatted with
 * nodedev_format_xml(). Whatever the attributes hold — control characters, invalid UTF-8,
 * markup — the output must be well-formed XML with a <device> root (a device may name itself
 * anything; the XML must stay XML). Never a crash, leak or hang either. */
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <libxml/parser.h>

#include "inventory-private.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *root;

struct kind {
        const char *rel;
        int (*reader)(struct scan *, const char *, struct nodedev **);
        const char *const *attrs;
};
static const char *const usb_attrs[] = { "serial", "manufacturer", "product", "busnum", "devnum", "idVendor",
                                         "idProduct", "speed", "bDeviceClass", "bDeviceSubClass",
                                         "bDeviceProtocol", "version", NULL };
static const char *const if_attrs[] = { "bInterfaceClass", "bInterfaceNumber", "bInterfaceSubClass",
                                        "bInterfaceProtocol", NULL };
static const char *const pci_attrs[] = { "reset_method", "vendor", "device", "class", "subsystem_vendor",
                                         "subsystem_device", "numa_node", "max_link_speed",
                                         "current_link_speed", "max_link_width", "current_link_width", NULL };
static const char *const net_attrs[] = { "address", "operstate", "speed", "duplex", NULL };
static const char *const scsi_attrs[] = { "vendor", "model", "type", "rev", NULL };
static const struct kind kinds[] = {
        { "devices/pci0000:00/0000:00:04.0/usb1/1-4.1", usb_read, usb_attrs },
        { "devices/pci0000:00/0000:00:04.0/usb1/1-4.1/1-4.1:1.0", usb_read, if_attrs },
        { "devices/pci0000:00/0000:00:03.0", pci_read, pci_attrs },
        { "devices/pci0000:00/0000:00:03.0/net/eth0", net_read, net_attrs },
        { "devices/pci0000:00/0000:00:05.0/host0/target0:0:0/0:0:0:0", scsi_read, scsi_attrs },
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(p) < 0 ? 0 : 0;
}

static void cleanup_root(void) {
        if (root)
                (void) nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void silent(void *ctx, const char *msg, ...) {
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char *dirs[ELEMENTSOF(kinds)];

        if (size < 1 || size > 4096)
                return 0;
        if (!root) {
                char tmpl[] = "/dev/shm/fuzz-nodedev-XXXXXX", tmpl2[] = "/tmp/fuzz-nodedev-XXXXXX";
                const char *t = mkdtemp(tmpl);
                if (!t)
                        t = mkdtemp(tmpl2);
                if (!t)
                        abort();
                root = strdup(t);
                atexit(cleanup_root);
                xmlInitParser();
                xmlSetGenericErrorFunc(NULL, silent);
                for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                        dirs[i] = path_join(root, kinds[i].rel, NULL);
                        if (!dirs[i] || mkdir_p(dirs[i], 0755) < 0)
                                abort();
                }
        }

        const struct kind *k = &kinds[data[0] % ELEMENTSOF(kinds)];
        const char *dir = dirs[data[0] % ELEMENTSOF(kinds)];
        const uint8_t *p = data + 1, *end = data + size;
        for (const char *const *a = k->attrs; *a; a++) {
                _cleanup_free_ char *path = path_join(dir, *a, NULL);
                if (!path)
                        return 0;
                if (p > end) {
                        (void) unlink(path);
                        continue;
                }
                const uint8_t *sep = memchr(p, '|', (size_t) (end - p));
                size_t n = (size_t) ((sep ? sep : end) - p);
                _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0)
                        abort();
                if (n > 0 && write(fd, p, n) != (ssize_t) n)
                        abort();
                p += n + 1;
        }

        char **warnings = NULL;
        struct scan s = { .root = root, .root_len = strlen(root), .warnings = &warnings };
        struct nodedev *d = NULL;
        if (k->reader(&s, dir, &d) >= 0 && d) {
                char *xml = NULL;
                if (!d->parent)
                        d->parent = strdup("computer");
                if (nodedev_format_xml(NULL, d, &xml) >= 0) {
                        xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "device.xml", NULL,
                                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
                        xmlNodePtr r = doc ? xmlDocGetRootElement(doc) : NULL;
                        if (!r || !xmlStrEqual(r->name, (const xmlChar *) "device")) {
                                fprintf(stderr, "nodedev_format_xml gave no well-formed <device>:\n%s\n", xml);
                                abort();
                        }
                        xmlFreeDoc(doc);
                        free(xml);
                }
                nodedev_free(d);
        }
        scan_close_dir(&s);
        strv_free(warnings);
        return 0;
}
