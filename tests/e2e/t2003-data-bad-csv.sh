#!/usr/bin/env bash
# t2003: bad CSV input is one clear error line with file:line and exit 1,
# never a crash: malformed quoting, wrong field counts, NUL bytes, invalid
# UTF-8, a 10 MB field, empty file, header only, bad header names. Also the
# accepted dialect: CRLF, BOM, quoted newlines.
. "$KILN_TOP/tests/e2e/lib.sh"

# bad FILE MESSAGE: `data schema FILE` fails with exit 1 and one line naming MESSAGE.
bad() {
	expect_fail --code 1 "$KILN" data schema "$1" >out 2>err
	expect_contains err "$2"
	expect_lines err 1
	[ ! -s out ] || fail "stdout not empty for $1"
}

printf 'a,b,y\n1,"open,x\n2,3,z\n' >unterminated.csv
bad unterminated.csv "unterminated.csv:2: unterminated quoted field"
printf 'a,b,y\n1,x"y,z\n' >stray.csv
bad stray.csv "stray.csv:2: quote inside unquoted field 2"
printf 'a,b,y\n1,"x"y,z\n' >after.csv
bad after.csv "after.csv:2: unexpected character after closing quote"
printf 'a,b,y\n1,2,p\n1,2\n' >short.csv
bad short.csv "short.csv:3: expected 3 fields, found 2"
printf 'a,b,y\n1,2,p\n1,2,q,4\n' >long.csv
bad long.csv "long.csv:3: expected 3 fields, found 4"
printf 'a,b,y\n1,2,p\n3,\0,q\n' >nul.csv
bad nul.csv "nul.csv:3: NUL byte"
printf 'a,b,y\n1,2,p\n3,caf\xe9,q\n' >latin1.csv
bad latin1.csv "latin1.csv:3: invalid UTF-8 in field 2"
: >empty.csv
bad empty.csv "empty.csv:1: empty file"
printf 'a,b,y\n' >header.csv
bad header.csv "header.csv:2: header row without data rows"
printf 'a,b,a\n1,2,3\n' >dup.csv
bad dup.csv "dup.csv:1: duplicate column name 'a'"
printf 'a,,y\n1,2,3\n' >noname.csv
bad noname.csv "noname.csv:1: empty column name (column 2)"
printf 'a,b,y\r1,2,3\r' >cr.csv
bad cr.csv "cr.csv:1: carriage return not followed by a line feed"
bad missing-file.csv "cannot open 'missing-file.csv'"
/usr/bin/python3 -c '
import sys
with open("huge.csv", "w") as f:
    f.write("a,y\n1,p\n2,\"" + "x" * (10 << 20) + "\"\n")'
bad huge.csv "huge.csv:3: field 2 is longer than 1048576 bytes"

# The same errors through validate (the new file is checked by the same reader).
expect_ok "$KILN" data schema "$DATA/churn/train.csv" --json >churn.json
expect_fail --code 1 "$KILN" data validate --schema churn.json short.csv 2>err
expect_contains err "short.csv:3: expected 3 fields, found 2"

# Accepted: CRLF, BOM, quoted commas, quotes and newlines; "WD " kept.
printf '\xef\xbb\xbfkind,note,y\r\n"WD ","a, ""quoted""\r\nline",yes\r\nCOD,plain,no\r\n' >ok.csv
expect_ok "$KILN" data schema ok.csv --json >ok.json
/usr/bin/python3 - ok.json <<'PY' || fail "dialect"
import json, sys
s = json.load(open(sys.argv[1]))
assert [c["name"] for c in s["columns"]] == ["kind", "note"], s["columns"]
assert sorted(s["columns"][0]["categories"]) == ["COD", "WD "]
assert "a, \"quoted\"\r\nline" in s["columns"][1]["categories"], s["columns"][1]
assert s["classes"] == ["no", "yes"]
PY
