#!/bin/sh
# SPDX-License-Identifier: ISC
# appliance-server command line and config file, and start-up refusals that
# happen before the token is touched: each exits non-zero with the reason,
# and nothing listens.
set -eu
. "$COFFER_SRC/tests/helpers.sh"

srv=${APPLIANCE_SERVER:-appliance-server}
module=/usr/lib/softhsm/libsofthsm2.so
[ -r "$module" ] || module=$(ls /usr/lib/*/softhsm/libsofthsm2.so 2>/dev/null | head -n1)
[ -r "$module" ] || fail "libsofthsm2.so not found (./test.sh installs softhsm2)"
anchor=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
port=$(random_port)

# expect_refusal CODE PATTERN -- ARGS: exit status CODE and PATTERN on stderr.
expect_refusal() {
	code=$1 pattern=$2
	shift 3
	st=0
	"$srv" "$@" >"$TMP/out" 2>"$TMP/err" || st=$?
	[ "$st" = "$code" ] || { cat "$TMP/err" >&2; fail "exit $st, expected $code for: $*"; }
	grep -q -- "$pattern" "$TMP/err" || { cat "$TMP/err" >&2; fail "no '$pattern' for: $*"; }
}

port_closed() {
	python3 -c 'import socket,sys
s=socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0 else 1)' "$port" ||
		fail "something listens on $port after a refused start"
}

# --help and --version
"$srv" --help >"$TMP/help"
for o in --pkcs11-module --token --key --pin-source --tpm2 --key-blob --bundle --trust-anchor --listen \
	--state-file --config --check --cache-ss --workers --max-connections --max-frame \
	--handshake-timeout --idle-timeout --max-handshakes --rate --burst --grace --audit-log \
	--audit-required --user --log-level --help --version; do
	grep -q -- "$o" "$TMP/help" || fail "--help does not mention $o"
done
"$srv" --version | grep -Eq '^appliance-server [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"

# Usage errors: exit 2 with the reason.
expect_refusal 2 "unknown option '--nope'" -- --nope
expect_refusal 2 "did you mean '--listen'" -- --lisen 127.0.0.1:1
expect_refusal 2 "no token" --
expect_refusal 2 "choose one backend" -- --pkcs11-module "$module" --key k --tpm2 device:/dev/null
expect_refusal 2 "trust-anchor: expected sha256:" -- --trust-anchor md5:00
expect_refusal 2 "listen address" -- --listen localhost:9187
expect_refusal 2 "\-\-listen is required" -- --pkcs11-module "$module" --key k --bundle "$TMP" \
	--trust-anchor "$anchor"
expect_refusal 2 "workers: must be" -- --workers 100000
expect_refusal 2 "\-\-pin-source is for PKCS#11" -- --tpm2 swtpm:port=1 --key-blob "$TMP/blob" \
	--pin-source "file:$TMP/pin" --bundle "$TMP" --trust-anchor "$anchor" --listen "127.0.0.1:$port"
expect_refusal 2 "\-\-token is for PKCS#11" -- --tpm2 swtpm:port=1 --key-blob "$TMP/blob" \
	--token t --bundle "$TMP" --trust-anchor "$anchor" --listen "127.0.0.1:$port"
expect_refusal 2 "token:LABEL needs the PKCS#11 backend" -- --tpm2 swtpm:port=1 \
	--key-blob "$TMP/blob" --bundle "$TMP" --trust-anchor token:master --listen "127.0.0.1:$port"
expect_refusal 2 "trust-anchor: token: needs a label" -- --trust-anchor token:

# The config file: unknown keys refused with line and column; flags win.
cat >"$TMP/bad.yaml" <<EOT
pkcs11-module: $module
key: pkcs11:token=t;object=server
  # comment
lisen: 127.0.0.1:$port
EOT
expect_refusal 2 "bad.yaml:4:1: unknown option lisen" -- --config "$TMP/bad.yaml"
printf 'workers: [1, 2]\n' >"$TMP/shape.yaml"
expect_refusal 2 "shape.yaml:1:10: a list is only allowed for listen" -- --config "$TMP/shape.yaml"
expect_refusal 2 "config file /nonexistent.yaml" -- --config /nonexistent.yaml

cat >"$TMP/good.yaml" <<EOT
pkcs11-module: $module
key: pkcs11:token=t;object=server
pin-source: file:$TMP/pin
bundle: $TMP/from-file-bundle
trust-anchor: $anchor
listen:
  - 127.0.0.1:$port
EOT
# Missing bundle: refused before the token is opened; the flag's path wins.
expect_refusal 1 "bundle $TMP/from-flag-bundle" -- --config "$TMP/good.yaml" \
	--bundle "$TMP/from-flag-bundle"
port_closed
expect_refusal 1 "bundle $TMP/from-file-bundle" -- --config "$TMP/good.yaml"
port_closed
: >"$TMP/not-a-dir"
expect_refusal 1 "not a directory" -- --config "$TMP/good.yaml" --bundle "$TMP/not-a-dir" --check
expect_refusal 3 "PKCS#11 module /nonexistent.so" -- --config "$TMP/good.yaml" --bundle "$TMP" \
	--pkcs11-module /nonexistent.so
port_closed
# The systemd unit: template filled, hardening present, and systemd accepts it
# (apart from the binary not being installed in this build tree).
unit=$COFFER_BUILD/appliance/appliance-server.service
[ -f "$unit" ] || fail "no generated unit"
grep '@' "$unit" | grep -v '@system-service' | grep -q . && fail "unsubstituted @var@ in the unit"
grep -Eq '^User=[a-z_][a-z0-9_-]*$' "$unit" && grep -Eq '^Group=[a-z_][a-z0-9_-]*$' "$unit" ||
	fail "User=/Group= not filled"
for d in Type=notify ProtectSystem=strict PrivateTmp=yes NoNewPrivileges=yes CapabilityBoundingSet= \
	MemoryDenyWriteExecute=yes LockPersonality=yes SystemCallFilter=@system-service \
	"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"; do
	grep -qx "$d" "$unit" || fail "unit lacks $d"
done
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$unit" 2>&1 | grep -v "is not executable" | grep . &&
		fail "systemd-analyze verify complains"
fi
echo "cli: ok"
