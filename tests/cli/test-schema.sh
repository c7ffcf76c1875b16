#!/bin/bash
# libvirt's own schema accepts our normalised output: every valid fixture's .out.xml (except the
# ones using our USB extensions <serial>, <address port=> and <remote>, which libvirt does not
# know) is wrapped in a minimal domain and checked with `virt-xml-validate FILE domain`.
# virt-xml-validate missing is a failure, not a skip.
set -e
. "$(dirname "$0")/lib.sh"
: "${HOSTDEV_TEST_DATA:?}"
X=$HOSTDEV_TEST_DATA/xml
command -v virt-xml-validate >/dev/null ||
        fail "virt-xml-validate not found: install libvirt-clients (Debian) / libvirt-client (Fedora)"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

ext_re="<serial>|<remote |<address bus='[0-9]+'( device='[0-9]+')? port="
checked=0 skipped=0
for out in "$X"/*.out.xml; do
        name=$(basename "$out" .out.xml)
        if grep -qE "$ext_re" "$out"; then
                skipped=$((skipped + 1))
                continue
        fi
        # our output, produced now by the CLI, must equal the fixture (so the schema checks what we print)
        hd validate "${out%.out.xml}.xml" > "$T/$name.norm" || fail "validate $name failed"
        cmp -s "$T/$name.norm" "$out" || fail "validate $name differs from its .out.xml"
        # the device elements: strip a <devices>/<domain> wrapper
        case "$(head -1 "$out")" in
        "<devices>") sed '1d;$d' "$out" > "$T/$name.dev" ;;
        "<devices/>") continue ;;
        "<domain>") sed -n '/^  <devices>$/,/^  <\/devices>$/p' "$out" | sed '1d;$d' > "$T/$name.dev" ;;
        *) cp "$out" "$T/$name.dev" ;;
        esac
        [ -s "$T/$name.dev" ] || continue
        {
                echo "<domain type='kvm'>"
                echo "  <name>t</name>"
                echo "  <memory>131072</memory>"
                echo "  <os><type arch='x86_64' machine='q35'>hvm</type></os>"
                echo "  <devices>"
                cat "$T/$name.dev"
                echo "  </devices>"
                echo "</domain>"
        } > "$T/$name.domain.xml"
        if ! virt-xml-validate "$T/$name.domain.xml" domain > "$T/log" 2>&1; then
                cat "$T/log" >&2
                fail "libvirt's schema rejects the normalised output of $name: $(cat "$T/$name.domain.xml")"
        fi
        checked=$((checked + 1))
done
echo "schema: $checked checked, $skipped use hostdev's USB extensions"
[ "$checked" -ge 25 ] || fail "only $checked outputs were schema-checked"
echo ok
