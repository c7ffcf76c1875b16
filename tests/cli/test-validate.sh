#!/bin/bash
# hostdev validate: normalised output and exit 0 for valid input; `hostdev: error: FILE:LINE: ...`
# and exit 2 for invalid or unreadable input; stdin as `-`; output is a fixed point.
set -e
. "$(dirname "$0")/lib.sh"
: "${HOSTDEV_TEST_DATA:?}"
X=$HOSTDEV_TEST_DATA/xml
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# every valid fixture: the expected bytes on stdout, nothing on stderr, and a fixed point
n=0
for out in "$X"/*.out.xml; do
        in=${out%.out.xml}.xml
        expect_exit 0 hd validate "$in"
        [ -z "$ERR" ] || fail "validate $in wrote to stderr: $ERR"
        hd validate "$in" > "$T/got.xml"
        cmp -s "$T/got.xml" "$out" || fail "validate $in differs from $out: $(diff "$T/got.xml" "$out")"
        hd validate "$T/got.xml" > "$T/again.xml"
        cmp -s "$T/got.xml" "$T/again.xml" || fail "validate is not idempotent on $in"
        n=$((n + 1))
done
[ "$n" -ge 30 ] || fail "only $n valid fixtures"

# every invalid fixture: exit 2, one line `hostdev: error: PATH:LINE: message`, nothing on stdout
n=0
for e in "$X"/*.err; do
        in=${e%.err}.xml
        expect_exit 2 hd validate "$in"
        [ -z "$OUT" ] || fail "validate $in printed output despite the error: $OUT"
        [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "validate $in: more than one stderr line: $ERR"
        want=$(cat "$e")
        # the fixture names the file by its basename; the CLI names it as given
        want=${want#"$(basename "$in")"}
        case "$ERR" in
        "hostdev: error: $in$want"*) ;;
        *) fail "validate $in: stderr '$ERR' does not start with 'hostdev: error: $in$want'" ;;
        esac
        expect_match "^hostdev: error: $in:[0-9]+: " "$ERR" "stderr of $in"
        n=$((n + 1))
done
[ "$n" -ge 30 ] || fail "only $n invalid fixtures"

# stdin
expect_exit 0 hd validate - < "$X/patch-vendor-product.xml"
[ "$OUT" = "$(cat "$X/patch-vendor-product.out.xml")" ] || fail "validate - (stdin) output: $OUT"
printf "<hostdev mode='subsystem' type='usb'>\n<source><vendor id='0204'/></source></hostdev>\n" > "$T/in"
expect_exit 2 hd validate - < "$T/in"
expect_match "^hostdev: error: <stdin>:2: <vendor id='0204'>: .*write id='0x0204'" "$ERR"

# unreadable input
expect_exit 2 hd validate "$T/does-not-exist.xml"
expect_match "^hostdev: error: cannot read $T/does-not-exist.xml: No such file or directory$" "$ERR"
expect_exit 2 hd validate "$T"
expect_match "^hostdev: error: .*$T" "$ERR"
if [ "$(id -u)" != 0 ]; then
        cp "$X/usb-serial.xml" "$T/noperm.xml"; chmod 000 "$T/noperm.xml"
        expect_exit 2 hd validate "$T/noperm.xml"
        expect_match "^hostdev: error: cannot read $T/noperm.xml: Permission denied$" "$ERR"
fi

# too large: 16 MiB + 1
head -c $((16 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' > "$T/big.xml"
expect_exit 2 hd validate "$T/big.xml"
expect_match "^hostdev: error: $T/big.xml: input larger than 16 MiB$" "$ERR"

# usage errors
expect_exit 2 hd validate
expect_match "^hostdev: error: validate: missing FILE" "$ERR"
expect_exit 2 hd validate a.xml b.xml
expect_match "^hostdev: error: validate: too many arguments" "$ERR"
expect_exit 2 hd validate --bogus "$X/usb-serial.xml"
expect_match "^hostdev: error: validate: unknown option '--bogus'" "$ERR"
echo ok
