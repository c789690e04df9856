#!/bin/sh
# SPDX-License-Identifier: ISC
#
# A bundle signed with plain OpenSSL (software master keys: P-256, P-384,
# RSA) passes `provision-master verify`; then every tamper case is refused
# with exit 1 and the named check and file.
set -eu
. "$COFFER_SRC/tests/helpers.sh"

PM=provision-master
B=$TMP/bundle
T=$TMP/t

fpr_of() {
	echo "sha256:$(openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1)"
}

resign() { # resign DIR [KEY]
	openssl dgst -sha256 -sign "${2:-$TMP/master.pem}" -out "$1/crypto_manifest.json.sig" \
		"$1/crypto_manifest.json"
}

flip() { # flip FILE: change one byte in the middle
	python3 - "$1" <<'PY'
import sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
d[len(d) // 2] ^= 0x01
open(p, "wb").write(d)
PY
}

edit_manifest() { # edit_manifest DIR PYTHON-EXPR-ON-m (m is the parsed JSON)
	python3 - "$1/crypto_manifest.json" "$2" <<'PY'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
exec(sys.argv[2])
open(p, "w").write(json.dumps(m, sort_keys=True, indent=2) + "\n")
PY
}

fresh() {
	rm -rf "$T"
	cp -a "$B" "$T"
}

ok() { # ok DIR [verify options]
	d=$1
	shift
	$PM verify --bundle "$d" --trust-anchor "$FPR" "$@" >"$TMP/out" 2>"$TMP/err" || {
		cat "$TMP/err" >&2
		fail "verify refused a good bundle"
	}
}

refused() { # refused CHECK FILE [verify options]: the fresh copy in $T is refused
	check=$1 file=$2
	shift 2
	st=0
	$PM verify --bundle "$T" --trust-anchor "$FPR" "$@" >"$TMP/out" 2>"$TMP/err" || st=$?
	[ "$st" -eq 1 ] || { cat "$TMP/err" >&2; fail "expected exit 1 for '$check' on $file, got $st"; }
	grep -qF "check '$check' failed for $file" "$TMP/err" || {
		cat "$TMP/err" >&2
		fail "expected check '$check' failed for $file"
	}
	echo "refused as expected: $(cat "$TMP/err")"
}

# ---- a bundle made with software keys -----------------------------------
mkdir -p "$B"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/master.pem" 2>/dev/null
openssl pkey -in "$TMP/master.pem" -pubout -out "$B/master_signing_public.pem"
FPR=$(fpr_of "$B/master_signing_public.pem")
for n in srv1 srv2 companion; do
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/$n.pem" 2>/dev/null
	openssl pkey -in "$TMP/$n.pem" -pubout -out "$TMP/${n}_pub.pem"
	role=
	[ "$n" != companion ] || role=--companion
	$PM add-key --bundle "$B" --note "register $n" $role "$n" "$TMP/${n}_pub.pem" >/dev/null
done
head -c 3000 /dev/urandom >"$B/coffer.sealed"
mkdir -p "$B/scripts"
echo 'echo hello' >"$B/scripts/post-deploy.sh"
echo "hidden" >"$B/.hidden"
$PM manifest --bundle "$B" --note "first manifest" >/dev/null
resign "$B"

# OpenSSL agrees with itself and provision-master agrees with OpenSSL.
openssl dgst -sha256 -verify "$B/master_signing_public.pem" \
	-signature "$B/crypto_manifest.json.sig" "$B/crypto_manifest.json" >/dev/null
ok "$B"
grep -q "^OK serial 1 files 8 master $FPR\$" "$TMP/out" || { cat "$TMP/out"; fail "verify output"; }
$PM log-verify --bundle "$B" | grep -q '^OK lines 4 head sha256:' || fail "log-verify"

# A .git directory at the top is ignored (documented); a .git file is not.
fresh
mkdir -p "$T/.git/objects"
echo x >"$T/.git/HEAD"
ok "$T"
fresh
echo "gitdir: elsewhere" >"$T/.git"
refused unlisted .git

# ---- a byte changed in every kind of file -------------------------------
fresh; flip "$T/master_signing_public.pem"; refused trust-anchor master_signing_public.pem
fresh; flip "$T/crypto_manifest.json"; refused signature crypto_manifest.json
fresh; flip "$T/crypto_manifest.json.sig"; refused signature crypto_manifest.json
fresh; flip "$T/keys/srv1_public.pem"; refused hash keys/srv1_public.pem
fresh; flip "$T/companions/companion_public.pem"; refused hash companions/companion_public.pem
fresh; flip "$T/coffer.sealed"; refused hash coffer.sealed
fresh; flip "$T/ceremony.log"; refused hash ceremony.log
fresh; flip "$T/scripts/post-deploy.sh"; refused hash scripts/post-deploy.sh
fresh; flip "$T/.hidden"; refused hash .hidden

# ---- added, removed, renamed, linked, special ----------------------------
fresh; echo new >"$T/extra"; refused unlisted extra
fresh; echo new >"$T/.extra-hidden"; refused unlisted .extra-hidden
fresh; mkdir "$T/sub"; echo new >"$T/sub/x"; refused unlisted sub/x
fresh; rm "$T/coffer.sealed"; refused missing coffer.sealed
fresh; rm "$T/crypto_manifest.json.sig"; refused signature crypto_manifest.json.sig
fresh; rm "$T/master_signing_public.pem"; refused trust-anchor master_signing_public.pem
fresh; mv "$T/keys/srv2_public.pem" "$T/keys/srv3_public.pem"; refused unlisted keys/srv3_public.pem
fresh; mv "$T/coffer.sealed" "$TMP/aside"; ln -s "$TMP/aside" "$T/coffer.sealed"
refused type coffer.sealed
fresh; mv "$T/keys" "$TMP/keys-aside"; ln -s "$TMP/keys-aside" "$T/keys"; refused type keys
fresh; mv "$T/crypto_manifest.json" "$TMP/m"; ln -s "$TMP/m" "$T/crypto_manifest.json"
refused signature crypto_manifest.json
fresh; rm -rf "$TMP/keys-aside"; mkfifo "$T/fifo"; refused type fifo

# ---- path rules, caught only by the path check (re-signed) --------------
fresh
edit_manifest "$T" 'm["files"]["../outside"] = m["files"]["coffer.sealed"]'
resign "$T"
refused path ../outside
fresh
edit_manifest "$T" 'm["files"]["/etc/passwd"] = m["files"]["coffer.sealed"]'
resign "$T"
refused path /etc/passwd
fresh
edit_manifest "$T" 'm["files"]["keys//srv1_public.pem"] = m["files"]["keys/srv1_public.pem"]'
resign "$T"
refused path keys//srv1_public.pem
fresh
edit_manifest "$T" 'm["files"]["keys\\srv1_public.pem"] = m["files"]["keys/srv1_public.pem"]'
resign "$T"
refused path 'keys\\srv1_public.pem'

# ---- keys and signatures --------------------------------------------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/other.pem" 2>/dev/null
fresh; resign "$T" "$TMP/other.pem"; refused signature crypto_manifest.json
# The master key swapped together with a matching signature: only the anchor catches it.
fresh
openssl pkey -in "$TMP/other.pem" -pubout -out "$T/master_signing_public.pem"
$PM manifest --bundle "$T" >/dev/null
resign "$T" "$TMP/other.pem"
openssl dgst -sha256 -verify "$T/master_signing_public.pem" \
	-signature "$T/crypto_manifest.json.sig" "$T/crypto_manifest.json" >/dev/null
refused trust-anchor master_signing_public.pem
fresh; printf 'not a signature' >"$T/crypto_manifest.json.sig"; refused signature crypto_manifest.json
fresh; : >"$T/crypto_manifest.json.sig"; refused signature crypto_manifest.json
fresh; head -c 5000 /dev/zero >"$T/crypto_manifest.json.sig"; refused signature crypto_manifest.json.sig

# ---- the manifest itself ---------------------------------------------------
fresh; truncate -s 50 "$T/crypto_manifest.json"; refused signature crypto_manifest.json
fresh; truncate -s 50 "$T/crypto_manifest.json"; resign "$T"; refused manifest crypto_manifest.json
fresh; echo 'not json' >"$T/crypto_manifest.json"; resign "$T"; refused manifest crypto_manifest.json
fresh; echo '{}' >>"$T/crypto_manifest.json"; resign "$T"; refused manifest crypto_manifest.json
fresh; edit_manifest "$T" 'm["version"] = 2'; resign "$T"; refused manifest crypto_manifest.json
fresh; edit_manifest "$T" 'm["serial"] = "1"'; resign "$T"; refused manifest crypto_manifest.json
fresh
python3 - "$T/crypto_manifest.json" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace('"serial": 1', '"serial": 1, "serial": 9')
open(p, "w").write(s)
PY
resign "$T"
refused manifest crypto_manifest.json
grep -q duplicate "$TMP/err" || fail "duplicate keys not named"

# ---- serial: --min-serial and the state file ---------------------------
fresh; refused serial crypto_manifest.json --min-serial 2
S=$TMP/state
ok "$B" --state "$S" --update-state
[ "$(cat "$S")" = 1 ] || fail "state not written"
cp -a "$B" "$TMP/b2"
$PM manifest --bundle "$TMP/b2" >/dev/null
resign "$TMP/b2"
ok "$TMP/b2" --state "$S"
[ "$(cat "$S")" = 1 ] || fail "state written without --update-state"
ok "$TMP/b2" --state "$S" --update-state
[ "$(cat "$S")" = 2 ] || fail "state not updated"
fresh; refused serial crypto_manifest.json --state "$S"  # serial 1 after 2: rollback
[ "$(cat "$S")" = 2 ] || fail "state changed by a failed verify"

# ---- usage errors: exit 2 -------------------------------------------------
st=0; $PM verify --bundle "$B" 2>/dev/null || st=$?
[ "$st" -eq 2 ] || fail "missing --trust-anchor: exit $st"
st=0; $PM verify --bundle "$B" --trust-anchor sha256:abc 2>/dev/null || st=$?
[ "$st" -eq 2 ] || fail "malformed --trust-anchor: exit $st"

# ---- one notation for one fingerprint: the grouped form is the same anchor --
FPR_SAVE=$FPR
FPR=$(echo "${FPR#sha256:}" | tr a-f A-F | sed 's/..../&-/g; s/-$//')
echo "$FPR" | grep -Eq '^([0-9A-F]{4}-){15}[0-9A-F]{4}$' || fail "grouped form: $FPR"
ok "$B"
FPR=$FPR_SAVE

# ---- other master key types, signed by OpenSSL ----------------------------
for alg in "EC -pkeyopt ec_paramgen_curve:P-384" "RSA -pkeyopt rsa_keygen_bits:2048"; do
	fresh
	# shellcheck disable=SC2086
	openssl genpkey -algorithm $alg -out "$TMP/m2.pem" 2>/dev/null
	openssl pkey -in "$TMP/m2.pem" -pubout -out "$T/master_signing_public.pem"
	$PM manifest --bundle "$T" >/dev/null
	resign "$T" "$TMP/m2.pem"
	FPR_SAVE=$FPR
	FPR=$(fpr_of "$T/master_signing_public.pem")
	ok "$T"
	FPR=$FPR_SAVE
done
echo "all tamper cases refused"
