#!/bin/sh
# SPDX-License-Identifier: ISC
# tpm2-pkcs11.sh COFFER_HSM: the master-key path through tpm2-pkcs11 on swtpm.
# A key made by tpm2_ptool signs through hsm/ (verified by openssl); ECDH is
# refused at open with a clear "lacks mechanism" message (tpm2-pkcs11 1.9 has
# no CKM_ECDH1_DERIVE).
set -eu
. "$COFFER_SRC/tests/helpers.sh"
hsm=$1
rate=$COFFER_BUILD/tests/bench/token-rate # built by default (meson test builds all first)
[ -x "$rate" ] || fail "$rate not built"
start_tpm2_pkcs11
module=$TPM2_PKCS11_MODULE

umask 077
pin=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
printf '%s' "$pin" > "$TMP/pin"
tpm2_ptool init >/dev/null
tpm2_ptool addtoken --pid=1 --label=master --sopin="so$pin" --userpin="$pin" >/dev/null
tpm2_ptool addkey --algorithm=ecc256 --label=master --key-label=signer --userpin="$pin" >/dev/null
tpm2_flushcontext -t >/dev/null 2>&1 || true

tok=pkcs11:token=master
"$hsm" list --pkcs11-module "$module" --token "$tok" --pin-source "file:$TMP/pin" > "$TMP/list"
grep -q '^private  P-256.*label=signer$' "$TMP/list" || fail "list: $(cat "$TMP/list")"
"$hsm" pubkey --pkcs11-module "$module" --token "$tok" --pin-source "file:$TMP/pin" \
	"pkcs11:token=master;object=signer" > "$TMP/pub.pem"
echo "crypto_manifest.json bytes" > "$TMP/data"
"$hsm" sign --pkcs11-module "$module" --token "$tok" --pin-source "file:$TMP/pin" \
	--key signer --in "$TMP/data" --out "$TMP/sig"
openssl dgst -sha256 -verify "$TMP/pub.pem" -signature "$TMP/sig" "$TMP/data" >/dev/null ||
	fail "openssl does not verify the tpm2-pkcs11 signature"

# Two threads signing at once (tpm2-pkcs11's C_OpenSession is not
# thread-safe: hsm/ opens sessions one at a time); token-rate verifies
# signatures and fails on any error.
"$rate" --pkcs11-module "$module" --token "$tok" --pin-source "file:$TMP/pin" --key signer \
	--sign-only --threads 2 --seconds 1 > "$TMP/rate" || fail "signing on 2 threads: $(cat "$TMP/rate")"
cat "$TMP/rate"

# ECDH: refused at open, naming the mechanism.
"$hsm" keygen --pkcs11-module "$module" --token "$tok" --pin-source "file:$TMP/pin" \
	--label sealing --usage derive 2>"$TMP/err" && expected_fail "ECDH key on tpm2-pkcs11"
grep -q "lacks mechanism CKM_ECDH1_DERIVE" "$TMP/err" || fail "unclear error: $(cat "$TMP/err")"
# Wrong PIN: a clear error.
printf 'wrong' > "$TMP/bad"
"$hsm" list --pkcs11-module "$module" --token "$tok" --pin-source "file:$TMP/bad" 2>"$TMP/err" &&
	expected_fail "wrong PIN accepted"
grep -q CKR_PIN_INCORRECT "$TMP/err" || fail "unclear error: $(cat "$TMP/err")"
echo "tpm2-pkcs11: signature verified, ECDH refused"
