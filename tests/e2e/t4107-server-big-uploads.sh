#!/usr/bin/env bash
# t4107: kiln server takes and serves artifacts and blobs larger than its
# memory limits: uploads are spooled to $KILN_HOME/tmp as they arrive and
# downloads are sent from a verified file, so a 96 MB blob moves through a
# server whose resident memory grows by far less (checked on VmHWM). Also:
# the hash is checked before anything is stored, an unauthenticated upload
# is refused before its body is read, --max-body caps uploads with 413,
# and kiln data push/pull round-trip a big file. Real curl, real files.
. "$KILN_TOP/tests/e2e/lib.sh"

echo s3cret >token
start_server server.log --token-file token --max-body 200000000
R=http://127.0.0.1:$PORT
SPID=$PID
A=(-H "Authorization: Bearer s3cret")
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SPID/status"; }

head -c $((96 * 1024 * 1024)) /dev/urandom >big.bin
sha=$(sha256sum big.bin | cut -d' ' -f1)
# Warm the server's paths with a small blob first, so the baseline includes them.
printf 'small' >small.bin
ssha=$(sha256sum small.bin | cut -d' ' -f1)
expect_ok curl -sf "${A[@]}" -X PUT --data-binary @small.bin "$R/api/2.0/kiln/blobs/$ssha" -o /dev/null
expect_ok curl -sf "$R/api/2.0/kiln/blobs/$ssha" -o small.back
expect_same small.bin small.back
before=$(hwm)

# A blob: PUT, GET (byte for byte), HEAD (the size, no body).
code=$(curl -s "${A[@]}" -X PUT --data-binary @big.bin -o put.json -w '%{http_code}' \
	"$R/api/2.0/kiln/blobs/$sha")
[ "$code" = 200 ] || fail "PUT of the big blob: $code $(cat put.json)"
tr -d ' ' <put.json >put.txt
expect_contains put.txt "\"size\":$((96 * 1024 * 1024))"
expect_ok curl -sf "$R/api/2.0/kiln/blobs/$sha" -o big.back
cmp -s big.bin big.back || fail "the big blob came back different"
len=$(curl -sfI "$R/api/2.0/kiln/blobs/$sha" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Ll]ength: //p')
[ "$len" = $((96 * 1024 * 1024)) ] || fail "HEAD Content-Length '$len'"

# HEAD answers from the store's size without reading the bytes (kiln data
# push asks it for every file): a stored blob damaged in place still gets
# its size from HEAD, while GET, which verifies, refuses it.
obj=$TMP/home/blobs/objects/${ssha:0:2}/${ssha:2}
[ -f "$obj" ] || fail "no stored object at $obj"
chmod u+w "$obj"
printf 'SMALL' >"$obj"
len=$(curl -sfI "$R/api/2.0/kiln/blobs/$ssha" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Ll]ength: //p')
[ "$len" = 5 ] || fail "HEAD of a stored blob: Content-Length '$len'"
code=$(curl -s -o /dev/null -w '%{http_code}' "$R/api/2.0/kiln/blobs/$ssha")
[ "$code" != 200 ] || fail "GET sent a blob that does not match its hash"
[ "$(curl -s -o /dev/null -w '%{http_code}' -I "$R/api/2.0/kiln/blobs/$(printf 'none' | sha256sum | cut -d' ' -f1)")" = 404 ] ||
	fail "HEAD of a missing blob is not 404"

# An artifact through the mlflow-artifacts API, and its listing.
code=$(curl -s "${A[@]}" -X PUT --data-binary @big.bin -o /dev/null -w '%{http_code}' \
	"$R/api/2.0/mlflow-artifacts/artifacts/0/run1/artifacts/data/big.bin")
[ "$code" = 200 ] || fail "PUT of the big artifact: $code"
expect_ok curl -sf "$R/api/2.0/mlflow-artifacts/artifacts/0/run1/artifacts/data/big.bin" -o art.back
cmp -s big.bin art.back || fail "the big artifact came back different"
expect_ok curl -sf "$R/api/2.0/mlflow-artifacts/artifacts?path=0/run1/artifacts/data" -o list.json
tr -d ' ' <list.json >list.txt
expect_contains list.txt "\"file_size\":$((96 * 1024 * 1024))"

after=$(hwm)
# Whole in memory, one body alone would be 96 MB (and the buffer doubles).
[ $((after - before)) -lt 40000 ] ||
	fail "server peak RSS grew by $((after - before)) kB moving a 96 MB body"

# A body that does not hash to its key: 400, and nothing stored.
head -c 3000000 /dev/urandom >other.bin
code=$(curl -s "${A[@]}" -X PUT --data-binary @other.bin -o bad.json -w '%{http_code}' \
	"$R/api/2.0/kiln/blobs/$(printf 'x' | sha256sum | cut -d' ' -f1)")
[ "$code" = 400 ] || fail "a body with the wrong hash: $code"
expect_contains bad.json "body hashes to $(sha256sum other.bin | cut -d' ' -f1)"
osha=$(sha256sum other.bin | cut -d' ' -f1)
[ "$(curl -s -o /dev/null -w '%{http_code}' "$R/api/2.0/kiln/blobs/$osha")" = 404 ] ||
	fail "a refused upload was stored"

# No token: 401 before the body is read (curl sends 'Expect: 100-continue'
# for a big body and gets the answer instead of a go-ahead).
code=$(curl -s -X PUT --data-binary @big.bin -o unauth.json -w '%{http_code}' \
	"$R/api/2.0/kiln/blobs/$sha")
[ "$code" = 401 ] || fail "an unauthenticated upload: $code"
expect_contains unauth.json 'UNAUTHENTICATED'
ls -A "$TMP/home/tmp" >left.txt
[ ! -s left.txt ] || fail "files left in the spool directory: $(cat left.txt)"

# kiln data push and pull of the big file through this server.
mkdir ws ws2
cp big.bin ws/big.bin
export KILN_SERVER=$R KILN_TOKEN=s3cret
(cd ws && KILN_HOME=$TMP/kh1 expect_ok "$KILN" data add big.bin >/dev/null &&
	KILN_HOME=$TMP/kh1 expect_ok "$KILN" data push >/dev/null) || fail "data push"
cp ws/big.bin.kiln ws2/
(cd ws2 && KILN_HOME=$TMP/kh2 expect_ok "$KILN" data pull >/dev/null) || fail "data pull"
cmp -s big.bin ws2/big.bin || fail "data pull brought back other bytes"

# Over --max-body: 413 in MLflow's shape, announced or not.
kill "$SPID"
wait "$SPID" 2>/dev/null
start_server server2.log --token-file token --max-body 10000000
R=http://127.0.0.1:$PORT
code=$(curl -s "${A[@]}" -X PUT --data-binary @other.bin -o /dev/null -w '%{http_code}' \
	"$R/api/2.0/kiln/blobs/$osha")
[ "$code" = 200 ] || fail "a 3 MB upload under a 10 MB limit: $code"
head -c 12000000 /dev/urandom >over.bin
code=$(curl -s "${A[@]}" -X PUT --data-binary @over.bin -o over.json -w '%{http_code}' \
	"$R/api/2.0/kiln/blobs/$(sha256sum over.bin | cut -d' ' -f1)")
[ "$code" = 413 ] || fail "an upload over --max-body: $code"
expect_contains over.json 'RESOURCE_EXHAUSTED'
code=$(curl -s "${A[@]}" -X PUT -H 'Transfer-Encoding: chunked' --data-binary @over.bin \
	-o over2.json -w '%{http_code}' "$R/api/2.0/kiln/blobs/$(sha256sum over.bin | cut -d' ' -f1)")
[ "$code" = 413 ] || fail "a chunked upload over --max-body: $code"
