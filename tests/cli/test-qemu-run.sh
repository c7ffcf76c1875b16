#!/bin/bash
# hostdev run: all-or-nothing claims, the command line QEMU gets, signal forwarding, QEMU's exit
# status, release at exit, cleanup after hostdev itself is killed — with a stand-in "QEMU"
# (a shell that records its arguments) holding fixture dongles, and with a real QEMU (no host
# devices: an optional dongle that is absent) reached over the private QMP socket.
set -e
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 not found: it is a prerequisite of this test"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 not found: a prerequisite of this test"

W=$(mktemp -d)
RPID=
cleanup() {
        [ -z "$RPID" ] || kill -9 "$RPID" 2>/dev/null || true
        rm -rf "$W"
}
trap cleanup EXIT
[ -z "${KEEP:-}" ] || trap - EXIT
export HOSTDEV_SYSFS_ROOT=$HOSTDEV_TEST_DATA/sys/mini
export HOSTDEV_DEV_ROOT=/nonexistent-hostdev-dev
export HOSTDEV_STATE_DIR=$W/state

cat >"$W/vm-r.xml" <<'EOF'
<domain type='kvm'>
  <name>vm-r</name>
  <devices>
    <hostdev mode='subsystem' type='usb'>
      <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-A</serial></source>
    </hostdev>
    <hostdev mode='subsystem' type='usb'>
      <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-C</serial></source>
    </hostdev>
    <hostdev mode='subsystem' type='usb'>
      <source startupPolicy='optional'><vendor id='0x46f4'/><product id='0x0001'/><serial>ABSENT</serial></source>
      <address type='usb' bus='0' port='4'/>
      <boot order='3'/>
    </hostdev>
  </devices>
</domain>
EOF
cat >"$W/dongle-a.xml" <<'EOF'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-A</serial></source>
</hostdev>
EOF
cat >"$W/absent.xml" <<'EOF'
<hostdev mode='subsystem' type='usb'>
  <source startupPolicy='optional'><vendor id='0x46f4'/><product id='0x0001'/><serial>ABSENT</serial></source>
</hostdev>
EOF
# the stand-in QEMU: records its arguments, then waits (or exits with $FAKE_EXIT). Its traps
# come first: the test signals hostdev as soon as the arguments file is there, and a SIGTERM
# arriving before the trap would end it without a word.
cat >"$W/fake-qemu" <<EOF
#!/bin/bash
trap 'echo got-TERM >"$W/signal"; exit 143' TERM
trap 'echo got-HUP >"$W/signal"; exit 129' HUP
printf '%s\n' "\$@" >"$W/args.\$\$"
mv "$W/args.\$\$" "$W/args"
[ -z "\${FAKE_EXIT:-}" ] || exit "\$FAKE_EXIT"
sleep 60 & wait
EOF
chmod +x "$W/fake-qemu"

wait_for() { # FILE
        for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.05; done
        fail "$1 did not appear"
}
claims_json() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps(r))' "$HOSTDEV_STATE_DIR/registry.json"; }

# 1. run: both dongles claimed and on the command line, the private QMP sockets appended
"$HOSTDEV_BIN" run "$W/vm-r.xml" -- "$W/fake-qemu" -M q35 >"$W/run.out" 2>"$W/run.err" &
RPID=$!
wait_for "$W/args"
ARGS=$(cat "$W/args")
expect_match '^-M$' "$ARGS" "the user's arguments come first"
expect_match '^\{"driver":"usb-host","hostdevice":"/nonexistent-hostdev-dev/bus/usb/001/002","id":"hostdev0"\}$' "$ARGS" "DONGLE-A"
expect_match '^\{"driver":"usb-host","hostdevice":"/nonexistent-hostdev-dev/bus/usb/001/005","id":"hostdev1"\}$' "$ARGS" "DONGLE-C"
expect_nomatch 'hostdev2' "$ARGS" "the absent optional dongle"
expect_match "^unix:$HOSTDEV_STATE_DIR/vm-r.qmp,server=on,wait=off\$" "$ARGS" "private QMP socket"
[ "$(printf '%s\n' "$ARGS" | grep -c '^-device$')" = 2 ] || fail "two -device expected: $ARGS"
for _ in $(seq 100); do claims_json | grep -q '"attached"' && break; sleep 0.05; done
REG=$(claims_json)
expect_match '"name": "vm-r", "pid": '"$RPID" "$REG" "domain record names hostdev run's pid"
[ "$(printf '%s' "$REG" | grep -o '"state": "attached"' | wc -l)" = 2 ] || fail "two attached claims expected: $REG"
# the absent startupPolicy='optional' dongle is claimed for later: "unplugged", with the QEMU id
# the watch loop will give it when it appears
python3 - "$HOSTDEV_STATE_DIR/registry.json" <<'PY' || fail "the absent optional dongle is not claimed for later: $REG"
import json, sys
r = json.load(open(sys.argv[1]))
c = [c for c in r["claims"] if c["key"] == "usb:46f4:0001:serial:ABSENT"]
assert len(c) == 1, c
c = c[0]
assert c["domain"] == "vm-r" and c["state"] == "unplugged" and c["qemu_id"] == "hostdev2", c
# where the guest gets it when it appears: the guest address and boot order of the XML
assert json.loads(c["qemu_props"]) == {"bootindex": 3, "bus": "usb.0", "port": "4"}, c
PY
expect_match "ABSENT is not there now .startupPolicy='optional'.: claimed, attached as hostdev2 when it appears" \
        "$(cat "$W/run.err")" "run says the optional dongle waits"

# 2. another VM wanting DONGLE-A: refused naming vm-r, its command never runs
expect_exit 1 hd run --name vm-s "$W/dongle-a.xml" -- /bin/sh -c "touch $W/vm-s-ran"
expect_match "in use by domain vm-r" "$ERR"
[ ! -e "$W/vm-s-ran" ] || fail "vm-s's command ran although its dongle is taken"

# 2b. all or nothing: a free dongle listed before the taken one is not kept either
cat >"$W/b-then-a.xml" <<'X'
<devices>
  <hostdev mode='subsystem' type='usb'>
    <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-B</serial></source>
  </hostdev>
  <hostdev mode='subsystem' type='usb'>
    <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-A</serial></source>
  </hostdev>
</devices>
X
expect_exit 1 hd run --name vm-s "$W/b-then-a.xml" -- /bin/sh -c "touch $W/vm-s-ran"
expect_match "in use by domain vm-r" "$ERR"
[ ! -e "$W/vm-s-ran" ] || fail "vm-s's command ran although one of its dongles is taken"
REG=$(claims_json)
expect_nomatch 'DONGLE-B' "$REG" "DONGLE-B left claimed by a failed run"
expect_nomatch '"vm-s"' "$REG" "a record of the failed run"

# 3. SIGTERM to hostdev is forwarded; QEMU's status is hostdev's; everything is released
kill -TERM "$RPID"
set +e; wait "$RPID"; RC=$?; set -e
RPID=
[ "$RC" = 143 ] || fail "hostdev run exited $RC, want 143 (QEMU's status); stderr: $(cat "$W/run.err")"
expect_match got-TERM "$(cat "$W/signal")" "forwarded SIGTERM"
REG=$(claims_json)
expect_match '"claims": \[\]' "$REG" "claims released at exit"
expect_match '"domains": \[\]' "$REG" "domain record dropped at exit"
[ ! -e "$HOSTDEV_STATE_DIR/vm-r.qmp" ] || fail "QMP socket left behind"

# 4. QEMU's exit status passes through; a failing start releases everything
rm -f "$W/args"
FAKE_EXIT=3 expect_exit 3 hd run "$W/vm-r.xml" -- "$W/fake-qemu"
expect_match '"claims": \[\]' "$(claims_json)" "claims released after exit 3"
expect_exit 1 hd run "$W/vm-r.xml" -- "$W/no-such-qemu"
expect_match "cannot run" "$ERR"
expect_match '"claims": \[\]' "$(claims_json)" "claims released after exec failure"

# 5. hostdev itself killed: QEMU goes too (parent-death signal), and the claims of the dead
#    domain do not block the next user
rm -f "$W/args" "$W/signal"
"$HOSTDEV_BIN" run "$W/vm-r.xml" -- "$W/fake-qemu" >"$W/run.out" 2>"$W/run.err" &
RPID=$!
wait_for "$W/args"
kill -9 "$RPID"
wait "$RPID" 2>/dev/null || true
RPID=
wait_for "$W/signal"
expect_match got-TERM "$(cat "$W/signal")" "QEMU told to go when hostdev died"
rm -f "$W/args"
"$HOSTDEV_BIN" run --name vm-s "$W/dongle-a.xml" -- "$W/fake-qemu" >"$W/run2.out" 2>"$W/run2.err" &
RPID=$!
wait_for "$W/args"
expect_match '/bus/usb/001/002' "$(cat "$W/args")" "vm-s got DONGLE-A after vm-r's hostdev died"
kill -HUP "$RPID"
set +e; wait "$RPID"; RC=$?; set -e
RPID=
[ "$RC" = 129 ] || fail "SIGHUP: hostdev run exited $RC, want 129"

# 6. a real QEMU: the private QMP socket answers while it runs; SIGINT ends it cleanly
"$HOSTDEV_BIN" run --name vm-q "$W/absent.xml" -- qemu-system-x86_64 -M q35 -accel tcg -nodefaults \
        -display none -m 64 >"$W/q.out" 2>"$W/q.err" &
RPID=$!
wait_for "$HOSTDEV_STATE_DIR/vm-q.qmp"
python3 - "$HOSTDEV_STATE_DIR/vm-q.qmp" <<'EOF' || fail "QMP on the private socket"
import json, socket, sys, time
for _ in range(100):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); break
    except OSError:
        time.sleep(0.05)
f = s.makefile("rw")
assert "QMP" in json.loads(f.readline())
for cmd in ("qmp_capabilities", "query-status"):
    f.write(json.dumps({"execute": cmd}) + "\n"); f.flush()
    while True:
        m = json.loads(f.readline())
        if "return" in m:
            break
assert m["return"]["status"] == "running", m
EOF
kill -INT "$RPID"
set +e; wait "$RPID"; RC=$?; set -e
RPID=
[ "$RC" = 0 ] || fail "real QEMU run exited $RC: $(cat "$W/q.err")"
expect_match '"domains": \[\]' "$(claims_json)" "vm-q record dropped"

# 7. usage
expect_exit 2 hd run "$W/vm-r.xml"
expect_exit 2 hd run "$W/vm-r.xml" --
expect_exit 2 hd run -- qemu-system-x86_64
echo ok
