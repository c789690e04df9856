#!/bin/sh
# SPDX-License-Identifier: ISC
# softhsm-conf/make-token.sh: a label is checked before anything is written,
# and a PIN file is never overwritten (the PIN of an existing token would be
# lost). The token made first stays usable with its PIN.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
MT=$COFFER_SRC/softhsm-conf/make-token.sh
D=$TMP/store

eval "$("$MT" "$D" first)"
export SOFTHSM2_CONF
pin_before=$(cat "$D/first.pin")
sum_before=$(sha256sum "$D/first.pin")

# The same label again: refused, the PIN file untouched, the token still opens with it.
st=0
"$MT" "$D" first >"$TMP/out" 2>"$TMP/err" || st=$?
[ "$st" = 1 ] || fail "second make-token with the same label: exit $st"
grep -q "taken\|already exists" "$TMP/err" || fail "no reason: $(cat "$TMP/err")"
[ ! -s "$TMP/out" ] || fail "printed assignments after a refusal"
[ "$(sha256sum "$D/first.pin")" = "$sum_before" ] || fail "the PIN file was overwritten"
[ "$(cat "$D/first.pin")" = "$pin_before" ] || fail "the PIN changed"
coffer-hsm list --pkcs11-module "$COFFER_PKCS11_MODULE" --token "pkcs11:token=first" \
	--pin-source "file:$D/first.pin" >/dev/null || fail "the first token no longer opens with its PIN"

# A PIN file that is there without a token: never overwritten either.
printf 'keep' >"$D/orphan.pin"
st=0
"$MT" "$D" orphan >"$TMP/out" 2>"$TMP/err" || st=$?
[ "$st" = 1 ] && [ "$(cat "$D/orphan.pin")" = keep ] || fail "orphan.pin overwritten (exit $st)"

# A bad label: refused before anything is written (the store is not even made).
for bad in 'a/b' '../x' 'a b' "$(printf '%033d' 0)" '.'; do
	st=0
	"$MT" "$TMP/fresh" "$bad" >/dev/null 2>&1 || st=$?
	[ "$st" = 2 ] || fail "label '$bad': exit $st, expected 2"
	[ ! -e "$TMP/fresh" ] || fail "label '$bad': $TMP/fresh was written"
done

# Another label in the same store is fine.
eval "$("$MT" "$D" second)"
[ -s "$D/second.pin" ] || fail "second token's PIN file"
echo ok
