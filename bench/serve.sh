#!/usr/bin/env bash
# serve.sh [RUN.SH OPTIONS] - kiln serve against nginx, Flask + gunicorn and
# FastAPI + uvicorn, side by side in one run, with the shared harness
# (../shared/bench/run.sh; read its README). Trains the sentiment model the
# baselines serve, then hands the harness the kiln command line as KILN_CMD.
# Results: bench/results/<UTC date_time>.md (and raw data beside it).
#   bench/serve.sh --quick        ~2 minutes, a smoke test
#   bench/serve.sh --repeats 1    ~5 minutes
#   bench/serve.sh                ~15 minutes, medians of 3
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$top/.." && pwd)/shared
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-serve.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$top/scripts/deps.sh" --bench
[ -x "$top/kiln" ] || make -C "$top" kiln >/dev/null
cp "$top/kiln" "$work/kiln"
"$work/kiln" train "$shared/datasets/sentiment/train.csv" --target label --label-name sentiment \
	--test "$shared/datasets/sentiment/test.csv" -o "$work/sentiment.kiln" >/dev/null
mkdir -p "$top/bench/results"
export BENCH_RESULTS="$top/bench/results"
export KILN_CMD="$work/kiln serve $work/sentiment.kiln --name sentiment --port \$PORT"
"$shared/bench/run.sh" "$@"
