#!/usr/bin/env bash
# t4302: kiln data push / pull against S3 (moto's server on 127.0.0.1 with
# SigV4 checking on, as in t4002): push from a git repository, boto3 reads
# the objects back and checks their hashes, pull into a fresh clone. A
# file changed after `data add` is pushed from the local store.
. "$KILN_TOP/tests/e2e/lib.sh"

py=python3
$py -c 'import moto, boto3' 2>/dev/null || py=/usr/bin/python3
$py -c 'import moto, boto3' 2>/dev/null || fail "no python with moto and boto3"
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
INITIAL_NO_AUTH_ACTION_COUNT=3 $py -m moto.server -H 127.0.0.1 -p "$port" >moto.log 2>&1 &
on_exit_kill $!
export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap
up=0
for _ in $(seq 1 150); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
	sleep 0.1
done
[ $up = 1 ] || { cat moto.log >&2; fail "moto did not start"; }
expect_ok $py - >keys <<'PY'
import json, boto3
iam = boto3.client("iam")
iam.create_user(UserName="kiln")
k = iam.create_access_key(UserName="kiln")["AccessKey"]
iam.put_user_policy(UserName="kiln", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
boto3.client("s3", aws_access_key_id=k["AccessKeyId"],
             aws_secret_access_key=k["SecretAccessKey"]).create_bucket(Bucket="dvc")
print(k["AccessKeyId"], k["SecretAccessKey"])
PY
read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY <keys
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
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
