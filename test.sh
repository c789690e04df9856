#!/bin/sh
# SPDX-License-Identifier: ISC
#
# ./test.sh: install what is missing, build twice (gcc with -Werror; clang
# with ASan+UBSan and the libFuzzer targets), run every test in both builds,
# and end with "N passed, N failed[, N skipped]" counted from meson's
# testlog.json files. Exit status is non-zero if any test failed.
#
# Environment: FUZZ_SECONDS (default 10) per fuzz target; SKIP_ASAN=1 runs
# only the normal build (for quick local iterations, never in CI).
set -eu
cd "$(dirname "$0")"

./scripts/install-deps.sh --test

fuzz_seconds=${FUZZ_SECONDS:-10}
jobs=$(nproc 2>/dev/null || echo 2)
status=0
build_failures=0

setup() {
	dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		# --reconfigure also takes options the tree added since the last setup.
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

# 1. The normal build: gcc, warnings are errors.
setup build -Dwerror=true -Dbuildtype=debugoptimized -Dtest_hooks=true
ninja -C build || { build_failures=$((build_failures + 1)); status=1; }
rm -f build/meson-logs/testlog.json
meson test -C build --num-processes "$jobs" --print-errorlogs || status=1

# 2. ASan + UBSan, clang, with the fuzz targets run for a short time.
if [ "${SKIP_ASAN:-}" != 1 ]; then
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
	export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
	export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
	CC=clang setup build-asan -Dwerror=true -Dbuildtype=debug -Db_sanitize=address,undefined -Dtest_hooks=true \
		-Db_lundef=false -Dfuzz=true -Dfuzz_seconds="$fuzz_seconds"
	ninja -C build-asan || { build_failures=$((build_failures + 1)); status=1; }
	rm -f build-asan/meson-logs/testlog.json
	meson test -C build-asan --num-processes "$jobs" --print-errorlogs \
		--timeout-multiplier 3 || status=1
fi

BUILD_FAILURES=$build_failures python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY' || status=1
import json, os, sys
passed = skipped = 0
# A build that failed counts as one failed test: its tests never ran.
failed = int(os.environ.get("BUILD_FAILURES", "0"))
for path in sys.argv[1:]:
    if not os.path.exists(path):
        continue
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif r == "SKIP":
                skipped += 1
            else:
                failed += 1
if passed + failed + skipped == 0:
    print("no test ran", file=sys.stderr)
    failed = 1
line = "%d passed, %d failed" % (passed, failed)
if skipped:
    line += ", %d skipped" % skipped
print(line)
sys.exit(1 if failed else 0)
PY
exit $status
