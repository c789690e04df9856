#!/bin/sh
# SPDX-License-Identifier: ISC
#
# Long fuzzing runs, by hand (docs/testing.md).
#
# tests/fuzz/run-long.sh [SECONDS] [TARGET...]
#   Builds the libFuzzer targets in build-fuzz/ (clang, ASan+UBSan, every
#   file of the project instrumented) and fuzzes each target (all by
#   default) for SECONDS (default 600), one at a time (-jobs=1 -workers=1)
#   under `nice -n ${FUZZ_NICE:-19}` (unit timeout ${FUZZ_TIMEOUT:-120}
#   seconds of wall-clock time). The corpus grows in
#   build-fuzz/corpus/<target>/ from the committed seeds, and is kept between
#   runs; crash inputs go to build-fuzz/fuzz-crashes/<target>/. Ends with a
#   table of every target run so far: seconds and executions (summed over
#   runs), the last cov/ft, corpus files and crash inputs found.
# tests/fuzz/run-long.sh --table
#   Only print that table.
# tests/fuzz/run-long.sh --merge [TARGET...]
#   Adds to each target's seed corpus (in the tree) the inputs of
#   build-fuzz/corpus/<target>/ that reach coverage the seeds do not
#   (libFuzzer -merge=1), then caps the generated files at FUZZ_SEED_CAP
#   (default 250) per target, dropping the largest first. Seeds with a
#   name of their own (not a 40-digit hash) are never dropped.
# tests/fuzz/run-long.sh --coverage [TARGET...]
#   Line coverage over the seed corpora: builds build-cov/ (clang
#   -fprofile-instr-generate -fcoverage-mapping, the plain harness driver),
#   runs each harness over its seeds and prints, per target, the line
#   coverage of the files it is meant to cover (its meson entry's `covers`:
#   FILE, or FILE:F1+F2 for the lines of those functions only) with llvm-cov;
#   the uncovered lines of each are listed in build-cov/coverage/<target>.txt.
#   A file several targets name is also reported as they reach it together.
set -eu
cd "$(dirname "$0")/../.."

nice_level=${FUZZ_NICE:-19}
# libFuzzer's -timeout is wall-clock time: under nice 19 on a busy machine an
# input that takes milliseconds can wait seconds for a core.
timeout=${FUZZ_TIMEOUT:-120}
cap=${FUZZ_SEED_CAP:-250}
mode=fuzz
case "${1:-}" in
--table | --merge | --coverage)
	mode=${1#--}
	shift
	;;
esac
secs=600
if [ "$mode" = fuzz ] && [ $# -gt 0 ]; then
	secs=$1
	shift
fi

# targets BUILD PREFIX: "name exe seeds covers dict" per fuzz test of a build.
targets() {
	meson introspect "$1" --tests | python3 -c '
import json, sys
prefix = sys.argv[1]
for t in json.load(sys.stdin):
    if t["name"].startswith(prefix):
        env = t.get("env") or {}
        print(t["name"][len(prefix):], t["cmd"][0] if prefix == "corpus/" else t["cmd"][1],
              t["cmd"][1] if prefix == "corpus/" else t["cmd"][2],
              env.get("FUZZ_COVERS", "-") or "-", env.get("FUZZ_DICT", "-") or "-")
' "$2"
}

# wanted NAME: is NAME among the targets named on the command line (or none named)?
wanted() {
	[ -z "$want" ] && return 0
	case " $want " in *" $1 "*) return 0 ;; esac
	return 1
}
want="$*"

setup_fuzz() {
	./scripts/install-deps.sh --test
	if [ ! -f build-fuzz/build.ninja ]; then
		CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
			-Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
	fi
	nice -n "$nice_level" ninja -C build-fuzz >/dev/null
	targets build-fuzz fuzz/ >build-fuzz/fuzz-targets.txt
}

# artifacts DIR: how many crash, leak, timeout and out-of-memory inputs DIR holds.
artifacts() {
	find "$1" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o \
		-name 'oom-*' \) | wc -l
}

table() {
	[ -d build-fuzz/stats ] || { echo "no runs yet" >&2; return 0; }
	printf '| target | seconds | executions | exec/s | cov | ft | corpus files | crash inputs |\n'
	printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
	for f in build-fuzz/stats/*; do
		name=$(basename "$f")
		# shellcheck disable=SC1090
		. "$f"
		corpus=$(find "build-fuzz/corpus/$name" -type f 2>/dev/null | wc -l)
		printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$seconds" "$execs" \
			"$((execs / (seconds > 0 ? seconds : 1)))" "$cov" "$ft" "$corpus" "$crashes"
	done
}

fuzz() {
	setup_fuzz
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1"
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
	mkdir -p build-fuzz/stats build-fuzz/logs
	root=$(pwd)
	status=0
	ran=0
	while read -r name exe seeds covers dict; do
		wanted "$name" || continue
		mkdir -p "build-fuzz/corpus/$name" "build-fuzz/fuzz-crashes/$name"
		before=$(artifacts "build-fuzz/fuzz-crashes/$name")
		# With -jobs, libFuzzer runs the job in a child that logs to
		# ./fuzz-0.log: run it in the target's log directory.
		logdir=$root/build-fuzz/logs/$name
		rm -rf "$logdir"
		mkdir -p "$logdir"
		log=$logdir/fuzz-0.log
		echo "== $name for ${secs}s" >&2
		set -- -max_total_time="$secs" -timeout="$timeout" -report_slow_units="$timeout" \
			-rss_limit_mb=2048 -print_final_stats=1 -jobs=1 -workers=1 -artifact_prefix="$root/build-fuzz/fuzz-crashes/$name/"
		[ "$dict" != - ] && set -- "$@" -dict="$dict"
		start=$(date +%s)
		(cd "$logdir" && exec nice -n "$nice_level" "$exe" "$@" "$root/build-fuzz/corpus/$name" \
			"$seeds" </dev/null >"$logdir/driver.log" 2>&1) || status=1
		took=$(($(date +%s) - start))
		after=$(artifacts "build-fuzz/fuzz-crashes/$name")
		seconds=0 execs=0 crashes=0
		# shellcheck disable=SC1090
		[ -f "build-fuzz/stats/$name" ] && . "build-fuzz/stats/$name"
		last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
		n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
		# A run that crashed may end without its final stats.
		[ -n "$n" ] || n=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
		cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
		ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
		cat >"build-fuzz/stats/$name" <<-EOF
			seconds=$((seconds + took))
			execs=$((execs + ${n:-0}))
			cov=${cov:-?}
			ft=${ft:-?}
			crashes=$((crashes + after - before))
		EOF
		tail -n 12 "$log" | grep -E 'DONE|ERROR|SUMMARY|stat::number_of_executed_units' >&2 || true
		ran=$((ran + 1))
	done <build-fuzz/fuzz-targets.txt
	[ "$ran" -gt 0 ] || { echo "no such fuzz target: $want" >&2; exit 2; }
	echo
	table
	return $status
}

merge() {
	setup_fuzz
	mkdir -p build-fuzz/logs
	while read -r name exe seeds covers dict; do
		wanted "$name" || continue
		[ -d "build-fuzz/corpus/$name" ] || continue
		new=$(mktemp -d)
		ls "$seeds" >"$new.before"
		nice -n "$nice_level" "$exe" -merge=1 -rss_limit_mb=2048 -timeout="$timeout" \
			"$seeds" "build-fuzz/corpus/$name" >"build-fuzz/logs/$name-merge.log" 2>&1 || {
			echo "$name: merge failed, see build-fuzz/logs/$name-merge.log" >&2
			rm -rf "$new" "$new.before"
			return 1
		}
		# Generated files are named by their SHA-1; cap them, largest first.
		n=$(find "$seeds" -maxdepth 1 -type f -regextype posix-extended \
			-regex '.*/[0-9a-f]{40}' | wc -l)
		if [ "$n" -gt "$cap" ]; then
			find "$seeds" -maxdepth 1 -type f -regextype posix-extended \
				-regex '.*/[0-9a-f]{40}' -printf '%s %p\n' | sort -n |
				tail -n "$((n - cap))" | cut -d' ' -f2- | xargs rm -f
		fi
		echo "$name: $(ls "$seeds" | wc -l) seeds ($(ls "$seeds" | grep -cvxFf "$new.before") new," \
			"$(du -sk "$seeds" | cut -f1) KiB)"
		rm -rf "$new" "$new.before"
	done <build-fuzz/fuzz-targets.txt
}

# cov_rows LABEL PROFDATA "FILES" EXE [-object EXE...]: a table row per file.
cov_rows() {
	label=$1 prof=$2 files=$3
	shift 3
	"$llvmcov" report "$@" -instr-profile="$prof" >"$prof.report"
	for f in $files; do
		rel=${f#"$(pwd)/"}
		case $f in
		*:*)
			# FILE:F1+F2: only the lines of these functions (the parser in a
			# file that holds more).
			funcs=$(echo "${f#*:}" | tr '+' '|')
			"$llvmcov" show "$@" -instr-profile="$prof" -use-color=false \
				-name-regex="(^|:)($funcs)\$" | awk -F'|' -v t="$label" -v f="$rel" '
				$2 ~ /[0-9]/ { n++; if ($2 + 0 == 0) m++ }
				END { printf "| %s | %s | %d | %d | %.2f%% |\n", t, f, n, m,
					n ? 100 * (n - m) / n : 0 }'
			;;
		*)
			# Rows name files without their common leading directories.
			awk -v t="$label" -v f="$rel" '$1 == f ||
				substr($1, length($1) - length(f)) == "/" f {
				printf "| %s | %s | %s | %s | %s |\n", t, f, $8, $9, $10 }' "$prof.report"
			;;
		esac
	done
}

coverage() {
	./scripts/install-deps.sh --coverage
	# Only the harness runs below write profiles, each to its own file.
	export LLVM_PROFILE_FILE=/dev/null
	profdata=$(command -v llvm-profdata-14 || command -v llvm-profdata)
	llvmcov=$(command -v llvm-cov-14 || command -v llvm-cov)
	if [ ! -f build-cov/build.ninja ]; then
		CC=clang meson setup build-cov -Dbuildtype=debug \
			-Dc_args='-fprofile-instr-generate -fcoverage-mapping' \
			-Dc_link_args='-fprofile-instr-generate -fcoverage-mapping' >/dev/null
	fi
	# Regenerate first: the test list below comes from meson's files.
	nice -n "$nice_level" ninja -C build-cov build.ninja >/dev/null
	targets build-cov corpus/ >build-cov/fuzz-targets.txt
	# shellcheck disable=SC2046
	nice -n "$nice_level" ninja -C build-cov $(cut -d' ' -f2 build-cov/fuzz-targets.txt |
		sed 's|^.*/build-cov/||') >/dev/null
	rm -rf build-cov/coverage
	mkdir -p build-cov/coverage
	: >build-cov/coverage/covers
	printf '| target | file | lines | missed | line coverage |\n|---|---|---:|---:|---:|\n'
	while read -r name exe seeds covers dict; do
		wanted "$name" || continue
		raw=build-cov/coverage/$name.profraw
		LLVM_PROFILE_FILE=$raw nice -n "$nice_level" "$exe" "$seeds" >/dev/null 2>&1 || {
			echo "$name: the seed corpus fails in the plain build" >&2
			return 1
		}
		"$profdata" merge -sparse -o "build-cov/coverage/$name.profdata" "$raw"
		[ "$covers" = - ] && continue
		files=$(echo "$covers" | tr ',' ' ')
		for f in $files; do
			echo "$f $name $exe" >>build-cov/coverage/covers
		done
		cov_rows "$name" "build-cov/coverage/$name.profdata" "$files" "$exe"
		# llvm-cov 14 ignores source file filters here: keep the files' sections.
		"$llvmcov" show "$exe" -instr-profile="build-cov/coverage/$name.profdata" \
			-show-line-counts -use-color=false |
			awk -v want=" $(echo "$files" | sed 's/:[^ ]*//g') " '/^\/.*:$/ { f = substr($0, 1, length($0) - 1);
				keep = index(want, " " f " ") > 0 } keep' >"build-cov/coverage/$name.txt"
	done <build-cov/fuzz-targets.txt
	# A file that several targets drive: what they reach together.
	for f in $(cut -d' ' -f1 build-cov/coverage/covers | sort | uniq -d); do
		names=$(awk -v f="$f" '$1 == f { printf "%s%s", sep, $2; sep = "+" }' \
			build-cov/coverage/covers)
		prof=build-cov/coverage/$(basename "$f").all.profdata
		# shellcheck disable=SC2046
		"$profdata" merge -sparse -o "$prof" $(awk -v f="$f" \
			'$1 == f { print "build-cov/coverage/" $2 ".profdata" }' build-cov/coverage/covers)
		# shellcheck disable=SC2046
		cov_rows "$names" "$prof" "$f" $(awk -v f="$f" '$1 == f {
			printf "%s%s\n", n++ ? "-object " : "", $3 }' build-cov/coverage/covers)
	done
}

case $mode in
fuzz) fuzz ;;
table) table ;;
merge) merge ;;
coverage) coverage ;;
esac
