#!/bin/sh
# SPDX-License-Identifier: ISC
# Every output format's exact bytes, --get, --only, --out, the config file.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/clients/lib.sh"

start_fake A
set -- --server "$A" --server-key "$TMP/server_pub.pem" --key "$TMP/client.pem"

coffer-get "$@" > "$TMP/env"
cmp "$TMP/env" "$EXP/env" || fail "env output differs"
coffer-get "$@" --format env > "$TMP/env2"
cmp "$TMP/env2" "$EXP/env" || fail "explicit --format env differs"
coffer-get "$@" --format dotenv > "$TMP/dotenv"
cmp "$TMP/dotenv" "$EXP/dotenv" || fail "dotenv output differs"
coffer-get "$@" --format json > "$TMP/json"
cmp "$TMP/json" "$EXP/json" || fail "json output differs"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["PORT"]==5432 and d["TLS"] is True and d["RATIO"]==0.75' "$TMP/json"

# eval of the env output gives every value back, byte for byte.
(
	eval "$(cat "$TMP/env")"
	printf '%s' "$TRICKY" > "$TMP/tricky.eval"
	[ "$EMPTY" = "" ] && [ "$PORT" = 5432 ] && [ "$THREE" = 3.0 ] || exit 1
) || fail "eval of env output"
cmp "$TMP/tricky.eval" "$EXP/tricky.raw" || fail "eval round trip differs"

# --get: exactly the bytes, no newline.
coffer-get "$@" --get TRICKY > "$TMP/raw"
cmp "$TMP/raw" "$EXP/tricky.raw" || fail "--get TRICKY differs"
coffer-get "$@" --get RATIO > "$TMP/raw"
cmp "$TMP/raw" "$EXP/ratio.raw" || fail "--get RATIO differs"
[ "$(coffer-get "$@" --get EMPTY | wc -c)" -eq 0 ] || fail "--get EMPTY not empty"

# --only: just those, in shard order.
coffer-get "$@" --only TLS,PORT > "$TMP/only"
printf "export PORT='5432'\nexport TLS='true'\n" | cmp - "$TMP/only" || fail "--only output"

# --env-prefix.
coffer-get "$@" --only PORT --env-prefix APP_ > "$TMP/pfx"
printf "export APP_PORT='5432'\n" | cmp - "$TMP/pfx" || fail "--env-prefix output"

# --out: atomic, mode 0600, replaces the old file.
echo old > "$TMP/secrets.json"
chmod 644 "$TMP/secrets.json"
coffer-get "$@" --format json --out "$TMP/secrets.json" > "$TMP/stdout"
[ ! -s "$TMP/stdout" ] || fail "--out also wrote to stdout"
cmp "$TMP/secrets.json" "$EXP/json" || fail "--out content"
[ "$(stat -c %a "$TMP/secrets.json")" = 600 ] || fail "--out mode is not 0600"
ls "$TMP" | grep -q '^secrets.json.' && fail "temporary file left behind"

# The same from a config file (flags then only override).
cat > "$TMP/client.yaml" <<EOT
# coffer-get test config
servers:
  - $A
server-key: $TMP/server_pub.pem
key: $TMP/client.pem
timeout: 5s
EOT
coffer-get --config "$TMP/client.yaml" --format dotenv > "$TMP/dotenv2"
cmp "$TMP/dotenv2" "$EXP/dotenv" || fail "dotenv via config differs"
expect_exit 2 coffer-get --config "$TMP/nonexistent.yaml"
printf 'servers: [%s]\nbogus: 1\n' "$A" > "$TMP/bad.yaml"
expect_exit 2 coffer-get --config "$TMP/bad.yaml"
grep -q "bad.yaml:2:8: unknown key 'bogus'" "$TMP/err" || fail "config error message: $(cat "$TMP/err")"

# Usage errors.
expect_exit 2 coffer-get "$@" --format yaml
expect_exit 2 coffer-get "$@" stray-argument
expect_exit 2 coffer-get "$@" --get PORT --format json
expect_exit 2 coffer-get "$@" --onyl PORT
says "unknown option '--onyl'; did you mean '--only'? (see 'coffer-get --help')"
expect_exit 2 coffer-get "$@" --only
says "option '--only' needs a value"
expect_exit 2 coffer-get --server-key "$TMP/server_pub.pem" --key "$TMP/client.pem" --server nohostport
coffer-get --help | grep -q 'usage: coffer-get' || fail "--help"
echo ok
