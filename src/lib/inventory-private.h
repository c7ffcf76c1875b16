/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Internals shared by the inventory readers (inventory.c, usb.c, pci.c, net.c, scsi.c,
 * mdev.c). Not for other modules: use inventory.h. */

#include <stdint.h>

#include "inventory.h"

struct udev;
struct udev_hwdb;

/* One scan: the resolved root, the hwdb (opened once), the warnings sink. */
struct scan {
        char *root;       /* realpath of sysfs_root() */
        size_t root_len;
        struct udev *udev;
        struct udev_hwdb *hwdb; /* NULL: names stay NULL */
        bool hwdb_wanted;       /* open hwdb at the first lookup (scan_init; a PCI-only summary
                                 * scan never needs it) */
        char ***warnings; /* strv to append to */
        unsigned flags;   /* INVENTORY_SCAN_* */
        /* the directory last read from, kept open for openat() (valid while dfd_path != NULL) */
        int dfd;
        char *dfd_path;
        /* the last hwdb answers (big trees repeat a few ids thousands of times; freed by the
         * scan's teardown in inventory.c) */
        struct {
                char key[64];
                char *vendor, *model;
        } hwdb_cache[8];
        unsigned hwdb_cache_next;
        /* the last USB host controller's driver (one per bus, asked by every device on it);
         * only scans made by scan_init() keep it (freed by their teardown) */
        bool hcd_cached;
        char *hcd_path, *hcd_driver;
};
/* Close the cached directory fd (scan teardown; callers that build a scan by hand call it). */
void scan_close_dir(struct scan *s);

void scan_warn(struct scan *s, const char *fmt, ...) _printf_(2, 3);
/* Path relative to the root, for messages. */
const char *scan_rel(const struct scan *s, const char *path);

/* Attribute readers. A missing attribute returns -ENOENT and warns only if `required`; any
 * other failure (unreadable, garbage) always warns. ret untouched on failure. */
int attr_string(struct scan *s, const char *dir, const char *attr, bool required, char **ret);
/* The whole attribute, every line (e.g. uevent); -ENOENT silent. ret untouched on failure. */
int attr_read_lines(struct scan *s, const char *dir, const char *attr, char **ret);
int attr_uint(struct scan *s, const char *dir, const char *attr, unsigned base, bool required,
              unsigned *ret);
int attr_int(struct scan *s, const char *dir, const char *attr, bool required, int *ret);
int attr_hex16(struct scan *s, const char *dir, const char *attr, bool required, uint16_t *ret);
/* readlink basename of dir/link; -ENOENT silent unless required. */
int attr_link_basename(struct scan *s, const char *dir, const char *link, bool required, char **ret);
/* realpath of dir/link kept under the root; -ENOENT silent; dangling warns. */
int attr_link_resolve(struct scan *s, const char *dir, const char *link, char **ret);
/* The same through the whole path: the directory fd kept for the device being read stays
 * (for a link in another directory, e.g. a USB port's peer). */
int attr_link_resolve_path(struct scan *s, const char *dir, const char *link, char **ret);

/* hwdb names for a modalias-style key ("usb:v46F4p0001"); NULLs if unknown. */
void hwdb_names(struct scan *s, const char *key, char **ret_vendor, char **ret_model);

/* Pure parsers of attribute values (fuzzed by fuzz/fuzz-sysfs.c). */
int parse_hex16(const char *v, uint16_t *ret);              /* "0x8086", "46f4" */
int parse_usb_sysname(const char *name, unsigned *ret_bus, char **ret_port); /* "1-4.1", "usb1" */
int parse_usb_port_dir(const char *portdir, char **ret_sysname); /* "usb2-port4"->"2-4", "2-4-port1"->"2-4.1" */
int parse_pci_addr(const char *s, struct pci_addr *ret);    /* "0000:00:03.0" */
int parse_link_speed(const char *v, char **ret);            /* "8.0 GT/s PCIe" -> "8" */
int parse_scsi_hbtl(const char *s, unsigned *h, unsigned *b, unsigned *t, unsigned long long *l);
const char *scsi_type_to_string(unsigned t);
int pci_config_find_pcie(const uint8_t *cfg, size_t len, unsigned *ret_type, uint32_t *ret_lnkcap,
                         uint16_t *ret_lnksta);
int system_read(struct scan *s, struct nodedev *computer); /* DMI strings */                 /* libvirt's names, NULL unknown */

/* Per-subsystem readers: path is the resolved device directory. */
int usb_read(struct scan *s, const char *path, struct nodedev **ret);
/* A USB device from its uevent's fields plus a few reads (nodedev_read_usb_event()). */
int usb_read_event(struct scan *s, const char *path, const struct usb_event_info *e, struct nodedev **ret);
int pci_read(struct scan *s, const char *path, struct nodedev **ret);
int net_read(struct scan *s, const char *path, struct nodedev **ret);
int scsi_read(struct scan *s, const char *path, struct nodedev **ret); /* hostN, targetH:B:T, H:B:T:L */
int scsi_generic_read(struct scan *s, const char *path, struct nodedev **ret);
int storage_read(struct scan *s, const char *path, struct nodedev **ret);
int mdev_read(struct scan *s, const char *path, struct nodedev **ret);
int pci_read_mdev_types(struct scan *s, const char *path, struct pci_device_info *pci);

struct nodedev *nodedev_new(const char *path, const char *subsystem, enum nodedev_cap cap);
char *path_basename_dup(const char *path);
