#!/bin/sh
# SPDX-License-Identifier: ISC
#
# make-token.sh DIR [LABEL [PIN [SO_PIN]]]
#
# Make a throw-away SoftHSM2 token under DIR (its own softhsm2.conf and token
# store: never the system's /var/lib/softhsm), and print, as shell
# assignments to eval, what a test or the quick start needs:
#
#   SOFTHSM2_CONF=DIR/softhsm2.conf      (export it in every process)
#   COFFER_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
#   COFFER_TOKEN_LABEL=LABEL
#   COFFER_TOKEN_URI=pkcs11:token=LABEL
#   COFFER_PIN_FILE=DIR/LABEL.pin        (mode 0600; use --pin-source file:...)
#
# Calling it again with another LABEL adds a second token to the same store.
# The PIN defaults to a random one; it never appears in the output.
# LABEL is 1 to 32 of [A-Za-z0-9._-]. A label that is taken, or whose PIN
# file exists, is refused before anything is written: a PIN file is never
# overwritten (it would lose the PIN of the token it belongs to).
set -eu

usage() {
	echo "usage: $0 DIR [LABEL [PIN [SO_PIN]]]" >&2
	exit 2
}
[ $# -ge 1 ] && [ $# -le 4 ] || usage
dir=$1
label=${2:-coffer}
here=$(cd "$(dirname "$0")" && pwd)
case $label in
'' | *[!A-Za-z0-9._-]* | . | ..)
	echo "make-token.sh: the label must be 1 to 32 of [A-Za-z0-9._-]" >&2
	exit 2
	;;
esac
[ ${#label} -le 32 ] || {
	echo "make-token.sh: the label must be 1 to 32 of [A-Za-z0-9._-]" >&2
	exit 2
}

module=${COFFER_PKCS11_MODULE:-}
if [ -z "$module" ]; then
	for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
		/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so; do
		if [ -r "$m" ]; then module=$m; break; fi
	done
fi
if [ -z "$module" ] || [ ! -r "$module" ]; then
	echo "make-token.sh: libsofthsm2.so not found; install the softhsm2 package" >&2
	exit 1
fi
command -v softhsm2-util >/dev/null || {
	echo "make-token.sh: softhsm2-util not found; install the softhsm2 package" >&2
	exit 1
}

# Check the label before anything is written: a token of that label in this
# store, or its PIN file, means it is taken.
if [ -d "$dir" ]; then
	adir=$(cd "$dir" && pwd)
	if [ -e "$adir/$label.pin" ] || [ -L "$adir/$label.pin" ]; then
		echo "make-token.sh: $adir/$label.pin exists: the label '$label' is taken (its PIN file is never overwritten)" >&2
		exit 1
	fi
	if [ -f "$adir/softhsm2.conf" ] &&
		SOFTHSM2_CONF="$adir/softhsm2.conf" softhsm2-util --show-slots 2>/dev/null |
		sed -n 's/^[[:space:]]*Label:[[:space:]]*//p' | sed 's/[[:space:]]*$//' | grep -qxF -- "$label"; then
		echo "make-token.sh: a token labelled '$label' already exists in $adir" >&2
		exit 1
	fi
fi

umask 077
mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
conf=$dir/softhsm2.conf
if [ ! -f "$conf" ]; then
	sed "s|@TOKENDIR@|$dir/tokens|" "$here/softhsm2.conf.in" > "$conf"
fi
export SOFTHSM2_CONF="$conf"

pin=${3:-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')}
so_pin=${4:-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')}
pinfile=$dir/$label.pin
# noclobber: a PIN file that appeared meanwhile is not replaced either.
if ! (set -C && printf '%s' "$pin" > "$pinfile") 2>/dev/null; then
	echo "make-token.sh: $pinfile exists: not overwritten" >&2
	exit 1
fi
chmod 600 "$pinfile"
# The PINs go through argv of softhsm2-util here: acceptable for a throw-away
# test token only. Real tokens are initialised by their own tools.
if ! softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$pin" >/dev/null; then
	rm -f "$pinfile" # ours, written above: no token took this PIN
	echo "make-token.sh: softhsm2-util --init-token failed" >&2
	exit 1
fi

cat <<EOT
SOFTHSM2_CONF='$conf'
COFFER_PKCS11_MODULE='$module'
COFFER_TOKEN_LABEL='$label'
COFFER_TOKEN_URI='pkcs11:token=$label'
COFFER_PIN_FILE='$pinfile'
EOT
