#!/usr/bin/env bash
# test_data.sh DATA_DIR - the project's data tests: header, labels, no empty texts.
set -euo pipefail
dir=$1
for f in train.csv test.csv; do
	head -n 1 "$dir/$f" | grep -qx 'text,label' || { echo "$f: header is not text,label" >&2; exit 1; }
	bad=$(tail -n +2 "$dir/$f" | grep -cvE ',(positive|negative)$' || true)
	[ "$bad" -eq 0 ] || { echo "$f: $bad rows without a positive/negative label" >&2; exit 1; }
done
echo "data ok: $(($(wc -l <"$dir/train.csv") - 1)) training rows, $(($(wc -l <"$dir/test.csv") - 1)) test rows"
