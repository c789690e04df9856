#!/bin/sh
# SPDX-License-Identifier: ISC
#
# install-deps.sh [--test|--coverage]: install the Debian 12 packages the
# build needs (and, with --test, what the test suite needs: clang +
# libFuzzer, swtpm, tpm2-tools, tpm2-pkcs11, python3, and for the systemd
# integration tests systemd (systemd-socket-activate, systemd-analyze),
# util-linux (setpriv), git and man-db; with --coverage, also llvm-profdata-14
# and llvm-cov-14 for tests/fuzz/run-long.sh --coverage, which clang does not
# pull in without its recommends). Only missing packages are installed;
# `apt-get update` runs first whenever something is missing.
# Shared by ./quickstart.sh and ./test.sh.
set -eu

build_pkgs="build-essential meson ninja-build pkg-config libssl-dev openssl libseccomp-dev
libp11-kit-dev p11-kit libtss2-dev libcbor-dev libyaml-dev
libjansson-dev libsystemd-dev softhsm2 python3"
test_pkgs="clang libclang-rt-14-dev swtpm swtpm-tools tpm2-tools libtpm2-pkcs11-1
libtpm2-pkcs11-tools python3-tpm2-pkcs11-tools python3-cryptography opensc procps
systemd util-linux git man-db"

pkgs=$build_pkgs
case "${1:-}" in
--test) pkgs="$pkgs $test_pkgs" ;;
--coverage) pkgs="$pkgs $test_pkgs llvm-14" ;;
esac

missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then
		SUDO=sudo
	else
		echo "install-deps.sh: not root and no sudo; please install:$missing" >&2
		exit 1
	fi
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
