#!/usr/bin/env bash
# wf.sh - overhead of `kiln run` (issue 4 targets, not a timed test):
#   1. 200 `true` steps vs a bash script running 200 `bash -e -c true`
#      (target: kiln <= 1.5x the script, i.e. <= 2 ms engine overhead a step);
#   2. a 100-job DAG with 4-way fan-out, one `true` step each, --jobs 4
#      (target: scheduling overhead <= 0.5 s);
#   3. the same DAG in a git repository, where each job gets its own checkout
#      of HEAD (the default; the run above is in a plain directory, in place);
#   4. peak RSS of both (target: <= 20 MB).
# Usage: bench/wf.sh [KILN]   (needs hyperfine and GNU time; scripts/deps.sh --bench)
set -eu
kiln=$(realpath "${1:-./kiln}")
dir=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-wf.XXXXXX")
trap 'rm -rf "$dir"' EXIT
cd "$dir"
{
	printf 'on: push\njobs:\n  a:\n    steps:\n'
	for _ in $(seq 200); do printf '      - run: "true"\n'; done
} >steps200.yml
for _ in $(seq 200); do echo 'bash -e -c true'; done >bash200.sh
{
	printf 'on: push\njobs:\n'
	for i in $(seq 0 99); do
		printf '  j%d:\n' "$i"
		[ "$i" -gt 0 ] && printf '    needs: j%d\n' $(((i - 1) / 4))
		printf '    steps:\n      - run: "true"\n'
	done
} >dag100.yml
for _ in $(seq 100); do echo 'bash -e -c true'; done >bash100.sh

hyperfine -N -w 2 -r 10 --export-json steps.json \
	"$kiln run steps200.yml" "bash bash200.sh" 2>&1 | grep -vE '^\s*$'
hyperfine -N -w 2 -r 10 --export-json dag.json \
	"$kiln run --jobs 4 dag100.yml" "bash bash100.sh" 2>&1 | grep -vE '^\s*$'
python3 - <<'P'
import json
s = {r["command"].split()[-1]: r["mean"] for r in json.load(open("steps.json"))["results"]}
d = {r["command"].split()[-1]: r["mean"] for r in json.load(open("dag.json"))["results"]}
ks, kb = s["steps200.yml"], s["bash200.sh"]
print(f"200 steps: kiln {ks*1000:.0f} ms, bash {kb*1000:.0f} ms, ratio {ks/kb:.2f} (target <= 1.5); "
      f"engine overhead {(ks-kb)/200*1000:.2f} ms/step (target <= 2)")
kd, bd = d["dag100.yml"], d["bash100.sh"]
print(f"100-job DAG: kiln {kd*1000:.0f} ms, 100 sequential bash {bd*1000:.0f} ms, "
      f"overhead {max(kd-bd, 0)*1000:.0f} ms (target <= 500)")
P
mkdir repo && cp dag100.yml repo/ && (cd repo && git init -q . && git add -A &&
	git -c user.name=bench -c user.email=bench@example.invalid commit -qm bench)
(cd repo && hyperfine -N -w 1 -r 5 "$kiln run --jobs 4 dag100.yml" 2>&1 | grep -E 'Time|Range')
for wf in steps200.yml dag100.yml; do
	/usr/bin/time -f "$wf: peak RSS %M kB (target <= 20480)" "$kiln" run "$wf" >/dev/null 2>time.log || true
	tail -n 1 time.log
done
