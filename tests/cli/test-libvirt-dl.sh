#!/bin/bash
# libvirt's client library is loaded on demand (issue 8, src/lib/virt-dl.c): hostdev,
# libhostdev.so and hostdev-watch do not link it (nor gnutls & co.), the pkg-config file does not
# require it, and when it is missing a --connect command fails with a clear message while
# everything else works. "Missing" is made in a private mount namespace (unshare -m) where
# libvirt.so.0 is /dev/null; the machine's own files are not touched.
set -eu
. "$(dirname "$0")/lib.sh"
: "${HOSTDEV_BUILDDIR:?}" "${HOSTDEV_TEST_DATA:?}"

command -v ldd >/dev/null || fail "needs ldd"
command -v unshare >/dev/null || fail "needs unshare (util-linux)"

for f in "$HOSTDEV_BIN" "$HOSTDEV_BUILDDIR/src/lib/libhostdev.so.0" "$HOSTDEV_BUILDDIR/src/cli/hostdev-watch"; do
        [ -e "$f" ] || fail "$f not built"
        deps=$(ldd "$f") || fail "ldd $f failed"
        expect_nomatch 'libvirt|libgnutls' "$deps" "ldd $f"
        expect_match 'libxml2' "$deps" "ldd $f" # ldd really listed the libraries
done
pc=$HOSTDEV_BUILDDIR/meson-private/hostdev.pc
[ -f "$pc" ] || fail "$pc not generated"
expect_match '^Requires.private: .*libudev' "$(cat "$pc")" "hostdev.pc"
expect_nomatch 'libvirt' "$(grep -E '^(Requires|Libs)' "$pc")" "hostdev.pc"

# the library hostdev would load
lib=$(ldconfig -p | awk '$1 == "libvirt.so.0" && /x86-64|x86_64/ {print $NF; exit}')
[ -n "$lib" ] || lib=$(ldconfig -p | awk '$1 == "libvirt.so.0" {print $NF; exit}')
[ -n "$lib" ] && [ -e "$lib" ] || fail "libvirt.so.0 not installed here (needed for the --connect tests)"
real=$(readlink -f "$lib")

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -m 0700 "$T/state"
cat >"$T/dongle.xml" <<'XML'
<hostdev mode='subsystem' type='usb'>
  <source><vendor id='0x46f4'/><product id='0x0001'/><serial>DONGLE-A</serial></source>
</hostdev>
XML
export HOSTDEV_SYSFS_ROOT=$HOSTDEV_TEST_DATA/sys/mini HOSTDEV_STATE_DIR=$T/state

# with libvirt: the test driver answers (the lazy load works from the CLI)
expect_exit 0 hd status --connect test:///default

# without it
hidden() { unshare -m sh -c 'mount --bind /dev/null "$0" && exec "$@"' "$real" "$@"; }
expect_exit 0 hidden true # the namespace trick itself works
expect_exit 1 hidden "$HOSTDEV_BIN" attach-device vm1 "$T/dongle.xml" --connect test:///default
expect_match '^hostdev: error: libvirt client library not installed: apt install libvirt0' "$ERR" "attach-device stderr"
expect_exit 0 hidden "$HOSTDEV_BIN" list --json
expect_match '"usb_1_1"' "$OUT" "list without libvirt"
expect_exit 0 hidden "$HOSTDEV_BIN" resolve "$T/dongle.xml"
expect_match 'usb_1_1' "$OUT" "resolve without libvirt"
# nothing was claimed by the failed attach
expect_exit 0 hd status --json
expect_match '^\[\]$' "$(printf '%s' "$OUT" | tr -d ' \n')" "status after the failed attach"
echo "PASS test-libvirt-dl"
