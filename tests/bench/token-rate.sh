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

# tpm2-pkcs11 on the same swtpm: signing only (no CKM_ECDH1_DERIVE in 1.9).
module=/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so
if [ -r "$module" ] && command -v tpm2_ptool >/dev/null; then
	mkdir -p "$TMP/store" "$TMP/bin"
	export TPM2TOOLS_TCTI="$SWTPM_TCTI" TPM2_PKCS11_TCTI="$SWTPM_TCTI"
	export TPM2_PKCS11_STORE="$TMP/store" TPM2_PKCS11_LOG_LEVEL=0
	for t in /usr/bin/tpm2_*; do
		n=$(basename "$t")
		case $n in tpm2_flushcontext | tpm2_ptool | tpm2) continue ;; esac
		printf '#!/bin/sh\n"%s" "$@"; rc=$?\n/usr/bin/tpm2_flushcontext -t >/dev/null 2>&1 || true\nexit $rc\n' \
			"$t" > "$TMP/bin/$n"
		chmod +x "$TMP/bin/$n"
	done
	tpm2_flushcontext -t >/dev/null 2>&1 || true
	printf 'bench1234' > "$TMP/tpm2.pin"
	chmod 600 "$TMP/tpm2.pin"
	PATH="$TMP/bin:$PATH" tpm2_ptool init >/dev/null
	PATH="$TMP/bin:$PATH" tpm2_ptool addtoken --pid=1 --label=master --sopin=so1234 \
		--userpin=bench1234 >/dev/null
	PATH="$TMP/bin:$PATH" tpm2_ptool addkey --algorithm=ecc256 --label=master \
		--key-label=signer --userpin=bench1234 >/dev/null
	"$rate" --pkcs11-module "$module" --token pkcs11:token=master \
		--pin-source "file:$TMP/tpm2.pin" --key signer --sign-only --seconds "$secs"
	echo
fi

"$rate" --soft --seconds "$secs"
