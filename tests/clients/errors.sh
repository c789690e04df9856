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

# Wrong pinned server key: exit 5, a clear message.
expect_exit 5 coffer-get --server "$A" --server-key "$TMP/other_pub.pem" --key "$TMP/client.pem"
grep -qi 'authentication' "$TMP/err" || fail "no authentication message: $(cat "$TMP/err")"
# ... per-server pinned keys: the wrong one fails over to the right one.
start_fake B
coffer-get --server "$A" --server-key "$TMP/other_pub.pem" --server "$B" \
	--server-key "$TMP/server_pub.pem" --key "$TMP/client.pem" > "$TMP/env"
cmp "$TMP/env" "$EXP/env" || fail "output after auth fail-over differs"

# Unknown client: exit 6, no fail-over to the next server, and the client's
# own identity in the message, ready to register.
expect_exit 6 coffer-get --server "$STRANGER" --server "$A" --server-key "$TMP/server_pub.pem" \
	--key "$TMP/client.pem"
grep -qi 'unknown client' "$TMP/err" || fail "no unknown-client message: $(cat "$TMP/err")"
grep -qF "$CLIENT_ID" "$TMP/err" || fail "unknown client not told its identity: $(cat "$TMP/err")"

# A group/world-readable client key is refused before any connection.
cp "$TMP/client.pem" "$TMP/loose.pem"
chmod 644 "$TMP/loose.pem"
expect_exit 2 coffer-get --server "$A" --server-key "$TMP/server_pub.pem" --key "$TMP/loose.pem"
grep -qi 'permission\|readable' "$TMP/err" || fail "no permission message: $(cat "$TMP/err")"
expect_exit 2 coffer-get --server "$A" --server-key "$TMP/server_pub.pem" --key "$TMP/missing.pem"

# --out keeps the old file when the fetch fails.
printf 'OLD CONTENT\n' > "$TMP/keep.env"
expect_exit 4 coffer-get --server "$(dead_addr)" --server-key "$TMP/server_pub.pem" \
	--key "$TMP/client.pem" --out "$TMP/keep.env"
[ "$(cat "$TMP/keep.env")" = "OLD CONTENT" ] || fail "--out file changed on failure"
expect_exit 5 coffer-get --server "$A" --server-key "$TMP/other_pub.pem" \
	--key "$TMP/client.pem" --out "$TMP/keep.env"
[ "$(cat "$TMP/keep.env")" = "OLD CONTENT" ] || fail "--out file changed on failure"
# --out refuses, before any fetch, a target that is not a regular file and a
# directory that is missing: exit 1 even with no server up (a fetch first
# would be exit 4), and the node is left as it was.
DEAD=$(dead_addr)
expect_exit 1 coffer-get --server "$DEAD" --server-key "$TMP/server_pub.pem" \
	--key "$TMP/client.pem" --out "$TMP/no/such/dir/x"
says "no directory"
expect_exit 1 coffer-get --server "$DEAD" --server-key "$TMP/server_pub.pem" \
	--key "$TMP/client.pem" --out /dev/null
says "character device"
[ -c /dev/null ] || fail "/dev/null replaced"
mkfifo "$TMP/fifo"
mkdir "$TMP/adir"
ln -s "$TMP/keep.env" "$TMP/link.env"
ln -s "$TMP/nowhere" "$TMP/dangling.env"
mknod "$TMP/null" c 1 3 2>/dev/null || true
for t in fifo adir link.env dangling.env null; do
	[ -e "$TMP/$t" ] || [ -L "$TMP/$t" ] || continue
	# A server that answers: the old code fetched, then renamed over the node.
	expect_exit 1 coffer-get --server "$A" --server-key "$TMP/server_pub.pem" \
		--key "$TMP/client.pem" --out "$TMP/$t"
	says "not a regular file"
	[ ! -f "$TMP/$t" ] || [ -L "$TMP/$t" ] || fail "--out replaced $t with a regular file"
done
[ -L "$TMP/link.env" ] && [ "$(cat "$TMP/keep.env")" = "OLD CONTENT" ] || fail "--out replaced the link"
[ -p "$TMP/fifo" ] && [ -d "$TMP/adir" ] || fail "--out replaced a node"
# keygen too: checked before a key is made.
expect_exit 1 coffer-get keygen --out "$TMP/no/such/dir/k.pem"
expect_exit 1 coffer-get keygen --out "$TMP/fifo"

# A secret not in the shard.
expect_exit 9 coffer-get --server "$A" --server-key "$TMP/server_pub.pem" --key "$TMP/client.pem" \
	--get NOPE
grep -q "NOPE" "$TMP/err" || fail "missing secret not named"

# keygen refuses to overwrite; id agrees with keygen, from the key and its public half.
expect_exit 1 coffer-get keygen --out "$TMP/client.pem"
[ "$(stat -c %a "$TMP/client.pem")" = 600 ] || fail "keygen mode"
[ "$(coffer-get id --key "$TMP/client.pem")" = "$CLIENT_ID" ] || fail "id --key"
openssl pkey -in "$TMP/client.pem" -pubout -out "$TMP/client_pub.pem"
[ "$(coffer-get id --public "$TMP/client_pub.pem")" = "$CLIENT_ID" ] || fail "id --public"
echo "$CLIENT_ID" | grep -Eq '^([0-9A-F]{4}-){15}[0-9A-F]{4}$' || fail "identity form: $CLIENT_ID"
# keygen shows both notations (stderr), the grouped one alone on stdout for scripts.
coffer-get keygen --out "$TMP/k2.pem" >"$TMP/k2.id" 2>"$TMP/k2.err"
[ "$(wc -l <"$TMP/k2.id")" = 1 ] || fail "keygen stdout: $(cat "$TMP/k2.id")"
grep -qF "sha256:$(tr -d '-' <"$TMP/k2.id" | tr A-F a-f)" "$TMP/k2.err" ||
	fail "keygen does not show the sha256: notation: $(cat "$TMP/k2.err")"
must_not_leak
echo ok
