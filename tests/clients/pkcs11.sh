#!/bin/sh
# SPDX-License-Identifier: ISC
# A client key inside a SoftHSM2 token: keygen there, then fetch with it.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/clients/lib.sh"

make_token host
coffer-get keygen --pkcs11-module "$COFFER_PKCS11_MODULE" --token "$COFFER_TOKEN_URI" \
	--pin-source "file:$COFFER_PIN_FILE" --label coffer-client > "$TMP/token.id"
TOKEN_ID=$(cat "$TMP/token.id")
URI="$COFFER_TOKEN_URI;object=coffer-client"
P11="--pkcs11-module $COFFER_PKCS11_MODULE --pin-source file:$COFFER_PIN_FILE"
[ "$(coffer-get id --key "$URI" $P11)" = "$TOKEN_ID" ] || fail "id of the token key"
expect_exit 1 coffer-get keygen --pkcs11-module "$COFFER_PKCS11_MODULE" --token "$COFFER_TOKEN_URI" \
	--pin-source "file:$COFFER_PIN_FILE" --label coffer-client

start_fake A ok "$TMP/server.pem" "$TOKEN_ID"
coffer-get --server "$A" --server-key "$TMP/server_pub.pem" --key "$URI" $P11 --format json > "$TMP/json"
cmp "$TMP/json" "$EXP/json" || fail "json with a token key differs"

# The same through the config file.
cat > "$TMP/client.yaml" <<EOT
servers: [$A]
server-key: $TMP/server_pub.pem
key: "$URI"
pkcs11-module: $COFFER_PKCS11_MODULE
pin-source: file:$COFFER_PIN_FILE
EOT
coffer-get --config "$TMP/client.yaml" > "$TMP/env"
cmp "$TMP/env" "$EXP/env" || fail "env with a token key via config differs"

# A PIN from the environment is consumed, not passed on to an exec'd child.
COFFER_TEST_PIN=$(cat "$COFFER_PIN_FILE") coffer-get --server "$A" --server-key "$TMP/server_pub.pem" \
	--key "$URI" --pkcs11-module "$COFFER_PKCS11_MODULE" --pin-source env:COFFER_TEST_PIN \
	--only PORT -- env > "$TMP/child.env"
grep -qx 'PORT=5432' "$TMP/child.env" || fail "exec with an env: PIN"
! grep -q '^COFFER_TEST_PIN=' "$TMP/child.env" || fail "the PIN reached the child's environment"

# A wrong PIN is a token error (exit 3), not a network one.
printf 'wrong-pin' > "$TMP/bad.pin"
chmod 600 "$TMP/bad.pin"
expect_exit 3 coffer-get --server "$A" --server-key "$TMP/server_pub.pem" --key "$URI" \
	--pkcs11-module "$COFFER_PKCS11_MODULE" --pin-source "file:$TMP/bad.pin"
echo ok
