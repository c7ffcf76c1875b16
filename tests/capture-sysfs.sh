#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copy the parts of a live sysfs that hostdev's inventory reads into a directory usable as
# HOSTDEV_SYSFS_ROOT (a test fixture):
#
#   tests/capture-sysfs.sh OUTDIR [SYSFS]        (SYSFS defaults to /sys; only read)
#
# Kept: the bus/{pci,usb,scsi,mdev}/devices and class/{net,block,scsi_generic,scsi_host}
# entries (symlinks, with their relative text), the /sys/devices/... directories they lead to
# with their readable attribute files and symlinks (relative text kept), PCI config space
# (binary), DMI (devices/virtual/dmi/id) and kernel/iommu_groups. Skipped: other binary or
# huge attributes (resource*, rom, vpd, anything over 64 KiB or with NUL bytes), write-only
# triggers (remove, rescan, reset, bind, ...), unreadable files, and noisy subtrees (power,
# msi_irqs, statistics, queues, trace, ...). The walk is in Python: fast enough for a TCG guest.
set -euo pipefail

OUT=${1:?usage: capture-sysfs.sh OUTDIR [SYSFS]}
SYS=${2:-/sys}
command -v python3 >/dev/null || { echo "capture-sysfs: python3 is needed" >&2; exit 2; }
exec python3 - "$OUT" "$SYS" <<'EOF'
import os, re, sys

out, sysfs = sys.argv[1], os.path.realpath(sys.argv[2])
os.makedirs(out, exist_ok=True)
out = os.path.realpath(out)
if (out + "/").startswith(sysfs + "/"):
    sys.exit(f"capture-sysfs: OUTDIR must not be inside {sysfs}")

SKIP_FILES = re.compile(r"^(resource[0-9_a-z]*|rom|vpd|remove|rescan|reset|bind|unbind|new_id|"
                        r"remove_id|driver_override|uevent_seqnum|authorized_default|"
                        r"dev_pm_qos.*|sriov_numvfs_write)$")
SKIP_DIRS = re.compile(r"^(power|msi_irqs|statistics|queues|trace|mq|integrity|bdi|holders|"
                       r"slaves|wakeup[0-9]*|ptp|hwmon|dma_fence|phy|link_.*|consumer:.*|"
                       r"supplier:.*)$")
MAX = 65536


def copy_file(src, dst, name):
    if SKIP_FILES.match(name):
        return
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        data = os.read(fd, 4096 if name == "config" else MAX + 1)
        if name != "config":
            while len(data) <= MAX:
                more = os.read(fd, MAX + 1 - len(data))
                if not more:
                    break
                data += more
    except OSError:
        return
    finally:
        os.close(fd)
    if name != "config" and (len(data) > MAX or b"\0" in data):
        return
    with open(dst, "wb") as f:
        f.write(data)


def copy_link(src, dst):
    try:
        t = os.readlink(src)
    except OSError:
        return
    if os.path.lexists(dst):
        os.unlink(dst)
    os.symlink(t, dst)


def copy_dir_entries(src, dst, recurse_depth):
    os.makedirs(dst, exist_ok=True)
    try:
        entries = list(os.scandir(src))
    except OSError:
        return
    for e in entries:
        d = os.path.join(dst, e.name)
        try:
            if e.is_symlink():
                copy_link(e.path, d)
            elif e.is_dir(follow_symlinks=False):
                if recurse_depth > 0 and not SKIP_DIRS.match(e.name):
                    copy_dir_entries(e.path, d, recurse_depth - 1)
            elif e.is_file(follow_symlinks=False):
                copy_file(e.path, d, e.name)
        except OSError:
            pass


# 1. the listing directories
targets = set()
for rel in ("bus/pci/devices", "bus/usb/devices", "bus/scsi/devices", "bus/mdev/devices",
            "class/net", "class/block", "class/scsi_generic", "class/scsi_host"):
    src = os.path.join(sysfs, rel)
    if not os.path.isdir(src):
        continue
    os.makedirs(os.path.join(out, rel), exist_ok=True)
    for e in os.scandir(src):
        if not e.is_symlink():
            continue
        copy_link(e.path, os.path.join(out, rel, e.name))
        t = os.path.realpath(e.path)
        if t.startswith(sysfs + "/devices/"):
            targets.add(os.path.relpath(t, sysfs))

# 2. device directories, each topmost one once (its children come along), plus the
#    attributes of the directories above them (bridges and hosts without a listing entry)
done_parents = set()
last = None
for t in sorted(targets):
    if last and t.startswith(last + "/"):
        continue
    copy_dir_entries(os.path.join(sysfs, t), os.path.join(out, t), 12)
    p = os.path.dirname(t)
    while p not in ("devices", "", "/") and p not in done_parents:
        copy_dir_entries(os.path.join(sysfs, p), os.path.join(out, p), 0)
        done_parents.add(p)
        p = os.path.dirname(p)
    last = t

# 3. DMI strings and IOMMU groups
dmi = os.path.join(sysfs, "devices/virtual/dmi/id")
if os.path.isdir(dmi):
    copy_dir_entries(dmi, os.path.join(out, "devices/virtual/dmi/id"), 0)
groups = os.path.join(sysfs, "kernel/iommu_groups")
if os.path.isdir(groups):
    for g in os.scandir(groups):
        src = os.path.join(g.path, "devices")
        if os.path.isdir(src):
            copy_dir_entries(src, os.path.join(out, "kernel/iommu_groups", g.name, "devices"), 0)
print(f"captured {len(targets)} devices from {sysfs} into {out}")
EOF
