#!/usr/bin/env bash
# t2102: the stratified split, multiclass targets, the manifest's keys, and
# byte-identical bundles from two runs with the same seed.
. "$KILN_TOP/tests/e2e/lib.sh"

export SOURCE_DATE_EPOCH=1700000000
for algo in logreg gbdt; do
	expect_ok "$KILN" train "$DATA/churn/train.csv" --algo $algo --seed 7 -o a.kiln >/dev/null
	expect_ok "$KILN" train "$DATA/churn/train.csv" --algo $algo --seed 7 -o b.kiln >/dev/null
	cmp a.kiln b.kiln || fail "$algo: two runs with the same seed differ"
done
expect_ok "$KILN" train "$DATA/churn/train.csv" --algo gbdt --seed 8 -o c.kiln >/dev/null
cmp -s a.kiln c.kiln && fail "another seed gave the same bundle"

# Manifest: keys, stratified split (class shares kept), lineage, checks.
python3 - a.kiln "$DATA/churn/train.csv" <<'PY' || fail "bad manifest"
import hashlib, json, struct, sys
b = open(sys.argv[1], "rb").read()
m = json.loads(b[24:24 + struct.unpack_from("<Q", b, 16)[0]])
for k in ("kiln_version", "created_at", "task", "algorithm", "hyperparameters", "label_name",
          "target", "classes", "features", "schema", "metrics", "reference", "checks", "lineage"):
    assert k in m, k
assert m["created_at"] == "2023-11-14T22:13:20Z", m["created_at"]
assert m["split"] == {"train_rows": 3200, "test_rows": 800, "method": "stratified", "test_size": 0.2}, m["split"]
assert m["classes"] == ["no", "yes"]
# 566 of 4000 rows are "yes": a stratified 20 % test split holds round(113.2) of them.
assert m["metrics"]["per_class"]["yes"]["support"] == 113, m["metrics"]["per_class"]
assert m["lineage"]["data_sha256"] == hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
assert len(m["checks"]) == 5 and "input" in m["checks"][0]
assert abs(sum(m["reference"]["frequencies"]) - 1) < 1e-9
assert m["features"]["columns"][0]["kind"] == "categorical"
PY

# Three classes, both learners; predictions carry one probability per class.
for algo in logreg svm gbdt; do
	expect_ok "$KILN" train "$DATA/churn/churn.csv" --target area_code --algo $algo -o m.kiln >/dev/null
	expect_ok "$KILN" predict m.kiln "$DATA/churn/test.csv" >p.csv
	expect_lines p.csv 1001
	head -1 p.csv >h
	echo "area_code,p_area_code_408,p_area_code_415,p_area_code_510" >want
	expect_same want h
done

# A training file inside a git repository records the commit.
mkdir repo && cp "$DATA/credit/train.csv" repo/ && git -C repo init -q &&
	git -C repo add train.csv && git -C repo -c user.name=t -c user.email=t@t commit -qm data ||
	fail "git setup"
expect_ok "$KILN" train repo/train.csv --target Status -o g.kiln >/dev/null
python3 - g.kiln "$(git -C repo rev-parse HEAD)" <<'PY' || fail "no git lineage"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
m = json.loads(b[24:24 + struct.unpack_from("<Q", b, 16)[0]])
assert m["lineage"]["git_commit"] == sys.argv[2], m["lineage"]
assert m["lineage"]["git_dirty"] is False
PY

# stdout carries results only: liblinear's own output (--verbose) goes to
# stderr, and without --verbose or a terminal nothing is printed there.
expect_ok "$KILN" train "$DATA/credit/train.csv" --target Status --verbose --json -o v.kiln >v.json 2>v.err
python3 -c 'import json; json.load(open("v.json"))' || fail "--verbose polluted stdout"
expect_contains v.err "iter"
for algo in logreg gbdt; do
	expect_ok "$KILN" train "$DATA/credit/train.csv" --target Status --algo $algo -o q.kiln >/dev/null 2>q.err
	[ ! -s q.err ] || fail "$algo printed on stderr: $(head -3 q.err)"
done
