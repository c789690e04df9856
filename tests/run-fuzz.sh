#!/bin/sh
# SPDX-License-Identifier: ISC
# run-fuzz.sh EXE SEED_DIR SECONDS: run a libFuzzer target for SECONDS over its
# seed corpus (with its dictionary, FUZZ_DICT, if it has one); new inputs go
# to a throw-away directory, never into the tree. Crash inputs are kept in
# $COFFER_BUILD/fuzz-crashes/ for reproduction.
set -eu
exe=$1 seeds=$2 secs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
crashes=${COFFER_BUILD:-.}/fuzz-crashes/$(basename "$exe")
mkdir -p "$crashes"
set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$crashes/"
[ -n "${FUZZ_DICT:-}" ] && set -- "$@" -dict="$FUZZ_DICT"
"$exe" "$@" "$work" "$seeds"
