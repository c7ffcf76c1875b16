#!/bin/bash
# Faults: hostdev killed with SIGKILL at every step of attach-device, detach-device and run
# (start and teardown), then the next command must leave a consistent state:
#   - no claim lost: a claim whose VM is alive is still held (and the next attach completes it),
#   - no claim without a live domain: once the VM is gone its claims are dropped,
#   - QEMU and the registry agree: the dongle is in the guest once iff its claim is "attached",
#   - no half-finished operation stays in the registry's journal.
# The steps are the state-changing system calls hostdev makes (connect/sendto to QMP, write,
# fsync, rename of the registry, flock, unlink), listed from a clean traced run; the kill is
# injected by strace (-e inject=SYSCALL:signal=KILL:when=N) at the Nth call, so the process
# dies exactly there, with no hook in the code. FAULT_ROUNDS (default 100) rounds walk the
# steps of the three commands in turn. Fixture: tests/data/sys/mini, a stand-in QEMU monitor
# that keeps its devices (below).
set -e
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 not found: it is a prerequisite of this test"
command -v strace >/dev/null || fail "strace not found: it is a prerequisite of this test (apt install strace)"
command -v socat >/dev/null || fail "socat not found: it is a prerequisite of this test"
ROUNDS=${FAULT_ROUNDS:-100}

W=$(mktemp -d)
VMPID=
cleanup() {
        [ -z "$VMPID" ] || kill "$VMPID" 2>/dev/null || true
        rm -rf "$W"
}
trap cleanup EXIT
export HOSTDEV_SYSFS_ROOT=$HOSTDEV_TEST_DATA/sys/mini
export HOSTDEV_DEV_ROOT=/nonexistent-hostdev-dev
export HOSTDEV_STATE_DIR=$W/state

# A stand-in QEMU monitor that keeps state across connections: greeting, qmp_capabilities,
# qom-list of /machine/peripheral, device_add (refuses a duplicate id), device_del (at once
# followed by DEVICE_DELETED; DeviceNotFound when absent). Its devices are in $W/vm.json.
cat >"$W/vmqmp.py" <<'EOF'
import json, os, socket, sys
sock_path, statefile = sys.argv[1], sys.argv[2]
try:
    os.unlink(sock_path)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock_path)
srv.listen(8)
devs = {}
def dump():
    with open(statefile + ".tmp", "w") as f:
        json.dump(devs, f)
    os.rename(statefile + ".tmp", statefile)
dump()
def check(want, registry):
    # the registry and the guest agree; "attached": one claim of vm-a, attached, its qdev id
    # in the guest exactly once; "none": no claim, guest empty. Always: no journal entry left.
    reg = json.load(open(registry))
    claims = reg.get("claims", [])
    assert reg.get("journal", []) == [], "journal left: %s" % reg["journal"]
    if want == "none":
        assert claims == [], "claims left: %s" % claims
        assert devs == {}, "devices left in the guest: %s" % devs
    else:
        assert len(claims) == 1, "claims: %s" % claims
        c = claims[0]
        assert c["domain"] == "vm-a" and c["state"] == "attached", c
        assert list(devs) == [c["qemu_id"]], "guest has %s, registry %s" % (list(devs), c["qemu_id"])
        hd = [d for d in devs.values() if d.get("hostdevice", "").endswith("/001/003")]
        assert len(hd) == 1, "dongle in the guest %d times" % len(hd)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    try:
        rf = conn.makefile("rb")
        def send(o):
            conn.sendall(json.dumps(o).encode() + b"\r\n")
        send({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "fake"},
                      "capabilities": []}})
        for line in rf:
            c = json.loads(line)
            n, a, i = c.get("execute"), c.get("arguments", {}), c.get("id")
            r = {"return": {}}
            if n == "qom-list":
                r = {"return": [{"name": "type", "type": "string"}] +
                     [{"name": k, "type": "child<%s>" % v["driver"]} for k, v in devs.items()]}
            elif n == "device_add":
                if a.get("id") in devs:
                    r = {"error": {"class": "GenericError", "desc": "Duplicate ID '%s' for device" % a["id"]}}
                else:
                    devs[a["id"]] = a
                    dump()
            elif n == "x-check":
                # the test's consistency check, here to spare a python start per round
                r = {"return": {}}
                try:
                    check(a["want"], a["registry"])
                except Exception as e:
                    r = {"error": {"class": "Check", "desc": "%s: %s" % (type(e).__name__, e)}}
            elif n == "device_del":
                if a.get("id") not in devs:
                    r = {"error": {"class": "DeviceNotFound", "desc": "Device '%s' not found" % a.get("id")}}
                else:
                    del devs[a["id"]]
                    dump()
            if i is not None:
                r["id"] = i
            send(r)
            if n == "x-check":
                break  # one answer per check connection: the client sees EOF at once
            if n == "device_del" and "error" not in r:
                send({"timestamp": {"seconds": 1, "microseconds": 0}, "event": "DEVICE_DELETED",
                      "data": {"device": a["id"], "path": "/machine/peripheral/" + a["id"]}})
    except (BrokenPipeError, ConnectionResetError, ValueError):
        pass
    rf.close()  # (the file object keeps the socket open otherwise)
    conn.close()
EOF
python3 "$W/vmqmp.py" "$W/vm.qmp" "$W/vm.json" >"$W/vm.out" 2>"$W/vm.err" &
VMPID=$!
for _ in $(seq 200); do grep -q ready "$W/vm.out" 2>/dev/null && break; sleep 0.05; done
grep -q ready "$W/vm.out" || fail "stand-in QEMU monitor did not start: $(cat "$W/vm.err")"

cat >"$W/dongle.xml" <<'EOF'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-B</serial></source>
</hostdev>
EOF
# the stand-in QEMU of `hostdev run`: records its pid, lives a moment, exits
cat >"$W/fake-qemu" <<EOF
#!/bin/bash
echo \$\$ >"$W/qemu.pid"
sleep 0.1
EOF
chmod +x "$W/fake-qemu"

SET=connect,sendto,write,fsync,rename,flock,unlink
# LeakSanitizer cannot run under ptrace: traced runs of a sanitizer build skip the leak check
# (the untraced commands of this test still do it)
export ASAN_OPTIONS_TRACED="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
strace() { ASAN_OPTIONS=$ASAN_OPTIONS_TRACED command strace "$@"; }
# steps CMD...: the kill points of a clean run of CMD, one "SYSCALL N" per line
steps() {
        strace -qq -o "$W/trace" -e trace=$SET "$@" >/dev/null 2>&1 || fail "clean traced run of '$*' failed"
        awk -F'(' '/^[a-z0-9_]+\(/ {c[$1]++; print $1, c[$1]}' "$W/trace"
}
# killed_at SYSCALL N CMD...: run CMD, SIGKILLed on entering its Nth SYSCALL
killed_at() {
        local s=$1 n=$2; shift 2
        set +e
        # (in a subshell whose stderr is dropped: bash's own "Killed" notice)
        (strace -qq -o /dev/null -e trace="$s" -e inject="$s:signal=KILL:when=$n" "$@" >"$W/k.out" 2>"$W/k.err"
         exit $?) 2>/dev/null
        RC=$?
        set -e
        [ "$RC" = 137 ] || [ "$RC" = "${MAY_FINISH:-x}" ] ||
                fail "'$*' was not killed at $s #$n (exit $RC): $(cat "$W/k.err")"
}

# check_state WANT: the registry and the guest agree; WANT is "attached" (one claim of vm-a,
# attached, and its qdev id is in the guest exactly once) or "none" (no claim, guest empty).
# Also: the registry's journal is empty (run after a command that takes the lock).
check_state() {
        local out
        out=$(printf '{"execute": "x-check", "arguments": {"want": "%s", "registry": "%s"}}\n' \
                "$1" "$HOSTDEV_STATE_DIR/registry.json" | socat -t 10 - "UNIX-CONNECT:$W/vm.qmp") ||
                fail "cannot reach the stand-in QEMU monitor for the check after $CTX"
        printf '%s' "$out" | grep -q '"return"' || fail "inconsistent state after $CTX: $(printf '%s' "$out" | tail -1)"
}

attach() { hd attach-device vm-a "$W/dongle.xml" --qmp "$W/vm.qmp"; }
detach() { hd detach-device vm-a "$W/dongle.xml" --qmp "$W/vm.qmp"; }
run_vm() { hd run --name vm-r "$W/dongle.xml" -- "$W/fake-qemu"; }

# the kill points of each command, from clean runs
mapfile -t A_STEPS < <(steps "$HOSTDEV_BIN" attach-device vm-a "$W/dongle.xml" --qmp "$W/vm.qmp")
CTX="clean attach"; check_state attached
mapfile -t D_STEPS < <(steps "$HOSTDEV_BIN" detach-device vm-a "$W/dongle.xml" --qmp "$W/vm.qmp")
CTX="clean detach"; check_state none
mapfile -t R_STEPS < <(steps "$HOSTDEV_BIN" run --name vm-r "$W/dongle.xml" -- "$W/fake-qemu")
CTX="clean run"; check_state none
[ ${#A_STEPS[@]} -ge 5 ] && [ ${#D_STEPS[@]} -ge 5 ] && [ ${#R_STEPS[@]} -ge 5 ] ||
        fail "too few steps traced: attach ${#A_STEPS[@]}, detach ${#D_STEPS[@]}, run ${#R_STEPS[@]}"
echo "steps: attach ${#A_STEPS[@]}, detach ${#D_STEPS[@]}, run ${#R_STEPS[@]}"

wait_qemu_gone() {
        local p
        p=$(cat "$W/qemu.pid" 2>/dev/null) || return 0
        for _ in $(seq 200); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.02; done
        fail "stand-in QEMU $p did not exit"
}

echo "attach: ${A_STEPS[*]}"
echo "detach: ${D_STEPS[*]}"
echo "run:    ${R_STEPS[*]}"

# Rounds cycle attach (none -> attached), detach (attached -> none), run (none -> none).
ia=0 id=0 ir=0
for round in $(seq "$ROUNDS"); do
        case $((round % 3)) in
        1) # attach killed at a step; the next attach completes it
                read -r s n <<<"${A_STEPS[ia % ${#A_STEPS[@]}]}"; ia=$((ia + 1))
                CTX="round $round: attach killed at $s #$n, then attach again"
                killed_at "$s" "$n" "$HOSTDEV_BIN" attach-device vm-a "$W/dongle.xml" --qmp "$W/vm.qmp"
                set +e; attach >"$W/a.out" 2>"$W/a.err"; rc=$?; set -e
                if [ $rc != 0 ]; then
                        # only acceptable when the killed attach had finished its work
                        [ $rc = 1 ] || fail "second attach exited $rc ($CTX): $(cat "$W/a.err")"
                        expect_match "usb_1_2 is already attached for vm-a" "$(cat "$W/a.err")" \
                                "second attach ($CTX)"
                fi
                check_state attached
                ;;
        2) # detach killed at a step; detach again finishes it (or finds it finished)
                read -r s n <<<"${D_STEPS[id % ${#D_STEPS[@]}]}"; id=$((id + 1))
                CTX="round $round: detach killed at $s #$n, then detach again"
                killed_at "$s" "$n" "$HOSTDEV_BIN" detach-device vm-a "$W/dongle.xml" --qmp "$W/vm.qmp"
                set +e; detach >"$W/d.out" 2>"$W/d.err"; rc=$?; set -e
                if [ $rc != 0 ]; then
                        # only acceptable when the killed detach had finished its work
                        expect_match "holds no device" "$(cat "$W/d.err")" "second detach ($CTX)"
                        expect_exit 0 hd status # takes the lock: recovers the journal
                fi
                check_state none
                ;;
        0) # run killed at a step (start or teardown); once its QEMU is gone nothing is held
                read -r s n <<<"${R_STEPS[ir % ${#R_STEPS[@]}]}"; ir=$((ir + 1))
                CTX="round $round: run killed at $s #$n"
                rm -f "$W/qemu.pid"
                # (how often run polls for QEMU's monitor varies with timing: a late step may
                # not come, and run then finishes normally)
                MAY_FINISH=0 killed_at "$s" "$n" "$HOSTDEV_BIN" run --name vm-r "$W/dongle.xml" -- "$W/fake-qemu"
                wait_qemu_gone
                # the dongle is free again, for anyone: no claim outlives its domain
                expect_exit 0 hd resolve "$W/dongle.xml" --json
                expect_match '"status": ?"ok"' "$OUT" "resolve ($CTX)"
                expect_match '"owner": ?null' "$OUT" "resolve ($CTX)"
                # and the next command that takes the registry lock drops what run left
                expect_exit 0 hd release vm-r
                check_state none
                ;;
        esac
done
echo "$ROUNDS rounds: attach ${ia}, detach ${id}, run ${ir} kills; state consistent after each"
