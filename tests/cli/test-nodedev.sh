#!/bin/bash
# nodedev-detach / nodedev-reattach / nodedev-reset on the pci-gen.sh fixture, without a kernel
# behind it: what the CLI decides by itself (names, refusals, idempotence, group warnings, the
# reset attribute) and that a refused device is left untouched. The bind/unbind sequence itself
# is tested against the fake kernel (tests/unit/test-vfio.c) and a real one (tests/vm).
set -e
. "$(dirname "$0")/lib.sh"

FX=$(mktemp -d)
trap 'rm -rf "$FX"' EXIT
bash "$HOSTDEV_TEST_DATA/sys/pci-gen.sh" "$FX"
export HOSTDEV_SYSFS_ROOT=$FX/sys HOSTDEV_PROC_ROOT=$FX/proc HOSTDEV_DEV_ROOT=$FX/dev HOSTDEV_STATE_DIR=$FX/state
S=$FX/sys
snap() { (cd "$S" && find . -printf '%p %l\n' | sort && cat bus/pci/devices/*/driver_override) | md5sum; }

# usage errors: exit 2
expect_exit 2 hd nodedev-detach
expect_match '^hostdev: error: nodedev-detach needs exactly one PCI device name' "$ERR"
expect_exit 2 hd nodedev-detach eth0
expect_match "^hostdev: error: 'eth0' is not a PCI device name" "$ERR"
expect_exit 2 hd nodedev-detach pci_0000_00_20_0
expect_match 'out of range' "$ERR"
expect_exit 2 hd nodedev-detach 0000:00:03:0
expect_exit 2 hd nodedev-detach pci_0000_00_03_0 --bogus
expect_match "unknown option '--bogus'" "$ERR"
expect_exit 2 hd nodedev-detach pci_0000_00_03_0 --driver
expect_match "needs a value" "$ERR"
expect_exit 2 hd nodedev-reattach pci_0000_00_03_0 --force
expect_exit 2 hd nodedev-reset a b

# a missing device: exit 1
expect_exit 1 hd nodedev-detach pci_0000_00_1f_0
expect_match '^hostdev: error: PCI device 0000:00:1f.0 not found' "$ERR"
expect_exit 1 hd nodedev-reset 0000:00:1f.0

# refusals leave everything untouched
before=$(snap)
expect_exit 1 hd nodedev-detach pci_0000_00_02_0
expect_match "^hostdev: error: refusing to detach 0000:00:02.0: it is the host's network device: eth0 has address fec0::2/64 \(use --force" "$ERR"
expect_exit 1 hd nodedev-detach 0000:00:05.0
expect_match "it is the controller of vda1, mounted on / \(ext4\)" "$ERR"
expect_exit 1 hd nodedev-detach pci_0000_00_07_0
expect_match "controller of active swap /dev/vdb" "$ERR"
expect_exit 1 hd nodedev-detach pci_0000_00_06_0
expect_match "drives fb0, the framebuffer of the active console" "$ERR"
expect_exit 1 hd nodedev-detach pci_0000_00_09_0
expect_match "eth5 is enslaved to br0, and br0 carries the route 192.168.0.0/24" "$ERR"
expect_exit 1 hd nodedev-detach pci_0000_00_04_0 --force
expect_match "it is a bridge \(class 0x060400\)" "$ERR"
expect_exit 1 hd nodedev-detach pci_0000_00_08_0
expect_match "no IOMMU group" "$ERR"
expect_exit 1 hd nodedev-detach pci_0000_00_03_0 --driver no-such-stub
expect_match "driver no-such-stub is not available .*modprobe skipped" "$ERR"
expect_exit 1 hd nodedev-reset pci_0000_00_02_0
expect_match "refusing to reset 0000:00:02.0" "$ERR"
[ "$(snap)" = "$before" ] || fail "a refused operation changed the fixture"
[ -z "$(ls "$FX"/state/pci/*.json 2>/dev/null)" ] || fail "a refused detach left a record"

# idempotence: already on vfio-pci (moved there by hand), already on its driver
D=$S/devices/pci0000:00/0000:00:04.0/0000:01:01.0
rm "$D/driver" "$S/bus/pci/drivers/e1000/0000:01:01.0"
ln -s ../../../../bus/pci/drivers/vfio-pci "$D/driver"
before=$(snap)
expect_exit 0 hd nodedev-detach pci_0000_01_01_0
expect_match '^Device pci_0000_01_01_0 is already detached \(bound to vfio-pci\)' "$OUT"
# ... and the group is not viable while 0000:01:02.0 stays on e1000: say so
expect_match '^hostdev: warning: IOMMU group 4 of 0000:01:01.0 is not viable' "$ERR"
expect_match "0000:01:02.0 e1000: run 'hostdev nodedev-detach pci_0000_01_02_0'" "$ERR"
expect_match "0000:00:04.0 no driver: PCI bridge, exempt" "$ERR"
[ "$(snap)" = "$before" ] || fail "detach of a detached device wrote something"
expect_exit 0 hd nodedev-reattach 0000:00:03.0
expect_match '^Device pci_0000_00_03_0 is already attached to the host \(driver e1000\)' "$OUT"
[ "$(snap)" = "$before" ] || fail "reattach of an attached device wrote something"

# reset: the kernel's attribute, or a clear message
expect_exit 0 hd nodedev-reset pci_0000_00_03_0
expect_match '^Device pci_0000_00_03_0 reset' "$OUT"
[ "$(cat "$S/bus/pci/devices/0000:00:03.0/reset")" = 1 ] || fail "reset attribute not written"
expect_exit 0 hd nodedev-reset pci_0000_01_02_0
rm "$S/bus/pci/devices/0000:01:02.0/reset"
expect_exit 1 hd nodedev-reset pci_0000_01_02_0
expect_match 'offers no reset method' "$ERR"

# nothing acts on the fixture's "kernel": the unbind never completes, and detach rolls back
expect_exit 1 hd nodedev-detach pci_0000_00_03_0
expect_match "cannot unbind 0000:00:03.0 from e1000: the driver did not let go of it in time; left on its driver" "$ERR"
[ -z "$(ls "$FX"/state/pci/*.json 2>/dev/null)" ] || fail "a rolled-back detach left a record"
echo ok
