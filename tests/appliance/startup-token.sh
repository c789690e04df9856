#!/bin/sh
# SPDX-License-Identifier: ISC
# Start-up refusals at the token step, with a real SoftHSM2 token: each
# stops the server with the exact reason, and nothing listens.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/appliance/lib.sh"

PORT=$(random_port)
appl_token appliance
appl_bundle "$TMP/bundle" 5
B=$TMP/bundle

# The token.
appl_refuse "start-up check 'token'" --bundle "$B" --trust-anchor "$ANCHOR" \
	--key "pkcs11:token=nosuchtoken;object=server"
grep -q nosuchtoken "$TMP/err" || fail "the missing token is not named"
printf 'wrong-pin' >"$TMP/wrong.pin"
chmod 600 "$TMP/wrong.pin"
appl_refuse "start-up check 'token'" --bundle "$B" --trust-anchor "$ANCHOR" \
	--pin-source "file:$TMP/wrong.pin"
grep -qi "pin" "$TMP/err" || fail "a wrong PIN is not named"
appl_refuse "start-up check 'token'" --bundle "$B" --trust-anchor "$ANCHOR" \
	--key "pkcs11:token=$COFFER_TOKEN_LABEL;object=nosuchkey"
grep -q nosuchkey "$TMP/err" || fail "the missing key is not named"
chmod 644 "$TMP/wrong.pin"
appl_refuse "start-up check 'token'" --bundle "$B" --trust-anchor "$ANCHOR" \
	--pin-source "file:$TMP/wrong.pin"

echo "startup-token: ok"
