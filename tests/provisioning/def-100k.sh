#!/bin/sh
# SPDX-License-Identifier: ISC
# Parse a 100k-client definition (TOML, then YAML) and print the time taken
# (a measurement, not a timed assertion): def-100k.sh DEF_BENCH
set -eu
. "$COFFER_SRC/tests/helpers.sh"
bench=$1
gen="$COFFER_SRC/tests/provisioning/gen-definition.py"
n=100000
id=$(python3 "$gen" $n toml "$TMP/defs.toml")
"$bench" "$TMP/defs.toml" $n "$id" || fail "100k TOML definition"
id=$(python3 "$gen" $n yaml "$TMP/defs.yaml")
"$bench" "$TMP/defs.yaml" $n "$id" || fail "100k YAML definition"
