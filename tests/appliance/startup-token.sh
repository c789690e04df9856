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


# A bare key label names the key on the module's only token: the token step
# passes (this bundle's stand-in sealed file then stops it at 'bundle').
bare() {
	"$SRV" --pkcs11-module "$COFFER_PKCS11_MODULE" --key server \
		--pin-source "file:$COFFER_PIN_FILE" --listen "127.0.0.1:$PORT" \
		--state-file "$TMP/state/serial" --bundle "$B" --trust-anchor "$ANCHOR" --check \
		>"$TMP/out" 2>"$TMP/err" || true
}
bare
grep -q "key pkcs11:token=$COFFER_TOKEN_LABEL;object=server" "$TMP/err" ||
	fail "a bare --key label did not open the key: $(cat "$TMP/err")"
# With a second token, a bare label is ambiguous: refused at the token step.
"$COFFER_SRC/softhsm-conf/make-token.sh" "$TMP/softhsm" other >/dev/null
bare
grep -q "start-up check 'token'" "$TMP/err" || fail "two tokens: $(cat "$TMP/err")"

# A TPM key blob has no PIN: --pin-source with --tpm2 is a usage error.
st=0
"$SRV" --tpm2 swtpm:port=1 --key-blob "$TMP/none.blob" --pin-source "file:$COFFER_PIN_FILE" \
	--bundle "$B" --trust-anchor "$ANCHOR" --listen "127.0.0.1:$PORT" --check \
	>"$TMP/out" 2>"$TMP/err" || st=$?
[ "$st" = 2 ] || fail "--tpm2 with --pin-source: exit $st, expected 2"
grep -q "a TPM key blob has no PIN" "$TMP/err" || fail "no reason: $(cat "$TMP/err")"

echo "startup-token: ok"
