#!/bin/sh
# SPDX-License-Identifier: ISC
# The whole flow with swtpm: the master key in the TPM through tpm2-pkcs11
# (signing), the appliance key as a native TPM blob (ECDH through tpm2-tss);
# the same definition, seal, sign, serve and fetch checks as flow-softhsm.sh;
# the audit checkpoints signed by a second TPM key blob.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

flow_tpm
flow_ceremony
[ -s "$TMP/appl.blob" ] || fail "server-key --tpm2 wrote no key blob"
grep -q " step=server-key name=appl .* backend=tpm2 " "$B/ceremony.log" || fail "ceremony log: server-key"
flow_client web
flow_client worker
flow_define "$TMP/def.toml" tpm
flow_seal_sign "$TMP/def.toml"
openssl dgst -sha256 -verify "$B/master_signing_public.pem" \
	-signature "$B/crypto_manifest.json.sig" "$B/crypto_manifest.json" >/dev/null ||
	fail "OpenSSL does not verify the TPM master's signature"
# The audit checkpoints signed by a second key in the same TPM (a blob).
status 0 coffer-hsm keygen --tpm2 "$SWTPM_TCTI" --key-blob "$TMP/audit.blob" --usage sign \
	--out "$TMP/audit_public.pem"
flow_flush
flow_start --workers 2 --audit-key "$TMP/audit.blob"
grep -q "tpm2\|TPM" "$SRV_LOG" || fail "the server does not say it uses the TPM"

flow_check_web_worker tpm
flow_stop
status 0 provision-master audit-verify --audit-log "$TMP/audit.jsonl" \
	--audit-public "$TMP/audit_public.pem"
grep -q "(shutdown) unsigned-tail 0 " "$TMP/out" || fail "audit-verify: $(cat "$TMP/out")"
echo "flow with swtpm: ok"
