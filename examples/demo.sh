#!/usr/bin/env bash
# demo.sh KILN - the README's demo, on examples/sentiment, the whole loop:
#   1. `kiln server` keeps runs, the model registry and the bundles;
#   2. `kiln run` runs the project's GitHub Actions workflow (lint, test,
#      validate, train and register, gate, promote to `production`);
#   3. `kiln serve sentiment@production` serves what the alias points at;
#   4. curl asks it about a review;
#   5. a retrained model (linear SVM) passes the gate and is promoted: the
#      server swaps it in without a restart; `kiln models rollback` swaps back.
# DEMO_PORT (default 8080) is the model server's port, DEMO_SERVER_PORT
# (default 5000) the kiln server's; both are stopped at the end.
set -euo pipefail
kiln=$(realpath "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
port=${DEMO_PORT:-8080}
sport=${DEMO_SERVER_PORT:-5000}
ex=$top/examples/sentiment
data=$(cd "$top/.." && pwd)/shared/datasets/sentiment
export PATH="$(dirname "$kiln"):$PATH"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null || true' EXIT

step() {
	if [ -t 2 ]; then printf '\n\033[1m== %s\033[0m\n' "$*" >&2; else printf '\n== %s\n' "$*" >&2; fi
}

# wait_for URL LOG: until URL answers (5 s at most) or the last server started dies.
wait_for() {
	for _ in $(seq 100); do
		curl -sf "$1" >/dev/null 2>&1 && return 0
		kill -0 "${pids[-1]}" 2>/dev/null || { cat "$2" >&2; exit 1; }
		sleep 0.05
	done
	echo "demo: $1 did not answer" >&2
	cat "$2" >&2
	exit 1
}

# serving VERSION: waits (10 s at most) until kiln serve answers with that registry version.
serving() {
	local v=""
	for _ in $(seq 200); do
		v=$(curl -sf "localhost:$port/v2/models/sentiment" |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"][0])' 2>/dev/null || true)
		[ "$v" = "$1" ] && return 0
		sleep 0.05
	done
	echo "demo: kiln serve did not move to version $1 (it serves '$v')" >&2
	cat build/serve.log >&2
	exit 1
}

cd "$ex"
rm -rf build deploy .kiln
mkdir -p build
export KILN_HOME=$ex/build/kiln-home KILN_SERVER=http://127.0.0.1:$sport

step "kiln server on 127.0.0.1:$sport (runs, registry, bundles in build/kiln-home)"
kiln server --port "$sport" 2>build/server.log &
pids+=($!)
wait_for "$KILN_SERVER/health" build/server.log

step "kiln run: the project's workflow (.github/workflows/ci.yml), as for a push to main"
echo '{"ref": "refs/heads/main"}' >build/push-main.json
kiln run --event push --event-file build/push-main.json --var DATA_DIR="$data" \
	--var KILN_SERVER="$KILN_SERVER"
kiln models versions sentiment

step "kiln serve sentiment@production on 127.0.0.1:$port, following the registry"
kiln serve sentiment@production --registry "$KILN_SERVER" --poll 1 --port "$port" 2>build/serve.log &
pids+=($!)
wait_for "localhost:$port/ready" build/serve.log

step "curl -d '{\"text\": \"I loved this movie\"}' localhost:$port/predict"
answer=$(curl -sf -d '{"text": "I loved this movie"}' "localhost:$port/predict")
echo "$answer"
echo "$answer" | grep -q '"sentiment": *"positive"' || { echo "demo: unexpected answer" >&2; exit 1; }

step "retrain (linear SVM), gate, promote: the server swaps the model without a restart"
kiln train "$data/train.csv" --target label --label-name sentiment --test "$data/test.csv" \
	--algo svm -o build/svm.kiln --register sentiment >/dev/null
kiln eval build/svm.kiln "$data/test.csv" --min accuracy=0.8 >/dev/null
kiln models alias sentiment production 2
serving 2
curl -sf -d '{"text": "I loved this movie"}' "localhost:$port/predict"

step "kiln models rollback sentiment production: back to version 1"
kiln models rollback sentiment production
serving 1
kiln models history sentiment production
echo "demo: ok (the loop ran: workflow, registry, serve, promote, rollback)" >&2
