#!/bin/sh
# SPDX-License-Identifier: ISC
# coffer-get serve, the systemd credential provider, answered the way
# systemd's LoadCredential= asks (a client bound to \0<random>/unit/U/NAME):
# exact values; nothing for an unknown name, a non-root peer, a malformed or
# hostile peer name, a name the policy does not allow; a policy reload; a
# peer that never reads; socket activation through systemd-socket-activate;
# the socket's mode and its removal at exit.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/clients/lib.sh"

# The provider answers uid 0 only: the positive cases need root.
[ "$(id -u)" = 0 ] || { echo "SKIP: the credential provider answers root only"; exit 77; }
command -v setpriv >/dev/null || fail "setpriv (util-linux) missing"
command -v systemd-socket-activate >/dev/null ||
	fail "systemd-socket-activate missing (./test.sh installs systemd)"

start_fake GOOD
CONN="--server $GOOD --server-key $TMP/server_pub.pem --key $TMP/client.pem"
# Other uids must reach the socket's directory (and the client script): only
# the socket's own mode and SO_PEERCRED may stop them.
chmod 0711 "$TMP"
mkdir -p "$TMP/run"
chmod 0755 "$TMP/run"
cp "$COFFER_SRC/tests/clients/cred-client.py" "$TMP/run/"
chmod 0755 "$TMP/run/cred-client.py"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
CLIENT="$PY $TMP/run/cred-client.py"
SOCK=$TMP/run/credentials.sock

# start_provider LOG ARGS...: coffer-get serve in the background; sets PROV.
start_provider() {
	_log=$1
	shift
	# shellcheck disable=SC2086
	coffer-get serve $CONN "$@" 2>>"$_log" &
	PROV=$!
	track_pid "$PROV"
	wait_for_log "$_log" "credential provider ready"
}

# got UNIT NAME: what a systemd-style client receives, in $TMP/got.
got() {
	$CLIENT "$SOCK" "$1" "$2" >"$TMP/got" || fail "client exit $? for $1/$2"
}

# nothing WHY LOGTEXT CLIENT-COMMAND...: the client connects, receives
# nothing, and the provider logs one more refusal naming LOGTEXT.
nothing() {
	_why=$1 _text=$2
	shift 2
	_before=$(grep -c "refused" "$LOG" || true)
	"$@" >"$TMP/got" || fail "$_why: client exit $?"
	[ ! -s "$TMP/got" ] || fail "$_why: the peer received $(wc -c <"$TMP/got") bytes"
	for _ in $(seq 50); do
		[ "$(grep -c "refused" "$LOG" || true)" -gt "$_before" ] && break
		sleep 0.05
	done
	[ "$(grep -c "refused" "$LOG" || true)" -eq $((_before + 1)) ] ||
		{ cat "$LOG" >&2; fail "$_why: not exactly one refusal logged"; }
	grep "refused" "$LOG" | tail -n1 | grep -qF -- "$_text" ||
		fail "$_why: the log line lacks '$_text': $(grep refused "$LOG" | tail -n1)"
}

# stopped PID: SIGTERM, wait; the exit status in $STOP (stop_pid cannot wait
# from inside $(...)).
stopped() {
	stop_pid "$1" >"$TMP/stop.st"
	STOP=$(cat "$TMP/stop.st")
}

LOG=$TMP/provider.log
start_provider "$LOG" --socket "$SOCK"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "socket mode $(stat -c %a "$SOCK"), expected 600"
[ "$(stat -c %u "$SOCK")" = 0 ] || fail "socket not owned by root"

# Exact values, as systemd asks for them.
got web.service DB_PASSWORD
[ "$(cat "$TMP/got")" = s3cr3t ] || fail "DB_PASSWORD: '$(cat "$TMP/got")'"
got web.service TRICKY
cmp -s "$TMP/got" "$EXP/tricky.raw" || fail "TRICKY differs from --get's bytes"
got 'app@1.service' PORT
[ "$(cat "$TMP/got")" = 5432 ] || fail "PORT: '$(cat "$TMP/got")'"
got 'sys-devices-foo\x2dbar.device' RATIO
[ "$(cat "$TMP/got")" = 0.75 ] || fail "RATIO: '$(cat "$TMP/got")'"
got web.service EMPTY
[ ! -s "$TMP/got" ] || fail "EMPTY is not empty"
grep -q "served unit=web.service name=DB_PASSWORD" "$LOG" || fail "no log line for a fetch"

# An unknown name.
nothing "unknown name" "not in this host's shard" $CLIENT "$SOCK" web.service NOPE

# A non-root peer: the socket file stops it first; with the file opened to
# everyone (a mistake), SO_PEERCRED still does.
st=0
setpriv --reuid=65534 --regid=65534 --clear-groups $CLIENT "$SOCK" web.service DB_PASSWORD \
	>"$TMP/got" 2>/dev/null || st=$?
[ "$st" = 3 ] || fail "uid 65534 could connect to the 0600 socket (exit $st)"
chmod 0666 "$SOCK"
nothing "uid 65534" "peer uid 65534" setpriv --reuid=65534 --regid=65534 --clear-groups \
	$CLIENT "$SOCK" web.service DB_PASSWORD
nothing "uid 1000" "peer uid 1000" setpriv --reuid=1000 --regid=1000 --clear-groups \
	$CLIENT "$SOCK" web.service DB_PASSWORD
chmod 0600 "$SOCK"

# Hostile and malformed peer names. hexname TEXT: "\0TEXT" as hex for --raw.
hexname() {
	printf '\0%s' "$1" | od -An -v -tx1 | tr -d ' \n'
}
for bad in \
	'1f/unit/web.service/../DB_PASSWORD' \
	'1f/unit/web.service/..' \
	'1f/unit/web.service/a..b' \
	'1f/unit/web.service/.DB_PASSWORD' \
	'1f/unit/web.service/DB_PASSWORD/' \
	'1f/unit/web.service/sub/DB_PASSWORD' \
	'1f/unit/../DB_PASSWORD' \
	'1f/unit/we..b.service/DB_PASSWORD' \
	'1f/unit/.service/DB_PASSWORD' \
	'1f/unit//DB_PASSWORD' \
	'1f/unit/web.service/' \
	'1f/unit/web.service' \
	'1f/unit/web service/DB_PASSWORD' \
	'1f/unit/web.service/DB PASSWORD' \
	'1f/unit/web.service/DB_PASSWORD;id' \
	'1F/unit/web.service/DB_PASSWORD' \
	'/unit/web.service/DB_PASSWORD' \
	'12345678901234567/unit/web.service/DB_PASSWORD' \
	'1f/units/web.service/DB_PASSWORD' \
	'1f/unit/web.service/DB_PASSWORD\n' \
	'1f' \
	''; do
	nothing "peer name '$bad'" "peer name" $CLIENT --raw "$(hexname "$bad")" "$SOCK"
done
# A NUL inside the name, a bare NUL, an unbound socket, a path-bound one.
nothing "NUL inside" "NUL byte" $CLIENT --raw "$(hexname 1f/unit/web.service/DB)00414141" "$SOCK"
nothing "unbound" "unbound" $CLIENT --raw "" "$SOCK"
nothing "path-bound" "not an abstract name" $CLIENT --path "$TMP/run/peer.sock" "$SOCK"
# Control characters and escapes in the name reach the log escaped only.
nothing "escape" "peer name" $CLIENT --raw "$(hexname "1f/unit/x/")1b5b326a0a07" "$SOCK"
! grep -q "$(printf '\033')" "$LOG" || fail "a raw escape character reached the log"
# The longest name an abstract address can carry (107 bytes) is parsed,
# and gets nothing as it is not in the shard.
long_unit=$(printf 'u%.0s' $(seq 60)).service
long_name=$(printf 'N%.0s' $(seq 16))
[ $((16 + 6 + ${#long_unit} + 1 + ${#long_name})) = 107 ] || fail "test: the long name is not 107 bytes"
nothing "longest name" "name=$long_name: not in this host's shard" $CLIENT \
	--raw "$(hexname "0123456789abcdef/unit/$long_unit/$long_name")" "$SOCK"

# A peer that never reads, and one that sends and never reads: the next
# request is still answered at once.
$CLIENT --hold 4 "$SOCK" web.service DB_PASSWORD &
HOLD1=$!
track_pid "$HOLD1"
$CLIENT --send 100000 --hold 4 "$SOCK" web.service TRICKY &
HOLD2=$!
track_pid "$HOLD2"
sleep 0.3
start=$(date +%s%N)
got web.service DB_PASSWORD
ms=$((($(date +%s%N) - start) / 1000000))
[ "$(cat "$TMP/got")" = s3cr3t ] || fail "after stalled peers: '$(cat "$TMP/got")'"
[ "$ms" -lt 2000 ] || fail "a stalled peer held the provider for ${ms}ms"
stop_pid "$HOLD1" >/dev/null
stop_pid "$HOLD2" >/dev/null

# Many requests in a row.
for i in $(seq 20); do
	got "w$i.service" PORT
	[ "$(cat "$TMP/got")" = 5432 ] || fail "request $i: '$(cat "$TMP/got")'"
done

# No value in the log.
grep -q 's3cr3t' "$LOG" && fail "a value reached the provider's log"

# SIGTERM: exit 0, and the socket it made is gone.
stopped "$PROV"
[ "$STOP" = 0 ] || fail "provider exit status on SIGTERM: $STOP"
[ ! -e "$SOCK" ] || fail "the provider left its socket behind"
grep -q "stopped: " "$LOG" || fail "no stop line"

# ---- the policy ----
POL=$TMP/credentials.policy
cat >"$POL" <<'EOT'
# Which units may read which names.
web.service        DB_PASSWORD TRICKY
	worker@*.service   PORT
EOT
chmod 0644 "$POL"
LOG=$TMP/provider-policy.log
start_provider "$LOG" --socket "$SOCK" --policy "$POL"
grep -q "policy $POL: 2 rules" "$LOG" || fail "policy not logged"
got web.service DB_PASSWORD
[ "$(cat "$TMP/got")" = s3cr3t ] || fail "policy: web.service DB_PASSWORD"
got 'worker@7.service' PORT
[ "$(cat "$TMP/got")" = 5432 ] || fail "policy: worker@7.service PORT"
nothing "policy: other name" "not allowed by the policy" $CLIENT "$SOCK" web.service PORT
nothing "policy: other unit" "unit=other.service name=DB_PASSWORD: not allowed" $CLIENT \
	"$SOCK" other.service DB_PASSWORD
nothing "policy: pattern" "not allowed" $CLIENT "$SOCK" worker.service PORT
# SIGHUP re-reads it; a broken policy keeps the old one.
echo 'other.service DB_PASSWORD' >>"$POL"
kill -HUP "$PROV"
wait_for_log "$LOG" "policy $POL: 3 rules"
got other.service DB_PASSWORD
[ "$(cat "$TMP/got")" = s3cr3t ] || fail "policy reload: other.service"
echo 'bad/unit DB_PASSWORD' >>"$POL"
kill -HUP "$PROV"
wait_for_log "$LOG" "policy reload failed, keeping the old one: .*:5: not a unit name"
got other.service DB_PASSWORD
[ "$(cat "$TMP/got")" = s3cr3t ] || fail "the old policy was not kept"
stopped "$PROV"
[ "$STOP" = 0 ] || fail "provider exit status on SIGTERM: $STOP"

# Refused at start: a policy others may write, a broken one, a missing one;
# a regular file or a live socket at --socket.
head -n 4 "$POL" >"$POL.2" && chmod 0664 "$POL.2"
status 1 coffer-get serve $CONN --socket "$SOCK" --policy "$POL.2"
says "writable by group or others"
printf 'web.service\n' >"$POL.3" && chmod 0600 "$POL.3"
status 1 coffer-get serve $CONN --socket "$SOCK" --policy "$POL.3"
says "$POL.3:1: expected UNIT-PATTERN NAME"
status 1 coffer-get serve $CONN --socket "$SOCK" --policy "$TMP/nope"
says "no such file"
: >"$TMP/run/file"
status 1 coffer-get serve $CONN --socket "$TMP/run/file"
says "exists and is not a socket"
[ -f "$TMP/run/file" ] || fail "a regular file at --socket was removed"
# A directory others may write: they could swap the socket for their own.
mkdir -m 0777 "$TMP/open"
status 1 coffer-get serve $CONN --socket "$TMP/open/credentials.sock"
says "writable by group or others"
[ ! -e "$TMP/open/credentials.sock" ] || fail "a socket was made in a world-writable directory"
chmod 1777 "$TMP/open"
status 1 coffer-get serve $CONN --socket "$TMP/open/credentials.sock"
chown 65534 "$TMP/open" && chmod 0755 "$TMP/open"
status 1 coffer-get serve $CONN --socket "$TMP/open/credentials.sock"
says "owned by another user"
LOG=$TMP/provider-2.log
start_provider "$LOG" --socket "$SOCK"
status 1 coffer-get serve $CONN --socket "$SOCK"
says "another process answers there"
got web.service DB_PASSWORD
[ "$(cat "$TMP/got")" = s3cr3t ] || fail "the first provider lost its socket"
stopped "$PROV"
[ "$STOP" = 0 ] || fail "provider exit status on SIGTERM: $STOP"
# A stale socket (its provider was killed) is replaced.
LOG=$TMP/provider-3.log
start_provider "$LOG" --socket "$SOCK"
kill -9 "$PROV"
wait "$PROV" 2>/dev/null || true
[ -S "$SOCK" ] || fail "test: no stale socket left by SIGKILL"
# A log of its own: the killed one's "ready" line must not stand for it.
LOG=$TMP/provider-4.log
start_provider "$LOG" --socket "$SOCK"
got web.service DB_PASSWORD
[ "$(cat "$TMP/got")" = s3cr3t ] || fail "after replacing a stale socket"
stopped "$PROV"
[ "$STOP" = 0 ] || fail "provider exit status on SIGTERM: $STOP"
# Usage errors.
status 2 coffer-get serve $CONN --socket "$SOCK" --format json
status 2 coffer-get $CONN --socket "$SOCK"
says "belong to serve"
status 2 coffer-get serve $CONN --socket relative.sock
says "absolute path"

# ---- socket activation, as coffer-credentials.socket does it ----
ASOCK=$TMP/run/activated.sock
LOG=$TMP/provider-activated.log
# shellcheck disable=SC2086
systemd-socket-activate -l "$ASOCK" -E ASAN_OPTIONS -E LSAN_OPTIONS -E UBSAN_OPTIONS \
	coffer-get serve $CONN 2>>"$LOG" &
PROV=$!
track_pid "$PROV"
wait_for_log "$LOG" "^Listening on"
SOCK=$ASOCK
got web.service DB_PASSWORD
[ "$(cat "$TMP/got")" = s3cr3t ] || { cat "$LOG" >&2; fail "activated: '$(cat "$TMP/got")'"; }
grep -q "serving on $ASOCK (from systemd)" "$LOG" || fail "the provider did not take systemd's socket"
got web.service PORT
[ "$(cat "$TMP/got")" = 5432 ] || fail "activated, second request"
stopped "$PROV"
[ "$STOP" = 0 ] || fail "activated provider exit status on SIGTERM: $STOP"
# --socket naming another path than the one systemd passed is refused.
rm -f "$ASOCK"
# shellcheck disable=SC2086
systemd-socket-activate -l "$ASOCK" -E ASAN_OPTIONS -E LSAN_OPTIONS -E UBSAN_OPTIONS \
	coffer-get serve $CONN --socket "$TMP/run/other.sock" 2>"$TMP/act.err" &
PROV=$!
track_pid "$PROV"
wait_for_log "$TMP/act.err" "^Listening on"
$CLIENT "$ASOCK" web.service DB_PASSWORD >"$TMP/got" || true
[ ! -s "$TMP/got" ] || fail "a mismatched activated socket was served"
# It ends by itself once it has loaded the key and looked at the socket.
for _ in $(seq 400); do kill -0 "$PROV" 2>/dev/null || break; sleep 0.05; done
stopped "$PROV"
[ "$STOP" = 2 ] || fail "mismatched socket: exit $STOP"
grep -q "not --socket $TMP/run/other.sock" "$TMP/act.err" || fail "mismatch not named: $(cat "$TMP/act.err")"
echo ok
