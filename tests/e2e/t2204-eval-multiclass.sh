#!/usr/bin/env bash
# t2204: kiln eval on a three-class model: accuracy, macro F1 and macro
# one-vs-rest ROC-AUC agree with a computation from `kiln predict` output;
# the confusion matrix is 3×3 with rows = true class.
. "$KILN_TOP/tests/e2e/lib.sh"

# Deterministic, overlapping classes: a left, c right, b in between.
python3 - <<'PY'
import random
random.seed(7)
for name, n in (("train.csv", 600), ("test.csv", 300)):
    with open(name, "w") as f:
        f.write("x1,x2,kind\n")
        for i in range(n):
            k = "abc"[i % 3]
            mu = {"a": -1.0, "b": 0.0, "c": 1.0}[k]
            f.write("%.4f,%.4f,%s\n" % (random.gauss(mu, 0.7), random.gauss(0, 1), k))
PY
expect_ok "$KILN" train train.csv --test test.csv --target kind --algo logreg -o m.kiln >/dev/null
expect_ok "$KILN" predict m.kiln test.csv >pred.csv
expect_ok "$KILN" eval m.kiln test.csv --json >eval.json

python3 - test.csv pred.csv eval.json <<'PY' || fail "multiclass metrics disagree with predictions"
import csv, json, sys
y = [r["kind"] for r in csv.DictReader(open(sys.argv[1]))]
p = list(csv.DictReader(open(sys.argv[2])))
m = json.load(open(sys.argv[3]))["metrics"]
yp = [r["kind"] for r in p]
cls = ["a", "b", "c"]

def auc(pos, s):
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
    npos = sum(pos)
    return (sum(r for r, q in zip(rank, pos) if q) - npos * (npos + 1) / 2) / (npos * (len(s) - npos))

acc = sum(a == b for a, b in zip(y, yp)) / len(y)
f1s = []
for c in cls:
    tp = sum(a == b == c for a, b in zip(y, yp))
    f1s.append(2 * tp / (y.count(c) + yp.count(c)))
macro_auc = sum(auc([v == c for v in y], [float(r["p_" + c]) for r in p]) for c in cls) / 3
cm = [[sum(a == t and b == q for a, b in zip(y, yp)) for q in cls] for t in cls]
assert m["classes"] == cls, m["classes"]
assert abs(m["accuracy"] - acc) < 1e-9, (m["accuracy"], acc)
assert abs(m["f1"] - sum(f1s) / 3) < 1e-9, (m["f1"], f1s)
assert abs(m["auc"] - macro_auc) < 1e-3, (m["auc"], macro_auc)
assert m["confusion"] == cm, (m["confusion"], cm)
assert 0.5 < acc < 0.95, acc  # overlapping classes: neither trivial nor hopeless
PY
expect_ok "$KILN" eval m.kiln test.csv --min f1:b=0.01 --min auc=0.6 >table
expect_contains table "confusion (rows: true, columns: predicted)"
grep -qE '^c +[0-9]+ +[0-9]+ +[0-9]+$' table || fail "no 3-column confusion row for c"
