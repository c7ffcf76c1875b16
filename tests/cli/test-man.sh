#!/bin/bash
# The man pages: hostdev(1) and hostdev-xml(5) are built (scdoc), render with man -l without
# warnings, have their sections, document every command and option `hostdev --help` shows and
# every environment variable of the contract; every XML example of the man pages,
# docs/examples.md and docs/usbip.md is well-formed and accepted by `hostdev validate`.
set -e
. "$(dirname "$0")/lib.sh"
: "${HOSTDEV_BUILDDIR:?HOSTDEV_BUILDDIR not set (run through meson test)}"
: "${HOSTDEV_SRCDIR:?HOSTDEV_SRCDIR not set (run through meson test)}"

command -v man >/dev/null || fail "man (man-db) is not installed"
MAN1=$HOSTDEV_BUILDDIR/docs/hostdev.1
MAN5=$HOSTDEV_BUILDDIR/docs/hostdev-xml.5
for f in "$MAN1" "$MAN5"; do
        [ -s "$f" ] || fail "$f was not built (is scdoc installed? meson option -Dman)"
done

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# render PAGE: the text man shows, in $OUT; groff's warnings fail the test.
render() {
        local err=$TMP/render.err
        OUT=$(MANPAGER=cat MANWIDTH=80 man --warnings -l "$1" 2>"$err") || fail "man -l $1 failed: $(cat "$err")"
        [ ! -s "$err" ] || fail "man -l $1 warns: $(cat "$err")"
        [ "$(printf '%s\n' "$OUT" | wc -l)" -gt 40 ] || fail "man -l $1 rendered almost nothing"
}
# section TEXT NAME: the section heading NAME is present (unindented line)
has_section() {
        printf '%s\n' "$1" | grep -qx -- "$2" || fail "section '$2' missing"
}

# --- hostdev(1) ---
render "$MAN1"
P1=$OUT
expect_match '^hostdev\(1\) ' "$P1" "hostdev(1) header"
for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS 'NODE DEVICE NAMES' 'INPUT FILES' ENVIRONMENT \
         'EXIT STATUS' FILES EXAMPLES 'SEE ALSO'; do
        has_section "$P1" "$s"
done

# Every command `hostdev --help` lists has its own entry in COMMANDS (a line starting with
# the command at the entry indent), and every option of its --help appears in the page.
expect_exit 0 hd --help
verbs=$(printf '%s\n' "$OUT" | sed -n '/^commands:/,/^$/p' | awk 'NF && !/^commands:/ { print $1 }')
[ "$(printf '%s\n' "$verbs" | wc -w)" -ge 16 ] || fail "hostdev --help lists too few commands: $verbs"
commands_text=$(printf '%s\n' "$P1" | sed -n '/^COMMANDS$/,/^OPTIONS$/p')
for v in $verbs; do
        printf '%s\n' "$commands_text" | grep -qE "^       $v( |$)" || fail "hostdev(1) COMMANDS has no entry for '$v'"
        expect_exit 0 hd "$v" --help
        for o in $(printf '%s\n' "$OUT" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
                [ "$o" = --help ] && continue
                printf '%s\n' "$P1" | grep -qF -- "$o" || fail "hostdev(1) does not mention '$o' (from '$v --help')"
        done
done
# every long option the commands' sources accept (getopt tables in src/cli/) is documented
# in hostdev(1) and in some command's --help
all_help=$(for v in $verbs; do hd "$v" --help; done)
src_opts=$(grep -ohE '\{ *"[a-z][a-z-]*", *(required|no|optional)_argument' "$HOSTDEV_SRCDIR"/src/cli/*.c |
        sed -E 's/\{ *"([^"]*)".*/\1/' | sort -u)
[ "$(printf '%s\n' "$src_opts" | wc -w)" -ge 5 ] || fail "found too few options in src/cli/*.c: $src_opts"
for o in $src_opts; do
        printf '%s\n' "$P1" | grep -qE -- "--$o([^a-z-]|$)" || fail "hostdev(1) does not document --$o (accepted in src/cli/)"
        printf '%s\n' "$all_help" | grep -qE -- "--$o([^a-z-]|$)" || fail "no command's --help shows --$o (accepted in src/cli/)"
done
for o in --help --version --connect --netns --root; do
        printf '%s\n' "$P1" | sed -n '/^OPTIONS$/,/^NODE DEVICE NAMES$/p' | grep -qE -- "^       $o" ||
                fail "hostdev(1) OPTIONS does not describe $o"
done
for e in HOSTDEV_SYSFS_ROOT HOSTDEV_DEV_ROOT HOSTDEV_PROC_ROOT HOSTDEV_STATE_DIR; do
        printf '%s\n' "$P1" | sed -n '/^ENVIRONMENT$/,/^EXIT STATUS$/p' | grep -qE "^       $e$" ||
                fail "hostdev(1) ENVIRONMENT does not describe $e"
done
status_text=$(printf '%s\n' "$P1" | sed -n '/^EXIT STATUS$/,/^FILES$/p')
for s in 0 1 2; do
        printf '%s\n' "$status_text" | grep -qE "^       $s$" || fail "hostdev(1) EXIT STATUS does not describe $s"
done
expect_match 'hostdev: error:' "$status_text" "EXIT STATUS names the error form"
expect_match '/run/hostdev' "$P1" "FILES"
# the dongle examples: by serial and by port
expect_match '<serial>' "$P1" "EXAMPLES by serial"
expect_match "port='4\.1'" "$P1" "EXAMPLES by port"

# --- hostdev-xml(5) ---
render "$MAN5"
P5=$OUT
expect_match '^hostdev-xml\(5\) ' "$P5" "hostdev-xml(5) header"
for s in NAME DESCRIPTION "LIBVIRT'S FORM" 'ATTRIBUTES AND CHILD ELEMENTS' "THE REVIEWED DESIGN'S FORM" "THE FIRST PATCH'S FORM" \
         NUMBERS 'USB EXTENSIONS' EXAMPLES 'SEE ALSO'; do
        has_section "$P5" "$s"
done
for form in "mode='subsystem' type='usb'" "mode='subsystem' type='pci'" "mode='subsystem' type='scsi'" \
            "type='scsi_host'" "type='mdev'" "mode='capabilities' type='storage'" \
            "mode='capabilities' type='misc'" "mode='capabilities' type='net'" "<interface type='hostdev'" \
            "mode='bus' bus='usb'" "mode='bus' bus='pci'" "mode='capability' type='net'" \
            "mode='capability' type='scsi'" "vendor='0204' product='6025'" "bus='001' device='007'" \
            '<serial>' "port='4.1'" '<remote host=' 'startupPolicy' 'managed'; do
        printf '%s\n' "$P5" | grep -qF -- "$form" || fail "hostdev-xml(5) does not show $form"
done
expect_match '0x0204' "$P5" "NUMBERS: the leading-zero rule"
expect_match 'octal' "$P5" "NUMBERS: decimal bus/device"

# Every XML example of the docs is well-formed and accepted by hostdev validate (wrapped in
# <devices> unless it is a whole <domain>): all ``` blocks of hostdev-xml(5), the blocks of
# hostdev(1) that start with '<', the ```xml blocks of docs/examples.md and docs/usbip.md.
command -v xmllint >/dev/null || fail "xmllint (libxml2-utils) is not installed"
extract() { # extract FILE PREFIX OPEN-FENCE-REGEX
        awk -v dir="$TMP" -v pfx="$2" -v open_re="$3" '
                inblock && /^```$/ { close(f); inblock = 0; next }
                !inblock && $0 ~ open_re { n++; f = sprintf("%s/%s%02d.xml", dir, pfx, n); inblock = 1; next }
                inblock { print > f }
        ' "$1"
}
extract "$HOSTDEV_SRCDIR/docs/hostdev-xml.5.scd" man5- '^```$'
extract "$HOSTDEV_SRCDIR/docs/hostdev.1.scd" man1- '^```$'
extract "$HOSTDEV_SRCDIR/docs/examples.md" examples- '^```xml$'
extract "$HOSTDEV_SRCDIR/docs/usbip.md" usbip- '^```xml$'
for ex in "$TMP"/man1-*.xml; do grep -q '^<' "$ex" || rm -f "$ex"; done
for pfx in man5 man1 examples usbip; do
        n=$(find "$TMP" -name "$pfx-*.xml" | wc -l)
        case $pfx in man5) min=10 ;; man1) min=2 ;; examples) min=5 ;; usbip) min=2 ;; esac
        [ "$n" -ge "$min" ] || fail "only $n XML examples found for $pfx"
done
for ex in "$TMP"/*.xml; do
        if grep -qE '^<(domain|devices)' "$ex"; then cp "$ex" "$ex.doc"; else { echo '<devices>'; cat "$ex"; echo '</devices>'; } >"$ex.doc"; fi
        xmllint --noout "$ex.doc" 2>"$TMP/xmllint.err" || fail "example $(basename "$ex") is not well-formed: $(cat "$TMP/xmllint.err")"
        expect_exit 0 hd validate "$ex.doc"
done
# the normalised form hostdev-xml(5) shows for the first patch's form is what validate prints
first=$(grep -l "vendor='0204' product='6025'" "$TMP"/man5-*.xml | head -1)
[ -n "$first" ] || fail "hostdev-xml(5) has no example of the first patch's form"
k=$(basename "$first" .xml); k=${k#man5-}; next=$(printf '%s/man5-%02d.xml.doc' "$TMP" $((10#$k + 1)))
[ -f "$next" ] || fail "no example follows the first patch's form in hostdev-xml(5)"
expect_exit 0 hd validate "$first.doc"; got=$OUT
expect_exit 0 hd validate "$next"
[ "$got" = "$OUT" ] || fail "hostdev-xml(5) shows the first patch's form normalised as: $(cat "$next") but validate prints: $got"
echo ok
