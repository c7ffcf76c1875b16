#!/bin/bash
# `meson install --destdir TMP` of the build under test puts everything in its standard place:
# the CLI (runs from the DESTDIR, no build-dir RPATH), libhostdev.so with its symlinks and
# SONAME, the public header, hostdev.pc (a tiny program compiles and links against the
# installed library through pkg-config, and cannot link against an internal symbol; the
# library exports only hostdev_* symbols), both man pages, docs/examples.md and usbip.md,
# the bash completion, the systemd unit and the tmpfiles.d entry (which systemd-tmpfiles applies to a scratch root).
set -e
. "$(dirname "$0")/lib.sh"
: "${HOSTDEV_BUILDDIR:?HOSTDEV_BUILDDIR not set (run through meson test)}"
for p in meson python3 pkg-config cc nm readelf; do
        command -v "$p" >/dev/null || fail "$p is not installed"
done

DEST=$(mktemp -d)
trap 'rm -rf "$DEST"' EXIT
meson install -C "$HOSTDEV_BUILDDIR" --destdir "$DEST" --no-rebuild --quiet >"$DEST.log" 2>&1 ||
        { cat "$DEST.log" >&2; rm -f "$DEST.log"; fail "meson install --destdir failed"; }
rm -f "$DEST.log"

# The configured directories (absolute, or relative to the prefix).
OPTS=$(meson introspect "$HOSTDEV_BUILDDIR" --buildoptions)
VERSION=$(meson introspect "$HOSTDEV_BUILDDIR" --projectinfo | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')
opt() {
        printf '%s' "$OPTS" | python3 -c '
import json, os, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
v = o[sys.argv[1]]
print(v if sys.argv[1] in ("prefix", "b_sanitize") else os.path.join(o["prefix"], v))' "$1"
}
PREFIX=$(opt prefix); BINDIR=$(opt bindir); LIBDIR=$(opt libdir); INCLUDEDIR=$(opt includedir)
MANDIR=$(opt mandir); DATADIR=$(opt datadir)
[ -n "$PREFIX" ] && [ -n "$LIBDIR" ] || fail "cannot read the build's directories"
# a sanitizer build's library needs the sanitizer runtime in the programs linked to it
SAN=$(opt b_sanitize)
CC_SAN=
[ "$SAN" = none ] || CC_SAN="-fsanitize=$SAN"

# --- everything the build declares for installation is in the DESTDIR ---
INSTALLED=$(meson introspect "$HOSTDEV_BUILDDIR" --installed | python3 -c 'import json,sys; [print(v) for v in json.load(sys.stdin).values()]')
[ "$(printf '%s\n' "$INSTALLED" | wc -l)" -ge 10 ] || fail "meson introspect --installed lists too little: $INSTALLED"
while IFS= read -r f; do
        [ -e "$DEST$f" ] || [ -L "$DEST$f" ] || fail "$f (declared for installation) is not in the DESTDIR"
done <<<"$INSTALLED"
# programs installed outside bindir (e.g. the daemon's helper in libexecdir) are executable
while IFS= read -r f; do
        case $f in */libexec/*) [ -x "$DEST$f" ] || fail "$f is not executable" ;; esac
done <<<"$INSTALLED"

# --- the CLI ---
BIN=$DEST$BINDIR/hostdev
[ -x "$BIN" ] || fail "no executable $BIN"
expect_exit 0 env -u LD_LIBRARY_PATH "$BIN" --version
[ "$OUT" = "hostdev $VERSION" ] || fail "installed hostdev --version says '$OUT', want 'hostdev $VERSION'"
expect_exit 0 "$BIN" --help
expect_match 'hostdev-xml\(5\)' "$OUT" "installed --help points to the man pages"
if readelf -d "$BIN" | grep -E 'RPATH|RUNPATH' | grep -qF "$HOSTDEV_BUILDDIR"; then
        fail "installed hostdev keeps the build directory in its RPATH"
fi

# --- the library ---
L=$DEST$LIBDIR
[ -f "$L/libhostdev.so.$VERSION" ] && [ ! -L "$L/libhostdev.so.$VERSION" ] || fail "no libhostdev.so.$VERSION in $LIBDIR"
[ "$(readlink "$L/libhostdev.so.0")" = "libhostdev.so.$VERSION" ] || fail "libhostdev.so.0 is not a symlink to libhostdev.so.$VERSION"
[ "$(readlink "$L/libhostdev.so")" = "libhostdev.so.0" ] || fail "libhostdev.so is not a symlink to libhostdev.so.0"
readelf -d "$L/libhostdev.so.$VERSION" | grep -q 'SONAME.*\[libhostdev\.so\.0\]' || fail "SONAME is not libhostdev.so.0"
# only hostdev_* symbols are exported (the version node LIBHOSTDEV_0 is an absolute symbol)
syms=$(nm -D --defined-only "$L/libhostdev.so.$VERSION" | awk '$2 != "A" { print $3 }' | sed 's/@.*//')
printf '%s\n' "$syms" | grep -qx hostdev_version || fail "libhostdev does not export hostdev_version: $syms"
bad=$(printf '%s\n' "$syms" | grep -v '^hostdev_' || true)
[ -z "$bad" ] || fail "libhostdev exports symbols outside hostdev_*: $(echo $bad)"
nm -D --defined-only "$L/libhostdev.so.$VERSION" | awk '$2 == "A" { print $3 }' | grep -qvx 'LIBHOSTDEV_0' &&
        fail "unexpected absolute symbols in libhostdev"
[ -f "$DEST$INCLUDEDIR/hostdev/hostdev.h" ] || fail "no $INCLUDEDIR/hostdev/hostdev.h"
PC=$L/pkgconfig/hostdev.pc
[ -f "$PC" ] || fail "no $LIBDIR/pkgconfig/hostdev.pc"

# a program built against the installed tree only (pkg-config with the DESTDIR as sysroot)
export PKG_CONFIG_PATH=$L/pkgconfig PKG_CONFIG_SYSROOT_DIR=$DEST
[ "$(pkg-config --modversion hostdev)" = "$VERSION" ] || fail "pkg-config --modversion hostdev is not $VERSION"
CFLAGS_HD=$(pkg-config --cflags hostdev) || fail "pkg-config --cflags hostdev failed"
LIBS_HD=$(pkg-config --libs hostdev) || fail "pkg-config --libs hostdev failed"
expect_match "$DEST" "$CFLAGS_HD $LIBS_HD" "pkg-config flags point into the DESTDIR"
mkdir "$DEST/prog"
cat >"$DEST/prog/ok.c" <<'EOF'
#include <stdio.h>
#include <hostdev/hostdev.h>
int main(void) {
        const char *v = hostdev_version();
        if (!v)
                return 1;
        printf("%s\n", v);
        return 0;
}
EOF
# shellcheck disable=SC2086
cc $CC_SAN -Wall -Werror -o "$DEST/prog/ok" "$DEST/prog/ok.c" $CFLAGS_HD $LIBS_HD 2>"$DEST/prog/cc.err" ||
        fail "cannot build against the installed libhostdev: $(cat "$DEST/prog/cc.err")"
expect_exit 0 env LD_LIBRARY_PATH="$L" "$DEST/prog/ok"
[ "$OUT" = "$VERSION" ] || fail "hostdev_version() from the installed library says '$OUT', want '$VERSION'"
LD_LIBRARY_PATH=$L ldd "$DEST/prog/ok" | grep -F "libhostdev.so.0 => $L/libhostdev.so.0" >/dev/null ||
        fail "the test program does not load the installed libhostdev: $(LD_LIBRARY_PATH=$L ldd "$DEST/prog/ok")"
# the public header also works from C++ (extern "C") and in strict C
if command -v c++ >/dev/null; then
        # shellcheck disable=SC2086
        c++ $CC_SAN -Wall -Werror -x c++ -o "$DEST/prog/okxx" "$DEST/prog/ok.c" $CFLAGS_HD $LIBS_HD 2>"$DEST/prog/cc.err" ||
                fail "cannot build a C++ program against the installed libhostdev: $(cat "$DEST/prog/cc.err")"
        expect_exit 0 env LD_LIBRARY_PATH="$L" "$DEST/prog/okxx"
        [ "$OUT" = "$VERSION" ] || fail "C++ program: hostdev_version() says '$OUT'"
fi
# shellcheck disable=SC2086
cc -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only "$DEST/prog/ok.c" $CFLAGS_HD 2>"$DEST/prog/cc.err" ||
        fail "hostdev.h is not clean strict C99: $(cat "$DEST/prog/cc.err")"
# internal functions are in the library's code but not visible to users
INTERNAL=$HOSTDEV_BUILDDIR/src/lib/libhostdev-internal.a
[ -f "$INTERNAL" ] || fail "no $INTERNAL to pick an internal symbol from"
nm --defined-only "$INTERNAL" 2>/dev/null | grep -qE ' T sysfs_root$' || fail "sysfs_root is not in the internal library (pick another internal symbol)"
cat >"$DEST/prog/internal.c" <<'EOF'
#include <hostdev/hostdev.h>
const char *sysfs_root(void);
int main(void) { return sysfs_root() != 0; }
EOF
# shellcheck disable=SC2086
if cc $CC_SAN -o "$DEST/prog/internal" "$DEST/prog/internal.c" $CFLAGS_HD $LIBS_HD 2>"$DEST/prog/cc.err"; then
        fail "a program could link against the internal symbol sysfs_root"
fi
grep -q 'undefined reference to .sysfs_root' "$DEST/prog/cc.err" || fail "linking sysfs_root failed for another reason: $(cat "$DEST/prog/cc.err")"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

# --- man pages ---
for page in man1/hostdev.1 man5/hostdev-xml.5; do
        f=$DEST$MANDIR/$page
        [ -f "$f" ] || f=$f.gz
        [ -f "$f" ] || fail "no $MANDIR/$page(.gz)"
        MANPAGER=cat MANWIDTH=80 man -l "$f" 2>/dev/null | grep -q '^NAME$' || fail "installed $page does not render"
done

# --- the worked examples ---
for f in examples.md usbip.md; do
        [ -f "$DEST$DATADIR/doc/hostdev/$f" ] || fail "no $DATADIR/doc/hostdev/$f"
done

# --- bash completion: bash-completion's completionsdir under our datadir, else the default ---
if pkg-config --exists bash-completion; then
        COMPDIR=$(pkg-config --define-variable=datadir="$DATADIR" --variable=completionsdir bash-completion)
else
        COMPDIR=$DATADIR/bash-completion/completions
fi
[ -f "$DEST$COMPDIR/hostdev" ] || fail "no bash completion at $COMPDIR/hostdev"
reg=$(bash --norc --noprofile -c '. "$1" && complete -p hostdev' _ "$DEST$COMPDIR/hostdev") || fail "installed completion does not load"
[ "$reg" = "complete -F _hostdev hostdev" ] || fail "installed completion registers '$reg'"

# --- systemd unit and tmpfiles.d (systemd's own directories when systemd.pc is there) ---
if pkg-config --exists systemd; then
        UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd)
        TMPFILESDIR=$(pkg-config --variable=tmpfilesdir systemd)
else
        UNITDIR=$PREFIX/lib/systemd/system
        TMPFILESDIR=$PREFIX/lib/tmpfiles.d
fi
for unit in hostdev-watch.service hostdev-watch-libvirt.service; do
        UNIT=$DEST$UNITDIR/$unit
        [ -f "$UNIT" ] || fail "no $UNITDIR/$unit"
        want="ExecStart=$BINDIR/hostdev watch"
        [ "$unit" = hostdev-watch-libvirt.service ] && want="$want --connect qemu:///system"
        grep -qx -- "$want" "$UNIT" || fail "$unit does not run '$want': $(grep ExecStart "$UNIT")"
        grep -qx 'WantedBy=multi-user.target' "$UNIT" || fail "$unit has no [Install] WantedBy"
        if command -v systemd-analyze >/dev/null; then
                # verify the unit's syntax (the ExecStart binary is checked as well: point it at the DESTDIR copy)
                mkdir -p "$DEST/verify"
                sed "s|^ExecStart=$BINDIR/hostdev|ExecStart=$BIN|" "$UNIT" >"$DEST/verify/$unit"
                SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$DEST/verify/$unit" >"$DEST/verify/out" 2>&1 ||
                        fail "systemd-analyze verify $unit: $(cat "$DEST/verify/out")"
                ! grep -q "$unit" "$DEST/verify/out" || fail "systemd-analyze verify warns: $(cat "$DEST/verify/out")"
        fi
done
TMPF=$DEST$TMPFILESDIR/hostdev.conf
[ -f "$TMPF" ] || fail "no $TMPFILESDIR/hostdev.conf"
grep -qE '^d /run/hostdev 0700 root root' "$TMPF" || fail "tmpfiles.d entry does not create /run/hostdev 0700: $(cat "$TMPF")"
if command -v systemd-tmpfiles >/dev/null && [ "$(id -u)" = 0 ]; then
        mkdir "$DEST/tmproot"
        systemd-tmpfiles --create --root="$DEST/tmproot" "$TMPF" 2>"$DEST/tmpfiles.err" ||
                fail "systemd-tmpfiles --create failed: $(cat "$DEST/tmpfiles.err")"
        [ "$(stat -c %a "$DEST/tmproot/run/hostdev")" = 700 ] || fail "systemd-tmpfiles did not create run/hostdev with mode 0700"
fi
echo ok
