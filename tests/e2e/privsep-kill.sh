#!/bin/sh
# SPDX-License-Identifier: ISC
# A system call outside the network process's seccomp allow-list kills it
# (SECCOMP_RET_KILL_PROCESS), and the appliance fails closed: the monitor
# logs how its network process died, records it in the audit trail, and
# exits 3; nothing listens any more. The same end for a network process
# that stops reading the monitor's replies while it keeps sending: the
# monitor queues at most IPC_MAX_PENDING. The triggers (SIGUSR2: appliance-net
# calls openat; SIGUSR1: it floods) exist only in builds with
# -Dtest_hooks=true, as test.sh makes them.
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

# A network process that stops reading the replies and keeps sending (the
# second trigger, SIGUSR1: it sends Gets on fresh connections, each answered
# with an Error): the monitor queues no more than IPC_MAX_PENDING (64 MiB),
# then ends the service as for a dead network process.
flow_start
NET_PID=$(pgrep -P "$SRV_PID") || fail "no network process"
flow_get web
[ "$GOT_RC" = 0 ] || fail "fetch before the flood: $(cat "$TMP/got.err")"
started=$(date +%s)
kill -USR1 "$NET_PID"
for _ in $(seq 1200); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SRV_PID" 2>/dev/null && fail "the monitor still runs 120 s after its network process stopped reading"
st=0
wait "$SRV_PID" || st=$?
[ "$st" = 3 ] || { tail -5 "$SRV_LOG" >&2; fail "flood: monitor exit $st, expected 3"; }
grep -q "test hook: reading nothing from the monitor" "$SRV_LOG" || fail "the flood did not start"
queued=$(grep -o "the network process stopped reading ([0-9]* bytes queued)" "$SRV_LOG" |
	head -1 | tr -dc 0-9)
[ -n "$queued" ] ||
	{ tail -5 "$SRV_LOG" >&2; fail "the log does not say that the network process stopped reading"; }
# The bound holds within the replies to one read (128 KiB of input), not
# after a turn of the loop that a sender could stretch without end.
[ "$queued" -le $((64 * 1024 * 1024 + 8 * 1024 * 1024)) ] ||
	fail "the monitor queued $queued bytes for a network process that does not read"
grep -q '"event":"service".*"result":"network-process-died".*stopped reading' "$TMP/audit.jsonl" ||
	fail "the audit trail does not record the end"
echo "flood: the monitor ended the service after $(($(date +%s) - started)) s, $queued bytes queued"
echo "privsep-kill: ok"
