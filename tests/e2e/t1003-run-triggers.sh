#!/usr/bin/env bash
# t1003: kiln run without a workflow runs the .github/workflows files that a
# push of the current branch starts: branches and paths filters are checked
# against HEAD (libgit2), and GITHUB_SHA / GITHUB_REF come from it. Each job
# works in its own clone of HEAD unless --workdir is given.
. "$KILN_TOP/tests/e2e/lib.sh"
command -v git >/dev/null || { echo "skip: no git"; exit 0; }
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@example.invalid
git init -q . && git checkout -q -B main
mkdir -p .github/workflows src docs
cat >.github/workflows/code.yml <<'Y'
on:
  push:
    branches: [main]
    paths: ['src/**']
jobs:
  a:
    steps:
      - run: echo "code-ran $GITHUB_REF ${{ github.sha }}"
Y
cat >.github/workflows/docs.yml <<'Y'
on:
  push:
    paths: ['docs/**']
jobs:
  a:
    steps:
      - run: echo docs-ran
Y
cat >.github/workflows/rel.yml <<'Y'
on:
  push:
    branches: ['release/**']
jobs:
  a:
    steps:
      - run: echo rel-ran
Y
echo 'int x;' >src/x.c
git add -A && git commit -qm first
sha=$(git rev-parse HEAD)
# the first commit changes every file: code and docs? docs/ is empty, so code only
expect_ok "$KILN" run >out 2>log
expect_contains out "code-ran refs/heads/main $sha"
grep -q docs-ran out && fail "docs workflow ran without a docs change"
grep -q rel-ran out && fail "release workflow ran on main"
echo '# doc' >docs/a.md
git add -A && git commit -qm docs
expect_ok "$KILN" run >out 2>log
expect_contains out "docs-ran"
grep -q code-ran out && fail "code workflow ran on a docs-only change"
git checkout -q -b release/1
echo 'int y;' >src/y.c
git add -A && git commit -qm rel
expect_ok "$KILN" run >out 2>log
expect_contains out "rel-ran"
grep -q code-ran out && fail "code workflow (branches: main) ran on release/1"

# each job gets a clone of the commit: uncommitted files are not seen, and
# the user's files are not touched; --workdir . runs in place
echo committed >state.txt
git add -A && git commit -qm state
echo uncommitted >state.txt
cat >own.yml <<'Y'
on: push
jobs:
  a:
    steps:
      - run: |
          echo "sees=$(cat state.txt) ws=$GITHUB_WORKSPACE head=$(git rev-parse HEAD)"
          echo job-wrote >state.txt
Y
expect_ok "$KILN" run own.yml >out 2>log
expect_contains out "sees=committed"
expect_contains out "head=$(git rev-parse HEAD)"
grep -q "ws=$PWD" out && fail "the job ran in the user's directory"
[ "$(cat state.txt)" = uncommitted ] || fail "a job changed the user's files"
expect_ok "$KILN" run --workdir . own.yml >out 2>log
expect_contains out "sees=uncommitted ws=$PWD"
[ "$(cat state.txt)" = job-wrote ] || fail "--workdir . did not run in place"
expect_fail --code 1 "$KILN" run --workdir /nonexistent own.yml 2>err
expect_contains err "--workdir '/nonexistent'"
true
