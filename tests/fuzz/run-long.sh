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
# Each fuzz test's arguments name its executable and seed corpus.
meson introspect build-fuzz --tests | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["name"].startswith("fuzz/"):
        print(t["name"][len("fuzz/"):], t["cmd"][1], t["cmd"][2])
' > build-fuzz/fuzz-targets.txt
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
status=0
ran=0
while read -r name exe seeds; do
	if [ $# -gt 0 ]; then
		case " $* " in *" $name "*) ;; *) continue ;; esac
	fi
	mkdir -p "build-fuzz/corpus/$name" "build-fuzz/fuzz-crashes/$name"
	echo "== $name for ${secs}s" >&2
	"$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="build-fuzz/fuzz-crashes/$name/" "build-fuzz/corpus/$name" "$seeds" \
		</dev/null || status=1
	ran=$((ran + 1))
done < build-fuzz/fuzz-targets.txt
[ "$ran" -gt 0 ] || { echo "no such fuzz target: $*" >&2; exit 2; }
exit $status
