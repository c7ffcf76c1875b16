#!/bin/bash
# The control surface is root-only: the state directory hostdev creates is 0700 and every file
# and socket in it 0600 (or stricter); a non-root user (nobody, through setpriv) running any verb
# that reads or changes claims gets a clear permission error, exit 1, and changes nothing; the
# unprivileged inventory verbs (list, dumpxml, validate) still work. Needs root (to create the
# root-owned state and to become nobody): run as another user, the test fails.
set -e
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || fail "test-permissions must run as root (it runs hostdev as nobody against a root-owned state dir)"
command -v setpriv >/dev/null || fail "setpriv (util-linux) not found: a prerequisite of this test"
id nobody >/dev/null 2>&1 || fail "no user nobody"
NOGROUP=$(id -gn nobody)

W=$(mktemp -d)
chmod 0755 "$W" # nobody must reach the input files and the stand-in QEMU, not the state
RPID=
cleanup() {
        touch "$W/stop" 2>/dev/null || true
        [ -z "$RPID" ] || { sleep 0.5; kill -9 "$RPID" 2>/dev/null || true; }
        rm -rf "$W"
}
trap cleanup EXIT
export HOSTDEV_SYSFS_ROOT=$HOSTDEV_TEST_DATA/sys/mini
export HOSTDEV_DEV_ROOT=/nonexistent-hostdev-dev
export HOSTDEV_STATE_DIR=$W/state
# the binary must be reachable by nobody
setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups test -x "$HOSTDEV_BIN" ||
        fail "$HOSTDEV_BIN is not executable by nobody (build tree not world-readable)"
as_nobody() { setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups --inh-caps=-all timeout -s KILL 30 "$HOSTDEV_BIN" "$@"; }

cat >"$W/dongle.xml" <<'EOF'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-B</serial></source>
</hostdev>
EOF
cat >"$W/dongle-c.xml" <<'EOF'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-C</serial></source>
</hostdev>
EOF
# the stand-in QEMU: runs until $W/stop exists
cat >"$W/fake-qemu" <<EOF
#!/bin/bash
while [ ! -e "$W/stop" ]; do sleep 0.05; done
EOF
chmod 0755 "$W/fake-qemu"
chmod 0644 "$W"/*.xml

# 1. root runs a VM holding DONGLE-B: what hostdev created is root-only
umask 022 # hostdev must not rely on the caller's umask
hd run --name vm-p "$W/dongle.xml" -- "$W/fake-qemu" >"$W/run.out" 2>"$W/run.err" &
RPID=$!
for _ in $(seq 200); do
        [ -f "$HOSTDEV_STATE_DIR/registry.json" ] && grep -q '"vm-p"' "$HOSTDEV_STATE_DIR/registry.json" && break
        sleep 0.05
done
expect_exit 0 hd status --json
expect_match '"domain": ?"vm-p"' "$OUT" "status as root"
[ "$(stat -c %a "$HOSTDEV_STATE_DIR")" = 700 ] || fail "state dir mode $(stat -c %a "$HOSTDEV_STATE_DIR"), want 700"
[ "$(stat -c %U "$HOSTDEV_STATE_DIR")" = root ] || fail "state dir not owned by root"
n=0
while IFS= read -r -d '' f; do
        n=$((n + 1))
        m=$(stat -c %a "$f")
        [ $((8#$m & 8#077)) = 0 ] || fail "$f has mode $m: group/other may access it"
done < <(find "$HOSTDEV_STATE_DIR" -mindepth 1 \( -type f -o -type s \) -print0)
[ $n -ge 2 ] || fail "only $n files in the state dir: $(ls -la "$HOSTDEV_STATE_DIR")"

state_sum() { (cd "$HOSTDEV_STATE_DIR" && find . -type f -print0 | sort -z | xargs -0 sha256sum &&
               find . -printf '%p %m %u %s %T@\n' | sort); }
BEFORE=$(state_sum)

# 2. nobody: every verb that touches claims is refused, clearly, and changes nothing
refused() {
        expect_exit 1 as_nobody "$@"
        expect_match "^hostdev: error: .*(Permission denied|root)" "$ERR" "hostdev $* as nobody"
        expect_match "root-only|as root" "$ERR" "hostdev $* as nobody (says why)"
        [ "$(printf '%s\n' "$ERR" | grep -c '^hostdev: error: ')" = 1 ] || fail "hostdev $* as nobody: not one error line: $ERR"
        [ "$(state_sum)" = "$BEFORE" ] || fail "hostdev $* as nobody changed the state directory"
}
refused status
refused status --json
refused release vm-p
refused attach-device vm-x "$W/dongle-c.xml" --qmp "$W/none.qmp"
refused detach-device vm-p "$W/dongle.xml" --qmp "$W/none.qmp"
refused run --name vm-x "$W/dongle-c.xml" -- /bin/true
refused watch
# nobody cannot read the registry through the back door either
if setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups cat "$HOSTDEV_STATE_DIR/registry.json" >/dev/null 2>&1; then
        fail "nobody can read registry.json"
fi
# a state dir nobody would have to create under a root-owned directory
mkdir -m 0755 "$W/rootonly"
expect_exit 1 env HOSTDEV_STATE_DIR="$W/rootonly/state" setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups \
        "$HOSTDEV_BIN" release vm-p
expect_match "^hostdev: error: cannot create state directory .*Permission denied.*root" "$ERR" "release as nobody, no state dir"
[ ! -e "$W/rootonly/state" ] || fail "nobody created a state dir"

# 3. nobody may still look: the inventory and the file checks need no privilege
expect_exit 0 as_nobody list --cap usb_device
expect_match "usb_1_2" "$OUT" "list as nobody"
expect_exit 0 as_nobody dumpxml usb_1_2
expect_exit 0 as_nobody validate "$W/dongle.xml"
[ "$(state_sum)" = "$BEFORE" ] || fail "the unprivileged verbs changed the state directory"

# 4. root's VM is untouched: its claim held until it stops, then released
expect_exit 0 hd status --json
expect_match '"domain": ?"vm-p"' "$OUT" "status as root after nobody's attempts"
touch "$W/stop"
wait "$RPID" || fail "hostdev run exited $?: $(cat "$W/run.err")"
RPID=
expect_exit 0 hd status --json
expect_nomatch '"vm-p"' "$OUT" "status after the VM stopped"
echo "state root-only; nobody refused, nothing changed"
