#!/bin/sh
# SPDX-License-Identifier: ISC
#
# tests/bench/run.sh: the appliance benchmark (issue 9). Not a meson test: it
# prints figures (markdown) and asserts no timing. Run it by hand after
# ./quickstart.sh or ./test.sh built build/ (COFFER_BUILD=path/to/build for
# another build dir, e.g. one set up with -Dbuildtype=release).
#
# In one run, on a fresh SoftHSM2 token and a fresh swtpm:
#   1. the token's raw ECDH/s and OpenSSL's P-256 ECDH/s (token-rate), and the
#      server's floor per fetch: one token ECDH + ephemeral keygen + 2 ECDH;
#   2. start-up (verify + unseal + index, appliance-server --check) with
#      definitions of 1k, 10k, 100k clients, against plain hashing;
#   3. server memory idle, with 10,000 idle connections, under load;
#   4. fetches/s, p50/p99/p99.9 and server CPU per fetch (× floor) at 1, 16,
#      64, 256 concurrent clients (1k clients defined), and at 64 with 100k;
#   5. the same fetch rate with the appliance key in swtpm;
#   6. under attack: honest fetches/s and p99 at 16 clients, alone and while
#      coffer-flood sends fresh-key Hellos from 64 addresses;
#   7. privilege separation against the single-process server: the same
#      fetch runs, alternating, against this build and one built from
#      BENCH_BASELINE (a git revision of the single-process design).
#
# The server is two processes (the monitor and appliance-net): CPU and memory
# are summed over both, descriptors counted where the connections are (the
# network process).
#
# Environment: BENCH_SECONDS (measured seconds per fetch run, default 5),
# BENCH_HOLD (idle connections, default 10000), BENCH_SIZES (default
# "1000 10000 100000"), BENCH_BASELINE (default the last single-process
# commit, 5d1d0a3; "none" skips section 7), BENCH_SECTIONS (default
# "2 3 4 5 6 7": the sections to run; 3 and 4 go together; e.g. "7" for
# the privilege-separation comparison alone), BENCH_ROUNDS (default 5: the
# alternating rounds of section 7), KEEP_TMP=1 keeps the work dir
# on failure.
set -eu
COFFER_SRC=$(cd "$(dirname "$0")/../.." && pwd)
COFFER_BUILD=${COFFER_BUILD:-$COFFER_SRC/build}
export COFFER_SRC COFFER_BUILD
. "$COFFER_SRC/tests/helpers.sh"

secs=${BENCH_SECONDS:-5}
hold=${BENCH_HOLD:-10000}
sizes=${BENCH_SIZES:-1000 10000 100000}
nkeys=256 # one key per load-generator thread at the highest concurrency
B=$COFFER_BUILD
load=$B/tests/bench/coffer-load
rate=$B/tests/bench/token-rate
for p in "$load" "$rate" "$B/appliance/appliance-server" "$B/provisioning/provision-master" \
	"$B/provisioning/coffer-seal" "$B/clients/coffer-get" "$B/hsm/coffer-hsm"; do
	[ -x "$p" ] || fail "$p missing: build first (ninja -C $B)"
done
PATH=$B/hsm:$B/provisioning:$B/appliance:$B/clients:$PATH
export TSS2_LOG=all+none

# 10,000 idle connections need as many descriptors, in the holder and the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -gt $((hold + 200)) ] ||
	fail "ulimit -n is $(ulimit -n); $hold idle connections need more (raise the hard limit or BENCH_HOLD)"

# ms since some fixed point (monotonic enough for these spans).
now_ms() { date +%s%3N; }
section() { printf '\n### %s\n\n' "$*"; }
# want N: section N is in BENCH_SECTIONS (section 1, the floor, always runs).
want() { case " ${BENCH_SECTIONS:-2 3 4 5 6 7} " in *" $1 "*) return 0 ;; esac; return 1; }
# mem PID: "RSS_KiB PRIVATE_KiB" from smaps_rollup, summed over PID and its
# children (the monitor and its network process).
mem() {
	# shellcheck disable=SC2046
	awk '/^Rss:/ {r+=$2} /^Private_(Clean|Dirty):/ {p+=$2} END {print r, p}' \
		$(for p in $1 $(cat "/proc/$1/task/$1/children" 2>/dev/null); do echo "/proc/$p/smaps_rollup"; done)
}
# net_of PID: the network process of the monitor PID (itself if it has none).
net_of() {
	_c=$(cat "/proc/$1/task/$1/children" 2>/dev/null | awk '{print $1}')
	echo "${_c:-$1}"
}
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

echo "## Coffer benchmark ($(date -u +%Y-%m-%dT%H:%MZ))"
echo
echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews rates and latencies; CPU per fetch much less)"
echo "- build: $B (buildtype $(python3 -c 'import json,sys; print([o["value"] for o in json.load(open(sys.argv[1])) if o["name"]=="buildtype"][0])' "$B/meson-info/intro-buildoptions.json" 2>/dev/null || echo unknown))"
echo "- versions: softhsm2 $(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null), swtpm $(dpkg-query -W -f '${Version}' swtpm 2>/dev/null), tpm2-tss $(pkg-config --modversion tss2-esys), OpenSSL $(openssl version | cut -d' ' -f2)"
echo "- load generator: tests/bench/coffer-load on libcoffer, same machine and cores; each fetch = connect, Hello, Link, Get, OkGet, Bye, close (nothing reused); ${secs} s measured after 1 s warm-up"

# ---------------------------------------------------------------- set-up
make_token master
master_pin=$COFFER_PIN_FILE
make_token appliance
appl_pin=$COFFER_PIN_FILE
M=$COFFER_PKCS11_MODULE
start_swtpm

base=$TMP/base
provision-master init --bundle "$base" --pkcs11-module "$M" --token "pkcs11:token=master" \
	--pin-source "file:$master_pin" --note bench >"$TMP/init.out" 2>&1 ||
	{ cat "$TMP/init.out" >&2; fail "provision-master init"; }
anchor=$(grep -o 'sha256:[0-9a-f]\{64\}' "$TMP/init.out" | head -1)
[ -n "$anchor" ] || fail "no trust anchor printed"
provision-master server-key bench-p11 --bundle "$base" --pkcs11-module "$M" \
	--token "pkcs11:token=appliance" --pin-source "file:$appl_pin" >/dev/null 2>&1 ||
	fail "server-key in SoftHSM2"
provision-master server-key bench-tpm --bundle "$base" --tpm2 "$SWTPM_TCTI" \
	--key-blob "$TMP/tpm.blob" >/dev/null 2>&1 || fail "server-key in swtpm"
coffer-seal keygen --out "$TMP/companion.pem" --public-out "$TMP/companion_public.pem" >/dev/null
provision-master add-key --companion companion "$TMP/companion_public.pem" --bundle "$base" >/dev/null 2>&1 ||
	fail "add-key companion"

# Client keys for the fetching clients; their public keys go into the bundle
# (keys/client-N_public.pem) so that --cache-ss can precompute ss.
mkdir -p "$TMP/keys"
seq 0 $((nkeys - 1)) | xargs -P "$(nproc)" -I{} sh -c \
	'coffer-get keygen --out "$1/client-$2.pem" > "$1/client-$2.id" &&
	 openssl pkey -in "$1/client-$2.pem" -pubout -out "$3/keys/client-$2_public.pem" 2>/dev/null' \
	_ "$TMP/keys" {} "$base" || fail "client keys"
# A key made in the token for token-rate (which signs as well as derives).
coffer-hsm keygen --pkcs11-module "$M" --token "pkcs11:token=appliance" \
	--pin-source "file:$appl_pin" --label rate --out "$TMP/rate.pem" >/dev/null 2>&1 ||
	fail "coffer-hsm keygen"

# ---------------------------------------------------------------- 1. token and software rates
section "Raw ECDH: the token against OpenSSL (same run)"
"$rate" --pkcs11-module "$M" --token "pkcs11:token=appliance" --pin-source "file:$appl_pin" \
	--key rate --seconds 2 --threads 1,2 >"$TMP/rate-p11.txt" || fail "token-rate (SoftHSM2)"
"$rate" --soft --seconds 2 --threads 1,2 >"$TMP/rate-soft.txt" || fail "token-rate --soft"
cat "$TMP/rate-p11.txt"
tail -n +3 "$TMP/rate-soft.txt"
"$load" floor --seconds 2 >"$TMP/floor.txt" || fail "coffer-load floor"
# Column 6 of token-rate's row: ECDH µs of CPU per operation, one thread.
tok_us=$(awk -F'|' '$3+0 == 1 {gsub(/ /, "", $6); print $6; exit}' "$TMP/rate-p11.txt")
tok_rate1=$(awk -F'|' '$3+0 == 1 {gsub(/ /, "", $4); print $4; exit}' "$TMP/rate-p11.txt")
kg_us=$(awk '$1 == "keygen_us" {print $2}' "$TMP/floor.txt")
dh_us=$(awk '$1 == "ecdh_us" {print $2}' "$TMP/floor.txt")
dhv_us=$(awk '$1 == "ecdh_validated_us" {print $2}' "$TMP/floor.txt")
floor_us=$(awk -v a="$tok_us" -v b="$kg_us" -v c="$dh_us" 'BEGIN {printf "%.0f", a + b + 2 * c}')
echo
echo "OpenSSL P-256 in one thread, CPU per operation: ephemeral key generation ${kg_us} µs," \
	"ECDH ${dh_us} µs (${dhv_us} µs when EVP_PKEY_derive_set_peer also validates the peer" \
	"with a full n·Q check, as OpenSSL 3 does by default)."
echo
echo "**Server floor per fetch** = token ECDH (${tok_us} µs CPU, SoftHSM2 in process) +" \
	"keygen (${kg_us}) + 2 × ECDH (ee, se: ${dh_us} each) = **${floor_us} µs** of CPU."

# ---------------------------------------------------------------- definitions and bundles
for n in $sizes; do
	[ "$n" -ge "$nkeys" ] || fail "BENCH_SIZES: each size must be at least $nkeys"
	python3 "$COFFER_SRC/tests/provisioning/gen-definition.py" "$n" toml "$TMP/def-$n.toml" >/dev/null
	# client-0 .. client-255 get the real identities of the load generator's keys.
	python3 - "$TMP/def-$n.toml" "$TMP/keys" "$nkeys" <<'PY'
import sys
path, keys, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(path).read().split('\n')
assert lines[0] == '[clients]'
for i in range(k):
    ident = open('%s/client-%d.id' % (keys, i)).read().strip()
    assert lines[1 + i].startswith('client-%d = ' % i)
    lines[1 + i] = 'client-%d = "%s"' % (i, ident)
open(path, 'w').write('\n'.join(lines))
PY
	cp -a "$base" "$TMP/bundle-$n"
	coffer-seal seal --companion "$TMP/companion.pem" \
		--recipient "$base/keys/bench-p11_public.pem" --recipient "$base/keys/bench-tpm_public.pem" \
		"$TMP/def-$n.toml" -o "$TMP/bundle-$n/coffer.sealed" >/dev/null 2>&1 || fail "seal $n"
	provision-master manifest --bundle "$TMP/bundle-$n" >/dev/null 2>&1 || fail "manifest $n"
	provision-master sign --bundle "$TMP/bundle-$n" --pkcs11-module "$M" \
		--token "pkcs11:token=master" --pin-source "file:$master_pin" >/dev/null 2>&1 ||
		fail "sign $n"
done

p11_args() { # p11_args BUNDLE STATE
	echo --pkcs11-module "$M" --key "pkcs11:token=appliance;object=bench-p11" \
		--pin-source "file:$appl_pin" --bundle "$1" --trust-anchor "$anchor" --state-file "$2"
}

if want 2; then
# ---------------------------------------------------------------- 2. start-up
section "Start-up: verify + unseal + index (appliance-server --check, SoftHSM2 key)"
echo "| clients | definition | coffer.sealed | hashing the bundle (sha256sum) | --check total | --check with --cache-ss (256 client keys) | beyond hashing |"
echo "|---------|------------|---------------|-------------------------------|---------------|----------------------------|----------------|"
for n in $sizes; do
	bd=$TMP/bundle-$n
	t0=$(now_ms)
	find "$bd" -type f -exec cat {} + | sha256sum >/dev/null
	t1=$(now_ms)
	# shellcheck disable=SC2046
	appliance-server $(p11_args "$bd" "$TMP/check.state") --check --log-level warn >/dev/null 2>"$TMP/check.err" ||
		{ cat "$TMP/check.err" >&2; fail "--check $n"; }
	t2=$(now_ms)
	# shellcheck disable=SC2046
	appliance-server $(p11_args "$bd" "$TMP/check.state") --check --cache-ss --log-level warn >/dev/null 2>"$TMP/check.err" ||
		{ cat "$TMP/check.err" >&2; fail "--check --cache-ss $n"; }
	t3=$(now_ms)
	printf '| %7s | %s | %s | %s ms | %s ms | %s ms | %s ms |\n' "$n" \
		"$(du -h "$TMP/def-$n.toml" | cut -f1)" "$(du -h "$bd/coffer.sealed" | cut -f1)" \
		$((t1 - t0)) $((t2 - t1)) $((t3 - t2)) $((t2 - t1 - (t1 - t0)))
done
echo
echo "(--check includes process start, PKCS#11 module load and token login; hashing is" \
	"the bundle's bytes through sha256sum once, which the manifest check must do too.)"

fi

# ---------------------------------------------------------------- server runs
server_pid=
server_bin=appliance-server
# The load comes from one address (127.0.0.1): this build's per-source
# connection limit and MaxStartups are raised past the load (the baseline of
# section 7 has no such options: they are left out there).
load_limits="--max-connections-per-source $((hold + 1000)) --max-startups 100000:100:100000"
server_extra=$load_limits
start_server() { # start_server LOG ARGS...: sets server_pid, port
	log=$1
	shift
	port=$(random_port)
	# shellcheck disable=SC2086
	"$server_bin" "$@" $server_extra --listen "127.0.0.1:$port" --audit-log "$TMP/audit${audit_tag:-}.log" \
		--rate 1000000 --burst 1000000 --max-handshakes 100000 --max-connections $((hold + 1000)) \
		--handshake-timeout 600 --idle-timeout 600 --cache-ss --log-level warn 2>"$log" &
	server_pid=$!
	track_pid "$server_pid"
	wait_for_port "$port" 60 || { cat "$log" >&2; fail "server did not start"; }
}
stop_server() { # stop_server LOG: SIGTERM, and the server must exit cleanly
	kill "$server_pid"
	st=0
	wait "$server_pid" || st=$?
	[ "$st" = 0 ] || { cat "$1" >&2; fail "server exited with $st"; }
	server_pid=
}
fetch() { # fetch LABEL THREADS SERVER_KEY [--header]
	"$load" fetch --server "127.0.0.1:$port" --server-key "$3" --keys "$TMP/keys" \
		--threads "$2" --seconds "$secs" --warmup 1 --server-pid "$server_pid" \
		--floor-us "$floor_us" --label "$1" ${4:-} || fail "fetch run $1"
}

small=${sizes%% *}
large=${sizes##* }

if want 3 || want 4; then
# ---------------------------------------------------------------- 3. memory
section "Server memory ($small clients defined, SoftHSM2 key, --cache-ss)"
# shellcheck disable=SC2046
start_server "$TMP/server.log" $(p11_args "$TMP/bundle-$small" "$TMP/s1.state")
sleep 1
set -- $(mem "$server_pid")
idle_rss=$1 idle_priv=$2
mkfifo "$TMP/hold.in"
"$load" hold --server "127.0.0.1:$port" --count "$hold" <"$TMP/hold.in" >"$TMP/hold.out" &
holder=$!
track_pid "$holder"
exec 3>"$TMP/hold.in"
for _ in $(seq 600); do
	grep -q '^held' "$TMP/hold.out" 2>/dev/null && break
	kill -0 "$holder" 2>/dev/null || fail "holder exited before holding $hold connections"
	sleep 0.1
done
grep -q '^held' "$TMP/hold.out" || fail "holder did not report"
# The last accepts may still be in the server's queue.
for _ in $(seq 100); do
	nfd=$(ls "/proc/$(net_of "$server_pid")/fd" | wc -l)
	[ "$nfd" -ge "$hold" ] && break
	sleep 0.1
done
sleep 1
nfd=$(ls "/proc/$(net_of "$server_pid")/fd" | wc -l)
set -- $(mem "$server_pid")
held_rss=$1 held_priv=$2
exec 3>&-
wait "$holder" || fail "holder failed"
echo "| state | RSS MiB | private MiB | open fds |"
echo "|-------|---------|-------------|----------|"
echo "| idle, after start | $(mib "$idle_rss") | $(mib "$idle_priv") | - |"
echo "| $hold idle connections held | $(mib "$held_rss") | $(mib "$held_priv") | $nfd |"
echo
echo "Per idle connection: $(awk -v a="$held_priv" -v b="$idle_priv" -v n="$hold" 'BEGIN {printf "%.2f", (a - b) / n}') KiB" \
	"private ($(awk -v a="$held_rss" -v b="$idle_rss" -v n="$hold" 'BEGIN {printf "%.2f", (a - b) / n}') KiB RSS)," \
	"process memory only (the kernel's socket buffers are not in it). Under load: the last column below."

# ---------------------------------------------------------------- 4. fetch rates
section "Full fetches (SoftHSM2 key; floor ${floor_us} µs CPU per fetch)"
fetch "$small clients, softhsm" 1 "$base/keys/bench-p11_public.pem" --header
for c in 16 64 256; do
	fetch "$small clients, softhsm" "$c" "$base/keys/bench-p11_public.pem"
done
stop_server "$TMP/server.log"
if [ "$large" != "$small" ]; then
	# shellcheck disable=SC2046
	start_server "$TMP/server-large.log" $(p11_args "$TMP/bundle-$large" "$TMP/s2.state")
	fetch "$large clients, softhsm" 64 "$base/keys/bench-p11_public.pem"
	stop_server "$TMP/server-large.log"
fi

fi

if want 5; then
# ---------------------------------------------------------------- 5. swtpm
start_server "$TMP/server-tpm.log" --tpm2 "$SWTPM_TCTI" --key-blob "$TMP/tpm.blob" \
	--bundle "$TMP/bundle-$small" --trust-anchor "$anchor" --state-file "$TMP/s3.state"
fetch "$small clients, swtpm" 16 "$base/keys/bench-tpm_public.pem"
fetch "$small clients, swtpm" 64 "$base/keys/bench-tpm_public.pem"
stop_server "$TMP/server-tpm.log"
echo
echo "(swtpm: the × floor column still uses the SoftHSM2 floor; the TPM's own work runs in the swtpm process, not in the server's CPU.)"
echo
echo "Token ECDH on one thread, this run: ${tok_rate1}/s. Audit records written: $(wc -l <"$TMP/audit.log")."

fi

if want 6; then
# ---------------------------------------------------------------- 6. under attack
section "Under attack: fresh-key Hellos from 64 addresses ($small clients, SoftHSM2 key)"
flood=$B/tests/bench/coffer-flood
# shellcheck disable=SC2046
start_server "$TMP/server-attack.log" $(p11_args "$TMP/bundle-$small" "$TMP/s-attack.state")
fetch "no attack" 16 "$base/keys/bench-p11_public.pem" --header | tee "$TMP/attack.md"
# The flood runs until its stdin closes: a little longer than the fetch run.
mkfifo "$TMP/flood.in"
"$flood" --server "127.0.0.1:$port" --server-key "$base/keys/bench-p11_public.pem" \
	--threads 4 --sources 64 --seconds $((secs + 60)) <"$TMP/flood.in" >"$TMP/flood.out" &
flood_pid=$!
track_pid "$flood_pid"
exec 4>"$TMP/flood.in"
sleep 2
fetch "under attack" 16 "$base/keys/bench-p11_public.pem" | tee -a "$TMP/attack.md"
exec 4>&-
wait "$flood_pid" || fail "coffer-flood failed"
stop_server "$TMP/server-attack.log"
echo
echo "Attacker: $(cat "$TMP/flood.out")"
echo
echo "(The server runs with --rate raised for the honest load, which comes from one"
echo "address: the attack is held by --token-budget (default 2000) and the shipped"
echo "connection limits only. Its Hellos cost 2 token DHs each; the honest clients' 1"
echo "(ss cached). Attacker, load generator and server share the machine's cores.)"

fi

# ---------------------------------------------------------------- 7. privilege separation
baseline=${BENCH_BASELINE:-5d1d0a3f90c984036d5483ceedabcae17743a98c}
{ [ "$baseline" != none ] && want 7; } || exit 0
section "Privilege separation against the single-process server ($small clients, SoftHSM2 key)"
git -C "$COFFER_SRC" cat-file -e "$baseline^{commit}" 2>/dev/null ||
	fail "BENCH_BASELINE $baseline: no such commit in $COFFER_SRC"
mkdir -p "$TMP/baseline"
git -C "$COFFER_SRC" archive "$baseline" | tar -x -C "$TMP/baseline" || fail "git archive $baseline"
buildtype=$(python3 -c 'import json,sys; print([o["value"] for o in json.load(open(sys.argv[1])) if o["name"]=="buildtype"][0])' "$B/meson-info/intro-buildoptions.json")
meson setup "$TMP/baseline/build" "$TMP/baseline" -Dbuildtype="$buildtype" >/dev/null 2>&1 ||
	fail "meson setup of the baseline $baseline"
ninja -C "$TMP/baseline/build" appliance/appliance-server >/dev/null 2>&1 || fail "build of the baseline"
# The baseline reads the bundle layout of its day: companion keys in keys/
# and one signature, crypto_manifest.json.sig. The same bundle in that
# layout, its manifest signed again by the same master key.
old_bundle=$TMP/bundle-baseline
cp -a "$TMP/bundle-$small" "$old_bundle"
mv "$old_bundle"/companions/* "$old_bundle/keys/"
rmdir "$old_bundle/companions"
rm -rf "$old_bundle/signatures"
sed -i 's|"companions/|"keys/|' "$old_bundle/crypto_manifest.json"
coffer-hsm sign --pkcs11-module "$M" --token "pkcs11:token=master" --pin-source "file:$master_pin" \
	--key coffer-master --in "$old_bundle/crypto_manifest.json" \
	--out "$old_bundle/crypto_manifest.json.sig" >/dev/null 2>&1 || fail "sign the baseline's bundle"
"$TMP/baseline/build/appliance/appliance-server" $(p11_args "$old_bundle" "$TMP/s-check.state") \
	--check >"$TMP/baseline-check.log" 2>&1 ||
	{ cat "$TMP/baseline-check.log" >&2; fail "the baseline refuses its bundle"; }
echo "Baseline: commit $baseline (one process), built here with buildtype $buildtype;" \
	"the runs alternate (baseline, privsep, ${BENCH_ROUNDS:-5} rounds) so that other load on the" \
	"machine falls on both. CPU per fetch is the server's, summed over both processes."
echo
for c in 16 64; do
	for round in $(seq "${BENCH_ROUNDS:-5}"); do
		for which in baseline privsep; do
			if [ "$which" = baseline ]; then
				server_bin=$TMP/baseline/build/appliance/appliance-server
				server_extra=
			else
				server_bin=appliance-server
				server_extra="$load_limits --token-budget 0"
			fi
			bundle=$TMP/bundle-$small
			[ "$which" = baseline ] && bundle=$old_bundle
			audit_tag=-$which # the baseline's log is not chained
			# shellcheck disable=SC2046
			start_server "$TMP/server-$which.log" $(p11_args "$bundle" "$TMP/s-$which.state")
			hdr=
			[ "$c" = 16 ] && [ "$round" = 1 ] && [ "$which" = baseline ] && hdr=--header
			fetch "$which, round $round" "$c" "$base/keys/bench-p11_public.pem" $hdr |
				tee -a "$TMP/compare.md"
			stop_server "$TMP/server-$which.log"
		done
	done
done
server_bin=appliance-server
echo
# Per concurrency: the mean fetches/s and CPU per fetch of each side, and the
# median of the rounds' own ratios (each round's privsep run against the
# baseline run just before it: the VM's neighbours move whole rounds, and a
# paired ratio with a median is what such noise leaves comparable).
python3 - "$TMP/compare.md" <<'PY'
import re, statistics, sys
rows = [l for l in open(sys.argv[1]) if l.startswith("|") and "round" in l]
data = {}
for l in rows:
    f = [x.strip() for x in l.strip().strip("|").split("|")]
    label, conc = f[0], int(f[1])
    which, rnd = label.split(",")[0], label.split("round")[1].strip()
    rate = float(re.sub(r"[^0-9.]", "", f[3]))
    cpu = float(re.sub(r"[^0-9.]", "", f[8]))
    data.setdefault((conc, which), {})[rnd] = (rate, cpu)
print("| clients | single process: fetches/s | privsep: fetches/s | ratio (median of rounds) | single process: server CPU/fetch | privsep: server CPU/fetch | ratio (median of rounds) |")
print("|---------|---------------------------|--------------------|--------------------------|----------------------------------|---------------------------|--------------------------|")
for conc in sorted({k[0] for k in data}):
    b, p = data[(conc, "baseline")], data[(conc, "privsep")]
    rounds = sorted(set(b) & set(p))
    br = statistics.mean(b[r][0] for r in rounds)
    pr = statistics.mean(p[r][0] for r in rounds)
    bc = statistics.mean(b[r][1] for r in rounds)
    pc = statistics.mean(p[r][1] for r in rounds)
    rr = statistics.median(p[r][0] / b[r][0] for r in rounds)
    rc = statistics.median(p[r][1] / b[r][1] for r in rounds)
    print("| %d | %.0f | %.0f | %.2f (%.2f) | %.0f µs | %.0f µs | %.2f (%.2f) |" %
          (conc, br, pr, pr / br, rr, bc, pc, pc / bc, rc))
PY
