/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The in-memory form of one <hostdev> (or <interface type='hostdev'>) element, normalised to
 * libvirt's model whatever form it was written in. Produced by hostdev-xml.c, consumed by
 * resolve.c, qemu-args.c and everything after them.
 *
 * Conventions: every optional scalar has a has_* flag; strings are NULL when absent; all
 * memory belongs to the def and goes with hostdev_def_free(). */

#include <stdbool.h>
#include <stdint.h>

enum hostdev_mode {
        HOSTDEV_MODE_SUBSYSTEM,
        HOSTDEV_MODE_CAPABILITIES,
};

enum hostdev_type {
        /* mode='subsystem' */
        HOSTDEV_TYPE_USB,
        HOSTDEV_TYPE_PCI,
        HOSTDEV_TYPE_SCSI,
        HOSTDEV_TYPE_SCSI_HOST,
        HOSTDEV_TYPE_MDEV,
        /* mode='capabilities' */
        HOSTDEV_TYPE_CAP_STORAGE,
        HOSTDEV_TYPE_CAP_MISC,
        HOSTDEV_TYPE_CAP_NET,
};

/* Which element the def came from; formatting writes it back in that element. */
enum hostdev_origin {
        HOSTDEV_ORIGIN_HOSTDEV,   /* <hostdev> in any accepted form */
        HOSTDEV_ORIGIN_INTERFACE, /* <interface type='hostdev'> */
};

/* Which input form was used (for messages only; output is always libvirt's form). */
enum hostdev_form {
        HOSTDEV_FORM_LIBVIRT,
        HOSTDEV_FORM_DESIGN, /* mode='bus' / mode='capability' */
        HOSTDEV_FORM_PATCH,  /* <hostdev type='usb' vendor= product=/> */
};

enum tristate {
        TRISTATE_ABSENT = 0,
        TRISTATE_YES,
        TRISTATE_NO,
};

enum startup_policy {
        STARTUP_POLICY_DEFAULT = 0, /* absent: mandatory */
        STARTUP_POLICY_MANDATORY,
        STARTUP_POLICY_REQUISITE,
        STARTUP_POLICY_OPTIONAL,
};

struct pci_addr {
        uint32_t domain; /* <= 0xffff */
        uint8_t bus;
        uint8_t slot;     /* <= 0x1f */
        uint8_t function; /* <= 7 */
};

/* ---- guest-side <address> ---------------------------------------------------------------- */
enum guest_address_type {
        GUEST_ADDRESS_NONE = 0,
        GUEST_ADDRESS_PCI,
        GUEST_ADDRESS_DRIVE,
        GUEST_ADDRESS_USB,
        GUEST_ADDRESS_CCW,
        GUEST_ADDRESS_VIRTIO_SERIAL,
        GUEST_ADDRESS_CCID,
        GUEST_ADDRESS_SPAPR_VIO,
        GUEST_ADDRESS_VIRTIO_S390,
        GUEST_ADDRESS_VIRTIO_MMIO,
        GUEST_ADDRESS_ISA,
        GUEST_ADDRESS_DIMM,
        GUEST_ADDRESS_UNASSIGNED,
};

/* Bits of guest_address.given: which optional attributes were written (formatting writes
 * exactly those back). pci, drive, usb, virtio-serial always format all their fields. */
enum {
        GUEST_ADDRESS_GIVEN_REG = 1u << 0,      /* spapr-vio reg */
        GUEST_ADDRESS_GIVEN_IOBASE = 1u << 1,   /* isa iobase */
        GUEST_ADDRESS_GIVEN_IRQ = 1u << 2,      /* isa irq */
        GUEST_ADDRESS_GIVEN_SLOT = 1u << 3,     /* ccid / dimm slot */
        GUEST_ADDRESS_GIVEN_BASE = 1u << 4,     /* dimm base */
        GUEST_ADDRESS_GIVEN_CCW = 1u << 5,      /* ccw cssid+ssid+devno */
        GUEST_ADDRESS_GIVEN_ZPCI_UID = 1u << 6, /* pci <zpci uid=> */
        GUEST_ADDRESS_GIVEN_ZPCI_FID = 1u << 7, /* pci <zpci fid=> */
};

struct guest_address {
        enum guest_address_type type;
        /* pci */
        struct pci_addr pci;
        enum tristate multifunction;
        /* pci zpci child: <zpci uid= fid=/> */
        bool has_zpci;
        uint32_t zpci_uid, zpci_fid;
        /* drive */
        unsigned controller, bus, target, unit;
        /* usb: bus + port path "1.2" */
        char *usb_port;
        /* ccw */
        unsigned cssid, ssid, devno;
        /* virtio-serial / ccid: controller, bus (above), port */
        unsigned port;
        bool has_port;
        /* spapr-vio */
        unsigned long long reg;
        /* isa */
        unsigned iobase, irq;
        /* dimm */
        unsigned slot;
        unsigned long long base;
        /* which of controller/bus/target/unit/... were given (bit per field, for round-trip) */
        unsigned given;
};

/* ---- per-type sources -------------------------------------------------------------------- */
struct usb_source {
        bool has_vendor, has_product;
        uint16_t vendor, product;
        bool has_bus, has_device;
        unsigned bus;    /* decimal */
        unsigned device; /* 1..127 */
        char *serial;    /* extension: <serial> */
        char *port;      /* extension: <address bus='N' port='1.2.3'/> (needs has_bus) */
        char *remote_host; /* extension: <remote host= port=/> */
        unsigned remote_port; /* default 3240 */
};

enum usb_guest_reset {
        USB_GUEST_RESET_DEFAULT = 0,
        USB_GUEST_RESET_OFF,
        USB_GUEST_RESET_UNIPORT,
        USB_GUEST_RESET_ON,
};

enum pci_backend {
        PCI_BACKEND_DEFAULT = 0,
        PCI_BACKEND_KVM,
        PCI_BACKEND_VFIO,
        PCI_BACKEND_XEN,
};

struct pci_source {
        struct pci_addr addr;
        bool has_addr;
        enum tristate writeFiltering; /* <source writeFiltering='yes|no'> */
};

enum scsi_protocol {
        SCSI_PROTOCOL_ADAPTER = 0, /* default, "none" */
        SCSI_PROTOCOL_ISCSI,
};

struct iscsi_host {
        char *name;
        char *port; /* string as libvirt keeps it */
};

struct scsi_source {
        enum scsi_protocol protocol;
        /* adapter */
        char *adapter; /* "scsi_host0" */
        unsigned bus, target;
        unsigned long long unit;
        bool has_address;
        /* old design form: <source name='sg3'/> <target address='H:B:T:L'/> */
        char *sg_name;
        /* iscsi */
        char *iqn_name; /* <source protocol='iscsi' name='iqn.../1'> */
        struct iscsi_host *hosts;
        size_t n_hosts;
        char *auth_username;
        char *auth_secret_type;  /* "iscsi" */
        char *auth_secret_usage; /* or uuid */
        char *auth_secret_uuid;
        char *initiator_iqn;
};

enum scsi_sgio {
        SCSI_SGIO_DEFAULT = 0,
        SCSI_SGIO_FILTERED,
        SCSI_SGIO_UNFILTERED,
};

struct scsi_host_source {
        char *protocol; /* "vhost" */
        char *wwpn;     /* "naa.5001405df3e54061" */
};

enum mdev_model {
        MDEV_MODEL_NONE = 0,
        MDEV_MODEL_VFIO_PCI,
        MDEV_MODEL_VFIO_CCW,
        MDEV_MODEL_VFIO_AP,
};

struct mdev_source {
        char *uuid; /* canonical lower-case 8-4-4-4-12 */
};

struct ip_def {
        char *address;
        char *family; /* ipv4 / ipv6, optional */
        bool has_prefix;
        unsigned prefix;
};

struct route_def {
        char *family;
        char *address;
        char *netmask;
        bool has_prefix;
        unsigned prefix;
        char *gateway;
        bool has_metric;
        unsigned metric;
};

struct caps_source {
        char *block;     /* storage: /dev/sdf1 */
        char *char_dev;  /* misc: /dev/input/event3 */
        char *interface; /* net: eth0 */
        struct ip_def *ips;
        size_t n_ips;
        struct route_def *routes;
        size_t n_routes;
};

/* ---- <interface type='hostdev'> extras ---------------------------------------------------- */
struct vlan_tag {
        unsigned id;
        char *native_mode; /* "tagged"/"untagged" or NULL */
};

struct virtualport_def {
        char *type; /* 802.1Qbh, 802.1Qbg, openvswitch, ... */
        /* <parameters .../> attributes, kept as ordered name/value pairs */
        char **param_names;
        char **param_values;
        size_t n_params;
};

struct interface_extras {
        char *mac;      /* normalised lower-case */
        char *model;    /* <model type=> */
        struct vlan_tag *vlan_tags;
        size_t n_vlan_tags;
        bool vlan_trunk;
        struct virtualport_def *virtualport;
        enum tristate trust_guest_rx_filters; /* <interface trustGuestRxFilters='yes|no'> */
};

enum teaming_type {
        TEAMING_NONE = 0,
        TEAMING_PERSISTENT,
        TEAMING_TRANSIENT,
};

/* ---- the def ------------------------------------------------------------------------------- */
struct hostdev_def {
        enum hostdev_mode mode;
        enum hostdev_type type;
        enum hostdev_origin origin;
        enum hostdev_form form;
        unsigned line; /* source line of the element, for messages */

        /* common attributes */
        enum tristate managed;
        enum startup_policy startup_policy; /* usb (and scsi? no: usb only in libvirt) */
        enum usb_guest_reset guest_reset;

        union {
                struct usb_source usb;
                struct pci_source pci;
                struct scsi_source scsi;
                struct scsi_host_source scsi_host;
                struct mdev_source mdev;
                struct caps_source caps;
        } source;

        /* pci: <driver name='vfio'/> */
        enum pci_backend backend;
        /* scsi */
        enum scsi_sgio sgio;
        enum tristate rawio;
        /* scsi_host: model='virtio|virtio-transitional|virtio-non-transitional' */
        char *scsi_host_model;
        /* mdev: model, display, ramfb */
        enum mdev_model mdev_model;
        enum tristate mdev_display;
        enum tristate mdev_ramfb;

        /* children common to all */
        bool readonly;
        bool shareable;
        bool has_boot;
        unsigned boot_order;
        char *boot_loadparm;
        /* <rom bar='on|off' file='..' enabled='yes|no'/> */
        enum tristate rom_bar; /* YES=on NO=off */
        char *rom_file;
        enum tristate rom_enabled;
        /* <teaming type='persistent|transient' persistent='ua-...'/> */
        enum teaming_type teaming;
        char *teaming_persistent;
        /* <acpi index='N'/> */
        bool has_acpi_index;
        unsigned acpi_index;
        char *alias; /* <alias name=/> ; user aliases start with "ua-" */
        struct guest_address guest_addr;

        struct interface_extras *iface; /* only for HOSTDEV_ORIGIN_INTERFACE */
};

/* A parsed input file: zero or more defs, plus the domain name when the input was a <domain>. */
struct hostdev_file {
        char *path;        /* as given, for messages */
        char *domain_name; /* <domain><name>, or NULL */
        struct hostdev_def **defs;
        size_t n_defs;
};

struct hostdev_def *hostdev_def_free(struct hostdev_def *def);
struct hostdev_file *hostdev_file_free(struct hostdev_file *f);
