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
		# A stopped process (a test's SIGSTOP) takes the TERM only once it runs.
		kill -CONT "$p" 2>/dev/null || true
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
import sys
for _ in range(200):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        if p >= 65535:
            raise OSError("no room for port + 1")
        b.bind(("127.0.0.1", p + 1))
    except (OSError, OverflowError):
        a.close(); b.close(); continue
    a.close(); b.close(); print(p); break
else:
    sys.exit("no free pair of ports")
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

# wait_for_log FILE PATTERN [SECONDS]: until grep finds PATTERN in FILE;
# fails (showing FILE) after SECONDS (default 10).
wait_for_log() {
	for _ in $(seq $((${3:-10} * 10))); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$1" >&2 || true
	fail "no '$2' in $1 after ${3:-10}s"
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

# start_tpm2_pkcs11: an swtpm (start_swtpm) set up for tpm2-pkcs11 and
# tpm2_ptool: a private store in $TMP/tpm2-store, the TCTI variables
# exported, and wrappers first on PATH that flush transient objects after
# every tpm2-tools call tpm2_ptool makes (no resource manager: swtpm has 3
# object slots; docs/ceremony.md names the pitfalls). Sets TPM2_PKCS11_MODULE. Also extends
# LSAN_OPTIONS with the suppressions for tpm2-pkcs11's own leaks (it leaks
# in C_SignInit; tests/hsm/lsan.supp).
start_tpm2_pkcs11() {
	TPM2_PKCS11_MODULE=$(dpkg -L libtpm2-pkcs11-1 2>/dev/null |
		grep '/pkcs11/libtpm2_pkcs11.so$' | head -n1 || true)
	[ -n "$TPM2_PKCS11_MODULE" ] ||
		TPM2_PKCS11_MODULE=/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so
	[ -r "$TPM2_PKCS11_MODULE" ] || fail "tpm2-pkcs11 not installed (./test.sh installs it)"
	command -v tpm2_ptool >/dev/null || fail "tpm2_ptool not installed (./test.sh installs it)"
	{
		cat "$COFFER_SRC/tests/lsan.supp" "$COFFER_SRC/tests/hsm/lsan.supp"
		# The module's frames are lost in some stacks: its allocation site.
		echo 'leak:ASN1_STRING_set'
	} > "$TMP/lsan-tpm2.supp"
	LSAN_OPTIONS="suppressions=$TMP/lsan-tpm2.supp:print_suppressions=0:fast_unwind_on_malloc=0"
	start_swtpm
	mkdir -p "$TMP/tpm2-store" "$TMP/tpm2-bin"
	TPM2TOOLS_TCTI=$SWTPM_TCTI
	TPM2_PKCS11_TCTI=$SWTPM_TCTI
	TPM2_PKCS11_STORE=$TMP/tpm2-store
	TPM2_PKCS11_LOG_LEVEL=0
	TSS2_LOG=all+none
	export LSAN_OPTIONS TPM2_PKCS11_MODULE TPM2TOOLS_TCTI TPM2_PKCS11_TCTI TPM2_PKCS11_STORE \
		TPM2_PKCS11_LOG_LEVEL TSS2_LOG
	for _t in /usr/bin/tpm2_*; do
		_n=$(basename "$_t")
		case $_n in tpm2_flushcontext | tpm2_ptool | tpm2) continue ;; esac
		# shellcheck disable=SC2016
		printf '#!/bin/sh\n"%s" "$@"; rc=$?\n/usr/bin/tpm2_flushcontext -t >/dev/null 2>&1 || true\nexit $rc\n' \
			"$_t" > "$TMP/tpm2-bin/$_n"
		chmod +x "$TMP/tpm2-bin/$_n"
	done
	PATH="$TMP/tpm2-bin:$PATH"
	export PATH
}

# status WANT CMD...: run CMD (stdout to $TMP/out, stderr to $TMP/err) and
# require exit status WANT; leaves the status in $st.
status() {
	_want=$1
	shift
	st=0
	"$@" >"$TMP/out" 2>"$TMP/err" || st=$?
	[ "$st" -eq "$_want" ] || {
		cat "$TMP/out" "$TMP/err" >&2
		fail "exit $st (expected $_want): $*"
	}
}

# says TEXT: the last status command's stderr names TEXT.
says() {
	grep -qF -- "$1" "$TMP/err" || { cat "$TMP/err" >&2; fail "message lacks: $1"; }
}
