# SPDX-License-Identifier: ISC
# Shared helpers for the integration scripts (tang tests/helpers style).
# Use:  . "$COFFER_SRC/tests/helpers.sh"
# Then: TMP is a fresh directory removed on exit; every PID passed to
# track_pid is killed on exit; fail "why" aborts the test.

set -eu

: "${COFFER_SRC:?run through meson test (COFFER_SRC unset)}"
: "${COFFER_BUILD:?run through meson test (COFFER_BUILD unset)}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/coffer-test.XXXXXX")
TRACKED_PIDS=""

on_exit() {
	rc=$?
	for p in $TRACKED_PIDS; do
		kill "$p" 2>/dev/null || true
	done
	for p in $TRACKED_PIDS; do
		wait "$p" 2>/dev/null || true
	done
	if [ $rc -ne 0 ] && [ -n "${KEEP_TMP:-}" ]; then
		echo "keeping $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit $rc
}
trap on_exit EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# A command that must fail: `cmd && expected_fail "why"`.
expected_fail() {
	fail "expected a failure: $*"
}

track_pid() {
	TRACKED_PIDS="$TRACKED_PIDS $1"
}

# Stop one tracked process by PID and wait for it; prints its exit status.
stop_pid() {
	kill "$1" 2>/dev/null || true
	st=0
	wait "$1" 2>/dev/null || st=$?
	TRACKED_PIDS=$(echo "$TRACKED_PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
	echo "$st"
}

# A free TCP port on 127.0.0.1 (bound and released, so very likely free).
random_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Two consecutive free ports (swtpm needs port and port+1); prints the first.
random_port_pair() {
	python3 - <<'PY'
import socket
for _ in range(100):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        a.close(); b.close(); continue
    a.close(); b.close(); print(p); break
PY
}

# wait_for_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT.
wait_for_port() {
	python3 - "$1" "${2:-10}" <<'PY'
import socket, sys, time
port, limit = int(sys.argv[1]), float(sys.argv[2])
end = time.time() + limit
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close(); sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("port %d not open after %ss" % (port, limit))
PY
}

# make_token LABEL: a SoftHSM2 token under $TMP/softhsm, variables exported.
make_token() {
	eval "$("$COFFER_SRC/softhsm-conf/make-token.sh" "$TMP/softhsm" "$1")"
	export SOFTHSM2_CONF COFFER_PKCS11_MODULE COFFER_TOKEN_LABEL COFFER_TOKEN_URI COFFER_PIN_FILE
}

# start_swtpm: a private swtpm on random ports; sets SWTPM_PORT, SWTPM_TCTI,
# SWTPM_PID (tracked). Fails loudly if swtpm is missing (test.sh installs it).
start_swtpm() {
	command -v swtpm >/dev/null || fail "swtpm not installed (./test.sh installs it)"
	SWTPM_DIR=$(mktemp -d "$TMP/swtpm.XXXXXX")
	SWTPM_PORT=$(random_port_pair)
	swtpm socket --tpm2 --server type=tcp,port="$SWTPM_PORT",bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((SWTPM_PORT + 1)),bindaddr=127.0.0.1 \
		--tpmstate dir="$SWTPM_DIR" --flags not-need-init,startup-clear \
		--pid file="$SWTPM_DIR/pid" --daemon
	for _ in $(seq 50); do [ -s "$SWTPM_DIR/pid" ] && break; sleep 0.1; done
	SWTPM_PID=$(cat "$SWTPM_DIR/pid")
	track_pid "$SWTPM_PID"
	wait_for_port "$SWTPM_PORT"
	SWTPM_TCTI="swtpm:host=127.0.0.1,port=$SWTPM_PORT"
	export SWTPM_PORT SWTPM_TCTI SWTPM_PID
}
