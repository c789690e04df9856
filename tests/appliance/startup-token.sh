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

# The token: every failure there (no token, a wrong PIN, no key, a PIN file
# others can read) is a token error, exit 3.
APPL_EXIT=3
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
APPL_EXIT=1
# A bare --key is the key's label on the only token, or on the one --token names
# (label or URI); the bundle's garbage coffer.sealed then stops the start-up at
# unsealing, after the token and the key were opened.
appl_refuse "unseal $B/coffer.sealed" --bundle "$B" --trust-anchor "$ANCHOR" --key server
appl_refuse "unseal $B/coffer.sealed" --bundle "$B" --trust-anchor "$ANCHOR" \
	--token "$COFFER_TOKEN_LABEL" --key server
appl_refuse "unseal $B/coffer.sealed" --bundle "$B" --trust-anchor "$ANCHOR" \
	--token "$COFFER_TOKEN_URI" --key "pkcs11:object=server"
APPL_EXIT=3
appl_refuse "start-up check 'token'" --bundle "$B" --trust-anchor "$ANCHOR" --key nosuchkey
grep -q nosuchkey "$TMP/err" || fail "the missing bare-label key is not named"
grep -q "no token nosuchkey" "$TMP/err" && fail "a bare --key is taken as a token label"
appl_refuse "start-up check 'token'" --bundle "$B" --trust-anchor "$ANCHOR" \
	--token nosuchtoken --key server
grep -q nosuchtoken "$TMP/err" || fail "the missing --token is not named"
chmod 644 "$TMP/wrong.pin"
appl_refuse "start-up check 'token'" --bundle "$B" --trust-anchor "$ANCHOR" \
	--pin-source "file:$TMP/wrong.pin"

echo "startup-token: ok"
