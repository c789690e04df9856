#!/bin/sh
# SPDX-License-Identifier: ISC
# pkcs11.sh TEST_EXE: run a PKCS#11 test program against a fresh SoftHSM2 token.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
make_token appliance
TEST_TMP=$TMP
export TEST_TMP
"$1"
