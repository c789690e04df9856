#!/bin/sh
# SPDX-License-Identifier: ISC
# --audit-required: when the audit record of a release cannot be written
# (the audit log is /dev/full, so every write fails with ENOSPC), the server
# refuses the release with an Error ("audit unavailable"; coffer-get exit 7)
# and sends no secret; without the flag the release goes ahead and the
# failure is only logged.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

flow_softhsm
flow_ceremony
flow_client web
flow_client worker
flow_define "$TMP/def.toml" one
flow_seal_sign "$TMP/def.toml"

# The audit log is a device that refuses every write (the last --audit-log
# given wins over flow_start's own).
flow_start --audit-required --audit-log /dev/full
flow_get web --format env
[ "$GOT_RC" = 7 ] || fail "with --audit-required: exit $GOT_RC (want 7): $(cat "$TMP/got.err")"
grep -q "audit unavailable" "$TMP/got.err" || fail "no reason: $(cat "$TMP/got.err")"
[ -s "$TMP/got" ] && fail "a secret left although its audit record could not be written"
grep -q "pw-one" "$TMP/got.err" && fail "a value reached the error text"
flow_alive "after a refused release"
flow_stop

PORT=$(random_port)
flow_start --audit-log /dev/full
flow_get web --format env
[ "$GOT_RC" = 0 ] || fail "without --audit-required: exit $GOT_RC: $(cat "$TMP/got.err")"
expect_web one
grep -q "audit" "$SRV_LOG" || fail "the failed audit write was not logged"
flow_stop
echo "audit-required: ok"
