/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef HOSTDEV_HOSTDEV_H
#define HOSTDEV_HOSTDEV_H

/* libhostdev: host device passthrough for QEMU/KVM with libvirt's <hostdev> model.
 *
 * Error model: functions return 0 (or a positive count) on success and a negative errno on
 * failure; where errno loses detail, a message is returned through `char **reterr`
 * (caller frees with free()). Output parameters are named ret_* and come last. */

#ifdef __cplusplus
extern "C" {
#endif

/* The library version, "MAJOR.MINOR.PATCH". */
const char *hostdev_version(void);

#ifdef __cplusplus
}
#endif

#endif
