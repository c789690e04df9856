# SPDX-License-Identifier: ISC
# Helpers for the appliance integration scripts (after tests/helpers.sh).
#
#   appl_token LABEL      SoftHSM2 token with a P-256 key "server" (derive);
#                         sets SERVER_PUB (PEM path) and the make_token vars
#   appl_bundle DIR N     a bundle signed with a fresh OpenSSL master key:
#                         keys/appliance_public.pem, coffer.sealed (from
#                         $SEALED if set, else garbage), manifest serial N;
#                         sets ANCHOR (sha256:...) and MASTER_KEY
#   appl_resign DIR N     rewrite and re-sign DIR's manifest with serial N
#   appl_start ARGS...    start appliance-server in the background on
#                         $PORT with the token; sets SRV_PID (tracked)
#   appl_refuse PATTERN ARGS...  the server must exit $APPL_EXIT (default 1:
#                                a check refused; 3: token or system) naming PATTERN, and
#                         nothing may listen on $PORT

SRV=${APPLIANCE_SERVER:-appliance-server}

appl_token() {
	make_token "$1"
	pkcs11-tool --module "$COFFER_PKCS11_MODULE" --token-label "$1" --login \
		--pin "$(cat "$COFFER_PIN_FILE")" --keypairgen --key-type EC:prime256v1 \
		--label server --id 01 --usage-derive >/dev/null 2>&1 ||
		fail "pkcs11-tool keygen failed"
	pkcs11-tool --module "$COFFER_PKCS11_MODULE" --token-label "$1" --read-object \
		--type pubkey --label server -o "$TMP/server.der" >/dev/null 2>&1 ||
		fail "pkcs11-tool read public key failed"
	openssl pkey -pubin -inform DER -in "$TMP/server.der" -out "$TMP/server_public.pem" ||
		fail "openssl pkey"
	SERVER_PUB=$TMP/server_public.pem
}

# manifest DIR N: write DIR/crypto_manifest.json (every file but the
# manifest and its signature) and sign it with $MASTER_KEY.
appl_resign() {
	python3 - "$1" "$2" <<'PY'
import hashlib, json, os, sys
d, serial = sys.argv[1], int(sys.argv[2])
files = {}
for root, dirs, names in os.walk(d):
    dirs[:] = [x for x in dirs if not (root == d and x == ".git")]
    for n in names:
        p = os.path.relpath(os.path.join(root, n), d)
        if p in ("crypto_manifest.json", "crypto_manifest.json.sig"):
            continue
        files[p] = hashlib.sha256(open(os.path.join(root, n), "rb").read()).hexdigest()
m = {"created": "2026-11-22T00:00:00Z", "files": dict(sorted(files.items())),
     "serial": serial, "version": 1}
open(os.path.join(d, "crypto_manifest.json"), "w").write(json.dumps(m, indent=2, sort_keys=True) + "\n")
PY
	openssl dgst -sha256 -sign "$MASTER_KEY" -out "$1/crypto_manifest.json.sig" \
		"$1/crypto_manifest.json" || fail "openssl sign"
}

appl_bundle() {
	mkdir -p "$1/keys"
	MASTER_KEY=$TMP/master.key
	[ -f "$MASTER_KEY" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$MASTER_KEY" 2>/dev/null
	openssl pkey -in "$MASTER_KEY" -pubout -out "$1/master_signing_public.pem"
	cp "$SERVER_PUB" "$1/keys/appliance_public.pem"
	if [ -n "${SEALED:-}" ]; then
		cp "$SEALED" "$1/coffer.sealed"
	else
		printf 'not a sealed file\n' >"$1/coffer.sealed"
	fi
	ANCHOR=sha256:$(openssl pkey -pubin -in "$1/master_signing_public.pem" -outform DER |
		sha256sum | cut -d' ' -f1)
	appl_resign "$1" "$2"
}

appl_args() {
	echo --pkcs11-module "${APPL_MODULE:-$COFFER_PKCS11_MODULE}" --key "pkcs11:token=$COFFER_TOKEN_LABEL;object=server" \
		--pin-source "file:$COFFER_PIN_FILE" --listen "127.0.0.1:$PORT" \
		--state-file "$TMP/state/serial"
}

appl_port_closed() {
	python3 -c 'import socket,sys
s=socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0 else 1)' "$PORT" ||
		fail "something listens on $PORT after a refused start"
}

appl_refuse() {
	pattern=$1
	shift
	st=0
	# shellcheck disable=SC2046
	"$SRV" $(appl_args) "$@" >"$TMP/out" 2>"$TMP/err" || st=$?
	[ "$st" = "${APPL_EXIT:-1}" ] || { cat "$TMP/err" >&2; fail "exit $st, expected ${APPL_EXIT:-1} for: $*"; }
	grep -q -- "$pattern" "$TMP/err" || { cat "$TMP/err" >&2; fail "no '$pattern' for: $*"; }
	appl_port_closed
}

appl_start() {
	# shellcheck disable=SC2046
	"$SRV" $(appl_args) "$@" 2>>"$TMP/server.log" &
	SRV_PID=$!
	track_pid "$SRV_PID"
	wait_for_port "$PORT" 15 || { cat "$TMP/server.log" >&2; fail "server did not start"; }
}
