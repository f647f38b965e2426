#!/usr/bin/env bash
# t2101: kiln train on the shared data sets reaches its quality targets
# (asserted comfortably below the measured values), and --json is parseable.
. "$KILN_TOP/tests/e2e/lib.sh"

# metric FILE KEY: a metric from `kiln train --json` output (KEY "f1:yes" = per class).
metric() {
	python3 - "$1" "$2" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
k = sys.argv[2]
if ":" in k:
    name, cls = k.split(":", 1)
    print(m["per_class"][cls][name])
else:
    print(m[k])
PY
}
# at_least FILE KEY MIN
at_least() {
	local v
	v=$(metric "$1" "$2") || fail "no metric $2 in $1"
	python3 -c "import sys; sys.exit(0 if float('$v') >= $3 else 1)" || fail "$2 = $v < $3"
}

expect_ok "$KILN" train "$DATA/sentiment/train.csv" --test "$DATA/sentiment/test.csv" \
	--label-name sentiment -o sent.kiln --json >sent.json
at_least sent.json accuracy 0.80
expect_ok "$KILN" train "$DATA/sentiment/train.csv" --test "$DATA/sentiment/test.csv" \
	--algo svm -o svm.kiln --json >svm.json
at_least svm.json accuracy 0.80

expect_ok "$KILN" train "$DATA/churn/train.csv" --test "$DATA/churn/test.csv" --algo gbdt \
	-o churn.kiln --json >churn.json
at_least churn.json auc 0.90
at_least churn.json f1:yes 0.78
python3 -c 'import json,sys; h=json.load(open("churn.json"))["hyperparameters"]; sys.exit(0 if 1 <= h["best_round"] < 200 else 1)' ||
	fail "early stopping did not pick a best round"

expect_ok "$KILN" train "$DATA/ames/train.csv" --test "$DATA/ames/test.csv" --target Sale_Price \
	--algo gbdt -o ames.kiln --json >ames.json
at_least ames.json r2 0.90
expect_ok "$KILN" train "$DATA/ames/train.csv" --test "$DATA/ames/test.csv" --target Sale_Price \
	-o ames-lin.kiln --json >ames-lin.json
at_least ames-lin.json r2 0.70

# credit has empty fields: missing values must work for both learners.
expect_ok "$KILN" train "$DATA/credit/train.csv" --test "$DATA/credit/test.csv" --target Status \
	--algo gbdt -o credit.kiln --json >credit.json
at_least credit.json auc 0.83
expect_ok "$KILN" train "$DATA/credit/train.csv" --test "$DATA/credit/test.csv" --target Status \
	-o credit-lin.kiln --json >credit-lin.json
at_least credit-lin.json auc 0.83

# The table form names the metrics.
expect_ok "$KILN" train "$DATA/sentiment/train.csv" -o split.kiln >table
expect_contains table "accuracy"
expect_contains table "1920 train, 480 test"
