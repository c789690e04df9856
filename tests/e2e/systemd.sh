#!/bin/sh
# SPDX-License-Identifier: ISC
# appliance-server as systemd runs it: the token PIN from a systemd
# credential (--pin-source credential:NAME, $CREDENTIALS_DIRECTORY), and the
# listening sockets from socket activation (systemd-socket-activate, no
# --listen). Each serves a real fetch; the refusals name what is wrong.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

command -v systemd-socket-activate >/dev/null ||
	fail "systemd-socket-activate missing (./test.sh installs systemd)"

flow_softhsm
flow_ceremony
flow_client web
flow_client worker
flow_define "$TMP/def.toml" sd
flow_seal_sign "$TMP/def.toml"
mkdir -p "$TMP/state"

# ---- --pin-source credential:NAME ----
# What systemd's LoadCredential= leaves: a private directory, a 0400 file.
CREDS=$TMP/credentials
mkdir -m 0700 "$CREDS"
cp "$APPL_PIN" "$CREDS/token-pin"
chmod 0400 "$CREDS/token-pin"
CRED_KEY_ARGS=$(echo "$SRV_KEY_ARGS" | sed "s|--pin-source file:$APPL_PIN|--pin-source credential:token-pin|")
[ "$CRED_KEY_ARGS" != "$SRV_KEY_ARGS" ] || fail "test: no --pin-source to replace"

# Outside a unit there is no credential: refused at start, naming the variable.
# shellcheck disable=SC2086
status 3 appliance-server $CRED_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" \
	--listen "127.0.0.1:$PORT" --state-file "$TMP/state/serial"
says 'CREDENTIALS_DIRECTORY'
says 'token-pin'
# A credential name that is a path is refused.
# shellcheck disable=SC2086
CREDENTIALS_DIRECTORY=$CREDS status 2 appliance-server \
	$(echo "$CRED_KEY_ARGS" | sed 's|credential:token-pin|credential:../token-pin|') \
	--bundle "$B" --trust-anchor "$ANCHOR" --listen "127.0.0.1:$PORT" \
	--state-file "$TMP/state/serial"
says 'not a credential name'
# A credential others may read is refused like a PIN file.
chmod 0444 "$CREDS/token-pin"
# shellcheck disable=SC2086
CREDENTIALS_DIRECTORY=$CREDS status 3 appliance-server $CRED_KEY_ARGS --bundle "$B" \
	--trust-anchor "$ANCHOR" --listen "127.0.0.1:$PORT" --state-file "$TMP/state/serial"
chmod 0400 "$CREDS/token-pin"
# A wrong PIN in the credential: the token refuses the login.
mkdir -m 0700 "$TMP/wrong"
printf '999999\n' >"$TMP/wrong/token-pin"
chmod 0400 "$TMP/wrong/token-pin"
# shellcheck disable=SC2086
CREDENTIALS_DIRECTORY=$TMP/wrong status 3 appliance-server $CRED_KEY_ARGS --bundle "$B" \
	--trust-anchor "$ANCHOR" --listen "127.0.0.1:$PORT" --state-file "$TMP/state/serial"
says "start-up check 'token'"
appl_closed() {
	python3 -c 'import socket,sys
s=socket.socket(); s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0 else 1)' "$PORT" ||
		fail "something listens on $PORT after a refused start"
}
appl_closed

# The real start with the credential.
SRV_KEY_ARGS_FILE=$SRV_KEY_ARGS
SRV_KEY_ARGS=$CRED_KEY_ARGS
export CREDENTIALS_DIRECTORY="$CREDS"
flow_start --workers 2
unset CREDENTIALS_DIRECTORY
flow_get web
[ "$GOT_RC" = 0 ] || fail "credential PIN: fetch exit $GOT_RC: $(cat "$TMP/got.err")"
expect_web sd
flow_stop
SRV_KEY_ARGS=$SRV_KEY_ARGS_FILE

# ---- socket activation ----
# activated LOG ADDRESS-OPTION ARGS...: appliance-server under
# systemd-socket-activate (it execs the server on the first connection);
# sets SRV_PID.
activated() {
	_log=$1 _sock=$2
	shift 2
	# shellcheck disable=SC2086
	systemd-socket-activate $_sock -E SOFTHSM2_CONF -E ASAN_OPTIONS -E LSAN_OPTIONS \
		-E UBSAN_OPTIONS appliance-server $SRV_KEY_ARGS --bundle "$B" \
		--trust-anchor "$ANCHOR" --state-file "$TMP/state/serial" "$@" 2>>"$_log" &
	SRV_PID=$!
	track_pid "$SRV_PID"
	# Not wait_for_port: its probe would be the first connection.
	wait_for_log "$_log" "^Listening on"
}

# exited PID WANT: PID ends by itself with status WANT.
exited() {
	for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
	stop_pid "$1" >"$TMP/st"
	[ "$(cat "$TMP/st")" = "$2" ] || fail "exit status $(cat "$TMP/st"), expected $2"
}

SRV_LOG=$TMP/activated.log
activated "$SRV_LOG" "-l 127.0.0.1:$PORT" --workers 2 --audit-log "$TMP/audit.jsonl"
# The first fetch starts the server (the connection waits in systemd's queue).
flow_get web --timeout 20
[ "$GOT_RC" = 0 ] || { cat "$SRV_LOG" >&2; fail "activated: fetch exit $GOT_RC: $(cat "$TMP/got.err")"; }
expect_web sd
grep -q "listening on 127.0.0.1:$PORT" "$SRV_LOG" || fail "the server does not name systemd's socket"
flow_get worker --get queue_token
[ "$(cat "$TMP/got")" = q-sd ] || fail "activated: worker got '$(cat "$TMP/got")'"
# A reload keeps the adopted socket.
kill -HUP "$SRV_PID"
wait_for_log "$SRV_LOG" "reloaded: serial"
flow_get web
expect_web sd
flow_stop
# systemd keeps the socket across restarts; here systemd-socket-activate is
# gone with the server, so nothing listens any more.
appl_closed

# Refusals: no --listen and no sockets; --listen and sockets; a datagram
# socket; a TCP socket that does not listen cannot be passed this way.
# shellcheck disable=SC2086
status 2 appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" \
	--state-file "$TMP/state/serial"
says "--listen is required unless systemd passes the sockets"
LOG2=$TMP/activated-2.log
activated "$LOG2" "-l 127.0.0.1:$PORT" --listen "127.0.0.1:$(random_port)"
flow_get web --timeout 3
[ "$GOT_RC" != 0 ] || fail "--listen with systemd's sockets was served"
exited "$SRV_PID" 2
grep -q "use one of them" "$LOG2" || fail "no reason: $(cat "$LOG2")"
LOG3=$TMP/activated-3.log
activated_udp() {
	# shellcheck disable=SC2086
	systemd-socket-activate -d -l "127.0.0.1:$PORT" -E SOFTHSM2_CONF -E ASAN_OPTIONS \
		-E LSAN_OPTIONS -E UBSAN_OPTIONS appliance-server $SRV_KEY_ARGS --bundle "$B" \
		--trust-anchor "$ANCHOR" --state-file "$TMP/state/serial" 2>>"$LOG3" &
	SRV_PID=$!
	track_pid "$SRV_PID"
	wait_for_log "$LOG3" "^Listening on"
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("127.0.0.1", int(sys.argv[1])))' "$PORT"
}
activated_udp
exited "$SRV_PID" 2
grep -q "fd 3 is not a stream socket" "$LOG3" || fail "datagram socket not named: $(cat "$LOG3")"
flow_end systemd
