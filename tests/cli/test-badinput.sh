#!/bin/bash
# Bad input is refused: billion laughs and external entities, a 100 MB file (on disk and on
# stdin), deep nesting, numbers out of range, sysfs attributes holding garbage (binary, huge,
# escape sequences, out-of-range numbers, links that lead out), and QMP peers that send garbage,
# close at once or say nothing. Each case: a clear one-line error (or, for the sysfs tree, clear
# warnings and output that is still valid JSON/XML), bounded memory (ulimit -v) and time
# (timeout), and no state change (the state directory's files are byte for byte the same).
# The big inputs are generated here into a temporary directory.
set -e
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 not found: it is a prerequisite of this test"
command -v xmllint >/dev/null || fail "xmllint not found: it is a prerequisite of this test"

W=$(mktemp -d)
PEER=
cleanup() {
        [ -z "$PEER" ] || kill "$PEER" 2>/dev/null || true
        rm -rf "$W"
}
trap cleanup EXIT
export HOSTDEV_SYSFS_ROOT=$HOSTDEV_TEST_DATA/sys/mini
export HOSTDEV_DEV_ROOT=/nonexistent-hostdev-dev
export HOSTDEV_STATE_DIR=$W/state
MEM_KB=400000 # address space; hostdev needs ~60 MB
TIME_S=30

# bounded CMD...: run hostdev with its arguments under the memory and time bounds. An
# AddressSanitizer build reserves terabytes of address space, so there the bound is ASan's own
# RSS limit (it aborts the process above it) instead of ulimit -v.
if grep -q __asan_init "$HOSTDEV_BIN"; then
        export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}hard_rss_limit_mb=$((MEM_KB / 1024 + 200))"
        bounded() { timeout -s KILL $TIME_S "$HOSTDEV_BIN" "$@"; }
else
        bounded() { (ulimit -v $MEM_KB; exec timeout -s KILL $TIME_S "$HOSTDEV_BIN" "$@"); }
fi

# A state directory with a claim in it (vm-keep holds DONGLE-A, live: the test's own shell).
mkdir -m 0700 "$HOSTDEV_STATE_DIR"
python3 - "$HOSTDEV_STATE_DIR/registry.json" $$ <<'EOF'
import json, sys
start = open("/proc/%s/stat" % sys.argv[2]).read().rsplit(")", 1)[1].split()[19]
json.dump({"version": 1, "next_journal_id": 1, "journal": [],
           "domains": [{"name": "vm-keep", "pid": int(sys.argv[2]), "starttime": int(start)}],
           "claims": []}, open(sys.argv[1], "w"))
EOF
cat >"$W/dongle-a.xml" <<'EOF'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-A</serial></source>
</hostdev>
EOF
expect_exit 0 hd status --json
state_sum() { (cd "$HOSTDEV_STATE_DIR" && find . -type f -print0 | sort -z | xargs -0 sha256sum &&
               find . -printf '%p %m %u %s %T@\n' | sort) ; }
BEFORE=$(state_sum)
unchanged() { [ "$(state_sum)" = "$BEFORE" ] || fail "state directory changed after $1: $(state_sum)"; }

# refused FILE PATTERN: validate, resolve and qemu-args all exit 2 with one error line
refused() {
        local f=$1 pat=$2 verb
        for verb in validate resolve qemu-args; do
                expect_exit 2 bounded $verb "$f"
                [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "$verb $f: not one error line: $ERR"
                expect_match "^hostdev: error: .*$pat" "$ERR" "$verb $(basename "$f")"
                [ -z "$OUT" ] || fail "$verb $f printed output: ${OUT:0:200}"
        done
        unchanged "$f"
}

# 1. billion laughs: refused before any expansion
{
        echo '<?xml version="1.0"?>'
        echo '<!DOCTYPE lolz ['
        echo ' <!ENTITY lol "lol">'
        prev=lol
        for i in 1 2 3 4 5 6 7 8 9; do
                printf ' <!ENTITY lol%d "' $i
                for _ in 1 2 3 4 5 6 7 8 9 10; do printf '&%s;' $prev; done
                echo '">'
                prev=lol$i
        done
        echo ']>'
        echo "<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/><serial>&lol9;</serial></source></hostdev>"
} >"$W/laughs.xml"
refused "$W/laughs.xml" "laughs.xml:2: DOCTYPE"

# 2. external entities: a local file and a network DTD; nothing is read or fetched
cat >"$W/xxe-file.xml" <<'EOF'
<?xml version="1.0"?>
<!DOCTYPE hostdev [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/><serial>&xxe;</serial></source></hostdev>
EOF
refused "$W/xxe-file.xml" "xxe-file.xml:2: DOCTYPE"
cat >"$W/xxe-net.xml" <<'EOF'
<?xml version="1.0"?>
<!DOCTYPE hostdev SYSTEM "http://127.0.0.1:9/evil.dtd">
<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/></source></hostdev>
EOF
refused "$W/xxe-net.xml" "xxe-net.xml:2: DOCTYPE"
# an entity reference without any DOCTYPE is an error, not an empty string
printf "<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/><serial>&xxe;</serial></source></hostdev>\n" >"$W/undef-entity.xml"
refused "$W/undef-entity.xml" "undef-entity.xml:1: "
# XInclude is not processed
cat >"$W/xinclude.xml" <<'EOF'
<devices xmlns:xi="http://www.w3.org/2001/XInclude">
<xi:include href="/etc/passwd" parse="text"/>
<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/></source></hostdev>
</devices>
EOF
set +e; bounded validate "$W/xinclude.xml" >"$W/out" 2>"$W/err"; rc=$?; set -e
[ $rc = 0 ] || [ $rc = 2 ] || fail "validate xinclude.xml exited $rc: $(cat "$W/err")"
if grep -q "root:" "$W/out" "$W/err"; then fail "XInclude was processed: /etc/passwd in the output"; fi
unchanged xinclude.xml

# 3. 100 MB: many elements, one huge text node, and the same on stdin
python3 - "$W" <<'EOF'
import sys
d = sys.argv[1]
line = ("<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/>"
        "<product id='0x0001'/><serial>X</serial></source></hostdev>\n")
with open(d + "/big-many.xml", "w") as f:
    f.write("<devices>\n")
    for _ in range(100 * 1024 * 1024 // len(line) + 1):
        f.write(line)
    f.write("</devices>\n")
with open(d + "/big-text.xml", "w") as f:
    f.write("<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/><serial>")
    chunk = "A" * (1024 * 1024)
    for _ in range(100):
        f.write(chunk)
    f.write("</serial></source></hostdev>\n")
EOF
[ "$(stat -c %s "$W/big-many.xml")" -ge $((100 * 1024 * 1024)) ] || fail "big-many.xml is not 100 MB"
refused "$W/big-many.xml" "big-many.xml: input larger than"
refused "$W/big-text.xml" "big-text.xml: input larger than"
expect_exit 2 bounded validate - <"$W/big-many.xml"
expect_match "^hostdev: error: <stdin>: input larger than" "$ERR" "validate - of 100 MB"
rm -f "$W/big-many.xml" "$W/big-text.xml"
unchanged "100 MB on stdin"

# 4. deep nesting: inside <source>, and at the top
python3 - "$W" <<'EOF'
import sys
d = sys.argv[1]
with open(d + "/deep.xml", "w") as f:
    f.write("<hostdev mode='subsystem' type='usb'><source><vendor id='0x46f4'/><product id='0x0001'/>"
            + "<a>" * 100000 + "</a>" * 100000 + "</source></hostdev>\n")
with open(d + "/deep-top.xml", "w") as f:
    f.write("<devices>" * 200000 + "</devices>" * 200000 + "\n")
EOF
refused "$W/deep.xml" "deep.xml:1: .*nested"
refused "$W/deep-top.xml" "deep-top.xml:1: "

# 5. numbers out of range (and not numbers)
n=0
while IFS='|' read -r src pat; do
        n=$((n + 1))
        printf "<hostdev mode='subsystem' type='%s'><source>%s</source></hostdev>\n" \
                "$(case $src in *domain=*) echo pci ;; *) echo usb ;; esac)" "$src" >"$W/num$n.xml"
        refused "$W/num$n.xml" "num$n.xml:1: .*$pat"
done <<'EOF'
<vendor id='0x10000'/><product id='0x1'/>|out of range
<vendor id='99999999999999999999999999'/><product id='1'/>|out of range
<vendor id='-1'/><product id='1'/>|not a number
<vendor id='0x'/><product id='1'/>|not a
<vendor id='0204'/><product id='1'/>|0x0204
<vendor id=' 1'/><product id='1'/>|
<address bus='1' device='128'/>|out of range
<address bus='1' device='0'/>|out of range
<address bus='18446744073709551617' device='1'/>|out of range
<address bus='1' port='1.2.3.4.5.6.7.8.9'/>|port
<address bus='1' port='1..2'/>|port
<address bus='1' port='1.256'/>|port
<address domain='0x10000' bus='0' slot='0' function='0'/>|out of range
<address domain='0' bus='0x100' slot='0' function='0'/>|out of range
<address domain='0' bus='0' slot='0x20' function='0'/>|out of range
<address domain='0' bus='0' slot='0' function='8'/>|out of range
<address domain='0' bus='0' slot='0' function='0x'/>|not a
EOF

# 6. sysfs attributes with garbage, in a copy of the fixture
cp -a "$HOSTDEV_TEST_DATA/sys/mini" "$W/sys"
U=$W/sys/devices/pci0000:00/0000:00:04.0/usb1
P=$W/sys/devices/pci0000:00/0000:00:06.0
[ -d "$U/1-1" ] && [ -d "$U/1-2" ] && [ -d "$P" ] || fail "fixture layout changed: $U $P"
printf 'EVIL\033[31mRED\033]0;title\007\n' >"$U/1-2/serial"   # escape sequences
printf 'BAD\xff\xfe\xc0\xafUTF\n' >"$U/1-1/product"               # invalid UTF-8
head -c 200000 /dev/zero | tr '\0' 'S' >"$U/1-3/serial"            # 200 KB
echo zz >"$U/1-3/busnum"
echo 99999999999999999999 >"$U/1-3/devnum"
printf '\xff\xfe\x00\x01' >"$U/1-3/idVendor"
echo 0x1ffffffff >"$P/class"
printf 'PCI_ID=ZZZZ:1\nPCI_CLASS=\n' >"$P/uevent"
echo banana >"$P/numa_node"
echo 0xgg >"$P/vendor"
ln -sfn /etc "$P/iommu_group"                                      # a link out of the tree
(
        export HOSTDEV_SYSFS_ROOT=$W/sys
        expect_exit 0 bounded list --json
        printf '%s' "$OUT" | python3 -c 'import json, sys; json.loads(sys.stdin.buffer.read().decode("utf-8", "strict"))' ||
                fail "list --json on garbage sysfs is not valid UTF-8 JSON"
        for pat in "1-3/busnum: invalid number 'zz'" "1-3/devnum: invalid number" "1-3/serial: cannot read: File too large" \
                "1-3/idVendor: invalid hex id" "0000:00:06.0/class: invalid number" "0000:00:06.0/numa_node: invalid number 'banana'" \
                "0000:00:06.0/vendor: invalid hex id '0xgg'" "0000:00:06.0/iommu_group"; do
                expect_match "^hostdev: warning: devices/.*$pat" "$ERR" "warnings of list on garbage"
        done
        expect_nomatch $'\033|\007' "$ERR" "warnings (no control characters)"
        expect_exit 0 bounded list
        expect_nomatch $'\033|\007' "$OUT" "list table (no control characters)"
        expect_match "usb_1_2 .*serial=EVIL_\[31mRED_\]0;title_" "$OUT" "list table: the evil serial, defused"
        for d in usb_1_1 usb_1_2 pci_0000_00_06_0; do
                expect_exit 0 bounded dumpxml $d
                printf '%s\n' "$OUT" | xmllint --noout - 2>"$W/xmlerr" || fail "dumpxml $d is not XML: $(cat "$W/xmlerr")"
        done
        # the dongles with sane attributes are still found
        expect_exit 0 bounded resolve "$W/dongle-a.xml" --json
        expect_match '"status": ?"ok"' "$OUT" "resolve on garbage sysfs"
)
unchanged "garbage sysfs"

# 7. QMP peers that misbehave: attach-device fails with a clear error and changes nothing
cat >"$W/peer.py" <<'EOF'
import os, socket, sys, time
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(4)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    if mode == "garbage":
        c.sendall(b"\x00\xff{{{ not json at all ]]]\r\n" + os.urandom(4096) + b"\r\n")
        time.sleep(0.2)
    elif mode == "bad-greeting":
        c.sendall(b'{"QMP": 42}\r\n')
        time.sleep(0.2)
    elif mode == "huge-line":
        try:
            c.sendall(b'{"QMP": {"version": "' + b"x" * (64 * 1024 * 1024))
        except OSError:
            pass
    elif mode == "close":
        pass
    elif mode == "silent":
        time.sleep(60)
    c.close()
EOF
peer() { # MODE: start a misbehaving peer on $W/qmp-MODE
        rm -f "$W/qmp-$1"
        python3 "$W/peer.py" "$W/qmp-$1" "$1" >"$W/peer.out" 2>"$W/peer.err" &
        PEER=$!
        for _ in $(seq 200); do grep -q ready "$W/peer.out" 2>/dev/null && return 0; sleep 0.05; done
        fail "peer $1 did not start: $(cat "$W/peer.err")"
}
for mode in garbage bad-greeting huge-line close silent; do
        peer $mode
        start=$(date +%s)
        expect_exit 1 bounded attach-device vm-bad "$W/dongle-a.xml" --qmp "$W/qmp-$mode"
        [ "$(printf '%s\n' "$ERR" | grep -c '^hostdev: error: ')" -ge 1 ] || fail "attach via $mode peer: no error line: $ERR"
        expect_match "QMP|qmp|monitor" "$ERR" "attach via $mode peer"
        expect_nomatch $'\033|\007' "$ERR" "attach via $mode peer"
        [ $(($(date +%s) - start)) -lt $TIME_S ] || fail "attach via $mode peer took too long"
        kill "$PEER" 2>/dev/null || true
        wait "$PEER" 2>/dev/null || true
        PEER=
        unchanged "attach-device via a $mode QMP peer"
done
expect_exit 0 hd status --json
expect_nomatch "vm-bad" "$OUT" "status after the bad peers"
echo "bad input refused; state unchanged"
