#!/bin/sh
# SPDX-License-Identifier: ISC
#
# provision-master's command line without a token: usage errors (exit 2),
# --help of every subcommand, add-key's checks, manifest's refusals.
set -eu
. "$COFFER_SRC/tests/helpers.sh"

PM=provision-master
B=$TMP/bundle

# ---- usage -----------------------------------------------------------------
status 2 $PM
status 2 $PM no-such-command
says "unknown command 'no-such-command' (see 'provision-master --help')"
status 2 $PM verfy
says "unknown command 'verfy'; did you mean 'verify'?"
status 0 $PM --help
grep -q '^  verify ' "$TMP/out" || fail "--help lists no verify"
for c in init server-key add-key add-master manifest revoke sign verify log-verify help; do
	status 0 $PM $c --help
	grep -q "^usage: provision-master $c" "$TMP/out" || fail "$c --help"
done
status 0 $PM help sign
status 2 $PM manifest --bogus
says "provision-master manifest: unknown option '--bogus' (see 'provision-master manifest --help')"
status 2 $PM manifest --bundel "$B"
says "did you mean '--bundle'?"
status 2 $PM manifest --bundle
says "option '--bundle' needs a value"
status 2 $PM manifest extra-argument
status 2 $PM init --bundle "$B"
says "--pkcs11-module PATH is required"
status 2 $PM server-key --bundle "$B" --tpm2 swtpm:port=1 srv
says "--tpm2 needs --key-blob"
status 2 $PM server-key --bundle "$B" --pkcs11-module /x 'bad/name'
status 2 $PM verify --bundle "$B" --trust-anchor sha256:00 --min-serial -1
status 2 $PM verify --bundle "$B" --trust-anchor sha256:00 --update-state
long=$(printf '%1025s' x)
status 2 $PM add-key --note "$long" srv "$TMP/none.pem"

# ---- add-key -----------------------------------------------------------------
mkdir -p "$B"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/k.pem" 2>/dev/null
openssl pkey -in "$TMP/k.pem" -pubout -out "$TMP/k_pub.pem"

# ---- every subcommand but init refuses a directory that is not a bundle --------
# (the current directory included: no --bundle), before it writes or hashes anything.
mkdir "$TMP/home"
printf 'private\n' > "$TMP/home/id_ecdsa"
printf '1234\n' > "$TMP/home/token.pin"
(
	cd "$TMP/home"
	status 1 $PM manifest
	says "is not a bundle"
	status 1 $PM add-key companion "$TMP/k_pub.pem"
	says "is not a bundle"
	status 1 $PM server-key srv --pkcs11-module /nonexistent.so
	says "is not a bundle"
	status 1 $PM sign --pkcs11-module /nonexistent.so
	says "is not a bundle"
	status 1 $PM log-verify
	says "is not a bundle"
	status 1 $PM verify --trust-anchor "sha256:$(printf '%064d' 0)"
	says "check 'trust-anchor' failed"
	[ "$(ls -A)" = "$(printf 'id_ecdsa\ntoken.pin')" ] || fail "a refused step wrote: $(ls -A)"
)
status 1 $PM manifest --bundle "$TMP/home/id_ecdsa"
says "not a directory"
cp "$TMP/k_pub.pem" "$B/master_signing_public.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/rsa.pem" 2>/dev/null
openssl pkey -in "$TMP/rsa.pem" -pubout -out "$TMP/rsa_pub.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$TMP/p384.pem" 2>/dev/null
openssl pkey -in "$TMP/p384.pem" -pubout -out "$TMP/p384_pub.pem"
want="sha256:$(openssl pkey -pubin -in "$TMP/k_pub.pem" -outform DER | sha256sum | cut -d' ' -f1)"

for bad in '' '..' '.' 'a/b' 'a b' "$(printf '%065d' 0)" 'ü'; do
	status 2 $PM add-key --bundle "$B" "$bad" "$TMP/k_pub.pem"
done
status 0 $PM add-key --bundle "$B" "$(printf '%064d' 0)" "$TMP/k_pub.pem"
rm "$B/keys/$(printf '%064d' 0)_public.pem"
status 0 $PM add-key --bundle "$B" --note "companion of team A" companion-a.1 "$TMP/k_pub.pem"
[ "$(cat "$TMP/out")" = "$want" ] || fail "add-key printed $(cat "$TMP/out"), expected $want"
# Both notations of the fingerprint: sha256:<hex> on stdout, the grouped form beside it.
grouped=$(echo "${want#sha256:}" | tr a-f A-F | sed 's/..../&-/g; s/-$//')
says "$grouped"
cmp -s "$B/keys/companion-a.1_public.pem" "$TMP/k_pub.pem" || fail "PEM not written as given"
status 1 $PM add-key --bundle "$B" companion-a.1 "$TMP/k_pub.pem"
says "already exists"
status 0 $PM add-key --bundle "$B" --force companion-a.1 "$TMP/k_pub.pem"
# Companions go to companions/, and a key is never both a companion and a key.
status 1 $PM add-key --bundle "$B" --companion comp "$TMP/k_pub.pem"
says "registered as keys/companion-a.1_public.pem already"
[ ! -e "$B/companions/comp_public.pem" ] || fail "a key in keys/ became a companion"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/c.pem" 2>/dev/null
openssl pkey -in "$TMP/c.pem" -pubout -out "$TMP/c_pub.pem"
status 0 $PM add-key --bundle "$B" --companion comp "$TMP/c_pub.pem"
cmp -s "$B/companions/comp_public.pem" "$TMP/c_pub.pem" || fail "companion not in companions/"
status 1 $PM add-key --bundle "$B" notcomp "$TMP/c_pub.pem"
says "registered as companions/comp_public.pem already"
status 1 $PM add-key --bundle "$B" rsa "$TMP/rsa_pub.pem"
says "not a P-256 public key"
status 1 $PM add-key --bundle "$B" p384 "$TMP/p384_pub.pem"
says "not a P-256 public key"
status 1 $PM add-key --bundle "$B" priv "$TMP/k.pem"
status 1 $PM add-key --bundle "$B" missing "$TMP/none.pem"
[ ! -e "$B/keys/rsa_public.pem" ] || fail "RSA key registered"

# ---- manifest ------------------------------------------------------------------
status 0 $PM manifest --bundle "$B"
[ "$(cat "$TMP/out")" = "serial 1" ] || fail "first serial"
python3 - "$B/crypto_manifest.json" <<'PY'
import json, sys
raw = open(sys.argv[1]).read()
m = json.loads(raw)
assert m["version"] == 1 and m["serial"] == 1, m
assert sorted(m["files"]) == ["ceremony.log", "companions/comp_public.pem",
                              "keys/companion-a.1_public.pem",
                              "master_signing_public.pem"], m["files"]
assert raw == json.dumps(m, sort_keys=True, indent=2) + "\n", "keys not sorted"
import re
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m["created"]), m["created"]
PY
echo stale >"$B/crypto_manifest.json.sig"
status 0 $PM manifest --bundle "$B"
[ "$(cat "$TMP/out")" = "serial 2" ] || fail "serial did not grow"
[ ! -e "$B/crypto_manifest.json.sig" ] || fail "stale signature kept"

ln -s "$TMP/k_pub.pem" "$B/keys/link_public.pem"
cp "$B/crypto_manifest.json" "$TMP/before.json"
status 1 $PM manifest --bundle "$B"
says "keys/link_public.pem in the bundle: symbolic link"
cmp -s "$B/crypto_manifest.json" "$TMP/before.json" || fail "manifest changed by a refused run"
rm "$B/keys/link_public.pem"
mkfifo "$B/pipe"
status 1 $PM manifest --bundle "$B"
says "pipe in the bundle: not a regular file"
rm "$B/pipe"
# A writer killed mid-write (SIGKILL, SIGXFSZ) leaves its temporary file.
printf x >"$B/coffer.sealed.tmp.Ab12Cd"
status 1 $PM manifest --bundle "$B"
says "coffer.sealed.tmp.Ab12Cd in the bundle: a temporary file left by an interrupted write"
cmp -s "$B/crypto_manifest.json" "$TMP/before.json" || fail "manifest changed by a refused run"
rm "$B/coffer.sealed.tmp.Ab12Cd"
printf x >"$B/bad\\name"
status 1 $PM manifest --bundle "$B"
says "backslash"
rm "$B/bad\\name"
echo "not json" >"$B/crypto_manifest.json"
status 1 $PM manifest --bundle "$B"
says "existing"
status 1 $PM manifest --bundle "$TMP/no-such-dir"

# ---- files written outside the bundle: refused before any work if not regular ---------
mkfifo "$TMP/rec.fifo"
mkdir "$TMP/rec.dir"
ln -s "$TMP/elsewhere.log" "$TMP/rec.link"
for t in rec.fifo rec.dir rec.link; do
	status 1 $PM log-verify --bundle "$B" --record "$TMP/$t"
	says "not a regular file"
done
[ ! -e "$TMP/elsewhere.log" ] || fail "--record wrote through a symlink"
status 1 $PM verify --bundle "$B" --trust-anchor "sha256:$(printf '%064d' 0)" --record "$TMP/no/dir/x.log"
says "no directory"
status 1 $PM verify --bundle "$B" --trust-anchor "sha256:$(printf '%064d' 0)" \
	--state "$TMP/rec.link" --update-state
says "symbolic link"

# ---- sign refuses before it touches the token ---------------------------------------
rm "$B/crypto_manifest.json"
status 1 $PM sign --bundle "$B" --pkcs11-module /nonexistent.so
says "no manifest yet"
echo "all CLI checks passed"
