#!/usr/bin/env bash
# t2201: kiln eval on a classifier: metrics agree with an independent
# computation from `kiln predict` output, table and JSON forms, --min/--max
# gates pass and fail with a message, bad data and bad targets are errors.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_ok "$KILN" train "$DATA/churn/train.csv" --test "$DATA/churn/test.csv" --algo gbdt \
	--target churn --trees 60 -o churn.kiln >/dev/null
expect_ok "$KILN" predict churn.kiln "$DATA/churn/test.csv" >pred.csv
expect_ok "$KILN" eval churn.kiln "$DATA/churn/test.csv" --json >eval.json

# Accuracy, tie-aware AUC, F1(yes) and the confusion matrix, recomputed here
# from the predictions with the standard library only.
python3 - "$DATA/churn/test.csv" pred.csv eval.json <<'PY' || fail "metrics disagree with predictions"
import csv, json, sys
y = [r["churn"] for r in csv.DictReader(open(sys.argv[1]))]
p = list(csv.DictReader(open(sys.argv[2])))
m = json.load(open(sys.argv[3]))["metrics"]
yp = [r["churn"] for r in p]
s = [float(r["p_yes"]) for r in p]
acc = sum(a == b for a, b in zip(y, yp)) / len(y)
order = sorted(range(len(s)), key=lambda i: s[i])
rank = [0.0] * len(s)
i = 0
while i < len(order):
    j = i
    while j + 1 < len(order) and s[order[j + 1]] == s[order[i]]:
        j += 1
    for k in range(i, j + 1):
        rank[order[k]] = (i + j) / 2 + 1
    i = j + 1
pos = [i for i in range(len(y)) if y[i] == "yes"]
npos, nneg = len(pos), len(y) - len(pos)
auc = (sum(rank[i] for i in pos) - npos * (npos + 1) / 2) / (npos * nneg)
tp = sum(a == b == "yes" for a, b in zip(y, yp))
f1 = 2 * tp / (sum(v == "yes" for v in y) + sum(v == "yes" for v in yp))
cm = [[sum(a == t and b == q for a, b in zip(y, yp)) for q in ("no", "yes")] for t in ("no", "yes")]
# predict prints 6 decimals, so AUC may differ in the last digits through ties
assert abs(m["accuracy"] - acc) < 1e-9, (m["accuracy"], acc)
assert abs(m["auc"] - auc) < 1e-3, (m["auc"], auc)
assert abs(m["per_class"]["yes"]["f1"] - f1) < 1e-9, (m["per_class"]["yes"]["f1"], f1)
assert m["confusion"] == cm, (m["confusion"], cm)
assert m["classes"] == ["no", "yes"] and m["n"] == 1000
assert m["per_class"]["yes"]["support"] == 141
for k in ("precision", "recall", "f1", "log_loss"):
    assert isinstance(m[k], float), k
PY
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["gates"] == [] and d["passed"] is True and d["baseline"] is None' eval.json ||
	fail "bad JSON envelope"

# The table.
expect_ok "$KILN" eval churn.kiln "$DATA/churn/test.csv" >table
for word in accuracy precision recall f1 auc log_loss "confusion (rows: true" support; do
	expect_contains table "$word"
done
grep -qE '^yes +[0-9.]+ +[0-9.]+ +[0-9.]+ +141$' table || fail "no per-class row for yes"

# Gates: passing ones exit 0, a failing one exits 1 naming metric, value, threshold.
expect_ok "$KILN" eval churn.kiln "$DATA/churn/test.csv" --min accuracy=0.5 --min auc=0.5 \
	--min f1:yes=0.1 --max log_loss=5 >out 2>err
expect_contains out "pass"
[ ! -s err ] || fail "stderr not empty on success: $(cat err)"
expect_fail --code 1 "$KILN" eval churn.kiln "$DATA/churn/test.csv" --min accuracy=0.999 \
	--min auc=0.5 --max log_loss=0.0001 >out 2>err
grep -qE '^gate failed: accuracy 0\.[0-9]{4} < 0\.999$' err || fail "bad gate message: $(cat err)"
grep -qE '^gate failed: log_loss 0\.[0-9]{4} > 0\.0001$' err || fail "bad gate message: $(cat err)"
expect_lines err 2
expect_contains out "FAIL"
expect_fail --code 1 "$KILN" eval churn.kiln "$DATA/churn/test.csv" --min recall:yes=0.99 \
	--json >gates.json 2>err
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
g = d["gates"][0]
assert d["passed"] is False
assert g["metric"] == "recall:yes" and g["op"] == "min" and g["threshold"] == 0.99
assert g["passed"] is False and g["value"] == d["metrics"]["per_class"]["yes"]["recall"]
' gates.json || fail "bad gate JSON"

# Usage errors: exit 2.
expect_fail --code 2 "$KILN" eval churn.kiln "$DATA/churn/test.csv" --min acc=0.8 2>err
expect_contains err "unknown metric 'acc'"
expect_fail --code 2 "$KILN" eval churn.kiln "$DATA/churn/test.csv" --min accuracy 2>err
expect_contains err "expected METRIC=VALUE"
expect_fail --code 2 "$KILN" eval churn.kiln "$DATA/churn/test.csv" --min accuracy=high 2>err
expect_contains err "'high' is not a number"
expect_fail --code 2 "$KILN" eval churn.kiln "$DATA/churn/test.csv" --min rmse=3 2>err
expect_contains err "use --max"
expect_fail --code 2 "$KILN" eval churn.kiln "$DATA/churn/test.csv" --max rmse=3 2>err
expect_contains err "metric 'rmse' is not available"
expect_fail --code 2 "$KILN" eval churn.kiln "$DATA/churn/test.csv" --min f1:maybe=0.3 2>err
expect_contains err "'f1:maybe'"
expect_fail --code 2 "$KILN" eval churn.kiln "$DATA/churn/test.csv" --max-drop auc=0.01 2>err
expect_contains err "needs --baseline"
expect_fail --code 2 "$KILN" eval churn.kiln 2>err
expect_fail --code 2 "$KILN" eval churn.kiln a.csv b.csv 2>err
expect_fail --code 2 "$KILN" eval churn.kiln "$DATA/churn/test.csv" --bogus 2>err

# Bad inputs: exit 1 with file:line.
head -n 3 "$DATA/churn/test.csv" >unseen.csv
tail -n +4 "$DATA/churn/test.csv" | head -n 5 | sed 's/"no"$/"maybe"/' >>unseen.csv
expect_fail --code 1 "$KILN" eval churn.kiln unseen.csv 2>err
grep -qE "unseen.csv:4: class 'maybe' of 'churn' was not seen in training" err ||
	fail "bad unseen-class message: $(cat err)"
cut -d, -f1-19 "$DATA/churn/test.csv" >notarget.csv
expect_fail --code 1 "$KILN" eval churn.kiln notarget.csv 2>err
expect_contains err "no target column 'churn'"
expect_fail --code 1 "$KILN" eval churn.kiln missing.csv 2>err
expect_contains err "missing.csv"
echo "not a model" >bad.kiln
expect_fail --code 1 "$KILN" eval bad.kiln "$DATA/churn/test.csv" 2>err
expect_contains err "bad.kiln"

# An input column the data lack is scored as missing, with a warning.
cut -d, -f2- "$DATA/churn/test.csv" >nostate.csv
expect_ok "$KILN" eval churn.kiln nostate.csv >out 2>err
expect_contains err "nostate.csv: no column 'state'; every row treated as missing"
