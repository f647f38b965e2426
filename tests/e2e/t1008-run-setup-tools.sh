#!/usr/bin/env bash
# t1008: actions/setup-python (and setup-node, setup-go) use the installed
# tool: its version is compared with with: <lang>-version (x wildcards,
# prefixes), a mismatch is a warning, and the step's output holds the
# installed version.
. "$KILN_TOP/tests/e2e/lib.sh"
py=$(python3 -c 'import platform; print(platform.python_version())')
major=${py%%.*}
cat >s.yml <<Y
on: push
jobs:
  a:
    steps:
      - id: ok
        uses: actions/setup-python@v5
        with:
          python-version: '$major.x'
      - id: bad
        uses: actions/setup-python@v5
        with:
          python-version: '2.7'
      - uses: actions/setup-python@v5
        with:
          python-version: '>=3.8'
      - run: echo "got \${{ steps.ok.outputs.python-version }}"
Y
expect_ok "$KILN" run s.yml >out 2>log
expect_contains log "actions/setup-python@v5: using the installed 'python3' $py"
expect_contains log "warning: actions/setup-python@v5: python-version '2.7' was requested, the installed 'python3' is $py"
[ "$(grep -c 'warning: actions/setup-python' log)" = 1 ] || fail "a warning too many: $(cat log)"
expect_contains out "got $py"
