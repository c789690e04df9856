#!/bin/sh
# SPDX-License-Identifier: ISC
# tpm.sh COFFER_HSM TEST_EXE: TPM key and sealed PINs made by coffer-hsm in
# this process' children, then used by TEST_EXE (a new process) on one swtpm.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
hsm=$1 exe=$2
start_swtpm
export TSS2_LOG=${TSS2_LOG:-all+none}
export TPM2TOOLS_TCTI="$SWTPM_TCTI" # the test flushes our objects with tpm2_flushcontext
umask 077
printf 'pin-%s\n' "$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')" > "$TMP/pin"

"$hsm" keygen --tpm2 "$SWTPM_TCTI" --key-blob "$TMP/key.blob" --out "$TMP/key.pem" >/dev/null
[ "$(stat -c %a "$TMP/key.blob")" = 600 ] || fail "key blob is not mode 600"
"$hsm" keygen --tpm2 "$SWTPM_TCTI" --key-blob "$TMP/key.blob" 2>"$TMP/err" &&
	expected_fail "keygen overwrote a blob"
grep -q exists "$TMP/err" || fail "no clear error for an existing blob: $(cat "$TMP/err")"
"$hsm" pubkey --tpm2 "$SWTPM_TCTI" "$TMP/key.blob" | cmp -s - "$TMP/key.pem" ||
	fail "pubkey from the blob differs from keygen's"
echo "signed by the TPM" > "$TMP/data"
for mode in "" --plain-session; do
	# shellcheck disable=SC2086
	"$hsm" sign --tpm2 "$SWTPM_TCTI" $mode --key "$TMP/key.blob" --in "$TMP/data" --out "$TMP/sig"
	openssl dgst -sha256 -verify "$TMP/key.pem" -signature "$TMP/sig" "$TMP/data" >/dev/null ||
		fail "openssl does not verify the TPM signature ($mode)"
done

"$hsm" seal-pin --tpm2 "$SWTPM_TCTI" --pin-source "file:$TMP/pin" --out "$TMP/pin.blob" 2>/dev/null
"$hsm" seal-pin --tpm2 "$SWTPM_TCTI" --pcrs sha256:16 --pin-source "file:$TMP/pin" \
	--out "$TMP/pin-pcr.blob" 2>/dev/null
"$hsm" seal-pin --tpm2 "$SWTPM_TCTI" --pcrs sha256:99 --pin-source "file:$TMP/pin" \
	--out "$TMP/x.blob" 2>/dev/null && expected_fail "PCR 99 accepted"

TPM_TCTI=$SWTPM_TCTI KEY_BLOB=$TMP/key.blob KEY_PEM=$TMP/key.pem PIN_FILE=$TMP/pin \
	PIN_BLOB=$TMP/pin.blob PIN_PCR_BLOB=$TMP/pin-pcr.blob TEST_TMP=$TMP "$exe"
