#!/usr/bin/env bash
# t1009: step output is written as it comes, also when stdout is a pipe or a
# file: in a log that takes both stdout and stderr, a step's output (upper-
# cased, unlike the echoed command) stands before the summary table that ends
# the run. It used to be flushed at exit, after the table.
. "$KILN_TOP/tests/e2e/lib.sh"

cat >wf.yml <<'YML'
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: echo first-step-line | tr a-z A-Z
      - run: echo second-step-line | tr a-z A-Z
YML
expect_ok "$KILN" run wf.yml >log 2>&1
step=$(grep -n 'FIRST-STEP-LINE' log | head -1 | cut -d: -f1)
second=$(grep -n 'SECOND-STEP-LINE' log | head -1 | cut -d: -f1)
done_line=$(grep -nE '^a +success' log | head -1 | cut -d: -f1)
[ -n "$step" ] && [ -n "$second" ] && [ -n "$done_line" ] || { cat log >&2; fail "lines missing"; }
[ "$step" -lt "$second" ] && [ "$second" -lt "$done_line" ] || { cat log >&2; fail "step output not live"; }
