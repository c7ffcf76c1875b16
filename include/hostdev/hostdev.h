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

#include <stddef.h>
#include <sys/types.h>

/* ---- resolution ------------------------------------------------------------------------------
 * Which host device each <hostdev> of a file selects (`hostdev resolve`). FILE is any accepted
 * input form (CONTRACT.md). Environment overrides (HOSTDEV_SYSFS_ROOT, HOSTDEV_STATE_DIR, ...)
 * apply. */
typedef struct hostdev_resolution hostdev_resolution;

/* Resolve every <hostdev> of the file at path. domain: the requesting domain (its own claims
 * are not "in use"); NULL takes the file's <name>, if any. Returns 0, or -EINVAL with
 * "PATH:LINE: message" for invalid input, other negative errno with a message. A device that
 * cannot be selected is not a failure here: see hostdev_resolution_status(). */
int hostdev_resolve_file(const char *path, const char *domain, hostdev_resolution **ret, char **reterr);
void hostdev_resolution_free(hostdev_resolution *res);
/* Number of <hostdev> elements, in input order. */
size_t hostdev_resolution_count(const hostdev_resolution *res);
/* Per element i (< count; NULL/0 when out of range):
 *   status: "ok", "ambiguous", "missing" (also an optional device that is skipped), "in_use"
 *   selector: the normalised <source> on one line
 *   device: the selected node device name ("usb_1_4_1"), or NULL
 *   owner: domain holding the device, or NULL
 *   message: the human explanation for anything but "ok" (may span lines), or NULL
 *   candidates: every matching node device name */
const char *hostdev_resolution_status(const hostdev_resolution *res, size_t i);
const char *hostdev_resolution_selector(const hostdev_resolution *res, size_t i);
const char *hostdev_resolution_device(const hostdev_resolution *res, size_t i);
const char *hostdev_resolution_owner(const hostdev_resolution *res, size_t i);
const char *hostdev_resolution_message(const hostdev_resolution *res, size_t i);
size_t hostdev_resolution_n_candidates(const hostdev_resolution *res, size_t i);
const char *hostdev_resolution_candidate(const hostdev_resolution *res, size_t i, size_t k);
/* `hostdev resolve --json` text (caller frees). */
int hostdev_resolution_to_json(const hostdev_resolution *res, char **ret);

/* ---- claims ----------------------------------------------------------------------------------
 * The claims registry under HOSTDEV_STATE_DIR (default /run/hostdev), shared with the hostdev
 * CLI and daemon: a device is never held by two domains. */

/* Claim every device the file selects for domain, all or nothing. pid: the process that runs
 * the domain (its death makes the claims stale and reclaimable), or 0 for claims that last
 * until hostdev_release_domain(). Returns the number of devices claimed (claiming again what
 * the domain already holds is a no-op), or -EBUSY (in use: "device usb_2_1 (46f4:0001 serial
 * DONGLE-A) is in use by domain vm-a since 2026-11-25 13:40:02"), -ENOTUNIQ (ambiguous: the
 * message lists the candidates and how to select each), -ENODEV (missing), -EINVAL (invalid
 * input), with the message in *reterr. */
int hostdev_claim(const char *domain, const char *path, pid_t pid, char **reterr);
/* Drop every claim of domain and give its devices back (PCI: reattach to the host driver).
 * Returns the number of claims released (0 if it held none). */
int hostdev_release_domain(const char *domain, char **reterr);
/* `hostdev status --json` text: every claim (caller frees). */
int hostdev_status(char **ret_json, char **reterr);

#ifdef __cplusplus
}
#endif

#endif
