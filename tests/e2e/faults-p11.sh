#!/bin/sh
# SPDX-License-Identifier: ISC
# Token faults: the fault-injecting PKCS#11 module (tests/e2e/p11-fault.c)
# between the programs and SoftHSM2.
#  - start-up with C_Login, C_OpenSession or C_DeriveKey failing: the server
#    exits 1 naming the call and the CKR, nothing listens;
#  - while serving, C_DeriveKey failing: the fetch gets a server error
#    (coffer-get exit 7), the server logs the CKR and stays up; emptying the
#    control file recovers; a session reopened after a lost one meets a
#    failing C_OpenSession or C_Login the same way;
#  - a SIGHUP reload whose unsealing DH fails keeps the old secrets;
#  - the key is used through its session copy; a token that refuses the
#    copy (C_CopyObject) is used through the token object;
#  - provision-master sign with C_Sign failing: exit 3 naming C_Sign and the
#    CKR, no signature; the next sign works.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

[ -r "${COFFER_FAULT_P11:-}" ] || fail "COFFER_FAULT_P11 not built"
flow_softhsm
flow_ceremony
flow_client web
flow_client worker
flow_define "$TMP/def1.toml" one
flow_seal_sign "$TMP/def1.toml"

CTL=$TMP/fault.ctl
export COFFER_FAULT_MODULE="$M" COFFER_FAULT_CONTROL="$CTL"
SRV_KEY_ARGS="--pkcs11-module $COFFER_FAULT_P11 --key pkcs11:token=appliance;object=appl --pin-source file:$APPL_PIN"
MASTER_FAULT="--pkcs11-module $COFFER_FAULT_P11 --token pkcs11:token=master --pin-source file:$TMP/softhsm/master.pin"
[ -r "$TMP/softhsm/master.pin" ] || fail "master PIN file not where make_token puts it"

# fault "LINE..." : the control file holds exactly these rules.
fault() {
	: >"$CTL"
	for _l in "$@"; do echo "$_l" >>"$CTL"; done
}
# hits FN: how many faults were injected into FN so far.
hits() {
	{ cat "$CTL.count" 2>/dev/null || true; } | grep -c "^$1 " || true
}

port_closed() {
	python3 -c 'import socket,sys
s=socket.socket(); s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0 else 1)' "$PORT" ||
		fail "something listens on $PORT after a refused start"
}

# refuse_start CALL CKR [MORE-PATTERN]: the server must not start.
refuse_start() {
	fault "$1 $2"
	_before=$(hits "$1")
	_st=0
	# shellcheck disable=SC2086
	timeout 20 appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" \
		--listen "127.0.0.1:$PORT" --state-file "$TMP/state/serial" \
		>"$TMP/out" 2>"$TMP/err" || _st=$?
	# A token failure at start-up is exit 3 (token or system), as in every tool.
	[ "$_st" = 3 ] || { cat "$TMP/err" >&2; fail "start with $1 $2: exit $_st, expected 3"; }
	[ "$(hits "$1")" -gt "$_before" ] || fail "start with $1 $2: the fault was never hit"
	grep -q "level=error.*$2" "$TMP/err" || { cat "$TMP/err" >&2; fail "start with $1 $2: no $2 in the reason"; }
	if [ -n "${3:-}" ]; then
		grep -q "level=error.*$3" "$TMP/err" ||
			{ cat "$TMP/err" >&2; fail "start with $1 $2: reason does not name '$3'"; }
	fi
	grep -q "level=error.*$1" "$TMP/err" ||
		bug "start-up with $1 failing: the reason does not name $1: $(grep level=error "$TMP/err")"
	port_closed
}

mkdir -p "$TMP/state"
refuse_start C_Login CKR_DEVICE_ERROR "token 'appliance'"
refuse_start C_Login CKR_PIN_INCORRECT "authentication failed"
refuse_start C_OpenSession CKR_DEVICE_ERROR "token 'appliance'"
refuse_start C_OpenSession CKR_TOKEN_NOT_PRESENT "token 'appliance'"
refuse_start C_DeriveKey CKR_DEVICE_ERROR "coffer.sealed"
[ ! -e "$TMP/state/serial" ] || fail "a refused start recorded a serial"

# Serving through the fault module. No --cache-ss: every Hello uses the token.
fault
flow_start --workers 2
flow_get web
[ "$GOT_RC" = 0 ] || fail "through the fault module: exit $GOT_RC: $(cat "$TMP/got.err")"
expect_web one
grep -q "working from a session copy" "$SRV_LOG" || fail "the key is not used through its session copy"

# serving_fault CALL RULE...: one fetch while RULE holds must fail as a
# server error, hit CALL, be logged with its CKR; the server survives, and
# with the rules gone the next fetch is served again.
serving_fault() {
	_call=$1
	shift
	_before=$(hits "$_call")
	_lines=$(wc -l <"$SRV_LOG")
	fault "$@"
	flow_get web
	[ "$(hits "$_call")" -gt "$_before" ] || fail "$*: $_call never hit"
	[ "$GOT_RC" != 0 ] || fail "$*: the fetch succeeded"
	[ -s "$TMP/got" ] && fail "$*: a failed fetch printed secrets"
	[ "$GOT_RC" = 7 ] ||
		bug "$*: coffer-get exit $GOT_RC, expected 7 (server error): $(cat "$TMP/got.err")"
	sleep 0.2
	flow_alive "$*"
	_ckr=$(grep "^$_call " "$CTL" | cut -d' ' -f2)
	tail -n +"$((_lines + 1))" "$SRV_LOG" >"$TMP/newlog"
	grep -q "$_ckr" "$TMP/newlog" && grep -q "$_call" "$TMP/newlog" ||
		bug "$*: the server does not log $_call and $_ckr (log level error/warn); new log lines: $(cat "$TMP/newlog")"
	fault
	flow_get web
	[ "$GOT_RC" = 0 ] || fail "$*: no recovery after the fault ended: exit $GOT_RC: $(cat "$TMP/got.err")"
	expect_web one
}

serving_fault C_DeriveKey "C_DeriveKey CKR_DEVICE_ERROR"
serving_fault C_DeriveKey "C_DeriveKey CKR_GENERAL_ERROR"
# A lost session is reopened (hsm/ retries): then C_OpenSession fails ...
serving_fault C_OpenSession "C_DeriveKey CKR_SESSION_HANDLE_INVALID" "C_OpenSession CKR_DEVICE_ERROR"
# ... or, the last session gone and SoftHSM2 logged out, C_Login fails.
serving_fault C_Login "C_DeriveKey CKR_SESSION_HANDLE_INVALID" "C_Login CKR_DEVICE_ERROR"
grep -q "reopening the session" "$SRV_LOG" || fail "no session reopened after CKR_SESSION_HANDLE_INVALID"

# Many failing fetches in a row do not wear the server down.
fault "C_DeriveKey CKR_DEVICE_ERROR"
for _ in 1 2 3 4 5 6 7 8 9 10; do
	flow_get web
	[ "$GOT_RC" != 0 ] || fail "a fetch succeeded while C_DeriveKey fails"
done
fault
flow_alive "after ten failed fetches"
flow_get web
[ "$GOT_RC" = 0 ] || fail "no recovery after ten failed fetches: $(cat "$TMP/got.err")"
expect_web one

# A reload whose unsealing DH fails keeps the old secrets; once the token
# works, the same bundle loads.
flow_define "$TMP/def2.toml" two
flow_seal_sign "$TMP/def2.toml"
fault "C_DeriveKey CKR_DEVICE_ERROR"
kill -HUP "$SRV_PID"
for _ in $(seq 100); do grep -q "reload failed" "$SRV_LOG" && break; sleep 0.1; done
grep "reload failed" "$SRV_LOG" | grep -q "C_DeriveKey.*CKR_DEVICE_ERROR" ||
	{ cat "$SRV_LOG" >&2; fail "reload with a failing token: no reason naming C_DeriveKey and the CKR"; }
fault
flow_alive "failed reload"
flow_get web
[ "$GOT_RC" = 0 ] || fail "after a failed reload: exit $GOT_RC: $(cat "$TMP/got.err")"
expect_web one
[ "$(cat "$TMP/state/serial")" = 1 ] || fail "a failed reload recorded serial $(cat "$TMP/state/serial")"
kill -HUP "$SRV_PID"
for _ in $(seq 100); do
	flow_get web
	[ "$GOT_RC" = 0 ] && cmp -s "$TMP/got" "$TMP/want" || break
	sleep 0.1
done
expect_web two
[ "$(cat "$TMP/state/serial")" = 2 ] || fail "serial 2 not recorded"
flow_stop

# A token that refuses the working copy (no C_CopyObject, CKA_COPYABLE
# false): the key is used through its token object, as before.
fault "C_CopyObject CKR_FUNCTION_NOT_SUPPORTED"
flow_start --workers 2
flow_get web
[ "$GOT_RC" = 0 ] || fail "without a session copy: exit $GOT_RC: $(cat "$TMP/got.err")"
expect_web two
[ "$(hits C_CopyObject)" -ge 1 ] || fail "C_CopyObject never hit"
grep -q "no session copy (C_CopyObject: CKR_FUNCTION_NOT_SUPPORTED), working from the token object" \
	"$SRV_LOG" || fail "the refused copy is not logged"
flow_stop
fault

# provision-master sign with C_Sign failing: exit 3 naming C_Sign and the
# CKR, and no signature is left; with the fault gone the sign works.
status 0 provision-master manifest --bundle "$B"
fault "C_Sign CKR_DEVICE_ERROR"
# shellcheck disable=SC2086
status 3 provision-master sign --bundle "$B" $MASTER_FAULT
[ "$(hits C_Sign)" -ge 1 ] || fail "C_Sign never hit"
grep -q "C_Sign.*CKR_DEVICE_ERROR" "$TMP/err" || fail "sign: reason does not name C_Sign and the CKR: $(cat "$TMP/err")"
[ -e "$B/crypto_manifest.json.sig" ] && fail "a failed sign left a signature"
status 1 provision-master verify --bundle "$B" --trust-anchor "$ANCHOR"
fault "C_Login CKR_DEVICE_ERROR"
# shellcheck disable=SC2086
status 3 provision-master sign --bundle "$B" $MASTER_FAULT
grep -q "CKR_DEVICE_ERROR" "$TMP/err" || fail "sign with C_Login failing: $(cat "$TMP/err")"
grep -q "C_Login" "$TMP/err" ||
	bug "provision-master sign with C_Login failing: the reason does not name C_Login: $(cat "$TMP/err")"
fault
# shellcheck disable=SC2086
status 0 provision-master sign --bundle "$B" $MASTER_FAULT
status 0 provision-master verify --bundle "$B" --trust-anchor "$ANCHOR"
flow_end "faults through PKCS#11"
