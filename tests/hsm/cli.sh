#!/bin/sh
# SPDX-License-Identifier: ISC
# cli.sh COFFER_HSM: coffer-hsm against a fresh SoftHSM2 token: the commands
# the quick start uses, their output, errors and exit codes (the shared
# table: 0 ok, 1 refused, 2 usage, 3 token or system).
set -eu
. "$COFFER_SRC/tests/helpers.sh"
hsm=$1
make_token appliance
P="--pkcs11-module $COFFER_PKCS11_MODULE --token $COFFER_TOKEN_URI --pin-source file:$COFFER_PIN_FILE"

expect_rc() { # expect_rc RC CMD...: run CMD, stderr to $TMP/err, check the exit code
	want=$1
	shift
	rc=0
	"$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	[ "$rc" = "$want" ] || fail "exit $rc (want $want): $* :: $(cat "$TMP/err")"
}

expect_rc 0 "$hsm" --help
grep -q keygen "$TMP/out" && grep -q seal-pin "$TMP/out" || fail "--help lists no commands"
expect_rc 0 "$hsm" keygen --help
expect_rc 2 "$hsm"
expect_rc 2 "$hsm" frobnicate
grep -qF "coffer-hsm: unknown command 'frobnicate' (see 'coffer-hsm --help')" "$TMP/err" ||
	fail "unknown command: $(cat "$TMP/err")"
expect_rc 2 "$hsm" keygne
grep -qF "did you mean 'keygen'?" "$TMP/err" || fail "no suggestion: $(cat "$TMP/err")"
expect_rc 2 "$hsm" keygen --lable x
grep -qF "coffer-hsm keygen: unknown option '--lable'; did you mean '--label'?" "$TMP/err" ||
	fail "unknown option: $(cat "$TMP/err")"
expect_rc 2 "$hsm" keygen --label
grep -qF "option '--label' needs a value" "$TMP/err" || fail "missing value: $(cat "$TMP/err")"
expect_rc 0 "$hsm" --version
grep -Eq '^coffer-hsm [0-9]+\.[0-9]+\.[0-9]+$' "$TMP/out" || fail "--version: $(cat "$TMP/out")"
expect_rc 2 "$hsm" keygen --label x
expect_rc 2 "$hsm" keygen --tpm2 swtpm: --pkcs11-module /x --key-blob b
expect_rc 2 "$hsm" list --pcrs sha256:16 --pkcs11-module /x
grep -q "does not apply" "$TMP/err" || fail "no message for a misplaced option"
expect_rc 2 "$hsm" keygen $P --label x --usage encrypt
expect_rc 2 "$hsm" pubkey
expect_rc 2 "$hsm" seal-pin --tpm2 swtpm: --pin-source tpm2-sealed:x --out y

# shellcheck disable=SC2086
expect_rc 0 "$hsm" keygen $P --label server --out "$TMP/server.pem"
grep -q "sha256:" "$TMP/err" || fail "keygen prints no fingerprint"
# shellcheck disable=SC2086
expect_rc 0 "$hsm" keygen $P --label master --usage sign
grep -q "BEGIN PUBLIC KEY" "$TMP/out" || fail "keygen without --out prints no PEM"
cp "$TMP/out" "$TMP/master.pem"
# shellcheck disable=SC2086
expect_rc 1 "$hsm" keygen $P --label server
grep -q "already has a key 'server'" "$TMP/err" || fail "duplicate: $(cat "$TMP/err")"
# An output that is not a regular file is refused before the token makes a key.
mkfifo "$TMP/fifo"
# shellcheck disable=SC2086
expect_rc 1 "$hsm" keygen $P --label unused --out "$TMP/fifo"
grep -q "FIFO" "$TMP/err" || fail "fifo --out: $(cat "$TMP/err")"
# shellcheck disable=SC2086
expect_rc 1 "$hsm" keygen $P --label unused --out "$TMP/no/dir/k.pem"
# shellcheck disable=SC2086
expect_rc 0 "$hsm" list $P
! grep -q "label=unused" "$TMP/out" || fail "a key was made for a refused --out"
# A wrong PIN is a token error: exit 3.
printf 'wrong-pin' > "$TMP/wrong.pin"
chmod 600 "$TMP/wrong.pin"
expect_rc 3 "$hsm" list --pkcs11-module "$COFFER_PKCS11_MODULE" --token "$COFFER_TOKEN_URI" \
	--pin-source "file:$TMP/wrong.pin"
grep -q "CKR_PIN_INCORRECT" "$TMP/err" || fail "wrong PIN: $(cat "$TMP/err")"

# shellcheck disable=SC2086
expect_rc 0 "$hsm" pubkey $P server "pkcs11:token=appliance;object=master"
cat "$TMP/server.pem" "$TMP/master.pem" | cmp -s - "$TMP/out" || fail "pubkey output differs"
# Without a PIN: the public object of a bare label.
expect_rc 0 "$hsm" pubkey --pkcs11-module "$COFFER_PKCS11_MODULE" --token "$COFFER_TOKEN_URI" server
cmp -s "$TMP/out" "$TMP/server.pem" || fail "pubkey without PIN differs"
# shellcheck disable=SC2086
expect_rc 3 "$hsm" pubkey $P nosuchkey
grep -q "nosuchkey" "$TMP/err" || fail "missing key not named"

echo "manifest" > "$TMP/m"
# shellcheck disable=SC2086
expect_rc 0 "$hsm" sign $P --key master --in "$TMP/m" --out "$TMP/m.sig"
openssl dgst -sha256 -verify "$TMP/master.pem" -signature "$TMP/m.sig" "$TMP/m" >/dev/null ||
	fail "openssl rejects the signature"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/anchor.key" 2>/dev/null
chmod 600 "$TMP/anchor.key"
openssl pkey -in "$TMP/anchor.key" -pubout -out "$TMP/anchor.pem"
# shellcheck disable=SC2086
expect_rc 0 "$hsm" import-anchor $P --label trust "$TMP/anchor.pem"
grep -q "^trust sha256:" "$TMP/out" || fail "import-anchor output: $(cat "$TMP/out")"
# shellcheck disable=SC2086
expect_rc 1 "$hsm" import-anchor $P --label trust "$TMP/anchor.pem"
# shellcheck disable=SC2086
expect_rc 0 "$hsm" list $P
grep -q "^public .*label=trust$" "$TMP/out" || fail "list misses the anchor: $(cat "$TMP/out")"
[ "$(grep -c '^private' "$TMP/out")" = 2 ] || fail "list: $(cat "$TMP/out")"

# Software keys: pubkey of a private PEM file.
expect_rc 0 "$hsm" pubkey "$TMP/anchor.key"
cmp -s "$TMP/out" "$TMP/anchor.pem" || fail "software pubkey differs"
chmod 644 "$TMP/anchor.key"
expect_rc 3 "$hsm" pubkey "$TMP/anchor.key"

# PIN sources: env works and a readable PIN file is refused.
COFFER_PIN=$(cat "$COFFER_PIN_FILE") expect_rc 0 "$hsm" list \
	--pkcs11-module "$COFFER_PKCS11_MODULE" --token "$COFFER_TOKEN_URI" --pin-source env:COFFER_PIN
cp "$COFFER_PIN_FILE" "$TMP/open.pin"
chmod 644 "$TMP/open.pin"
expect_rc 3 "$hsm" list --pkcs11-module "$COFFER_PKCS11_MODULE" --pin-source "file:$TMP/open.pin"
grep -q "group or others" "$TMP/err" || fail "readable PIN file: $(cat "$TMP/err")"
expect_rc 3 "$hsm" list --pkcs11-module /nonexistent.so
grep -q "/nonexistent.so" "$TMP/err" || fail "module path not named"
echo "cli: ok"
