#!/usr/bin/env bash
# t2108: kiln predict parses CSV on two threads, in blocks of rows cut in
# two parts. Inputs of several blocks with a BOM, CRLF line ends, blank
# lines, quoted fields of several lines (so cuts and block ends fall inside
# quotes) and no final line end must predict what the single-threaded JSON
# lines path predicts for the same rows; errors name the exact physical line.
. "$KILN_TOP/tests/e2e/lib.sh"
PY=/usr/bin/python3

expect_ok "$KILN" train "$DATA/ames/train.csv" --algo gbdt --target Sale_Price \
	-o ames.kiln >/dev/null
expect_ok "$KILN" train "$DATA/sentiment/train.csv" -o sent.kiln >/dev/null

# craft SRC ROWS OUT: the data rows of SRC repeated to ROWS rows; every 7th
# row has a line feed (or CRLF) inside a quoted text field; CRLF line ends,
# a BOM, a blank line every 1000 rows, no final line end. Also writes
# OUT.jsonl, the same rows as JSON lines (values as strings, empty = null).
craft() {
	"$PY" - "$@" <<'PY' || fail "cannot craft $3"
import csv, io, json, sys
src, rows, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = list(csv.reader(open(src, newline="", encoding="utf-8")))
head, body = data[0], data[1:]
texts = [j for j, v in enumerate(body[0]) if not v.replace(".", "").replace("-", "").isdigit()]
buf = io.StringIO()
w = csv.writer(buf, lineterminator="\r\n")
w.writerow(head)
js = []
for i in range(rows):
    r = list(body[i % len(body)])
    if i % 7 == 0 and texts:
        j = texts[i % len(texts)]
        r[j] = r[j].replace(" ", "\n", 2) + ("\r\nend" if i % 2 else "\nend")
    w.writerow(r)
    if i % 1000 == 999:
        buf.write("\r\n")
    js.append(json.dumps({k: (v if v != "" else None) for k, v in zip(head, r)}))
open(out, "wb").write(b"\xef\xbb\xbf" + buf.getvalue().rstrip("\r\n").encode())
open(out + ".jsonl", "w").write("\n".join(js) + "\n")
PY
}

# Regression prints the same "%.10g" on both paths: the bytes must agree.
craft "$DATA/ames/test.csv" 20000 ames.csv
[ "$(wc -c <ames.csv)" -gt 8400000 ] || fail "ames.csv is not several blocks"
expect_ok "$KILN" predict ames.kiln ames.csv -o ames.out
expect_ok "$KILN" predict ames.kiln ames.csv.jsonl -o ames.json.out
"$PY" -c 'import json, sys
for l in open(sys.argv[1]): print("%.10g" % json.loads(l)["Sale_Price"])' ames.json.out >ref.txt
tail -n +2 ames.out >got.txt
expect_lines got.txt 20000
expect_same ref.txt got.txt
# stdin (a pipe) gives the same bytes
cat ames.csv | "$KILN" predict ames.kiln >pipe.out || fail "predict from a pipe"
expect_same ames.out pipe.out

# Classification: the same label, and the label's probability to 1e-6.
craft "$DATA/sentiment/test.csv" 90000 sent.csv
[ "$(wc -c <sent.csv)" -gt 5000000 ] || fail "sent.csv is not several blocks"
expect_ok "$KILN" predict sent.kiln sent.csv -o sent.out
expect_ok "$KILN" predict sent.kiln sent.csv.jsonl -o sent.json.out
"$PY" - sent.out sent.json.out <<'PY' || fail "CSV and JSON lines predictions differ"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
refs = [json.loads(l) for l in open(sys.argv[2])]
assert len(rows) == len(refs) == 90000, (len(rows), len(refs))
for i, (r, j) in enumerate(zip(rows, refs)):
    assert r["label"] == j["label"], (i, r, j)
    assert abs(float(r["p_" + j["label"]]) - j["probability"]) < 1e-6, (i, r, j)
PY

# Errors after many multi-line rows name the physical line: python counts it.
line_of() { "$PY" -c 'import sys; b = open(sys.argv[1], "rb").read(); print(b[:b.index(sys.argv[2].encode())].count(b"\n") + 1)' "$@"; }
{ cat sent.csv; printf '\r\nab"c,positive\r\nok,positive\r\n'; } >quote.csv
expect_fail --code 1 "$KILN" predict sent.kiln quote.csv -o quote.out 2>err
expect_contains err "quote.csv:$(line_of quote.csv 'ab"c'): quote inside unquoted field 1"
[ ! -e quote.out ] || fail "partial output file"
{ cat sent.csv; printf '\r\none,two,three\r\n'; } >fields.csv
expect_fail --code 1 "$KILN" predict sent.kiln fields.csv 2>err >fields.out
expect_contains err "fields.csv:$(line_of fields.csv one,two,three): expected 2 fields, found 3"
[ ! -s fields.out ] || fail "partial output on stdout"
{ cat sent.csv; printf '\r\n"never closed,positive\r\n'; } >open.csv
expect_fail --code 1 "$KILN" predict sent.kiln open.csv 2>err
expect_contains err "open.csv:$(line_of open.csv '"never'): unterminated quoted field"

# A value the model refuses early and a malformed row later in the same
# block: the first in input order is reported.
{ head -c 300000 ames.csv | "$PY" -c 'import sys; b = sys.stdin.buffer.read(); sys.stdout.buffer.write(b[:b.rindex(b"\r\n") + 2])'
  tail -n 1 "$DATA/ames/test.csv" | sed 's/^\([^,]*\),\([^,]*\),[0-9.]*,/\1,\2,lots,/'
  printf '\r\n'; tail -n +2 "$DATA/ames/test.csv"; echo 'a,b'; } >both.csv
grep -q ',lots,' both.csv || fail "could not build the bad row"
expect_fail --code 1 "$KILN" predict ames.kiln both.csv 2>err
expect_contains err "both.csv:$(line_of both.csv ,lots,):"
expect_contains err "is not a number"
exit 0
