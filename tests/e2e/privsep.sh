#!/bin/sh
# SPDX-License-Identifier: ISC
# Privilege separation on a running server (real SoftHSM2 token, real
# processes), started as root with --user nobody:
#   - two processes; the one holding the listening socket (appliance-net) has
#     no PKCS#11 module or tss2 mapped, Seccomp 2, NoNewPrivs 1, runs as
#     nobody, and its root is not /; the monitor holds no listening socket;
#   - after several fetches, neither a random secret value nor the PIN is
#     anywhere in the network process's memory (the monitor's memory, scanned
#     the same way, does hold the value: the scan works);
#   - SIGHUP as nobody serves a rotated value and records the serial (the
#     state directory was created as root before the drop);
#   - kill -9 of the network process: the monitor logs how, audits it and
#     exits 1; kill -9 of the monitor: the network process exits at once;
#   - a token store the dropped user cannot read: start-up refused, named;
#   - started unprivileged: Landlock and seccomp, no chroot.
# The forbidden system call (a test-build hook) is privsep-kill.sh.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

[ "$(id -u)" = 0 ] || { echo "privsep.sh needs root (it tests the drop to --user)"; exit 77; }
NOBODY_UID=$(id -u nobody) || fail "no user nobody"

flow_softhsm
flow_ceremony
flow_client web
flow_client worker
SECRET=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
PIN=$(cat "$APPL_PIN")
flow_define "$TMP/def1.toml" "$SECRET"
flow_seal_sign "$TMP/def1.toml"

# The dropped user must reach the token store and read the bundle (and
# nothing else of $TMP's).
chmod 711 "$TMP" "$TMP/softhsm"
chmod 644 "$SOFTHSM2_CONF"
chown -R nobody "$TMP/softhsm/tokens"
chmod -R a+rX "$B"

# net_pid: NET_PID, the monitor's only child.
net_pid() {
	for _ in $(seq 50); do
		NET_PID=$(pgrep -P "$SRV_PID" || true)
		[ -n "$NET_PID" ] && return 0
		sleep 0.1
	done
	fail "the monitor has no child process"
}

# A copy of flow_start without creating the state directory: the server
# makes it as root, and must hand it to --user.
start_server() {
	# shellcheck disable=SC2086
	appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" \
		--listen "127.0.0.1:$PORT" --state-file "$TMP/state/serial" \
		--audit-log "$TMP/audit.jsonl" "$@" 2>>"$SRV_LOG" &
	SRV_PID=$!
	track_pid "$SRV_PID"
	wait_for_port "$PORT" 20 || { cat "$SRV_LOG" >&2; fail "appliance-server did not start"; }
	net_pid
}

start_server --user nobody --workers 2

# --- two processes, and what each holds ------------------------------------
[ "$(awk '/^Uid:/ {print $2}' "/proc/$SRV_PID/status")" = "$NOBODY_UID" ] ||
	fail "the monitor does not run as nobody"
grep -q "^Seccomp:[[:space:]]*2" "/proc/$NET_PID/status" || fail "network process: no seccomp filter"
grep -q "^NoNewPrivs:[[:space:]]*1" "/proc/$NET_PID/status" || fail "network process: no no_new_privs"
[ "$(awk '/^Uid:/ {print $2 $3 $4 $5}' "/proc/$NET_PID/status")" = \
	"$NOBODY_UID$NOBODY_UID$NOBODY_UID$NOBODY_UID" ] || fail "network process not nobody"
[ "$(awk '/^Groups:/ {print $2}' "/proc/$NET_PID/status")" = "" ] ||
	fail "network process kept supplementary groups"
root=$(readlink "/proc/$NET_PID/root")
[ "$root" != / ] || fail "network process: root is /"
case $root in *"(deleted)") ;; *) fail "network process root $root is not an emptied directory" ;; esac
grep -Eiq "softhsm|pkcs11|p11-fault|tss2" "/proc/$NET_PID/maps" &&
	fail "network process maps a token library: $(grep -Ei 'softhsm|pkcs11|tss2' "/proc/$NET_PID/maps" | head -3)"
grep -q "libsofthsm2\|p11-fault" "/proc/$SRV_PID/maps" || fail "the monitor has no token module (check broken)"

# Which process holds a listening socket on $PORT (by socket inode).
python3 - "$PORT" "$SRV_PID" "$NET_PID" <<'PY' || fail "listening socket in the wrong process"
import os, sys
port, mon, net = int(sys.argv[1]), sys.argv[2], sys.argv[3]
listen = set()
for t in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(t).read().splitlines()[1:]:
        f = line.split()
        if f[3] == "0A" and int(f[1].split(":")[1], 16) == port:
            listen.add(f[9])
def socks(pid):
    out = set()
    for fd in os.listdir("/proc/%s/fd" % pid):
        try:
            l = os.readlink("/proc/%s/fd/%s" % (pid, fd))
        except OSError:
            continue
        if l.startswith("socket:["):
            out.add(l[8:-1])
    return out
assert listen, "nothing listens on %d" % port
assert socks(net) & listen, "the network process does not hold the listener"
assert not (socks(mon) & listen), "the monitor holds a listening socket"
PY

# --- secrets never reach the network process --------------------------------
for _ in 1 2 3; do
	flow_get web
	[ "$GOT_RC" = 0 ] || fail "fetch: exit $GOT_RC: $(cat "$TMP/got.err")"
	grep -q "$SECRET" "$TMP/got" || fail "fetch did not return the secret"
done
flow_get worker
[ "$GOT_RC" = 0 ] || fail "worker fetch: exit $GOT_RC"

# scan PID TEXT: 0 if TEXT is anywhere in PID's readable memory. Read in
# chunks (overlapping by the needle's length); regions of 1 GiB and more are
# a sanitizer's shadow or reserve (never in the gcc build), not data.
scan() {
	python3 - "$1" "$2" <<'PY'
import sys
pid, needle = sys.argv[1], sys.argv[2].encode()
CHUNK = 1 << 20
def search(mem, lo, hi):
    tail = b""
    for off in range(lo, hi, CHUNK):
        try:
            mem.seek(off)
            data = mem.read(min(CHUNK, hi - off))
        except (OSError, ValueError, OverflowError):
            return False
        if needle in tail + data:
            return True
        tail = data[-(len(needle) - 1):]
    return False
found = False
with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
    for line in maps:
        f = line.split()
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        if not f[1].startswith("r") or hi - lo >= 1 << 30 or \
                (len(f) > 5 and f[5] in ("[vvar]", "[vsyscall]")):
            continue
        if search(mem, lo, hi):
            found = True
            break
sys.exit(0 if found else 1)
PY
}
scan "$NET_PID" "$SECRET" && fail "the secret value is in the network process's memory"
scan "$NET_PID" "$PIN" && fail "the PIN is in the network process's memory"
scan "$SRV_PID" "$SECRET" || fail "the scan does not find the secret in the monitor either: it proves nothing"

# --- SIGHUP as nobody serves a rotated value --------------------------------
[ "$(stat -c %U "$TMP/state")" = nobody ] || fail "state directory not handed to nobody"
SECRET2=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
flow_define "$TMP/def2.toml" "$SECRET2"
flow_seal_sign "$TMP/def2.toml"
chmod -R a+rX "$B"
kill -HUP "$SRV_PID"
for _ in $(seq 100); do
	grep -q "reloaded: serial 2\|reload failed" "$SRV_LOG" && break
	sleep 0.1
done
grep -q "reload failed" "$SRV_LOG" && fail "reload as nobody: $(grep "reload failed" "$SRV_LOG")"
flow_get web
grep -q "$SECRET2" "$TMP/got" || fail "the rotated value is not served: $(cat "$TMP/got.err")"
[ "$(cat "$TMP/state/serial")" = 2 ] || fail "serial 2 not recorded as nobody"

# --- kill -9 of the network process: the service ends, fail closed ----------
kill -9 "$NET_PID"
st=0
for _ in $(seq 50); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SRV_PID" 2>/dev/null && fail "the monitor still runs without its network process"
wait "$SRV_PID" || st=$?
# A system failure in the table the five tools share: exit 3.
[ "$st" = 3 ] || fail "monitor exit $st after its network process died, expected 3"
grep -q "network process killed by signal 9" "$SRV_LOG" || fail "the log does not say how it died"
grep -q '"event":"service".*"result":"network-process-died".*signal 9' "$TMP/audit.jsonl" ||
	fail "the audit trail does not record the death"
appl_closed() {
	python3 -c 'import socket,sys
s=socket.socket(); s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0 else 1)' "$PORT"
}
appl_closed || fail "something still listens on $PORT"

# --- kill -9 of the monitor: the network process exits at once ---------------
start_server --user nobody
kill -9 "$SRV_PID"
wait "$SRV_PID" 2>/dev/null || true
for _ in $(seq 30); do [ -d "/proc/$NET_PID" ] || break; sleep 0.1; done
[ -d "/proc/$NET_PID" ] && fail "the network process outlived its monitor"
appl_closed || fail "something still listens on $PORT after the monitor died"

# --- a token store the dropped user cannot read ------------------------------
chown -R root "$TMP/softhsm/tokens"
chmod -R go-rwx "$TMP/softhsm/tokens"
# A token that fails after the drop is a token error: exit 3.
# shellcheck disable=SC2086
status 3 appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" \
	--listen "127.0.0.1:$PORT" --state-file "$TMP/state/serial" --user nobody
says "does not answer as user nobody"
appl_closed || fail "something listens on $PORT after a refused start"

# --- started unprivileged: Landlock, seccomp, no chroot ----------------------
chown -R nobody "$TMP/softhsm/tokens" "$TMP/state" "$B"
chown nobody "$APPL_PIN"
: >"$TMP/net.log"
chown nobody "$TMP/net.log"
# shellcheck disable=SC2086
setpriv --reuid nobody --regid "$(id -g nobody)" --clear-groups \
	appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" \
	--listen "127.0.0.1:$PORT" --state-file "$TMP/state/serial" 2>>"$TMP/net.log" &
SRV_PID=$!
track_pid "$SRV_PID"
wait_for_port "$PORT" 20 || { cat "$TMP/net.log" >&2; fail "unprivileged start"; }
net_pid
grep -q "^Seccomp:[[:space:]]*2" "/proc/$NET_PID/status" || fail "unprivileged: no seccomp"
[ "$(readlink "/proc/$NET_PID/root")" = / ] || fail "unprivileged: a chroot?"
grep -q "sandbox: no_new_privs, Landlock: no file access, seccomp allow-list" "$TMP/net.log" ||
	{ cat "$TMP/net.log" >&2; fail "unprivileged: Landlock not applied"; }
flow_get web
grep -q "$SECRET2" "$TMP/got" || fail "unprivileged server: fetch: $(cat "$TMP/got.err")"
stop_pid "$SRV_PID" >"$TMP/stop.st"
[ "$(cat "$TMP/stop.st")" = 0 ] || fail "unprivileged server: exit $(cat "$TMP/stop.st") on SIGTERM"
echo "privsep: ok"
