#!/usr/bin/env bash
# demo.sh KILN - the README's demo, on examples/sentiment:
#   1. `kiln run` runs the project's GitHub Actions workflow (lint, test,
#      validate, train, gate, upload, deploy to examples/sentiment/deploy/);
#   2. `kiln serve` serves the deployed bundle;
#   3. curl asks it about a review;
#   4. a retrained model (linear SVM) is deployed and the server swaps it in.
# DEMO_PORT (default 8080) is the port; the server is stopped at the end.
set -euo pipefail
kiln=$(realpath "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
port=${DEMO_PORT:-8080}
ex=$top/examples/sentiment
data=$(cd "$top/.." && pwd)/shared/datasets/sentiment
export PATH="$(dirname "$kiln"):$PATH"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true' EXIT

step() {
	if [ -t 2 ]; then printf '\n\033[1m== %s\033[0m\n' "$*" >&2; else printf '\n== %s\n' "$*" >&2; fi
}

cd "$ex"
rm -rf build deploy .kiln
step "kiln run: the project's workflow (.github/workflows/ci.yml), as for a push to main"
mkdir -p build
echo '{"ref": "refs/heads/main"}' >build/push-main.json
kiln run --event push --event-file build/push-main.json --var DATA_DIR="$data"

step "kiln serve deploy/sentiment.kiln on 127.0.0.1:$port"
kiln serve deploy/sentiment.kiln --port "$port" --name sentiment 2>serve.log &
pid=$!
for _ in $(seq 100); do
	curl -sf "localhost:$port/ready" >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { cat serve.log >&2; exit 1; }
	sleep 0.05
done

step "curl -d '{\"text\": \"I loved this movie\"}' localhost:$port/predict"
answer=$(curl -sf -d '{"text": "I loved this movie"}' "localhost:$port/predict")
echo "$answer"
echo "$answer" | grep -q '"sentiment": *"positive"' || { echo "demo: unexpected answer" >&2; exit 1; }

step "retrain (linear SVM) and deploy: the server swaps the model without a restart"
old=$(curl -sf "localhost:$port/v2/models/sentiment" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("versions"))')
kiln train "$data/train.csv" --target label --label-name sentiment --test "$data/test.csv" \
	--algo svm -o build/svm.kiln >/dev/null
kiln eval build/svm.kiln "$data/test.csv" --min accuracy=0.8 >/dev/null
cp build/svm.kiln deploy/.next.kiln && mv deploy/.next.kiln deploy/sentiment.kiln
want=$(sha256sum deploy/sentiment.kiln | cut -d' ' -f1)
for _ in $(seq 100); do
	curl -sf "localhost:$port/metrics" | grep -q "$want" && break
	sleep 0.05
done
curl -sf "localhost:$port/metrics" | grep -q "$want" || { echo "demo: model was not swapped" >&2; cat serve.log >&2; exit 1; }
curl -sf -d '{"text": "I loved this movie"}' "localhost:$port/predict"
echo
echo "demo: ok (versions before the swap: $old; now serving sha256 ${want:0:12})" >&2
