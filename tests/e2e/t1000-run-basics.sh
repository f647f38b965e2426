#!/usr/bin/env bash
# t1000: kiln run - usage errors, validation with file:line:col before
# anything runs, --list, --dry-run, --json, --job, inputs/vars/secrets,
# masking, exit status, and discovery of .github/workflows by event.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_fail --code 2 "$KILN" run --bogus 2>err
expect_contains err "unknown option '--bogus'"
expect_fail --code 2 "$KILN" run --jobs 0 x.yml 2>err
expect_contains err "--jobs must be"
expect_fail --code 2 "$KILN" run --input novalue x.yml 2>err
expect_contains err "KEY=VALUE"
expect_fail --code 2 "$KILN" run a.yml b.yml 2>err
expect_fail --code 1 "$KILN" run missing.yml 2>err
expect_contains err "cannot read 'missing.yml'"
expect_fail --code 1 "$KILN" run 2>err
expect_contains err ".github/workflows"

# validation: nothing runs, the error names file:line:col
cat >bad.yml <<'Y'
on: push
jobs:
  a:
    steps:
      - run: touch ran
      - run: echo ${{ env.x == }}
Y
expect_fail --code 1 "$KILN" run bad.yml 2>err
expect_contains err "bad.yml:6:14: invalid expression"
[ ! -e ran ] || fail "a step ran although the workflow is invalid"
cat >cyc.yml <<'Y'
on: push
jobs:
  a: {needs: b, steps: [{run: "true"}]}
  b: {needs: a, steps: [{run: "true"}]}
Y
expect_fail --code 1 "$KILN" run cyc.yml 2>err
expect_contains err "cyclic needs: a -> b -> a"
cat >uses.yml <<'Y'
on: push
jobs:
  a:
    steps:
      - run: touch ran
      - uses: someone/thing@v1
Y
expect_fail --code 1 "$KILN" run uses.yml 2>err
expect_contains err "uses.yml:6:9: unsupported action 'someone/thing@v1'"
[ ! -e ran ] || fail "a step ran although an action is unsupported"

cat >ok.yml <<'Y'
name: demo
on:
  workflow_dispatch:
    inputs:
      who: {default: nobody}
      flag: {type: boolean, default: false}
jobs:
  build:
    steps:
      - uses: actions/checkout@v4
      - run: echo "hello ${{ inputs.who }} flag=${{ inputs.flag == true }} var=${{ vars.V }}"
      - run: echo "secret=${{ secrets.S }} env=${{ env.E }}"
  test:
    needs: build
    steps:
      - run: echo "test ran"
  other:
    steps:
      - run: echo "other ran"
Y
expect_ok "$KILN" run ok.yml --list >out
expect_contains out "ok.yml	test	build"
expect_ok "$KILN" run ok.yml --dry-run >out
expect_contains out "job build (stage 1)"
expect_contains out "job test (stage 2)"
printf 'E=from-env-file\n' >env.txt
printf 'S="hush-hush"\n' >sec.txt
expect_ok "$KILN" run ok.yml --event workflow_dispatch --input who=me --input flag=true \
	--var V=vv --secret-file sec.txt --env-file env.txt >out 2>log
expect_contains out "hello me flag=true var=vv"
expect_contains out "secret=*** env=from-env-file"
grep -q hush-hush out log && fail "secret leaked"
expect_ok "$KILN" run ok.yml --job test --json >out 2>log
python3 - out <<'P' || fail "bad --json: $(cat out)"
import json, sys
d = json.load(open(sys.argv[1]))
jobs = sorted(j["job"] for j in d["jobs"])
assert d["result"] == "success", d
assert jobs == ["build", "test"], jobs
P

# failure: exit 1, summary says which job
cat >fail.yml <<'Y'
on: push
jobs:
  broken:
    steps:
      - run: exit 7
Y
expect_fail --code 1 "$KILN" run fail.yml >out 2>log
expect_contains log "exit status 7"
expect_contains log "failure"

# discovery: only workflows whose on: names the event
mkdir -p .github/workflows
cp ok.yml .github/workflows/dispatch.yml
printf 'on: [push]\njobs:\n  p:\n    steps:\n      - run: echo push-ran\n' >.github/workflows/push.yaml
expect_ok "$KILN" run >out 2>log
expect_contains out "push-ran"
grep -q "other ran" out && fail "workflow_dispatch workflow ran on push"
expect_ok "$KILN" run --event workflow_dispatch >out 2>log
expect_contains out "other ran"
true
