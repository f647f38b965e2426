#!/usr/bin/env bash
# t0001: the command line itself: help, version, usage errors, exit codes.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_ok "$KILN" --version >out
grep -qE '^kiln [0-9]+\.[0-9]+\.[0-9]+$' out || fail "bad --version: $(cat out)"
expect_ok "$KILN" version --json >out
python3 -c 'import json,sys; assert "version" in json.load(open("out"))' || fail "bad version --json"

expect_ok "$KILN" help >out
expect_contains out "commands:"
for c in $(awk '/^  [a-z]/ {print $1}' out); do
	expect_ok "$KILN" help "$c" >usage
	expect_contains usage "usage: kiln $c"
	expect_ok "$KILN" "$c" --help >usage2
	expect_same usage usage2
	[ -f "$KILN_TOP/docs/cmd/$c.md" ] || fail "no docs/cmd/$c.md for command '$c'"
done

expect_fail --code 2 "$KILN" no-such-command 2>err
expect_contains err "unknown command 'no-such-command'"
expect_fail --code 2 "$KILN" help no-such-command 2>err
expect_fail --code 2 "$KILN" --bogus 2>err
expect_contains err "unknown option '--bogus'"
expect_fail --code 2 "$KILN" 2>err >/dev/null
expect_fail --code 2 "$KILN" --log-level loud version 2>err
expect_contains err "unknown log level"

# A closed stdout is an error, not a silent success.
expect_fail --code 1 "$KILN" help >/dev/full 2>err
expect_contains err "cannot write to stdout"
