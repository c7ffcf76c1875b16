#!/bin/bash
# The claims registry's lock is held by another process (here flock(1) on registry.lock): a
# hostdev command waits HOSTDEV_LOCK_TIMEOUT_SEC (default 30 s), then fails with exit 1 and
# one error line naming the holder (pid and command), changing nothing. Released within the
# wait, the command goes on and succeeds.
set -eu
. "$(dirname "$0")/lib.sh"
command -v flock >/dev/null || fail "flock(1) (util-linux) is needed to hold the registry lock"

W=$(mktemp -d)
HOLDER=
cleanup() {
        unhold_lock
        rm -rf "$W"
}
trap cleanup EXIT

bash "$HOSTDEV_SRCDIR/tests/data/sys/make-dongles.sh" "$W/fx"
export HOSTDEV_SYSFS_ROOT=$W/fx/sys HOSTDEV_DEV_ROOT=$W/fx/dev HOSTDEV_STATE_DIR=$W/state TZ=UTC
mkdir -m 0700 "$W/state"
# one claim of a domain without a process (pid 0: never stale)
cat >"$W/state/registry.json" <<'EOF2'
{
  "version": 1,
  "next_journal_id": 1,
  "domains": [ { "name": "vm-a", "pid": 0, "starttime": 0 } ],
  "claims": [ { "domain": "vm-a", "type": "usb", "key": "usb:46f4:0001:serial:DONGLE-A", "node": "usb_1_1",
                "shareable": false, "since": 1764000000, "state": "claimed",
                "usb": { "vendor": 18164, "product": 1, "serial": "DONGLE-A", "port": "1-1", "select": 3,
                         "bus": 1, "devnum": 2 } } ],
  "journal": [ ]
}
EOF2
chmod 0600 "$W/state/registry.json"
expect_exit 0 hd status
expect_match 'vm-a' "$OUT" "status before the lock is taken"
before=$(sha256sum <"$W/state/registry.json")

# hold_lock SECONDS: flock(1) takes the lock and keeps it (-o: its command does not inherit it)
# while its command sleeps; $HOLDER is flock's pid, $W/child the sleeper's
hold_lock() {
        rm -f "$W/locked" "$W/child"
        flock -o -x "$W/state/registry.lock" sh -c "echo \$\$ >'$W/child'; : >'$W/locked'; exec sleep $1" &
        HOLDER=$!
        for _ in $(seq 100); do [ -e "$W/locked" ] && return 0; sleep 0.05; done
        fail "flock(1) did not take the registry lock"
}
unhold_lock() {
        [ -z "$HOLDER" ] || kill "$HOLDER" 2>/dev/null || true
        [ ! -s "$W/child" ] || kill "$(cat "$W/child")" 2>/dev/null || true
        wait 2>/dev/null || true
        HOLDER=
}

hold_lock 60
for verb in "release vm-a" "status"; do
        start=$(date +%s%N)
        # shellcheck disable=SC2086
        HOSTDEV_LOCK_TIMEOUT_SEC=1 expect_exit 1 hd $verb
        ms=$((($(date +%s%N) - start) / 1000000))
        [ "$ms" -ge 900 ] || fail "hostdev $verb gave up after $ms ms, before the 1 s timeout"
        [ "$ms" -lt 10000 ] || fail "hostdev $verb took $ms ms with a 1 s lock timeout"
        expect_match "^hostdev: error: the claims registry $W/state/registry.json is locked by another process \(pid $HOLDER, flock\) for 1 s; giving up" "$ERR" "hostdev $verb stderr"
        [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "hostdev $verb: more than one line on stderr: $ERR"
        [ "$(sha256sum <"$W/state/registry.json")" = "$before" ] || fail "hostdev $verb changed the registry"
done
unhold_lock

# held for 1 s while the command may wait 20 s: it waits, then does its work
hold_lock 1
start=$(date +%s%N)
HOSTDEV_LOCK_TIMEOUT_SEC=20 expect_exit 0 hd release vm-a
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -ge 500 ] || fail "hostdev release did not wait for the lock (done after $ms ms)"
wait "$HOLDER" || true # flock and its sleeper are done: nothing to kill
HOLDER=; rm -f "$W/child"
expect_exit 0 hd status --json
expect_nomatch 'vm-a' "$OUT" "status after the release"
echo "ok"
