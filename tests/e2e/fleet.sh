#!/bin/sh
# SPDX-License-Identifier: ISC
# Two real appliances, one on SoftHSM2 and one on swtpm, serving one bundle
# sealed to both, as "Running several appliances" (docs/operations.md) says:
#  - the bundle is a git repository; each appliance serves its own clone;
#  - a run of fetches listing both servers succeeds throughout while one
#    appliance is killed in the middle of it;
#  - a new serial reaches both by the documented distribution path: the
#    commands of the shipped coffer-bundle-pull.service (git fetch, then a
#    fast-forward only if upstream moved) in each clone, then a reload.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

command -v git >/dev/null || fail "git missing (./test.sh installs it)"
PULL_UNIT=$COFFER_BUILD/appliance/coffer-bundle-pull.service
[ -f "$PULL_UNIT" ] || fail "no generated $PULL_UNIT"

export GIT_CONFIG_NOSYSTEM=1 HOME="$TMP" GIT_AUTHOR_NAME=officer GIT_AUTHOR_EMAIL=officer@example \
	GIT_COMMITTER_NAME=officer GIT_COMMITTER_EMAIL=officer@example

# ---- the ceremony: appliance A on SoftHSM2, appliance B on swtpm ----
flow_softhsm
flow_ceremony
A_PUB=$SERVER_PUB
start_swtpm
status 0 provision-master server-key applb --bundle "$B" --tpm2 "$SWTPM_TCTI" \
	--key-blob "$TMP/applb.blob"
cp "$B/keys/applb_public.pem" "$TMP/applb_public.pem"
B_PUB=$TMP/applb_public.pem
flow_client web
flow_client worker

# seal_both FILE: sealed to both appliances, manifest, signature, verified.
seal_both() {
	status 0 coffer-seal seal --companion "$TMP/companion.pem" --recipient "$A_PUB" \
		--recipient "$B_PUB" "$1" -o "$B/coffer.sealed"
	status 0 provision-master manifest --bundle "$B"
	# shellcheck disable=SC2086
	status 0 provision-master sign --bundle "$B" $MASTER_ARGS
	status 0 provision-master verify --bundle "$B" --trust-anchor "$ANCHOR"
}
flow_define "$TMP/def1.toml" one
seal_both "$TMP/def1.toml"

# ---- the bundle as a git repository, cloned by each appliance ----
git -C "$B" init -q -b main
git -C "$B" add -A
git -C "$B" commit -q -m "serial 1"
git clone -q --bare "$B" "$TMP/origin.git"
git -C "$B" remote add origin "$TMP/origin.git"
git -C "$B" fetch -q origin
git -C "$B" branch -q -u origin/main
mkdir -p "$TMP/a" "$TMP/b"
git clone -q "$TMP/origin.git" "$TMP/a/bundle"
git clone -q "$TMP/origin.git" "$TMP/b/bundle"

PORT_A=$PORT
PORT_B=$(random_port)
while [ "$PORT_B" = "$PORT_A" ]; do PORT_B=$(random_port); done
# start_a / start_b: each appliance on its own clone, state and audit log.
start_a() {
	# shellcheck disable=SC2086
	appliance-server $SRV_KEY_ARGS --bundle "$TMP/a/bundle" --trust-anchor "$ANCHOR" \
		--listen "127.0.0.1:$PORT_A" --state-file "$TMP/a/state" \
		--audit-log "$TMP/a/audit.jsonl" --workers 2 2>>"$TMP/a/log" &
	PID_A=$!
	track_pid "$PID_A"
	wait_for_port "$PORT_A" 20 || { cat "$TMP/a/log" >&2; fail "appliance A did not start"; }
}
start_b() {
	appliance-server --tpm2 "$SWTPM_TCTI" --key-blob "$TMP/applb.blob" \
		--bundle "$TMP/b/bundle" --trust-anchor "$ANCHOR" --listen "127.0.0.1:$PORT_B" \
		--state-file "$TMP/b/state" --audit-log "$TMP/b/audit.jsonl" --workers 2 \
		2>>"$TMP/b/log" &
	PID_B=$!
	track_pid "$PID_B"
	wait_for_port "$PORT_B" 30 || { cat "$TMP/b/log" >&2; fail "appliance B did not start"; }
}
start_a
start_b
grep -q "TPM" "$TMP/b/log" || fail "appliance B does not say it uses the TPM"

# fetch_from WHO SERVER KEY [ARGS...]: one appliance alone.
fetch_from() {
	_who=$1 _srv=$2 _key=$3
	shift 3
	GOT_RC=0
	coffer-get --server "127.0.0.1:$_srv" --server-key "$_key" --key "$TMP/$_who.pem" \
		"$@" >"$TMP/got" 2>"$TMP/got.err" || GOT_RC=$?
}
# Both serve the one sealed file, each with its own token.
fetch_from web "$PORT_A" "$A_PUB"
[ "$GOT_RC" = 0 ] || fail "A alone: exit $GOT_RC: $(cat "$TMP/got.err")"
expect_web one
fetch_from web "$PORT_B" "$B_PUB"
[ "$GOT_RC" = 0 ] || fail "B alone: exit $GOT_RC: $(cat "$TMP/got.err")"
expect_web one
cp "$TMP/want" "$TMP/want-one"

# ---- a run of fetches; A is killed in the middle of it ----
N=30
mkdir "$TMP/run"
(
	i=1
	while [ "$i" -le "$N" ]; do
		rc=0
		coffer-get --server "127.0.0.1:$PORT_A" --server "127.0.0.1:$PORT_B" \
			--server-key "$A_PUB" --server-key "$B_PUB" --key "$TMP/web.pem" \
			--timeout 3 >"$TMP/run/$i.out" 2>"$TMP/run/$i.err" || rc=$?
		echo "$rc" >"$TMP/run/$i.rc"
		i=$((i + 1))
	done
) &
LOOP=$!
track_pid "$LOOP"
for _ in $(seq 600); do
	[ -e "$TMP/run/8.rc" ] && break
	sleep 0.05
done
[ -e "$TMP/run/8.rc" ] || fail "the fetch loop is stuck"
kill -9 "$PID_A"
wait "$PID_A" 2>/dev/null || true
stopped_at=$(ls "$TMP/run" | grep -c '\.rc$')
wait "$LOOP" || fail "the fetch loop failed"
i=1
while [ "$i" -le "$N" ]; do
	[ "$(cat "$TMP/run/$i.rc")" = 0 ] || fail "fetch $i of $N failed: $(cat "$TMP/run/$i.err")"
	cmp -s "$TMP/run/$i.out" "$TMP/want-one" || fail "fetch $i of $N: wrong values"
	i=$((i + 1))
done
[ "$stopped_at" -lt "$N" ] || fail "A was stopped only after the run"
grep -q '"event":"release".*"result":"ok"' "$TMP/a/audit.jsonl" || fail "A served none of the run"
grep -q '"event":"release".*"result":"ok"' "$TMP/b/audit.jsonl" || fail "B served none of the run"
echo "fleet: $N fetches, A killed after $stopped_at, all served"
start_a

# ---- a new serial, distributed the documented way ----
flow_define "$TMP/def2.toml" two
seal_both "$TMP/def2.toml"
git -C "$B" add -A
git -C "$B" commit -q -m "serial 2"
git -C "$B" push -q origin main

# The shipped unit's commands, as systemd would run them ($$ is a literal $).
COND=$(sed -n 's/^ExecCondition=//p' "$PULL_UNIT" | sed 's/\$\$/$/g')
PULL=$(sed -n 's/^ExecStart=//p' "$PULL_UNIT" | sed 's/\$\$/$/g')
[ -n "$COND" ] && [ -n "$PULL" ] || fail "no ExecCondition=/ExecStart= in $PULL_UNIT"
grep -q '^ExecStartPost=+.*try-reload-or-restart appliance-server.service' "$PULL_UNIT" ||
	fail "the pull unit does not reload the appliance"
# pull DIR: 0 pulled, 1 nothing new (systemd would skip the rest), 2 the
# fast-forward failed (the unit fails; nothing is reloaded).
pull() {
	_st=0
	(cd "$1" && eval "$COND") || _st=$?
	[ "$_st" = 0 ] || return "$_st"
	(cd "$1" && eval "$PULL") || return 2
}
# reloaded PID LOG: SIGHUP (the unit's ExecStartPost), then serial 2 is in.
reloaded() {
	kill -HUP "$1"
	wait_for_log "$2" "reloaded: serial 2" 20
}
for side in a b; do
	st=0
	pull "$TMP/$side/bundle" || st=$?
	[ "$st" = 0 ] || fail "$side: the pull saw nothing new (exit $st)"
	st=0
	pull "$TMP/$side/bundle" || st=$?
	[ "$st" = 1 ] || fail "$side: a second pull did not skip (exit $st)"
done
reloaded "$PID_A" "$TMP/a/log"
reloaded "$PID_B" "$TMP/b/log"
for pair in "$PORT_A $A_PUB a" "$PORT_B $B_PUB b"; do
	set -- $pair
	fetch_from web "$1" "$2"
	[ "$GOT_RC" = 0 ] || fail "$3 after the pull: exit $GOT_RC: $(cat "$TMP/got.err")"
	expect_web two
	fetch_from worker "$1" "$2" --get queue_token
	[ "$(cat "$TMP/got")" = q-two ] || fail "$3: worker got '$(cat "$TMP/got")'"
	[ "$(cat "$TMP/$3/state")" = 2 ] || fail "$3: serial 2 not recorded"
done

# A rewritten upstream history is refused, and the appliances keep serial 2.
git -C "$B" reset -q --hard HEAD~1
git -C "$B" commit -q --allow-empty -m "rewritten"
git -C "$B" push -q -f origin main
st=0
pull "$TMP/a/bundle" 2>/dev/null || st=$?
[ "$st" = 2 ] || fail "a rewritten history was not refused (exit $st)"
[ "$(git -C "$TMP/a/bundle" log -1 --format=%s)" = "serial 2" ] || fail "the clone moved"

stop_pid "$PID_A" >"$TMP/st"
[ "$(cat "$TMP/st")" = 0 ] || fail "A: exit $(cat "$TMP/st") on SIGTERM"
stop_pid "$PID_B" >"$TMP/st"
[ "$(cat "$TMP/st")" = 0 ] || fail "B: exit $(cat "$TMP/st") on SIGTERM"
flow_end fleet
