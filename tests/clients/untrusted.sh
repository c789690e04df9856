#!/bin/sh
# SPDX-License-Identifier: ISC
# A compromised or lying appliance: it cannot choose how the host's programs
# load or run (LD_PRELOAD, PATH, ...), nor slip in a secret --only did not
# ask for; and a Hello refused as replayed is retried once, fresh.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/clients/lib.sh"

start_fake EVIL evil
start_fake LIAR liar
start_fake REPLAY replay
K="--server-key $TMP/server_pub.pem --key $TMP/client.pem"

# env, dotenv and exec mode refuse the shard: nothing printed, nothing run.
for f in env dotenv; do
	expect_exit 1 coffer-get $K --server "$EVIL" --format "$f"
	says "LD_PRELOAD"
	says "--allow-env"
	[ ! -s "$TMP/out" ] || fail "$f printed something: $(cat "$TMP/out")"
done
expect_exit 1 coffer-get $K --server "$EVIL" -- sh -c 'touch "$1"' sh "$TMP/ran"
[ ! -e "$TMP/ran" ] || fail "exec mode ran the command with LD_PRELOAD from the server"
says "nothing was run"
must_not_leak
# json is never evaluated: it carries every name.
coffer-get $K --server "$EVIL" --format json > "$TMP/json"
grep -q '"LD_PRELOAD"' "$TMP/json" || fail "json lost a name"
# A prefix makes every name harmless; --allow-env lets named ones through.
coffer-get $K --server "$EVIL" --env-prefix APP_ > "$TMP/env"
grep -q "^export APP_LD_PRELOAD=" "$TMP/env" || fail "prefixed output: $(cat "$TMP/env")"
expect_exit 1 coffer-get $K --server "$EVIL" --allow-env PATH
says "LD_PRELOAD"
coffer-get $K --server "$EVIL" --allow-env PATH --allow-env LD_PRELOAD > "$TMP/env"
grep -q "^export PATH='/tmp/coffer-evil'" "$TMP/env" || fail "--allow-env PATH: $(cat "$TMP/env")"
expect_exit 2 coffer-get $K --server "$EVIL" --allow-env 'BAD NAME'

# --only: a server answering a name not asked for is a protocol error (exit
# 8); nothing is printed and the command is not run.
expect_exit 8 coffer-get $K --server "$LIAR" --only PORT
says "not asked for"
[ ! -s "$TMP/out" ] || fail "--only printed what the liar sent: $(cat "$TMP/out")"
expect_exit 8 coffer-get $K --server "$LIAR" --only PORT -- sh -c 'touch "$1"' sh "$TMP/ran"
[ ! -e "$TMP/ran" ] || fail "--only ran the command with a secret not asked for"
must_not_leak
# ... fail-over goes on to an honest replica.
start_fake GOOD
coffer-get $K --server "$LIAR" --server "$GOOD" --only PORT > "$TMP/env"
[ "$(cat "$TMP/env")" = "export PORT='5432'" ] || fail "fail-over after a liar: $(cat "$TMP/env")"

# "replayed Hello" (another fetch of this key got in first): one fresh Hello.
coffer-get $K --server "$REPLAY" --only PORT > "$TMP/env"
[ "$(cat "$TMP/env")" = "export PORT='5432'" ] || fail "no retry after a replayed Hello"
echo ok
