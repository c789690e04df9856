#!/bin/sh
# SPDX-License-Identifier: ISC
# Start-up refusals at the bundle and unseal steps, with a real SoftHSM2
# token and bundles signed by plain OpenSSL: each stops the server with the
# check and file named, and nothing listens; no refused serial is recorded.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/appliance/lib.sh"

PORT=$(random_port)
appl_token appliance
appl_bundle "$TMP/bundle" 5
B=$TMP/bundle

# The bundle.
appl_refuse "bundle $TMP/nobundle" --bundle "$TMP/nobundle" --trust-anchor "$ANCHOR"
appl_refuse "check 'trust-anchor' failed" --bundle "$B" \
	--trust-anchor sha256:0000000000000000000000000000000000000000000000000000000000000000
cp -r "$B" "$TMP/b2"
echo extra >"$TMP/b2/keys/appliance_public.pem"
appl_refuse "check 'hash' failed for keys/appliance_public.pem" --bundle "$TMP/b2" --trust-anchor "$ANCHOR"
rm -rf "$TMP/b2" && cp -r "$B" "$TMP/b2" && echo x >"$TMP/b2/stray"
appl_refuse "check 'unlisted' failed for stray" --bundle "$TMP/b2" --trust-anchor "$ANCHOR"
rm -rf "$TMP/b2" && cp -r "$B" "$TMP/b2" && rm "$TMP/b2/coffer.sealed"
appl_refuse "check 'missing' failed for coffer.sealed" --bundle "$TMP/b2" --trust-anchor "$ANCHOR"
rm -rf "$TMP/b2" && cp -r "$B" "$TMP/b2" && printf ' ' >>"$TMP/b2/crypto_manifest.json"
appl_refuse "check 'signature' failed" --bundle "$TMP/b2" --trust-anchor "$ANCHOR"
rm -rf "$TMP/b2" && cp -r "$B" "$TMP/b2" && ln -s coffer.sealed "$TMP/b2/link"
appl_refuse "link" --bundle "$TMP/b2" --trust-anchor "$ANCHOR"
rm -rf "$TMP/b2" && cp -r "$B" "$TMP/b2" && mkdir "$TMP/b2/companions" &&
	cp "$SERVER_PUB" "$TMP/b2/companions/appliance_public.pem" && appl_resign "$TMP/b2" 6
# Only registered companions seal, and an appliance's key is never one.
appl_refuse "a companion is never an appliance's or a client's key" --bundle "$TMP/b2" \
	--trust-anchor "$ANCHOR"

# Rollback: a state file that has seen serial 7 refuses serial 5.
mkdir -p "$TMP/state"
echo 7 >"$TMP/state/serial"
appl_refuse "check 'serial' failed" --bundle "$B" --trust-anchor "$ANCHOR"
rm "$TMP/state/serial"

# A sealed file that is not one: refused at unsealing, and --check says so too.
appl_refuse "unseal $B/coffer.sealed" --bundle "$B" --trust-anchor "$ANCHOR"
appl_refuse "unseal" --bundle "$B" --trust-anchor "$ANCHOR" --check
[ ! -e "$TMP/state/serial" ] || fail "a refused bundle recorded its serial"
echo "startup-bundle: ok"
