#!/bin/bash
# The bash completion (data/bash-completion/hostdev): sourced in bash, registered for hostdev,
# and its function run with COMP_WORDS/COMP_CWORD for commands, options, --cap values, files,
# QEMU commands after --, domain and device names (from a fake hostdev printing canned JSON,
# from the real `hostdev list --json` on a fixture sysfs tree, and from the real
# `hostdev status --json` while `hostdev run` holds the fixture's dongle). Every case runs twice:
# in a plain bash, and with the bash-completion package loaded (_init_completion path).
set -e
. "$(dirname "$0")/lib.sh"
: "${HOSTDEV_SRCDIR:?HOSTDEV_SRCDIR not set (run through meson test)}"
COMPLETION=$HOSTDEV_SRCDIR/data/bash-completion/hostdev
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
[ -r "$COMPLETION" ] || fail "$COMPLETION missing"
[ -r "$BASH_COMPLETION" ] || fail "bash-completion is not installed ($BASH_COMPLETION)"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# A fake hostdev: canned `list --json` (honouring --cap pci) and `status --json`.
mkdir -p "$TMP/fake"
cat >"$TMP/fake/hostdev" <<'EOF'
#!/bin/bash
case "$1 $2 $3 $4" in
"list --json --cap pci")
        echo '[{"name":"pci_0000_00_03_0","parent":"computer","capability":"pci"},{"name":"pci_0000_00_04_0","parent":"computer","capability":"pci"}]' ;;
"list --json "*)
        printf '[\n  {\n    "name": "computer",\n    "parent": null\n  },\n  {\n    "name": "pci_0000_00_03_0", "parent": "computer", "capability": "pci"\n  },\n'
        printf '  { "name":"usb_1_4_1", "parent":"usb_1_4", "capability":"usb_device", "serial":"DONGLE-A", "owner":"vm-a" },\n'
        printf '  { "name":"usb_1_4_2", "parent":"usb_1_4", "capability":"usb_device", "serial":"DONGLE-B", "owner":null }\n]\n' ;;
"status --json  ")
        echo '[{"device":"usb_1_4_1","domain":"vm-a","state":"attached"},{"device":"usb_1_4_2","domain":"vm-b"},{"device":"pci_0000_00_03_0","domain":"vm-a"}]' ;;
*) echo "fake hostdev: unexpected arguments: $*" >&2; exit 2 ;;
esac
EOF
# A hostdev whose `list --json` fails but whose plain table works (the fallback).
cat >"$TMP/fake/tableonly" <<'EOF'
#!/bin/bash
[ "$2" = --json ] && exit 2
printf '%s\n' 'NAME       CAP         DRIVER  IDS        OWNER  DETAILS' \
        'usb_1_1    usb_device  usb     46f4:0001  vm-a   bus=1 dev=2 port=1 serial=DONGLE-A' \
        'usb_1_2    usb_device  usb     46f4:0001  -      bus=1 dev=3 port=2 serial=DONGLE-B'
EOF
chmod +x "$TMP/fake/tableonly"
# A hostdev that fails at everything and prints garbage.
cat >"$TMP/fake/broken" <<'EOF'
#!/bin/bash
echo 'not json {"name": ' ; echo "hostdev: error: boom" >&2; exit 1
EOF
chmod +x "$TMP/fake/hostdev" "$TMP/fake/broken"

# Files for FILE arguments.
mkdir -p "$TMP/files/sub"
touch "$TMP/files/vm-a.xml" "$TMP/files/vm-b.xml" "$TMP/files/notes.txt"

# A small fixture sysfs tree laid out like the kernel's: a PCI NIC and an xHCI controller
# with a root hub and one dongle in port 4.
make_sysfs() {
        local r=$1 pci=$1/devices/pci0000:00
        mkdir -p "$r/bus/pci/devices" "$r/bus/usb/devices" "$r/bus/pci/drivers/e1000" \
                 "$r/bus/pci/drivers/xhci_hcd" "$r/bus/usb/drivers/usb" "$r/kernel/iommu_groups/3" \
                 "$r/kernel/iommu_groups/4" "$r/class/net"
        local d
        for d in 0000:00:03.0 0000:00:04.0; do
                mkdir -p "$pci/$d"
                ln -s "../../../devices/pci0000:00/$d" "$r/bus/pci/devices/$d"
                ln -s ../../../bus/pci "$pci/$d/subsystem"
                echo -1 >"$pci/$d/numa_node"
                echo 0x1af4 >"$pci/$d/subsystem_vendor"
                echo 0x1100 >"$pci/$d/subsystem_device"
        done
        echo 0x8086 >"$pci/0000:00:03.0/vendor"; echo 0x100e >"$pci/0000:00:03.0/device"
        echo 0x020000 >"$pci/0000:00:03.0/class"
        ln -s ../../../bus/pci/drivers/e1000 "$pci/0000:00:03.0/driver"
        ln -s ../../../kernel/iommu_groups/3 "$pci/0000:00:03.0/iommu_group"
        echo 0x1b36 >"$pci/0000:00:04.0/vendor"; echo 0x000d >"$pci/0000:00:04.0/device"
        echo 0x0c0330 >"$pci/0000:00:04.0/class"
        ln -s ../../../bus/pci/drivers/xhci_hcd "$pci/0000:00:04.0/driver"
        ln -s ../../../kernel/iommu_groups/4 "$pci/0000:00:04.0/iommu_group"
        local hub=$pci/0000:00:04.0/usb1 dev=$pci/0000:00:04.0/usb1/1-4
        mkdir -p "$hub" "$dev"
        ln -s ../../../devices/pci0000:00/0000:00:04.0/usb1 "$r/bus/usb/devices/usb1"
        ln -s ../../../devices/pci0000:00/0000:00:04.0/usb1/1-4 "$r/bus/usb/devices/1-4"
        for d in "$hub" "$dev"; do
                ln -s "$(realpath --relative-to="$d" "$r/bus/usb")" "$d/subsystem"
                ln -s "$(realpath --relative-to="$d" "$r/bus/usb/drivers/usb")" "$d/driver"
                echo 1 >"$d/busnum"; echo 480 >"$d/speed"; echo 09 >"$d/bDeviceClass"
                echo 00 >"$d/bDeviceSubClass"; echo 00 >"$d/bDeviceProtocol"; echo " 2.00" >"$d/version"
        done
        echo 1 >"$hub/devnum"; echo 1d6b >"$hub/idVendor"; echo 0002 >"$hub/idProduct"
        echo "xHCI Host Controller" >"$hub/product"; echo 0000:00:04.0 >"$hub/serial"
        echo 2 >"$dev/devnum"; echo 46f4 >"$dev/idVendor"; echo 0001 >"$dev/idProduct"
        echo 00 >"$dev/bDeviceClass"; echo "QEMU USB HARDDRIVE" >"$dev/product"; echo DONGLE-A >"$dev/serial"
}

# The cases, run in a fresh bash; $1 = plain | bash-completion (MODES= picks, default both).
cat >"$TMP/cases.sh" <<'EOF'
set -u
mode=$1
failures=0
if [ "$mode" = bash-completion ]; then
        . "$BASH_COMPLETION" || { echo "FAIL: sourcing $BASH_COMPLETION"; exit 1; }
        declare -F _init_completion >/dev/null || { echo "FAIL: no _init_completion after loading bash-completion"; exit 1; }
fi
# compopt only works while bash is completing; here the functions are called directly.
compopt() { return 0; }
. "$COMPLETION"
reg=$(complete -p hostdev 2>&1)
[ "$reg" = "complete -F _hostdev hostdev" ] || { echo "FAIL [$mode]: complete -p hostdev: $reg"; exit 1; }

# comp WORD... : complete the last word of the line made of WORDs; sorted reply in $GOT.
# A word "=" is glued to its neighbours in COMP_LINE, as bash splits --opt=value.
comp() {
        COMP_WORDS=("$@")
        COMP_CWORD=$(($# - 1))
        COMP_LINE=$(printf '%s ' "$@"); COMP_LINE=${COMP_LINE% }; COMP_LINE=${COMP_LINE// = /=}
        COMP_POINT=${#COMP_LINE}
        COMPREPLY=()
        local errf; errf=$(mktemp)
        _hostdev "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>"$errf"
        local rc=$?
        if [ $rc -ne 0 ] || [ -s "$errf" ]; then
                echo "FAIL [$mode]: '$*': _hostdev returned $rc, stderr: $(cat "$errf")"; failures=$((failures + 1))
        fi
        rm -f "$errf"
        GOT=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort -u | tr '\n' ' '); GOT=${GOT% }
}
# expect WANT WORD... : the sorted reply must be exactly WANT
expect() {
        local want=$1; shift
        comp "$@"
        if [ "$GOT" != "$want" ]; then
                echo "FAIL [$mode]: '$*' completes to '$GOT', want '$want'"; failures=$((failures + 1))
        fi
}
# expect_has WORD-IN-REPLY WORD... : the reply must contain that word
expect_has() {
        local want=$1; shift
        comp "$@"
        case " $GOT " in *" $want "*) ;; *) echo "FAIL [$mode]: '$*' completes to '$GOT', missing '$want'"; failures=$((failures + 1)) ;; esac
}

H=hostdev
ALL='--help --version attach-device detach-device dumpxml export list nodedev-detach nodedev-reattach nodedev-reset qemu-args release resolve run status unexport validate watch'
expect "$ALL" $H ''
expect 'nodedev-detach nodedev-reattach nodedev-reset' $H nod
expect 'release resolve run' $H r
expect 'list' $H help li
expect '--cap' $H list --c
expect '--cap --help --json --tree' $H list --
expect 'mdev net pci scsi scsi_generic scsi_host scsi_target storage usb usb_device' $H list --cap ''
expect 'scsi scsi_generic scsi_host scsi_target' $H list --cap sc
expect 'usb_device,pci' $H list --cap usb_device,p
expect 'usb usb_device' $H list --cap = us
expect '--json' $H --json list --json --j
expect '--qmp' $H attach-device --q
expect '--config --connect' $H attach-device vm-a x.xml --con
expect '--driver' $H nodedev-detach --d
expect 'pci-stub vfio-pci' $H nodedev-detach --driver ''
expect '-- --help --name --no-watch' $H run --
expect '' $H status ''
expect '' $H dumpxml usb_1_4_1 ''

# each command's options are exactly those its --help describes
for v in ${ALL#--help --version }; do
        want=$("$HOSTDEV_BIN" "$v" --help | sed -n '/^options:/,/^$/p' | grep -oE '^  --[a-z-]+' | sed 's/^ *//' | sort -u | tr '\n' ' ')
        want=$(printf '%s --help' "$want" | tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' '); want=${want% }
        [ "$v" = run ] && want=$(printf '%s --' "$want" | tr ' ' '\n' | sort -u | tr '\n' ' ') && want=${want% }
        expect "$want" $H "$v" --
done

# files: XML files and directories for FILE, nothing for the argument after FILE
cd "$FILES"
expect 'sub vm-a.xml vm-b.xml' $H validate ''
expect 'vm-a.xml' $H resolve --json vm-a
expect 'sub vm-a.xml vm-b.xml' $H attach-device vm-a ''
expect 'sub vm-a.xml vm-b.xml' $H run --name vm-a ''
expect '' $H validate vm-a.xml ''
expect 'notes.txt' $H export notes
expect 'sub' $H attach-device vm-a x.xml --root s
# after --: the QEMU command line
expect_has qemu-system-x86_64 $H run --name vm-a vm-a.xml -- qemu-system-x86_6

# domain and device names from the (fake) hostdev's JSON
F=$FAKE/hostdev
expect 'computer pci_0000_00_03_0 usb_1_4_1 usb_1_4_2' "$F" dumpxml ''
expect 'usb_1_4_1 usb_1_4_2' "$F" dumpxml usb
expect 'pci_0000_00_03_0 pci_0000_00_04_0' "$F" nodedev-detach ''
expect 'pci_0000_00_03_0 pci_0000_00_04_0' "$F" nodedev-reset --force ''
expect 'vm-a vm-b' "$F" release ''
expect 'vm-b' "$F" release vm-b
expect 'vm-a vm-b' "$F" attach-device ''
expect 'vm-a vm-b' "$F" run --name ''
expect 'vm-a vm-b' "$F" watch --domain ''
expect 'vm-a vm-b' "$F" qemu-args vm-a.xml --name ''
expect 'usb_1_1 usb_1_2' "$FAKE/tableonly" dumpxml ''
# a failing hostdev: no names, no noise
expect '' "$FAKE/broken" dumpxml ''
expect '' "$FAKE/broken" release ''
expect '' /nonexistent/hostdev dumpxml ''

# the real hostdev on a fixture sysfs tree: exactly the names `hostdev list --json` prints
real=$(HOSTDEV_SYSFS_ROOT=$SYSFS "$HOSTDEV_BIN" list --json 2>"$ERRF") ||
        { echo "FAIL [$mode]: hostdev list --json on the fixture failed: $(cat "$ERRF")"; exit 1; }
names=$(printf '%s' "$real" | python3 -c 'import json,sys; print(" ".join(sorted({d["name"] for d in json.load(sys.stdin)})))') ||
        { echo "FAIL [$mode]: hostdev list --json is not a JSON array of objects with names: $real"; exit 1; }
for n in pci_0000_00_03_0 pci_0000_00_04_0 usb_1_4; do
        case " $names " in *" $n "*) ;; *) echo "FAIL [$mode]: fixture device $n not listed by hostdev list: $names"; failures=$((failures + 1)) ;; esac
done
export HOSTDEV_SYSFS_ROOT=$SYSFS
# every capability the completion offers is one `hostdev list --cap` accepts
comp "$HOSTDEV_BIN" list --cap ''
for c in $GOT; do
        "$HOSTDEV_BIN" list --cap "$c" --json >/dev/null 2>"$ERRF" ||
                { echo "FAIL [$mode]: completion offers --cap $c, hostdev list refuses it: $(cat "$ERRF")"; failures=$((failures + 1)); }
done
"$HOSTDEV_BIN" list --cap no_such_cap >/dev/null 2>&1 && { echo "FAIL [$mode]: hostdev list accepts any --cap"; failures=$((failures + 1)); }
expect "$names" "$HOSTDEV_BIN" dumpxml ''
expect 'usb_1_4' "$HOSTDEV_BIN" dumpxml usb_1_
expect 'pci_0000_00_03_0 pci_0000_00_04_0' "$HOSTDEV_BIN" nodedev-reattach ''
unset HOSTDEV_SYSFS_ROOT
# domain names from the real `hostdev status --json` (vm-comp holds a dongle, see above)
expect 'vm-comp' "$HOSTDEV_BIN" release ''
expect 'vm-comp' "$HOSTDEV_BIN" attach-device v
expect 'vm-comp' "$HOSTDEV_BIN" watch --domain ''

[ "$failures" -eq 0 ] || { echo "$failures failures [$mode]"; exit 1; }
echo "ok [$mode]"
EOF

make_sysfs "$TMP/sys"
mkdir -p "$TMP/dev/bus/usb/001"
touch "$TMP/dev/bus/usb/001/001" "$TMP/dev/bus/usb/001/002"

# A real claim, so that domain names come from the real `hostdev status --json`: `hostdev run`
# holds the fixture's dongle for vm-comp while a stand-in "QEMU" (a sleeping bash) runs.
export HOSTDEV_STATE_DIR=$TMP/state
cat >"$TMP/claim.xml" <<'XML'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-A</serial></source>
</hostdev>
XML
HOSTDEV_SYSFS_ROOT=$TMP/sys HOSTDEV_DEV_ROOT=$TMP/dev "$HOSTDEV_BIN" run --no-watch --name vm-comp \
        "$TMP/claim.xml" -- bash -c 'sleep 120' _ >"$TMP/run.log" 2>&1 &
RUN_PID=$!
trap 'kill -TERM $RUN_PID 2>/dev/null; wait $RUN_PID 2>/dev/null || true; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do
        "$HOSTDEV_BIN" status --json 2>/dev/null | grep -q '"vm-comp"' && break
        kill -0 $RUN_PID 2>/dev/null || fail "hostdev run exited before claiming the fixture dongle: $(cat "$TMP/run.log")"
        sleep 0.1
done
"$HOSTDEV_BIN" status --json | grep -q '"vm-comp"' || fail "hostdev run did not claim the fixture dongle in 10 s: $(cat "$TMP/run.log")"

for mode in ${MODES:-plain bash-completion}; do
        COMPLETION=$COMPLETION BASH_COMPLETION=$BASH_COMPLETION FAKE=$TMP/fake FILES=$TMP/files \
                SYSFS=$TMP/sys ERRF=$TMP/list.err HOSTDEV_BIN=$HOSTDEV_BIN \
                bash --norc --noprofile "$TMP/cases.sh" "$mode" || fail "completion cases failed ($mode)"
done
echo ok
