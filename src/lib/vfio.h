/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Host-side PCI: hand a PCI function to a stub driver (vfio-pci) and back, reset it, check
 * its IOMMU group, and refuse to take devices the host itself uses.
 *
 * Everything works under sysfs_root() (HOSTDEV_SYSFS_ROOT), dev_root() (/dev/vfio/N),
 * proc_root() (mountinfo, swaps, net/route, net/if_inet6) and state_dir() (records), the
 * kernel's way: driver_override + unbind + drivers_probe, then a bounded wait for the
 * driver link. Every sysfs write goes through pci_sysfs_write_hook when it is set (the unit
 * tests' fake kernel acts the writes out on a fixture tree).
 *
 * Host-side record: a device detached by hostdev has state_dir()/pci/0000:00:03.0.json
 *   {"address":"0000:00:03.0","orig_driver":"e1000"|null,"stub_driver":"vfio-pci",
 *    "detached_by":"hostdev","since":1764077000}
 * written before the first sysfs change and removed when the device is reattached. It lets
 * `nodedev-reattach` (and hostdev_giveback_claim) find the original driver without a claim. */

#include <stdbool.h>
#include <stddef.h>

#include "hostdev-def.h"

/* pci_detach() flags */
#define PCI_FORCE (1u << 0) /* detach even if pci_host_uses() says the host uses it (never bridges) */

#define PCI_STUB_DRIVER_DEFAULT "vfio-pci"

/* "pci_0000_00_03_0" (libvirt node name) or "0000:00:03.0" / "00:03.0" (sysfs form). -EINVAL
 * if neither, -ERANGE if a field is out of range. */
int pci_addr_parse_any(const char *s, struct pci_addr *ret);
/* "0000:00:03.0" into buf (at least PCI_ADDR_STRLEN bytes); returns buf. */
#define PCI_ADDR_STRLEN 16
char *pci_addr_format_sysfs(const struct pci_addr *a, char buf[static PCI_ADDR_STRLEN]);
/* "pci_0000_00_03_0" into buf (at least PCI_NODE_STRLEN bytes); returns buf. */
#define PCI_NODE_STRLEN 24
char *pci_addr_format_node(const struct pci_addr *a, char buf[static PCI_NODE_STRLEN]);

/* Bind the device to stub_driver (NULL: "vfio-pci"). Loads the module when the stub driver is
 * missing and sysfs_root() is the real /sys (`modprobe vfio-pci`; skipped on fixture trees).
 * Refuses (-EBUSY, device untouched) when pci_host_uses() reports a use, unless PCI_FORCE;
 * refuses bridges (-EPERM) always; refuses vfio-pci for a device without an IOMMU group.
 * A failure half-way is rolled back (override cleared, original driver re-probed) and
 * reported. For vfio-pci, /dev/vfio/GROUP (dev_root()) must appear.
 * *ret_orig_driver (may be NULL) gets the driver it had before (NULL string when none).
 * Returns 1 when it detached, 0 when the device was already bound to stub_driver (then the
 * original driver is the recorded one, or NULL if no record). */
int pci_detach(const struct pci_addr *a, const char *stub_driver, unsigned flags,
               char **ret_orig_driver, char **reterr);

/* Give the device back: clear driver_override, unbind from the stub, drivers_probe, wait for
 * orig_driver (NULL: the recorded one; no record: whatever the kernel picks, possibly none).
 * A device not bound to a stub driver (vfio-pci, pci-stub) and without an override is left
 * alone. Removes the record. Returns 1 when it rebound, 0 when there was nothing to do. */
int pci_reattach(const struct pci_addr *a, const char *orig_driver, char **reterr);

/* Reset with the method the kernel offers (writes 1 to the `reset` attribute). -EOPNOTSUPP
 * with a message when there is no `reset` attribute. Refuses bridges and devices the host
 * uses (-EBUSY). */
int pci_reset(const struct pci_addr *a, char **reterr);

/* The device's IOMMU group number; -ENOENT when it has none. */
int pci_iommu_group(const struct pci_addr *a);
/* Every function in a's IOMMU group (a included), sorted. -ENOENT without a group. */
int pci_group_members(const struct pci_addr *a, struct pci_addr **ret, size_t *ret_n);
/* 0 when every endpoint of a's group is bound to vfio-pci or pci-stub or has no driver
 * (PCI bridges are exempt). Otherwise -EBUSY and a multi-line message listing each member,
 * its driver and the `hostdev nodedev-detach pci_...` to run. -ENOENT without a group. */
int pci_group_check_viable(const struct pci_addr *a, char **reterr);

/* Is this a bridge (class 0x06xx) / non-endpoint? 1 yes, 0 no, <0 error (-ENODEV: no such device). */
int pci_is_bridge(const struct pci_addr *a);

/* Host-safety check. Returns 1 and *ret_reason (may be NULL) when the host uses the device:
 * a bridge; the controller of a mounted filesystem (proc_root()/self/mountinfo) or of active
 * swap (proc_root()/swaps); a NIC (or the bridge/bond above it) with a non-link-local address
 * (proc_root()/net/if_inet6; IPv4 via getifaddrs() when proc_root() is /proc) or carrying a
 * route (proc_root()/net/route, net/ipv6_route); the framebuffer/DRM device of the active
 * console (class/vtconsole); an SR-IOV physical function with VFs enabled. 0 when not used, <0 on error (-ENODEV: no such device). */
int pci_host_uses(const struct pci_addr *a, char **ret_reason);

/* Is the device open through vfio (its /dev/vfio/GROUP or iommufd /dev/vfio/devices/vfioN) by
 * a process (proc_root()/PID/fd)? 1 and *ret_pid, *ret_comm (may be NULL) when it is, 0 when
 * not. pci_reattach() refuses (-EBUSY) such a device: unbinding it would block. */
int pci_vfio_user(const struct pci_addr *a, int *ret_pid, char **ret_comm);

/* The recorded original driver of a device detached by hostdev: 1 and *ret (NULL string if it
 * had none) when there is a record, 0 when there is none. */
int pci_record_get(const struct pci_addr *a, char **ret_orig_driver);

/* Current driver: 0 and *ret (NULL when unbound). -ENODEV if no such device. */
int pci_current_driver(const struct pci_addr *a, char **ret);

/* Test hook: when set, every sysfs write (path, value) goes here instead of write(2). */
extern int (*pci_sysfs_write_hook)(const char *path, const char *value, void *userdata);
extern void *pci_sysfs_write_hook_userdata;
/* Bound wait for a driver to bind / unbind, in microseconds (default 5 s). */
extern unsigned long long pci_bind_timeout_usec;
