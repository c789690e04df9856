#!/bin/sh
# SPDX-License-Identifier: ISC
# The C API (shared library, installed header only) against fake-appliance,
# and an IPv6 server address.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/clients/lib.sh"

start_fake A
"$COFFER_BUILD/tests/clients/test-libcoffer" "$A" "$TMP/server_pub.pem" "$TMP/client.pem"

# Only the public API is exported by libcoffer.so.
nm -D --defined-only "$COFFER_BUILD/clients/libcoffer.so" | awk '{print $3}' |
	grep -v '^coffer_' | grep -v '^$' > "$TMP/extra" || true
[ ! -s "$TMP/extra" ] || fail "libcoffer.so exports more than coffer_*: $(head -5 "$TMP/extra")"

# IPv6: [::1]:port.
FAKE_LISTEN=::1 start_fake V6
port=${V6##*:}
coffer-get --server "[::1]:$port" --server-key "$TMP/server_pub.pem" --key "$TMP/client.pem" \
	--format json > "$TMP/json"
cmp "$TMP/json" "$EXP/json" || fail "json over IPv6 differs"
echo ok
