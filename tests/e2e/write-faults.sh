#!/bin/sh
# SPDX-License-Identifier: ISC
# Writes that fail half-way (file size limit: `ulimit -f` in a subshell, once
# with SIGXFSZ killing the writer, once with it ignored so write() fails with
# EFBIG) leave the previous file intact and no stray file in the bundle:
# coffer-seal seal over an existing coffer.sealed, provision-master manifest,
# coffer-get --out. The bundle still verifies and serves afterwards.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/e2e/flow.sh"

flow_softhsm
flow_ceremony
flow_client web
flow_client worker
flow_define "$TMP/def1.toml" one
flow_seal_sign "$TMP/def1.toml"

# A second definition larger than any limit below: 8 KiB in one value.
flow_define "$TMP/def2.toml" two
big=$(head -c 6000 /dev/zero | tr '\0' x)
printf 'padding = "%s"\n' "$big" >>"$TMP/def2.toml"

snapshot() {
	(cd "$B" && find . -type f | sort | xargs sha256sum) >"$TMP/snap.$1"
}
# same SNAP WHAT [MODE]: the bundle is as in SNAP. A writer killed by
# SIGXFSZ cannot clean up: its temp file (NAME.tmp.*) is noted and removed;
# one that saw EFBIG must have removed it itself.
same() {
	if [ "${3:-}" = kill ]; then
		for _f in "$B"/*.tmp.* "$B"/.*.tmp.*; do
			[ -e "$_f" ] || continue
			echo "note: $2 left ${_f#"$B"/} when killed" >&2
			rm -f "$_f"
		done
	fi
	snapshot after
	cmp -s "$TMP/snap.$1" "$TMP/snap.after" || {
		diff "$TMP/snap.$1" "$TMP/snap.after" >&2 || true
		fail "$2: the bundle changed"
	}
}

# limited MODE KIB CMD...: run CMD with the file size limit; MODE kill lets
# SIGXFSZ kill it, MODE efbig ignores the signal. Must fail; status in $LST,
# stderr (through a pipe: the limit applies to files) in $TMP/err.
limited() {
	_mode=$1 _kib=$2
	shift 2
	{
		_st=0
		(
			[ "$_mode" = efbig ] && trap '' XFSZ
			ulimit -f $((_kib * 2))
			exec "$@"
		) 2>&1 >/dev/null || _st=$?
		echo "$_st" >"$TMP/lst"
	} | cat >"$TMP/err"
	LST=$(cat "$TMP/lst")
	[ "$LST" != 0 ] || fail "$*: succeeded under a $_kib KiB file limit"
}

snapshot before
for mode in kill efbig; do
	limited "$mode" 2 coffer-seal seal --companion "$TMP/companion.pem" --recipient "$SERVER_PUB" \
		"$TMP/def2.toml" -o "$B/coffer.sealed"
	if [ "$mode" = efbig ]; then
		[ "$LST" -lt 128 ] || fail "seal with EFBIG: killed by a signal ($LST)"
		grep -q "coffer.sealed" "$TMP/err" || fail "seal with EFBIG: reason does not name the file: $(cat "$TMP/err")"
		grep -qi "too large\|EFBIG\|file size" "$TMP/err" ||
			fail "seal with EFBIG: reason does not say why: $(cat "$TMP/err")"
	fi
	same before "seal ($mode)" "$mode"
done
status 0 provision-master verify --bundle "$B" --trust-anchor "$ANCHOR"

# provision-master manifest: the old manifest and its signature stay.
for mode in kill efbig; do
	limited "$mode" 0 provision-master manifest --bundle "$B"
	if [ "$mode" = efbig ]; then
		[ "$LST" -lt 128 ] || fail "manifest with EFBIG: killed by a signal ($LST)"
		grep -q "crypto_manifest.json\|ceremony.log" "$TMP/err" ||
			fail "manifest with EFBIG: reason does not name the file: $(cat "$TMP/err")"
	fi
	same before "manifest ($mode)" "$mode"
done
status 0 provision-master log-verify --bundle "$B"
status 0 provision-master verify --bundle "$B" --trust-anchor "$ANCHOR"

# provision-master sign is not run under the limit: SoftHSM2 writes its own
# token files during C_Login/C_Sign, and a limit there destroys the master
# token (measured: the token vanished from the slot list afterwards).
status 0 coffer-seal seal --companion "$TMP/companion.pem" --recipient "$SERVER_PUB" \
	"$TMP/def2.toml" -o "$B/coffer.sealed"
status 0 provision-master manifest --bundle "$B"
# shellcheck disable=SC2086
status 0 provision-master sign --bundle "$B" $MASTER_ARGS
status 0 provision-master verify --bundle "$B" --trust-anchor "$ANCHOR"

# The bundle made after all those failures serves.
flow_start --workers 1
flow_get web --only db_port
[ "$GOT_RC" = 0 ] || fail "serve after the failed writes: exit $GOT_RC: $(cat "$TMP/got.err")"

# coffer-get --out: the old output file stays when the new one cannot be written.
flow_get web --out "$TMP/secrets.env"
[ "$GOT_RC" = 0 ] || fail "coffer-get --out: $(cat "$TMP/got.err")"
expect_web_file() {
	cp "$TMP/secrets.env" "$TMP/got"
	expect_web two
}
expect_web_file
cp "$TMP/secrets.env" "$TMP/secrets.before"
for mode in kill efbig; do
	limited "$mode" 0 coffer-get --server "127.0.0.1:$PORT" --server-key "$SERVER_PUB" \
		--key "$TMP/web.pem" --out "$TMP/secrets.env"
	cmp -s "$TMP/secrets.before" "$TMP/secrets.env" || fail "coffer-get --out ($mode) changed the old file"
	for f in "$TMP"/secrets.env?* "$TMP"/.secrets.env*; do
		[ -e "$f" ] || continue
		[ "$mode" = kill ] || fail "coffer-get left ${f#"$TMP"/} after EFBIG"
		echo "note: coffer-get --out left ${f#"$TMP"/} when killed" >&2
		rm -f "$f"
	done
	if [ "$mode" = efbig ]; then
		[ "$LST" = 3 ] || bug "coffer-get --out with EFBIG: exit $LST, expected 3 (system error): $(cat "$TMP/err")"
	fi
done
flow_stop
flow_end "write faults"
