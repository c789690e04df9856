#!/bin/sh
# SPDX-License-Identifier: ISC
# token-rate.sh [SECONDS]: ECDH/s and ECDSA/s of a throw-away SoftHSM2 token,
# an swtpm (salted and password sessions) and OpenSSL in process, on 1 and 2
# threads, as markdown tables. Not a meson test: run it by hand after
# `ninja -C build` (COFFER_BUILD=path/to/build if it is elsewhere).
set -eu
COFFER_SRC=$(cd "$(dirname "$0")/../.." && pwd)
COFFER_BUILD=${COFFER_BUILD:-$COFFER_SRC/build}
export COFFER_SRC COFFER_BUILD
. "$COFFER_SRC/tests/helpers.sh"
secs=${1:-2}
hsm=$COFFER_BUILD/hsm/coffer-hsm
rate=$COFFER_BUILD/tests/bench/token-rate
[ -x "$hsm" ] && [ -x "$rate" ] || fail "build first: ninja -C $COFFER_BUILD"
export TSS2_LOG=all+none

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every number)"
echo "versions: softhsm2 $(dpkg-query -W -f '${Version}' softhsm2 2>/dev/null)," \
	"tpm2-tss $(pkg-config --modversion tss2-esys), swtpm $(dpkg-query -W -f '${Version}' swtpm 2>/dev/null)," \
	"OpenSSL $(openssl version | cut -d' ' -f2)"
echo

make_token bench
"$hsm" keygen --pkcs11-module "$COFFER_PKCS11_MODULE" --token "$COFFER_TOKEN_URI" \
	--pin-source "file:$COFFER_PIN_FILE" --label rate --out "$TMP/p11.pem" >/dev/null 2>&1
"$rate" --pkcs11-module "$COFFER_PKCS11_MODULE" --token "$COFFER_TOKEN_URI" \
	--pin-source "file:$COFFER_PIN_FILE" --key rate --seconds "$secs"
echo

start_swtpm
"$hsm" keygen --tpm2 "$SWTPM_TCTI" --key-blob "$TMP/tpm.blob" >/dev/null 2>&1
"$rate" --tpm2 "$SWTPM_TCTI" --key-blob "$TMP/tpm.blob" --seconds "$secs"
echo

"$rate" --soft --seconds "$secs"
