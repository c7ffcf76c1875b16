#!/bin/bash
# SCSI passthrough on a real kernel (in the test VM): the guest's virtio-scsi disk (scsi-hd,
# serial SCSI-DISK) is given by its sg node to inner QEMUs as scsi-generic:
#   - hotplug with attach-device (blockdev-add + device_add), seen in `info qtree`;
#   - a second domain claiming it fails (adapter form and the older sg-name form alike);
#   - detach-device removes the device and its blockdev (device_del + blockdev-del);
#   - two domains that both say <shareable/> may hold it at once; an exclusive one may not;
#   - `hostdev run` starts a QEMU with -blockdev host_device + -device scsi-generic.
set -eu
. "$(dirname "$0")/qemu-lib.sh"
export HOSTDEV_STATE_DIR=/run/hostdev-scenario-scsi
rm -rf "$HOSTDEV_STATE_DIR"
W=$(mktemp -d)
PA= PB= PR=
trap '[ -z "$PA" ] || kill "$PA" 2>/dev/null; [ -z "$PB" ] || kill "$PB" 2>/dev/null; [ -z "$PR" ] || kill "$PR" 2>/dev/null; rm -rf "$W"' EXIT

command -v qemu-system-x86_64 >/dev/null || fail "no qemu-system-x86_64 in the guest"

step "the virtio-scsi disk and its sg node"
HBA=/sys/bus/pci/devices/${VM_SCSI_HBA:?}
SDEV=
for d in "$HBA"/virtio*/host*/target*/*:*:*:*; do
        [ -d "$d/scsi_generic" ] && SDEV=$d && break
done
[ -n "$SDEV" ] || fail "no SCSI device with an sg node under $HBA"
HBTL=${SDEV##*/}
IFS=: read -r SH SB ST SL <<<"$HBTL"
SG=$(ls "$SDEV/scsi_generic")
[ -c "/dev/$SG" ] || fail "/dev/$SG is not a character device"
echo "disk $HBTL -> /dev/$SG (model $(cat "$SDEV/model" 2>/dev/null | tr -s ' '))"
run "$H" list --cap scsi,scsi_generic
want_rc 0
printf '%s' "$OUT" | grep -q "scsi_${SH}_${SB}_${ST}_${SL}" || fail "list does not show scsi_${SH}_${SB}_${ST}_${SL}"

xml() { # xml [shareable]
        cat <<X
<hostdev mode='subsystem' type='scsi'>
  <source>
    <adapter name='scsi_host$SH'/>
    <address bus='$SB' target='$ST' unit='$SL'/>
  </source>
  ${1:+<shareable/>}
  <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</hostdev>
X
}
xml >"$W/a.xml"
xml shareable >"$W/a-sh.xml"
cat >"$W/sg.xml" <<X
<hostdev mode='capability' type='scsi'>
  <source name='$SG'/>
  <target address='$HBTL'/>
</hostdev>
X

run "$H" qemu-args "$W/a.xml" --name vm-a
want_rc 0
printf '%s' "$OUT" | grep -q "\"driver\":\"host_device\",\"filename\":\"/dev/$SG\"" || fail "qemu-args: no host_device /dev/$SG"
printf '%s' "$OUT" | grep -q '"driver":"scsi-generic".*"bus":"scsi0.0","channel":0,"scsi-id":0,"lun":0' || fail "qemu-args: no scsi-generic on scsi0.0"

# qtree_sg SOCKET: the scsi-generic devices (ids) in the inner QEMU's `info qtree`
qtree() { qmp "$1" human-monitor-command '{"command-line": "info qtree"}' | python3 -c 'import json,sys; print(json.load(sys.stdin))' | tr -d '\r'; }
qtree_sg() { qtree "$1" | sed -n 's/.*dev: scsi-generic, id "\([^"]*\)".*/\1/p' | sort | tr '\n' ' '; }
block_nodes() { qmp "$1" query-named-block-nodes | python3 -c 'import json,sys; print(" ".join(sorted(n["node-name"] for n in json.load(sys.stdin))))'; }
INNER=("${INNER_QEMU[@]}" -device virtio-scsi-pci,id=scsi0)

step "two running inner VMs with a virtio-scsi controller"
"${INNER[@]}" -qmp "unix:$W/a.qmp,server=on,wait=off" >"$W/a.log" 2>&1 &
PA=$!
"${INNER[@]}" -qmp "unix:$W/b.qmp,server=on,wait=off" >"$W/b.log" 2>&1 &
PB=$!
wait_for 120 test -S "$W/a.qmp" || fail "inner VM a did not start: $(cat "$W/a.log")"
wait_for 120 test -S "$W/b.qmp" || fail "inner VM b did not start: $(cat "$W/b.log")"
[ -z "$(qtree_sg "$W/a.qmp")" ] || fail "VM a has a scsi-generic device at start"

step "attach the disk's sg node to vm-a: scsi-generic in its qtree"
run "$H" attach-device vm-a "$W/a.xml" --qmp "$W/a.qmp"
want_rc 0
[ "$(qtree_sg "$W/a.qmp")" = "hostdev0 " ] || { qtree "$W/a.qmp"; fail "no scsi-generic hostdev0 in vm-a's info qtree"; }
qtree "$W/a.qmp" | grep -A8 'dev: scsi-generic' | head -12
block_nodes "$W/a.qmp" | grep -qw hostdev0-backend || fail "no blockdev hostdev0-backend in vm-a"

step "vm-b claims it: refused (adapter form and sg-name form), both VMs untouched"
run "$H" attach-device vm-b "$W/a.xml" --qmp "$W/b.qmp"
want_rc 1
printf '%s' "$ERR" | grep -q "in use by domain vm-a" || fail "the refusal does not name vm-a"
run "$H" attach-device vm-b "$W/sg.xml" --qmp "$W/b.qmp"
want_rc 1
printf '%s' "$ERR" | grep -q "in use by domain vm-a" || fail "the sg-form refusal does not name vm-a"
run "$H" attach-device vm-b "$W/a-sh.xml" --qmp "$W/b.qmp"
want_rc 1
printf '%s' "$ERR" | grep -q "in use by domain vm-a" || fail "a shareable request took vm-a's exclusive device"
[ -z "$(qtree_sg "$W/b.qmp")" ] || fail "vm-b got a scsi-generic device"
[ "$(qtree_sg "$W/a.qmp")" = "hostdev0 " ] || fail "vm-a lost its scsi-generic device"

step "detach from vm-a: device and blockdev gone, claim released"
run "$H" detach-device vm-a "$W/a.xml"
want_rc 0
[ -z "$(qtree_sg "$W/a.qmp")" ] || { qtree "$W/a.qmp"; fail "scsi-generic still in vm-a"; }
if block_nodes "$W/a.qmp" | grep -qw hostdev0-backend; then fail "blockdev hostdev0-backend left in vm-a"; fi
run "$H" status --json
[ "$(printf '%s' "$OUT" | tr -d ' \n')" = "[]" ] || fail "status not empty after detach"

step "shareable on both sides: both VMs have it; an exclusive third request is refused"
run "$H" attach-device vm-a "$W/a-sh.xml" --qmp "$W/a.qmp"
want_rc 0
run "$H" attach-device vm-b "$W/a.xml" --qmp "$W/b.qmp"
want_rc 1
printf '%s' "$ERR" | grep -q "add <shareable/>" || fail "the refusal does not suggest <shareable/>"
run "$H" attach-device vm-b "$W/a-sh.xml" --qmp "$W/b.qmp"
want_rc 0
[ "$(qtree_sg "$W/a.qmp")" = "hostdev0 " ] || fail "vm-a has no shared scsi-generic"
[ "$(qtree_sg "$W/b.qmp")" = "hostdev0 " ] || fail "vm-b has no shared scsi-generic"
qtree "$W/b.qmp" | grep -A8 'dev: scsi-generic' | grep -q 'share-rw = true' || fail "vm-b's scsi-generic is not share-rw"
run "$H" status --json
[ "$(printf '%s' "$OUT" | grep -c '"domain"')" = 2 ] || fail "status does not show two claims"
run "$H" detach-device vm-b "$W/a-sh.xml"
want_rc 0
[ -z "$(qtree_sg "$W/b.qmp")" ] || fail "scsi-generic still in vm-b"
[ "$(qtree_sg "$W/a.qmp")" = "hostdev0 " ] || fail "detaching vm-b's share removed vm-a's"
run "$H" detach-device vm-a "$W/a-sh.xml"
want_rc 0
[ -z "$(qtree_sg "$W/a.qmp")" ] || fail "scsi-generic still in vm-a"
kill "$PA" "$PB" 2>/dev/null || true
wait "$PA" "$PB" 2>/dev/null || true
PA= PB=

step "hostdev run: QEMU started with -blockdev host_device + -device scsi-generic"
"$H" run --name vm-r "$W/a.xml" -- "${INNER[@]}" -qmp "unix:$W/r.qmp,server=on,wait=off" >"$W/r.log" 2>&1 &
PR=$!
wait_for 120 test -S "$W/r.qmp" || fail "hostdev run's QEMU did not start: $(cat "$W/r.log")"
[ "$(qtree_sg "$W/r.qmp")" = "hostdev0 " ] || { qtree "$W/r.qmp"; cat "$W/r.log"; fail "no scsi-generic in the run VM"; }
run "$H" status --json
printf '%s' "$OUT" | grep -q '"vm-r"' || fail "status does not show vm-r's claim"
qmp "$W/r.qmp" quit >/dev/null || true
wait "$PR" || true
PR=
run "$H" status --json
[ "$(printf '%s' "$OUT" | tr -d ' \n')" = "[]" ] || fail "run did not release the SCSI device"

step "vhost-scsi: a target that is not configured is refused before QEMU starts"
WWPN=naa.5001405df3e54061
cat >"$W/vhost.xml" <<X
<hostdev mode='subsystem' type='scsi_host'>
  <source protocol='vhost' wwpn='$WWPN'/>
  <address type='pci' domain='0x0000' bus='0x00' slot='0x0a' function='0x0'/>
</hostdev>
X
modprobe -a configfs target_core_mod target_core_file vhost_scsi || fail "modprobe target/vhost_scsi"
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
TGT=/sys/kernel/config/target
run "$H" run --name vm-v "$W/vhost.xml" -- "${INNER_QEMU[@]}" -qmp "unix:$W/v.qmp,server=on,wait=off"
want_rc 1
printf '%s' "$ERR" | grep -q "vhost-scsi target $WWPN" || fail "no clear message for the missing target"
[ ! -S "$W/v.qmp" ] || fail "QEMU was started without the vhost-scsi target"

step "vhost-scsi: with the target in the kernel's configfs, QEMU gets vhost-scsi-pci"
truncate -s 8M "$W/vhost.img"
mkdir -p "$TGT/core/fileio_0/hdvhost"
echo "fd_dev_name=$W/vhost.img,fd_dev_size=8388608" >"$TGT/core/fileio_0/hdvhost/control"
echo 1 >"$TGT/core/fileio_0/hdvhost/enable"
mkdir -p "$TGT/vhost/$WWPN/tpgt_1/lun/lun_0"
echo naa.5001405df3e54062 >"$TGT/vhost/$WWPN/tpgt_1/nexus"
ln -s "$TGT/core/fileio_0/hdvhost" "$TGT/vhost/$WWPN/tpgt_1/lun/lun_0/hdvhost"
vhost_cleanup() {
        rm -f "$TGT/vhost/$WWPN/tpgt_1/lun/lun_0/hdvhost"
        rmdir "$TGT/vhost/$WWPN/tpgt_1/lun/lun_0" "$TGT/vhost/$WWPN/tpgt_1/lun" 2>/dev/null || true
        rmdir "$TGT/vhost/$WWPN/tpgt_1" "$TGT/vhost/$WWPN" 2>/dev/null || true
        rmdir "$TGT/core/fileio_0/hdvhost" "$TGT/core/fileio_0" 2>/dev/null || true
}
"$H" run --name vm-v "$W/vhost.xml" -- "${INNER_QEMU[@]}" -qmp "unix:$W/v.qmp,server=on,wait=off" >"$W/v.log" 2>&1 &
PR=$!
wait_for 120 test -S "$W/v.qmp" || { vhost_cleanup; fail "hostdev run's QEMU did not start: $(cat "$W/v.log")"; }
if ! qtree "$W/v.qmp" | grep -q 'dev: vhost-scsi-pci, id "hostdev0"'; then
        qtree "$W/v.qmp" | head -60; cat "$W/v.log"; vhost_cleanup; fail "no vhost-scsi-pci hostdev0 in the run VM"
fi
qtree "$W/v.qmp" | grep -A4 'dev: vhost-scsi-pci' | head -6
run "$H" status --json
printf '%s' "$OUT" | grep -q "scsi_host:$WWPN" || { vhost_cleanup; fail "status does not show the vhost claim"; }
qmp "$W/v.qmp" quit >/dev/null || true
wait "$PR" || true
PR=
vhost_cleanup
run "$H" status --json
[ "$(printf '%s' "$OUT" | tr -d ' \n')" = "[]" ] || fail "run did not release the vhost-scsi target"
echo "PASS scsi"
