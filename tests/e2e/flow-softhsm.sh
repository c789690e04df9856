#!/bin/sh
# SPDX-License-Identifier: ISC
# The whole flow with SoftHSM2: master and appliance tokens, the ceremony, a
# definition with two clients sealed by coffer-seal, manifest and signature,
# appliance-server on 127.0.0.1, coffer-get in env format (exact output) and
# exec mode, the second client's own shard, a clean stop; the audit log has
# names and no values.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

flow_softhsm
flow_ceremony
flow_client web
flow_client worker
flow_client stranger
flow_define "$TMP/def.toml" one
flow_seal_sign "$TMP/def.toml"
flow_start --workers 2

flow_check_web_worker one
# A key not in the definition is told so (exit 6, unknown client).
flow_get stranger
[ "$GOT_RC" = 6 ] || fail "stranger: exit $GOT_RC: $(cat "$TMP/got.err")"
[ -s "$TMP/got" ] && fail "stranger got output"

grep -q '"name":"web"' "$TMP/audit.jsonl" || fail "no audit record for web"
grep -q '"name":"worker"' "$TMP/audit.jsonl" || fail "no audit record for worker"
grep -q 'pw-one\|q-one' "$TMP/audit.jsonl" "$SRV_LOG" && fail "a value reached a log"
flow_stop
echo "flow with SoftHSM2: ok"
