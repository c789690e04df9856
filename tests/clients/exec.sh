#!/bin/sh
# SPDX-License-Identifier: ISC
# Exec mode: values in the child's environment only.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/clients/lib.sh"

start_fake A
set -- --server "$A" --server-key "$TMP/server_pub.pem" --key "$TMP/client.pem"

# The child sees every value, byte for byte; PATH search finds sh.
coffer-get "$@" -- sh -c 'printf %s "$TRICKY" > "$1"; printf "%s|%s|%s|%s|%s" "$PORT" "$RATIO" "$TLS" "$ROTATED" "$KEEP_ME" > "$2"' \
	sh "$TMP/child.tricky" "$TMP/child.rest"
cmp "$TMP/child.tricky" "$EXP/tricky.raw" || fail "child's TRICKY differs"
[ "$(cat "$TMP/child.rest")" = "5432|0.75|true|2026-11-01T12:00:00Z|" ] || fail "child values: $(cat "$TMP/child.rest")"

# Inherited variables pass through; a secret replaces one of the same name.
KEEP_ME=yes PORT=1 coffer-get "$@" -- sh -c 'printf "%s %s" "$KEEP_ME" "$PORT"' > "$TMP/o"
[ "$(cat "$TMP/o")" = "yes 5432" ] || fail "inherited/overridden variables: $(cat "$TMP/o")"

# The child's own /proc/self/environ holds them; ours (the parent's) does not.
coffer-get "$@" --only DB_PASSWORD -- sh -c 'tr "\0" "\n" < /proc/$$/environ' > "$TMP/child.environ"
grep -qx 'DB_PASSWORD=s3cr3t' "$TMP/child.environ" || fail "child environ lacks DB_PASSWORD"
! tr '\0' '\n' < /proc/$$/environ | grep -q s3cr3t || fail "value in the parent's environ"

# --only limits what the child gets; --env-prefix renames.
coffer-get "$@" --only PORT --env-prefix APP_ -- env > "$TMP/env"
grep -qx 'APP_PORT=5432' "$TMP/env" || fail "prefixed variable missing"
! grep -q '^DB_PASSWORD=' "$TMP/env" || fail "--only leaked other secrets"
! grep -q '^PORT=' "$TMP/env" || fail "unprefixed PORT present"

# The child's exit status is ours; a missing command is 127.
expect_exit 3 coffer-get "$@" -- sh -c 'exit 3'
expect_exit 127 coffer-get "$@" -- coffer-no-such-command
expect_exit 2 coffer-get "$@" --env-prefix 1X -- env
expect_exit 2 coffer-get "$@" --format json -- env
expect_exit 9 coffer-get "$@" --only NOPE -- env
must_not_leak
echo ok
