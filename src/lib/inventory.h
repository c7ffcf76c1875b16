/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The host device inventory: every device hostdev can name, read from sysfs under
 * sysfs_root() (HOSTDEV_SYSFS_ROOT), with libvirt's node device names and a parent chain up
 * to "computer". Implemented in inventory.c (walk + tree), usb.c, pci.c, net.c, scsi.c,
 * mdev.c (per-subsystem readers). Fields may be added; existing ones keep their meaning. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostdev-def.h"
#include "util.h"

enum nodedev_cap {
        NODEDEV_CAP_SYSTEM,       /* "computer" */
        NODEDEV_CAP_PCI,          /* pci */
        NODEDEV_CAP_USB_DEVICE,   /* usb_device */
        NODEDEV_CAP_USB_INTERFACE,/* usb */
        NODEDEV_CAP_NET,          /* net */
        NODEDEV_CAP_SCSI_HOST,    /* scsi_host */
        NODEDEV_CAP_SCSI_TARGET,  /* scsi_target */
        NODEDEV_CAP_SCSI,         /* scsi */
        NODEDEV_CAP_STORAGE,      /* storage */
        NODEDEV_CAP_SCSI_GENERIC, /* scsi_generic */
        NODEDEV_CAP_MDEV,         /* mdev */
        NODEDEV_CAP_DRM,          /* drm */
        _NODEDEV_CAP_MAX,
};

const char *nodedev_cap_to_string(enum nodedev_cap c);
int nodedev_cap_from_string(const char *s); /* -EINVAL if unknown */

struct usb_device_info {
        unsigned bus;      /* busnum */
        unsigned devnum;   /* current device number (changes on replug) */
        char *port;        /* port path "1.2" from sysfs name "3-1.2"; NULL for root hubs */
        char *peer_port;   /* the same physical port's other-speed name, "N-1.2" sysfs form, or NULL */
        uint16_t vendor_id, product_id;
        char *vendor_name;  /* hwdb name, or NULL */
        char *product_name; /* hwdb name, or NULL */
        char *manufacturer; /* iManufacturer string, or NULL */
        char *product_string; /* iProduct string, or NULL */
        char *serial;       /* iSerial string, or NULL */
        char *speed;        /* "480", "5000", ... as sysfs */
        unsigned dev_class, dev_subclass, dev_protocol;
        char *version;      /* bcdUSB as sysfs "2.00" */
        bool is_hub;
        char *hcd_driver;   /* driver of the host controller (e.g. "xhci_hcd", "vhci_hcd") */
        bool usbip_exported; /* an interface is bound to usbip-host */
        bool serial_unread;  /* not read yet (nodedev_read_usb_event() without it): NULL is
                              * "unknown", not "none"; nodedev_usb_read_serial() reads it */
};

struct usb_interface_info {
        unsigned number;
        unsigned iface_class, iface_subclass, iface_protocol;
};

struct mdev_type_info {
        char *id;          /* directory name, e.g. "nvidia-11" */
        char *name;        /* 'name' attribute, or NULL */
        char *device_api;  /* "vfio-pci", or NULL */
        unsigned available_instances;
};

struct pci_device_info {
        struct pci_addr addr;
        uint16_t vendor_id, product_id;
        uint16_t subsys_vendor_id, subsys_product_id;
        uint32_t class; /* 24-bit class code */
        char *vendor_name, *product_name; /* hwdb names, or NULL */
        int iommu_group;  /* -1: none */
        int numa_node;    /* -1: none */
        bool is_bridge;   /* class 0x0604 / 0x0607 or has child bus */
        char *physfn;     /* node name of the PF for a VF, or NULL */
        char **virtfns;   /* node names of VFs of a PF (strv), or NULL */
        int sriov_totalvfs; /* -1: not SR-IOV capable */
        /* PCIe link, -1 / NULL when not PCIe */
        int link_max_width, link_cur_width;
        char *link_max_speed, *link_cur_speed; /* GT/s as libvirt prints: "2.5" */
        bool has_reset;   /* sysfs 'reset' attribute exists */
        char *reset_method;
        /* mediated device types offered (mdev_supported_types/), n_mdev_types entries */
        struct mdev_type_info *mdev_types;
        size_t n_mdev_types;
        char *physfn_addr;  /* "0000:03:00.0" sysfs form of the PF, or NULL */
        bool is_pcie;       /* as libvirt decides: PCIe capability, else config size != 256 */
        bool has_link;      /* PCIe with a link (not a root-complex integrated endpoint) */
        int link_port;      /* port number from Link Capabilities, -1 unknown */
        char **virtfn_addrs; /* sysfs addresses of the VFs (strv), or NULL */
};

struct net_info {
        char *ifname;
        char *mac;
        char *link_state; /* operstate */
        unsigned speed;   /* Mb/s, 0 unknown */
};

struct scsi_info {
        unsigned host, bus, target;
        unsigned long long lun;
        char *type;   /* libvirt's type string ("disk", ...) */
        char *vendor, *model;
        char *sg_name;    /* "sg0" or NULL */
        char *block_name; /* "sda" or NULL */
};

/* storage: the first member aliases u.block (kept for existing users). */
/* computer: DMI strings (NULL when absent) */
struct system_info {
        char *product;   /* product_name */
        char *hw_vendor, *hw_version, *hw_serial, *hw_uuid;
        char *fw_vendor, *fw_version, *fw_date;
};

struct storage_info {
        char *block;        /* "/dev/sda" */
        char *bus;          /* "scsi", "usb", "virtio", ... or NULL */
        char *drive_type;   /* "disk", "cdrom", ... */
        char *vendor, *model, *serial; /* or NULL */
        unsigned long long size;      /* bytes */
        unsigned logical_block_size;
        bool removable;
};

/* mdev: the first member aliases u.mdev_type. */
struct mdev_info {
        char *type;   /* type id, e.g. "nvidia-11" */
        char *uuid;
        int iommu_group; /* -1: none */
};

struct nodedev {
        char *name;       /* libvirt-style: pci_0000_00_03_0, usb_1_4_1, net_eth0_52_54_..., computer */
        char *parent;     /* parent's name; NULL only for "computer" */
        char *sysfs_path; /* absolute path of the device directory under sysfs_root() (resolved) */
        char *subsystem;  /* "pci", "usb", "net", "scsi", ... */
        char *driver;     /* bound driver name, or NULL */
        char *devnode;    /* /dev/... node, or NULL */
        enum nodedev_cap cap;
        union {
                struct usb_device_info usb;
                struct usb_interface_info usb_if;
                struct pci_device_info pci;
                struct net_info net;
                struct scsi_info scsi;
                unsigned scsi_host; /* host number */
                char *block;        /* storage: "/dev/sda" */
                char *sg;           /* scsi_generic: "/dev/sg0" */
                char *mdev_type;    /* mdev: type id */
                struct storage_info storage; /* storage (storage.block == block) */
                struct mdev_info mdev;       /* mdev (mdev.type == mdev_type) */
                struct system_info system;   /* computer */
        } u;
        char *owner; /* filled from the registry by the caller (list, resolve), or NULL */
};

struct inventory {
        struct nodedev **devs; /* parents before children; [0] is "computer" */
        size_t n_devs;
        char **warnings;       /* problems met while reading (each reported once), strv */
};

/* Scan everything under sysfs_root(). Malformed sysfs never fails the scan: the device is
 * listed with what could be read and a line is added to warnings. */
int inventory_scan(struct inventory **ret, char **reterr);
/* Scan only USB devices (fast path for resolve/watch). */
int inventory_scan_usb(struct inventory **ret, char **reterr);
/* What a scan may leave out (issue 8: `hostdev list` reads only what it prints). */
enum {
        /* PCI functions: ids, class, driver, IOMMU group, NUMA node only. No hwdb names, no
         * config space / link, no SR-IOV links (physfn, virtfns), no reset, no mdev types. */
        INVENTORY_SCAN_SUMMARY = 1 << 0,
        /* No hwdb lookups at all: vendor/product names are the devices' own strings only
         * (the watch loop, which names devices by ids and serial, scans often). */
        INVENTORY_SCAN_NO_HWDB = 1 << 1,
        /* USB devices: no manufacturer/product strings (the serial is still read). Reading
         * one of a device's string attributes takes the device's lock, which QEMU's open of
         * its /dev/bus/usb node waits for: the watch loop reads only what it matches on. */
        INVENTORY_SCAN_NO_USB_STRINGS = 1 << 2,
};
/* inventory_scan() with INVENTORY_SCAN_* flags (0: the same as inventory_scan()). */
int inventory_scan_flags(unsigned flags, struct inventory **ret, char **reterr);
/* inventory_scan_usb() with INVENTORY_SCAN_* flags. */
int inventory_scan_usb_flags(unsigned flags, struct inventory **ret, char **reterr);
struct inventory *inventory_free(struct inventory *inv);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct inventory *, inventory_free);

/* Fill every device's `owner` from a callback (name -> domain or NULL); the returned string
 * is copied. This is where the registry plugs in (list, resolve). */
typedef const char *(*nodedev_owner_func)(const struct nodedev *d, void *userdata);
int inventory_fill_owners(struct inventory *inv, nodedev_owner_func f, void *userdata);

struct nodedev *inventory_find(const struct inventory *inv, const char *name);
struct nodedev *inventory_find_pci(const struct inventory *inv, const struct pci_addr *a);
struct nodedev *inventory_find_usb(const struct inventory *inv, unsigned bus, unsigned devnum);

/* Read one USB device from its sysfs directory (e.g. after a uevent). Its vendor/product
 * names are the device's own strings only (no hwdb lookup); flags: INVENTORY_SCAN_NO_USB_STRINGS
 * (others are ignored). */
int nodedev_read_usb(const char *sysfs_dir, unsigned flags, struct nodedev **ret, char **reterr);
/* What a USB device's kernel uevent says of it (DEVPATH, BUSNUM, DEVNUM, PRODUCT, TYPE). */
struct usb_event_info {
        const char *devpath; /* "/devices/pci0000:00/0000:00:04.0/usb2/2-1" (below the sysfs root) */
        unsigned bus, devnum;
        uint16_t vendor, product;
        unsigned dev_class, dev_subclass, dev_protocol;
        bool no_serial; /* leave the serial unread (serial_unread set) */
};
/* The watch loop's read of a USB device that has just appeared: what its uevent says, plus
 * its serial (the one string attribute: one take of the device's lock), its driver, its port's
 * peer and its host controller's driver (links: no lock). A handful of syscalls where
 * nodedev_read_usb() makes some sixty. No manufacturer/product strings, speed or version.
 * -ENOENT if the device is gone. */
int nodedev_read_usb_event(const struct usb_event_info *e, struct nodedev **ret, char **reterr);
/* Read the serial of a USB device read without it (serial_unread); 0 also when it has none. */
int nodedev_usb_read_serial(struct nodedev *d);
/* A USB device's usbfs node under dev_root(): "/dev/bus/usb/002/007". */
char *usb_node_path(unsigned bus, unsigned devnum);
struct nodedev *nodedev_free(struct nodedev *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nodedev *, nodedev_free);

/* libvirt's node device name rule: "<prefix>_<sysname>[_<suffix>]" with every non-alphanumeric
 * character turned into '_'. */
char *nodedev_make_name(const char *prefix, const char *sysname, const char *suffix);

/* Mediated devices (mdev.c). Before passthrough: the instance's mdev_type must be a type its
 * parent offers (the link resolves) with the device API of model (vfio-pci unless
 * vfio-ccw/vfio-ap); -ENOENT/-EINVAL with a message otherwise. */
int mdev_check_instance(const struct nodedev *dev, enum mdev_model model, char **reterr);
/* "no mediated device UUID (instances on this host: ...)" plus, per parent offering types, how
 * to create it. NULL on OOM. */
char *mdev_missing_message(const struct inventory *inv, const char *uuid);

/* libvirt-compatible node-device XML (plus <serial>, <port> for USB devices). */
int nodedev_format_xml(const struct inventory *inv, const struct nodedev *d, char **ret);
