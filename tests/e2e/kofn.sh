#!/bin/sh
# SPDX-License-Identifier: ISC
# Bundle trust end to end with real tokens: three masters in three SoftHSM2
# tokens (A from init, B and C from add-master) and a fourth key D that is a
# registered master but not an anchor; the appliance in its own token trusts
# A, B, C with threshold 2. One signature is refused, a master plus D is
# refused, two masters are served. Then an officer revokes web: two masters
# sign, SIGHUP, web gets KeyNotFound (audit: revoked), worker is served.
# Start-up refuses a threshold above the anchors and an anchor given twice,
# on the command line and in the YAML config file.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

flow_softhsm
flow_ceremony
FA=$ANCHOR
for m in b c d; do
	make_token "master-$m"
	eval "M_$m=\"--pkcs11-module $COFFER_PKCS11_MODULE --token $COFFER_TOKEN_URI --pin-source file:$COFFER_PIN_FILE\""
	eval "_args=\$M_$m"
	# shellcheck disable=SC2154,SC2086 # _args: set by the eval above
	status 0 provision-master add-master "officer-$m" --bundle "$B" $_args
	eval "F$m=\$(cat \"\$TMP/out\")"
done
# shellcheck disable=SC2154 # M_b M_c M_d Fb Fc Fd: set by the evals above
echo "anchors A $FA B $Fb C $Fc; D $Fd is not one"
flow_client web
flow_client worker
flow_define "$TMP/def.toml" one
status 0 coffer-seal seal --companion "$TMP/companion.pem" --recipient "$SERVER_PUB" \
	"$TMP/def.toml" -o "$B/coffer.sealed"
status 0 provision-master manifest --bundle "$B"

# The appliance's start-up checks, run to the end (--check) and refused.
check() { # check WANT [more options]: anchors A B C, threshold 2
	_want=$1
	shift
	mkdir -p "$TMP/state"
	# shellcheck disable=SC2086
	status "$_want" appliance-server $SRV_KEY_ARGS --bundle "$B" --state-file "$TMP/state/serial" \
		--trust-anchor "$FA" --trust-anchor "$Fb" --trust-anchor "$Fc" --threshold 2 --check "$@"
}

# ---- one signature: refused ------------------------------------------------
# shellcheck disable=SC2086
status 0 provision-master sign --bundle "$B" $MASTER_ARGS
check 1
says "start-up check 'bundle'"
says "check 'signature' failed for crypto_manifest.json: signed by 1 of the trust anchors, 2 required"

# ---- a master plus a key that is not an anchor: refused ---------------------
# shellcheck disable=SC2086
status 0 provision-master sign --bundle "$B" $M_d
check 1
says "signed by 1 of the trust anchors, 2 required"
says "signatures/sha256-${Fd#sha256:}.sig: not by a trust anchor (ignored)"

# ---- two anchors: served ------------------------------------------------------
# shellcheck disable=SC2086
status 0 provision-master sign --bundle "$B" $M_b
check 0
for sig in "$B"/signatures/*.sig; do
	case $sig in
	*"${FA#sha256:}.sig") pem=$B/master_signing_public.pem ;;
	*"${Fb#sha256:}.sig") pem=$B/masters/officer-b_public.pem ;;
	*"${Fd#sha256:}.sig") pem=$B/masters/officer-d_public.pem ;;
	*) fail "unexpected signature file $sig" ;;
	esac
	openssl dgst -sha256 -verify "$pem" -signature "$sig" "$B/crypto_manifest.json" >/dev/null ||
		fail "OpenSSL does not verify $sig with $pem"
done
[ "$(find "$B/signatures" -name '*.sig' | wc -l)" = 3 ] || fail "expected signatures of A, B and D"

# Start-up refusals: a threshold above the anchors, an anchor twice, in argv and YAML.
# shellcheck disable=SC2086
status 2 timeout 20 appliance-server $SRV_KEY_ARGS --bundle "$B" --listen "127.0.0.1:$PORT" \
	--trust-anchor "$FA" --trust-anchor "$Fb" --threshold 3
says "--threshold 3 is more than the 2 trust anchors given"
# shellcheck disable=SC2086
status 2 timeout 20 appliance-server $SRV_KEY_ARGS --bundle "$B" --listen "127.0.0.1:$PORT" \
	--trust-anchor "$FA" --trust-anchor "$FA" --threshold 2
says "is given twice"
cat >"$TMP/appliance.yaml" <<EOT
bundle: $B
trust-anchor:
  - $FA
  - $Fb
  - $Fc
threshold: 4
EOT
# shellcheck disable=SC2086
status 2 timeout 20 appliance-server $SRV_KEY_ARGS --config "$TMP/appliance.yaml" \
	--listen "127.0.0.1:$PORT"
says "--threshold 4 is more than the 3 trust anchors given"
sed -i 's/^threshold: 4$/threshold: 2/' "$TMP/appliance.yaml"

mkdir -p "$TMP/state"
# shellcheck disable=SC2086
appliance-server $SRV_KEY_ARGS --config "$TMP/appliance.yaml" --listen "127.0.0.1:$PORT" \
	--state-file "$TMP/state/serial" --audit-log "$TMP/audit.jsonl" 2>>"$SRV_LOG" &
SRV_PID=$!
track_pid "$SRV_PID"
wait_for_port "$PORT" 20 || { cat "$SRV_LOG" >&2; fail "appliance-server did not start"; }
grep -q "serial 1 signed by 2 of the trust anchors (threshold 2); 0 identities revoked" "$SRV_LOG" ||
	{ cat "$SRV_LOG" >&2; fail "start-up does not log the signatures and revocations"; }
grep -q "signatures/sha256-${Fd#sha256:}.sig: not by a trust anchor (ignored)" "$SRV_LOG" ||
	fail "the ignored signature file is not named in the log"
flow_served one "two signatures"

# A revoked.json dropped in without a signed manifest: not even read.
printf '{"revoked": [{"identity": "%s", "reason": "", "time": "t"}], "version": 1}\n' \
	"$ID_web" >"$B/revoked.json"
flow_reload_refused "unlisted revoked.json" "check 'unlisted' failed for revoked.json"
flow_served one "unlisted revoked.json"
rm "$B/revoked.json"

# ---- officer's brake: revoke web, two masters sign, reload -------------------
# shellcheck disable=SC2154 # ID_web: set by flow_client
status 0 provision-master revoke "$ID_web" --bundle "$B" --reason "laptop stolen"
# shellcheck disable=SC2086
status 0 provision-master sign --bundle "$B" $M_c
# Only one signature so far: a reload now keeps the old bundle (web still served).
flow_reload_refused "one signature" "signed by 1 of the trust anchors, 2 required"
flow_get web
[ "$GOT_RC" = 0 ] || fail "web lost its secrets through an unsigned bundle: exit $GOT_RC"
# shellcheck disable=SC2086
status 0 provision-master sign --bundle "$B" $MASTER_ARGS
kill -HUP "$SRV_PID"
for _ in $(seq 100); do grep -q "reloaded: serial 2" "$SRV_LOG" && break; sleep 0.1; done
grep -q "reloaded: serial 2" "$SRV_LOG" || { cat "$SRV_LOG" >&2; fail "no reload to serial 2"; }
grep -q "serial 2 signed by 2 of the trust anchors (threshold 2); 1 identity revoked, 1 of them in the definition" \
	"$SRV_LOG" || { cat "$SRV_LOG" >&2; fail "the reload does not log the revocation"; }
flow_get web
[ "$GOT_RC" = 6 ] || fail "revoked web: exit $GOT_RC (want 6, unknown client): $(cat "$TMP/got.err")"
[ -s "$TMP/got" ] && fail "revoked web got output"
flow_get worker --get queue_token
[ "$GOT_RC" = 0 ] && [ "$(cat "$TMP/got")" = q-one ] || fail "worker after the revocation: $GOT_RC"
grep '"result":"revoked"' "$TMP/audit.jsonl" | grep "\"client\":\"$ID_web\"" |
	grep -q '"name":"web"' || { cat "$TMP/audit.jsonl" >&2; fail "no audit record 'revoked' for web"; }
[ "$(grep -c '"result":"revoked"' "$TMP/audit.jsonl")" = 1 ] || fail "revoked recorded for others"
# A malformed revoked.json, listed and signed by two masters: the reload is
# refused as a whole and the bundle that revokes web keeps serving.
printf '{"revoked": "web", "version": 1}\n' >"$B/revoked.json"
status 0 provision-master manifest --bundle "$B"
# shellcheck disable=SC2086
status 0 provision-master sign --bundle "$B" $MASTER_ARGS
# shellcheck disable=SC2086
status 0 provision-master sign --bundle "$B" $M_b
flow_reload_refused "malformed revoked.json" "missing or not an array"
flow_get web
[ "$GOT_RC" = 6 ] || fail "web after the malformed revoked.json: exit $GOT_RC (want 6)"
flow_get worker --get queue_token
[ "$GOT_RC" = 0 ] || fail "worker after the malformed revoked.json: exit $GOT_RC"
grep -q 'pw-one\|q-one' "$TMP/audit.jsonl" "$SRV_LOG" && fail "a value reached a log"
flow_stop
flow_end kofn
