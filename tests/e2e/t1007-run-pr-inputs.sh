#!/usr/bin/env bash
# t1007: pull_request / pull_request_target filters (types, branches and
# branches-ignore against the base branch, paths and paths-ignore against the
# files changed since the merge base, via libgit2); required inputs of
# workflow_dispatch and required inputs and secrets of reusable workflows are
# enforced with file:line:col errors.
. "$KILN_TOP/tests/e2e/lib.sh"
command -v git >/dev/null || { echo "skip: no git"; exit 0; }
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@example.invalid
git init -q . && git checkout -q -B main
mkdir -p .github/workflows src docs
wf() { # name, on-block
	printf 'on:\n%s\njobs:\n  a:\n    steps:\n      - run: echo %s-ran\n' "$2" "$1" \
		>".github/workflows/$1.yml"
}
wf src "  pull_request:
    branches: [main]
    paths: ['src/**']"
wf docs "  pull_request:
    paths: ['docs/**']"
wf dev "  pull_request:
    branches: [dev]"
wf noreadme "  pull_request_target:
    paths-ignore: ['README']"
wf closed "  pull_request:
    types: [closed]"
wf push "  push:"
echo 'int x;' >src/x.c
echo doc >docs/d.md
git add -A && git commit -qm first
base=$(git rev-parse HEAD)
git checkout -q -b feature
echo 'int y;' >src/y.c
git add -A && git commit -qm second
echo 'more' >README
git add -A && git commit -qm third
head=$(git rev-parse HEAD)
git checkout -q main
# main moved on after the branch point: not in the pull request's diff
echo 'late' >docs/late.md && git add -A && git commit -qm late
git checkout -q feature
cat >ev.json <<J
{"action": "opened", "pull_request": {"base": {"ref": "main", "sha": "$(git rev-parse main)"},
 "head": {"ref": "feature", "sha": "$head"}}}
J
expect_ok "$KILN" run --event pull_request --event-file ev.json >out 2>log
expect_contains out "src-ran"
grep -qE "docs-ran|dev-ran|closed-ran|push-ran|noreadme-ran" out && fail "wrong workflow ran: $(cat out)"
# pull_request_target: README changed, but src/y.c is not ignored
expect_ok "$KILN" run --event pull_request_target --event-file ev.json >out 2>log
expect_contains out "noreadme-ran"
sed 's/"opened"/"closed"/' ev.json >ev2.json
expect_ok "$KILN" run --event pull_request --event-file ev2.json >out 2>log
expect_contains out "closed-ran"
grep -q "src-ran" out && fail "types filter ignored"
[ "$base" != "$head" ] || fail "setup"

mkdir -p w && cd w
cat >d.yml <<'Y'
on:
  workflow_dispatch:
    inputs:
      target:
        required: true
      level:
        required: true
        default: low
jobs:
  a:
    steps:
      - run: echo "go ${{ inputs.target }} ${{ inputs.level }}"
Y
expect_fail --code 1 "$KILN" run d.yml --event workflow_dispatch >out 2>log
expect_contains log "d.yml:4:7: workflow_dispatch: the required input 'target' is missing"
expect_ok "$KILN" run d.yml --event workflow_dispatch --input target=prod >out 2>log
expect_contains out "go prod low"
mkdir -p .github/workflows
cat >.github/workflows/callee.yml <<'Y'
on:
  workflow_call:
    inputs:
      who:
        required: true
        type: string
    secrets:
      token:
        required: true
jobs:
  c:
    steps:
      - run: echo "hi ${{ inputs.who }}"
Y
cat >caller.yml <<'Y'
on: push
jobs:
  call:
    uses: ./.github/workflows/callee.yml
    with:
      who: me
Y
expect_fail --code 1 "$KILN" run caller.yml >out 2>log
expect_contains log "callee.yml:8:7: workflow_call: the required secret 'token' is not passed"
cat >caller2.yml <<'Y'
on: push
jobs:
  call:
    uses: ./.github/workflows/callee.yml
    secrets: inherit
Y
expect_fail --code 1 "$KILN" run caller2.yml --secret token=x >out 2>log
expect_contains log "callee.yml:4:7: workflow_call: the required input 'who' is missing"
sed -i 's/    secrets: inherit/    secrets: inherit\n    with:\n      who: you/' caller2.yml
expect_ok "$KILN" run caller2.yml --secret token=x >out 2>log
expect_contains out "hi you"
