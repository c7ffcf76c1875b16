#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Inventory benchmark (issue 8): hostdev against lspci/lsusb on large synthetic sysfs trees.
#
#   bench/inventory/run.sh [--build BUILDDIR] [--runs N] [--scales "1 2 4 8"] [--work DIR] [--keep]
#
# Trees come from gen-tree.py (in --work, default /dev/shm/hostdev-bench: sysfs is in memory,
# so is tmpfs; a disk-backed tree measures the disk). At every scale K:
#   pci-K:  4096*K SR-IOV functions in 256*K IOMMU groups, nothing else
#   full-K: the same plus 1024*K USB dongles behind hub chains (16*K buses) and 512*K net
#           interfaces
# Measured (median of N runs with hyperfine if installed, else a loop of N runs):
#   1. `hostdev list --json` vs `lspci -A linux-sysfs -O sysfs.path=TREE/bus/pci -D -nn` on pci-K:
#      both list the same 4096*K functions with vendor/device names. Ratio hostdev/lspci.
#   2. `hostdev list --json` on full-K (every device, USB interfaces too) vs lspci on full-K
#      (which lists only its PCI functions): informational.
#   3. USB: usbutils' lsusb has no sysfs-root option (it reads /sys and /dev/bus/usb through
#      libusb), so it cannot read the tree. `lsusb` on this machine's real /sys is timed as a
#      per-device reference only; `hostdev list --cap usb_device --json` on full-K is timed.
#      The per-device ratio printed is NOT a same-input comparison.
#   4. `hostdev resolve` of 64 dongles selected by serial and by port on full-K.
#   5. claim/release throughput: claim-tool (tests/unit/claim-tool.c: resolve + claim of the
#      64 dongles, all or nothing, under the registry lock) then `hostdev release`, N rounds,
#      against a private HOSTDEV_STATE_DIR.
# Then growth: time per device at each scale for 1, 2, 4 (on pci-K and full-K), and a verdict:
# hostdev no slower than lspci at 1x, and per-device time at 8x within 1.5x of 1x (linear).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
BUILD=$SRC/build
RUNS=10
SCALES="1 2 4 8"
WORK=/dev/shm/hostdev-bench
KEEP=0
while [ $# -gt 0 ]; do
        case $1 in
        --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --scales) SCALES=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        *) echo "usage: run.sh [--build DIR] [--runs N] [--scales LIST] [--work DIR] [--keep]" >&2; exit 2 ;;
        esac
done
HD=$BUILD/hostdev
CLAIM=$BUILD/tests/unit/claim-tool
[ -x "$HD" ] || { echo "run.sh: $HD not built" >&2; exit 1; }
command -v lspci >/dev/null || { echo "run.sh: lspci (pciutils) not installed" >&2; exit 1; }
[ -d /dev/shm ] || WORK=${WORK/#\/dev\/shm/\/tmp}
mkdir -p "$WORK"
[ $KEEP = 1 ] || trap 'rm -rf "$WORK"' EXIT

HF=$(command -v hyperfine || true)
echo "hostdev inventory benchmark: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "timer: ${HF:+hyperfine $(hyperfine --version | awk '{print $2}'), }median of $RUNS runs (wall clock, warm cache)"
echo "lspci: $(lspci --version)"

# median_of ENVSPEC CMD...: median wall time in seconds of CMD run $RUNS times with ENVSPEC
# (NAME=VALUE, or '-') in its environment; output to /dev/null.
median_of() {
        local envspec=$1; shift
        local e=()
        [ "$envspec" = - ] || e=(env "$envspec")
        if [ -n "$HF" ]; then
                local j
                j=$(mktemp)
                "${e[@]}" "$HF" -N --warmup 1 --runs "$RUNS" --export-json "$j" --output null \
                        -- "$(printf '%q ' "$@")" >/dev/null 2>&1 ||
                        { echo "run.sh: hyperfine failed on: $*" >&2; "${e[@]}" "$@" >/dev/null; exit 1; }
                python3 -c 'import json,sys; print("%.6f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$j"
                rm -f "$j"
        else
                local ts=()
                "${e[@]}" "$@" >/dev/null # warmup, and fail loudly
                for _ in $(seq "$RUNS"); do
                        local a b
                        a=$(date +%s%N)
                        "${e[@]}" "$@" >/dev/null
                        b=$(date +%s%N)
                        ts+=($(((b - a) / 1000)))
                done
                printf '%s\n' "${ts[@]}" | sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.6f\n", m/1e6}'
        fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
us_per() { awk -v t="$1" -v n="$2" 'BEGIN {printf "%.1f", t * 1e6 / n}'; }
count() { sed -n "s/^$2=//p" "$1/counts"; }

tree() { # tree KIND SCALE -> path of the generated tree (made once)
        local d=$WORK/$1-$2
        if [ ! -f "$d/counts" ]; then
                rm -rf "$d"
                echo "generating $1-$2 ..." >&2
                python3 "$HERE/gen-tree.py" "$d" --scale "$2" $([ "$1" = pci ] && echo --pci-only)
        fi
        echo "$d"
}

check_outputs() { # the two tools must list the same PCI functions, or the timing means nothing
        local t=$1 n_hd n_ls
        n_hd=$(HOSTDEV_SYSFS_ROOT=$t/sys "$HD" list --json --cap pci |
                python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
        n_ls=$(lspci -A linux-sysfs -O "sysfs.path=$t/sys/bus/pci" -D -nn | wc -l)
        [ "$n_hd" = "$n_ls" ] || { echo "run.sh: hostdev lists $n_hd PCI functions, lspci $n_ls" >&2; exit 1; }
        echo "$n_hd"
}

declare -A T_HD T_LS T_FULL N_PCI N_FULL
k1=$(echo $SCALES | awk '{print $1}')
for k in $SCALES; do
        p=$(tree pci "$k")
        N_PCI[$k]=$(check_outputs "$p")
        T_HD[$k]=$(median_of "HOSTDEV_SYSFS_ROOT=$p/sys" "$HD" list --json)
        T_LS[$k]=$(median_of - lspci -A linux-sysfs -O "sysfs.path=$p/sys/bus/pci" -D -nn)
        # the trees of all scales do not fit tmpfs' inodes together: keep only the first scale's
        [ $KEEP = 1 ] || [ "$k" = "$k1" ] || rm -rf "$p"
        f=$(tree full "$k")
        N_FULL[$k]=$(count "$f" total)
        T_FULL[$k]=$(median_of "HOSTDEV_SYSFS_ROOT=$f/sys" "$HD" list --json)
        [ $KEEP = 1 ] || [ "$k" = "$k1" ] || rm -rf "$f"
done

f1=$(tree full "$k1")
echo
echo "== at scale ${k1}x (one run of every measurement; ratio = hostdev time / peer time) =="
printf '%-58s %10s %10s %7s\n' "measurement" "hostdev s" "peer s" "ratio"
printf '%-58s %10s %10s %7s\n' "list --json vs lspci -D -nn, ${N_PCI[$k1]} PCI functions" \
        "${T_HD[$k1]}" "${T_LS[$k1]}" "$(ratio "${T_HD[$k1]}" "${T_LS[$k1]}")"
t_ls_full=$(median_of - lspci -A linux-sysfs -O "sysfs.path=$f1/sys/bus/pci" -D -nn)
printf '%-58s %10s %10s %7s\n' "list --json (${N_FULL[$k1]} devices) vs lspci (its PCI only)" \
        "${T_FULL[$k1]}" "$t_ls_full" "$(ratio "${T_FULL[$k1]}" "$t_ls_full")"

# start-up: what every command pays before reading anything (issue 8: libvirt's client library
# is loaded only by --connect paths, so it is not among these)
t_hd0=$(median_of - "$HD" --version)
t_ls0=$(median_of - lspci --version)
printf '%-58s %10s %10s %7s\n' "start-up (--version), ms" "$(us_per "$t_hd0" 1000)" "$(us_per "$t_ls0" 1000)" \
        "$(ratio "$t_hd0" "$t_ls0")"
printf '%-58s %10s %10s\n' "  shared objects loaded (ldd)" "$(ldd "$HD" | wc -l)" "$(ldd "$(command -v lspci)" | wc -l)"

n_usb=$(count "$f1" usb_devices)
t_usb=$(median_of "HOSTDEV_SYSFS_ROOT=$f1/sys" "$HD" list --cap usb_device --json)
if command -v lsusb >/dev/null && lsusb >/dev/null 2>&1 && [ "$(lsusb | wc -l)" -gt 0 ]; then
        n_real=$(lsusb | wc -l)
        t_lsusb=$(median_of - lsusb)
        printf '%-58s %10s %10s %7s\n' "list --cap usb_device: us/device ($n_usb, tree)" \
                "$(us_per "$t_usb" "$n_usb")" "$(us_per "$t_lsusb" "$n_real")" \
                "$(ratio "$(us_per "$t_usb" "$n_usb")" "$(us_per "$t_lsusb" "$n_real")")"
        echo "  (peer: lsusb on this machine's real /sys, $n_real devices: lsusb has no sysfs-root"
        echo "   option, so it cannot read the tree; a per-device reference, not the same input)"
else
        printf '%-58s %10s %10s %7s\n' "list --cap usb_device: us/device ($n_usb, tree)" \
                "$(us_per "$t_usb" "$n_usb")" "-" "-"
        echo "  (no lsusb reference: usbutils missing, or lsusb finds no USB bus on this machine;"
        echo "   lsusb has no sysfs-root option, so it cannot read the tree)"
fi

t_ser=$(median_of "HOSTDEV_SYSFS_ROOT=$f1/sys" "$HD" resolve "$f1/dongles.xml" --json)
t_port=$(median_of "HOSTDEV_SYSFS_ROOT=$f1/sys" "$HD" resolve "$f1/ports.xml" --json)
# the resolution must actually succeed: 64 ok, each on a distinct device
for x in dongles ports; do
        HOSTDEV_SYSFS_ROOT=$f1/sys HOSTDEV_STATE_DIR=$WORK/state-resolve "$HD" resolve "$f1/$x.xml" --json |
                python3 -c 'import json,sys
r = json.load(sys.stdin)
ok = [e for e in r if e["status"] == "ok"]
assert len(ok) == 64 and len({e["device"] for e in ok}) == 64, "resolve: %d ok" % len(ok)' ||
                { echo "run.sh: resolve of $x.xml did not select 64 distinct dongles" >&2; exit 1; }
done
printf '%-58s %10s %10s %7s\n' "resolve 64 dongles by serial" "$t_ser" "-" "-"
printf '%-58s %10s %10s %7s\n' "resolve 64 dongles by port" "$t_port" "-" "-"

if [ -x "$CLAIM" ]; then
        st=$WORK/state-claims
        rm -rf "$st"; mkdir -m 0700 "$st"
        rounds=$RUNS
        a=$(date +%s%N)
        for i in $(seq "$rounds"); do
                HOSTDEV_SYSFS_ROOT=$f1/sys HOSTDEV_STATE_DIR=$st "$CLAIM" "bench$i" "$f1/dongles.xml" >/dev/null
                HOSTDEV_SYSFS_ROOT=$f1/sys HOSTDEV_STATE_DIR=$st "$HD" release "bench$i" >/dev/null
        done
        b=$(date +%s%N)
        HOSTDEV_SYSFS_ROOT=$f1/sys HOSTDEV_STATE_DIR=$st "$HD" status --json |
                python3 -c 'import json,sys; s = json.load(sys.stdin); assert not s, s' ||
                { echo "run.sh: claims left after release" >&2; exit 1; }
        s=$(awk -v ns=$((b - a)) 'BEGIN {printf "%.6f", ns / 1e9}')
        printf '%-58s %10s %10s %7s\n' "claim+release of 64 dongles, $rounds rounds: s/round" \
                "$(awk -v s="$s" -v r="$rounds" 'BEGIN {printf "%.6f", s / r}')" "-" "-"
        printf '%-58s %10s\n' "  claims per second (claim and release each)" \
                "$(awk -v s="$s" -v r="$rounds" 'BEGIN {printf "%.0f", 64 * r / s}')"
else
        echo "claim/release: $CLAIM not built (meson -Dtests=true), not measured"
fi

echo
echo "== growth: microseconds per device =="
printf '%6s %8s %14s %14s %8s %14s\n' scale "pci fns" "hostdev us/fn" "lspci us/fn" ratio "full us/dev"
for k in $SCALES; do
        printf '%5sx %8s %14s %14s %8s %14s\n' "$k" "${N_PCI[$k]}" "$(us_per "${T_HD[$k]}" "${N_PCI[$k]}")" \
                "$(us_per "${T_LS[$k]}" "${N_PCI[$k]}")" "$(ratio "${T_HD[$k]}" "${T_LS[$k]}")" \
                "$(us_per "${T_FULL[$k]}" "${N_FULL[$k]}")"
done

kl=$(echo $SCALES | awk '{print $NF}')
echo
verdict=0
r1=$(ratio "${T_HD[$k1]}" "${T_LS[$k1]}")
if awk -v r="$r1" 'BEGIN {exit !(r <= 1.0)}'; then
        echo "PASS: hostdev list --json is no slower than lspci -D -nn at ${k1}x (ratio $r1)"
else
        echo "FAIL: hostdev list --json is slower than lspci -D -nn at ${k1}x (ratio $r1)"; verdict=1
fi
g=$(awk -v a="${T_HD[$kl]}" -v na="${N_PCI[$kl]}" -v b="${T_HD[$k1]}" -v nb="${N_PCI[$k1]}" \
        'BEGIN {printf "%.2f", (a / na) / (b / nb)}')
if awk -v g="$g" 'BEGIN {exit !(g <= 1.5)}'; then
        echo "PASS: linear growth: time per function at ${kl}x is ${g}x that at ${k1}x"
else
        echo "FAIL: superlinear growth: time per function at ${kl}x is ${g}x that at ${k1}x"; verdict=1
fi
exit $verdict
