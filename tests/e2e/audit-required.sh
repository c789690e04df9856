#!/bin/sh
# SPDX-License-Identifier: ISC
# --audit-required: when the audit record of a release cannot be written
# (the audit log is /dev/full, so every write fails with ENOSPC), the server
# refuses the release with an Error ("audit unavailable"; coffer-get exit 7)
# and sends no secret; without the flag the release goes ahead and the
# failure is only logged. A stalled audit log (a FIFO whose reader stops)
# holds up nothing but the releases: other clients are answered at once, a
# release under --audit-required is refused within seconds with no record
# written for it, and once the reader goes on everything is served again.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

flow_softhsm
flow_ceremony
flow_client web
flow_client worker
flow_client stranger # not in the definition
flow_define "$TMP/def.toml" one
flow_seal_sign "$TMP/def.toml"

# The audit log is a device that refuses every write (the last --audit-log
# given wins over flow_start's own).
flow_start --audit-required --audit-log /dev/full
flow_get web --format env
[ "$GOT_RC" = 7 ] || fail "with --audit-required: exit $GOT_RC (want 7): $(cat "$TMP/got.err")"
grep -q "audit unavailable" "$TMP/got.err" || fail "no reason: $(cat "$TMP/got.err")"
[ -s "$TMP/got" ] && fail "a secret left although its audit record could not be written"
grep -q "pw-one" "$TMP/got.err" && fail "a value reached the error text"
flow_alive "after a refused release"
flow_stop

PORT=$(random_port)
flow_start --audit-log /dev/full
flow_get web --format env
[ "$GOT_RC" = 0 ] || fail "without --audit-required: exit $GOT_RC: $(cat "$TMP/got.err")"
expect_web one
grep -q "audit" "$SRV_LOG" || fail "the failed audit write was not logged"
flow_stop

# ---- a stalled audit log -----------------------------------------------------
PORT=$(random_port)
mkfifo "$TMP/audit.fifo"
# The reader copies the log; it is stopped below to stall the writer.
cat "$TMP/audit.fifo" >"$TMP/audit.copy" &
READER=$!
track_pid "$READER"
flow_start --audit-required --audit-log "$TMP/audit.fifo"
flow_get web --format env
[ "$GOT_RC" = 0 ] || fail "stall: the first fetch failed: $(cat "$TMP/got.err")"
kill -STOP "$READER"
# Fill the pipe (64 KiB) with the records of unknown-key Hellos from fresh
# addresses (each address's first refusal is a record of its own).
python3 - "$PORT" <<'PY'
import socket, sys
port = int(sys.argv[1])
for i in range(600):
    s = socket.socket()
    s.settimeout(5)
    s.bind(("127.0.%d.%d" % (50 + i // 200, 1 + i % 200), 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"\x00\xae\x00" + bytes(range(174)))
    s.recv(4096)
    s.close()
PY
start=$(date +%s)
flow_get web --format env --timeout 20
took=$(($(date +%s) - start))
[ "$GOT_RC" = 7 ] && grep -q "audit unavailable" "$TMP/got.err" ||
	fail "stall: a release was not refused: exit $GOT_RC: $(cat "$TMP/got.err")"
[ "$took" -le 10 ] || fail "stall: the refusal took $took s"
# Meanwhile the event loop answers everyone else at once.
start=$(date +%s)
set +e
"$APPL_CLIENT" --bind 127.0.9.9 127.0.0.1 "$PORT" "$SERVER_PUB" "$TMP/stranger.pem" >/dev/null 2>&1
rc=$?
set -e
[ "$rc" = 3 ] || fail "stall: an unknown key got exit $rc (want KeyNotFound, 3)"
[ $(($(date +%s) - start)) -le 2 ] || fail "stall: a Hello waited for the audit log"
flow_alive "with a stalled audit log"
kill -CONT "$READER"
flow_get web --format env
[ "$GOT_RC" = 0 ] || fail "stall: no fetch once the log moved again: $(cat "$TMP/got.err")"
flow_stop
wait "$READER" || true
# The refused release left no "ok" release record behind.
releases=$(grep -c '"event":"release".*"result":"ok"' "$TMP/audit.copy" || true)
[ "$releases" = 2 ] || fail "stall: $releases ok release records (want 2: before and after)"
echo "audit-required: ok (a stalled log refused a release in $took s)"
