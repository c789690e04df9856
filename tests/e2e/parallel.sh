#!/bin/sh
# SPDX-License-Identifier: ISC
# 64 coffer-get clients at once, each with its own key (concurrent Hellos
# from one key are refused as replays by design), against a server whose
# per-address --rate/--burst and connection limit are raised: every one gets
# exactly its own shard. Then the same crowd against the default-like limits: the excess is
# told "rate limited", the rest are served correctly, the server survives.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

N=64
flow_softhsm
flow_ceremony
{
	echo "[clients]"
	for i in $(seq $N); do
		flow_client "c$i"
		eval "echo \"c$i = \\\"\$ID_c$i\\\"\""
	done
	for i in $(seq $N); do
		printf '\n[c%d]\ntoken = "t-%d-%s"\nn = %d\n' "$i" "$i" "$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')" "$i"
	done
} >"$TMP/def.toml"
flow_seal_sign "$TMP/def.toml"
for i in $(seq $N); do
	tok=$(sed -n "/^\[c$i\]\$/,/^\$/s/^token = \"\(.*\)\"\$/\1/p" "$TMP/def.toml")
	printf "export token='%s'\nexport n='%d'\n" "$tok" "$i" >"$TMP/want.$i"
done

# crowd TAG: all N clients at once; outputs in $TMP/TAG.i, status in $TMP/TAG.i.rc.
crowd() {
	_pids=
	for i in $(seq $N); do
		(
			_st=0
			coffer-get --server "127.0.0.1:$PORT" --server-key "$SERVER_PUB" \
				--key "$TMP/c$i.pem" --timeout 20 >"$TMP/$1.$i" 2>"$TMP/$1.$i.err" || _st=$?
			echo "$_st" >"$TMP/$1.$i.rc"
		) &
		_pids="$_pids $!"
		track_pid $!
	done
	for p in $_pids; do wait "$p" || true; done
}

flow_start --workers 2 --rate 1000 --burst 1000 --max-handshakes 128 --max-connections-per-source 100
t0=$(date +%s.%N)
crowd all
t1=$(date +%s.%N)
bad=0
for i in $(seq $N); do
	rc=$(cat "$TMP/all.$i.rc")
	if [ "$rc" != 0 ] || ! cmp -s "$TMP/want.$i" "$TMP/all.$i"; then
		echo "client c$i: exit $rc: $(cat "$TMP/all.$i.err") $(cat "$TMP/all.$i")" >&2
		bad=$((bad + 1))
	fi
done
[ "$bad" = 0 ] || fail "$bad of $N parallel clients did not get their shard"
echo "$N parallel clients served in $(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s" >&2
flow_alive "64 parallel clients"
flow_stop

# The same crowd against tight limits: the excess is refused as rate limited.
PORT=$(random_port)
: >"$SRV_LOG"
flow_start --workers 2 --rate 2 --burst 8 --max-connections-per-source 100
crowd lim
ok=0 limited=0
for i in $(seq $N); do
	rc=$(cat "$TMP/lim.$i.rc")
	if [ "$rc" = 0 ]; then
		cmp -s "$TMP/want.$i" "$TMP/lim.$i" || fail "c$i got a wrong shard under rate limiting"
		ok=$((ok + 1))
	elif grep -q "rate limited" "$TMP/lim.$i.err"; then
		[ -s "$TMP/lim.$i" ] && fail "c$i: rate limited but printed output"
		limited=$((limited + 1))
	else
		fail "c$i: exit $rc without 'rate limited': $(cat "$TMP/lim.$i.err")"
	fi
done
echo "tight limits: $ok served, $limited rate limited" >&2
[ "$ok" -ge 1 ] || fail "nobody served under the burst"
[ "$limited" -ge $((N - 8 - 30)) ] || fail "only $limited of $N rate limited (burst 8, rate 2/s)"
flow_alive "rate limiting"
flow_stop
grep -q "stopped: .* [1-9][0-9]* rate limited" "$SRV_LOG" || fail "the stop line does not count the rate limited"
flow_end parallel
