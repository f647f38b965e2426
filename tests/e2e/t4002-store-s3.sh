#!/usr/bin/env bash
# t4002: the blob store's unit-test suite (src/store/blob_test.c) against an
# S3-compatible server (moto, on 127.0.0.1 on a free port, stopped by the
# trap) that checks SigV4 signatures; boto3 reads back what kiln wrote and
# plants a corrupt object that kiln must refuse; a wrong secret is refused.
. "$KILN_TOP/tests/e2e/lib.sh"

suite=$(dirname "$KILN")/test/store/blob_test
[ -x "$suite" ] || fail "no $suite: build it with 'make check' (or make $suite)"
start_moto # lib.sh: moto with SigV4 checks, an IAM user's keys exported
py=$PY

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
