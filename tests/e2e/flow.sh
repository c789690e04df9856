# SPDX-License-Identifier: ISC
# The whole Coffer flow for the end-to-end scripts, sourced after
# tests/helpers.sh. Word-split argument strings are safe: $TMP has no spaces.
#
#   flow_softhsm            two SoftHSM2 tokens (master, appliance); sets
#                           MASTER_ARGS (provision-master init/sign),
#                           SKEY_ARGS (provision-master server-key) and
#                           SRV_KEY_ARGS (appliance-server) for them
#   flow_tpm                swtpm; master key through tpm2-pkcs11, appliance
#                           key as a native TPM blob; same variables
#   flow_ceremony           init (sets ANCHOR), server-key "appl", companion
#                           key pair registered with add-key; B is the bundle
#   flow_client NAME        coffer-get keygen into $TMP/NAME.pem; sets ID_NAME
#   flow_define FILE TAG    a definition with clients web and worker and every
#                           value type; TAG goes into two values
#   flow_seal_sign FILE     seal FILE over $B/coffer.sealed, manifest, sign,
#                           verify
#   flow_start [ARGS...]    appliance-server on 127.0.0.1:$PORT with the key,
#                           the bundle and ARGS; SRV_PID (tracked), log in
#                           $SRV_LOG
#   flow_get NAME [ARGS...] coffer-get as client NAME; stdout in $TMP/got,
#                           stderr in $TMP/got.err, status in $GOT_RC
#   flow_stop               SIGTERM, exit status 0
#   flow_reload_refused WHAT PATTERN  SIGHUP; a new "reload failed" line
#                           must appear and say PATTERN (grep); the server
#                           must still run
#   expect_web TAG          $TMP/got is exactly web's env output for TAG
#   flow_served TAG [WHAT]  web gets exactly its values for TAG, worker its
#                           queue_token q-TAG (WHAT names the case on failure)
#   flow_check_web_worker TAG  env (exact), exec mode, worker's own shard
#   bug WHAT                a defect found outside tests/ (named in the
#                           e2e report): printed, counted, the script goes on
#   flow_end NAME           fails if any bug was counted, else "NAME: ok"

B=$TMP/bundle
SRV_LOG=$TMP/server.log
PORT=$(random_port)
umask 077

for _p in coffer-hsm provision-master coffer-seal appliance-server coffer-get; do
	command -v "$_p" >/dev/null || fail "$_p not on PATH (not built?)"
done

BUGS=0
bug() {
	echo "BUG (outside tests/, see the e2e report): $*" >&2
	BUGS=$((BUGS + 1))
}

flow_end() {
	[ "$BUGS" = 0 ] || fail "$1: $BUGS known bug(s) outside tests/ (the BUG lines above)"
	echo "$1: ok"
}

# status WANT CMD...: CMD must exit WANT; stdout in $TMP/out, stderr in $TMP/err.

flow_softhsm() {
	make_token master
	_mpin=$COFFER_PIN_FILE
	make_token appliance
	M=$COFFER_PKCS11_MODULE
	APPL_PIN=$COFFER_PIN_FILE
	MASTER_ARGS="--pkcs11-module $M --token pkcs11:token=master --pin-source file:$_mpin"
	SKEY_ARGS="--pkcs11-module $M --token pkcs11:token=appliance --pin-source file:$APPL_PIN"
	SRV_KEY_ARGS="--pkcs11-module $M --key pkcs11:token=appliance;object=appl --pin-source file:$APPL_PIN"
}

# The master key in swtpm through tpm2-pkcs11, the appliance key a TPM blob.
flow_tpm() {
	start_tpm2_pkcs11
	_module=$TPM2_PKCS11_MODULE
	_pin=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s' "$_pin" >"$TMP/master.pin"
	tpm2_ptool init >/dev/null || fail "tpm2_ptool init"
	tpm2_ptool addtoken --pid=1 --label=master --sopin="so$_pin" --userpin="$_pin" >/dev/null ||
		fail "tpm2_ptool addtoken"
	flow_flush
	MASTER_ARGS="--pkcs11-module $_module --token pkcs11:token=master --pin-source file:$TMP/master.pin"
	SKEY_ARGS="--tpm2 $SWTPM_TCTI --key-blob $TMP/appl.blob"
	SRV_KEY_ARGS="--tpm2 $SWTPM_TCTI --key-blob $TMP/appl.blob"
	FLOW_TPM=1
}

# Transient objects left by a TPM user are flushed (no-op with SoftHSM2).
flow_flush() {
	[ -n "${FLOW_TPM:-}" ] || return 0
	/usr/bin/tpm2_flushcontext -t >/dev/null 2>&1 || true
}

flow_ceremony() {
	# shellcheck disable=SC2086
	status 0 provision-master init --bundle "$B" $MASTER_ARGS --note "e2e"
	ANCHOR=$(grep -o 'sha256:[0-9a-f]\{64\}' "$TMP/out" | head -n1)
	[ -n "$ANCHOR" ] || fail "init printed no trust anchor: $(cat "$TMP/out")"
	flow_flush
	# shellcheck disable=SC2086
	status 0 provision-master server-key appl --bundle "$B" $SKEY_ARGS
	[ -s "$B/keys/appl_public.pem" ] || fail "server-key exported no public key"
	# The clients pin a copy: the bundle may be in flux.
	cp "$B/keys/appl_public.pem" "$TMP/appl_public.pem"
	SERVER_PUB=$TMP/appl_public.pem
	flow_flush
	status 0 coffer-seal keygen --out "$TMP/companion.pem" --public-out "$TMP/companion_public.pem"
	status 0 provision-master add-key --companion companion "$TMP/companion_public.pem" --bundle "$B"
}

flow_client() {
	_id=$(coffer-get keygen --out "$TMP/$1.pem") || fail "coffer-get keygen $1"
	[ -n "$_id" ] || fail "coffer-get keygen printed no identity"
	eval "ID_$1=\$_id"
}

flow_define() {
	# shellcheck disable=SC2154 # ID_web, ID_worker: set by flow_client
	cat >"$1" <<EOT
# Two clients, every value type of the definition.
[clients]
web = "$ID_web"
worker = "$ID_worker"

[web]
db_password = "pw-$2 with 'quotes', \$dollars and a newline\n"
db_port = 5432
cache_ratio = 0.75
tls = true
rotated = 2026-11-01T12:00:00Z
expires = 2027-01-31
maintenance_start = 2026-11-21T03:00:00
maintenance_time = 03:00:00
greeting = "grüß dich ☕"

[worker]
queue_token = "q-$2"
max_jobs = 8
EOT
}

flow_seal_sign() {
	status 0 coffer-seal seal --companion "$TMP/companion.pem" --recipient "$SERVER_PUB" "$1" \
		-o "$B/coffer.sealed"
	status 0 provision-master manifest --bundle "$B"
	# shellcheck disable=SC2086
	status 0 provision-master sign --bundle "$B" $MASTER_ARGS
	flow_flush
	status 0 provision-master verify --bundle "$B" --trust-anchor "$ANCHOR"
}

flow_start() {
	mkdir -p "$TMP/state"
	# shellcheck disable=SC2086
	appliance-server $SRV_KEY_ARGS --bundle "$B" --trust-anchor "$ANCHOR" \
		--listen "127.0.0.1:$PORT" --state-file "$TMP/state/serial" \
		--audit-log "$TMP/audit.jsonl" "$@" 2>>"$SRV_LOG" &
	SRV_PID=$!
	track_pid "$SRV_PID"
	wait_for_port "$PORT" 20 || { cat "$SRV_LOG" >&2; fail "appliance-server did not start"; }
}

# flow_stop: SIGTERM; the server must exit 0 (stop_pid not in $(...): the
# subshell could not wait for it).
flow_stop() {
	stop_pid "$SRV_PID" >"$TMP/stop.st"
	[ "$(cat "$TMP/stop.st")" = 0 ] || { cat "$SRV_LOG" >&2; fail "server exit $(cat "$TMP/stop.st") on SIGTERM"; }
	grep -q "stopped:" "$SRV_LOG" || fail "no clean stop in the log"
}

flow_reload_refused() {
	_n=$(grep -c "reload failed" "$SRV_LOG" || true)
	kill -HUP "$SRV_PID"
	for _ in $(seq 100); do
		[ "$(grep -c "reload failed" "$SRV_LOG" || true)" -gt "$_n" ] && break
		sleep 0.1
	done
	[ "$(grep -c "reload failed" "$SRV_LOG" || true)" -gt "$_n" ] ||
		{ cat "$SRV_LOG" >&2; fail "$1: no 'reload failed' in the log"; }
	grep "reload failed" "$SRV_LOG" | tail -n1 | grep -q -- "$2" ||
		fail "$1: the reason does not say '$2': $(grep "reload failed" "$SRV_LOG" | tail -n1)"
	flow_alive "$1"
}

# The server must still be running.
flow_alive() {
	kill -0 "$SRV_PID" 2>/dev/null || { cat "$SRV_LOG" >&2; fail "appliance-server died ($*)"; }
}

flow_get() {
	_who=$1
	shift
	GOT_RC=0
	coffer-get --server "127.0.0.1:$PORT" --server-key "$SERVER_PUB" --key "$TMP/$_who.pem" \
		"$@" >"$TMP/got" 2>"$TMP/got.err" || GOT_RC=$?
}

expect_web() {
	cat >"$TMP/want" <<EOT
export db_password='pw-$1 with '\\''quotes'\\'', \$dollars and a newline
'
export db_port='5432'
export cache_ratio='0.75'
export tls='true'
export rotated='2026-11-01T12:00:00Z'
export expires='2027-01-31'
export maintenance_start='2026-11-21T03:00:00'
export maintenance_time='03:00:00'
export greeting='grüß dich ☕'
EOT
	cmp -s "$TMP/want" "$TMP/got" || {
		diff -u "$TMP/want" "$TMP/got" >&2 || true
		fail "web's env output differs (rc $GOT_RC: $(cat "$TMP/got.err"))"
	}
}

flow_served() {
	flow_get web
	[ "$GOT_RC" = 0 ] || fail "${2:-served}: web: exit $GOT_RC: $(cat "$TMP/got.err")"
	expect_web "$1"
	flow_get worker --get queue_token
	[ "$(cat "$TMP/got")" = "q-$1" ] || fail "${2:-served}: worker got '$(cat "$TMP/got")'"
}

flow_check_web_worker() {
	flow_get web --format env
	[ "$GOT_RC" = 0 ] || fail "web env: exit $GOT_RC: $(cat "$TMP/got.err")"
	expect_web "$1"

	# Exec mode: the values exist in the child's environment, exactly.
	flow_get web --only db_port,tls,greeting -- sh -c \
		'printf "%s|%s|%s|%s\n" "$db_port" "$tls" "$greeting" "${db_password-unset}"'
	[ "$GOT_RC" = 0 ] || fail "web exec: exit $GOT_RC: $(cat "$TMP/got.err")"
	[ "$(cat "$TMP/got")" = "5432|true|grüß dich ☕|unset" ] || fail "web exec: $(cat "$TMP/got")"
	flow_get web -- sh -c 'printf "%s|" "$db_password"'
	[ "$(cat "$TMP/got")" = "pw-$1 with 'quotes', \$dollars and a newline
|" ] || fail "web exec db_password: $(od -c "$TMP/got" | head)"
	# The child's exit status comes back.
	flow_get web -- sh -c 'exit 7'
	[ "$GOT_RC" = 7 ] || fail "exec mode lost the child's status: $GOT_RC"

	# The second client sees its own shard, and only it.
	flow_get worker --format json
	[ "$GOT_RC" = 0 ] || fail "worker: exit $GOT_RC: $(cat "$TMP/got.err")"
	python3 - "$TMP/got" "$1" <<'PY' || fail "worker's shard: $(cat "$TMP/got")"
import json, sys
got = json.load(open(sys.argv[1]))
want = {"queue_token": "q-" + sys.argv[2], "max_jobs": 8}
sys.exit(0 if got == want else 1)
PY
	flow_get worker --get db_password
	[ "$GOT_RC" = 9 ] || fail "worker got web's db_password (exit $GOT_RC)"
	grep -q "pw-$1" "$TMP/got" "$TMP/got.err" && fail "web's value reached worker"
	return 0
}
