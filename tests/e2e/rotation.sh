#!/bin/sh
# SPDX-License-Identifier: ISC
# Appliance key rotation without a flag day, on SoftHSM2 with the real
# binaries, following the procedure of docs/operations.md: a new key is made
# in the appliance's token, the secrets are sealed to both keys, the server
# serves both (--key twice); a client pinned to the old key and one pinned to
# the new are both served, and every audit record of a conversation names the
# appliance key it used; a start-up with a key the sealed file lacks is
# refused; coffer-get with two pins for one server ([new, old]) falls back to
# the old key when the server cannot open the Hello made for the new one;
# finally the old key is dropped and its clients fail as they must.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

LOG=$TMP/audit.jsonl
OLD="--key pkcs11:token=appliance;object=appl"
NEW="--key pkcs11:token=appliance;object=appl2"

fpr() { echo "sha256:$(openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1)"; }

# audit_keys NAME: the appliance_key of every handshake record of client NAME, one per line.
audit_keys() {
	python3 - "$LOG" "$1" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r.get("event") == "handshake" and r.get("name") == sys.argv[2]:
        print(r.get("appliance_key"))
PY
}

# get NAME PIN...: coffer-get as NAME against $PORT with a config file
# pinning PIN (one path, or "[[new, old]]": two pins of the one server), fetching one value (web: db_port,
# worker: max_jobs) into $TMP/got; status in $GOT_RC.
get() {
	_who=$1
	shift
	printf 'servers: 127.0.0.1:%s\nserver-key: %s\nkey: %s\n' "$PORT" "$*" "$TMP/$_who.pem" \
		>"$TMP/$_who.yaml"
	GOT_RC=0
	coffer-get --config "$TMP/$_who.yaml" --get "$(if [ "$_who" = web ]; then echo db_port; else echo max_jobs; fi)" \
		>"$TMP/got" 2>"$TMP/got.err" || GOT_RC=$?
}

flow_softhsm
# The keys go on each command line here: flow_start adds only the token.
BASE="--pkcs11-module $M --pin-source file:$APPL_PIN"
SRV_KEY_ARGS=$BASE
flow_ceremony
flow_client web
flow_client worker
flow_define "$TMP/def.toml" one
OLD_PUB=$SERVER_PUB
OLD_FPR=$(fpr "$OLD_PUB")

# 1. The new key, in the same token; its public key joins the bundle.
# shellcheck disable=SC2086
status 0 provision-master server-key appl2 --bundle "$B" $SKEY_ARGS
cp "$B/keys/appl2_public.pem" "$TMP/appl2_public.pem"
NEW_PUB=$TMP/appl2_public.pem
NEW_FPR=$(fpr "$NEW_PUB")

# 2. A sealed file for the old key only: serving the new key too is refused.
flow_seal_sign "$TMP/def.toml"
mkdir -p "$TMP/state"
# shellcheck disable=SC2086
status 1 appliance-server $BASE $OLD $NEW --bundle "$B" --trust-anchor "$ANCHOR" --check \
	--state-file "$TMP/state/serial"
says "start-up check 'bundle'"
says "$NEW_FPR"
says "not sealed to this appliance"

# 3. Seal to both, re-sign, serve both.
status 0 coffer-seal seal --companion "$TMP/companion.pem" --recipient "$OLD_PUB" \
	--recipient "$NEW_PUB" "$TMP/def.toml" -o "$B/coffer.sealed"
status 0 provision-master manifest --bundle "$B"
# shellcheck disable=SC2086
status 0 provision-master sign --bundle "$B" $MASTER_ARGS
# shellcheck disable=SC2086
flow_start $OLD $NEW
for _i in 1 2; do
	get web "$OLD_PUB"
	[ "$GOT_RC" = 0 ] || fail "web pinned to the old key: exit $GOT_RC: $(cat "$TMP/got.err")"
	[ "$(cat "$TMP/got")" = 5432 ] || fail "web: $(cat "$TMP/got")"
	get worker "$NEW_PUB"
	[ "$GOT_RC" = 0 ] || fail "worker pinned to the new key: exit $GOT_RC: $(cat "$TMP/got.err")"
	[ "$(cat "$TMP/got")" = 8 ] || fail "worker: $(cat "$TMP/got")"
done
# The audit records name the key of each conversation.
[ "$(audit_keys web | sort -u)" = "$OLD_FPR" ] || fail "web's records: $(audit_keys web)"
[ "$(audit_keys worker | sort -u)" = "$NEW_FPR" ] || fail "worker's records: $(audit_keys worker)"
python3 - "$LOG" "$OLD_FPR" "$NEW_FPR" <<'PY' || fail "release records lack the key"
import json, sys
rel = [json.loads(l) for l in open(sys.argv[1])]
rel = [r for r in rel if r.get("event") == "release"]
assert {r["name"]: r["appliance_key"] for r in rel} == {"web": sys.argv[2], "worker": sys.argv[3]}, rel
PY

# 4. Move the clients: two pins, new first. Against a server serving both, the new one opens.
get web "[[$NEW_PUB, $OLD_PUB]]"
[ "$GOT_RC" = 0 ] || fail "web with two pins: exit $GOT_RC: $(cat "$TMP/got.err")"
[ "$(audit_keys web | tail -n 1)" = "$NEW_FPR" ] || fail "web did not use the new key first"
flow_stop

# Against a server that still serves only the old key, the client falls back to it.
PORT=$(random_port)
# shellcheck disable=SC2086
flow_start $OLD
get web "[[$NEW_PUB, $OLD_PUB]]"
[ "$GOT_RC" = 0 ] || fail "web with two pins, old server: exit $GOT_RC: $(cat "$TMP/got.err")"
[ "$(cat "$TMP/got")" = 5432 ] || fail "web: $(cat "$TMP/got")"
[ "$(audit_keys web | tail -n 1)" = "$OLD_FPR" ] || fail "the fallback did not reach the old key"
grep -q '"result":"error","reason":"handshake failed"' "$LOG" ||
	fail "the refused Hello for the new key left no record"
# A pin it does not serve at all still fails, after trying both (exit 5).
get web "[[$NEW_PUB, $NEW_PUB]]"
[ "$GOT_RC" = 5 ] || fail "two pins the server lacks: exit $GOT_RC (want 5, server authentication)"
flow_stop

# 5. Drop the old key: reseal to the new one only, serve it alone.
status 0 coffer-seal seal --companion "$TMP/companion.pem" --recipient "$NEW_PUB" \
	"$TMP/def.toml" -o "$B/coffer.sealed"
status 0 provision-master manifest --bundle "$B"
# shellcheck disable=SC2086
status 0 provision-master sign --bundle "$B" $MASTER_ARGS
# shellcheck disable=SC2086
status 1 appliance-server $BASE $NEW $OLD --bundle "$B" --trust-anchor "$ANCHOR" --check \
	--state-file "$TMP/state/serial"
says "$OLD_FPR"
PORT=$(random_port)
# shellcheck disable=SC2086
flow_start $NEW
get web "$OLD_PUB"
[ "$GOT_RC" = 5 ] || fail "a client still pinned to the dropped key: exit $GOT_RC (want 5)"
get web "$NEW_PUB"
[ "$GOT_RC" = 0 ] || fail "web on the new key alone: exit $GOT_RC"
flow_stop

# The same key twice is refused: a usage error (exit 2).
# shellcheck disable=SC2086
status 2 appliance-server $BASE $NEW $NEW --bundle "$B" --trust-anchor "$ANCHOR" --check \
	--state-file "$TMP/state/serial"
says "is the same key as"
echo "rotation: ok"
