#!/bin/bash
# Host-side PCI on a real kernel (run by tests/vm/run-vm inside the test VM, as root):
# nodedev-detach to vfio-pci and back, idempotence, the IOMMU group behind the pci-bridge,
# reset, and the host-safety refusals (the mounted virtio-blk disk, the NIC with an address,
# the bridge itself), after which those devices must still work.
set -eu
: "${VM_HW:?run inside tests/vm/run-vm}"
. "$VM_HW"
H=${HOSTDEV_BIN:?}
export HOSTDEV_STATE_DIR=/run/hostdev-scenario-pci
rm -rf "$HOSTDEV_STATE_DIR"

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
drv() { local l; l=$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null) && basename "$l" || echo none; }
group() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }
node() { local a=${1//:/_}; echo "pci_${a//./_}"; }
netdevs() { ls "/sys/bus/pci/devices/$1/net" 2>/dev/null || true; }
# run CMD...: capture stdout/stderr/status in OUT/ERR/RC
run() { local of ef; of=$(mktemp); ef=$(mktemp); set +e; "$@" >"$of" 2>"$ef"; RC=$?; set -e
        OUT=$(cat "$of"); ERR=$(cat "$ef"); rm -f "$of" "$ef"; echo "\$ $* -> $RC"; [ -z "$OUT" ] || echo "$OUT"; [ -z "$ERR" ] || echo "$ERR"; }
want_rc() { [ "$RC" = "$1" ] || fail "exit $RC, want $1"; }
want_err() { printf '%s' "$ERR" | grep -qE -- "$1" || fail "stderr does not match /$1/"; }
wait_for() { # wait_for SECONDS CMD...
        local t=$(($1 * 10)); shift
        while ! "$@"; do t=$((t - 1)); [ $t -gt 0 ] || return 1; sleep 0.1; done
}

# Leave the guest as we found it for the scenarios that follow, even when we fail half-way.
restore() {
        local a rc=$?
        set +e
        [ -n "${holder:-}" ] && kill "$holder" 2>/dev/null
        for a in "$VM_NIC_FREE" "$VM_NIC_BR1" "$VM_NIC_BR2"; do
                [ "$(drv "$a")" = e1000 ] && continue
                "$H" nodedev-reattach "$a" >/dev/null 2>&1 && [ "$(drv "$a")" = e1000 ] && continue
                echo >"/sys/bus/pci/devices/$a/driver_override"
                [ -e "/sys/bus/pci/devices/$a/driver" ] && echo "$a" >"/sys/bus/pci/devices/$a/driver/unbind"
                echo "$a" >/sys/bus/pci/drivers_probe
        done
        return $rc
}
trap restore EXIT

# ---- prerequisites: fail loudly ------------------------------------------------------------
for a in "$VM_NIC_OWN" "$VM_NIC_FREE" "$VM_BRIDGE" "$VM_NIC_BR1" "$VM_NIC_BR2" "$VM_HOSTDISK_PCI"; do
        [ -e "/sys/bus/pci/devices/$a" ] || fail "PCI device $a missing in the guest"
done
[ -e "/sys/bus/pci/devices/$VM_NIC_FREE/iommu_group" ] || fail "no IOMMU groups: is intel-iommu on?"
[ -d /sys/bus/pci/drivers/vfio-pci ] || modprobe vfio-pci || fail "no vfio-pci driver"
[ "$(drv "$VM_NIC_FREE")" = e1000 ] || fail "$VM_NIC_FREE not on e1000 at start"
[ "$(group "$VM_NIC_BR1")" = "$(group "$VM_NIC_BR2")" ] || fail "the NICs behind the bridge do not share a group"
mountpoint -q "$VM_HOSTDISK_MNT" || fail "$VM_HOSTDISK_MNT not mounted"
own_if=$(netdevs "$VM_NIC_OWN")
ip -o addr show dev "$own_if" | grep -q "${VM_NIC_OWN_IP%/*}" || fail "$own_if lacks $VM_NIC_OWN_IP"

# ---- detach the free e1000 ---------------------------------------------------------------------
step "detach $VM_NIC_FREE"
free_if=$(netdevs "$VM_NIC_FREE")
free_mac=$(cat "/sys/class/net/$free_if/address")
g=$(group "$VM_NIC_FREE")
run "$H" nodedev-detach "$(node "$VM_NIC_FREE")"
want_rc 0
[ "$(drv "$VM_NIC_FREE")" = vfio-pci ] || fail "bound to $(drv "$VM_NIC_FREE"), not vfio-pci"
[ -c "/dev/vfio/$g" ] || fail "/dev/vfio/$g missing"
[ -z "$(netdevs "$VM_NIC_FREE")" ] || fail "the net interface is still there"
[ -f "$HOSTDEV_STATE_DIR/pci/$VM_NIC_FREE.json" ] || fail "no host-side record"
grep -q '"orig_driver":"e1000"' "$HOSTDEV_STATE_DIR/pci/$VM_NIC_FREE.json" ||
        grep -q '"orig_driver": *"e1000"' "$HOSTDEV_STATE_DIR/pci/$VM_NIC_FREE.json" || fail "record lacks orig_driver e1000"

step "detach again: a no-op"
run "$H" nodedev-detach "$VM_NIC_FREE"
want_rc 0
printf '%s' "$OUT" | grep -q "already detached" || fail "second detach did not say 'already detached'"
[ "$(drv "$VM_NIC_FREE")" = vfio-pci ] || fail "second detach changed the driver"

step "reset $VM_NIC_FREE"
run "$H" nodedev-reset "$(node "$VM_NIC_FREE")"
if [ -e "/sys/bus/pci/devices/$VM_NIC_FREE/reset" ]; then
        want_rc 0
else
        want_rc 1
        want_err "offers no reset method"
fi

step "reattach refused while a process holds /dev/vfio/$g open"
sleep 300 9<>"/dev/vfio/$g" &
holder=$!
sleep 0.5
run "$H" nodedev-reattach "$(node "$VM_NIC_FREE")"
hpid=$holder
kill "$holder"; wait "$holder" 2>/dev/null || true
holder=
want_rc 1
want_err "in use through vfio by process $hpid \(sleep\)"
[ "$(drv "$VM_NIC_FREE")" = vfio-pci ] || fail "a refused reattach moved the device"

step "reattach $VM_NIC_FREE"
run "$H" nodedev-reattach "$(node "$VM_NIC_FREE")"
want_rc 0
[ "$(drv "$VM_NIC_FREE")" = e1000 ] || fail "bound to $(drv "$VM_NIC_FREE") after reattach, not e1000"
wait_for 10 test -n "$(netdevs "$VM_NIC_FREE")" || fail "no net interface after reattach"
new_if=$(netdevs "$VM_NIC_FREE")
[ "$(cat "/sys/class/net/$new_if/address")" = "$free_mac" ] || fail "$new_if has another MAC"
[ ! -e "$HOSTDEV_STATE_DIR/pci/$VM_NIC_FREE.json" ] || fail "record left after reattach"
run "$H" nodedev-reattach "$VM_NIC_FREE"
want_rc 0
printf '%s' "$OUT" | grep -q "already attached" || fail "second reattach did not say 'already attached'"

# ---- the IOMMU group behind the pci-bridge -----------------------------------------------------
step "detach $VM_NIC_BR1 while $VM_NIC_BR2 stays on e1000"
gb=$(group "$VM_NIC_BR1")
run "$H" nodedev-detach "$(node "$VM_NIC_BR1")"
want_rc 0
[ "$(drv "$VM_NIC_BR1")" = vfio-pci ] || fail "$VM_NIC_BR1 not on vfio-pci"
[ "$(drv "$VM_NIC_BR2")" = e1000 ] || fail "$VM_NIC_BR2 was moved"
want_err "warning: IOMMU group $gb of $VM_NIC_BR1 is not viable"
want_err "$VM_NIC_BR2 e1000: run 'hostdev nodedev-detach $(node "$VM_NIC_BR2")'"
want_err "$VM_NIC_BR1 vfio-pci: ok"
step "detach $VM_NIC_BR2 too: the group is viable"
run "$H" nodedev-detach "$(node "$VM_NIC_BR2")"
want_rc 0
printf '%s' "$ERR" | grep -q "not viable" && fail "group still reported not viable"
[ -c "/dev/vfio/$gb" ] || fail "/dev/vfio/$gb missing"
run "$H" nodedev-reattach "$(node "$VM_NIC_BR1")"
want_rc 0
run "$H" nodedev-reattach "$(node "$VM_NIC_BR2")"
want_rc 0
[ "$(drv "$VM_NIC_BR1")" = e1000 ] && [ "$(drv "$VM_NIC_BR2")" = e1000 ] || fail "bridge NICs not back on e1000"

# ---- refusals: the host's own devices ---------------------------------------------------------
step "refuse the mounted disk's controller $VM_HOSTDISK_PCI"
hd_drv=$(drv "$VM_HOSTDISK_PCI")
run "$H" nodedev-detach "$(node "$VM_HOSTDISK_PCI")"
want_rc 1
want_err "^hostdev: error: refusing to detach $VM_HOSTDISK_PCI: it is the controller of vd[a-z]+, mounted on $VM_HOSTDISK_MNT"
[ "$(drv "$VM_HOSTDISK_PCI")" = "$hd_drv" ] || fail "the disk controller was moved"
echo "still works $$" >"$VM_HOSTDISK_MNT/probe" && sync && grep -q "still works $$" "$VM_HOSTDISK_MNT/probe" ||
        fail "the host disk stopped working"

step "refuse the NIC with an address $VM_NIC_OWN"
run "$H" nodedev-detach "$(node "$VM_NIC_OWN")"
want_rc 1
want_err "^hostdev: error: refusing to detach $VM_NIC_OWN: it is the host's network device: $own_if has address ${VM_NIC_OWN_IP%/*}"
[ "$(drv "$VM_NIC_OWN")" = e1000 ] || fail "the host's NIC was moved"
ip -o addr show dev "$own_if" | grep -q "${VM_NIC_OWN_IP%/*}" || fail "$own_if lost its address"

step "refuse the bridge $VM_BRIDGE, even with --force"
run "$H" nodedev-detach "$(node "$VM_BRIDGE")" --force
want_rc 1
want_err "it is a bridge \(class 0x0604"

step "refuse a reset of the host's NIC"
run "$H" nodedev-reset "$(node "$VM_NIC_OWN")"
want_rc 1
want_err "refusing to reset $VM_NIC_OWN"

echo "ok"
