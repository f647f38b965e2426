#!/usr/bin/env bash
# t1004: kiln run --sandbox runs steps under bubblewrap: the workspace is
# writable, the rest of the file system is not, and there is no network
# (only a loopback device); a step timeout still ends the sandboxed step.
. "$KILN_TOP/tests/e2e/lib.sh"
if ! command -v bwrap >/dev/null || ! bwrap --ro-bind / / --unshare-net true 2>/dev/null; then
	echo "skip: bubblewrap is not usable here"
	exit 0
fi
outside=$(mktemp -d "${TMPDIR:-/tmp}/kiln-sb-outside.XXXXXX")
cat >sb.yml <<Y
on: push
jobs:
  a:
    steps:
      - run: echo inside > in.txt
      - run: touch "$outside/escaped" || echo "outside is read-only"
      - run: |
          echo "netdevs=\$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
      - timeout-minutes: 0.02
        run: sleep 30
Y
start=$(date +%s)
expect_fail --code 1 "$KILN" run --sandbox sb.yml >out 2>log
[ $(($(date +%s) - start)) -lt 15 ] || fail "the sandboxed step was not killed at its timeout"
[ "$(cat in.txt)" = inside ] || fail "workspace not writable in the sandbox"
[ ! -e "$outside/escaped" ] || fail "a sandboxed step wrote outside the workspace"
expect_contains out "outside is read-only"
expect_contains out "netdevs=lo "
expect_contains log "timed out"
rm -rf "$outside"
true
