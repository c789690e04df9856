#!/bin/sh
# SPDX-License-Identifier: ISC
#
# ./quickstart.sh [--serve]
#
# The whole story on one machine: install the Debian packages, build, make two
# throw-away SoftHSM2 tokens under ./demo/ (the security officer's master
# token and the appliance's token), run the provisioning ceremony, write a
# demo definition with two clients, seal it, sign the bundle, start
# appliance-server on 127.0.0.1, fetch the secrets with coffer-get (env format
# and exec mode) as one client, show that the second client sees only its own
# shard, and stop the server. With --serve the server stays in the
# foreground instead (Ctrl-C stops it).
#
# Re-running starts over: ./demo/ is made anew each time.
set -eu
cd "$(dirname "$0")"
top=$(pwd)

serve=0
for a in "$@"; do
	case "$a" in
	--serve) serve=1 ;;
	-h|--help) sed -n '4,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--serve]" >&2; exit 2 ;;
	esac
done

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing what is missing and building"
./scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
B=$top/build
PATH=$B/hsm:$B/provisioning:$B/appliance:$B/clients:$PATH

demo=$top/demo
# A server left running by an earlier --serve run is stopped first.
if [ -f "$demo/server.pid" ]; then
	kill "$(cat "$demo/server.pid")" 2>/dev/null || true
fi
rm -rf "$demo"
mkdir -p "$demo"
chmod 700 "$demo"
server_pid=
cleanup() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -f "$demo/server.pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "two throw-away SoftHSM2 tokens under demo/softhsm (master, appliance)"
eval "$(softhsm-conf/make-token.sh "$demo/softhsm" master)"
master_pin=$COFFER_PIN_FILE
eval "$(softhsm-conf/make-token.sh "$demo/softhsm" appliance)"
appliance_pin=$COFFER_PIN_FILE
export SOFTHSM2_CONF
M=$COFFER_PKCS11_MODULE
echo "SOFTHSM2_CONF=$SOFTHSM2_CONF"

say "ceremony: master key, appliance key, companion"
bundle=$demo/bundle
provision-master init --bundle "$bundle" --pkcs11-module "$M" --token "pkcs11:token=master" \
	--pin-source "file:$master_pin" --note "quick start" | tee "$demo/init.out"
anchor=$(grep -o 'sha256:[0-9a-f]\{64\}' "$demo/init.out" | head -1)
[ -n "$anchor" ] || { echo "no trust anchor printed" >&2; exit 1; }
provision-master server-key demo-appliance --bundle "$bundle" --pkcs11-module "$M" \
	--token "pkcs11:token=appliance" --pin-source "file:$appliance_pin"
coffer-seal keygen --out "$demo/companion.pem" --public-out "$demo/companion_public.pem" >/dev/null
provision-master add-key --companion companion "$demo/companion_public.pem" --bundle "$bundle"

say "two client hosts make their keys (identities go into the definition)"
web_id=$(coffer-get keygen --out "$demo/web.pem")
worker_id=$(coffer-get keygen --out "$demo/worker.pem")
echo "web    $web_id"
echo "worker $worker_id"

cat > "$demo/definition.toml" <<EOT
# The demo definition: two clients, every value type.
[clients]
web = "$web_id"
worker = "$worker_id"

[web]
db_password = "s3cr3t with 'quotes', \$dollars and a newline\n"
db_port = 5432
cache_ratio = 0.75
tls = true
rotated = 2026-11-01T12:00:00Z
expires = 2027-01-31
maintenance_start = 2026-11-21T03:00:00
maintenance_time = 03:00:00
greeting = "grüß dich ☕"

[worker]
queue_token = "q-7f3a09c1"
max_jobs = 8
EOT

say "seal the definition to the appliance, then manifest and sign the bundle"
coffer-seal seal --companion "$demo/companion.pem" \
	--recipient "$bundle/keys/demo-appliance_public.pem" "$demo/definition.toml" \
	-o "$bundle/coffer.sealed"
provision-master manifest --bundle "$bundle"
provision-master sign --bundle "$bundle" --pkcs11-module "$M" --token "pkcs11:token=master" \
	--pin-source "file:$master_pin"
provision-master verify --bundle "$bundle" --trust-anchor "$anchor"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
set -- --pkcs11-module "$M" --key "pkcs11:token=appliance;object=demo-appliance" \
	--pin-source "file:$appliance_pin" --bundle "$bundle" --trust-anchor "$anchor" \
	--listen "127.0.0.1:$port" --state-file "$demo/appliance.state" \
	--audit-log "$demo/audit.log"

if [ "$serve" = 1 ]; then
	say "serving on 127.0.0.1:$port (Ctrl-C stops it); in another shell:"
	echo "  $B/clients/coffer-get --server 127.0.0.1:$port \\"
	echo "      --server-key $bundle/keys/demo-appliance_public.pem --key $demo/web.pem"
	trap - EXIT
	echo $$ > "$demo/server.pid"
	exec appliance-server "$@"
fi

say "start appliance-server on 127.0.0.1:$port"
appliance-server "$@" 2>"$demo/server.log" &
server_pid=$!
echo "$server_pid" > "$demo/server.pid"
python3 - "$port" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close(); sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit("the server did not start; see demo/server.log")
PY

get() { # get CLIENT ARGS...
	c=$1
	shift
	coffer-get --server "127.0.0.1:$port" --server-key "$bundle/keys/demo-appliance_public.pem" \
		--key "$demo/$c.pem" "$@"
}

say "coffer-get as web (env format)"
get web --format env

say "coffer-get as web in exec mode: the secrets exist only in the child's environment"
get web --only db_port,tls -- sh -c 'echo "child sees db_port=$db_port tls=$tls"'

say "coffer-get as worker: only its own shard"
get worker --format json
echo

say "stop the server"
kill "$server_pid"
wait "$server_pid" || true
server_pid=
echo "audit records written: $(wc -l < "$demo/audit.log") (demo/audit.log; values are never logged)"
echo "done. ./quickstart.sh --serve keeps the server running."
