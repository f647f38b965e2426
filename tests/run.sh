#!/usr/bin/env bash
# run.sh - run unit test binaries and e2e scripts, print one closing line
# "check: N passed, N failed" (N counts test binaries and e2e scripts).
#   tests/run.sh [--unit-only|--e2e-only] KILN_BINARY [UNIT_TEST_BINARY...]
# E2E_FILTER=glob limits the e2e scripts (e.g. E2E_FILTER='t2*').
set -u
mode=all
case "${1:-}" in --unit-only|--e2e-only) mode=${1#--}; shift ;; esac
kiln=$(realpath "$1"); shift
top=$(cd "$(dirname "$0")/.." && pwd)
passed=0 failed=0 failures=()
logdir=${TEST_LOG_DIR:-$top/build/test-logs}
mkdir -p "$logdir"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp:print_suppressions=0}

if [ "$mode" != e2e-only ]; then
	for t in "$@"; do
		name=$(basename "$t")
		if "$t" >"$logdir/$name.log" 2>&1; then
			passed=$((passed + 1))
			echo "ok   unit $name"
		else
			failed=$((failed + 1)); failures+=("unit $name")
			echo "FAIL unit $name (log: $logdir/$name.log)"
			tail -n 30 "$logdir/$name.log" | sed 's/^/    /'
		fi
	done
fi

if [ "$mode" != unit-only ]; then
	export KILN="$kiln" KILN_TOP="$top" KILN_SHARED="${KILN_SHARED:-$(cd "$top/.." && pwd)/shared}"
	for t in "$top"/tests/e2e/${E2E_FILTER:-t[0-9]*}.sh; do
		[ -e "$t" ] || continue
		name=$(basename "$t" .sh)
		start=$(date +%s)
		if bash "$t" >"$logdir/$name.log" 2>&1; then
			passed=$((passed + 1))
			echo "ok   e2e  $name ($(( $(date +%s) - start ))s)"
		else
			failed=$((failed + 1)); failures+=("e2e $name")
			echo "FAIL e2e  $name (log: $logdir/$name.log)"
			tail -n 30 "$logdir/$name.log" | sed 's/^/    /'
		fi
	done
fi

for f in "${failures[@]+"${failures[@]}"}"; do echo "failed: $f"; done
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
