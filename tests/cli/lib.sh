# Helpers for CLI tests. Source this; then use `expect_exit`, `expect_match`, `fail`.
set -u
: "${HOSTDEV_BIN:?HOSTDEV_BIN not set (run through meson test)}"
hd() { "$HOSTDEV_BIN" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_exit CODE CMD... : run CMD, capture stdout/stderr in $OUT/$ERR, check exit code.
expect_exit() {
        local want=$1; shift
        local of ef
        of=$(mktemp); ef=$(mktemp)
        set +e; "$@" >"$of" 2>"$ef"; RC=$?; set -e
        OUT=$(cat "$of"); ERR=$(cat "$ef"); rm -f "$of" "$ef"
        [ "$RC" = "$want" ] || fail "'$*' exited $RC, want $want; stderr: $ERR"
}
expect_match() { # expect_match PATTERN TEXT [what]
        printf '%s' "$2" | grep -qE -- "$1" || fail "${3:-output} does not match /$1/: $2"
}
expect_nomatch() {
        if printf '%s' "$2" | grep -qE -- "$1"; then fail "${3:-output} unexpectedly matches /$1/: $2"; fi
}
