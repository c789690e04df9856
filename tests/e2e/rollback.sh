#!/bin/sh
# SPDX-License-Identifier: ISC
# Rollback held by the TPM: appliance-server --rollback-counter keeps the
# highest accepted serial in a TPM2_NT_COUNTER NV index (swtpm). The
# appliance key is a TPM blob on the same swtpm (one connection, shared);
# the master key is in a SoftHSM2 token. With the state file deleted, or an
# older one restored, an older signed bundle is refused at start-up and on
# reload; without the counter the same bundle would pass. Then the counter
# moves to a new TPM: refused until defined there, then raised to the
# state file's serial. A foreign index at that address is refused.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

export TSS2_LOG=all+none
start_swtpm
TPM1=$SWTPM_TCTI
make_token master
MASTER_ARGS="--pkcs11-module $COFFER_PKCS11_MODULE --token pkcs11:token=master --pin-source file:$COFFER_PIN_FILE"
SKEY_ARGS="--tpm2 $TPM1 --key-blob $TMP/appl.blob"
SRV_KEY_ARGS=$SKEY_ARGS
flow_ceremony
flow_client web
flow_client worker
STATE=$TMP/state/serial
mkdir -p "$TMP/state"

bundle_round() { # bundle_round TAG: a new definition, sealed, manifest, signed
	flow_define "$TMP/def-$1.toml" "$1"
	flow_seal_sign "$TMP/def-$1.toml"
}
check() { # check WANT COUNTER-TCTI: the whole start-up, nothing served
	_want=$1
	shift
	# shellcheck disable=SC2086
	status "$_want" appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" \
		--state-file "$STATE" --check "$@"
}
counter_is() { # counter_is TCTI VALUE
	status 0 coffer-hsm rollback-counter --tpm2 "$1"
	[ "$(cat "$TMP/out")" = "nv-index 0x018c0ffe value $2" ] ||
		fail "counter on $1: $(cat "$TMP/out"), expected $2"
}

bundle_round one
cp -a "$B" "$TMP/bundle-1"

# ---- provisioning ---------------------------------------------------------------
check 1 --rollback-counter "tpm2:$TPM1"
says "NV index 0x018c0ffe is not defined on TPM $TPM1"
says "coffer-hsm rollback-counter --define"
check 2 --rollback-counter "$TPM1"
says "--rollback-counter takes tpm2:TCTI"
status 0 coffer-hsm rollback-counter --tpm2 "$TPM1" --define
[ "$(cat "$TMP/out")" = "nv-index 0x018c0ffe value 1" ] || fail "define: $(cat "$TMP/out")"
status 1 coffer-hsm rollback-counter --tpm2 "$TPM1" --define
says "already defined"
counter_is "$TPM1" 1

# ---- serial 2 accepted: the counter follows ---------------------------------------
bundle_round two
flow_start --rollback-counter "tpm2:$TPM1"
flow_served two
grep -q "rollback counter tpm2:$TPM1: raised from 1 to serial 2" "$SRV_LOG" ||
	{ cat "$SRV_LOG" >&2; fail "the counter was not raised at start-up"; }
[ "$(cat "$STATE")" = 2 ] || fail "state file: $(cat "$STATE")"
flow_stop
counter_is "$TPM1" 2

# ---- the state file deleted, the old bundle put back ---------------------------
cp -a "$B" "$TMP/bundle-2"
rm -rf "$B" "$STATE"
cp -a "$TMP/bundle-1" "$B"
check 1 --rollback-counter "tpm2:$TPM1"
says "check 'serial' failed for crypto_manifest.json: serial 1 is older than 2"
says "the TPM rollback counter holds 2"
# A real start is refused too, and nothing listens.
# shellcheck disable=SC2086
status 1 timeout 20 appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" \
	--listen "127.0.0.1:$PORT" --state-file "$STATE" --rollback-counter "tpm2:$TPM1"
says "start-up check 'bundle'"
says "rollback refused"
[ ! -e "$STATE" ] || fail "a refused start-up wrote the state file"
# An old state file restored from a backup changes nothing.
echo 1 >"$STATE"
check 1 --rollback-counter "tpm2:$TPM1"
says "serial 1 is older than 2"
# Without the counter the state file was the only guard: the old bundle passes.
rm -f "$STATE"
check 0
counter_is "$TPM1" 2

# ---- on reload -------------------------------------------------------------------
rm -rf "$B"
cp -a "$TMP/bundle-2" "$B"
flow_start --rollback-counter "tpm2:$TPM1"
flow_served two
rm -f "$STATE"
rm -rf "$B"
cp -a "$TMP/bundle-1" "$B"
flow_reload_refused "reload to serial 1" "serial 1 is older than 2"
flow_served two "after the refused reload"
rm -rf "$B"
cp -a "$TMP/bundle-2" "$B"
bundle_round three
kill -HUP "$SRV_PID"
for _ in $(seq 100); do grep -q "reloaded: serial 3" "$SRV_LOG" && break; sleep 0.1; done
grep -q "reloaded: serial 3" "$SRV_LOG" || { cat "$SRV_LOG" >&2; fail "no reload to serial 3"; }
flow_served three
flow_stop
counter_is "$TPM1" 3
[ "$(cat "$STATE")" = 3 ] || fail "state file after the reload: $(cat "$STATE")"

# ---- the counter moves to a new TPM ----------------------------------------------
start_swtpm
TPM2=$SWTPM_TCTI
[ "$TPM2" != "$TPM1" ] || fail "the second swtpm has the first one's address"
check 1 --rollback-counter "tpm2:$TPM2"
says "is not defined on TPM $TPM2"
# Someone else's index at that address is not taken for ours.
TPM2TOOLS_TCTI=$TPM2 tpm2_nvdefine 0x018C0FFE -C o -s 8 -a "ownerread|ownerwrite" >/dev/null ||
	fail "tpm2_nvdefine"
check 1 --rollback-counter "tpm2:$TPM2"
says "is not a coffer rollback counter"
TPM2TOOLS_TCTI=$TPM2 tpm2_nvundefine 0x018C0FFE -C o >/dev/null || fail "tpm2_nvundefine"
status 0 coffer-hsm rollback-counter --tpm2 "$TPM2" --define
# The state file (serial 3) is the floor until the new counter caught up.
flow_start --rollback-counter "tpm2:$TPM2"
flow_served three
flow_stop
counter_is "$TPM2" 3
rm -f "$STATE"
rm -rf "$B"
cp -a "$TMP/bundle-2" "$B"
check 1 --rollback-counter "tpm2:$TPM2"
says "serial 2 is older than 3"

# Deleting the index and defining it again by hand (never written) does not
# roll it back: its first increment starts above the old value, and the
# appliance refuses a serial below that.
TPM2TOOLS_TCTI=$TPM2 tpm2_nvundefine 0x018C0FFE -C o >/dev/null || fail "tpm2_nvundefine"
TPM2TOOLS_TCTI=$TPM2 tpm2_nvdefine 0x018C0FFE -C o -s 8 -a "nt=counter|authread|authwrite|no_da" \
	>/dev/null || fail "tpm2_nvdefine counter"
status 0 coffer-hsm rollback-counter --tpm2 "$TPM2"
[ "$(cat "$TMP/out")" = "nv-index 0x018c0ffe never written" ] || fail "$(cat "$TMP/out")"
# shellcheck disable=SC2086
status 1 timeout 20 appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" \
	--listen "127.0.0.1:$PORT" --state-file "$STATE" --rollback-counter "tpm2:$TPM2"
says "the TPM counter is at 4, above the serial 2 just accepted"
[ ! -e "$STATE" ] || fail "serial 2 was recorded"
check 1 --rollback-counter "tpm2:$TPM2"
says "serial 2 is older than 4"
flow_end rollback
