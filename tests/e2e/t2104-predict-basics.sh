#!/usr/bin/env bash
# t2104: kiln predict over CSV and JSON lines, from a file or stdin, with
# the label name as key; predictions agree between the two input forms and
# with the test metrics recorded at training time.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_ok "$KILN" train "$DATA/sentiment/train.csv" --test "$DATA/sentiment/test.csv" \
	--label-name sentiment -o sent.kiln --json >train.json

expect_ok "$KILN" predict sent.kiln "$DATA/sentiment/test.csv" -o pred.csv
expect_lines pred.csv 601
head -1 pred.csv >h
echo "sentiment,p_negative,p_positive" >want
expect_same want h
# Accuracy from the predictions equals the one training reported.
python3 - pred.csv "$DATA/sentiment/test.csv" train.json <<'PY' || fail "accuracy mismatch"
import csv, json, sys
pred = list(csv.DictReader(open(sys.argv[1])))
truth = list(csv.DictReader(open(sys.argv[2])))
acc = sum(p["sentiment"] == t["label"] for p, t in zip(pred, truth)) / len(truth)
want = json.load(open(sys.argv[3]))["metrics"]["accuracy"]
assert abs(acc - want) < 1e-12, (acc, want)
for p in pred:
    assert abs(float(p["p_negative"]) + float(p["p_positive"]) - 1) < 1e-5
PY

# JSON lines in, JSON lines out; stdin works; blank lines are skipped.
printf '{"text": "I loved this movie"}\n\n{"text": "Terrible food and rude staff.", "extra": 1}\n' |
	"$KILN" predict sent.kiln >out.jsonl || fail "predict from stdin"
expect_lines out.jsonl 2
python3 - out.jsonl <<'PY' || fail "bad JSON lines output"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows[0]["sentiment"] == "positive" and 0.5 < rows[0]["probability"] <= 1, rows
assert rows[1]["sentiment"] == "negative", rows
assert list(rows[0]) == ["sentiment", "probability"]
PY

# The same rows as CSV and as JSON lines give the same answers.
python3 - "$DATA/sentiment/test.csv" <<'PY' >test.jsonl
import csv, json, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(json.dumps({"text": r["text"]}))
PY
expect_ok "$KILN" predict sent.kiln test.jsonl -o pred.jsonl
python3 - pred.csv pred.jsonl <<'PY' || fail "CSV and JSON lines disagree"
import csv, json, sys
a = list(csv.DictReader(open(sys.argv[1])))
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 600
for x, y in zip(a, b):
    assert x["sentiment"] == y["sentiment"]
    assert abs(float(x["p_" + y["sentiment"]]) - y["probability"]) < 1e-5
PY

# Regression: the value under the target's name; gbdt with missing values.
expect_ok "$KILN" train "$DATA/ames/train.csv" --target Sale_Price --algo gbdt -o ames.kiln >/dev/null
head -3 "$DATA/ames/test.csv" | "$KILN" predict ames.kiln >p.csv || fail "ames predict"
expect_lines p.csv 3
expect_contains p.csv "Sale_Price"
printf '{"Gr_Liv_Area": 1500, "Neighborhood": "College_Creek"}\n' | "$KILN" predict ames.kiln >p.jsonl ||
	fail "ames JSON lines with missing columns"
python3 -c 'import json,sys; v=json.load(open("p.jsonl"))["Sale_Price"]; sys.exit(0 if 10000 < v < 1000000 else 1)' ||
	fail "implausible price: $(cat p.jsonl)"
expect_ok "$KILN" train "$DATA/credit/train.csv" --target Status --algo gbdt -o credit.kiln >/dev/null
printf '{"Income": null, "Home": "owner", "Age": 30}\n' | "$KILN" predict credit.kiln >c.jsonl ||
	fail "credit with nulls"
expect_contains c.jsonl '"Status": '
