#!/bin/sh
# SPDX-License-Identifier: ISC
#
# The ceremony with a TPM (swtpm): the master key generated and used for
# signing through tpm2-pkcs11 (signing only), the appliance key generated in
# the TPM through tpm2-tss as a wrapped blob (ECDH); the bundle verifies with
# provision-master and with plain OpenSSL.
set -eu
. "$COFFER_SRC/tests/helpers.sh"

PM=provision-master
B=$TMP/bundle

start_tpm2_pkcs11
module=$TPM2_PKCS11_MODULE
flush() { /usr/bin/tpm2_flushcontext -t >/dev/null 2>&1 || true; }

umask 077
pin=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
printf '%s' "$pin" >"$TMP/pin"
tpm2_ptool init >/dev/null
tpm2_ptool addtoken --pid=1 --label=master --sopin="so$pin" --userpin="$pin" >/dev/null
flush
umask 022
M="--pkcs11-module $module --token pkcs11:token=master --pin-source file:$TMP/pin"

# shellcheck disable=SC2086
status 0 $PM init --bundle "$B" $M --note "master in the TPM"
FPR=$(cat "$TMP/out")
flush
status 0 $PM server-key srv1 --bundle "$B" --tpm2 "$SWTPM_TCTI" --key-blob "$TMP/srv1.blob" \
	--note "appliance key in the TPM"
[ -s "$TMP/srv1.blob" ] || fail "no key blob"
[ -s "$B/keys/srv1_public.pem" ] || fail "no appliance public key"
grep -q " step=server-key name=srv1 .* backend=tpm2 " "$B/ceremony.log" || fail "server-key line"
flush
head -c 1024 /dev/urandom >"$B/coffer.sealed"
status 0 $PM manifest --bundle "$B"
# shellcheck disable=SC2086
status 0 $PM sign --bundle "$B" $M --note "signed by the TPM"
flush
openssl dgst -sha256 -verify "$B/master_signing_public.pem" \
	-signature "$B/crypto_manifest.json.sig" "$B/crypto_manifest.json" >/dev/null ||
	fail "OpenSSL does not verify the TPM's signature"
status 0 $PM verify --bundle "$B" --trust-anchor "$FPR"
grep -q "^OK serial 1 files 4 master $FPR\$" "$TMP/out" || fail "verify: $(cat "$TMP/out")"
status 0 $PM log-verify --bundle "$B"
echo "ceremony with a TPM passed"
