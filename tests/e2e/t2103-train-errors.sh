#!/usr/bin/env bash
# t2103: bad input to kiln train: one clear error line, exit 1 (usage: 2),
# no crash and no output file left behind.
. "$KILN_TOP/tests/e2e/lib.sh"

train_fails() { # CODE MESSAGE ARGS...
	local code=$1 msg=$2
	shift 2
	expect_fail --code "$code" "$KILN" train "$@" -o out.kiln 2>err
	expect_contains err "$msg"
	[ "$(wc -l <err)" -le 2 ] || fail "more than one error line: $(cat err)"
	[ ! -e out.kiln ] || fail "partial output left by: $*"
	ls | grep -q '^out.kiln.' && fail "temporary file left by: $*"
	return 0
}

: >empty.csv
train_fails 1 "empty.csv" empty.csv
printf 'text,label\n' >header.csv
train_fails 1 "header.csv" header.csv
printf 'text,label\n' >one.csv
for i in $(seq 1 20); do echo "row $i,positive" >>one.csv; done
train_fails 1 "one class" one.csv
train_fails 1 "unknown target column 'nope'" "$DATA/sentiment/train.csv" --target nope
train_fails 1 "no-such.csv" no-such.csv
printf 'a,label\n1,x\n2,y\n' >tiny.csv
train_fails 1 "too few to hold out a test split" tiny.csv
train_fails 1 "class 'neutral'" "$DATA/sentiment/train.csv" --test <(
	printf 'text,label\nfine,neutral\n')

train_fails 2 "--algo 'forest'" "$DATA/sentiment/train.csv" --algo forest
train_fails 2 "--test-size '1.5'" "$DATA/sentiment/train.csv" --test-size 1.5
train_fails 2 "--ngram '3,1'" "$DATA/sentiment/train.csv" --ngram 3,1
train_fails 2 "--hash-bits '40'" "$DATA/sentiment/train.csv" --hash-bits 40
train_fails 2 "--trees 'x'" "$DATA/sentiment/train.csv" --trees x
expect_fail --code 2 "$KILN" train "$DATA/sentiment/train.csv" 2>err
expect_contains err "no output file"
expect_fail --code 2 "$KILN" train -o x.kiln 2>err
expect_contains err "no training data"

# An unwritable destination fails cleanly.
expect_fail --code 1 "$KILN" train "$DATA/credit/train.csv" --target Status -o /nonexistent/m.kiln 2>err
