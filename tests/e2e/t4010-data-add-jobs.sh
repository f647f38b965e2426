#!/usr/bin/env bash
# t4010: kiln data add on several threads (--jobs) keeps the order of the
# sequential add: the first bad file in argument order is the error, files
# before it are tracked, none after it has a pointer, no temporary file is
# left; --link hardlink shares the file with the store, read-only.
. "$KILN_TOP/tests/e2e/lib.sh"

export KILN_HOME=$TMP/home
mkdir data
files=()
for i in $(seq -w 0 199); do
	echo "row $i" >data/f$i.csv
	files+=(data/f$i.csv)
done
rm data/f150.csv # missing: a later error, which must not be the one reported
rm data/f090.csv && mkdir data/f090.csv
expect_fail --code 1 "$KILN" data add --jobs 4 "${files[@]}" 2>err
expect_contains err "cannot add 'data/f090.csv': is a directory"
expect_contains err "90 of 200 files were added before the error"
[ "$(ls data/*.kiln | wc -l)" -eq 90 ] || fail "want 90 pointers: $(ls data/*.kiln | wc -l)"
[ -e data/f089.csv.kiln ] && [ ! -e data/f091.csv.kiln ] || fail "pointers out of order"
[ -z "$(find data -name '*.tmp.*')" ] || fail "temporary files left: $(find data -name '*.tmp.*')"
[ "$(wc -l <data/.gitignore)" -eq 90 ] || fail ".gitignore: $(wc -l <data/.gitignore) lines"
expect_ok "$KILN" data status >out
[ "$(grep -c '^ok ' out)" -eq 90 ] || fail "status: $(cat out)"

# Every pointer of a clean parallel add names the file's bytes.
rmdir data/f090.csv && echo "row 090" >data/f090.csv
echo "row 150" >data/f150.csv
expect_ok "$KILN" data add --jobs 3 "${files[@]}" 2>err
expect_contains err "added 200 files"
sha=$(sha256sum data/f123.csv | cut -d' ' -f1)
expect_contains data/f123.csv.kiln "sha256: $sha"
expect_same data/f123.csv "$KILN_HOME/blobs/objects/${sha:0:2}/${sha:2}"

# --link hardlink: one inode, two names, no write bits.
printf 'linked bytes\n' >big.bin
expect_ok "$KILN" data add --link hardlink big.bin 2>/dev/null
sha=$(sha256sum big.bin | cut -d' ' -f1)
[ "$(stat -c %i big.bin)" = "$(stat -c %i "$KILN_HOME/blobs/objects/${sha:0:2}/${sha:2}")" ] ||
	fail "big.bin is not linked into the store"
[ "$(stat -c %h big.bin)" -eq 2 ] || fail "link count $(stat -c %h big.bin)"
[ -z "$(find big.bin -perm /222)" ] || fail "big.bin is still writable: $(stat -c %A big.bin)"
expect_ok "$KILN" data status big.bin >/dev/null

# Usage errors.
expect_fail --code 2 "$KILN" data add --link symlink big.bin 2>err
expect_contains err "--link: 'symlink' is not copy or hardlink"
expect_fail --code 2 "$KILN" data add --jobs 0 big.bin 2>err
expect_contains err "--jobs: '0' is not a number"
expect_fail --code 2 "$KILN" data status --jobs 2 2>err
expect_contains err "unknown option"
