#!/usr/bin/env bash
# t2107: a text model's bundle (model_format 2: idf as idf_values and
# idf_index) is byte-reproducible, and a model_format 1 bundle (idf as one
# double per bucket) of the same model still loads and
# predicts the same; a tabular model stays format 1.
. "$KILN_TOP/tests/e2e/lib.sh"

export SOURCE_DATE_EPOCH=1700000000
expect_ok "$KILN" train "$DATA/sentiment/train.csv" --target label -o a.kiln >/dev/null
expect_ok "$KILN" train "$DATA/sentiment/train.csv" --target label -o b.kiln >/dev/null
cmp a.kiln b.kiln || fail "two runs with the same seed differ"

# The same bundle rewritten in format 1, re-sealed with a valid checksum.
python3 - a.kiln old.kiln <<'PY' || fail "cannot build a format 1 bundle"
import hashlib, json, struct, sys
b = open(sys.argv[1], "rb").read()
m = struct.unpack_from("<Q", b, 16)[0]
man = json.loads(b[24:24 + m])
assert man["model_format"] == 2, man["model_format"]
col = man["features"]["columns"][0]
assert col["kind"] == "text" and "idf" not in col
vals = col.pop("idf_values")
col["idf"] = [vals[i] for i in col.pop("idf_index")]
assert len(col["idf"]) == len(col["idf_buckets"]) > 1000
assert len(vals) < len(col["idf"]) / 10, "few distinct idf values"
man["model_format"] = 1
mb = json.dumps(man).encode()
body = b[:16] + struct.pack("<Q", len(mb)) + mb + b[24 + m:-32]
open(sys.argv[2], "wb").write(body + hashlib.sha256(body).digest())
PY
expect_ok "$KILN" predict a.kiln "$DATA/sentiment/test.csv" >new.csv
expect_ok "$KILN" predict old.kiln "$DATA/sentiment/test.csv" >old.csv
expect_lines new.csv 601
expect_same new.csv old.csv

# A tabular model stays format 1, readable by older kilns.
expect_ok "$KILN" train "$DATA/credit/train.csv" --target Status -o c.kiln >/dev/null
python3 - c.kiln <<'PY' || fail "tabular bundle is not format 1"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
assert json.loads(b[24:24 + struct.unpack_from("<Q", b, 16)[0]])["model_format"] == 1
PY
