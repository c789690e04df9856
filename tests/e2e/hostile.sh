#!/bin/sh
# SPDX-License-Identifier: ISC
# One hostile source must not take the service from everyone else. Each
# attack runs against a real server (SoftHSM2, loopback, several source
# addresses in 127.0.0.0/8) and is its own case:
#   1. descriptors: under RLIMIT_NOFILE 64 idle connections from one address
#      leave the server nearly idle, its log small, another address served;
#   2. 1,100 idle connections from one address leave another address served;
#   3. 1,000 connections announcing 64 KiB bodies (or a Hello header and no
#      body) grow the server by less than 8 MiB (docs/operations.md);
#   4. header-only frames of an unknown type, a wrong Hello length and a Get
#      before Hello are refused within a second;
#   5. a captured Hello replayed from hundreds of addresses is refused before
#      any token work, honest fetches are served and the audit log holds
#      one record per address, not per replay;
#   6. a Hello captured before a restart is refused after it (--clock-skew);
#   7. a Hello stamped a day ahead is refused, and its client is not locked
#      out by it;
#   8. a Bye sent in the same write as the Get (read ahead by the network
#      process) is taken after the OkGet and closes the connection.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

CLIENT=${APPL_CLIENT:?APPL_CLIENT unset}
flow_softhsm
flow_ceremony
flow_client web
flow_client worker
flow_define "$TMP/def.toml" one
flow_seal_sign "$TMP/def.toml"

# cpu PID: utime+stime ticks of PID and its children.
cpu() {
	for p in $1 $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		awk '{print $14 + $15}' "/proc/$p/stat"
	done | awk '{s += $1} END {print s}'
}
# rss PID: RSS KiB of PID and its children.
rss() {
	for p in $1 $(cat "/proc/$1/task/$1/children" 2>/dev/null); do
		awk '/^Rss:/ {print $2}' "/proc/$p/smaps_rollup"
	done | awk '{s += $1} END {print s}'
}
honest() { # honest CASE: a fetch from 127.0.0.1 must succeed
	flow_get web --timeout 10
	[ "$GOT_RC" = 0 ] || { tail -20 "$SRV_LOG" >&2; fail "$1: honest fetch failed: $(cat "$TMP/got.err")"; }
}
# hold SRC COUNT HEADER_HEX SECONDS: COUNT connections from SRC (an address or
# "spread:BASE" for 127.0.BASE.x, 25 per address), each sending HEADER (hex,
# may be empty), kept open SECONDS or until killed; prints what it opened and
# how many were refused or closed by the server within 1 s.
hold() {
	python3 - "$PORT" "$@" <<'PY'
import resource, socket, sys, time
port, src, count, header, secs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), bytes.fromhex(sys.argv[4]), float(sys.argv[5])
resource.setrlimit(resource.RLIMIT_NOFILE, (count + 100, max(count + 100, resource.getrlimit(resource.RLIMIT_NOFILE)[1])))
socks, failed = [], 0
for i in range(count):
    a = src if not src.startswith("spread:") else "127.0.%s.%d" % (src[7:], 1 + i // 25)
    s = socket.socket()
    s.setblocking(True)
    s.settimeout(5)
    try:
        s.bind((a, 0))
        s.connect(("127.0.0.1", port))
        if header:
            s.sendall(header)
        socks.append(s)
    except OSError:
        failed += 1
        s.close()
time.sleep(1)
closed = 0
for s in socks:
    s.setblocking(False)
    try:
        if s.recv(4096, socket.MSG_PEEK) is not None:
            closed += 1
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
print("opened %d refused-or-closed %d connect-failed %d" % (len(socks), closed, failed), flush=True)
time.sleep(secs)
PY
}

# ---- 1. descriptors under a low RLIMIT_NOFILE ------------------------------
(ulimit -n 64 && exec appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" \
	--listen "127.0.0.1:$PORT" --state-file "$TMP/state/serial" --audit-log "$TMP/audit.jsonl" \
	--idle-timeout 60 --handshake-timeout 60 2>>"$SRV_LOG") &
SRV_PID=$!
track_pid "$SRV_PID"
wait_for_port "$PORT" 20 || fail "server did not start"
grep -q "does not fit the descriptor limit" "$SRV_LOG" || fail "1: no warning that --max-connections was clamped"
hold 127.0.0.2 200 "" 6 >"$TMP/hold1" &
HOLD=$!
track_pid "$HOLD"
sleep 2
c0=$(cpu "$SRV_PID")
lines0=$(wc -l <"$SRV_LOG")
sleep 2
c1=$(cpu "$SRV_PID")
lines1=$(wc -l <"$SRV_LOG")
honest "1"
[ $((c1 - c0)) -lt 40 ] || fail "1: the server used $((c1 - c0)) ticks in 2 s while held (spinning?)"
[ $((lines1 - lines0)) -lt 10 ] || fail "1: $((lines1 - lines0)) log lines in 2 s"
[ "$(wc -c <"$SRV_LOG")" -lt 20000 ] || fail "1: the log grew to $(wc -c <"$SRV_LOG") bytes"
wait "$HOLD" || true
grep -q "opened 200" "$TMP/hold1" || fail "1: the attacker could not even connect: $(cat "$TMP/hold1")"
flow_stop
echo "1. descriptors: ok ($((c1 - c0)) ticks in 2 s, log $(wc -c <"$SRV_LOG") bytes)"

# ---- 2. 1,100 idle connections from one address ----------------------------
: >"$SRV_LOG"
flow_start --idle-timeout 60 --handshake-timeout 60
hold 127.0.0.3 1100 "" 4 >"$TMP/hold2" &
HOLD=$!
track_pid "$HOLD"
for _ in $(seq 100); do [ -s "$TMP/hold2" ] && break; sleep 0.1; done
honest "2"
wait "$HOLD" || true
grep -q "opened 1100 refused-or-closed 10[0-9][0-9]" "$TMP/hold2" ||
	fail "2: expected all but the per-source limit refused: $(cat "$TMP/hold2")"
[ "$(wc -c <"$SRV_LOG")" -lt 20000 ] || fail "2: the log grew to $(wc -c <"$SRV_LOG") bytes"
echo "2. one address, 1,100 connections: ok ($(cat "$TMP/hold2"))"

# ---- 3. 1,000 connections announcing big bodies -----------------------------
r0=$(rss "$SRV_PID")
hold spread:10 500 ffff00 3 >"$TMP/hold3a" &
H1=$!
hold spread:30 500 00ae00 3 >"$TMP/hold3b" &
H2=$!
track_pid "$H1"
track_pid "$H2"
sleep 2.5
r1=$(rss "$SRV_PID")
wait "$H1" "$H2" || true
grow=$((r1 - r0))
[ "$grow" -lt 8192 ] || fail "3: the server grew by $grow KiB"
grep -q "refused-or-closed 500" "$TMP/hold3a" || fail "3: 64 KiB announcements not refused: $(cat "$TMP/hold3a")"
honest "3"
echo "3. 1,000 big announcements: ok (grew $grow KiB)"

# ---- 4. headers judged before any body byte ---------------------------------
python3 - "$PORT" <<'PY' || fail "4: a header was not refused at once"
import socket, sys, time
port = int(sys.argv[1])
cases = [("unknown type", b"\x00\x0a\x42", b"expected Hello"),
         ("wrong Hello length", b"\x00\x10\x00", b"bad Hello length"),
         ("Get before Hello", b"\x00\x20\x02", b"expected Hello")]
for name, hdr, want in cases:
    s = socket.create_connection(("127.0.0.1", port), 2)
    t = time.monotonic()
    s.sendall(hdr)
    s.settimeout(1.0)
    data = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except socket.timeout:
        sys.exit("%s: no answer within a second" % name)
    dt = time.monotonic() - t
    if want not in data or data[2] != 0xff or dt >= 1.0:
        sys.exit("%s: %r after %.2f s" % (name, data, dt))
    print("%s: refused in %.3f s" % (name, dt))
PY
echo "4. headers: ok"

# ---- 5. a captured Hello replayed from hundreds of addresses ----------------
"$CLIENT" --save-hello "$TMP/hello.bin" 127.0.0.1 "$PORT" "$SERVER_PUB" "$TMP/web.pem" >/dev/null ||
	fail "5: the capturing fetch failed"
audit0=$(wc -l <"$TMP/audit.jsonl")
# 300 addresses, 2 replays each: 600 replays.
python3 - "$PORT" "$TMP/hello.bin" <<'PY' >"$TMP/replay5" &
import socket, sys
port, hello = int(sys.argv[1]), open(sys.argv[2], "rb").read()
refused = other = 0
for i in range(600):
    s = socket.socket()
    s.settimeout(5)
    s.bind(("127.0.%d.%d" % (100 + (i % 300) // 150, 1 + i % 150), 0))
    s.connect(("127.0.0.1", port))
    s.sendall(hello)
    data = s.recv(4096)
    if b"replayed Hello" in data:
        refused += 1
    else:
        other += 1
    s.close()
print("refused %d other %d" % (refused, other))
PY
REPLAY=$!
track_pid "$REPLAY"
for _ in 1 2 3; do honest "5"; done
wait "$REPLAY" || fail "5: the replayer failed"
grep -q "refused 600 other 0" "$TMP/replay5" || fail "5: $(cat "$TMP/replay5")"
audit1=$(wc -l <"$TMP/audit.jsonl")
# One record per address (the first replay of each); the three honest
# fetches add two records each (and a little slack).
[ $((audit1 - audit0)) -le $((300 + 10)) ] ||
	fail "5: $((audit1 - audit0)) audit records for 600 replays from 300 addresses"
flow_stop
# At the stop the rest are counted into one record per address.
counted=$(grep '"result":"replay"' "$TMP/audit.jsonl" | grep -o '"count":[0-9]*' |
	awk -F: '{s += $2} END {print s + 0}')
[ "$counted" -ge 300 ] || fail "5: the audit log counts $counted of the 300 replays after the first ones"
echo "5. replayed Hello: ok ($(cat "$TMP/replay5"), $((audit1 - audit0)) audit records, $counted counted)"

# ---- 6. replay across a restart ---------------------------------------------
flow_start --clock-skew 2
"$CLIENT" --save-hello "$TMP/hello6.bin" 127.0.0.1 "$PORT" "$SERVER_PUB" "$TMP/web.pem" >/dev/null ||
	fail "6: the capturing fetch failed"
flow_stop
sleep 3 # longer than the skew: the Hello is now older than the next start minus it
flow_start --clock-skew 2
python3 - "$PORT" "$TMP/hello6.bin" <<'PY' >"$TMP/replay6" || fail "6: the replayer failed"
import socket, sys
port, hello = int(sys.argv[1]), open(sys.argv[2], "rb").read()
s = socket.socket()
s.settimeout(5)
s.bind(("127.0.6.1", 0))
s.connect(("127.0.0.1", port))
s.sendall(hello)
data = s.recv(4096)
print("linked" if len(data) >= 3 and data[2] == 0x01 else "answer %r" % data[:3])
PY
grep -q "linked" "$TMP/replay6" && fail "6: a Hello captured before the restart was accepted after it"
# The audit writer takes records in batches: give it a moment.
wait_for_log "$TMP/audit.jsonl" '"peer":"127.0.6.1:[0-9]*".*"result":"clock","reason":"stale Hello' 5
grep '"peer":"127.0.6.1' "$TMP/audit.jsonl" | grep -q '"result":"ok"' &&
	fail "6: the audit log records the replay as ok"
honest "6"

# ---- 7. a Hello from the future ---------------------------------------------
set +e
"$CLIENT" --ts-offset 86400 127.0.0.1 "$PORT" "$SERVER_PUB" "$TMP/web.pem" >"$TMP/future7" 2>&1
rc=$?
set -e
[ "$rc" = 4 ] && grep -q "ERROR: .*Hello from the future" "$TMP/future7" ||
	fail "7: a Hello a day ahead got exit $rc: $(cat "$TMP/future7")"
# Not recorded: the client's next Hello, stamped now, is newer than any it sent.
"$CLIENT" 127.0.0.1 "$PORT" "$SERVER_PUB" "$TMP/web.pem" >"$TMP/now7" 2>&1 ||
	fail "7: the client is locked out after a Hello from the future: $(cat "$TMP/now7")"
honest "7"

# ---- 8. a frame sent before the reply to the last one ------------------------
# The network process reads ahead (what one recv brings); a Bye that came in
# the same write as the Get is taken after the OkGet, and closes.
"$CLIENT" --pipeline-bye 127.0.0.1 "$PORT" "$SERVER_PUB" "$TMP/web.pem" db_password >"$TMP/pipe8" 2>&1 ||
	fail "8: a Bye sent with the Get: $(cat "$TMP/pipe8")"
grep -q "^db_password=" "$TMP/pipe8" || fail "8: no value before the Bye: $(cat "$TMP/pipe8")"
honest "8"
flow_stop
echo "6. replay across a restart: refused ($(cat "$TMP/replay6"))"
echo "7. Hello a day ahead: refused, client not locked out"
echo "8. a Bye sent with the Get: answered, then closed"

echo "hostile: ok"
