#!/usr/bin/env bash
# t1010: the bundled example's workflow (examples/sentiment) in a git
# repository of its own, without a kiln server: a push to another branch
# runs nothing (on.push.branches), a push to main trains, gates and deploys
# by copying the bundle into DEPLOY_DIR and never takes the registry step.
# make demo runs the same workflow with a kiln server (the registry way).
. "$KILN_TOP/tests/e2e/lib.sh"
unset KILN_SERVER KILN_TOKEN KILN_TOKEN_FILE
export KILN_HOME=$TMP/home PATH=$(dirname "$KILN"):$PATH
cp -r "$KILN_TOP/examples/sentiment" ex
cd ex
rm -rf build deploy .kiln
git init -q -b main . && git add -A && git -c user.name=t -c user.email=t@t commit -qm init

git checkout -q -b dev
"$KILN" run --var DATA_DIR="$DATA/sentiment" --var DEPLOY_DIR="$TMP/deploy" >dev.out 2>&1 ||
	{ cat dev.out; fail "kiln run on dev failed"; }
grep -q 'train' dev.out && { cat dev.out; fail "a push to dev ran the workflow"; }

git checkout -q main
"$KILN" run --var DATA_DIR="$DATA/sentiment" --var DEPLOY_DIR="$TMP/deploy" >main.out 2>&1 ||
	{ cat main.out; fail "kiln run on main failed"; }
grep -Eq '^deploy +success' main.out || { cat main.out; fail "deploy did not run for main"; }
grep -q 'promote the registered version' main.out && { cat main.out; fail "promoted without a server"; }
[ -s "$TMP/deploy/sentiment.kiln" ] || fail "a push to main did not deploy the bundle"
echo '{"text": "I loved this movie"}' >in.jsonl
expect_ok "$KILN" predict "$TMP/deploy/sentiment.kiln" in.jsonl >pred.out
expect_contains pred.out '"sentiment": "positive"'
# The data lives outside the project: the lineage names the project's commit
# (the job's checkout), not none.
grep -q "\"git_commit\": *\"$(git rev-parse HEAD)\"" "$TMP/deploy/sentiment.kiln" ||
	fail "the bundle's lineage lacks the commit $(git rev-parse HEAD)"
