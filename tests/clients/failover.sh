#!/bin/sh
# SPDX-License-Identifier: ISC
# Fail-over across servers: dead, silent (timeout), Error; all down.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/clients/lib.sh"

start_fake GOOD
start_fake SILENT silent
start_fake BUSY error
start_fake CHUNKED chunked
DEAD=$(dead_addr)
K="--server-key $TMP/server_pub.pem --key $TMP/client.pem"

# A dead first server is skipped.
coffer-get $K --server "$DEAD" --server "$GOOD" --format json > "$TMP/json"
cmp "$TMP/json" "$EXP/json" || fail "output after fail-over differs"

# A silent server costs one timeout, then the next answers.
start=$(date +%s%N)
coffer-get $K --timeout 500ms --server "$SILENT" --server "$GOOD" --format json > "$TMP/json"
ms=$((($(date +%s%N) - start) / 1000000))
cmp "$TMP/json" "$EXP/json" || fail "output after timeout differs"
[ "$ms" -ge 450 ] && [ "$ms" -lt 5000 ] || fail "timeout fail-over took ${ms}ms"
echo "timeout fail-over: ${ms}ms"

# A server answering Error is skipped too; alone it is exit 7 with its reason.
coffer-get $K --server "$BUSY" --server "$GOOD" > "$TMP/env"
cmp "$TMP/env" "$EXP/env" || fail "output after Error fail-over differs"
expect_exit 7 coffer-get $K --server "$BUSY"
grep -q 'maintenance: try later' "$TMP/err" || fail "Error reason not shown: $(cat "$TMP/err")"

# A shard in many OkGet frames.
coffer-get $K --server "$CHUNKED" --format json > "$TMP/json"
cmp "$TMP/json" "$EXP/json" || fail "chunked output differs"

# Every server down: exit 4, each one named.
DEAD2=$(dead_addr)
expect_exit 4 coffer-get $K --server "$DEAD" --server "$DEAD2"
grep -q "$DEAD" "$TMP/err" && grep -q "$DEAD2" "$TMP/err" || fail "servers not named: $(cat "$TMP/err")"
expect_exit 4 coffer-get $K --timeout 300ms --server "$SILENT"
grep -q 'timed out' "$TMP/err" || fail "timeout not reported: $(cat "$TMP/err")"
must_not_leak
echo ok
