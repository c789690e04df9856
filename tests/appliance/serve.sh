#!/bin/sh
# SPDX-License-Identifier: ISC
# The whole chain with the real binary: a SoftHSM2 token, a definition sealed
# by coffer-seal, a bundle signed by plain OpenSSL. Two clients each get only
# their shard, an unknown one gets KeyNotFound, garbage does not disturb an
# honest client, SIGHUP with a good bundle serves the new secrets, with a bad
# or rolled-back one keeps the old, the audit has names but no values, and
# SIGTERM exits 0.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/appliance/lib.sh"

CLIENT=${APPL_CLIENT:-appl-client}
PORT=$(random_port)
appl_token appliance
# The token goes through the fault-injecting shim, so a token failure can be cued.
: "${COFFER_FAULT_P11:?}"
export COFFER_FAULT_MODULE="$COFFER_PKCS11_MODULE" COFFER_FAULT_CONTROL="$TMP/faults"
APPL_MODULE=$COFFER_FAULT_P11

keypair() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/$1.pem" 2>/dev/null
	chmod 600 "$TMP/$1.pem"
	openssl pkey -in "$TMP/$1.pem" -pubout -out "$TMP/$1_public.pem"
}
ident() {
	openssl pkey -in "$TMP/$1.pem" -pubout -outform DER | sha256sum | cut -d' ' -f1 |
		tr a-f A-F | sed 's/.\{4\}/&-/g; s/-$//'
}
for k in companion web db stranger; do keypair "$k"; done

define() { # define WEBPASS FILE
	cat >"$2" <<EOT
[clients]
web = "$(ident web)"
db = "$(ident db)"

[web]
db_password = "$1"
port = 5432
tls = true

[db]
root = "db-root"
EOT
	coffer-seal seal --companion "$TMP/companion.pem" --recipient "$SERVER_PUB" "$2" \
		-o "$2.sealed" >/dev/null || fail "coffer-seal"
}
define web-pass-1 "$TMP/def1.toml"
SEALED=$TMP/def1.toml.sealed appl_bundle "$TMP/bundle" 5
B=$TMP/bundle
mkdir -p "$B/companions"
cp "$TMP/companion_public.pem" "$B/companions/"
cp "$TMP/web_public.pem" "$B/keys/"
appl_resign "$B" 5

fetch() { # fetch WHO [NAME...] -> $TMP/got, exit status in $got_rc
	who=$1
	shift
	got_rc=0
	"$CLIENT" "${HOST:-127.0.0.1}" "$PORT" "$SERVER_PUB" "$TMP/$who.pem" "$@" >"$TMP/got" 2>&1 ||
		got_rc=$?
}

# --check passes and records nothing.
# shellcheck disable=SC2046
"$SRV" $(appl_args) --bundle "$B" --trust-anchor "$ANCHOR" --check >"$TMP/check" 2>/dev/null ||
	fail "--check refused a good bundle"
grep -q "ok: bundle serial 5, 2 clients" "$TMP/check" || fail "--check summary: $(cat "$TMP/check")"
[ ! -e "$TMP/state/serial" ] || fail "--check wrote the state file"

appl_start --bundle "$B" --trust-anchor "$ANCHOR" --audit-log "$TMP/audit.jsonl" --cache-ss \
	--workers 2 --listen "[::1]:$PORT"
[ "$(cat "$TMP/state/serial")" = 5 ] || fail "serial 5 not recorded"

fetch web
[ $got_rc = 0 ] || fail "web: $(cat "$TMP/got")"
grep -qx "db_password=web-pass-1" "$TMP/got" || fail "web: $(cat "$TMP/got")"
grep -qx "port=5432" "$TMP/got" && grep -qx "tls=true" "$TMP/got" || fail "web types"
grep -q "root" "$TMP/got" && fail "web sees db's shard"
fetch db
grep -qx "root=db-root" "$TMP/got" && [ "$(wc -l <"$TMP/got")" = 1 ] || fail "db: $(cat "$TMP/got")"
fetch stranger
[ $got_rc = 3 ] && grep -qx KEY_NOT_FOUND "$TMP/got" || fail "stranger: $got_rc $(cat "$TMP/got")"
fetch web port
[ "$(cat "$TMP/got")" = "port=5432" ] || fail "web by name: $(cat "$TMP/got")"
fetch web port nope
[ $got_rc = 4 ] && grep -q "secret not found" "$TMP/got" || fail "missing name: $(cat "$TMP/got")"

# IPv6 listener.
HOST=::1 fetch db
grep -qx "root=db-root" "$TMP/got" || fail "db over IPv6: $(cat "$TMP/got")"

# A token failure during a handshake: a plain Error, the reason in the log,
# and the server serves again once the token is back.
echo "C_DeriveKey CKR_DEVICE_ERROR" >"$TMP/faults"
fetch web
[ $got_rc = 4 ] && grep -q "server error" "$TMP/got" || fail "token fault: $got_rc $(cat "$TMP/got")"
grep -q "token DH.*CKR_DEVICE_ERROR" "$TMP/server.log" || fail "token fault not logged"
rm "$TMP/faults"
fetch web db_password
[ "$(cat "$TMP/got")" = "db_password=web-pass-1" ] || fail "after token fault: $(cat "$TMP/got")"

# Garbage, oversized and truncated frames on other connections while an
# honest client is served.
python3 - "$PORT" <<'PY' &
import os, socket, sys, time
port = int(sys.argv[1])
socks = []
for payload in (os.urandom(5000), b"\xff\xff\x00", b"\x00\xae\x00" + os.urandom(40),
                b"\x00\x05\x02hello", b"\x00\xae\x00" + b"\x00" * 174):
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", port))
        try:
            s.sendall(payload)
        except OSError:
            pass
        socks.append(s)
time.sleep(0.5)
for s in socks:
    s.close()
PY
garbage=$!
for _ in 1 2 3 4 5; do
	fetch web db_password
	[ "$(cat "$TMP/got")" = "db_password=web-pass-1" ] || fail "honest client disturbed: $(cat "$TMP/got")"
done
wait $garbage || fail "garbage sender failed"

# SIGHUP with a good new bundle: new secrets for new connections.
define web-pass-2 "$TMP/def2.toml"
cp "$TMP/def2.toml.sealed" "$B/coffer.sealed"
appl_resign "$B" 6
kill -HUP "$SRV_PID"
for _ in $(seq 50); do
	fetch web db_password
	[ "$(cat "$TMP/got")" = "db_password=web-pass-2" ] && break
	sleep 0.1
done
[ "$(cat "$TMP/got")" = "db_password=web-pass-2" ] || fail "reload not served: $(cat "$TMP/got")"
[ "$(cat "$TMP/state/serial")" = 6 ] || fail "serial 6 not recorded"

# SIGHUP with a tampered bundle: the old state keeps serving.
echo tampered >>"$B/keys/web_public.pem"
kill -HUP "$SRV_PID"
for _ in $(seq 50); do grep -q "reload failed" "$TMP/server.log" && break; sleep 0.1; done
grep -q "reload failed.*check 'hash' failed for keys/web_public.pem" "$TMP/server.log" ||
	fail "tampered reload not refused with its reason"
fetch web db_password
[ "$(cat "$TMP/got")" = "db_password=web-pass-2" ] || fail "old state lost: $(cat "$TMP/got")"

# SIGHUP with a rolled-back bundle (older serial, old secrets): refused.
cp "$TMP/web_public.pem" "$B/keys/web_public.pem"
cp "$TMP/def1.toml.sealed" "$B/coffer.sealed"
appl_resign "$B" 4
kill -HUP "$SRV_PID"
for _ in $(seq 50); do grep -q "check 'serial' failed" "$TMP/server.log" && break; sleep 0.1; done
grep -q "reload failed.*check 'serial' failed" "$TMP/server.log" || fail "rollback not refused"
fetch web db_password
[ "$(cat "$TMP/got")" = "db_password=web-pass-2" ] || fail "rollback served: $(cat "$TMP/got")"

# The audit trail: handshakes and releases with names, never values.
grep -q '"event":"release".*"name":"web".*"result":"ok","keys":3,"requested":"all"' "$TMP/audit.jsonl" ||
	fail "no release record for web"
grep -q '"result":"key-not-found"' "$TMP/audit.jsonl" || fail "no key-not-found record"
grep -q 'web-pass\|db-root' "$TMP/audit.jsonl" "$TMP/server.log" && fail "a value reached a log"

kill -TERM "$SRV_PID"
st=0
wait "$SRV_PID" || st=$?
[ "$st" = 0 ] || fail "SIGTERM exit status $st"
grep -q "stopped:" "$TMP/server.log" || fail "no clean stop"
echo "serve: ok"
