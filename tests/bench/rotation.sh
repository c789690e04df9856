#!/bin/sh
# SPDX-License-Identifier: ISC
#
# tests/bench/rotation.sh: what serving two appliance keys costs (issue 16).
# Not a meson test: it prints a markdown table and asserts no timing. Run by
# hand after a build (COFFER_BUILD=path/to/build for another build dir).
#
# One SoftHSM2 token with an old and a new appliance key, a bundle sealed to
# both, 4 load-generator threads (tests/bench/coffer-load, each its own
# client key). For each server configuration: fetches/s, server CPU per
# fetch, and token DHs per fetch (from the server's own count, logged at
# shutdown, over the fetches in its audit log):
#   - one key, clients pinned to it (the reference);
#   - two keys, every client pinned to the first (steady state);
#   - two keys, every client pinned to the second (steady state after the
#     first Hello moved the preference);
#   - two keys, clients alternating old/new (a fleet half moved: the worst
#     case for "try the last good key first").
# With and without --cache-ss (ss from the cache: one token DH per Hello).
#
# Environment: BENCH_SECONDS (measured seconds per run, default 5).
set -eu
COFFER_SRC=$(cd "$(dirname "$0")/../.." && pwd)
COFFER_BUILD=${COFFER_BUILD:-$COFFER_SRC/build}
export COFFER_SRC COFFER_BUILD
. "$COFFER_SRC/tests/helpers.sh"

secs=${BENCH_SECONDS:-5}
threads=4
B=$COFFER_BUILD
load=$B/tests/bench/coffer-load
for p in "$load" "$B/appliance/appliance-server" "$B/provisioning/provision-master" \
	"$B/provisioning/coffer-seal" "$B/clients/coffer-get"; do
	[ -x "$p" ] || fail "$p missing: build first (ninja -C $B)"
done
PATH=$B/hsm:$B/provisioning:$B/appliance:$B/clients:$PATH

make_token master
master_pin=$COFFER_PIN_FILE
make_token appliance
appl_pin=$COFFER_PIN_FILE
M=$COFFER_PKCS11_MODULE
bd=$TMP/bundle
provision-master init --bundle "$bd" --pkcs11-module "$M" --token "pkcs11:token=master" \
	--pin-source "file:$master_pin" >"$TMP/init.out" 2>&1 || fail "provision-master init"
anchor=$(grep -o 'sha256:[0-9a-f]\{64\}' "$TMP/init.out" | head -1)
for k in old new; do
	provision-master server-key "$k" --bundle "$bd" --pkcs11-module "$M" \
		--token "pkcs11:token=appliance" --pin-source "file:$appl_pin" >/dev/null 2>&1 ||
		fail "server-key $k"
done
coffer-seal keygen --out "$TMP/companion.pem" --public-out "$TMP/companion_public.pem" >/dev/null
provision-master add-key --companion companion "$TMP/companion_public.pem" --bundle "$bd" >/dev/null 2>&1 ||
	fail "add-key"
mkdir -p "$TMP/keys"
{
	echo "[clients]"
	for i in $(seq 0 $((threads - 1))); do
		coffer-get keygen --out "$TMP/keys/client-$i.pem" >"$TMP/keys/client-$i.id"
		openssl pkey -in "$TMP/keys/client-$i.pem" -pubout \
			-out "$bd/keys/client-${i}_public.pem" 2>/dev/null
		echo "client-$i = \"$(cat "$TMP/keys/client-$i.id")\""
	done
	for i in $(seq 0 $((threads - 1))); do
		printf '[client-%s]\ndb_password = "pw-%s"\nport = 5432\n' "$i" "$i"
	done
} >"$TMP/def.toml"
coffer-seal seal --companion "$TMP/companion.pem" --recipient "$bd/keys/old_public.pem" \
	--recipient "$bd/keys/new_public.pem" "$TMP/def.toml" -o "$bd/coffer.sealed" >/dev/null 2>&1 ||
	fail "seal"
provision-master manifest --bundle "$bd" >/dev/null 2>&1 || fail "manifest"
provision-master sign --bundle "$bd" --pkcs11-module "$M" --token "pkcs11:token=master" \
	--pin-source "file:$master_pin" >/dev/null 2>&1 || fail "sign"

OLDK="--key pkcs11:token=appliance;object=old"
NEWK="--key pkcs11:token=appliance;object=new"
OLDP=$bd/keys/old_public.pem
NEWP=$bd/keys/new_public.pem

# run LABEL "SERVER ARGS" PIN [PIN]: one server, one measured load run.
run() {
	label=$1
	sargs=$2
	shift 2
	port=$(random_port)
	rm -f "$TMP/audit.log"
	# shellcheck disable=SC2086
	appliance-server --pkcs11-module "$M" $sargs --pin-source "file:$appl_pin" \
		--bundle "$bd" --trust-anchor "$anchor" --state-file "$TMP/state" \
		--listen "127.0.0.1:$port" --audit-log "$TMP/audit.log" --rate 1000000 \
		--burst 1000000 $cache 2>"$TMP/server.log" &
	pid=$!
	track_pid "$pid"
	wait_for_port "$port" 60 || { cat "$TMP/server.log" >&2; fail "server did not start"; }
	pins=""
	for p in "$@"; do pins="$pins --server-key $p"; done
	# shellcheck disable=SC2086
	"$load" fetch --server "127.0.0.1:$port" $pins --keys "$TMP/keys" --threads "$threads" \
		--seconds "$secs" --warmup 1 --server-pid "$pid" --label "$label" >"$TMP/row" ||
		fail "coffer-load $label"
	# Not in $(...): a subshell cannot wait for the server.
	stop_pid "$pid" >"$TMP/stop.st"
	[ "$(cat "$TMP/stop.st")" = 0 ] || { cat "$TMP/server.log" >&2; fail "server exit"; }
	dhs=$(sed -n 's/.*appliance key sha256:[0-9a-f]*: \([0-9]*\) token DHs.*/\1/p' "$TMP/server.log" |
		awk '{s += $1} END {print s}')
	fetches=$(grep -c '"event":"release".*"result":"ok"' "$TMP/audit.log")
	# coffer-load's row: label, clients, fetches, fetches/s, p50, p99, p99.9, errors, server CPU/fetch.
	awk -F'|' -v d="$dhs" -v f="$fetches" -v c="$cache" '{
		printf "| %s | %s | %s | %s | %s | %s | %.2f |\n", $2, (c == "" ? "off" : "on"), $5, $6,
			$9, $10, d / f
	}' "$TMP/row"
}

echo "## Two appliance keys: what a Hello costs ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
echo "- $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); SoftHSM2 $(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null); $threads client threads, ${secs} s measured"
echo
echo "| configuration | --cache-ss | fetches/s | p50 ms | errors | server CPU µs/fetch | token DHs per fetch |"
echo "|---------------|------------|-----------|--------|--------|---------------------|---------------------|"
for cache in "" --cache-ss; do
	run "one key" "$OLDK" "$OLDP"
	run "two keys, clients on the first" "$OLDK $NEWK" "$OLDP"
	run "two keys, clients on the second" "$OLDK $NEWK" "$NEWP"
	run "two keys, clients alternating" "$OLDK $NEWK" "$OLDP" "$NEWP"
done
