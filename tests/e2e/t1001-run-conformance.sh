#!/usr/bin/env bash
# t1001: the GitHub-Actions conformance suite (../shared/conformance/gha) and
# kiln's own cases (tests/workflows/own), in one run. Every core, validation,
# composite and own case must pass; compat (an act-only switch) is skipped.
. "$KILN_TOP/tests/e2e/lib.sh"
[ -x "$KILN_SHARED/conformance/gha/check.sh" ] || { echo "skip: no conformance suite"; exit 0; }
CHECK_WORKDIR=$TMP/conf "$KILN_TOP/tests/workflows/conformance.sh" "$KILN" -t 60 \
	-T core,validation,composite,own >out 2>&1
res=$TMP/conf/results.tsv
[ -s "$res" ] || { cat out; fail "no results"; }
bad=$(awk -F'\t' '$2 == "FAIL" {print $1}' "$res")
[ -z "$bad" ] || { cat out; fail "conformance cases failed: $bad"; }
echo "conformance: $(tail -n 1 out) (act-derived: $(grep -vc '^own/' "$res"), own: $(grep -c '^own/' "$res"))"
true
