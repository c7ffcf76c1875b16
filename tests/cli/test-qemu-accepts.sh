#!/bin/bash
# Real QEMU accepts every argument set `hostdev qemu-args` generates (the golden cases of
# tests/data/qemu-args, resolved against the fixture sysfs tests/data/sys/mini).
#
# Two independent checks:
#  1. run: QEMU (q35, TCG, -S, no host devices) is started with each -device / -blockdev; the
#     ONLY failure allowed is the absent host device (QEMU opens host devices at realize time,
#     after every property was parsed and set). Host paths point into a directory that does not
#     exist (HOSTDEV_DEV_ROOT) and PCI host addresses are moved to domain 0x00ff, which this
#     machine does not have: QEMU is never pointed at a real host device.
#  2. introspection: over QMP, device-list-properties DRIVER for every driver used; every
#     property we emit must exist with a compatible type.
# Negative controls prove both checks can fail.
set -e
. "$(dirname "$0")/lib.sh"

QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || fail "$QEMU not found: it is a prerequisite of this test"
command -v python3 >/dev/null || fail "python3 not found: it is a prerequisite of this test"
D=$HOSTDEV_TEST_DATA/qemu-args
export HOSTDEV_SYSFS_ROOT=$HOSTDEV_TEST_DATA/sys/mini
NODEV=/nonexistent-hostdev-test-dev
export HOSTDEV_DEV_ROOT=$NODEV
[ ! -e "$NODEV" ] || fail "$NODEV exists"
W=$(mktemp -d)
QPID=
cleanup() {
        [ -z "$QPID" ] || kill "$QPID" 2>/dev/null || true
        rm -rf "$W"
}
trap cleanup EXIT

# The guest side every golden case may refer to: USB buses usb.0 (with a hub on port 1, for
# guest port "1.2") and usb1.0, SCSI bus scsi0.0, PCI bus pci.1.
BASE=("$QEMU" -M q35 -accel tcg -nodefaults -display none -S -m 64
      -device qemu-xhci,id=usb,addr=0x1a -device usb-hub,bus=usb.0,port=1
      -device qemu-xhci,id=usb1,addr=0x1b -device virtio-scsi-pci,id=scsi0,addr=0x1c
      -device pcie-root-port,id=pci.1,bus=pcie.0,addr=0x1e,chassis=1)

# run_one EXPECTED-REGEX ARGS...: QEMU must fail, and only with EXPECTED.
run_one() {
        local want=$1 out rc; shift
        set +e
        out=$(timeout 30 "${BASE[@]}" "$@" 2>&1 </dev/null)
        rc=$?
        set -e
        [ "$rc" != 0 ] || fail "QEMU started with $* although no such host device exists"
        [ "$rc" != 124 ] || fail "QEMU hung with $*"
        printf '%s' "$out" | grep -qE -- "$want" ||
                fail "QEMU refused the arguments themselves: $out"
        # exactly one error line, the expected one
        [ "$(printf '%s\n' "$out" | grep -c 'qemu-system')" = 1 ] || fail "unexpected QEMU output: $out"
}

absent_regex() { # the error QEMU gives for the absent host device of a -device/-blockdev JSON
        case $1 in
        *'"driver":"usb-host"'*) echo "failed to open $NODEV/bus/usb/[0-9]{3}/[0-9]{3}: No such file" ;;
        *'"driver":"vfio-pci'*) echo "vfio .*: no such host device" ;;
        *'"driver":"host_device"'*) echo "Could not open '$NODEV/sg[0-9]+': No such file" ;;
        *'"driver":"scsi-generic"'*) echo "SG_IO|not an SG device|SG_GET_VERSION_NUM|scsi generic interface" ;;
        *'"driver":"vhost-scsi-pci'*) echo "vhost-scsi: open vhost char device failed" ;;
        *) fail "no expected error known for $1" ;;
        esac
}

ncase=0
ndev=0
for xml in "$D"/*.xml; do
        base=$(basename "$xml" .xml)
        [ -f "$D/$base.err" ] && continue
        expect_exit 0 hd qemu-args "$xml"
        ncase=$((ncase + 1))
        # the args as generated, then made safe: PCI host addresses to domain 00ff
        mapfile -t args < <(printf '%s\n' "$OUT" | sed 's/"host":"0000:/"host":"00ff:/')
        [ "${#args[@]}" -gt 0 ] || fail "$base: no arguments"
        printf '%s\n' "$OUT" >"$W/$base.args"
        i=0
        while [ $i -lt ${#args[@]} ]; do
                opt=${args[$i]} val=${args[$((i + 1))]}
                case $opt in
                -blockdev)
                        # the backend itself: only the absent /dev/sgN may fail
                        run_one "$(absent_regex "$val")" -blockdev "$val"
                        # the device on top of it, with a null backend of the same node name
                        node=$(printf '%s' "$val" | sed -E 's/.*"node-name":"([^"]+)".*/\1/')
                        dev=${args[$((i + 3))]}
                        [ "${args[$((i + 2))]}" = -device ] || fail "$base: -blockdev not followed by -device"
                        run_one "$(absent_regex "$dev")" \
                                -blockdev "{\"driver\":\"null-co\",\"node-name\":\"$node\"}" -device "$dev"
                        ndev=$((ndev + 1))
                        i=$((i + 4))
                        ;;
                -device)
                        run_one "$(absent_regex "$val")" -device "$val"
                        ndev=$((ndev + 1))
                        i=$((i + 2))
                        ;;
                *) fail "$base: unexpected argument $opt" ;;
                esac
        done
done
[ $ncase -ge 14 ] || fail "only $ncase golden cases ran"
echo "run check: $ncase cases, $ndev devices accepted by $("$QEMU" --version | head -1)"

# Negative controls for the run check: a misspelt property and a wrongly typed one are refused
# for what they are, so the check above would have caught them.
set +e
out=$(timeout 30 "${BASE[@]}" -device "{\"driver\":\"usb-host\",\"hostdevice\":\"$NODEV/bus/usb/001/002\",\"guest-rset\":false}" 2>&1)
set -e
expect_match "Property 'usb-host.guest-rset' not found" "$out" "misspelt property"
expect_nomatch "failed to open" "$out" "misspelt property"
set +e
out=$(timeout 30 "${BASE[@]}" -device '{"driver":"vfio-pci","host":"00ff:00:02.0","rombar":"off"}' 2>&1)
set -e
expect_nomatch "no such host device" "$out" "wrongly typed rombar"

# ---- introspection over QMP ------------------------------------------------------------
SOCK=$W/qmp.sock
"$QEMU" -M q35 -accel tcg -nodefaults -display none -S -m 64 -qmp "unix:$SOCK,server=on,wait=off" \
        </dev/null >"$W/qemu.log" 2>&1 &
QPID=$!
python3 - "$SOCK" "$W" <<'EOF' || fail "introspection check failed"
import glob, json, os, socket, sys, time

sock_path, work = sys.argv[1], sys.argv[2]
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock_path)
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("cannot connect to QEMU's QMP socket")
f = s.makefile("rw")

def cmd(name, **args):
    f.write(json.dumps({"execute": name, "arguments": args}) + "\n")
    f.flush()
    while True:
        m = json.loads(f.readline())
        if "return" in m:
            return m["return"]
        if "error" in m:
            raise RuntimeError(m["error"]["desc"])

json.loads(f.readline())  # greeting
cmd("qmp_capabilities")

# How QEMU types a property -> which JSON types it takes. Integer types take numbers; "addr"
# (PCI devfn) also takes a "slot.fn" string, as libvirt sends it.
def compatible(qtype, value, name):
    if isinstance(value, bool):
        return qtype == "bool"
    if isinstance(value, int):
        return qtype.startswith(("int", "uint"))
    if isinstance(value, str):
        if name == "addr":
            return qtype == "int32"
        return qtype in ("str", "OnOffAuto", "OffAutoPCIBAR") or qtype.startswith("link<")
    return False

props_cache = {}
def props(driver):
    if driver not in props_cache:
        props_cache[driver] = {p["name"]: p["type"] for p in cmd("device-list-properties", typename=driver)}
    return props_cache[driver]

def check(dev, where):
    drv = dev["driver"]
    p = props(drv)
    for k, v in dev.items():
        if k in ("driver", "id", "bus"):
            continue  # generic -device options, not properties of the type
        if k not in p:
            return "%s: %s has no property %r" % (where, drv, k)
        if not compatible(p[k], v, k):
            return "%s: %s.%s is %s, we send %r" % (where, drv, k, p[k], v)
    return None

n = 0
for path in sorted(glob.glob(os.path.join(work, "*.args"))):
    lines = open(path).read().split("\n")
    for i, a in enumerate(lines):
        if a == "-device":
            err = check(json.loads(lines[i + 1]), os.path.basename(path))
            if err:
                sys.exit(err)
            n += 1
if n < 14:
    sys.exit("only %d devices checked" % n)

# negative controls: the check does catch a wrong name and a wrong type
assert check({"driver": "usb-host", "guest-rset": False}, "control") is not None
assert check({"driver": "vfio-pci", "rombar": True}, "control") is not None
assert check({"driver": "usb-host", "guest-reset": False, "guest-resets-all": True, "bootindex": 1,
              "hostdevice": "/x", "port": "1"}, "control") is None
cmd("quit")
print("introspection check: %d devices, every property known to QEMU with a compatible type" % n)
EOF
wait "$QPID" || true
QPID=
echo ok
