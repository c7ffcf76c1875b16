#!/bin/bash
# libhostdev.so exports exactly the public API of include/hostdev/hostdev.h, not internal
# helpers that happen to be named hostdev_* (hostdev_giveback_claim, hostdev_def_*,
# hostdev_file_*, ...).
set -eu
. "$(dirname "$0")/lib.sh"
: "${HOSTDEV_BUILDDIR:?HOSTDEV_BUILDDIR not set (run through meson test)}"
command -v nm >/dev/null || fail "nm (binutils) is needed to list the exported symbols"
LIB=$HOSTDEV_BUILDDIR/src/lib/libhostdev.so
[ -e "$LIB" ] || fail "$LIB not built"
syms=$(nm -D --defined-only "$LIB" | awk '$2 != "A" { print $3 }' | sed 's/@.*//')
printf '%s\n' "$syms" | grep -qx hostdev_giveback_claim && fail "libhostdev exports the internal hostdev_giveback_claim"
# exactly the functions the public header declares are exported
want=$(grep -oE '\bhostdev_[a-z_]+\(' "$HOSTDEV_SRCDIR/include/hostdev/hostdev.h" | tr -d '(' | sort -u)
have=$(printf '%s\n' "$syms" | grep -v '^LIBHOSTDEV_' | sort -u)
[ -n "$want" ] || fail "no functions found in hostdev.h"
[ "$want" = "$have" ] || fail "libhostdev exports differ from hostdev.h:
$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$have") || true)"

echo "ok"
