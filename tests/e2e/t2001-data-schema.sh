#!/usr/bin/env bash
# t2001: kiln data schema on the four real data sets: column kinds, task,
# classes, missing counts, values kept byte for byte, JSON form.
. "$KILN_TOP/tests/e2e/lib.sh"

py() { /usr/bin/python3 "$@"; }

expect_ok "$KILN" data schema "$DATA/churn/train.csv" >churn.txt
expect_contains churn.txt "target: churn (classification: 2 classes: no yes)"
expect_contains churn.txt "rows: 4000"
expect_ok "$KILN" data schema "$DATA/churn/train.csv" --json >churn.json
py - churn.json <<'PY' || fail "churn schema"
import json, sys
s = json.load(open(sys.argv[1]))
k = {c["name"]: c["kind"] for c in s["columns"]}
assert s["task"] == "classification" and s["classes"] == ["no", "yes"], s["classes"]
assert k["state"] == "categorical" and k["area_code"] == "categorical", k
assert k["number_customer_service_calls"] == "numeric", k
assert sum(1 for v in k.values() if v == "numeric") == 15, k
st = next(c for c in s["columns"] if c["name"] == "state")
assert len(st["categories"]) == 51 and abs(sum(st["categories"].values()) - 1) < 1e-9
n = next(c for c in s["columns"] if c["name"] == "number_customer_service_calls")
assert n["min"] == 0 and n["max"] == 9 and len(n["quantiles"]) == 11
assert len(n["histogram"]["edges"]) == 11 and abs(sum(n["histogram"]["fractions"]) - 1) < 1e-9
assert s["nrows"] == 4000 and s["target"]["name"] == "churn"
PY

expect_ok "$KILN" data schema "$DATA/sentiment/train.csv" --json >sent.json
py - sent.json <<'PY' || fail "sentiment schema"
import json, sys
s = json.load(open(sys.argv[1]))
t = s["columns"][0]
assert t["name"] == "text" and t["kind"] == "text", t
assert 60 < t["length_mean"] < 70 and t["tokens_mean"] > 5 and t["vocab_size"] > 1000, t
assert s["classes"] == ["negative", "positive"]
PY

expect_ok "$KILN" data schema "$DATA/credit/train.csv" --target Status --json >credit.json
py - credit.json "$DATA/credit/train.csv" <<'PY' || fail "credit schema"
import csv, json, sys
s = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
k = {c["name"]: c for c in s["columns"]}
assert k["Home"]["kind"] == "categorical" and k["Marital"]["kind"] == "categorical"
assert k["Income"]["kind"] == "numeric"
for name, c in k.items():
    assert c["missing"] == sum(1 for r in rows if r[name] == ""), name
assert k["Income"]["missing"] > 0 and s["classes"] == ["bad", "good"]
PY

expect_ok "$KILN" data schema "$DATA/ames/train.csv" --target Sale_Price --json >ames.json
py - ames.json "$DATA/ames/train.csv" <<'PY' || fail "ames schema"
import csv, json, statistics, sys
s = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
assert s["task"] == "regression" and "classes" not in s
for c in s["columns"]:
    vals = [r[c["name"]] for r in rows]
    try:
        nums = [float(v) for v in vals]
    except ValueError:
        assert c["kind"] == "categorical", c["name"]
        continue
    assert c["kind"] == "numeric", c["name"]
    assert abs(c["mean"] - statistics.fmean(nums)) < 1e-6 * max(1, abs(c["mean"]))
    assert abs(c["std"] - statistics.pstdev(nums)) < 1e-6 * max(1, c["std"])
    q = statistics.quantiles(nums, n=10, method="inclusive")
    for a, b in zip(c["quantiles"][1:10], q):
        assert abs(a - b) < 1e-6 * max(1, abs(b)), (c["name"], a, b)
st = next(c for c in s["columns"] if c["name"] == "Sale_Type")
assert "WD " in st["categories"] and "WD" not in st["categories"], st
t = s["target"]
assert t["kind"] == "numeric" and t["min"] == 12789 and t["max"] == 755000, t
PY
# The table keeps the trailing space too.
expect_ok "$KILN" data schema "$DATA/ames/train.csv" --target Sale_Price >ames.txt
expect_contains ames.txt "most frequent 'WD ' ("

# stdin, --task, and target errors.
expect_ok "$KILN" data schema - --json <"$DATA/churn/train.csv" >stdin.json
cmp -s stdin.json churn.json || fail "stdin schema differs"
expect_ok "$KILN" data schema "$DATA/churn/train.csv" --target number_customer_service_calls --json >t.json
py -c 'import json,sys; s=json.load(open("t.json")); assert s["task"]=="classification" and len(s["classes"])==10' || fail "integer target"
expect_ok "$KILN" data schema "$DATA/churn/train.csv" --target number_customer_service_calls --task regression --json >t.json
py -c 'import json,sys; s=json.load(open("t.json")); assert s["task"]=="regression"' || fail "forced regression"
expect_fail --code 1 "$KILN" data schema "$DATA/churn/train.csv" --target nope 2>err
expect_contains err "no target column 'nope'"
expect_fail --code 1 "$KILN" data schema "$DATA/churn/train.csv" --target state --task regression 2>err
expect_contains err "train.csv:2: target column 'state' is not numeric"
expect_fail --code 1 "$KILN" data schema "$DATA/credit/train.csv" --target Income 2>err
expect_contains err "missing value in target column 'Income'"

# Usage errors exit 2.
expect_fail --code 2 "$KILN" data 2>err
expect_fail --code 2 "$KILN" data bogus 2>err
expect_contains err "unknown subcommand 'bogus'"
expect_fail --code 2 "$KILN" data schema 2>err
expect_fail --code 2 "$KILN" data schema a.csv b.csv 2>err
expect_fail --code 2 "$KILN" data schema --task sideways x.csv 2>err
expect_contains err "unknown task 'sideways'"
expect_fail --code 2 "$KILN" data schema --frobnicate x.csv 2>err
