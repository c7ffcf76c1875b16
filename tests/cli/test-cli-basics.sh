#!/bin/bash
# The dispatcher: --version, --help, per-verb --help, unknown verbs, exit codes.
set -e
. "$(dirname "$0")/lib.sh"

expect_exit 0 hd --version
expect_match '^hostdev [0-9]+\.[0-9]+\.[0-9]+$' "$OUT" "--version"
expect_exit 0 hd --help
TOP=$OUT
for v in list dumpxml validate resolve qemu-args attach-device detach-device run nodedev-detach \
         nodedev-reattach nodedev-reset status release watch export unexport; do
        expect_match "  $v " "$TOP" "--help lists $v"
        expect_exit 0 hd "$v" --help
        expect_match "^usage: hostdev $v" "$OUT" "$v --help"
        expect_match "example:" "$OUT" "$v --help example"
done
expect_exit 2 hd no-such-verb
expect_match '^hostdev: error: unknown command' "$ERR"
expect_exit 2 hd
echo ok
