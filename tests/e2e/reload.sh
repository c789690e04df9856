#!/bin/sh
# SPDX-License-Identifier: ISC
# SIGHUP from half-written bundles keeps the old state: a new coffer.sealed
# without a new manifest, a new manifest without its signature, a truncated
# manifest, a truncated signature, a sealed file cut short under a signed
# manifest. Each time the server logs why, records no serial and serves the
# old values. Then a complete bundle (new serial, signed) serves the new ones.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

flow_softhsm
flow_ceremony
flow_client web
flow_client worker
flow_define "$TMP/def1.toml" one
flow_seal_sign "$TMP/def1.toml"
flow_start --workers 2
flow_get web
[ "$GOT_RC" = 0 ] || fail "first fetch: exit $GOT_RC: $(cat "$TMP/got.err")"
expect_web one
flow_define "$TMP/def2.toml" two
status 0 coffer-seal seal --companion "$TMP/companion.pem" --recipient "$SERVER_PUB" \
	"$TMP/def2.toml" -o "$TMP/def2.sealed"
cp -p "$B/crypto_manifest.json" "$B/crypto_manifest.json.sig" "$B/coffer.sealed" "$TMP/"

# refused WHY PATTERN: SIGHUP; the reload must fail with PATTERN in its reason
# and the old secrets keep being served.
refused() {
	flow_reload_refused "$1" "$2"
	flow_served one "$1"
	[ "$(cat "$TMP/state/serial")" = 1 ] || fail "$1: serial $(cat "$TMP/state/serial") recorded"
}

restore() {
	cp -p "$TMP/crypto_manifest.json" "$TMP/crypto_manifest.json.sig" "$TMP/coffer.sealed" "$B/"
}

# 1. The sealed file replaced, the manifest not re-made or re-signed.
cp "$TMP/def2.sealed" "$B/coffer.sealed"
refused "new sealed file, old manifest" "coffer.sealed"

# 2. A new manifest (serial 2) that nobody signed: manifest removes the old
#    signature.
status 0 provision-master manifest --bundle "$B"
[ ! -e "$B/crypto_manifest.json.sig" ] || fail "manifest left the stale signature"
refused "unsigned manifest" "crypto_manifest.json"

# 3. The old signature over the new manifest.
cp "$TMP/crypto_manifest.json.sig" "$B/"
refused "manifest and signature disagree" "signature"

# 4. Signed, then the manifest cut in the middle (a copy that stopped).
# shellcheck disable=SC2086
status 0 provision-master sign --bundle "$B" $MASTER_ARGS
cp "$B/crypto_manifest.json" "$TMP/m2" && cp "$B/crypto_manifest.json.sig" "$TMP/s2"
head -c "$(($(wc -c <"$TMP/m2") / 2))" "$TMP/m2" >"$B/crypto_manifest.json"
refused "truncated manifest" "crypto_manifest.json"

# 5. The signature cut short (both copies: signatures/ holds the master's own).
cp "$TMP/m2" "$B/crypto_manifest.json"
head -c 20 "$TMP/s2" >"$B/crypto_manifest.json.sig"
for _s in "$B"/signatures/*.sig; do head -c 20 "$TMP/s2" >"$_s"; done
refused "truncated signature" "signature"
for _s in "$B"/signatures/*.sig; do cp "$TMP/s2" "$_s"; done

# 6. An empty manifest and an empty signature.
: >"$B/crypto_manifest.json"
: >"$B/crypto_manifest.json.sig"
refused "empty manifest" "crypto_manifest.json"

# 7. The sealed file cut short under the new, signed manifest.
cp "$TMP/m2" "$B/crypto_manifest.json"
cp "$TMP/s2" "$B/crypto_manifest.json.sig"
head -c 300 "$TMP/def2.sealed" >"$B/coffer.sealed"
refused "truncated sealed file" "coffer.sealed"

# 8. The sealed file gone.
rm "$B/coffer.sealed"
refused "no sealed file" "coffer.sealed"

# 9. The whole bundle directory briefly missing (a sync renaming it).
mv "$B" "$TMP/bundle.away"
refused "bundle directory missing" "bundle"
mv "$TMP/bundle.away" "$B"

# The complete new bundle: serial 2, signed, serves the new values.
cp "$TMP/def2.sealed" "$B/coffer.sealed"
flow_get web
kill -HUP "$SRV_PID"
for _ in $(seq 100); do
	flow_get web
	[ "$GOT_RC" = 0 ] && cmp -s "$TMP/got" "$TMP/want" || break
	sleep 0.1
done
expect_web two
flow_get worker --get queue_token
[ "$(cat "$TMP/got")" = q-two ] || fail "worker after the reload: '$(cat "$TMP/got")'"
[ "$(cat "$TMP/state/serial")" = 2 ] || fail "serial 2 not recorded"
grep -q "serial 2" "$SRV_LOG" || fail "the good reload is not logged with its serial"

# The old, once good bundle (serial 1) is now a rollback.
restore
refused_new() {
	kill -HUP "$SRV_PID"
	for _ in $(seq 100); do grep -q "check 'serial' failed" "$SRV_LOG" && break; sleep 0.1; done
	grep -q "reload failed.*check 'serial' failed" "$SRV_LOG" || fail "rollback to serial 1 not refused"
	flow_get web
	expect_web two
}
refused_new
flow_stop
flow_end reload
