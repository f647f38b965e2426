#!/usr/bin/env bash
# t1006: workflow-level concurrency across kiln invocations: a second run of
# the same group waits (lock file under .kiln/concurrency/) until the first
# is done; a job whose group is the workflow's own is a deadlock, cancelled;
# a malformed concurrency: is rejected before anything runs.
. "$KILN_TOP/tests/e2e/lib.sh"

cat >c.yml <<'Y'
on: push
concurrency: deploy-${{ github.event_name }}
jobs:
  a:
    steps:
      - run: |
          mkdir "$OUT/lock"
          echo started > "$OUT/started.$TAG"
          sleep 1
          rmdir "$OUT/lock"
Y
mkdir o
OUT=$PWD/o TAG=1 "$KILN" run c.yml >out1 2>log1 &
pid=$!
i=0
while [ ! -e o/started.1 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -e o/started.1 ] || fail "the first run did not start"
expect_ok env OUT="$PWD/o" TAG=2 "$KILN" run c.yml >out2 2>log2
wait $pid || fail "the first run failed: $(cat log1)"
expect_contains log2 "waiting for concurrency group 'deploy-push'"
[ -e o/started.2 ] || fail "the second run did not run"
ls .kiln/concurrency/*.lock >/dev/null || fail "no lock file"

cat >dead.yml <<'Y'
on: push
concurrency: g
jobs:
  j:
    concurrency: g
    steps:
      - run: "true"
Y
expect_fail --code 1 "$KILN" run dead.yml >out 2>log
expect_contains log "concurrency group 'g' is also the workflow's"

cat >bad.yml <<'Y'
on: push
jobs:
  j:
    concurrency:
      cancel-in-progress: true
    steps:
      - run: "true"
Y
expect_fail --code 1 "$KILN" run bad.yml >out 2>log
expect_contains log "bad.yml:5:7: concurrency: 'group' is required"
