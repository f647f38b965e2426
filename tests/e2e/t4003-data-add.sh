#!/usr/bin/env bash
# t4003: kiln data add / kiln data status: pointers, blobs, .gitignore,
# the states of status, and clear errors. Needs `add` and `status` in the
# sub-command table of src/cli/data.c (see docs/store.md).
. "$KILN_TOP/tests/e2e/lib.sh"

"$KILN" data add >probe 2>&1
if ! grep -q "missing FILE" probe; then
	echo "t4003: 'kiln data add' is not wired into src/cli/data.c yet: nothing to test" >&2
	echo "t4003: the logic is covered by src/store/track_test.c" >&2
	exit 0
fi

export KILN_HOME=$TMP/home
mkdir data
printf 'a,b\n1,2\n' >data/a.csv
printf 'x\n1\n2\n3\n' >data/b.csv
expect_ok "$KILN" data add data/a.csv data/b.csv 2>err
expect_contains err "added 2 files"
sha=$(sha256sum data/a.csv | cut -d' ' -f1)
expect_contains data/a.csv.kiln "sha256: $sha"
expect_contains data/a.csv.kiln "size: 8"
expect_contains data/a.csv.kiln "path: a.csv"
printf '/a.csv\n/b.csv\n' >want
expect_same want data/.gitignore
expect_same data/a.csv "$KILN_HOME/blobs/objects/${sha:0:2}/${sha:2}"
# Adding again keeps one .gitignore line per file.
expect_ok "$KILN" data add data/a.csv 2>/dev/null
expect_same want data/.gitignore

expect_ok "$KILN" data status >out
printf 'ok          data/a.csv\nok          data/b.csv\n' >want
expect_same want out
printf 'x\n1\n2\n4\n' >data/b.csv
rm data/a.csv
expect_fail --code 1 "$KILN" data status >out
printf 'missing     data/a.csv\nmodified    data/b.csv\n' >want
expect_same want out
expect_fail --code 1 "$KILN" data status data/b.csv >out
expect_contains out "modified    data/b.csv"

# Errors: usage 2, bad input 1 with the file named.
expect_fail --code 2 "$KILN" data add 2>err
expect_contains err "missing FILE"
expect_fail --code 1 "$KILN" data add nope.csv 2>err
expect_contains err "cannot add 'nope.csv'"
expect_fail --code 1 "$KILN" data add data 2>err
expect_contains err "is a directory"
printf 'sha256: 12\n' >bad.kiln
expect_fail --code 1 "$KILN" data status bad.kiln 2>err
expect_contains err "bad.kiln:1: invalid value for 'sha256'"
expect_fail --code 2 "$KILN" data add --blobs ftp://x data/b.csv 2>err
expect_contains err "unknown blob store URL"
