/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QEMU -device / -blockdev arguments for resolved host devices (see qemu-args.h). */
#include "qemu-args.h"

#include "error.h"
#include "json-util.h"
#include "resolve.h"
#include "util.h"

struct qemu_device *qemu_device_free(struct qemu_device *d) {
        if (!d)
                return NULL;
        free(d->id);
        json_object_put(d->blockdev);
        json_object_put(d->device);
        free(d);
        return NULL;
}

char *qemu_device_id(const struct hostdev_def *def, unsigned index) {
        if (def->alias && startswith(def->alias, "ua-"))
                return strdup(def->alias);
        return strdup_printf("hostdev%u", index);
}

const char *qemu_json_string(json_object *o) {
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Property setters; they record OOM in *oom instead of failing one by one. */
static void set_str(json_object *o, const char *k, const char *v, bool *oom) {
        json_object *s = json_object_new_string(v);
        if (!s || json_object_object_add(o, k, s) < 0) {
                json_object_put(s);
                *oom = true;
        }
}
static void set_int(json_object *o, const char *k, int64_t v, bool *oom) {
        json_object *s = json_object_new_int64(v);
        if (!s || json_object_object_add(o, k, s) < 0) {
                json_object_put(s);
                *oom = true;
        }
}
static void set_bool(json_object *o, const char *k, bool v, bool *oom) {
        json_object *s = json_object_new_boolean(v);
        if (!s || json_object_object_add(o, k, s) < 0) {
                json_object_put(s);
                *oom = true;
        }
}
static void set_strf(json_object *o, const char *k, bool *oom, const char *fmt, ...) _printf_(4, 5);
static void set_strf(json_object *o, const char *k, bool *oom, const char *fmt, ...) {
        va_list ap;
        char *s = NULL;
        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (!s) {
                *oom = true;
                return;
        }
        set_str(o, k, s, oom);
        free(s);
}

static const char *guest_addr_type_name(enum guest_address_type t) {
        switch (t) {
        case GUEST_ADDRESS_NONE:
                return "none";
        case GUEST_ADDRESS_PCI:
                return "pci";
        case GUEST_ADDRESS_DRIVE:
                return "drive";
        case GUEST_ADDRESS_USB:
                return "usb";
        case GUEST_ADDRESS_CCW:
                return "ccw";
        case GUEST_ADDRESS_VIRTIO_SERIAL:
                return "virtio-serial";
        case GUEST_ADDRESS_CCID:
                return "ccid";
        case GUEST_ADDRESS_SPAPR_VIO:
                return "spapr-vio";
        case GUEST_ADDRESS_VIRTIO_S390:
                return "virtio-s390";
        case GUEST_ADDRESS_VIRTIO_MMIO:
                return "virtio-mmio";
        case GUEST_ADDRESS_ISA:
                return "isa";
        case GUEST_ADDRESS_DIMM:
                return "dimm";
        case GUEST_ADDRESS_UNASSIGNED:
                return "unassigned";
        }
        return "?";
}

/* Guest PCI address: bus, addr, multifunction (libvirt's qemuBuildDeviceAddressProps). */
static int add_guest_pci_address(json_object *o, const struct hostdev_def *def, bool *oom, char **reterr) {
        const struct guest_address *ga = &def->guest_addr;

        if (ga->type == GUEST_ADDRESS_NONE || ga->type == GUEST_ADDRESS_UNASSIGNED)
                return 0;
        if (ga->type != GUEST_ADDRESS_PCI)
                return error_set(reterr, -EOPNOTSUPP,
                                 "line %u: a guest <address type='%s'> cannot be given to a PCI device",
                                 def->line, guest_addr_type_name(ga->type));
        if (ga->pci.domain != 0)
                return error_set(reterr, -EOPNOTSUPP,
                                 "line %u: guest PCI domain 0x%04x: QEMU on x86 has only domain 0",
                                 def->line, ga->pci.domain);
        if (ga->pci.bus == 0)
                set_str(o, "bus", "pcie.0", oom);
        else
                set_strf(o, "bus", oom, "pci.%u", ga->pci.bus);
        if (ga->pci.function == 0)
                set_strf(o, "addr", oom, "0x%x", ga->pci.slot);
        else
                set_strf(o, "addr", oom, "0x%x.0x%x", ga->pci.slot, ga->pci.function);
        if (ga->multifunction != TRISTATE_ABSENT)
                set_bool(o, "multifunction", ga->multifunction == TRISTATE_YES, oom);
        return 0;
}

static void add_bootindex(json_object *o, const struct hostdev_def *def, bool *oom) {
        if (def->has_boot)
                set_int(o, "bootindex", def->boot_order, oom);
}

static void add_rom(json_object *o, const struct hostdev_def *def, bool *oom) {
        if (def->rom_bar != TRISTATE_ABSENT)
                set_int(o, "rombar", def->rom_bar == TRISTATE_YES ? 1 : 0, oom);
        if (def->rom_enabled == TRISTATE_NO)
                set_str(o, "romfile", "", oom);
        else if (def->rom_file)
                set_str(o, "romfile", def->rom_file, oom);
}

/* What a USB device_add carries besides driver, id and the host device: boot index, guest
 * reset behaviour, guest bus and port. */
static int usb_guest_props(const struct hostdev_def *def, json_object *o, bool *oom, char **reterr) {
        const struct guest_address *ga = &def->guest_addr;

        add_bootindex(o, def, oom);
        switch (def->guest_reset) {
        case USB_GUEST_RESET_DEFAULT:
                break;
        case USB_GUEST_RESET_OFF:
                set_bool(o, "guest-reset", false, oom);
                break;
        case USB_GUEST_RESET_UNIPORT:
                set_bool(o, "guest-reset", true, oom);
                set_bool(o, "guest-resets-all", false, oom);
                break;
        case USB_GUEST_RESET_ON:
                set_bool(o, "guest-reset", true, oom);
                set_bool(o, "guest-resets-all", true, oom);
                break;
        }
        if (ga->type == GUEST_ADDRESS_USB) {
                if (ga->bus == 0)
                        set_str(o, "bus", "usb.0", oom);
                else
                        set_strf(o, "bus", oom, "usb%u.0", ga->bus);
                if (ga->usb_port)
                        set_str(o, "port", ga->usb_port, oom);
        } else if (ga->type != GUEST_ADDRESS_NONE)
                return error_set(reterr, -EOPNOTSUPP,
                                 "line %u: a guest <address type='%s'> cannot be given to a USB device",
                                 def->line, guest_addr_type_name(ga->type));
        return 0;
}

static int build_usb(const struct hostdev_def *def, const struct nodedev *dev, const char *id,
                     json_object *o, bool *oom, char **reterr) {
        if (!dev || dev->cap != NODEDEV_CAP_USB_DEVICE)
                return error_set(reterr, -EINVAL, "line %u: USB <hostdev> not resolved to a USB device",
                                 def->line);
        if (dev->u.usb.bus == 0 || dev->u.usb.devnum == 0)
                return error_set(reterr, -EINVAL, "%s: USB bus/device number unknown", dev->name);
        set_str(o, "driver", "usb-host", oom);
        set_strf(o, "hostdevice", oom, "%s/bus/usb/%03u/%03u", dev_root(), dev->u.usb.bus, dev->u.usb.devnum);
        set_str(o, "id", id, oom);
        return usb_guest_props(def, o, oom, reterr);
}

int qemu_usb_guest_props(const struct hostdev_def *def, char **ret, char **reterr) {
        _cleanup_json_ json_object *o = json_object_new_object();
        bool oom = false;
        int r;

        if (!o)
                return -ENOMEM;
        r = usb_guest_props(def, o, &oom, reterr);
        if (r < 0)
                return r;
        if (oom)
                return -ENOMEM;
        if (json_object_object_length(o) == 0) {
                *ret = NULL;
                return 0;
        }
        char *t = strdup(qemu_json_string(o));
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

static int build_pci(const struct hostdev_def *def, const struct nodedev *dev, const char *id,
                     json_object *o, bool *oom, char **reterr) {
        const struct pci_addr *a;
        int r;

        if (!dev || dev->cap != NODEDEV_CAP_PCI)
                return error_set(reterr, -EINVAL, "line %u: PCI <hostdev> not resolved to a PCI device",
                                 def->line);
        if (def->backend == PCI_BACKEND_KVM || def->backend == PCI_BACKEND_XEN)
                return error_set(reterr, -EOPNOTSUPP,
                                 "line %u: <driver name='%s'/>: only VFIO device assignment is supported",
                                 def->line, def->backend == PCI_BACKEND_KVM ? "kvm" : "xen");
        a = &dev->u.pci.addr;
        set_str(o, "driver", "vfio-pci", oom);
        set_strf(o, "host", oom, "%04x:%02x:%02x.%x", a->domain, a->bus, a->slot, a->function);
        set_str(o, "id", id, oom);
        if (def->teaming == TEAMING_TRANSIENT && def->teaming_persistent)
                set_str(o, "failover_pair_id", def->teaming_persistent, oom);
        r = add_guest_pci_address(o, def, oom, reterr);
        if (r < 0)
                return r;
        if (def->has_acpi_index)
                set_int(o, "acpi-index", def->acpi_index, oom);
        add_bootindex(o, def, oom);
        add_rom(o, def, oom);
        return 0;
}

static int build_scsi(const struct hostdev_def *def, const struct nodedev *dev, const char *id,
                      unsigned index, json_object *o, json_object **ret_blockdev, bool *oom,
                      char **reterr) {
        const struct guest_address *ga = &def->guest_addr;
        const struct scsi_source *s = &def->source.scsi;
        _cleanup_json_ json_object *bd = NULL;
        _cleanup_free_ char *node_name = NULL, *path = NULL;

        node_name = strdup_printf("hostdev%u-backend", index);
        if (!node_name)
                return -ENOMEM;
        bd = json_object_new_object();
        if (!bd)
                return -ENOMEM;

        if (s->protocol == SCSI_PROTOCOL_ISCSI) {
                _cleanup_free_ char *target = NULL;
                const char *slash;
                unsigned lun = 0;

                if (!s->iqn_name || s->n_hosts < 1)
                        return error_set(reterr, -EINVAL, "line %u: iSCSI source needs a name and a host",
                                         def->line);
                if (s->auth_username)
                        return error_set(reterr, -EOPNOTSUPP,
                                         "line %u: iSCSI <auth> needs a libvirt secret; use --connect",
                                         def->line);
                slash = strrchr(s->iqn_name, '/');
                target = slash ? strndup(s->iqn_name, (size_t) (slash - s->iqn_name)) : strdup(s->iqn_name);
                if (!target)
                        return -ENOMEM;
                if (slash && safe_atou(slash + 1, 10, &lun) < 0)
                        return error_set(reterr, -EINVAL, "line %u: iSCSI LUN '%s' is not a number",
                                         def->line, slash + 1);
                set_str(bd, "driver", "iscsi", oom);
                set_str(bd, "transport", "tcp", oom);
                set_strf(bd, "portal", oom, "%s:%s", s->hosts[0].name,
                         s->hosts[0].port ? s->hosts[0].port : "3260");
                set_str(bd, "target", target, oom);
                set_int(bd, "lun", lun, oom);
                if (s->initiator_iqn)
                        set_str(bd, "initiator-name", s->initiator_iqn, oom);
        } else {
                const char *sg = NULL;
                if (dev && dev->cap == NODEDEV_CAP_SCSI_GENERIC && dev->u.sg)
                        sg = strrchr(dev->u.sg, '/') ? strrchr(dev->u.sg, '/') + 1 : dev->u.sg;
                else if (dev && dev->cap == NODEDEV_CAP_SCSI)
                        sg = dev->u.scsi.sg_name;
                if (!sg)
                        return error_set(reterr, -ENODEV,
                                         "line %u: the SCSI device %s has no generic (sg) node",
                                         def->line, dev ? dev->name : "(unresolved)");
                path = path_join(dev_root(), sg, NULL);
                if (!path)
                        return -ENOMEM;
                set_str(bd, "driver", "host_device", oom);
                set_str(bd, "filename", path, oom);
        }
        set_str(bd, "node-name", node_name, oom);
        set_bool(bd, "read-only", def->readonly, oom);

        set_str(o, "driver", "scsi-generic", oom);
        set_str(o, "drive", node_name, oom);
        set_str(o, "id", id, oom);
        if (ga->type == GUEST_ADDRESS_DRIVE) {
                set_strf(o, "bus", oom, "scsi%u.0", ga->controller);
                set_int(o, "channel", ga->bus, oom);
                set_int(o, "scsi-id", ga->target, oom);
                set_int(o, "lun", ga->unit, oom);
        } else if (ga->type != GUEST_ADDRESS_NONE)
                return error_set(reterr, -EOPNOTSUPP,
                                 "line %u: a guest <address type='%s'> cannot be given to a SCSI device",
                                 def->line, guest_addr_type_name(ga->type));
        if (def->shareable)
                set_bool(o, "share-rw", true, oom);
        add_bootindex(o, def, oom);
        *ret_blockdev = TAKE_PTR(bd);
        return 0;
}

static int build_scsi_host(const struct hostdev_def *def, const char *id, json_object *o, bool *oom,
                           char **reterr) {
        const struct scsi_host_source *s = &def->source.scsi_host;
        const char *driver = "vhost-scsi-pci";

        if (!s->protocol || !streq(s->protocol, "vhost") || !s->wwpn)
                return error_set(reterr, -EINVAL, "line %u: scsi_host needs <source protocol='vhost' wwpn=.../>",
                                 def->line);
        if (def->scsi_host_model) {
                if (streq(def->scsi_host_model, "virtio-transitional"))
                        driver = "vhost-scsi-pci-transitional";
                else if (streq(def->scsi_host_model, "virtio-non-transitional"))
                        driver = "vhost-scsi-pci-non-transitional";
                else if (!streq(def->scsi_host_model, "virtio"))
                        return error_set(reterr, -EOPNOTSUPP, "line %u: scsi_host model '%s' is not supported",
                                         def->line, def->scsi_host_model);
        }
        set_str(o, "driver", driver, oom);
        set_str(o, "wwpn", s->wwpn, oom);
        set_str(o, "id", id, oom);
        add_bootindex(o, def, oom);
        return add_guest_pci_address(o, def, oom, reterr);
}

static int build_mdev(const struct hostdev_def *def, const char *id, json_object *o, bool *oom,
                      char **reterr) {
        const char *driver;
        int r;

        if (!def->source.mdev.uuid)
                return error_set(reterr, -EINVAL, "line %u: mdev needs <address uuid=.../>", def->line);
        switch (def->mdev_model) {
        case MDEV_MODEL_VFIO_CCW:
                driver = "vfio-ccw";
                break;
        case MDEV_MODEL_VFIO_AP:
                driver = "vfio-ap";
                break;
        default:
                driver = def->mdev_ramfb == TRISTATE_YES ? "vfio-pci-nohotplug" : "vfio-pci";
        }
        set_str(o, "driver", driver, oom);
        set_str(o, "id", id, oom);
        set_strf(o, "sysfsdev", oom, "/sys/bus/mdev/devices/%s", def->source.mdev.uuid);
        if (def->mdev_display != TRISTATE_ABSENT)
                set_str(o, "display", def->mdev_display == TRISTATE_YES ? "on" : "off", oom);
        if (def->mdev_ramfb == TRISTATE_YES)
                set_bool(o, "ramfb", true, oom);
        if (def->mdev_model != MDEV_MODEL_VFIO_AP) {
                r = add_guest_pci_address(o, def, oom, reterr);
                if (r < 0)
                        return r;
        }
        add_bootindex(o, def, oom);
        if (def->mdev_model != MDEV_MODEL_VFIO_AP && def->mdev_model != MDEV_MODEL_VFIO_CCW)
                add_rom(o, def, oom);
        return 0;
}

int qemu_device_build(const struct hostdev_def *def, const struct nodedev *dev, unsigned index,
                      struct qemu_device **ret, char **reterr) {
        _cleanup_(qemu_device_freep) struct qemu_device *d = NULL;
        bool oom = false;
        int r = 0;

        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->id = qemu_device_id(def, index);
        d->device = json_object_new_object();
        if (!d->id || !d->device)
                return -ENOMEM;

        switch (def->type) {
        case HOSTDEV_TYPE_USB:
                r = build_usb(def, dev, d->id, d->device, &oom, reterr);
                break;
        case HOSTDEV_TYPE_PCI:
                r = build_pci(def, dev, d->id, d->device, &oom, reterr);
                break;
        case HOSTDEV_TYPE_SCSI:
                r = build_scsi(def, dev, d->id, index, d->device, &d->blockdev, &oom, reterr);
                break;
        case HOSTDEV_TYPE_SCSI_HOST:
                r = build_scsi_host(def, d->id, d->device, &oom, reterr);
                break;
        case HOSTDEV_TYPE_MDEV:
                r = build_mdev(def, d->id, d->device, &oom, reterr);
                break;
        case HOSTDEV_TYPE_CAP_STORAGE:
        case HOSTDEV_TYPE_CAP_MISC:
        case HOSTDEV_TYPE_CAP_NET:
                return error_set(reterr, -EOPNOTSUPP,
                                 "line %u: <hostdev mode='capabilities'> passes a host %s to a container; "
                                 "QEMU has no such device (use --root/--netns with attach-device)",
                                 def->line,
                                 def->type == HOSTDEV_TYPE_CAP_NET       ? "network interface"
                                 : def->type == HOSTDEV_TYPE_CAP_STORAGE ? "block device"
                                                                         : "character device");
        }
        if (r < 0)
                return r;
        if (oom)
                return -ENOMEM;
        *ret = TAKE_PTR(d);
        return 0;
}

int qemu_device_set_id(struct qemu_device *d, const char *id) {
        _cleanup_free_ char *copy = strdup(id), *node = NULL;
        json_object *s;

        if (!copy)
                return -ENOMEM;
        s = json_object_new_string(id);
        if (!s || json_object_object_add(d->device, "id", s) < 0) {
                json_object_put(s);
                return -ENOMEM;
        }
        free(d->id);
        d->id = TAKE_PTR(copy);
        if (d->blockdev && strlen(id) + strlen("-backend") <= 31) {
                node = strdup_printf("%s-backend", id);
                if (!node)
                        return -ENOMEM;
                json_object *a = json_object_new_string(node), *b = json_object_new_string(node);
                if (!a || !b || json_object_object_add(d->blockdev, "node-name", a) < 0) {
                        json_object_put(a);
                        json_object_put(b);
                        return -ENOMEM;
                }
                if (json_object_object_add(d->device, "drive", b) < 0) {
                        json_object_put(b);
                        return -ENOMEM;
                }
        }
        return 0;
}

int qemu_device_append_args(const struct qemu_device *d, char ***args) {
        int r;
        if (!d)
                return 0; /* nothing on the command line (a device claimed for later) */
        if (d->blockdev) {
                r = strv_extend(args, "-blockdev");
                if (r >= 0)
                        r = strv_extend(args, qemu_json_string(d->blockdev));
                if (r < 0)
                        return r;
        }
        r = strv_extend(args, "-device");
        if (r >= 0)
                r = strv_extend(args, qemu_json_string(d->device));
        return r < 0 ? r : 0;
}

int qemu_args_build(const struct hostdev_file *f, const struct nodedev *const *devs, char ***ret,
                    char **reterr) {
        _cleanup_strv_free_ char **args = NULL;
        int r;

        for (size_t i = 0; i < f->n_defs; i++) {
                _cleanup_(qemu_device_freep) struct qemu_device *d = NULL;
                const struct hostdev_def *def = f->defs[i];
                bool needs_dev = def->type != HOSTDEV_TYPE_SCSI_HOST && def->type != HOSTDEV_TYPE_MDEV &&
                                 !(def->type == HOSTDEV_TYPE_SCSI && def->source.scsi.protocol == SCSI_PROTOCOL_ISCSI);

                if (needs_dev && !devs[i])
                        continue; /* optional and missing */
                r = qemu_device_build(def, devs[i], (unsigned) i, &d, reterr);
                if (r < 0)
                        return f->path ? error_prefix(reterr, r, "%s", f->path) : r;
                r = qemu_device_append_args(d, &args);
                if (r < 0)
                        return r;
        }
        if (!args) {
                args = calloc(1, sizeof(char *));
                if (!args)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(args);
        return 0;
}

int qemu_resolve_devices(const struct inventory *inv, const struct registry *reg,
                         const struct hostdev_file *f, const char *domain,
                         const struct nodedev ***ret_devs, char **reterr) {
        struct resolve_result *res = NULL;
        _cleanup_free_ const struct nodedev **devs = NULL;
        size_t n = 0;
        int r;

        r = resolve_file(inv, reg, f, domain, &res, &n);
        if (r < 0)
                return error_set(reterr, r, "%s: cannot resolve devices: %s", f->path, strerror(-r));
        devs = calloc(f->n_defs + 1, sizeof(*devs));
        if (!devs) {
                resolve_results_free(res, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n && r >= 0; i++) {
                const struct hostdev_def *def = f->defs[res[i].index];
                switch (res[i].status) {
                case RESOLVE_OK:
                        devs[res[i].index] = res[i].device;
                        break;
                case RESOLVE_SKIPPED:
                        break;
                case RESOLVE_AMBIGUOUS:
                        r = error_set(reterr, -ENOTUNIQ, "%s:%u: %s", f->path, def->line,
                                      res[i].message ? res[i].message : "several devices match");
                        break;
                case RESOLVE_MISSING:
                        r = error_set(reterr, -ENODEV, "%s:%u: %s", f->path, def->line,
                                      res[i].message ? res[i].message : "no such device");
                        break;
                case RESOLVE_IN_USE:
                        r = error_set(reterr, -EBUSY, "%s:%u: %s", f->path, def->line,
                                      res[i].message ? res[i].message : "device in use by another domain");
                        break;
                }
        }
        resolve_results_free(res, n);
        if (r < 0)
                return r;
        *ret_devs = TAKE_PTR(devs);
        return 0;
}
