/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An in-test fake kernel for the host-side PCI code: a fixture tree built by
 * tests/data/sys/pci-gen.sh in a temp dir (sys/, proc/, dev/, state/), with
 * HOSTDEV_{SYSFS,PROC,DEV}_ROOT and HOSTDEV_STATE_DIR pointing at it, and
 * pci_sysfs_write_hook acting out every write the library makes the way the kernel would:
 *   devices/X/driver_override  stored ("\n" clears it: reads back "(null)")
 *   drivers/D/unbind  ← X       unbinds X if it is bound to D (else -ENODEV)
 *   drivers/D/bind    ← X       binds X to D if D matches X (-EBUSY if bound, -ENODEV no match)
 *   bus/pci/drivers_probe ← X   binds an unbound X to its override driver, or to the first
 *                               driver whose id table matches (success even if nothing binds)
 *   devices/X/reset   ← 1       counted
 * Driver id tables: e1000 8086:100e, virtio-pci 1af4:*, bochs-drm 1234:1111; vfio-pci and
 * pci-stub match only through driver_override. vfio-pci refuses devices without an IOMMU
 * group; binding to vfio-pci creates dev/vfio/GROUP, and the last unbind from the group
 * removes it. Failures can be injected (probe failures, write errors). */

#include <stdbool.h>

struct fakekernel {
        char *root;  /* temp dir */
        char *sys, *proc, *dev, *state;
        /* injection */
        char *fail_probe_driver; /* probing this driver fails (bind: -EINVAL, drivers_probe: silently) */
        char *fail_write_suffix; /* writes to a path ending with this fail with fail_write_errno */
        int fail_write_errno;
        bool no_vfio_node;       /* binding to vfio-pci does not create dev/vfio/N */
        /* observation */
        unsigned n_writes;
        unsigned n_resets;
        char *last_reset;        /* address */
        char **log;              /* strv of "path <- value" */
};

/* Build the fixture, set the environment and install the hook. */
int fakekernel_new(struct fakekernel **ret);
/* Remove the tree, unset the hook and the environment. Accepts NULL. */
struct fakekernel *fakekernel_free(struct fakekernel *fk);
static inline void fakekernel_freep(struct fakekernel **p) {
        fakekernel_free(*p);
}

/* Observation helpers (tests): driver of ADDR ("" when unbound, NULL-safe strdup'd). */
char *fakekernel_driver(struct fakekernel *fk, const char *addr);
char *fakekernel_override(struct fakekernel *fk, const char *addr);
/* Act out a write as the kernel would, without going through the library (e.g. to set up). */
int fakekernel_write(struct fakekernel *fk, const char *path_rel_sys, const char *value);
/* Path under the fixture root (sys/..., proc/..., dev/...): caller frees. */
char *fakekernel_path(struct fakekernel *fk, const char *rel);
