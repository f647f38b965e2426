#!/usr/bin/env bash
# t4301: kiln data push / pull against a real kiln server (blob backend
# http://): a git repository with committed pointers and gitignored data is
# pushed, cloned afresh and pulled; tokens, modified files, --force, --json,
# a corrupt blob on the server and usage errors.
. "$KILN_TOP/tests/e2e/lib.sh"

echo s3cret >token
start_server server.log --token-file token
remote=http://127.0.0.1:$PORT
export KILN_HOME=$TMP/home-a
unset KILN_SERVER KILN_REMOTE KILN_TOKEN KILN_TOKEN_FILE KILN_BLOBS

git init -q repo
cd repo
git config user.email t@example.com
git config user.name t
head -c 1500000 /dev/urandom >big.bin
mkdir -p data/sub
printf 'text,label\nfine,1\n' >data/train.csv
printf 'x\n1\n' >data/sub/tiny.csv
expect_ok "$KILN" data add big.bin data/train.csv data/sub/tiny.csv 2>/dev/null
git add -A
git commit -qm data
git ls-files >../tracked
expect_contains ../tracked big.bin.kiln
grep -qx big.bin ../tracked && fail "big.bin itself is committed"

# No remote at all: a usage error. A write without the token: refused, named.
expect_fail --code 2 "$KILN" data push 2>err
expect_contains err "no remote"
expect_fail --code 1 "$KILN" data push --remote "$remote" 2>err
expect_contains err "HTTP 401"
expect_fail --code 1 "$KILN" data push --remote "$remote" nosuch 2>err
expect_contains err "'nosuch' is not tracked"

# Push (remote from KILN_SERVER, token from a file), then again: nothing to do.
export KILN_SERVER=$remote KILN_TOKEN_FILE=$TMP/token
expect_ok "$KILN" data push >out
expect_same <(echo "3 pushed, 0 already on the remote") out
expect_ok "$KILN" data push data >out
expect_same <(echo "0 pushed, 2 already on the remote") out
for f in big.bin data/train.csv data/sub/tiny.csv; do
	sha=$(sha256sum "$f" | cut -d' ' -f1)
	code=$(curl -s -o /dev/null -w '%{http_code}' -I "$remote/api/2.0/kiln/blobs/$sha")
	[ "$code" = 200 ] || fail "HEAD of $f's blob: $code"
done
cd ..

# A fresh clone on another "machine": pointers only, empty local store.
git clone -q repo clone
cd clone
[ -e big.bin ] && fail "the clone has big.bin"
export KILN_HOME=$TMP/home-b
"$KILN" data status >/dev/null 2>&1 && fail "status is ok before pull"
expect_ok "$KILN" data pull --json >out.json
expect_ok /usr/bin/python3 - <<'PY'
import json
j = json.load(open("out.json"))
assert (j["fetched"], j["already"], j["written"], j["kept"]) == (3, 0, 3, 0), j
assert sorted(f["path"] for f in j["files"]) == ["big.bin", "data/sub/tiny.csv", "data/train.csv"], j
PY
for f in big.bin data/train.csv; do expect_same "../repo/$f" "$f"; done
printf 'x\n1\n' >want
expect_same want data/sub/tiny.csv
expect_ok "$KILN" data status >/dev/null
expect_ok "$KILN" data pull >out
expect_same <(echo "0 fetched, 3 already local, 0 files written") out

# A modified file is kept (exit 1, named) unless --force; a deleted one comes back.
echo mine >data/train.csv
rm big.bin
expect_fail --code 1 "$KILN" data pull >out 2>err
expect_contains err "'data/train.csv' differs from its pointer: kept"
expect_contains out "1 file written, modified files kept"
expect_same ../repo/big.bin big.bin
expect_contains data/train.csv mine
expect_ok "$KILN" data pull --force data/train.csv >out
expect_same ../repo/data/train.csv data/train.csv
expect_same <(echo "0 fetched, 1 already local, 1 file written") out

# A corrupt blob on the server is refused: nothing is written, the store stays clean.
cd ..
sha=$(sha256sum repo/data/train.csv | cut -d' ' -f1)
obj=$TMP/home/blobs/objects/${sha:0:2}/${sha:2}
[ -f "$obj" ] || fail "no server blob at $obj"
printf 'evil\n' >"$obj"
mkdir fresh && cp clone/data/train.csv.kiln fresh/
cd fresh
export KILN_HOME=$TMP/home-c
expect_fail --code 1 "$KILN" data pull train.csv 2>err
expect_contains err "corrupt"
[ -e train.csv ] && fail "a corrupt blob was written to train.csv"
ls -A | grep -v -e '^train.csv.kiln$' -e '^err$' && fail "leftovers after a refused pull"
[ -d "$KILN_HOME/blobs/objects" ] && find "$KILN_HOME/blobs/objects" -type f | grep -q . &&
	fail "a corrupt blob entered the local store"

# usage errors
expect_fail --code 2 "$KILN" data pull --bogus 2>err
expect_contains err "unknown option"
exit 0
