#!/usr/bin/env bash
# t1005: a push event's ref (--event-file) decides github.ref, GITHUB_REF and
# GITHUB_REF_NAME, as on GitHub: a job guarded by `github.ref ==
# 'refs/heads/main'` is skipped for a push to another branch.
. "$KILN_TOP/tests/e2e/lib.sh"

mkdir -p .github/workflows
cat >.github/workflows/ci.yml <<'YML'
on: push
jobs:
  show:
    runs-on: ubuntu-latest
    steps:
      - run: echo "ref=$GITHUB_REF name=$GITHUB_REF_NAME type=${{ github.ref_type }}"
  deploy:
    needs: show
    if: github.ref == 'refs/heads/main'
    runs-on: ubuntu-latest
    steps:
      - run: echo deployed
YML

echo '{"ref": "refs/heads/feature/x"}' >feature.json
expect_ok "$KILN" run --event-file feature.json >out 2>err
expect_contains out "ref=refs/heads/feature/x name=feature/x type=branch"
grep -q deployed out && fail "deploy ran for a push to a feature branch"
grep -E '^deploy +skipped' err >/dev/null || { cat err >&2; fail "deploy not reported as skipped"; }

echo '{"ref": "refs/heads/main"}' >main.json
expect_ok "$KILN" run --event-file main.json >out 2>err
expect_contains out "deployed"

echo '{"ref": "refs/tags/v1.2"}' >tag.json
expect_ok "$KILN" run --event-file tag.json >out 2>err
expect_contains out "ref=refs/tags/v1.2 name=v1.2 type=tag"
