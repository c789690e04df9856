#!/bin/sh
# SPDX-License-Identifier: ISC
# sealed.sh: coffer-seal end to end with real keys: a definition sealed to one
# and to three appliances (keys in SoftHSM2 and in swtpm) opens to the same
# model; a recipient not listed cannot open; a flipped bit anywhere fails; a
# companion not in the bundle is refused; an invalid definition is never
# sealed and leaves the old sealed file intact.
set -eu
. "$COFFER_SRC/tests/helpers.sh"

make_token appliance
P11="--pkcs11-module $COFFER_PKCS11_MODULE --pin-source file:$COFFER_PIN_FILE"
T=$COFFER_TOKEN_URI
mkdir -p "$TMP/bundle/keys"
for n in a b; do
	# shellcheck disable=SC2086
	coffer-hsm keygen $P11 --token "$T" --label "$n" --usage derive \
		--out "$TMP/bundle/keys/${n}_public.pem" 2>/dev/null
done
if [ "$COFFER_HAVE_TPM2" = 1 ]; then
	start_swtpm
	coffer-hsm keygen --tpm2 "$SWTPM_TCTI" --key-blob "$TMP/c.blob" \
		--out "$TMP/bundle/keys/c_public.pem" 2>/dev/null
else
	# Built without the TPM backend: the third appliance is a token key.
	# shellcheck disable=SC2086
	coffer-hsm keygen $P11 --token "$T" --label c --usage derive \
		--out "$TMP/bundle/keys/c_public.pem" 2>/dev/null
fi
coffer-hsm keygen $P11 --token "$T" --label outsider --usage derive \
	--out "$TMP/outsider_public.pem" 2>/dev/null

mkdir -p "$TMP/bundle/companions"
coffer-seal keygen --out "$TMP/companion.pem" --public-out "$TMP/bundle/companions/companion_public.pem" >/dev/null
coffer-seal keygen --out "$TMP/rogue.pem" --public-out "$TMP/rogue_public.pem" >/dev/null
[ "$(stat -c %a "$TMP/companion.pem")" = 600 ] || fail "companion key is not 0600"
coffer-seal keygen --out "$TMP/companion.pem" 2>/dev/null && expected_fail "keygen overwrote a key"

coffer-seal keygen --out "$TMP/web.pem" >"$TMP/web.id" 2>"$TMP/web.err"
# Both notations of the identity: grouped on stdout, both on stderr.
hex=$(tr -d '-' < "$TMP/web.id" | tr A-F a-f)
grep -qF "sha256:$hex" "$TMP/web.err" && grep -qF "$(cat "$TMP/web.id")" "$TMP/web.err" ||
	fail "keygen does not show both notations: $(cat "$TMP/web.err")"
coffer-seal keygen --out "$TMP/db.pem" >"$TMP/db.id"
[ "$(coffer-seal id "$TMP/web.pem")" = "$(cat "$TMP/web.id")" ] || fail "id differs from keygen"
cat > "$TMP/def.toml" <<EOT
[clients]
web = "$(cat "$TMP/web.id")"
db = "$(cat "$TMP/db.id")"

[web]
password = "s3cr3t \"quoted\""
port = 5432
ratio = 0.75
tls = true
rotated = 2026-11-01T12:00:00Z
day = 2026-11-01

[db]
root = "hunter2"
EOT

seal() {
	coffer-seal seal --companion "$TMP/companion.pem" "$@"
}
check() { # check KEYSPEC... FILE
	coffer-seal check --bundle "$TMP/bundle" "$@"
}

# One recipient.
seal --recipient "$TMP/bundle/keys/a_public.pem" "$TMP/def.toml" -o "$TMP/one.sealed"
# shellcheck disable=SC2086
check --key "$T;object=a" $P11 "$TMP/one.sealed" > "$TMP/out"
grep -q "^web $(cat "$TMP/web.id") 6\$" "$TMP/out" || fail "web shard: $(cat "$TMP/out")"
grep -q "^db $(cat "$TMP/db.id") 1\$" "$TMP/out" || fail "db shard: $(cat "$TMP/out")"
grep -q "2 clients, 7 secrets" "$TMP/out" || fail "summary: $(cat "$TMP/out")"
grep -q "s3cr3t\|hunter2" "$TMP/out" && fail "check printed a value"
# shellcheck disable=SC2086
check --key "$T;object=b" $P11 "$TMP/one.sealed" 2>"$TMP/err" && expected_fail "b opened a file sealed to a"
grep -q "not sealed to this appliance" "$TMP/err" || fail "b: $(cat "$TMP/err")"

# Three recipients: two in SoftHSM2, one in swtpm; all see the same model.
seal --recipient "$TMP/bundle/keys/a_public.pem" --recipient "$TMP/bundle/keys/b_public.pem" \
	--recipient "$TMP/bundle/keys/c_public.pem" "$TMP/def.toml" -o "$TMP/three.sealed"
# shellcheck disable=SC2086
check --key "$T;object=a" $P11 "$TMP/three.sealed" > "$TMP/a.out"
# shellcheck disable=SC2086
check --key "$T;object=b" $P11 "$TMP/three.sealed" > "$TMP/b.out"
if [ "$COFFER_HAVE_TPM2" = 1 ]; then
	check --tpm2 "$SWTPM_TCTI" --key "$TMP/c.blob" "$TMP/three.sealed" > "$TMP/c.out"
else
	# shellcheck disable=SC2086
	check --key "$T;object=c" $P11 "$TMP/three.sealed" > "$TMP/c.out"
fi
cmp -s "$TMP/a.out" "$TMP/b.out" && cmp -s "$TMP/a.out" "$TMP/c.out" || fail "recipients disagree"
# shellcheck disable=SC2086
check --key "$T;object=outsider" $P11 "$TMP/three.sealed" 2>"$TMP/err" && expected_fail "outsider opened it"

# A companion that is not in the bundle is refused.
coffer-seal seal --companion "$TMP/rogue.pem" --recipient "$TMP/bundle/keys/a_public.pem" \
	"$TMP/def.toml" -o "$TMP/rogue.sealed"
# shellcheck disable=SC2086
check --key "$T;object=a" $P11 "$TMP/rogue.sealed" 2>"$TMP/err" && expected_fail "rogue companion accepted"
grep -q "not in the signed bundle" "$TMP/err" || fail "rogue: $(cat "$TMP/err")"
# A key registered in keys/ (an appliance's, or a client's kept for the ss
# cache) is not a companion: only companions/ may seal.
coffer-seal keygen --out "$TMP/client.pem" --public-out "$TMP/bundle/keys/client_public.pem" >/dev/null
coffer-seal seal --companion "$TMP/client.pem" --recipient "$TMP/bundle/keys/a_public.pem" \
	"$TMP/def.toml" -o "$TMP/client.sealed"
# shellcheck disable=SC2086
check --key "$T;object=a" $P11 "$TMP/client.sealed" 2>"$TMP/err" &&
	expected_fail "a client key in keys/ was accepted as a companion"
grep -q "not in the signed bundle" "$TMP/err" || fail "client as companion: $(cat "$TMP/err")"
rm "$TMP/bundle/keys/client_public.pem"
# An appliance key posing as the companion is refused too.
cp "$TMP/bundle/keys/a_public.pem" "$TMP/a_as_comp.pem"

# One flipped bit anywhere fails: header, a wrapped key, the body, the tag.
size=$(stat -c %s "$TMP/one.sealed")
for off in 0 9 10 20 80 90 130 200 $((size - 40)) $((size - 1)); do
	python3 - "$TMP/one.sealed" "$TMP/flip.sealed" "$off" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[int(sys.argv[3])] ^= 0x01
open(sys.argv[2], "wb").write(d)
PY
	# shellcheck disable=SC2086
	check --key "$T;object=a" $P11 "$TMP/flip.sealed" 2>"$TMP/err" &&
		expected_fail "a flipped bit at $off was not noticed"
	grep -q "^coffer-seal: " "$TMP/err" || fail "no message for the bit at $off"
done
head -c $((size - 1)) "$TMP/one.sealed" > "$TMP/trunc.sealed"
# shellcheck disable=SC2086
check --key "$T;object=a" $P11 "$TMP/trunc.sealed" 2>"$TMP/err" && expected_fail "truncated accepted"
grep -q "truncated" "$TMP/err" || fail "truncated: $(cat "$TMP/err")"

# An invalid definition is refused before sealing and the old file stays.
cp "$TMP/one.sealed" "$TMP/keep.sealed"
printf '[clients]\nweb = "%s"\n[web]\nlist = [1, 2]\n' "$(cat "$TMP/web.id")" > "$TMP/bad.toml"
seal --recipient "$TMP/bundle/keys/a_public.pem" "$TMP/bad.toml" -o "$TMP/keep.sealed" 2>"$TMP/err" &&
	expected_fail "an array was sealed"
grep -q "bad.toml:4:" "$TMP/err" || fail "no position: $(cat "$TMP/err")"
cmp -s "$TMP/one.sealed" "$TMP/keep.sealed" || fail "the old sealed file changed"
ls "$TMP" | grep -q '\.tmp\.' && fail "a temporary file was left behind"

# YAML definitions seal the same way.
cat > "$TMP/def.yaml" <<EOT
clients:
  web: "$(cat "$TMP/web.id")"
web:
  password: "from yaml"
  port: 1
EOT
seal --recipient "$TMP/bundle/keys/a_public.pem" "$TMP/def.yaml" -o "$TMP/y.sealed"
# shellcheck disable=SC2086
check --key "$T;object=a" $P11 "$TMP/y.sealed" > "$TMP/out"
grep -q "(yaml), 1 clients, 2 secrets" "$TMP/out" || fail "yaml: $(cat "$TMP/out")"

# Lint: names coffer-get cannot or will not put into an environment, and a
# client without a table, are warnings; --strict makes them errors.
cat > "$TMP/lint.toml" <<EOT
[clients]
web = "$(cat "$TMP/web.id")"
db = "$(cat "$TMP/db.id")"

[web]
"db.password" = "x"
LD_PRELOAD = "/tmp/x.so"
DB_USER = "app"
EOT
seal --recipient "$TMP/bundle/keys/a_public.pem" "$TMP/lint.toml" -o "$TMP/lint.sealed" 2>"$TMP/err"
grep -q "warning: secret 'db.password' of client 'web' is not a valid environment name" "$TMP/err" ||
	fail "seal: no lint warning: $(cat "$TMP/err")"
# shellcheck disable=SC2086
check --key "$T;object=a" $P11 "$TMP/lint.sealed" > "$TMP/out" 2>"$TMP/err" ||
	fail "check without --strict failed: $(cat "$TMP/err")"
for w in "secret 'db.password' of client 'web' is not a valid environment name" \
	"secret 'LD_PRELOAD' of client 'web' changes how programs load or run" \
	"client 'db' has no table"; do
	grep -qF "$w" "$TMP/err" || fail "check: no warning '$w': $(cat "$TMP/err")"
done
[ "$(grep -c warning "$TMP/err")" = 3 ] || fail "check: $(grep -c warning "$TMP/err") warnings, expected 3"
st=0
# shellcheck disable=SC2086
check --strict --key "$T;object=a" $P11 "$TMP/lint.sealed" > "$TMP/out" 2>"$TMP/err" || st=$?
[ "$st" = 1 ] || fail "check --strict with warnings: exit $st, expected 1"
grep -q "3 warnings" "$TMP/err" || fail "--strict: $(cat "$TMP/err")"
st=0
# shellcheck disable=SC2086
check --strict --key "$T;object=a" $P11 "$TMP/y.sealed" > "$TMP/out" 2>"$TMP/err" || st=$?
[ "$st" = 0 ] || fail "check --strict of a clean definition: exit $st: $(cat "$TMP/err")"

# Output targets: refused before anything is read or sealed, the node kept.
mkfifo "$TMP/fifo"
ln -s "$TMP/one.sealed" "$TMP/link.sealed"
for t in "$TMP/fifo" "$TMP/link.sealed" "$TMP" "$TMP/no/dir/x.sealed"; do
	st=0
	seal --recipient "$TMP/bundle/keys/a_public.pem" "$TMP/def.toml" -o "$t" 2>"$TMP/err" || st=$?
	[ "$st" = 1 ] || fail "seal -o $t: exit $st, expected 1: $(cat "$TMP/err")"
done
[ -p "$TMP/fifo" ] && [ -L "$TMP/link.sealed" ] || fail "seal -o replaced a node"
st=0
coffer-seal keygen --out "$TMP/fifo" 2>"$TMP/err" || st=$?
[ "$st" = 1 ] && grep -q FIFO "$TMP/err" || fail "keygen --out fifo: exit $st: $(cat "$TMP/err")"

# A companion key file others can read is a key-file error: exit 3, nothing written.
cp "$TMP/companion.pem" "$TMP/loose.pem"
chmod 644 "$TMP/loose.pem"
st=0
coffer-seal seal --companion "$TMP/loose.pem" --recipient "$TMP/bundle/keys/a_public.pem" \
	"$TMP/def.toml" -o "$TMP/loose.sealed" 2>"$TMP/err" || st=$?
[ "$st" = 3 ] && [ ! -e "$TMP/loose.sealed" ] || fail "loose companion key: exit $st: $(cat "$TMP/err")"

# One message style for command-line mistakes.
st=0
coffer-seal chek 2>"$TMP/err" || st=$?
[ "$st" = 2 ] && grep -qF "coffer-seal: unknown command 'chek'; did you mean 'check'?" "$TMP/err" ||
	fail "unknown command: exit $st: $(cat "$TMP/err")"
st=0
coffer-seal seal --recipeint x 2>"$TMP/err" || st=$?
[ "$st" = 2 ] && grep -qF "coffer-seal seal: unknown option '--recipeint'; did you mean '--recipient'?" "$TMP/err" ||
	fail "unknown option: exit $st: $(cat "$TMP/err")"
echo "sealed: all checks passed"
