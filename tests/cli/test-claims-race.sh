#!/bin/bash
# The claims registry under contention: 32 claimants started at once for 4 identical dongles
# (8 per dongle, selected by serial), each for its own domain. Exactly 4 win; every loser names
# the holder; the registry parses afterwards. 20 rounds; in half of them random claimants are
# killed with SIGKILL in the middle: nothing is lost (a dead holder's dongle can be claimed
# again) and nothing duplicated (never two live holders of one dongle).
# Usage (meson): test-claims-race.sh CLAIM_TOOL
set -eu
. "$(dirname "$0")/lib.sh"
TOOL=${1:?usage: test-claims-race.sh CLAIM_TOOL}
[ -x "$TOOL" ] || fail "claim tool $TOOL not built"
command -v python3 >/dev/null || fail "python3 is needed to check the registry JSON"
ROUNDS=${RACE_ROUNDS:-20}
N=32

W=$(mktemp -d)
PIDS=()
cleanup() {
        for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        rm -rf "$W"
}
trap cleanup EXIT

bash "$HOSTDEV_SRCDIR/tests/data/sys/make-dongles.sh" "$W/fx"
export HOSTDEV_SYSFS_ROOT=$W/fx/sys HOSTDEV_DEV_ROOT=$W/fx/dev TZ=UTC
SERIALS=(DONGLE-A DONGLE-B DONGLE-C DONGLE-D)
NODES=(usb_1_1 usb_1_2 usb_1_4_1 usb_1_4_2)
for s in "${SERIALS[@]}"; do
        cat >"$W/$s.xml" <<EOF
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>$s</serial></source>
</hostdev>
EOF
done

# live_claims: "NODE DOMAIN" for every claim whose domain process is alive (status --json)
live_claims() {
        hd status --json >"$W/status.json" || fail "status --json failed"
        python3 - "$W/status.json" <<'EOF'
import json, sys
claims = json.load(open(sys.argv[1]))
assert isinstance(claims, list)
for c in claims:
    assert c["type"] == "usb" and c["state"] == "claimed", c
    if c["alive"]:
        print(c["device"], c["domain"])
EOF
}

for round in $(seq 1 "$ROUNDS"); do
        export HOSTDEV_STATE_DIR=$W/state-$round
        R=$W/r$round
        mkdir -p "$R"
        PIDS=()
        for i in $(seq 0 $((N - 1))); do
                s=${SERIALS[$((i % 4))]}
                "$TOOL" "vm-$i" "$W/$s.xml" --hold >"$R/$i.out" 2>"$R/$i.err" &
                PIDS+=($!)
        done
        killed=()
        if [ $((round % 2)) = 0 ]; then
                # kill 8 random claimants at a random moment while the others race
                sleep "0.0$((RANDOM % 10))"
                for k in $(shuf -i 0-$((N - 1)) -n 8); do
                        kill -9 "${PIDS[$k]}" 2>/dev/null || true
                        killed+=("$k")
                done
        fi
        # settle: every claimant has either exited or printed its claim and is holding
        for t in $(seq 1 300); do
                pending=0
                for i in $(seq 0 $((N - 1))); do
                        if kill -0 "${PIDS[$i]}" 2>/dev/null && ! grep -q '^claimed ' "$R/$i.out"; then
                                pending=$((pending + 1))
                        fi
                done
                [ $pending = 0 ] && break
                sleep 0.1
        done
        [ $pending = 0 ] || fail "round $round: $pending claimants neither finished nor claimed"

        winners=0
        declare -A holder=()
        for i in $(seq 0 $((N - 1))); do
                is_killed=0
                for k in "${killed[@]}"; do [ "$k" = "$i" ] && is_killed=1; done
                node=${NODES[$((i % 4))]}
                if grep -q "^claimed usb:46f4:0001:serial:${SERIALS[$((i % 4))]} $node\$" "$R/$i.out"; then
                        if [ $is_killed = 0 ] || kill -0 "${PIDS[$i]}" 2>/dev/null; then
                                kill -0 "${PIDS[$i]}" 2>/dev/null || fail "round $round: winner vm-$i exited"
                                [ -z "${holder[$node]:-}" ] || fail "round $round: $node won by vm-${holder[$node]} and vm-$i"
                                holder[$node]=$i
                                winners=$((winners + 1))
                        fi
                elif [ $is_killed = 0 ]; then
                        # a loser: exit 1 and a message naming the holding domain
                        wait "${PIDS[$i]}" && fail "round $round: vm-$i exited 0 without claiming"
                        expect_match "^hostdev: error: device $node \(46f4:0001 serial ${SERIALS[$((i % 4))]}\) is in use by domain vm-[0-9]+ since [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}$" \
                                "$(cat "$R/$i.err")" "round $round vm-$i stderr"
                        [ "$(wc -l <"$R/$i.err")" = 1 ] || fail "round $round: vm-$i: more than one error line"
                fi
        done
        if [ ${#killed[@]} = 0 ]; then
                [ $winners = 4 ] || fail "round $round: $winners winners, want exactly 4"
        fi
        # each loser names the actual winner of its dongle (no kills: holders are certain)
        if [ ${#killed[@]} = 0 ]; then
                for i in $(seq 0 $((N - 1))); do
                        node=${NODES[$((i % 4))]}
                        [ "${holder[$node]}" = "$i" ] && continue
                        grep -q "in use by domain vm-${holder[$node]} since" "$R/$i.err" ||
                                fail "round $round: vm-$i does not name holder vm-${holder[$node]}: $(cat "$R/$i.err")"
                done
        fi

        # the registry parses, and its live claims are exactly the live holders
        live=$(live_claims | sort)
        want=$(for node in "${!holder[@]}"; do echo "$node vm-${holder[$node]}"; done | sort)
        [ "$live" = "$want" ] || fail "round $round: registry live claims [$live] != live holders [$want]"

        # nothing lost: a dongle whose holder died (or that nobody won) can be claimed now;
        # a held one is refused, naming its holder
        for d in 0 1 2 3; do
                node=${NODES[$d]}
                if [ -n "${holder[$node]:-}" ]; then
                        expect_exit 1 "$TOOL" "late-$d" "$W/${SERIALS[$d]}.xml"
                        expect_match "in use by domain vm-${holder[$node]} since" "$ERR"
                else
                        expect_exit 0 "$TOOL" "late-$d" "$W/${SERIALS[$d]}.xml"
                        expect_match "^claimed .* $node\$" "$OUT"
                fi
        done
        # the late claimants exited: their claims are stale and status says so
        hd status >"$W/status.txt" || fail "status failed"
        if grep -q "late-" "$W/status.txt"; then
                grep "late-" "$W/status.txt" | grep -qv "stale" && fail "round $round: a dead claimant's claim is not stale"
        fi

        for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
        wait 2>/dev/null || true
        unset holder
        # all holders are gone now: release of every domain leaves an empty registry
        for i in $(seq 0 $((N - 1))); do hd release "vm-$i" >/dev/null 2>&1 || fail "release vm-$i failed"; done
        for d in 0 1 2 3; do hd release "late-$d" >/dev/null 2>&1 || fail "release late-$d failed"; done
        [ "$(hd status --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ] ||
                fail "round $round: claims left after releasing every domain"
done
echo "ok: $ROUNDS rounds"
