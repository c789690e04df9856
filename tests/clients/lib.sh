# SPDX-License-Identifier: ISC
# Shared set-up of the coffer-get integration scripts (sourced after
# tests/helpers.sh): a server key, a client key made by `coffer-get keygen`,
# and fake-appliance servers on free ports.

EXP=$COFFER_SRC/tests/clients/expected
FAKE=$COFFER_BUILD/tests/clients/fake-appliance
command -v coffer-get >/dev/null || fail "coffer-get not built"
[ -x "$FAKE" ] || fail "fake-appliance not built"

umask 077
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/server.pem" 2>/dev/null
openssl pkey -in "$TMP/server.pem" -pubout -out "$TMP/server_pub.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/other.pem" 2>/dev/null
openssl pkey -in "$TMP/other.pem" -pubout -out "$TMP/other_pub.pem"
coffer-get keygen --out "$TMP/client.pem" > "$TMP/client.id"
CLIENT_ID=$(cat "$TMP/client.id")

# start_fake NAME [MODE [SERVER_KEY [CLIENT_ID]]]: sets $NAME to 127.0.0.1:PORT.
start_fake() {
	_name=$1 _mode=${2:-ok} _key=${3:-$TMP/server.pem} _id=${4:-$CLIENT_ID}
	rm -f "$TMP/$_name.port"
	"$FAKE" "$TMP/$_name.port" "$_key" "$_id" "$_mode" &
	track_pid $!
	for _ in $(seq 100); do [ -s "$TMP/$_name.port" ] && break; sleep 0.05; done
	[ -s "$TMP/$_name.port" ] || fail "fake-appliance $_name did not start"
	eval "$_name=127.0.0.1:$(cat "$TMP/$_name.port")"
}

# A port nobody listens on.
dead_addr() {
	echo "127.0.0.1:$(random_port)"
}

# expect_exit CODE CMD...: run CMD, require exit status CODE; stderr in $TMP/err.
expect_exit() {
	_want=$1
	shift
	_st=0
	"$@" > "$TMP/out" 2> "$TMP/err" || _st=$?
	[ "$_st" -eq "$_want" ] || {
		cat "$TMP/err" >&2
		fail "expected exit $_want, got $_st: $*"
	}
}

# must_not_leak: no value of the shard in stderr.
must_not_leak() {
	! grep -q 's3cr3t' "$TMP/err" || fail "a value leaked into an error message"
}
