#!/bin/bash
# hostdev status names a SCSI claim by its LUN — adapter bus:target:unit — and the host's
# sg/block names when the claim recorded them, in the text table and in --json's identity
# (adapter, bus, target, unit, sg, block), as it names USB and PCI claims by theirs.
set -eu
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 is needed to check the status JSON"

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export HOSTDEV_STATE_DIR=$W/state TZ=UTC
mkdir -m 0700 "$W/state"
# vm-a's claim recorded the host's names; vm-b's (an older registry) only its node
cat >"$W/state/registry.json" <<'EOF2'
{
  "version": 1,
  "next_journal_id": 1,
  "domains": [ { "name": "vm-a", "pid": 0, "starttime": 0 }, { "name": "vm-b", "pid": 0, "starttime": 0 } ],
  "claims": [
    { "domain": "vm-a", "type": "scsi", "key": "scsi:scsi_2_0_3_1", "node": "scsi_2_0_3_1", "shareable": false,
      "since": 1764000000, "state": "attached",
      "scsi": { "host": 2, "bus": 0, "target": 3, "unit": 1, "sg": "sg4", "block": "sdc" } },
    { "domain": "vm-b", "type": "scsi", "key": "scsi:scsi_0_0_0_0", "node": "scsi_0_0_0_0", "shareable": false,
      "since": 1764000000, "state": "claimed" }
  ],
  "journal": [ ]
}
EOF2
chmod 0600 "$W/state/registry.json"

expect_exit 0 hd status
expect_match '^scsi_2_0_3_1 +scsi_host2 0:3:1 \(sg4, sdc\) +vm-a +2025-11-24 16:00:00 +attached$' "$(printf '%s\n' "$OUT" | grep vm-a)" "status line of vm-a"
expect_match '^scsi_0_0_0_0 +scsi_host0 0:0:0 +vm-b +2025-11-24 16:00:00 +claimed$' "$(printf '%s\n' "$OUT" | grep vm-b)" "status line of vm-b"

expect_exit 0 hd status --json
printf '%s' "$OUT" | python3 -c '
import json, sys
claims = {c["domain"]: c for c in json.load(sys.stdin)}
want = {
    "vm-a": {"adapter": "scsi_host2", "bus": 0, "target": 3, "unit": 1, "sg": "sg4", "block": "sdc"},
    "vm-b": {"adapter": "scsi_host0", "bus": 0, "target": 0, "unit": 0, "sg": None, "block": None},
}
for dom, ident in want.items():
    got = claims[dom]["identity"]
    assert got == ident, (dom, got)
' || fail "status --json identities: $OUT"
echo "ok"
