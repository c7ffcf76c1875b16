/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reserving a USB port for a VM's device (the watch loop, issue 14).
 *
 * A port claimed through usbfs (USBDEVFS_CLAIM_PORT on its hub's /dev/bus/usb node) is
 * "owned": the kernel leaves a device plugged there unconfigured, so no host driver
 * (usb-storage, usbhid, ...) binds to it, and QEMU's usb-host can open it as soon as the kernel
 * has enumerated it, with no driver to detach first. The claim lasts as long as the fd. A
 * device the loop then finds is not the VM's is given back to the host (usb_device_give_back). */

#include <stdbool.h>

/* Claim the port named by its sysfs name ("2-1", "1-4.1") through its hub's usbfs node under
 * dev_root(), checked to be the character device sysfs says the hub is. Returns the fd that
 * holds the claim (closing it releases the port), or -errno: -EBUSY someone else owns it,
 * -ENODEV/-ENOENT no such hub (or a fixture tree without device nodes). */
int usb_port_claim(const char *port, char **reterr);

/* The other name of the same physical port (a USB3 port's USB2 peer and vice versa), from the
 * port's 'peer' link; 0 and *ret = NULL when it has none. */
int usb_port_peer(const char *port, char **ret);

/* Is a device plugged on that port now? Its bus and device number if so. */
bool usb_port_device(const char *port, unsigned *ret_bus, unsigned *ret_devnum);

/* Hand the device on that port back to the host's drivers, after its port was released: an
 * unconfigured device is unbound from and bound to the generic driver 'usb' again (the kernel
 * then chooses its configuration and probes its interfaces); a configured one has each
 * interface without a driver probed (bus/usb/drivers_probe). 0 when there was nothing to do,
 * 1 when it did something, -errno. */
int usb_device_give_back(const char *sysname, char **reterr);

/* Does any process hold this /dev/bus/usb node open (proc_root()/PID/fd)? */
bool usb_node_in_use(const char *node);
