#!/bin/sh
# SPDX-License-Identifier: ISC
# coffer-get against the real appliance-server: a SoftHSM2 token holding the
# server key, a bundle signed with an OpenSSL master key, a definition sealed
# by coffer-seal. Exact output of every format, exec mode, fail-over, wrong
# pinned key, unknown client.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
EXP=$COFFER_SRC/tests/clients/expected
umask 077

make_token appliance
pkcs11-tool --module "$COFFER_PKCS11_MODULE" --token-label appliance --login \
	--pin "$(cat "$COFFER_PIN_FILE")" --keypairgen --key-type EC:prime256v1 \
	--label server --id 01 --usage-derive >/dev/null 2>&1 || fail "pkcs11-tool keygen"
pkcs11-tool --module "$COFFER_PKCS11_MODULE" --token-label appliance --read-object \
	--type pubkey --label server -o "$TMP/server.der" >/dev/null 2>&1 || fail "read public key"
openssl pkey -pubin -inform DER -in "$TMP/server.der" -out "$TMP/server_public.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/other.pem" 2>/dev/null
openssl pkey -in "$TMP/other.pem" -pubout -out "$TMP/other_public.pem"

CLIENT_ID=$(coffer-get keygen --out "$TMP/client.pem")
coffer-get keygen --out "$TMP/stranger.pem" >/dev/null

# The definition: the same shard as the expected files.
cat > "$TMP/def.toml" <<'EOT'
[clients]
web = "@ID@"

[web]
DB_PASSWORD = "s3cr3t"
TRICKY = "it's \"q\"\n$HOME `id` \\n \\ \t\rünicøde '' end"
EMPTY = ""
PORT = 5432
NEG = -9223372036854775808
RATIO = 0.75
THREE = 3.0
BIG = 1e100
TENTH = 0.1
TLS = true
OFF = false
ROTATED = 2026-11-01T12:00:00Z
LDT = 1979-05-27T07:32:00
LD = 1979-05-27
LT = 07:32:00.5
EOT
sed -i "s/@ID@/$CLIENT_ID/" "$TMP/def.toml"

B=$TMP/bundle
mkdir -p "$B/keys" "$B/companions"
coffer-seal keygen --out "$TMP/companion.pem" --public-out "$B/companions/companion_public.pem" >/dev/null
cp "$TMP/server_public.pem" "$B/keys/appliance_public.pem"
coffer-seal seal --companion "$TMP/companion.pem" --recipient "$TMP/server_public.pem" \
	"$TMP/def.toml" -o "$B/coffer.sealed"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/master.pem" 2>/dev/null
openssl pkey -in "$TMP/master.pem" -pubout -out "$B/master_signing_public.pem"
python3 - "$B" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
files = {}
for root, dirs, names in os.walk(d):
    for n in names:
        p = os.path.relpath(os.path.join(root, n), d)
        if p not in ("crypto_manifest.json", "crypto_manifest.json.sig"):
            files[p] = hashlib.sha256(open(os.path.join(root, n), "rb").read()).hexdigest()
m = {"created": "2026-11-22T00:00:00Z", "files": dict(sorted(files.items())), "serial": 1, "version": 1}
open(os.path.join(d, "crypto_manifest.json"), "w").write(json.dumps(m, indent=2, sort_keys=True) + "\n")
PY
openssl dgst -sha256 -sign "$TMP/master.pem" -out "$B/crypto_manifest.json.sig" "$B/crypto_manifest.json"
ANCHOR=sha256:$(openssl pkey -pubin -in "$B/master_signing_public.pem" -outform DER | sha256sum | cut -d' ' -f1)

PORT=$(random_port)
mkdir -p "$TMP/state"
appliance-server --pkcs11-module "$COFFER_PKCS11_MODULE" \
	--key "pkcs11:token=appliance;object=server" --pin-source "file:$COFFER_PIN_FILE" \
	--bundle "$B" --trust-anchor "$ANCHOR" --state-file "$TMP/state/serial" \
	--listen "127.0.0.1:$PORT" --audit-log "$TMP/audit.log" 2>>"$TMP/server.log" &
track_pid $!
wait_for_port "$PORT" 15 || { cat "$TMP/server.log" >&2; fail "appliance-server did not start"; }

set -- --server "127.0.0.1:$PORT" --server-key "$TMP/server_public.pem" --key "$TMP/client.pem"
for f in env dotenv json; do
	coffer-get "$@" --format "$f" > "$TMP/$f" || { cat "$TMP/server.log" >&2; fail "fetch $f"; }
	cmp "$TMP/$f" "$EXP/$f" || fail "$f output from the appliance differs"
done
coffer-get "$@" --get TRICKY > "$TMP/raw"
cmp "$TMP/raw" "$EXP/tricky.raw" || fail "--get TRICKY differs"
coffer-get "$@" --only PORT,TLS --format json > "$TMP/only"
printf '{\n  "PORT": 5432,\n  "TLS": true\n}\n' | cmp - "$TMP/only" || fail "--only from the appliance"

# Exec mode: in the child only.
coffer-get "$@" -- sh -c 'printf %s "$TRICKY"' > "$TMP/child"
cmp "$TMP/child" "$EXP/tricky.raw" || fail "exec mode value differs"
! tr '\0' '\n' < /proc/$$/environ | grep -q s3cr3t || fail "value in the parent's environ"

# Fail-over: a dead first server.
coffer-get --server "127.0.0.1:$(random_port)" "$@" --format json > "$TMP/json2"
cmp "$TMP/json2" "$EXP/json" || fail "output after fail-over differs"

# Wrong pinned key: 5. Unknown client: 6, told its own identity.
st=0
coffer-get --server "127.0.0.1:$PORT" --server-key "$TMP/other_public.pem" --key "$TMP/client.pem" \
	2>"$TMP/err" || st=$?
[ "$st" = 5 ] || { cat "$TMP/err" >&2; fail "wrong pinned key: exit $st, expected 5"; }
st=0
coffer-get --server "127.0.0.1:$PORT" --server-key "$TMP/server_public.pem" --key "$TMP/stranger.pem" \
	2>"$TMP/err" || st=$?
[ "$st" = 6 ] || { cat "$TMP/err" >&2; fail "unknown client: exit $st, expected 6"; }
grep -qF "$(coffer-get id --key "$TMP/stranger.pem" 2>/dev/null)" "$TMP/err" ||
	fail "the unknown client was not told its identity: $(cat "$TMP/err")"
! grep -q s3cr3t "$TMP/server.log" "$TMP/err" || fail "a value in a log"
echo ok
