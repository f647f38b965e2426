#!/usr/bin/env bash
# t2106: kiln predict streams its input in chunks of rows on two threads:
# the output must equal predicting the same rows in separate runs, and an
# error in a late chunk must still leave no output at all.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_ok "$KILN" train "$DATA/ames/train.csv" --algo gbdt --target Sale_Price \
	-o ames.kiln >/dev/null
expect_ok "$KILN" train "$DATA/churn/train.csv" --algo gbdt -o churn.kiln >/dev/null

# About 10,000 rows: several chunks, each split between two threads.
for f in ames churn; do
	head -n 1 "$DATA/$f/test.csv" >big-$f.csv
	for _ in $(seq 20); do tail -n +2 "$DATA/$f/test.csv"; done >>big-$f.csv
	rows=$(($(wc -l <big-$f.csv) - 1))
	[ "$rows" -gt 9000 ] || fail "$f: only $rows rows"
	# The same rows in pieces of 1000 rows, one process each.
	head -n 1 big-$f.csv >head.csv
	tail -n +2 big-$f.csv | split -l 1000 - piece-
	expect_ok "$KILN" predict $f.kiln big-$f.csv -o whole.csv
	: >pieces.csv
	for p in piece-*; do
		cat head.csv "$p" >p.csv
		expect_ok "$KILN" predict $f.kiln p.csv >p.out
		tail -n +2 p.out >>pieces.csv
	done
	rm -f piece-*
	tail -n +2 whole.csv >whole-rows.csv
	expect_same whole-rows.csv pieces.csv
	[ "$(wc -l <whole-rows.csv)" -eq "$rows" ] || fail "$f: wrong row count"
	# stdin and stdout give the same bytes as a file and -o.
	"$KILN" predict $f.kiln <big-$f.csv >stdout.csv || fail "$f: stdin"
	expect_same whole.csv stdout.csv
done

# Leading blank lines on a pipe (not seekable) are kept: same output.
{ printf '\n\n'; cat big-churn.csv; } | "$KILN" predict churn.kiln >blank.csv ||
	fail "leading blank lines"
expect_same whole.csv blank.csv
# JSON lines after leading blank lines on a pipe: line numbers still count them.
printf '\n\n{"account_length": 10}\n{"account_length": "ten"}\n' |
	expect_fail --code 1 "$KILN" predict churn.kiln >out 2>err
expect_contains err "stdin:4:"

# A bad value in the last of several chunks: exit 1, nothing written.
cp big-churn.csv late.csv
tail -n 1 "$DATA/churn/test.csv" | sed 's/^\([^,]*\),[0-9]*,/\1,lots,/' >>late.csv
grep -q ',lots,' late.csv || fail "could not build the bad row"
line=$(wc -l <late.csv)
expect_fail --code 1 "$KILN" predict churn.kiln late.csv -o late.out 2>err
expect_contains err "late.csv:$line:"
[ ! -e late.out ] || fail "partial output file"
ls late.out.tmp.* 2>/dev/null && fail "temporary file left behind"
expect_fail --code 1 "$KILN" predict churn.kiln late.csv >late.stdout 2>err
[ ! -s late.stdout ] || fail "partial output on stdout"

# A row with the wrong number of fields after several chunks.
cp big-churn.csv short.csv
echo "a,b" >>short.csv
expect_fail --code 1 "$KILN" predict churn.kiln short.csv 2>err
expect_contains err "expected"
# A bad value early and a malformed row in a later chunk (read while the
# first is predicted): the earlier line is the one reported.
{ head -n 10 big-churn.csv; tail -n 1 "$DATA/churn/test.csv" | sed 's/^\([^,]*\),[0-9]*,/\1,lots,/'
  tail -n +11 big-churn.csv; echo "a,b"; } >both.csv
expect_fail --code 1 "$KILN" predict churn.kiln both.csv 2>err
expect_contains err "both.csv:11:"
expect_contains err "is not a number"
exit 0
