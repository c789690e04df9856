#!/bin/sh
# SPDX-License-Identifier: ISC
#
# tests/fuzz/run-long.sh [SECONDS] [TARGET...]: fuzz for a long time, by hand.
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ and runs
# each target (all of them by default) for SECONDS (default 600), one after
# the other, keeping the grown corpus in build-fuzz/corpus/<target>/ between
# runs and crash inputs in build-fuzz/fuzz-crashes/. A crash input belongs in
# the target's seed corpus once fixed, so it stays a regression test.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-600}
[ $# -gt 0 ] && shift

if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
fi
ninja -C build-fuzz
targets=$*
if [ -z "$targets" ]; then
	targets=$(meson test -C build-fuzz --suite fuzz --list 2>/dev/null |
		sed -n 's|.*fuzz/||p')
fi
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
for t in $targets; do
	exe=$(find build-fuzz/tests -name "fuzz-$t" -type f | head -1)
	seeds=$(find tests -type d -path "*/corpus/$t" | head -1)
	[ -n "$exe" ] && [ -n "$seeds" ] || { echo "no target or corpus for $t" >&2; status=1; continue; }
	mkdir -p "build-fuzz/corpus/$t" "build-fuzz/fuzz-crashes/$t"
	echo "== $t for ${secs}s" >&2
	"$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="build-fuzz/fuzz-crashes/$t/" "build-fuzz/corpus/$t" "$seeds" ||
		status=1
done
exit $status
