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

#include "macro.h"

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

/* usb_device_give_back() for the device plugged on that port, unless a process (a QEMU) holds
 * its node open: -EBUSY then. 0 when nothing is plugged there. */
int usb_port_give_back_unless_held(const char *port, char **reterr);

/* The blocking parts run in a worker thread: opening a hub's usbfs node, its port ioctls and
 * closing it wait for the hub's lock, which the kernel holds while it enumerates whatever was
 * plugged into that hub (hundreds of ms in a busy host), and a give-back waits for the host
 * driver's probe. The watch loop hands jobs over and picks up the results when the worker's
 * fd is readable, so it never waits on them. Jobs run one at a time, in order. */
enum usb_port_op {
        USB_PORT_CLAIM,     /* name: result r = the fd holding the claim, or -errno (+ err) */
        USB_PORT_RELEASE,   /* fd: closed (the port goes free); r = 0 */
        USB_PORT_GIVE_BACK, /* name: r as usb_device_give_back(), or with unless_held as
                             * usb_port_give_back_unless_held() */
};

struct usb_port_job {
        struct usb_port_job *next;
        enum usb_port_op op;
        char *name;
        bool unless_held;
        int fd;
        int r;
        char *err;
};
struct usb_port_job *usb_port_job_free(struct usb_port_job *j); /* one job; closes a claim's fd */

struct usb_port_worker;
int usb_port_worker_new(struct usb_port_worker **ret);
/* Stops the thread (after the job it is on) and drops what is left: fds of claims are closed. */
struct usb_port_worker *usb_port_worker_free(struct usb_port_worker *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct usb_port_worker *, usb_port_worker_free);
/* Readable while finished jobs wait to be taken. */
int usb_port_worker_fd(const struct usb_port_worker *w);
/* name is copied; fd is taken (RELEASE). The thread starts with the first job. */
int usb_port_worker_submit(struct usb_port_worker *w, enum usb_port_op op, const char *name, int fd,
                           bool unless_held);
/* The finished jobs, oldest first (a list through ->next), or NULL. */
struct usb_port_job *usb_port_worker_take_done(struct usb_port_worker *w);
