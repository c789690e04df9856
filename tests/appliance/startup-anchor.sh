#!/bin/sh
# SPDX-License-Identifier: ISC
# --trust-anchor token:LABEL: the master key's fingerprint comes from a
# public-key object in the appliance's token (coffer-hsm import-anchor).
# The right object lets a real bundle start; a different key's object is
# refused at the trust-anchor check; a missing object is named. SIGHUP
# reads the object again.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/appliance/lib.sh"

HSM=${COFFER_HSM:?}
PORT=$(random_port)
appl_token appliance
P="--pkcs11-module $COFFER_PKCS11_MODULE --token $COFFER_TOKEN_URI --pin-source file:$COFFER_PIN_FILE"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/companion.pem" 2>/dev/null
chmod 600 "$TMP/companion.pem"
openssl pkey -in "$TMP/companion.pem" -pubout -out "$TMP/companion_public.pem"
printf '[clients]\nweb = "%s"\n\n[web]\npass = "x"\n' \
	"$(openssl pkey -in "$TMP/companion.pem" -pubout -outform DER | sha256sum | cut -d' ' -f1 |
		tr a-f A-F | sed 's/.\{4\}/&-/g; s/-$//')" >"$TMP/def.toml"
coffer-seal seal --companion "$TMP/companion.pem" --recipient "$SERVER_PUB" "$TMP/def.toml" \
	-o "$TMP/def.sealed" >/dev/null || fail "coffer-seal"
SEALED=$TMP/def.sealed appl_bundle "$TMP/bundle" 5
B=$TMP/bundle
mkdir -p "$B/companions"
cp "$TMP/companion_public.pem" "$B/companions/"
appl_resign "$B" 5

# The master public key, and another key, as anchor objects in the token.
openssl pkey -in "$MASTER_KEY" -pubout -out "$TMP/master_public.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null |
	openssl pkey -pubout -out "$TMP/other_public.pem"
# shellcheck disable=SC2086
"$HSM" import-anchor $P --label master "$TMP/master_public.pem" >"$TMP/imp" ||
	fail "import-anchor master"
grep -q "^master $ANCHOR\$" "$TMP/imp" || fail "import-anchor printed $(cat "$TMP/imp")"
# shellcheck disable=SC2086
"$HSM" import-anchor $P --label other "$TMP/other_public.pem" >/dev/null ||
	fail "import-anchor other"

# The right object: --check passes (and records nothing), then a real start.
st=0
# shellcheck disable=SC2046
"$SRV" $(appl_args) --bundle "$B" --trust-anchor token:master --check >"$TMP/out" 2>"$TMP/err" ||
	st=$?
[ "$st" = 0 ] || { cat "$TMP/err" >&2; fail "token:master --check exit $st"; }
grep -q "ok: bundle serial 5" "$TMP/out" || fail "--check output: $(cat "$TMP/out")"
grep -q "master $ANCHOR" "$TMP/err" || fail "the anchor's fingerprint is not logged"

# A different key's object, and no object: refused, nothing listens.
appl_refuse "check 'trust-anchor' failed" --bundle "$B" --trust-anchor token:other
appl_refuse "trust anchor token:nosuch" --bundle "$B" --trust-anchor token:nosuch

# Serving with the right object; a reload reads the object again: once it
# is replaced by the other key, a new bundle is refused and serving goes on.
appl_start --bundle "$B" --trust-anchor token:master
pkcs11-tool --module "$COFFER_PKCS11_MODULE" --token-label "$COFFER_TOKEN_LABEL" --login \
	--pin "$(cat "$COFFER_PIN_FILE")" --delete-object --type pubkey --label master >/dev/null 2>&1 ||
	fail "delete the anchor object"
# shellcheck disable=SC2086
"$HSM" import-anchor $P --label master "$TMP/other_public.pem" >/dev/null ||
	fail "import-anchor replacement"
appl_resign "$B" 6
kill -HUP "$SRV_PID"
i=0
until grep -q "reload failed" "$TMP/server.log"; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { cat "$TMP/server.log" >&2; fail "no reload failure logged"; }
	sleep 0.1
done
grep "reload failed" "$TMP/server.log" | grep -q "trust-anchor" ||
	fail "the reload failure does not name the trust anchor: $(cat "$TMP/server.log")"
kill -0 "$SRV_PID" || fail "the server stopped after a refused reload"
kill -TERM "$SRV_PID"
wait "$SRV_PID" || fail "SIGTERM exit status"
echo "startup-anchor: ok"
