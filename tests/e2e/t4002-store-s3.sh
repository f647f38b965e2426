#!/usr/bin/env bash
# t4002: the blob store's unit-test suite (src/store/blob_test.c) against an
# S3-compatible server (moto, on 127.0.0.1 on a free port, stopped by the
# trap), then boto3 reads back what kiln wrote and plants a corrupt object
# that kiln must refuse.
. "$KILN_TOP/tests/e2e/lib.sh"

suite=$(dirname "$KILN")/test/store/blob_test
[ -x "$suite" ] || fail "no $suite: build it with 'make check' (or make $suite)"
py=python3
$py -c 'import moto, boto3' 2>/dev/null || py=/usr/bin/python3
$py -c 'import moto, boto3' 2>/dev/null || fail "no python with moto and boto3 (python3 -m moto.server)"

port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$py -m moto.server -H 127.0.0.1 -p "$port" >moto.log 2>&1 &
on_exit_kill $!
export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=kiln-test AWS_SECRET_ACCESS_KEY=kiln-test-secret
for _ in $(seq 1 100); do
	curl -s -o /dev/null "$AWS_ENDPOINT_URL/" && break
	sleep 0.1
done
curl -s -o /dev/null "$AWS_ENDPOINT_URL/" || { cat moto.log >&2; fail "moto did not start"; }

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
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="kiln-test", Prefix="kiln/")["Contents"]]
for k in keys:
    assert k.startswith("kiln/objects/") and len(k.split("/")[-1]) == 62, k
print("read back %d objects" % len(keys))
PY
expect_contains readback.txt "read back"
cat readback.txt
