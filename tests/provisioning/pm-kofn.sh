#!/bin/sh
# SPDX-License-Identifier: ISC
#
# k-of-n master signatures and officer revocation with real tokens: four
# SoftHSM2 tokens, each holding one master key (A from init, B, C, D from
# add-master). The appliances trust A, B and C with threshold 2; D is a
# registered master that is not an anchor. provision-master verify is the
# appliance's own check; every signature file is also checked with plain
# OpenSSL. Then the attacker's view: a signature named for an anchor but made
# by another key, the same anchor given twice, a threshold above the number
# of anchors, a threshold carried by the bundle, an unlisted or malformed
# revoked.json, junk in signatures/.
set -eu
. "$COFFER_SRC/tests/helpers.sh"

PM=provision-master
B=$TMP/bundle

for t in ma mb mc md; do
	make_token "$t"
	eval "TOK_$t=\"--pkcs11-module $COFFER_PKCS11_MODULE --token $COFFER_TOKEN_URI --pin-source file:$COFFER_PIN_FILE\""
done
# shellcheck disable=SC2154 # TOK_*: set by the eval above
A_ARGS=$TOK_ma B_ARGS=$TOK_mb C_ARGS=$TOK_mc D_ARGS=$TOK_md

fpr_of() {
	echo "sha256:$(openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1)"
}

# ---- masters -------------------------------------------------------------
# shellcheck disable=SC2086
status 0 $PM init --bundle "$B" $A_ARGS --note "officer A"
FA=$(cat "$TMP/out")
for m in b c d; do
	eval "_args=\$$(echo "$m" | tr a-z A-Z)_ARGS"
	# shellcheck disable=SC2154,SC2086
	status 0 $PM add-master "officer-$m" --bundle "$B" $_args --note "officer $m"
	grep -Eq '^sha256:[0-9a-f]{64}$' "$TMP/out" || fail "add-master printed $(cat "$TMP/out")"
	[ -s "$B/masters/officer-${m}_public.pem" ] || fail "no masters/officer-${m}_public.pem"
	[ "$(cat "$TMP/out")" = "$(fpr_of "$B/masters/officer-${m}_public.pem")" ] ||
		fail "add-master $m printed another fingerprint than its PEM's"
	eval "F$(echo "$m" | tr a-z A-Z)=\$(cat \"\$TMP/out\")"
	grep -q " step=add-master name=officer-$m fpr=$(cat "$TMP/out") " "$B/ceremony.log" ||
		fail "add-master $m is not in the ceremony log"
done
# shellcheck disable=SC2154 # FB FC FD: set above
echo "anchors: A $FA B $FB C $FC; D $FD is not one"
# The same name again, and a second master key in a token that has one.
# shellcheck disable=SC2086
status 1 $PM add-master officer-b --bundle "$B" $B_ARGS
says "already exists"
# shellcheck disable=SC2086
status 1 $PM add-master officer-b2 --bundle "$B" $B_ARGS
[ ! -e "$B/masters/officer-b2_public.pem" ] || fail "a refused add-master wrote a key"
status 2 $PM add-master 'bad/name' --bundle "$B" $B_ARGS

# keys/, a sealed stand-in, and the first manifest
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/comp.pem" 2>/dev/null
openssl pkey -in "$TMP/comp.pem" -pubout -out "$TMP/comp_pub.pem"
status 0 $PM add-key companion "$TMP/comp_pub.pem" --bundle "$B"
head -c 1000 /dev/urandom >"$B/coffer.sealed"
status 0 $PM manifest --bundle "$B"

verify3() { # verify3 WANT [more options]: anchors A B C, threshold 2
	_want=$1
	shift
	status "$_want" $PM verify --bundle "$B" --trust-anchor "$FA" --trust-anchor "$FB" \
		--trust-anchor "$FC" --threshold 2 "$@"
}

# ---- one signature is not enough -------------------------------------------
# shellcheck disable=SC2086
status 0 $PM sign --bundle "$B" $A_ARGS --note "A signs"
grep -q " step=sign serial=1 fpr=$FA key=coffer-master master=master_signing_public.pem " \
	"$B/ceremony.log" || fail "A's sign step is not logged"
[ -s "$B/signatures/sha256-${FA#sha256:}.sig" ] || fail "A wrote no signatures/ file"
cmp -s "$B/crypto_manifest.json.sig" "$B/signatures/sha256-${FA#sha256:}.sig" ||
	fail "the first master's two signature files differ"
verify3 1
says "check 'signature' failed for crypto_manifest.json: signed by 1 of the trust anchors, 2 required"
# The same bundle passes with A alone trusted, as a one-master bundle always did.
status 0 $PM verify --bundle "$B" --trust-anchor "$FA"

# ---- a master plus a signature by a key that is not an anchor ----------------
cp "$B/crypto_manifest.json" "$TMP/m1"
cp "$B/ceremony.log" "$TMP/log1"
# shellcheck disable=SC2086
status 0 $PM sign --bundle "$B" $D_ARGS --record "$TMP/officer-d.log" --note "D signs"
says "already carries 1 signature"
cmp -s "$B/crypto_manifest.json" "$TMP/m1" || fail "a later signer changed the manifest"
cmp -s "$B/ceremony.log" "$TMP/log1" || fail "a later signer changed the signed ceremony log"
grep -q " step=sign serial=1 fpr=$FD " "$TMP/officer-d.log" || fail "--record got no sign line"
[ -s "$B/signatures/sha256-${FD#sha256:}.sig" ] || fail "D wrote no signature"
verify3 1
says "signed by 1 of the trust anchors, 2 required"
says "signatures/sha256-${FD#sha256:}.sig: not by a trust anchor (ignored)"

# ---- two anchors: accepted ---------------------------------------------------
# shellcheck disable=SC2086
status 0 $PM sign --bundle "$B" $B_ARGS --note "B signs"
cmp -s "$B/crypto_manifest.json" "$TMP/m1" || fail "the second signer changed the manifest"
verify3 0
grep -q "^OK serial 1 files 7 master $FA\$" "$TMP/out" || fail "verify: $(cat "$TMP/out")"
grep -q "^signatures 2 of threshold 2: $FA $FB\$" "$TMP/out" || fail "signers: $(cat "$TMP/out")"
# Grouped notation of an anchor is the same anchor.
GB=$(echo "${FB#sha256:}" | tr a-f A-F | sed 's/\(....\)/\1-/g; s/-$//')
status 0 $PM verify --bundle "$B" --trust-anchor "$FA" --trust-anchor "$GB" --threshold 2

# Plain OpenSSL verifies every signature file with its master's public key.
n=0
for sig in "$B"/signatures/*.sig "$B/crypto_manifest.json.sig"; do
	f=$(basename "$sig" .sig)
	for pem in "$B/master_signing_public.pem" "$B"/masters/*_public.pem; do
		if [ "$f" = crypto_manifest.json ] && [ "$pem" = "$B/master_signing_public.pem" ] ||
			[ "sha256-$(fpr_of "$pem" | cut -d: -f2)" = "$f" ]; then
			openssl dgst -sha256 -verify "$pem" -signature "$sig" "$B/crypto_manifest.json" \
				>/dev/null || fail "OpenSSL does not verify $sig with $pem"
			n=$((n + 1))
		fi
	done
done
[ "$n" = 4 ] || fail "OpenSSL checked $n signature files, expected 4 (A, B, D and the legacy one)"

# ---- the attacker's view -----------------------------------------------------
T=$TMP/t
fresh() {
	rm -rf "$T"
	cp -a "$B" "$T"
}
verify3t() { # anchors A B C, threshold 2, on $T
	_want=$1
	shift
	status "$_want" $PM verify --bundle "$T" --trust-anchor "$FA" --trust-anchor "$FB" \
		--trust-anchor "$FC" --threshold 2 "$@"
}
# A signature file named for anchor C, made by D's key (which the bundle holds).
fresh
rm "$T/signatures/sha256-${FB#sha256:}.sig"
cp "$T/signatures/sha256-${FD#sha256:}.sig" "$T/signatures/sha256-${FC#sha256:}.sig"
verify3t 1
says "signatures/sha256-${FC#sha256:}.sig: does not verify over crypto_manifest.json with masters/officer-c_public.pem"
says "signed by 1 of the trust anchors, 2 required"
# Named for C, but the bundle lost C's public key: nothing to check it with.
fresh
rm "$T/masters/officer-c_public.pem"
cp "$T/signatures/sha256-${FB#sha256:}.sig" "$T/signatures/sha256-${FC#sha256:}.sig"
rm "$T/signatures/sha256-${FB#sha256:}.sig"
verify3t 1
says "no master public key with this fingerprint"
# B's key replaced by the attacker's own key, with a matching signature: the
# anchor (B's real fingerprint) no longer names any key of the bundle.
fresh
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/evil.pem" 2>/dev/null
openssl pkey -in "$TMP/evil.pem" -pubout -out "$T/masters/officer-b_public.pem"
openssl dgst -sha256 -sign "$TMP/evil.pem" \
	-out "$T/signatures/sha256-$(fpr_of "$T/masters/officer-b_public.pem" | cut -d: -f2).sig" \
	"$T/crypto_manifest.json"
rm "$T/signatures/sha256-${FB#sha256:}.sig"
verify3t 1
says "signed by 1 of the trust anchors, 2 required"
# A's signature copied under B's name: it does not verify with B's key, and
# A's own two files (legacy and signatures/) count once.
fresh
cp "$T/crypto_manifest.json.sig" "$T/signatures/sha256-${FB#sha256:}.sig"
verify3t 1
says "signatures/sha256-${FB#sha256:}.sig: does not verify over crypto_manifest.json with masters/officer-b_public.pem"
says "signed by 1 of the trust anchors"
# The same anchor given twice: refused as a usage error, never counted twice.
status 2 $PM verify --bundle "$B" --trust-anchor "$FA" --trust-anchor "$FA" --threshold 2
says "is given twice"
status 2 $PM verify --bundle "$B" --trust-anchor "$FB" --trust-anchor "$GB" --threshold 2
says "is given twice"
# A threshold above the number of anchors.
status 2 $PM verify --bundle "$B" --trust-anchor "$FA" --trust-anchor "$FB" --threshold 3
says "--threshold 3 is more than the 2 --trust-anchor given"
status 2 $PM verify --bundle "$B" --trust-anchor "$FA" --threshold 0
status 2 $PM verify --bundle "$B" --trust-anchor "$FA" --threshold 2x
# Junk in signatures/ is neither listed nor a signature.
fresh
echo junk >"$T/signatures/notes.txt"
verify3t 1
says "check 'unlisted' failed for signatures/notes.txt"
status 1 $PM manifest --bundle "$T"
says "signatures/notes.txt"
# A link in signatures/ is refused like any link.
fresh
mv "$T/signatures/sha256-${FB#sha256:}.sig" "$TMP/b.sig"
ln -s "$TMP/b.sig" "$T/signatures/sha256-${FB#sha256:}.sig"
verify3t 1
says "signatures/sha256-${FB#sha256:}.sig: not a regular file"
# ... even when the threshold is met without it: links are never part of a bundle.
status 1 $PM verify --bundle "$T" --trust-anchor "$FA"
says "check 'type' failed for signatures/sha256-${FB#sha256:}.sig"

# A threshold carried by the bundle is only data: the configured one rules.
cp -a "$B" "$TMP/b-thr"
printf '{"threshold": 1, "trust_anchors": ["%s"]}\n' "$FD" >"$TMP/b-thr/trust.json"
echo 1 >"$TMP/b-thr/threshold"
status 0 $PM manifest --bundle "$TMP/b-thr"
# shellcheck disable=SC2086
status 0 $PM sign --bundle "$TMP/b-thr" $A_ARGS
# shellcheck disable=SC2086
status 0 $PM sign --bundle "$TMP/b-thr" $D_ARGS
status 1 $PM verify --bundle "$TMP/b-thr" --trust-anchor "$FA" --trust-anchor "$FB" \
	--trust-anchor "$FC" --threshold 2
says "signed by 1 of the trust anchors, 2 required"
# In the manifest itself: counted signatures come before the manifest is read.
python3 - "$TMP/b-thr/crypto_manifest.json" <<'PY'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
m["threshold"] = 1
open(p, "w").write(json.dumps(m, sort_keys=True, indent=2) + "\n")
PY
rm -f "$TMP/b-thr/signatures/"*.sig "$TMP/b-thr/crypto_manifest.json.sig"
# shellcheck disable=SC2086
status 0 coffer-hsm sign $A_ARGS --key coffer-master --in "$TMP/b-thr/crypto_manifest.json" \
	--out "$TMP/b-thr/signatures/sha256-${FA#sha256:}.sig"
status 1 $PM verify --bundle "$TMP/b-thr" --trust-anchor "$FA" --trust-anchor "$FB" \
	--threshold 2
says "check 'signature' failed"
# shellcheck disable=SC2086
status 0 coffer-hsm sign $B_ARGS --key coffer-master --in "$TMP/b-thr/crypto_manifest.json" \
	--out "$TMP/b-thr/signatures/sha256-${FB#sha256:}.sig"
status 1 $PM verify --bundle "$TMP/b-thr" --trust-anchor "$FA" --trust-anchor "$FB" \
	--threshold 2
says "check 'manifest' failed for crypto_manifest.json: unknown key \"threshold\""

# ---- a later signer after the bundle changed ---------------------------------
cp -a "$B" "$TMP/b-late"
echo "added after signing" >"$TMP/b-late/notes.txt"
# shellcheck disable=SC2086
status 1 $PM sign --bundle "$TMP/b-late" $C_ARGS
says "run manifest again"
[ ! -e "$TMP/b-late/signatures/sha256-${FC#sha256:}.sig" ] || fail "signed a stale manifest"

# ---- revocation ----------------------------------------------------------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/web.pem" 2>/dev/null
ID_WEB=$(openssl pkey -in "$TMP/web.pem" -pubout -outform DER | sha256sum | cut -d' ' -f1 |
	tr a-f A-F | sed 's/\(....\)/\1-/g; s/-$//')
ID_OTHER=sha256:$(head -c 32 /dev/urandom | sha256sum | cut -d' ' -f1)
status 2 $PM revoke --bundle "$B" 7F3A-09C1
status 2 $PM revoke --bundle "$B" "$ID_WEB" --reason "$(printf 'tab\there')"
status 0 $PM revoke --bundle "$B" "$ID_WEB" --reason "laptop stolen" --note "emergency, officer A"
[ "$(cat "$TMP/out")" = "serial 2" ] || fail "revoke printed $(cat "$TMP/out")"
python3 - "$B/revoked.json" "$ID_WEB" <<'PY' || fail "revoked.json: $(cat "$B/revoked.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["version"] == 1, d
[e] = d["revoked"]
assert e["identity"] == sys.argv[2] and e["reason"] == "laptop stolen" and e["time"], e
PY
grep -q " step=revoke identity=$ID_WEB serial=2 reason=laptop%20stolen note=\"emergency, officer A\"" \
	"$B/ceremony.log" || fail "revoke is not in the ceremony log"
[ ! -e "$B/crypto_manifest.json.sig" ] && [ -z "$(ls "$B/signatures")" ] ||
	fail "revoke left the previous manifest's signatures"
grep -q '"revoked.json"' "$B/crypto_manifest.json" || fail "the new manifest does not list revoked.json"
status 1 $PM revoke --bundle "$B" "$(echo "$ID_WEB" | tr A-F a-f)"
says "already revoked"
status 0 $PM revoke --bundle "$B" "$ID_OTHER"
[ "$(cat "$TMP/out")" = "serial 3" ] || fail "second revoke printed $(cat "$TMP/out")"
verify3 1
says "check 'signature' failed"
# shellcheck disable=SC2086
status 0 $PM sign --bundle "$B" $C_ARGS
# shellcheck disable=SC2086
status 0 $PM sign --bundle "$B" $A_ARGS
verify3 0
grep -q "^revoked 2\$" "$TMP/out" || fail "verify: $(cat "$TMP/out")"
grep -q "^signatures 2 of threshold 2: $FA $FC\$" "$TMP/out" || fail "signers: $(cat "$TMP/out")"

# A revoked.json that the manifest does not list.
fresh
cp "$B/revoked.json" "$TMP/revoked.keep"
python3 - "$T/crypto_manifest.json" <<'PY'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
del m["files"]["revoked.json"]
open(p, "w").write(json.dumps(m, sort_keys=True, indent=2) + "\n")
PY
rm -f "$T/signatures/"*.sig "$T/crypto_manifest.json.sig"
for who in A C; do
	eval "_args=\$${who}_ARGS"
	eval "_f=\$F$who"
	# shellcheck disable=SC2086,SC2154
	status 0 coffer-hsm sign $_args --key coffer-master --in "$T/crypto_manifest.json" \
		--out "$T/signatures/sha256-${_f#sha256:}.sig"
done
verify3t 1
says "check 'unlisted' failed for revoked.json"
# A malformed revoked.json, listed and signed: refused, never half-read.
for bad in '{"version": 1}' '{"version": 2, "revoked": []}' \
	"{\"version\": 1, \"revoked\": [{\"identity\": \"$ID_WEB\", \"reason\": \"\", \"time\": \"t\"}, {\"identity\": \"$ID_WEB\", \"reason\": \"\", \"time\": \"t\"}]}" \
	'{"version": 1, "revoked": [{"identity": "7F3A", "reason": "", "time": "t"}]}' \
	'{"version": 1, "revoked": [], "threshold": 1}' 'not json'; do
	rm -rf "$T"
	cp -a "$B" "$T"
	printf '%s\n' "$bad" >"$T/revoked.json"
	status 0 $PM manifest --bundle "$T"
	# shellcheck disable=SC2086
	status 0 $PM sign --bundle "$T" $A_ARGS
	# shellcheck disable=SC2086
	status 0 $PM sign --bundle "$T" $B_ARGS
	verify3t 1
	says "revoked.json"
	# revoke refuses to extend it, too.
	status 1 $PM revoke --bundle "$T" "$ID_OTHER"
	says "revoked.json"
done
status 0 $PM log-verify --bundle "$B"
echo "k-of-n and revocation: ok"
