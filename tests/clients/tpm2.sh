#!/bin/sh
# SPDX-License-Identifier: ISC
# A client key wrapped by a TPM 2.0 (swtpm): keygen into a blob, id, fetch.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/clients/lib.sh"

start_swtpm
coffer-get keygen --tpm2 "$SWTPM_TCTI" --out "$TMP/client.blob" > "$TMP/tpm.id"
TPM_ID=$(cat "$TMP/tpm.id")
echo "$TPM_ID" | grep -Eq '^([0-9A-F]{4}-){15}[0-9A-F]{4}$' || fail "identity form: $TPM_ID"
[ "$(stat -c %a "$TMP/client.blob")" = 600 ] || fail "blob mode"
expect_exit 1 coffer-get keygen --tpm2 "$SWTPM_TCTI" --out "$TMP/client.blob"
[ "$(coffer-get id --tpm2 "$SWTPM_TCTI" --key "$TMP/client.blob")" = "$TPM_ID" ] || fail "id of the blob"

start_fake A ok "$TMP/server.pem" "$TPM_ID"
coffer-get --server "$A" --server-key "$TMP/server_pub.pem" --tpm2 "$SWTPM_TCTI" \
	--key "$TMP/client.blob" --format json > "$TMP/json"
cmp "$TMP/json" "$EXP/json" || fail "json with a TPM key differs"
# Another key than the registered one: unknown client.
expect_exit 6 coffer-get --server "$A" --server-key "$TMP/server_pub.pem" --key "$TMP/client.pem"
echo ok
