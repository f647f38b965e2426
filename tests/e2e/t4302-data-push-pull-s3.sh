#!/usr/bin/env bash
# t4302: kiln data push / pull against S3 (moto's server on 127.0.0.1 with
# SigV4 checking on: start_moto in lib.sh): push from a git repository, boto3 reads
# the objects back and checks their hashes, pull into a fresh clone. A
# file changed after `data add` is pushed from the local store.
. "$KILN_TOP/tests/e2e/lib.sh"

start_moto
py=$PY
expect_ok $py -c 'import boto3; boto3.client("s3").create_bucket(Bucket="dvc")'
unset KILN_SERVER KILN_TOKEN KILN_TOKEN_FILE KILN_BLOBS
export KILN_REMOTE=s3://dvc/project KILN_HOME=$TMP/home-a

git init -q repo
cd repo
git config user.email t@example.com
git config user.name t
head -c 2000000 /dev/urandom >model.bin
printf 'a,b\n1,2\n' >train.csv
expect_ok "$KILN" data add model.bin train.csv 2>/dev/null
git add -A
git commit -qm data
cp train.csv ../train.orig
echo edited >train.csv # pushed from the local store, not from this file
expect_ok "$KILN" data push >out
expect_same <(echo "2 pushed, 0 already on the remote") out
expect_ok "$KILN" data push --json >out.json
expect_contains out.json '"already": 2'
cd ..

sha_m=$(sha256sum repo/model.bin | cut -d' ' -f1)
sha_t=$(sha256sum train.orig | cut -d' ' -f1)
expect_ok $py - "$sha_m" "$sha_t" <<'PY'
import hashlib, sys, boto3
s3 = boto3.client("s3")
for k in sys.argv[1:]:
    body = s3.get_object(Bucket="dvc", Key="project/objects/%s/%s" % (k[:2], k[2:]))["Body"].read()
    assert hashlib.sha256(body).hexdigest() == k, k
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="dvc")["Contents"]]
assert len(keys) == 2, keys
PY

git clone -q repo clone
cd clone
export KILN_HOME=$TMP/home-b
expect_ok "$KILN" data pull >out
expect_same <(echo "2 fetched, 0 already local, 2 files written") out
expect_same ../repo/model.bin model.bin
expect_same ../train.orig train.csv
expect_ok "$KILN" data status >/dev/null

# A wrong secret: S3 refuses, kiln says so and writes nothing.
rm model.bin
expect_fail --code 1 env AWS_SECRET_ACCESS_KEY=wrong KILN_HOME=$TMP/home-c "$KILN" data pull 2>err
expect_contains err "HTTP 403"
[ -e model.bin ] && fail "model.bin written despite the error"
exit 0
