#!/usr/bin/env bash
# t2202: kiln eval on a regressor (ames): RMSE, MAE and R² agree with an
# independent computation from `kiln predict`; gates; bad targets.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_ok "$KILN" train "$DATA/ames/train.csv" --test "$DATA/ames/test.csv" --algo gbdt \
	--target Sale_Price --trees 60 -o ames.kiln >/dev/null
expect_ok "$KILN" predict ames.kiln "$DATA/ames/test.csv" >pred.csv
expect_ok "$KILN" eval ames.kiln "$DATA/ames/test.csv" --json >eval.json

python3 - "$DATA/ames/test.csv" pred.csv eval.json <<'PY' || fail "metrics disagree with predictions"
import csv, json, math, sys
y = [float(r["Sale_Price"]) for r in csv.DictReader(open(sys.argv[1]))]
p = [float(r["Sale_Price"]) for r in csv.DictReader(open(sys.argv[2]))]
m = json.load(open(sys.argv[3]))["metrics"]
n = len(y)
mean = sum(y) / n
rmse = math.sqrt(sum((a - b) ** 2 for a, b in zip(y, p)) / n)
mae = sum(abs(a - b) for a, b in zip(y, p)) / n
r2 = 1 - sum((a - b) ** 2 for a, b in zip(y, p)) / sum((a - mean) ** 2 for a in y)
# predict prints a rounded value; allow for that
assert abs(m["rmse"] - rmse) / rmse < 1e-4, (m["rmse"], rmse)
assert abs(m["mae"] - mae) / mae < 1e-4, (m["mae"], mae)
assert abs(m["r2"] - r2) < 1e-4, (m["r2"], r2)
assert m["n"] == 586 and "accuracy" not in m and "confusion" not in m
PY

expect_ok "$KILN" eval ames.kiln "$DATA/ames/test.csv" >table
for word in rmse mae r2; do expect_contains table "$word"; done
if grep -q confusion table; then fail "confusion matrix printed for a regressor"; fi

expect_ok "$KILN" eval ames.kiln "$DATA/ames/test.csv" --min r2=0.5 --max rmse=1e6 --max mae=1e6 >/dev/null
expect_fail --code 1 "$KILN" eval ames.kiln "$DATA/ames/test.csv" --max rmse=1000 --min r2=0.5 >/dev/null 2>err
grep -qE '^gate failed: rmse [0-9]+\.[0-9]{4} > 1000$' err || fail "bad gate message: $(cat err)"
expect_lines err 1
expect_fail --code 2 "$KILN" eval ames.kiln "$DATA/ames/test.csv" --min auc=0.5 2>err
expect_contains err "metric 'auc' is not available"

# A target that is not a number, and a missing target, name file:line.
python3 - "$DATA/ames/test.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
t = rows[0].index("Sale_Price")
for name, value in (("nan.csv", "cheap"), ("empty.csv", "")):
    out = [list(r) for r in rows[:6]]
    out[3][t] = value
    csv.writer(open(name, "w", newline=""), lineterminator="\n").writerows(out)
PY
expect_fail --code 1 "$KILN" eval ames.kiln nan.csv 2>err
expect_contains err "nan.csv:4: target 'Sale_Price' is not a number: 'cheap'"
expect_fail --code 1 "$KILN" eval ames.kiln empty.csv 2>err
expect_contains err "empty.csv:4: missing value in target column 'Sale_Price'"
