#!/bin/sh
# SPDX-License-Identifier: ISC
# token.sh TEST: run the in-memory conversation with the server key in a
# fresh SoftHSM2 token.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
make_token appliance
coffer-hsm keygen --pkcs11-module "$COFFER_PKCS11_MODULE" --token "$COFFER_TOKEN_URI" \
	--pin-source "file:$COFFER_PIN_FILE" --label server --usage derive >/dev/null 2>&1
"$1" "$COFFER_PKCS11_MODULE" "$COFFER_TOKEN_URI" "file:$COFFER_PIN_FILE" server
