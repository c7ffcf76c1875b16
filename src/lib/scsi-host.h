/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Host-side checks and preparation for SCSI passthrough (scsi-host.c):
 *
 *   vhost-scsi  the target must exist in the kernel's target configfs:
 *               sysfs_root()/kernel/config/target/vhost/WWPN/tpgt_N (configfs is mounted at
 *               /sys/kernel/config, so HOSTDEV_SYSFS_ROOT fixtures carry it too), and
 *               dev_root()/vhost-scsi must exist for QEMU to open.
 *   scsi        sgio='unfiltered'|'filtered' sets the block queue's unpriv_sgio attribute
 *               (sysfs_root()/class/block/sdX/queue/unpriv_sgio) where the kernel has it;
 *               'unfiltered' without it is an error (as in libvirt). rawio='yes' needs the QEMU
 *               process to hold CAP_SYS_RAWIO (proc_root()/PID/status CapEff). */

#include <sys/types.h>

#include "hostdev-def.h"
#include "inventory.h"

/* 0 when the vhost-scsi target wwpn is configured; -ENOENT/-ENODEV with a message saying what
 * is missing (configfs, the vhost fabric, the target, a TPG, /dev/vhost-scsi). */
int vhost_scsi_check_target(const char *wwpn, char **reterr);

/* Path of the unpriv_sgio attribute of the SCSI device's block queue, or -ENOENT when the
 * device has no block node or the kernel has no such attribute. */
int scsi_unpriv_sgio_path(const struct nodedev *dev, char **ret);

/* Prepare a resolved SCSI def (adapter or sg form): sgio and rawio as above. qemu_pid: the
 * process that runs (or will run) QEMU, 0 when unknown (rawio then is not checked). */
int scsi_hostdev_prepare(const struct hostdev_def *def, const struct nodedev *dev, pid_t qemu_pid,
                         char **reterr);
