#!/usr/bin/env bash
# ml.sh - kiln against scikit-learn / XGBoost on the four shared data sets,
# side by side in one run on this machine: test quality, training time,
# one-row predict latency, batch predict throughput, peak RSS. Writes
# bench/results/ml-<UTC date-time>.md (an earlier run is never overwritten)
# and prints the same table. Run by `make bench`.
#   bench/ml.sh [CASE...]      CASE: sentiment churn churn-200 ames credit-logreg credit-gbdt
# Environment: KILN (./kiln), KILN_DATA (../shared/datasets), BENCH_RUNS (5),
# BENCH_ROWS (100000, rows for batch predict), BENCH_CALLS (20000, 1-row calls).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
KILN=$(realpath "${KILN:-$top/kiln}")
DATA=${KILN_DATA:-$(cd "$top/.." && pwd)/shared/datasets}
RUNS=${BENCH_RUNS:-5}
ROWS=${BENCH_ROWS:-100000}
CALLS=${BENCH_CALLS:-20000}
PY=/usr/bin/python3
TIME=/usr/bin/time
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
results=$work/results.jsonl
: >"$results"

for tool in "$PY" "$TIME" "$KILN"; do
	[ -x "$tool" ] || { echo "ml.sh: '$tool' missing (make kiln; scripts/deps.sh --bench)" >&2; exit 1; }
done
"$PY" -c 'import sklearn, xgboost' || { echo "ml.sh: run scripts/deps.sh --bench" >&2; exit 1; }

# The one-row latency program links kiln's own objects (no cli/, no main).
build=$top/build/default
objs=$(find "$build/src" -name '*.o' ! -path '*/cli/*' ! -name main.o ! -name '*_test.o' | sort)
# The same libraries as the Makefile's PKGS, read from it so the two cannot drift.
pkgs=$(sed -n 's/^PKGS := //p' "$top/Makefile")
# shellcheck disable=SC2086
cc -std=c11 -O2 -I"$top/src" -D_GNU_SOURCE $(pkg-config --cflags $pkgs) \
	-o "$work/predict_latency" "$top/bench/predict_latency.c" $objs \
	$(pkg-config --libs $pkgs) -llinear -lm -lpthread -ldl

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# timed OUT_PREFIX CMD...: wall seconds (bash clock, µs resolution) and peak
# RSS in KiB (GNU time) of one whole process, appended to OUT_PREFIX.{s,kb}.
timed() {
	local out=$1 t0 t1
	shift
	t0=$EPOCHREALTIME
	"$TIME" -f %M -o "$out.rss" "$@" >"$out.stdout" 2>"$out.stderr" ||
		{ echo "ml.sh: failed: $*" >&2; cat "$out.stderr" >&2; return 1; }
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >>"$out.s"
	tail -n 1 "$out.rss" >>"$out.kb"
}

# A CSV with the header and test rows repeated to about ROWS rows.
big_csv() {
	local src=$1 dst=$2 n reps
	n=$(($(wc -l <"$src") - 1))
	reps=$(((ROWS + n - 1) / n))
	head -n 1 "$src" >"$dst"
	for _ in $(seq "$reps"); do tail -n +2 "$src"; done >>"$dst"
}

# bench_case NAME DATASET KILN_TRAIN_ARGS -- BASELINE_ARGS
bench_case() {
	local name=$1 ds=$DATA/$2 k=$work/$1 kargs=() bargs=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do kargs+=("$1"); shift; done
	shift
	bargs=("$@")
	echo "== $name" >&2

	for _ in $(seq "$RUNS"); do
		timed "$k.train" "$KILN" train "$ds/train.csv" --test "$ds/test.csv" \
			"${kargs[@]}" --json -o "$k.kiln"
		timed "$k.base" "$PY" "${bargs[@]}"
		"$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["fit_s"])' \
			"$k.base.stdout" >>"$k.fit"
	done
	"$KILN" eval "$k.kiln" "$ds/test.csv" --json >"$k.eval.json"
	"$work/predict_latency" "$k.kiln" "$ds/test.csv" "$CALLS" >"$k.lat.json"
	big_csv "$ds/test.csv" "$k.big.csv"
	for _ in 1 2 3; do
		timed "$k.pred" "$KILN" predict "$k.kiln" "$k.big.csv"
	done
	"$work/predict_latency" --batch "$k.kiln" "$k.big.csv" >"$k.batch.json"
	"$PY" "${bargs[@]}" --serve "$k.big.csv" "$k.base-batch.out" >"$k.serve.json"

	"$PY" - "$name" "$k" "$(($(wc -l <"$k.big.csv") - 1))" >>"$results" <<'EOF'
import json, statistics, sys
name, k, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
nums = lambda p: [float(x) for x in open(p).read().split()]
ev = json.load(open(k + ".eval.json"))["metrics"]
pos = {"sentiment": "positive", "churn": "yes", "churn-200": "yes"}.get(name, "good")
kiln = {k2: ev[k2] for k2 in ("accuracy", "auc", "r2", "rmse", "mae") if k2 in ev}
if "per_class" in ev and pos in ev["per_class"]:
    kiln["f1_pos"] = ev["per_class"][pos]["f1"]
hp = json.load(open(k + ".train.stdout")).get("hyperparameters", {})
if "best_round" in hp:
    kiln["trees"] = hp["best_round"]
kiln["train_s"] = statistics.median(nums(k + ".train.s"))
kiln["train_rss_kb"] = statistics.median(nums(k + ".train.kb"))
kiln["latency_us"] = json.load(open(k + ".lat.json"))["latency_us"]
kiln["batch_rows_per_s"] = rows / statistics.median(nums(k + ".pred.s"))
kiln["batch_inproc_rows_per_s"] = json.load(open(k + ".batch.json"))["batch_rows_per_s"]
kiln["predict_rss_kb"] = statistics.median(nums(k + ".pred.kb"))
base = json.load(open(k + ".serve.json"))
base["fit_s"] = statistics.median(nums(k + ".fit"))
base["process_s"] = statistics.median(nums(k + ".base.s"))
base["train_rss_kb"] = statistics.median(nums(k + ".base.kb"))
print(json.dumps({"case": name, "kiln": kiln, "baseline": base}))
EOF
}

cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(sentiment churn churn-200 ames credit-logreg credit-gbdt)
B=$top/bench/baselines
for c in "${cases[@]}"; do
	case $c in
	sentiment) bench_case sentiment sentiment --algo logreg --target label \
		-- "$B/sentiment_logreg.py" "$DATA/sentiment" ;;
	churn) bench_case churn churn --algo gbdt --target churn \
		-- "$B/tabular.py" "$DATA/churn" churn yes xgb ;;
	churn-200) bench_case churn-200 churn --algo gbdt --target churn --early-stopping 0 \
		-- "$B/tabular.py" "$DATA/churn" churn yes xgb ;;
	ames) bench_case ames ames --algo gbdt --target Sale_Price \
		-- "$B/tabular.py" "$DATA/ames" Sale_Price - xgb ;;
	credit-logreg) bench_case credit-logreg credit --algo logreg --target Status \
		-- "$B/tabular.py" "$DATA/credit" Status good logreg ;;
	credit-gbdt) bench_case credit-gbdt credit --algo gbdt --target Status \
		-- "$B/tabular.py" "$DATA/credit" Status good xgb ;;
	*) echo "ml.sh: unknown case '$c'" >&2; exit 2 ;;
	esac
done

mkdir -p "$top/bench/results"
out=$top/bench/results/ml-$(date -u +%Y-%m-%d-%H%M).md
"$PY" "$top/bench/report.py" "$results" "$RUNS" >"$work/report.md"
cp "$work/report.md" "$out"
cat "$out"
echo "written: $out" >&2
