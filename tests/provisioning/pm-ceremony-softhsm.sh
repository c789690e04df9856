#!/bin/sh
# SPDX-License-Identifier: ISC
#
# The whole ceremony from an empty directory with real SoftHSM2 tokens: the
# master key and an appliance key generated in their tokens, a companion key
# registered, manifest, sign in the token, verify with provision-master and
# with plain OpenSSL, the log checked; a second round grows the serial; a
# signature by the wrong token key is refused; token-signed bundles are
# refused once tampered.
set -eu
. "$COFFER_SRC/tests/helpers.sh"

PM=provision-master
B=$TMP/bundle

make_token appliance
APP_URI=$COFFER_TOKEN_URI
APP_PIN=$COFFER_PIN_FILE
make_token master
MOD=$COFFER_PKCS11_MODULE
M="--pkcs11-module $MOD --token $COFFER_TOKEN_URI --pin-source file:$COFFER_PIN_FILE"

# ---- the ceremony --------------------------------------------------------
# shellcheck disable=SC2086
status 0 $PM init --bundle "$B" $M --note "ceremony 1"
FPR=$(cat "$TMP/out")
echo "$FPR" | grep -Eq '^sha256:[0-9a-f]{64}$' || fail "init printed '$FPR'"
[ "$FPR" = "sha256:$(openssl pkey -pubin -in "$B/master_signing_public.pem" -outform DER | sha256sum | cut -d' ' -f1)" ] ||
	fail "printed fingerprint is not the PEM's"
# shellcheck disable=SC2086
status 1 $PM init --bundle "$B" $M
says "already exists"

# The private key stays in the token: sensitive, never extractable, sign only.
pkcs11-tool --module "$MOD" --token-label master --login --pin "$(cat "$COFFER_PIN_FILE")" \
	--list-objects --type privkey >"$TMP/objs" 2>/dev/null
grep -q 'label: *coffer-master' "$TMP/objs" || { cat "$TMP/objs"; fail "no master key object"; }
grep -q 'never extractable' "$TMP/objs" || { cat "$TMP/objs"; fail "master key extractable"; }
grep -q 'Usage:.*sign' "$TMP/objs" || { cat "$TMP/objs"; fail "master key cannot sign"; }
! grep -q 'Usage:.*derive' "$TMP/objs" || { cat "$TMP/objs"; fail "master key can derive"; }

status 0 $PM server-key srv1 --bundle "$B" --pkcs11-module "$MOD" --token "$APP_URI" \
	--pin-source "file:$APP_PIN" --note "appliance srv1"
SRV_FPR=$(cat "$TMP/out")
[ -s "$B/keys/srv1_public.pem" ] || fail "no keys/srv1_public.pem"
pkcs11-tool --module "$MOD" --token-label appliance --login --pin "$(cat "$APP_PIN")" \
	--list-objects --type privkey >"$TMP/objs" 2>/dev/null
grep -q 'Usage:.*derive' "$TMP/objs" || { cat "$TMP/objs"; fail "appliance key cannot derive"; }
status 1 $PM server-key srv1 --bundle "$B" --pkcs11-module "$MOD" --token "$APP_URI" \
	--pin-source "file:$APP_PIN"
says "already exists"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/comp.pem" 2>/dev/null
openssl pkey -in "$TMP/comp.pem" -pubout -out "$TMP/comp_pub.pem"
status 0 $PM add-key --companion companion "$TMP/comp_pub.pem" --bundle "$B"
head -c 2048 /dev/urandom >"$B/coffer.sealed"

status 0 $PM manifest --bundle "$B" --note "first manifest"
[ "$(cat "$TMP/out")" = "serial 1" ] || fail "serial"
# shellcheck disable=SC2086
status 0 $PM sign --bundle "$B" $M --note "signed after review"
grep -Eq '^serial 1 sha256:[0-9a-f]{64}$' "$TMP/out" || fail "sign output $(cat "$TMP/out")"
[ "$(sed 's/^serial 1 //' "$TMP/out")" = "sha256:$(sha256sum <"$B/crypto_manifest.json" | cut -d' ' -f1)" ] ||
	fail "printed digest is not the manifest's"

openssl dgst -sha256 -verify "$B/master_signing_public.pem" \
	-signature "$B/crypto_manifest.json.sig" "$B/crypto_manifest.json" >/dev/null ||
	fail "OpenSSL does not verify the token's signature"
status 0 $PM verify --bundle "$B" --trust-anchor "$FPR"
grep -q "^OK serial 1 files 5 master $FPR\$" "$TMP/out" || fail "verify: $(cat "$TMP/out")"
status 0 $PM log-verify --bundle "$B"
grep -q '^OK lines 5 ' "$TMP/out" || fail "log lines: $(cat "$TMP/out")"
for step in init server-key add-key manifest sign; do
	grep -q " step=$step " "$B/ceremony.log" || fail "no $step line"
done
grep -q " step=server-key name=srv1 fpr=$SRV_FPR " "$B/ceremony.log" || fail "server-key line"
grep -q " step=sign serial=1 fpr=$FPR " "$B/ceremony.log" || fail "sign line"

# ---- a token-signed bundle, tampered --------------------------------------
refused() { # refused CHECK FILE (on $T)
	st=0
	$PM verify --bundle "$T" --trust-anchor "$FPR" >/dev/null 2>"$TMP/err" || st=$?
	[ "$st" -eq 1 ] || { cat "$TMP/err" >&2; fail "exit $st for $1 $2"; }
	says "check '$1' failed for $2"
}
T=$TMP/t
for f in master_signing_public.pem keys/srv1_public.pem coffer.sealed ceremony.log; do
	rm -rf "$T"; cp -a "$B" "$T"
	# Bytes after the PEM block leave the key (and the anchor) intact: the hash catches them.
	printf 'x' >>"$T/$f"
	refused hash "$f"
done
rm -rf "$T"; cp -a "$B" "$T"; sed -i 's/"serial": 1/"serial": 7/' "$T/crypto_manifest.json"
refused signature crypto_manifest.json

# ---- sign refuses a stale manifest and a wrong key ------------------------
echo "added later" >"$B/notes.txt"
cp "$B/ceremony.log" "$TMP/log-before"
# shellcheck disable=SC2086
status 1 $PM sign --bundle "$B" $M
says "run manifest again"
cmp -s "$B/ceremony.log" "$TMP/log-before" || fail "a refused sign changed the log"
status 0 $PM manifest --bundle "$B"
# Another key in the master token is not the bundle's master key.
# shellcheck disable=SC2086
status 0 $PM init --bundle "$TMP/other" $M --label other-key
# shellcheck disable=SC2086
status 1 $PM sign --bundle "$B" $M --label other-key
says "not the bundle's master key"
[ ! -e "$B/crypto_manifest.json.sig" ] || fail "a wrong signature was written"
# shellcheck disable=SC2086
# A key missing from the token and a wrong PIN are token errors: exit 3, as
# provision-master(8) says.
status 3 $PM sign --bundle "$B" $M --label no-such-key
printf 'wrong-pin' >"$TMP/bad.pin"
chmod 600 "$TMP/bad.pin"
status 3 $PM sign --bundle "$B" --pkcs11-module "$MOD" --token "$COFFER_TOKEN_URI" \
	--pin-source "file:$TMP/bad.pin"
says "CKR_PIN_INCORRECT"
status 3 $PM server-key srv9 --bundle "$B" --pkcs11-module "$MOD" --token "$APP_URI" \
	--pin-source "file:$TMP/bad.pin"
[ ! -e "$B/keys/srv9_public.pem" ] || fail "a key was registered after a wrong PIN"

# ---- second round: the serial grows, the state file refuses rollback --------
# shellcheck disable=SC2086
status 0 $PM sign --bundle "$B" $M --note "round 2"
grep -q '^serial 2 ' "$TMP/out" || fail "round 2 serial"
status 0 $PM verify --bundle "$B" --trust-anchor "$FPR" --state "$TMP/state" --update-state
[ "$(cat "$TMP/state")" = 2 ] || fail "state"
T=$TMP/t; rm -rf "$T"; cp -a "$B" "$T"
status 0 $PM manifest --bundle "$T"
st=0
$PM verify --bundle "$T" --trust-anchor "$FPR" >/dev/null 2>"$TMP/err" || st=$?
[ "$st" -eq 1 ] || fail "unsigned manifest accepted"
echo "ceremony with SoftHSM2 tokens passed"
