#!/usr/bin/env bash
# t1002: kiln run keeps each run in .kiln/runs/N (log with secrets masked,
# summary.json, step summary, artifacts passed between jobs); kiln runs
# ls/show/logs read them back.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_ok "$KILN" runs ls >out
expect_lines out 1
cat >art.yml <<'Y'
on: push
jobs:
  build:
    steps:
      - run: |
          mkdir -p dist/sub && echo weights > dist/m.bin && echo deep > dist/sub/x
          echo "### trained" >> "$GITHUB_STEP_SUMMARY"
          echo "token ${{ secrets.TOK }}"
      - uses: actions/upload-artifact@v4
        with:
          name: bundle
          path: dist
  deploy:
    needs: build
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: bundle
          path: got
      - run: test "$(cat got/m.bin)" = weights && test "$(cat got/sub/x)" = deep
      - uses: actions/download-artifact@v4
        with:
          name: nope
Y
expect_fail --code 1 "$KILN" run art.yml --secret TOK=very-secret-123 >out 2>log
expect_contains log "no artifact 'nope'"
[ -f .kiln/runs/1/artifacts/bundle/m.bin ] || fail "artifact not kept"
expect_contains .kiln/runs/1/step-summary.md "### trained"
expect_contains .kiln/runs/1/log.txt "token ***"
grep -q very-secret-123 .kiln/runs/1/log.txt && fail "secret in the kept log"
expect_ok "$KILN" run art.yml --job build >out 2>log
expect_ok "$KILN" runs ls >out
expect_contains out "1      failure    art.yml"
expect_contains out "2      success    art.yml"
expect_ok "$KILN" runs ls --json >out
python3 -c 'import json,sys; d=json.load(open("out")); assert [r["run"] for r in d] == [1, 2], d' ||
	fail "bad runs ls --json"
expect_ok "$KILN" runs show 1 >out
expect_contains out "deploy"
expect_contains out "artifact bundle"
expect_ok "$KILN" runs logs 2 >out
expect_contains out "[build] job success"
expect_fail --code 1 "$KILN" runs show 99 2>err
expect_contains err "no run 99"
expect_fail --code 2 "$KILN" runs show x 2>err
expect_fail --code 2 "$KILN" runs bogus 2>err
cat >noart.yml <<'Y'
on: push
jobs:
  a:
    steps:
      - uses: actions/upload-artifact@v4
        with: {name: x, path: missing-dir, if-no-files-found: error}
Y
expect_fail --code 1 "$KILN" run noart.yml >out 2>log
expect_contains log "no files found"

# actions/cache: a miss saves after the job, the next run hits, restore-keys fall back
mkdir -p lock && echo v1 >lock/deps.txt
cat >cache.yml <<'Y'
on: push
jobs:
  a:
    steps:
      - id: c
        uses: actions/cache@v4
        with:
          path: dep
          key: deps-${{ hashFiles('lock/*.txt') }}
          restore-keys: deps-
      - run: |
          echo "hit=${{ steps.c.outputs.cache-hit }} restored=$(cat dep/x 2>/dev/null || echo none)"
          mkdir -p dep && date +%N > dep/x
Y
expect_ok "$KILN" run cache.yml >out 2>log
expect_contains out "hit=false restored=none"
expect_contains log "cache saved with key 'deps-"
first=$(cat dep/x)
rm -rf dep
expect_ok "$KILN" run cache.yml >out 2>log
expect_contains out "hit=true restored=$first"
echo v2 >lock/deps.txt
rm -rf dep
expect_ok "$KILN" run cache.yml >out 2>log
expect_contains out "hit=false restored=$first"
true
