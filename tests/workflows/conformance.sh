#!/usr/bin/env bash
# conformance.sh - run the GitHub-Actions conformance suite against `kiln run`:
# the act-derived cases of ../shared/conformance/gha (check.sh, unchanged) and
# kiln's own cases in tests/workflows/own (same marker protocol, EXPECTED.tsv).
#   tests/workflows/conformance.sh KILN [check.sh options...]
# KILN_SHARED names the shared folder (default: ../shared beside the tree).
# Prints check.sh's output; the last line is "N passed, M failed".
set -u
kiln=$(realpath "${1:?usage: conformance.sh KILN [options]}"); shift
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
shared=${KILN_SHARED:-$(cd "$top/.." && pwd)/shared}
gha=$shared/conformance/gha
[ -x "$gha/check.sh" ] || { echo "conformance.sh: no $gha/check.sh" >&2; exit 2; }

# check.sh copies its own directory into each case's workspace, so the own
# cases get a directory of their own: check.sh, an empty manifest, own/.
suite=$(mktemp -d "${TMPDIR:-/tmp}/kiln-conf.XXXXXX")
trap 'rm -rf "$suite"' EXIT
mode=${CONFORMANCE_SET:-all}
if [ "$mode" = own ]; then
	cp "$gha/check.sh" "$suite/" || exit 2
	head -n 1 "$gha/MANIFEST.tsv" >"$suite/MANIFEST.tsv"
	cp -r "$here/own" "$suite/own" || exit 2
	dir=$suite
else
	# the act-derived cases plus the own cases beside them
	(cd "$gha" && tar -cf - .) | (cd "$suite" && tar -xf -) || exit 2
	rm -rf "$suite/own"
	cp -r "$here/own" "$suite/own" || exit 2
	dir=$suite
fi
export PATH="$(dirname "$kiln"):$PATH"
ENGINE="$kiln run --workflow {wf} --event {event} --event-file {eventfile} --secret-file {secretfile} --env-file {envfile}" \
	"$dir/check.sh" "$@"
