#!/bin/bash
# Capabilities-mode net: a veth end moves into a container's network namespace with its address
# and route, is reachable there, and comes back on detach-device / release.
#
# Everything happens inside network namespaces this test creates: "host" (hd-test-host-PID,
# where hostdev runs, so it is hostdev's own namespace) and "container" (hd-test-ctr-PID).
# The machine's own interfaces are never touched. Needs root and iproute2 + ping (tools/install-deps).
set -eu
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || fail "needs root (network namespaces)"
command -v ip >/dev/null || fail "needs ip (iproute2)"
command -v ping >/dev/null || fail "needs ping (iputils-ping)"

H=hd-test-host-$$
C=hd-test-ctr-$$
C2=hd-test-ctr2-$$
T=$(mktemp -d)
SLEEPER=
cleanup() {
        [ -n "$SLEEPER" ] && kill "$SLEEPER" 2>/dev/null
        ip netns del "$H" 2>/dev/null
        ip netns del "$C" 2>/dev/null
        ip netns del "$C2" 2>/dev/null
        rm -rf "$T"
}
trap cleanup EXIT

export HOSTDEV_STATE_DIR=$T/state
unset HOSTDEV_SYSFS_ROOT HOSTDEV_DEV_ROOT HOSTDEV_PROC_ROOT
ip netns add "$H"
ip netns add "$C"
ip netns add "$C2"
ip -n "$H" link set lo up
ip -n "$C" link set lo up
ip -n "$H" link add veth-h type veth peer name veth-c
ip -n "$H" addr add 10.99.0.1/24 dev veth-h
ip -n "$H" addr add 10.98.0.1/24 dev veth-h
ip -n "$H" link set veth-h up

cat >"$T/net.xml" <<'EOF'
<hostdev mode='capabilities' type='net'>
  <source>
    <interface>veth-c</interface>
  </source>
  <ip address='10.99.0.2' prefix='24'/>
  <route family='ipv4' address='10.97.0.0' prefix='24' gateway='10.99.0.1'/>
</hostdev>
EOF
hh() { ip netns exec "$H" "$HOSTDEV_BIN" "$@"; }

in_ns() { # in_ns NS IFNAME: is the interface there?
        ip -n "$1" link show dev "$2" >/dev/null 2>&1
}

# ---- without --netns: usage error, nothing moves
expect_exit 2 hh attach-device ctr1 "$T/net.xml"
expect_match "needs --netns" "$ERR"
in_ns "$H" veth-c || fail "veth-c left the host namespace on a refused attach"

# ---- a namespace that does not exist: fails, nothing claimed, nothing moved
expect_exit 1 hh attach-device ctr1 "$T/net.xml" --netns /run/netns/hd-test-no-such-ns-$$
expect_match "cannot open network namespace" "$ERR"
in_ns "$H" veth-c || fail "veth-c moved although the namespace does not exist"
expect_exit 0 hh status --json
expect_nomatch "veth-c" "$OUT" "status after a failed attach"

# ---- attach by path
expect_exit 0 hh attach-device ctr1 "$T/net.xml" --netns "/run/netns/$C"
in_ns "$C" veth-c || fail "veth-c is not in the container namespace"
in_ns "$H" veth-c && fail "veth-c is still in the host namespace"
A=$(ip -n "$C" -4 addr show dev veth-c)
expect_match "inet 10\.99\.0\.2/24" "$A" "container address"
expect_match "state UP|,UP" "$(ip -n "$C" link show dev veth-c)" "container link state"
R=$(ip -n "$C" -4 route show)
expect_match "10\.97\.0\.0/24 via 10\.99\.0\.1 dev veth-c" "$R" "container routes"
# reachable there: from the peer end in the host namespace (bounded), and back
ip netns exec "$H" ping -c 2 -W 2 -w 10 10.99.0.2 >/dev/null || fail "10.99.0.2 not reachable from veth-h"
ip netns exec "$C" ping -c 1 -W 2 -w 5 10.99.0.1 >/dev/null || fail "veth-h not reachable from the container"
# and through the route (10.97.0.0/24 via 10.99.0.1): the kernel picks veth-c and the gateway
expect_match "via 10\.99\.0\.1 dev veth-c" "$(ip -n "$C" route get 10.97.0.5)" "route lookup"

expect_exit 0 hh status --json
expect_match '"key": ?"net:veth-c"' "$OUT" "status"
expect_match '"domain": ?"ctr1"' "$OUT" "status"
expect_exit 0 hh status
expect_match "veth-c in /run/netns/$C +ctr1" "$OUT" "status table"

# ---- another domain cannot take it (it is not on the host any more, and it is claimed)
expect_exit 1 hh attach-device ctr2 "$T/net.xml" --netns "/run/netns/$C2"
in_ns "$C" veth-c || fail "a refused second attach moved veth-c"

# ---- the same domain again: already attached
expect_exit 1 hh attach-device ctr1 "$T/net.xml" --netns "/run/netns/$C"

# ---- release: back in hostdev's namespace, same name, claim gone
expect_exit 0 hh release ctr1
in_ns "$H" veth-c || fail "veth-c did not come back to the host namespace on release"
in_ns "$C" veth-c && fail "veth-c is still in the container after release"
expect_exit 0 hh status --json
expect_nomatch "veth-c" "$OUT" "status after release"

# ---- by process id, then detach-device (no --qmp needed for a container device)
ip netns exec "$C2" sleep 60 &
SLEEPER=$!
for _ in $(seq 50); do
        [ "$(readlink /proc/$SLEEPER/ns/net)" = "$(ip netns exec "$C2" readlink /proc/self/ns/net)" ] && break
        sleep 0.1
done
expect_exit 0 hh attach-device ctr2 "$T/net.xml" --netns "$SLEEPER"
in_ns "$C2" veth-c || fail "veth-c is not in the namespace of pid $SLEEPER"
expect_match "inet 10\.99\.0\.2/24" "$(ip -n "$C2" -4 addr show dev veth-c)" "address in the pid's namespace"
ip netns exec "$H" ping -c 1 -W 2 -w 5 10.99.0.2 >/dev/null || fail "10.99.0.2 not reachable in the pid's namespace"
expect_exit 0 hh detach-device ctr2 "$T/net.xml"
in_ns "$H" veth-c || fail "veth-c did not come back on detach-device"
in_ns "$C2" veth-c && fail "veth-c is still in the pid's namespace after detach-device"

# ---- an address that cannot be set rolls back: the interface returns, nothing is claimed
sed 's/10\.99\.0\.2/10.99.0.300/' "$T/net.xml" >"$T/bad.xml"
set +e; hh validate "$T/bad.xml" >/dev/null 2>&1; v=$?; set -e
if [ "$v" = 0 ]; then
        expect_exit 1 hh attach-device ctr1 "$T/bad.xml" --netns "/run/netns/$C"
        in_ns "$H" veth-c || fail "veth-c not back after a failed configuration"
fi
cat >"$T/badroute.xml" <<'EOF'
<hostdev mode='capabilities' type='net'>
  <source>
    <interface>veth-c</interface>
  </source>
  <ip address='10.99.0.2' prefix='24'/>
  <route family='ipv4' address='10.96.0.0' prefix='24' gateway='10.55.0.1'/>
</hostdev>
EOF
expect_exit 1 hh attach-device ctr1 "$T/badroute.xml" --netns "/run/netns/$C"
expect_match "cannot add route" "$ERR"
in_ns "$H" veth-c || fail "veth-c not back in the host namespace after a failed route"
in_ns "$C" veth-c && fail "veth-c left in the container after a failed route"
expect_exit 0 hh status --json
expect_nomatch "veth-c" "$OUT" "status after a rolled-back attach"

# ---- misc/storage through the CLI too: nodes from a fixture dev root into a container root
mkdir -p "$T/dev/input" "$T/ctr"
mknod "$T/dev/input/event3" c 13 67
mknod "$T/dev/sdf1" b 8 81
cat >"$T/nodes.xml" <<'X'
<devices>
  <hostdev mode='capabilities' type='misc'><source><char>/dev/input/event3</char></source></hostdev>
  <hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block></source></hostdev>
</devices>
X
export HOSTDEV_DEV_ROOT=$T/dev HOSTDEV_SYSFS_ROOT=${HOSTDEV_TEST_DATA:?}/sys/mini
expect_exit 2 hd attach-device ctr3 "$T/nodes.xml"
expect_match "needs --root DIR" "$ERR"
expect_exit 0 hd attach-device ctr3 "$T/nodes.xml" --root "$T/ctr"
[ "$(stat -c '%F %t:%T' "$T/ctr/dev/input/event3")" = "character special file d:43" ] ||
        fail "misc node wrong: $(stat -c '%F %t:%T' "$T/ctr/dev/input/event3")"
[ "$(stat -c '%F %t:%T' "$T/ctr/dev/sdf1")" = "block special file 8:51" ] ||
        fail "storage node wrong: $(stat -c '%F %t:%T' "$T/ctr/dev/sdf1")"
expect_exit 1 hd attach-device ctr4 "$T/nodes.xml" --root "$T/ctr"
expect_match "in use by domain ctr3" "$ERR"
expect_exit 0 hd release ctr3
[ ! -e "$T/ctr/dev/input/event3" ] && [ ! -e "$T/ctr/dev/sdf1" ] || fail "nodes left in the container root after release"
[ -c "$T/dev/input/event3" ] || fail "the host node was touched"

echo "test-caps-net: ok"
