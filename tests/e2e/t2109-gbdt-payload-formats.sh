#!/usr/bin/env bash
# t2109: gbdt payloads. A model_format 1 bundle with XGBoost's JSON model
# (made by an older kiln, checked in under t2109/) still predicts what it
# predicted; new bundles are model_format 3 with XGBoost's UBJSON model,
# which Python's XGBoost loads and predicts with as kiln does; the same
# trees as a JSON payload predict byte-identically; a payload that is not
# what its model_format says is refused with one clear error.
. "$KILN_TOP/tests/e2e/lib.sh"

fix=$KILN_TOP/tests/e2e/t2109
head -101 "$DATA/churn/test.csv" >test.csv
expect_ok "$KILN" predict "$fix/churn-json.kiln" test.csv >old.pred
expect_same "$fix/churn-json.pred" old.pred

# The rest needs Python's XGBoost (python3-xgboost, `make bench`'s packages).
if ! /usr/bin/python3 -c 'import xgboost' 2>/dev/null; then
	echo "t2109: no python3-xgboost: UBJSON interoperability not checked" >&2
	exit 0
fi

# A numeric data set: XGBoost's features are the columns themselves.
python3 - <<'PY'
import random
random.seed(3)
for name, n in (("train.csv", 400), ("num.csv", 50)):
    with open(name, "w") as f:
        f.write("x1,x2,y\n")
        for i in range(n):
            a, b = random.uniform(-2, 2), random.uniform(0, 10)
            f.write("%.3f,%.3f,%.4f\n" % (a, b, a * a + 0.3 * b + random.gauss(0, 0.1)))
PY
expect_ok "$KILN" train train.csv --algo gbdt --target y --trees 40 -o num.kiln >/dev/null
expect_ok "$KILN" predict num.kiln num.csv >num.pred
expect_ok "$KILN" train "$DATA/churn/train.csv" --algo gbdt --target churn --trees 30 \
	-o churn.kiln >/dev/null
expect_ok "$KILN" predict churn.kiln test.csv >ubj.pred

# Python's XGBoost (Debian's, under /usr/bin/python3) reads the payload.
/usr/bin/python3 - num.kiln num.csv num.pred churn.kiln <<'PY' || fail "xgboost disagrees"
import csv, hashlib, json, struct, sys
import xgboost

def split(path):
    b = open(path, "rb").read()
    m = struct.unpack_from("<Q", b, 16)[0]
    p = struct.unpack_from("<Q", b, 24 + m)[0]
    return b, json.loads(b[24:24 + m]), b[32 + m:32 + m + p]

def reseal(b, man, payload, path):
    mb = json.dumps(man).encode()
    body = b[:16] + struct.pack("<Q", len(mb)) + mb + struct.pack("<Q", len(payload)) + payload
    open(path, "wb").write(body + hashlib.sha256(body).digest())

b, man, payload = split(sys.argv[1])
assert man["model_format"] == 3, man["model_format"]
assert payload[:2] == b"{L", payload[:16]
bst = xgboost.Booster()
bst.load_model(bytearray(payload))
assert bst.num_boosted_rounds() == man["hyperparameters"]["best_round"]
rows = list(csv.DictReader(open(sys.argv[2])))
x = [[float(r["x1"]), float(r["x2"])] for r in rows]
theirs = bst.predict(xgboost.DMatrix(x))
mine = [float(r["y"]) for r in csv.DictReader(open(sys.argv[3]))]
for i, (a, c) in enumerate(zip(mine, theirs)):
    assert abs(a - c) <= 1e-5 * (1 + abs(c)), (i, a, c)

# The same trees as XGBoost's JSON in a format 1 bundle, and the payloads
# of the wrong kind for their model_format.
b, man, payload = split(sys.argv[4])
bst = xgboost.Booster()
bst.load_model(bytearray(payload))
man["model_format"] = 1
reseal(b, man, bytes(bst.save_raw("json")), "json.kiln")
reseal(b, man, payload, "ubj-as-json.kiln")
man["model_format"] = 3
reseal(b, man, bytes(bst.save_raw("json")), "json-as-ubj.kiln")
PY
expect_ok "$KILN" predict json.kiln test.csv >json.pred
cmp ubj.pred json.pred || fail "JSON and UBJSON payloads predict differently"
expect_fail --code 1 "$KILN" predict json-as-ubj.kiln test.csv 2>err
expect_contains err "json-as-ubj.kiln: payload: byte 1: expected an integer length"
expect_fail --code 1 "$KILN" predict ubj-as-json.kiln test.csv 2>err
expect_contains err "ubj-as-json.kiln: payload: xgboost model: line 1:"
