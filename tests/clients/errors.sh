#!/bin/sh
# SPDX-License-Identifier: ISC
# Wrong pinned key, unknown client, key file permissions, --out on failure,
# missing secrets, keygen and id.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/clients/lib.sh"

start_fake A
# A server that knows another client only.
coffer-get keygen --out "$TMP/stranger.pem" > "$TMP/stranger.id"
start_fake STRANGER ok "$TMP/server.pem" "$(cat "$TMP/stranger.id")"

# Wrong pinned server key: exit 3, a clear message.
expect_exit 3 coffer-get --server "$A" --server-key "$TMP/other_pub.pem" --key "$TMP/client.pem"
grep -qi 'authentication' "$TMP/err" || fail "no authentication message: $(cat "$TMP/err")"
# ... per-server pinned keys: the wrong one fails over to the right one.
start_fake B
coffer-get --server "$A" --server-key "$TMP/other_pub.pem" --server "$B" \
	--server-key "$TMP/server_pub.pem" --key "$TMP/client.pem" > "$TMP/env"
cmp "$TMP/env" "$EXP/env" || fail "output after auth fail-over differs"

# Unknown client: exit 4, and no fail-over to the next server.
expect_exit 4 coffer-get --server "$STRANGER" --server "$A" --server-key "$TMP/server_pub.pem" \
	--key "$TMP/client.pem"
grep -qi 'unknown client' "$TMP/err" || fail "no unknown-client message: $(cat "$TMP/err")"

# A group/world-readable client key is refused before any connection.
cp "$TMP/client.pem" "$TMP/loose.pem"
chmod 644 "$TMP/loose.pem"
expect_exit 1 coffer-get --server "$A" --server-key "$TMP/server_pub.pem" --key "$TMP/loose.pem"
grep -qi 'permission\|readable' "$TMP/err" || fail "no permission message: $(cat "$TMP/err")"
expect_exit 1 coffer-get --server "$A" --server-key "$TMP/server_pub.pem" --key "$TMP/missing.pem"

# --out keeps the old file when the fetch fails.
printf 'OLD CONTENT\n' > "$TMP/keep.env"
expect_exit 2 coffer-get --server "$(dead_addr)" --server-key "$TMP/server_pub.pem" \
	--key "$TMP/client.pem" --out "$TMP/keep.env"
[ "$(cat "$TMP/keep.env")" = "OLD CONTENT" ] || fail "--out file changed on failure"
expect_exit 3 coffer-get --server "$A" --server-key "$TMP/other_pub.pem" \
	--key "$TMP/client.pem" --out "$TMP/keep.env"
[ "$(cat "$TMP/keep.env")" = "OLD CONTENT" ] || fail "--out file changed on failure"
# ... and when the output cannot be written (directory missing): exit 7.
expect_exit 7 coffer-get --server "$A" --server-key "$TMP/server_pub.pem" \
	--key "$TMP/client.pem" --out "$TMP/no/such/dir/x"

# A secret not in the shard.
expect_exit 8 coffer-get --server "$A" --server-key "$TMP/server_pub.pem" --key "$TMP/client.pem" \
	--get NOPE
grep -q "NOPE" "$TMP/err" || fail "missing secret not named"

# keygen refuses to overwrite; id agrees with keygen, from the key and its public half.
expect_exit 1 coffer-get keygen --out "$TMP/client.pem"
[ "$(stat -c %a "$TMP/client.pem")" = 600 ] || fail "keygen mode"
[ "$(coffer-get id --key "$TMP/client.pem")" = "$CLIENT_ID" ] || fail "id --key"
openssl pkey -in "$TMP/client.pem" -pubout -out "$TMP/client_pub.pem"
[ "$(coffer-get id --public "$TMP/client_pub.pem")" = "$CLIENT_ID" ] || fail "id --public"
echo "$CLIENT_ID" | grep -Eq '^([0-9A-F]{4}-){15}[0-9A-F]{4}$' || fail "identity form: $CLIENT_ID"
must_not_leak
echo ok
