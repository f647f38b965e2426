#!/usr/bin/env bash
# t4103: kiln server moves bytes: mlflow-artifacts (PUT, GET with headers,
# listing, DELETE, artifacts/list of a run), path traversal refused (raw
# and percent-encoded), kiln blobs by sha256 (upload checked against the
# key, download verified), and NAME@ALIAS resolution with an ETag (304).
. "$KILN_TOP/tests/e2e/lib.sh"


start_server server.log
B=http://127.0.0.1:$PORT/api/2.0
J='Content-Type: application/json'

# A run to hang artifacts on.
expect_ok curl -sf -XPOST "$B/mlflow/runs/create" -H "$J" -d '{"experiment_id":"0"}' -o run.json
RID=$(python3 -c 'import json;print(json.load(open("run.json"))["run"]["info"]["run_id"])')
A=$B/mlflow-artifacts/artifacts/0/$RID/artifacts

head -c 100000 /dev/urandom >model.bin
printf 'flavors: {}\n' >MLmodel
expect_ok curl -sf -XPUT --data-binary @model.bin "$A/model/model.bin" -o put.json
printf '{}' >want.json
expect_same want.json put.json
expect_ok curl -sf -XPUT --data-binary @MLmodel "$A/model/MLmodel" -o /dev/null
expect_ok curl -sf -D headers.txt "$A/model/model.bin" -o got.bin
cmp model.bin got.bin || fail "artifact bytes differ"
expect_contains headers.txt 'Content-Disposition: attachment; filename=model.bin'
expect_contains headers.txt 'X-Content-Type-Options: nosniff'
expect_ok curl -sf -D headers2.txt "$A/model/MLmodel" -o got.MLmodel
expect_same MLmodel got.MLmodel
expect_contains headers2.txt 'Content-Type: text/plain'

expect_ok python3 - "$PORT" "$RID" <<'PY'
import json, sys, urllib.request
port, rid = sys.argv[1], sys.argv[2]
base = "http://127.0.0.1:%s/api/2.0/" % port
ls = json.load(urllib.request.urlopen(base + "mlflow-artifacts/artifacts?path=0/%s/artifacts/model" % rid))
assert ls == {"files": [{"path": "MLmodel", "is_dir": False, "file_size": 12},
                        {"path": "model.bin", "is_dir": False, "file_size": 100000}]}, ls
top = json.load(urllib.request.urlopen(base + "mlflow-artifacts/artifacts?path=0/%s/artifacts" % rid))
assert top == {"files": [{"path": "model", "is_dir": True}]}, top
rl = json.load(urllib.request.urlopen(base + "mlflow/artifacts/list?run_id=%s&path=model" % rid))
assert [f["path"] for f in rl["files"]] == ["model/MLmodel", "model/model.bin"], rl
assert rl["root_uri"] == "mlflow-artifacts:/0/%s/artifacts" % rid, rl
print("ok")
PY

# Traversal, raw or encoded, is a 400 with MLflow's shape; nothing is written.
for p in "0/../../etc/passwd" "0/%2e%2e/x" "0/%252e%252e/x" "0/a/./b" "0//b"; do
	code=$(curl -s --path-as-is -o err.json -w '%{http_code}' -XPUT --data-binary x "$B/mlflow-artifacts/artifacts/$p")
	[ "$code" = 400 ] || fail "PUT $p: status $code: $(cat err.json)"
	expect_contains err.json '"error_code": "INVALID_PARAMETER_VALUE"'
	code=$(curl -s --path-as-is -o err.json -w '%{http_code}' "$B/mlflow-artifacts/artifacts/$p")
	[ "$code" = 400 ] || fail "GET $p: status $code"
done
code=$(curl -s -o err.json -w '%{http_code}' "$A/nope.txt")
[ "$code" = 404 ] || fail "missing artifact: status $code"
expect_contains err.json '"error_code": "RESOURCE_DOES_NOT_EXIST"'
code=$(curl -s -o err.json -w '%{http_code}' -XPOST "$B/mlflow-artifacts/mpu/create/x")
[ "$code" = 501 ] || fail "mpu: status $code"
expect_ok curl -sf -XDELETE "$A/model/MLmodel" -o /dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' "$A/model/MLmodel")
[ "$code" = 404 ] || fail "deleted artifact: status $code"

# Blobs by sha256: the body must hash to the key.
SHA=$(sha256sum model.bin | cut -d' ' -f1)
expect_ok curl -sf -XPUT --data-binary @model.bin "$B/kiln/blobs/$SHA" -o blob.json
expect_contains blob.json "\"sha256\":\"$SHA\""
expect_ok curl -sf "$B/kiln/blobs/$SHA" -o blob.bin
cmp model.bin blob.bin || fail "blob bytes differ"
code=$(curl -s -o err.json -w '%{http_code}' -XPUT --data-binary @MLmodel "$B/kiln/blobs/$SHA")
[ "$code" = 400 ] || fail "mismatched blob: status $code"
expect_contains err.json 'hashes to'
code=$(curl -s -o err.json -w '%{http_code}' "$B/kiln/blobs/$(printf '%064d' 0)")
[ "$code" = 404 ] || fail "unknown blob: status $code"
code=$(curl -s -o err.json -w '%{http_code}' "$B/kiln/blobs/XYZ")
[ "$code" = 400 ] || fail "bad blob key: status $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -I "$B/kiln/blobs/$SHA")
[ "$code" = 200 ] || fail "HEAD blob: status $code"

# NAME@ALIAS -> version and sha256, with an ETag that moves with the alias.
expect_ok curl -sf -XPOST "$B/mlflow/registered-models/create" -H "$J" -d '{"name":"clf"}' -o /dev/null
for i in 1 2; do
	expect_ok curl -sf -XPOST "$B/mlflow/model-versions/create" -H "$J" \
		-d "{\"name\":\"clf\",\"source\":\"runs:/$RID/model\",\"run_id\":\"$RID\",\"bundle_sha256\":\"$SHA\"}" -o /dev/null
done
expect_ok curl -sf -XPOST "$B/mlflow/registered-models/alias" -H "$J" -d '{"name":"clf","alias":"production","version":"1"}' -o /dev/null
expect_ok curl -sf -D r.h "$B/kiln/resolve?ref=clf@production" -o r.json
expect_ok python3 - "$SHA" "$RID" <<'PY'
import json, sys
r = json.load(open("r.json"))
assert r == {"name": "clf", "alias": "production", "version": 1, "sha256": sys.argv[1],
             "source": "runs:/%s/model" % sys.argv[2], "run_id": sys.argv[2]}, r
PY
ETAG=$(sed -n 's/^ETag: \(.*\)\r$/\1/p' r.h)
[ "$ETAG" = "\"1-$SHA\"" ] || fail "etag '$ETAG'"
code=$(curl -s -o nm.txt -w '%{http_code}' -H "If-None-Match: $ETAG" "$B/kiln/resolve?name=clf&alias=production")
[ "$code" = 304 ] || fail "unchanged alias: status $code"
[ ! -s nm.txt ] || fail "304 with a body"
expect_ok curl -sf -XPOST "$B/mlflow/registered-models/alias" -H "$J" -d '{"name":"clf","alias":"production","version":"2"}' -o /dev/null
code=$(curl -s -o r2.json -w '%{http_code}' -H "If-None-Match: $ETAG" "$B/kiln/resolve?ref=clf@production")
[ "$code" = 200 ] || fail "moved alias: status $code"
expect_contains r2.json '"version":2'
code=$(curl -s -o err.json -w '%{http_code}' "$B/kiln/resolve?ref=clf@nope")
[ "$code" = 404 ] || fail "unknown alias: status $code"
code=$(curl -s -o err.json -w '%{http_code}' "$B/kiln/resolve?ref=clf")
[ "$code" = 400 ] || fail "ref without alias: status $code"
