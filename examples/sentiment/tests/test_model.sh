#!/usr/bin/env bash
# test_model.sh MODEL - behavioural tests: clear reviews get the obvious label.
set -euo pipefail
model=$1
out=$(printf '%s\n' '{"text": "I loved this movie, it was great"}' \
	'{"text": "Terrible food and awful service, never again"}' | kiln predict "$model")
echo "$out"
echo "$out" | sed -n 1p | grep -q '"sentiment": "positive"' || { echo "positive review misread" >&2; exit 1; }
echo "$out" | sed -n 2p | grep -q '"sentiment": "negative"' || { echo "negative review misread" >&2; exit 1; }
