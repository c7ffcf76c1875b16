#!/bin/bash
# Compare `hostdev dumpxml` with libvirt's own `virsh nodedev-dumpxml` on this machine, device
# by device. A private libvirtd is started (own config, sockets and pid file in a temp dir,
# read-only connection; it only reads devices) and stopped at the end.
#
# Compared exactly: every PCI device and "computer". Net devices: everything except libvirt's
# <feature> lines (offload flags come from ethtool ioctls, not sysfs). Storage: not compared
# (libvirt takes name suffix, bus and serial from the udev database, which may be absent).
set -eu
. "$(dirname "$0")/lib.sh"

command -v libvirtd >/dev/null || fail "libvirtd is not installed (package libvirt-daemon-system)"
command -v virsh >/dev/null || fail "virsh is not installed (package libvirt-clients)"
[ "$(id -u)" = 0 ] || fail "this test starts a system libvirtd and must run as root"

T=$(mktemp -d /tmp/hostdev-lv-XXXXXX)
LVPID=
cleanup() {
        if [ -n "$LVPID" ] && kill -0 "$LVPID" 2>/dev/null; then
                kill "$LVPID"
                for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$LVPID" 2>/dev/null || break; sleep 0.5; done
        fi
        rm -rf "$T"
}
trap cleanup EXIT
cat >"$T/libvirtd.conf" <<EOF
unix_sock_dir = "$T"
listen_tls = 0
listen_tcp = 0
auth_unix_ro = "none"
auth_unix_rw = "none"
EOF
ok=
if [ -S /run/libvirt/libvirt-sock-ro ] && timeout 10 virsh -r -c qemu:///system nodedev-list >/dev/null 2>&1; then
        URI=qemu:///system # a system libvirtd is already running: ask it (read-only)
        ok=1
else
        libvirtd -f "$T/libvirtd.conf" -p "$T/pid" >"$T/log" 2>&1 &
        LVPID=$!
        URI="qemu:///system?socket=$T/libvirt-sock-ro"
fi
for _ in $(seq 1 40); do
        [ -z "$ok" ] || break
        if [ -S "$T/libvirt-sock-ro" ] && timeout 10 virsh -r -c "$URI" nodedev-list >/dev/null 2>&1; then ok=1; break; fi
        kill -0 "$LVPID" 2>/dev/null || break
        sleep 0.5
done
[ -n "$ok" ] || fail "private libvirtd did not come up: $(tail -5 "$T/log")"

export HOSTDEV_STATE_DIR=$T/state-none
unset HOSTDEV_SYSFS_ROOT
names=$(timeout 30 virsh -r -c "$URI" nodedev-list)
[ -n "$names" ] || fail "libvirt lists no node devices"
npci=0; nnet=0
for n in $names; do
        case "$n" in
        pci_*|computer) filter=cat ;;
        net_*) filter="grep -v <feature " ;;
        *) continue ;;
        esac
        want=$(timeout 30 virsh -r -c "$URI" nodedev-dumpxml "$n" | sed '/^$/d' | $filter)
        expect_exit 0 hd dumpxml "$n"
        got=$(printf '%s\n' "$OUT" | $filter)
        [ "$want" = "$got" ] || fail "dumpxml $n differs from libvirt's:
$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got"))"
        case "$n" in pci_*) npci=$((npci + 1)) ;; net_*) nnet=$((nnet + 1)) ;; esac
done
[ "$npci" -gt 0 ] || fail "no PCI device compared"

# and the same set of PCI and net names
mine=$(hd list --cap pci,net --json | python3 -c 'import json,sys; print("\n".join(sorted(d["name"] for d in json.load(sys.stdin))))')
theirs=$(printf '%s\n' $names | grep -E '^(pci|net)_' | sort)
[ "$mine" = "$theirs" ] || fail "device names differ: $(diff <(echo "$theirs") <(echo "$mine"))"
echo "test-nodedev-compare: $npci PCI and $nnet net devices match libvirt"
