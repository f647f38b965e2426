#!/usr/bin/env bash
# t2203: kiln eval --baseline / --max-drop: a candidate may not be worse than
# the model it replaces by more than D; direction depends on the metric.
. "$KILN_TOP/tests/e2e/lib.sh"

tr=$DATA/credit/train.csv te=$DATA/credit/test.csv
expect_ok "$KILN" train "$tr" --test "$te" --target Status --algo gbdt --trees 60 -o good.kiln >/dev/null
expect_ok "$KILN" train "$tr" --test "$te" --target Status --algo gbdt --trees 1 --depth 1 -o weak.kiln >/dev/null

# The weak model as candidate against the good one: a large AUC drop.
expect_fail --code 1 "$KILN" eval weak.kiln "$te" --baseline good.kiln --max-drop auc=0.01 \
	--json >drop.json 2>err
grep -qE '^gate failed: auc dropped by 0\.[0-9]{4} > 0\.01 \(baseline 0\.[0-9]{4}, candidate 0\.[0-9]{4}\)$' err ||
	fail "bad drop message: $(cat err)"
python3 - drop.json <<'PY' || fail "bad drop JSON"
import json, sys
d = json.load(open(sys.argv[1]))
g = d["gates"][0]
assert d["passed"] is False and g["op"] == "max_drop" and g["passed"] is False
assert abs(g["value"] - (d["baseline"]["auc"] - d["metrics"]["auc"])) < 1e-12
assert g["baseline"] == d["baseline"]["auc"] and g["candidate"] == d["metrics"]["auc"]
assert d["baseline"]["auc"] > d["metrics"]["auc"] + 0.01
PY

# The other way round it is an improvement: passes, even with D = 0.
expect_ok "$KILN" eval good.kiln "$te" --baseline weak.kiln --max-drop auc=0 \
	--max-drop log_loss=0 --max-drop f1:good=0 >table 2>err
expect_contains table "baseline"
[ ! -s err ] || fail "stderr not empty: $(cat err)"

# Lower-is-better: log_loss rising is a drop.
expect_fail --code 1 "$KILN" eval weak.kiln "$te" --baseline good.kiln --max-drop log_loss=0.001 >/dev/null 2>err
expect_contains err "gate failed: log_loss dropped by"

# A model against itself never drops.
expect_ok "$KILN" eval good.kiln "$te" --baseline good.kiln --max-drop auc=0 --max-drop accuracy=0 >/dev/null

expect_fail --code 1 "$KILN" eval good.kiln "$te" --baseline nothere.kiln --max-drop auc=0 2>err
expect_contains err "nothere.kiln"
expect_fail --code 2 "$KILN" eval good.kiln "$te" --baseline weak.kiln --max-drop auc=-1 2>err
expect_contains err "must be >= 0"
