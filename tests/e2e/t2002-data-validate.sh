#!/usr/bin/env bash
# t2002: kiln data validate: each data set's test.csv passes against its own
# train.csv schema (from a schema file and from a bundle), and doctored files
# fail with the right check: removed column, text in a numeric column, a new
# category, shifted values, blanked values.
. "$KILN_TOP/tests/e2e/lib.sh"

py() { /usr/bin/python3 "$@"; }

# doctor IN OUT PYTHON: rewrites IN into OUT; PYTHON edits `rows` (list of
# dicts) and `cols` (header list) in place.
doctor() {
	py - "$1" "$2" "$3" <<'PY'
import csv, sys
src, dst, code = sys.argv[1:4]
with open(src, newline="") as f:
    r = csv.DictReader(f)
    cols, rows = list(r.fieldnames), list(r)
exec(code)
with open(dst, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
PY
}

# check_of REPORT.json: the checks in the report, one per line.
checks_of() {
	py -c 'import json,sys; [print(v["column"], v["check"]) for v in json.load(open(sys.argv[1]))["violations"]]' "$1"
}

for d in ames:Sale_Price churn:churn credit:Status sentiment:label; do
	name=${d%%:*} target=${d#*:}
	expect_ok "$KILN" data schema "$DATA/$name/train.csv" --target "$target" --json >"$name.json"
	expect_ok "$KILN" data validate --schema "$name.json" "$DATA/$name/test.csv" >out
	expect_contains out "ok: $DATA/$name/test.csv matches the schema"
	expect_ok "$KILN" data validate --schema "$name.json" "$DATA/$name/test.csv" --json >rep.json
	py -c 'import json,sys; r=json.load(open("rep.json")); assert r["ok"] is True and r["violations"]==[] and r["target_checked"]' || fail "$name report"
done

# Rare unseen categories in ames test.csv are notes, not violations.
expect_ok "$KILN" data validate --schema ames.json "$DATA/ames/test.csv" >out
expect_contains out "note: Neighborhood"
expect_contains out "'Landmark'"

# A bundle works as the schema source: manifest "schema" key, detected by magic.
py - churn.json churn.kiln <<'PY' || fail "cannot build bundle"
import hashlib, json, struct, sys
m = json.dumps({"task": "classification", "schema": json.load(open(sys.argv[1]))}).encode()
body = b"KILNMDL\0" + struct.pack("<IIQ", 1, 0, len(m)) + m + struct.pack("<Q", 3) + b"abc"
open(sys.argv[2], "wb").write(body + hashlib.sha256(body).digest())
PY
expect_ok "$KILN" data validate --schema churn.kiln "$DATA/churn/test.csv" >out
expect_contains out "ok:"

# A bundle written by `kiln train` (when this build has it) works the same.
if "$KILN" help train >/dev/null 2>&1; then
	expect_ok "$KILN" train "$DATA/credit/train.csv" --target Status -o credit.kiln >/dev/null
	expect_ok "$KILN" data validate --schema credit.kiln "$DATA/credit/test.csv" >out
	expect_contains out "ok:"
	doctor "$DATA/credit/test.csv" nohome.csv 'cols.remove("Home")'
	expect_fail --code 1 "$KILN" data validate --schema credit.kiln nohome.csv >out
	expect_contains out "column 'Home' is missing"
fi

# Without the target column (data to predict on) it still passes.
doctor "$DATA/churn/test.csv" nolabel.csv 'cols.remove("churn")'
expect_ok "$KILN" data validate --schema churn.kiln nolabel.csv --json >rep.json
py -c 'import json; r=json.load(open("rep.json")); assert r["ok"] and not r["target_checked"]' || fail "no target"

# Removed column.
doctor "$DATA/churn/test.csv" removed.csv 'cols.remove("total_day_minutes")'
expect_fail --code 1 "$KILN" data validate --schema churn.json removed.csv >out
expect_contains out "missing_column"
expect_contains out "column 'total_day_minutes' is missing"
expect_contains out "FAILED: 1 violation"

# Extra column.
doctor "$DATA/churn/test.csv" extra.csv 'cols.append("bonus"); [r.__setitem__("bonus", "1") for r in rows]'
expect_fail --code 1 "$KILN" data validate --schema churn.json extra.csv --json >rep.json
checks_of rep.json >checks
echo "bonus extra_column" >want
expect_same want checks

# Text in a numeric column: counted, first file:line named.
doctor "$DATA/credit/test.csv" text.csv 'rows[4]["Income"] = "lots"; rows[9]["Income"] = "n/a"'
expect_fail --code 1 "$KILN" data validate --schema credit.json text.csv --json >rep.json
py - rep.json <<'PY' || fail "type report"
import json, sys
r = json.load(open(sys.argv[1]))
[v] = r["violations"]
assert v["column"] == "Income" and v["check"] == "type" and v["count"] == 2, v
assert v["line"] == 6 and v["example"] == "lots", v
assert v["message"].endswith("text.csv:6: 'lots')"), v["message"]
PY

# A new category in bulk (5 % of rows), listed by name.
doctor "$DATA/churn/test.csv" newcat.csv 'for r in rows[:50]: r["area_code"] = "area_code_999"'
expect_fail --code 1 "$KILN" data validate --schema churn.json newcat.csv >out
expect_contains out "unseen_category"
expect_contains out "'area_code_999'"
# ... and a single new class in the target is always a violation.
doctor "$DATA/churn/test.csv" newclass.csv 'rows[0]["churn"] = "maybe"'
expect_fail --code 1 "$KILN" data validate --schema churn.json newclass.csv --json >rep.json
checks_of rep.json >checks
echo "churn unseen_category" >want
expect_same want checks

# Shifted values: minutes reported in seconds.
doctor "$DATA/churn/test.csv" shifted.csv 'for r in rows: r["total_day_minutes"] = str(float(r["total_day_minutes"]) * 60)'
expect_fail --code 1 "$KILN" data validate --schema churn.json shifted.csv --json >rep.json
checks_of rep.json >checks
echo "total_day_minutes range" >want
expect_same want checks

# Blanked values: 30 % of Income emptied.
doctor "$DATA/credit/test.csv" blank.csv 'for i, r in enumerate(rows): r["Income"] = "" if i % 3 == 0 else r["Income"]'
expect_fail --code 1 "$KILN" data validate --schema credit.json blank.csv >out
expect_contains out "missing_rate"
expect_contains out "Income"

# The schema source must be sound: corrupt, truncated, foreign, newer, bad JSON.
head -c 200 churn.kiln >trunc.kiln
expect_fail --code 1 "$KILN" data validate --schema trunc.kiln "$DATA/churn/test.csv" 2>err
expect_contains err "'trunc.kiln' is corrupt or truncated"
expect_lines err 1
printf '\x89PNG\r\n\x1a\n0000000000000000000000000000000000000000000000' >x.png
expect_fail --code 1 "$KILN" data validate --schema x.png "$DATA/churn/test.csv" 2>err
expect_contains err "'x.png' is neither a kiln bundle nor a schema JSON file"
py - churn.kiln v9.kiln <<'PY'
import hashlib, sys
b = bytearray(open(sys.argv[1], "rb").read())
b[8] = 9
open(sys.argv[2], "wb").write(bytes(b[:-32]) + hashlib.sha256(bytes(b[:-32])).digest())
PY
expect_fail --code 1 "$KILN" data validate --schema v9.kiln "$DATA/churn/test.csv" 2>err
expect_contains err "bundle format version 9"
py -c 'import json; s=json.load(open("churn.json")); s["columns"][2]["kind"]="blob"; json.dump(s, open("bad.json","w"))'
expect_fail --code 1 "$KILN" data validate --schema bad.json "$DATA/churn/test.csv" 2>err
expect_contains err "bad.json: schema: columns[2].kind"
expect_fail --code 1 "$KILN" data validate --schema nonexistent.json "$DATA/churn/test.csv" 2>err
expect_contains err "cannot read 'nonexistent.json'"
expect_fail --code 2 "$KILN" data validate "$DATA/churn/test.csv" 2>err
expect_contains err "needs --schema"
