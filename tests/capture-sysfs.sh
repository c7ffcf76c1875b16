#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copy the parts of a live sysfs that hostdev's inventory reads into a directory usable as
# HOSTDEV_SYSFS_ROOT (a test fixture):
#
#   tests/capture-sysfs.sh OUTDIR [SYSFS]        (SYSFS defaults to /sys; only read)
#
# Kept: the bus/{pci,usb,scsi,mdev}/devices and class/{net,block,scsi_generic,scsi_host}
# entries (symlinks, with their relative text), the /sys/devices/... directories they lead to
# with their readable attribute files and symlinks (relative text kept), and
# kernel/iommu_groups, and PCI config space (binary). Skipped: other binary or huge attributes (resource*, rom, vpd,
# descriptors beyond 64 KiB), write-only triggers (remove, rescan, reset, bind, ...),
# unreadable files, and noisy subtrees (power, msi_irqs, statistics, queues, trace, ...).
set -euo pipefail

OUT=${1:?usage: capture-sysfs.sh OUTDIR [SYSFS]}
SYS=${2:-/sys}
SYS=$(cd "$SYS" && pwd -P)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd -P)
case "$OUT/" in "$SYS"/*) echo "capture-sysfs: OUTDIR must not be inside $SYS" >&2; exit 2 ;; esac

SKIP_FILES='^(resource[0-9_a-z]*|rom|vpd|remove|rescan|reset|bind|unbind|new_id|remove_id|driver_override|uevent_seqnum|authorized_default|reset_method_write|dev_pm_qos.*|sriov_numvfs_write)$'
SKIP_DIRS='^(power|msi_irqs|statistics|queues|trace|mq|integrity|bdi|holders|slaves|wakeup[0-9]*|ptp|hwmon|dma_fence|phy|link_.*|consumer:.*|supplier:.*)$'

copy_file() { # src dst
        local src=$1 dst=$2 base
        base=${src##*/}
        [[ $base =~ $SKIP_FILES ]] && return 0
        [ -r "$src" ] || return 0
        if [ "$base" = config ]; then # PCI config space: binary, 256 or 4096 bytes, kept whole
                timeout 2 head -c 4096 "$src" >"$dst" 2>/dev/null || rm -f "$dst"
                return 0
        fi
        # sysfs sizes lie (4096); read with a time limit and a size cap
        if ! timeout 2 head -c 65537 "$src" >"$dst.tmp" 2>/dev/null; then
                rm -f "$dst.tmp"; return 0
        fi
        if [ "$(stat -c %s "$dst.tmp")" -gt 65536 ] || grep -qP '\x00' "$dst.tmp" 2>/dev/null; then
                rm -f "$dst.tmp"; return 0
        fi
        mv "$dst.tmp" "$dst"
}

copy_tree() { # src-dir dst-dir depth
        local src=$1 dst=$2 depth=$3 e name
        mkdir -p "$dst"
        [ "$depth" -gt 0 ] || return 0
        for e in "$src"/* "$src"/.[!.]*; do
                [ -e "$e" ] || [ -L "$e" ] || continue
                name=${e##*/}
                if [ -L "$e" ]; then
                        ln -sfn "$(readlink "$e")" "$dst/$name"
                elif [ -d "$e" ]; then
                        [[ $name =~ $SKIP_DIRS ]] && continue
                        copy_tree "$e" "$dst/$name" $((depth - 1))
                elif [ -f "$e" ]; then
                        copy_file "$e" "$dst/$name"
                fi
        done
}

# 1. the listing directories: entries are symlinks; remember where they lead
declare -a targets=()
for d in bus/pci/devices bus/usb/devices bus/scsi/devices bus/mdev/devices \
         class/net class/block class/scsi_generic class/scsi_host; do
        [ -d "$SYS/$d" ] || continue
        mkdir -p "$OUT/$d"
        for e in "$SYS/$d"/*; do
                [ -L "$e" ] || continue
                ln -sfn "$(readlink "$e")" "$OUT/$d/${e##*/}"
                t=$(readlink -f "$e") || continue
                case "$t" in "$SYS"/devices/*) targets+=("${t#"$SYS"/}") ;; esac
        done
done

# 2. the device directories: copy each topmost one once (children come along)
# (a list file, not <(...): minimal guests may have no /dev/fd)
printf '%s\n' "${targets[@]}" | sort -u >"$OUT/.targets"
last=
while IFS= read -r t; do
        [ -n "$t" ] || continue
        if [ -n "$last" ] && [[ $t == "$last"/* ]]; then continue; fi
        # keep the parent chain's own attributes too (bridges without a listing entry)
        copy_tree "$SYS/$t" "$OUT/$t" 12
        p=${t%/*}
        while [ "$p" != devices ] && [ -n "$p" ] && [ ! -e "$OUT/$p/.captured" ]; do
                for f in "$SYS/$p"/*; do
                        [ -f "$f" ] && [ ! -L "$f" ] && copy_file "$f" "$OUT/$p/${f##*/}"
                        [ -L "$f" ] && ln -sfn "$(readlink "$f")" "$OUT/$p/${f##*/}"
                done
                : >"$OUT/$p/.captured"
                p=${p%/*}
        done
        last=$t
done <"$OUT/.targets"
rm -f "$OUT/.targets"
find "$OUT/devices" -name .captured -delete 2>/dev/null || true

# 3. IOMMU groups (links only)
if [ -d "$SYS/kernel/iommu_groups" ]; then
        for g in "$SYS/kernel/iommu_groups"/*; do
                [ -d "$g/devices" ] || continue
                mkdir -p "$OUT/kernel/iommu_groups/${g##*/}/devices"
                for e in "$g/devices"/*; do
                        [ -L "$e" ] && ln -sfn "$(readlink "$e")" "$OUT/kernel/iommu_groups/${g##*/}/devices/${e##*/}"
                done
        done
fi
echo "captured $(printf '%s\n' "${targets[@]}" | sort -u | grep -c .) devices from $SYS into $OUT"
