#!/usr/bin/env bash
# run.sh SECONDS FUZZER... - run each libFuzzer target for SECONDS on its seed
# corpus (tests/fuzz/corpus/NAME, grown into build/fuzz/corpus/NAME) with its
# dictionary (tests/fuzz/NAME.dict) when there is one. A crash input is saved
# under build/fuzz/ and the run fails; copy it into the seed corpus and add a
# unit test for it.
set -u
secs=$1; shift
top=$(cd "$(dirname "$0")/../.." && pwd)
rc=0 n=0
for f in "$@"; do
	name=$(basename "$f"); name=${name#fuzz_}
	seeds=$top/tests/fuzz/corpus/$name
	work=$top/build/fuzz/corpus/$name
	mkdir -p "$work" "$seeds"
	dict=()
	[ -f "$top/tests/fuzz/$name.dict" ] && dict=(-dict="$top/tests/fuzz/$name.dict")
	echo "fuzz $name for ${secs}s"
	if ! ASAN_OPTIONS=detect_leaks=1 "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$top/build/fuzz/$name-" "${dict[@]}" "$work" "$seeds" \
		>"$top/build/fuzz/$name.log" 2>&1; then
		echo "FAIL fuzz $name (log: build/fuzz/$name.log)"
		tail -n 40 "$top/build/fuzz/$name.log"
		rc=1
	else
		tail -n 1 "$top/build/fuzz/$name.log"
	fi
	n=$((n + 1))
done
echo "fuzz: $n targets run"
exit $rc
