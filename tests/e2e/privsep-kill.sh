#!/bin/sh
# SPDX-License-Identifier: ISC
# A system call outside the network process's seccomp allow-list kills it
# (SECCOMP_RET_KILL_PROCESS), and the appliance fails closed: the monitor
# logs how its network process died, records it in the audit trail, and
# exits 3; nothing listens any more. The trigger (SIGUSR2: appliance-net
# calls openat) exists only in builds with -Dtest_hooks=true, as test.sh
# makes them.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

if [ "${COFFER_TEST_HOOKS:-0}" != 1 ]; then
	echo "built without -Dtest_hooks=true: no trigger to test with (test.sh builds with it)"
	exit 77
fi

flow_softhsm
flow_ceremony
flow_client web
flow_client worker
flow_define "$TMP/def.toml" one
flow_seal_sign "$TMP/def.toml"
# Checkpoints signed by a key in the appliance's token: the end of the run,
# however it comes, is signed.
status 0 coffer-hsm keygen --pkcs11-module "$M" --token pkcs11:token=appliance \
	--pin-source "file:$APPL_PIN" --label audit --usage sign --out "$TMP/audit_public.pem"
flow_start --audit-key audit
NET_PID=$(pgrep -P "$SRV_PID") || fail "no network process"
flow_get web
[ "$GOT_RC" = 0 ] || fail "fetch before the trigger: $(cat "$TMP/got.err")"

kill -USR2 "$NET_PID"
for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SRV_PID" 2>/dev/null && fail "the monitor still runs after its network process was killed"
st=0
wait "$SRV_PID" || st=$?
[ "$st" = 3 ] || fail "monitor exit $st, expected 3 (system failure)"
grep -q "test hook: calling openat" "$SRV_LOG" || fail "the trigger did not fire"
grep -q "openat returned" "$SRV_LOG" && fail "the forbidden call returned: no sandbox"
grep -q "network process killed by signal 31 .*outside the sandbox's allow-list" "$SRV_LOG" ||
	{ cat "$SRV_LOG" >&2; fail "the log does not name the seccomp kill"; }
grep -q '"event":"service".*"result":"network-process-died".*signal 31' "$TMP/audit.jsonl" ||
	fail "the audit trail does not record it"
status 0 provision-master audit-verify --audit-log "$TMP/audit.jsonl" \
	--audit-public "$TMP/audit_public.pem"
grep -q "(shutdown) unsigned-tail 0 " "$TMP/out" || fail "the record of the death is not signed"
flow_get web
[ "$GOT_RC" != 0 ] || fail "a fetch succeeded after the service ended"
echo "privsep-kill: ok"
