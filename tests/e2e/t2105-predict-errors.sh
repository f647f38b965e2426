#!/usr/bin/env bash
# t2105: bad input to kiln predict and bad bundles: a clear error with the
# line number, exit 1, no partial output file, never a crash.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_ok "$KILN" train "$DATA/churn/train.csv" --algo gbdt -o churn.kiln >/dev/null
expect_ok "$KILN" train "$DATA/sentiment/train.csv" -o sent.kiln >/dev/null

# Text in a numeric column: CSV and JSON lines, with file:line.
{ head -3 "$DATA/churn/test.csv"; head -2 "$DATA/churn/test.csv" | tail -1 | sed 's/,121,/,lots,/'; } >bad.csv
expect_fail --code 1 "$KILN" predict churn.kiln bad.csv -o out.csv 2>err
expect_contains err "bad.csv:4:"
expect_contains err "column 'account_length': 'lots' is not a number"
[ ! -e out.csv ] || fail "partial output file"
printf '{"account_length": 10}\n{"account_length": "ten"}\n' >bad.jsonl
expect_fail --code 1 "$KILN" predict churn.kiln bad.jsonl -o out.jsonl 2>err
expect_contains err "bad.jsonl:2:"
expect_contains err "'ten' is not a number"
[ ! -e out.jsonl ] || fail "partial output file"
printf '{"text": "fine"}\n{"text": \n' >broken.jsonl
expect_fail --code 1 "$KILN" predict sent.kiln broken.jsonl 2>err
expect_contains err "broken.jsonl:2:"
printf '{"text": "fine"}\n[1, 2]\n' >array.jsonl
expect_fail --code 1 "$KILN" predict sent.kiln array.jsonl 2>err
expect_contains err "array.jsonl:2: expected a JSON object"
printf '{"text": ["a"]}\n' >list.jsonl
expect_fail --code 1 "$KILN" predict sent.kiln list.jsonl 2>err
expect_contains err "field 'text'"
: >empty.csv
expect_fail --code 1 "$KILN" predict sent.kiln empty.csv 2>err
expect_contains err "no input rows"

# Bad bundles.
expect_fail --code 1 "$KILN" predict no-such.kiln empty.csv 2>err
expect_fail --code 1 "$KILN" predict "$DATA/churn/test.csv" empty.csv 2>err
expect_contains err "not a kiln model bundle"
head -c 5000 churn.kiln >trunc.kiln
expect_fail --code 1 "$KILN" predict trunc.kiln "$DATA/churn/test.csv" 2>err
# A newer manifest format, re-sealed with a valid checksum, is refused.
python3 - churn.kiln newer.kiln <<'PY' || fail "cannot build newer bundle"
import hashlib, json, struct, sys
b = open(sys.argv[1], "rb").read()
m = struct.unpack_from("<Q", b, 16)[0]
man = json.loads(b[24:24 + m]); man["model_format"] = 99
mb = json.dumps(man).encode()
body = b[:16] + struct.pack("<Q", len(mb)) + mb + b[24 + m:-32]
open(sys.argv[2], "wb").write(body + hashlib.sha256(body).digest())
# A bundle whose stored check no longer matches what the model predicts.
man["model_format"] = json.loads(b[24:24 + m])["model_format"]
man["checks"][0]["output"]["probabilities"] = [0.5, 0.5]
mb = json.dumps(man).encode()
body = b[:16] + struct.pack("<Q", len(mb)) + mb + b[24 + m:-32]
open("tampered.kiln", "wb").write(body + hashlib.sha256(body).digest())
PY
expect_fail --code 1 "$KILN" predict newer.kiln "$DATA/churn/test.csv" 2>err
expect_contains err "upgrade kiln"
expect_fail --code 1 "$KILN" predict tampered.kiln "$DATA/churn/test.csv" 2>err
expect_contains err "bundle check 0 failed"

expect_fail --code 2 "$KILN" predict 2>err
expect_fail --code 2 "$KILN" predict a b c 2>err
