#!/usr/bin/env bash
# t4002: the blob store's unit-test suite (src/store/blob_test.c) against an
# S3-compatible server (moto, on 127.0.0.1 on a free port, stopped by the
# trap) that checks SigV4 signatures; boto3 reads back what kiln wrote and
# plants a corrupt object that kiln must refuse; a wrong secret is refused.
. "$KILN_TOP/tests/e2e/lib.sh"

suite=$(dirname "$KILN")/test/store/blob_test
[ -x "$suite" ] || fail "no $suite: build it with 'make check' (or make $suite)"
py=python3
$py -c 'import moto, boto3' 2>/dev/null || py=/usr/bin/python3
$py -c 'import moto, boto3' 2>/dev/null || fail "no python with moto and boto3 (python3 -m moto.server)"

port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# moto checks signatures after its first 3 requests, which make the IAM
# user whose keys everything afterwards signs with.
INITIAL_NO_AUTH_ACTION_COUNT=3 $py -m moto.server -H 127.0.0.1 -p "$port" >moto.log 2>&1 &
on_exit_kill $!
export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap
# Wait for the port with bare TCP connects: an HTTP probe would use up one
# of moto's unauthenticated requests.
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
print(k["AccessKeyId"], k["SecretAccessKey"])
PY
read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY <keys
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY

# A bucket, and wrong bytes stored under the key of other bytes.
good_sha=$(printf 'good bytes' | sha256sum | cut -d' ' -f1)
expect_ok $py - "$good_sha" <<'PY'
import sys, boto3
s3 = boto3.client("s3")
s3.create_bucket(Bucket="kiln-test")
k = sys.argv[1]
s3.put_object(Bucket="kiln-test", Key="kiln/objects/%s/%s" % (k[:2], k[2:]), Body=b"evil bytes")
PY

KILN_TEST_S3=s3://kiln-test/kiln KILN_TEST_S3_CORRUPT_KEY=$good_sha "$suite" >suite.log 2>&1 ||
	{ cat suite.log >&2; fail "blob suite failed on S3"; }
expect_contains suite.log "blob backend: s3"
expect_contains suite.log "PASSED"
grep -q SKIPPED suite.log && grep SKIPPED suite.log >&2

# boto3 reads back the blob the suite left: its bytes hash to its key.
expect_ok $py - >readback.txt <<'PY'
import hashlib, boto3
s3 = boto3.client("s3")
key = "c8714057f78790d434a91513f7f07187f8fae8a476f031c17bd97f63129adf94"
body = s3.get_object(Bucket="kiln-test", Key="kiln/objects/%s/%s" % (key[:2], key[2:]))["Body"].read()
assert body == b"hello kiln\n", body
assert hashlib.sha256(body).hexdigest() == key
print("read back %d bytes" % len(body))
PY
expect_contains readback.txt "read back"
cat readback.txt

# A wrong secret: the server refuses the signature, kiln says so.
AWS_SECRET_ACCESS_KEY=wrong KILN_TEST_S3=s3://kiln-test/kiln "$suite" >wrong.log 2>&1 &&
	fail "the blob suite passed with a wrong secret"
expect_contains wrong.log "failed: HTTP 403"
