/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* QEMU arguments for resolved host devices, the way libvirt's qemu_command.c builds them,
 * in QEMU's JSON syntax (-device '{"driver":...}'), property names as QEMU 7.2 has them:
 *
 *   usb (subsystem)   usb-host: hostdevice=DEV_ROOT/bus/usb/BBB/DDD of the RESOLVED device
 *                     (never a vendor/product wildcard); guest <address type='usb'
 *                     bus='N' port='P'/> gives bus "usb.0" (N=0) / "usbN.0" and port "P";
 *                     guestReset: off -> guest-reset false; uniport -> guest-reset true,
 *                     guest-resets-all false; on -> both true (libvirt's mapping).
 *   pci               vfio-pci host="DDDD:BB:SS.F"; <rom bar='off'> -> rombar 0, bar on ->
 *                     rombar 1, <rom file=> -> romfile, <rom enabled='no'> -> romfile "";
 *                     guest <address type='pci'> -> bus "pcie.0" (guest bus 0) / "pci.N",
 *                     addr "0xS" / "0xS.0xF", multifunction; <acpi index> -> acpi-index.
 *   interface hostdev the same as pci (MAC/VLAN are host-side, set on the VF).
 *   scsi              -blockdev host_device filename=/dev/sgN (read-only, node-name
 *                     "hostdevN-backend") + scsi-generic drive=...; guest <address
 *                     type='drive' controller bus target unit> -> bus "scsiC.0", channel,
 *                     scsi-id, lun; shareable -> share-rw. iSCSI: -blockdev iscsi.
 *   scsi_host vhost   vhost-scsi-pci wwpn=... (+ guest PCI address).
 *   mdev              vfio-pci (vfio-ccw, vfio-ap) sysfsdev=/sys/bus/mdev/devices/UUID,
 *                     display on/off; ramfb on -> vfio-pci-nohotplug with ramfb.
 * Every device gets id "hostdevN" (N = position in the file) or the user's "ua-" alias, and
 * bootindex from <boot order>. Capabilities-mode devices (storage, misc, net) are for
 * containers: -EOPNOTSUPP with a message. */

#include <json-c/json.h>

#include "hostdev-def.h"
#include "inventory.h"
#include "registry.h"
#include "macro.h"

struct qemu_device {
        char *id;               /* qdev id */
        json_object *blockdev;  /* -blockdev / blockdev-add arguments, or NULL */
        json_object *device;    /* -device / device_add arguments */
};

struct qemu_device *qemu_device_free(struct qemu_device *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct qemu_device *, qemu_device_free);

/* "ua-..." alias of the def if it has one, else "hostdev<index>". */
char *qemu_device_id(const struct hostdev_def *def, unsigned index);
/* A USB <hostdev>'s device_add properties besides driver, id and the host device (bootindex,
 * guest-reset, guest bus and port) as a JSON object's text; *ret NULL when there are none. */
int qemu_usb_guest_props(const struct hostdev_def *def, char **ret, char **reterr);

/* Build the device for def resolved to dev (dev may be NULL only for vhost scsi_host and
 * mdev, which are named by the def itself). index: the def's position in its file. */
int qemu_device_build(const struct hostdev_def *def, const struct nodedev *dev, unsigned index,
                      struct qemu_device **ret, char **reterr);

/* Change the qdev id (and the blockdev node name to "<id>-backend" when that fits QEMU's
 * 31-character limit). */
int qemu_device_set_id(struct qemu_device *d, const char *id);

/* JSON text of a property object as QEMU takes it on the command line (no slash escaping). */
const char *qemu_json_string(json_object *o);

/* Append "-blockdev" JSON (when any) and "-device" JSON to *args (strv). */
int qemu_device_append_args(const struct qemu_device *d, char ***args);

/* The whole file: defs[i] resolved to devs[i] (NULL entries are skipped: optional devices
 * that are missing). Returns the strv of arguments. */
int qemu_args_build(const struct hostdev_file *f, const struct nodedev *const *devs,
                    char ***ret, char **reterr);

/* Resolve every def of f (resolve_file). Fails (-ENODEV missing, -EBUSY in use by another
 * domain, -ENOTUNIQ ambiguous) with the resolver's message, prefixed "FILE:LINE:", when any
 * def does not select exactly one device. *ret_devs: one entry per def, borrowed from inv,
 * NULL for an optional device that is missing (and for vhost/mdev/iSCSI defs with no
 * inventory device). reg and domain may be NULL. */
int qemu_resolve_devices(const struct inventory *inv, const struct registry *reg,
                         const struct hostdev_file *f, const char *domain,
                         const struct nodedev ***ret_devs, char **reterr);
