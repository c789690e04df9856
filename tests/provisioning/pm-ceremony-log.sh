#!/bin/sh
# SPDX-License-Identifier: ISC
#
# The ceremony log: one hash-chained line per step, notes escaped,
# log-verify finds a changed, removed, reordered or cut line, and steps
# refuse to extend a broken log. verify/log-verify --record write to a log
# outside the bundle, never to the signed one.
set -eu
. "$COFFER_SRC/tests/helpers.sh"

PM=provision-master
B=$TMP/bundle
L=$B/ceremony.log

mkdir -p "$B"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/m.pem" 2>/dev/null
openssl pkey -in "$TMP/m.pem" -pubout -out "$B/master_signing_public.pem"
FPR="sha256:$(openssl pkey -pubin -in "$B/master_signing_public.pem" -outform DER | sha256sum | cut -d' ' -f1)"
for n in a b c; do
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/$n.pem" 2>/dev/null
	openssl pkey -in "$TMP/$n.pem" -pubout -out "$TMP/${n}_pub.pem"
	status 0 $PM add-key --bundle "$B" --note "key $n; officer \"Ann\"
second line" "$n" "$TMP/${n}_pub.pem"
done
status 0 $PM manifest --bundle "$B" --note "weekly rotation"
[ "$(wc -l <"$L")" -eq 4 ] || fail "expected 4 lines"
grep -q '^prev=0\{64\} time=[0-9T:Z-]* step=add-key name=a fpr=sha256:[0-9a-f]\{64\} note="key a; officer \\"Ann\\"\\x0asecond line"$' "$L" ||
	{ cat "$L"; fail "first line format"; }
grep -q ' step=manifest serial=1 note="weekly rotation"$' "$L" || fail "manifest line"

status 0 $PM log-verify --bundle "$B"
head=$(sed -n 's/^OK lines 4 head //p' "$TMP/out")
[ -n "$head" ] || fail "log-verify output: $(cat "$TMP/out")"
[ "$head" = "sha256:$(tail -n 1 "$L" | tr -d '\n' | sha256sum | cut -d' ' -f1)" ] || fail "head"

# Each line carries the SHA-256 of the previous one.
python3 - "$L" <<'PY'
import hashlib, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
prev = b"0" * 64
for l in lines:
    assert l[5:69] == prev, (l, prev)
    prev = hashlib.sha256(l).hexdigest().encode()
PY

# ---- tampering ------------------------------------------------------------
cp "$L" "$TMP/good.log"
sed -i '2s/name=b/name=x/' "$L"
status 1 $PM log-verify --bundle "$B"
says "check 'chain' failed at line 3"
status 1 $PM add-key --bundle "$B" d "$TMP/a_pub.pem"
says "refusing to extend a broken log"
[ ! -e "$B/keys/d_public.pem" ] || fail "key written although the log is broken"

cp "$TMP/good.log" "$L"; sed -i '2d' "$L"
status 1 $PM log-verify --bundle "$B"
says "check 'chain' failed at line 2"

cp "$TMP/good.log" "$L"; sed -i '1{h;d};2{G}' "$L"   # swap lines 1 and 2
status 1 $PM log-verify --bundle "$B"
says "check 'chain' failed at line 1"

cp "$TMP/good.log" "$L"; truncate -s -3 "$L"
status 1 $PM log-verify --bundle "$B"
says "no newline at the end"

cp "$TMP/good.log" "$L"; printf 'prev=%064d time=x step=evil note=""\n' 0 >>"$L"
status 1 $PM log-verify --bundle "$B"
says "check 'chain' failed at line 5"

# Cutting whole lines off the end keeps a valid chain: the head changes.
cp "$TMP/good.log" "$L"; sed -i '$d' "$L"
status 0 $PM log-verify --bundle "$B"
grep -q "^OK lines 3 " "$TMP/out" || fail "cut log"
[ "$(sed -n 's/^OK lines 3 head //p' "$TMP/out")" != "$head" ] || fail "head unchanged"

ln -sf "$TMP/good.log" "$L"
status 1 $PM log-verify --bundle "$B"
says "symbolic link"
rm "$L"
cp "$TMP/good.log" "$L"

# ---- --record: an outside log for the read-only steps -----------------------------
openssl dgst -sha256 -sign "$TMP/m.pem" -out "$B/crypto_manifest.json.sig" "$B/crypto_manifest.json"
R=$TMP/officer.log
status 0 $PM verify --bundle "$B" --trust-anchor "$FPR" --record "$R" --note "after signing"
status 0 $PM log-verify --bundle "$B" --record "$R"
status 1 $PM verify --bundle "$B" --trust-anchor "$FPR" --min-serial 9 --record "$R"
status 0 $PM log-verify "$R"
grep -q "^OK lines 3 " "$TMP/out" || fail "record log"
grep -q ' step=verify result=ok serial=1 fpr=sha256:' "$R" || fail "verify record"
grep -q ' step=verify result=failed reason=replayed%20message' "$R" || fail "failed verify record"
status 2 $PM verify --bundle "$B" --trust-anchor "$FPR" --record "$L"
says "outside the bundle"
status 0 $PM verify --bundle "$B" --trust-anchor "$FPR"
echo "ceremony log checks passed"
