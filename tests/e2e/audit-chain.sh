#!/bin/sh
# SPDX-License-Identifier: ISC
# The tamper-evident audit log, end to end on SoftHSM2: appliance-server
# writes a hash-chained log with checkpoints signed by --audit-key (in a
# token of its own, then in the appliance's token); checkpoints come every
# N records, at reload and at shutdown; a restart continues the chain;
# release records name the secrets (never a value) and the bundle serial.
# provision-master audit-verify accepts the log as written and names the
# line of each tampering: a record removed, edited, two swapped, a forged
# record appended, the file cut mid-record. Cutting the tail after a
# checkpoint is not detectable in the file itself; the verifier says so.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

LOG=$TMP/audit.jsonl
N=5

flow_softhsm
flow_ceremony
flow_client web
flow_client stranger
flow_client worker
flow_define "$TMP/def.toml" one
flow_seal_sign "$TMP/def.toml"

# The audit key in a token of its own, with its own PIN.
make_token audit
AUDIT_PIN=$COFFER_PIN_FILE
status 0 coffer-hsm keygen --pkcs11-module "$M" --token pkcs11:token=audit \
	--pin-source "file:$AUDIT_PIN" --label audit --usage sign --out "$TMP/audit_public.pem"
AUDIT_ARGS="--audit-key pkcs11:token=audit;object=audit --audit-pin-source file:$AUDIT_PIN"

# verify [ARGS...]: provision-master audit-verify of $LOG (or ARGS), status in $st.
verify() {
	st=0
	provision-master audit-verify --audit-log "${1:-$LOG}" --audit-public "$TMP/audit_public.pem" \
		${2:+--audit-public "$2"} >"$TMP/out" 2>"$TMP/err" || st=$?
}

# A wrong audit key is refused at start-up, by --check too (exit 3: a token step).
status 3 appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" --check \
	--state-file "$TMP/state/serial" --audit-key "pkcs11:token=audit;object=nosuchkey" \
	--audit-pin-source "file:$AUDIT_PIN"
says "start-up check 'audit key'"
# shellcheck disable=SC2086
status 0 appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" --check \
	--state-file "$TMP/state/serial" $AUDIT_ARGS

# shellcheck disable=SC2086
flow_start $AUDIT_ARGS --audit-checkpoint $N
for _i in 1 2 3 4; do
	flow_get web --format env
	[ "$GOT_RC" = 0 ] || fail "web: exit $GOT_RC: $(cat "$TMP/got.err")"
done
flow_get worker --get queue_token
[ "$GOT_RC" = 0 ] || fail "worker: exit $GOT_RC: $(cat "$TMP/got.err")"
flow_get stranger
[ "$GOT_RC" = 6 ] || fail "stranger: exit $GOT_RC"
# A reload writes a checkpoint (the bundle is unchanged: the reload succeeds).
kill -HUP "$SRV_PID"
for _i in $(seq 100); do
	grep -q '"reason":"reload"' "$LOG" && break
	sleep 0.1
done
grep -q '"reason":"reload"' "$LOG" || fail "no checkpoint at reload"
flow_get web --get db_port
[ "$GOT_RC" = 0 ] || fail "web after reload: exit $GOT_RC"
flow_stop

verify
[ "$st" = 0 ] || { cat "$TMP/err" >&2; fail "audit-verify of the untouched log: exit $st"; }
grep -q '^OK records ' "$TMP/out" || fail "no OK line: $(cat "$TMP/out")"
grep -q 'last-checkpoint [0-9]* (shutdown) unsigned-tail 0 ' "$TMP/out" ||
	fail "the log does not end with a signed shutdown checkpoint: $(cat "$TMP/out")"

# The shape of the log, record by record.
SERVER_FPR=sha256:$(openssl pkey -pubin -in "$SERVER_PUB" -outform DER | sha256sum | cut -d' ' -f1)
python3 - "$LOG" "$N" "$SERVER_FPR" <<'PY' || fail "audit log shape"
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
n, fpr = int(sys.argv[2]), sys.argv[3]
recs = [json.loads(l) for l in lines]
assert [r["seq"] for r in recs] == list(range(len(recs))), "seq"
cps = [r for r in recs if r["event"] == "checkpoint"]
assert [c["reason"] for c in cps][0] == "start" and cps[-1]["reason"] == "shutdown", cps
assert "reload" in [c["reason"] for c in cps], "reload"
# An interval checkpoint after exactly N records, never more than N between two.
since = 0
for r in recs:
    if r["event"] == "checkpoint":
        if r["reason"] == "interval":
            assert since == n, ("interval after %d records" % since)
        since = 0
    else:
        since += 1
        assert since <= n, "more than N records without a checkpoint"
assert sum(1 for c in cps if c["reason"] == "interval") >= 2, "interval checkpoints"
hs = [r for r in recs if r["event"] == "handshake"]
rel = [r for r in recs if r["event"] == "release"]
assert all(r["appliance_key"] == fpr for r in hs), "handshakes name the appliance key"
assert all(r["appliance_key"] == fpr and r["serial"] >= 1 for r in rel), "releases: key, serial"
web_all = [r for r in rel if r["name"] == "web" and r["requested"] == "all"]
assert web_all and web_all[0]["released"][:2] == ["db_password", "db_port"], web_all
assert web_all[0]["keys"] == len(web_all[0]["released"]) == 9, web_all[0]
one = [r for r in rel if r["name"] == "worker"]
assert one and one[0]["requested"] == ["queue_token"] and one[0]["released"] == ["queue_token"]
assert any(r["result"] == "key-not-found" for r in hs), "stranger"
PY
grep -q 'pw-one\|q-one' "$LOG" && fail "a value reached the audit log"

# A restart continues the chain, now signed by a key in the appliance's
# own token (a bare label: the appliance's session is already logged in).
status 0 coffer-hsm keygen --pkcs11-module "$M" --token pkcs11:token=appliance \
	--pin-source "file:$APPL_PIN" --label audit2 --usage sign --out "$TMP/audit2_public.pem"
LAST_SEQ=$(tail -n 1 "$LOG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seq"])')
PORT=$(random_port)
flow_start --audit-key audit2 --audit-checkpoint 1000
flow_get web --get tls
[ "$GOT_RC" = 0 ] || fail "web after restart: exit $GOT_RC"
flow_stop
python3 - "$LOG" "$LAST_SEQ" <<'PY' || fail "the restart did not continue the chain"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
last = int(sys.argv[2])
nxt = [r for r in recs if r["seq"] == last + 1]
assert nxt and nxt[0]["event"] == "checkpoint" and nxt[0]["reason"] == "start", nxt
PY
verify "$LOG"
[ "$st" = 1 ] || fail "the second run's checkpoints verified without their key"
says "not one of the --audit-public keys"
verify "$LOG" "$TMP/audit2_public.pem"
[ "$st" = 0 ] || { cat "$TMP/err" >&2; fail "audit-verify with both keys: exit $st"; }

# tamper NAME EXPECTED_LINE PYTHON: apply PYTHON to the list `ls` of the
# log's lines (bytes, newline included) in a copy; audit-verify must exit 1
# naming line EXPECTED_LINE.
tamper() {
	python3 - "$LOG" "$TMP/t-$1.jsonl" "$3" <<'PY' || fail "tamper $1"
import hashlib, json, sys
ls = open(sys.argv[1], "rb").read().splitlines(keepends=True)
def find(pred, start=0):
    for i in range(start, len(ls)):
        if pred(json.loads(ls[i])):
            return i
    raise SystemExit("no such record")
exec(sys.argv[3])
open(sys.argv[2], "wb").write(b"".join(ls) if isinstance(ls, list) else ls)
PY
	verify "$TMP/t-$1.jsonl" "$TMP/audit2_public.pem"
	[ "$st" = 1 ] || { cat "$TMP/out" "$TMP/err" >&2; fail "$1: audit-verify exit $st, expected 1"; }
	says "line $2:"
}

REL=$(python3 - "$LOG" <<'PY'
import json, sys
for i, l in enumerate(open(sys.argv[1])):
    r = json.loads(l)
    if r["event"] == "release" and r["name"] == "web":
        print(i + 1); break
PY
)
[ -n "$REL" ] || fail "no release record"
TOTAL=$(wc -l <"$LOG")

# One record removed: the next one carries the wrong seq.
tamper removed "$REL" "del ls[$REL - 1]"
# One record edited (the client's name): the next record's prev no longer matches.
tamper edited $((REL + 1)) "ls[$REL - 1] = ls[$REL - 1].replace(b'\"name\":\"web\"', b'\"name\":\"wab\"')"
says "line $REL was changed"
# Two records swapped.
tamper swapped $((REL - 1)) "ls[$REL - 2], ls[$REL - 1] = ls[$REL - 1], ls[$REL - 2]"
# A forged release appended, its seq and prev made right: it follows the shutdown checkpoint.
tamper appended $((TOTAL + 1)) "
last = json.loads(ls[-1])
head = '{\"seq\":%d,\"prev\":\"%s\",' % (last['seq'] + 1, hashlib.sha256(ls[-1]).hexdigest())
ls.append((head + '\"ts\":\"2026-11-22T04:24:08.120Z\",\"event\":\"release\",\"name\":\"web\",\"result\":\"ok\"}\n').encode())"
says "after the shutdown checkpoint"
# A forged checkpoint appended: its signature does not verify.
tamper forged-checkpoint $((TOTAL + 1)) "
last = json.loads(ls[-1])
head = '{\"seq\":%d,\"prev\":\"%s\",' % (last['seq'] + 1, hashlib.sha256(ls[-1]).hexdigest())
ls.append((head + '\"ts\":\"2026-11-22T04:24:08.120Z\",\"event\":\"checkpoint\",\"reason\":\"start\",\"every\":5,\"audit_key\":\"%s\",\"sig\":\"%s\"}\n' % (last['audit_key'], last['sig'])).encode())"
says "signature does not verify"
# The file cut in the middle of its last record.
tamper truncated "$TOTAL" "ls = b''.join(ls)[:-10]"
says "incomplete record"
# Every record after a checkpoint deleted: nothing in the file shows it; the verifier says
# the log does not end with a shutdown checkpoint.
python3 - "$LOG" "$TMP/t-tail.jsonl" <<'PY'
import json, sys
ls = open(sys.argv[1], "rb").read().splitlines(keepends=True)
cut = max(i for i, l in enumerate(ls) if json.loads(l).get("reason") == "reload")
open(sys.argv[2], "wb").write(b"".join(ls[:cut + 1]))
PY
verify "$TMP/t-tail.jsonl" "$TMP/audit2_public.pem"
[ "$st" = 0 ] || fail "a log cut after a checkpoint: exit $st"
says "does not end with a shutdown checkpoint"

# A log that ends mid-record stops the start-up (fail closed), naming the file.
cp "$TMP/t-truncated.jsonl" "$TMP/torn.jsonl"
PORT=$(random_port)
status 1 appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" \
	--listen "127.0.0.1:$PORT" --state-file "$TMP/state/serial" --audit-log "$TMP/torn.jsonl"
says "ends in an incomplete record"
echo "audit chain: ok"
