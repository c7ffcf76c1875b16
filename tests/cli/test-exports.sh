#!/bin/bash
# libhostdev.so exports the public API of include/hostdev/hostdev.h, not internal helpers that
# happen to be named hostdev_*: hostdev_giveback_claim (registry.c's give-back hook into
# vfio.c) stays inside; the public functions are there.
set -eu
. "$(dirname "$0")/lib.sh"
: "${HOSTDEV_BUILDDIR:?HOSTDEV_BUILDDIR not set (run through meson test)}"
command -v nm >/dev/null || fail "nm (binutils) is needed to list the exported symbols"
LIB=$HOSTDEV_BUILDDIR/src/lib/libhostdev.so
[ -e "$LIB" ] || fail "$LIB not built"
syms=$(nm -D --defined-only "$LIB" | awk '$2 != "A" { print $3 }' | sed 's/@.*//')
printf '%s\n' "$syms" | grep -qx hostdev_giveback_claim && fail "libhostdev exports the internal hostdev_giveback_claim"
# every function the public header declares is exported
for f in $(grep -oE '\bhostdev_[a-z_]+\(' "$HOSTDEV_SRCDIR/include/hostdev/hostdev.h" | tr -d '(' | sort -u); do
        printf '%s\n' "$syms" | grep -qx "$f" || fail "libhostdev does not export $f (declared in hostdev.h)"
done
echo "ok"
