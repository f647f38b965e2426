#!/usr/bin/env bash
# t3002: bad input is the client's problem: malformed JSON, missing and
# wrong-typed fields, bad tensors (400 naming the problem), unknown routes and
# models (404), wrong methods (405 + Allow), oversize bodies (413), slow
# clients (timeout), too many connections; usage errors exit 2, a missing or
# broken model exits 1. The server answers normally afterwards.
. "$KILN_TOP/tests/e2e/lib.sh"

# Command line and model errors.
expect_fail --code 2 "$KILN" serve 2>err
expect_contains err "expected MODEL.kiln"
expect_fail --code 2 "$KILN" serve a.kiln b.kiln 2>err
expect_contains err "unexpected argument 'b.kiln'"
expect_fail --code 2 "$KILN" serve a.kiln --port 70000 2>err
expect_contains err "--port: '70000' is not a number"
expect_fail --code 2 "$KILN" serve a.kiln --bogus 2>err
expect_contains err "unknown option '--bogus'"
expect_fail --code 1 "$KILN" serve missing.kiln 2>err
expect_contains err "missing.kiln"
printf 'KILNMDL\0garbage' >broken.kiln
expect_fail --code 1 "$KILN" serve broken.kiln 2>err
expect_contains err "broken.kiln"

expect_ok "$KILN" train "$DATA/sentiment/train.csv" --target label --label-name sentiment \
	-o s.kiln >/dev/null
expect_fail --code 2 "$KILN" serve s.kiln --host localhost --port 0 2>err
expect_contains err "not a numeric IPv4 or IPv6 address"
expect_fail --code 2 "$KILN" serve s.kiln --name 'a:b' --port 0 2>err
expect_contains err "model name 'a:b'"

start_serve serve.log s.kiln --max-body 4096 --timeout 1 --threads 1 --max-connections 4
expect_ok python3 - "$PORT" <<'PY'
import json, sys, urllib.request, urllib.error
base = "http://127.0.0.1:%s" % sys.argv[1]

def call(path, body=None, method=None, headers=()):
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    for k, v in headers:
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.headers, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read())

def expect(status, msg, path, body=None, method=None, headers=()):
    st, hd, j = call(path, body, method, headers)
    assert st == status, (path, body, st, j)
    assert list(j) == ["error"], j
    assert msg in j["error"], (path, body, j, msg)
    return hd

T = lambda *d: {"inputs": [{"name": "text", "shape": [len(d)], "datatype": "BYTES", "data": list(d)}]}
for path in ("/predict", "/v1/models/s:predict", "/v2/models/s/infer"):
    expect(400, "malformed JSON at line 1 column", path, b'{"text": ')
    expect(400, "malformed JSON", path, b"")
    expect(400, "malformed JSON", path, b'{"text": "a"} trailing')
    expect(400, "must be a JSON object, got array", path, b"[]")
    expect(405, "method GET not allowed", path)
expect(400, "missing field 'text'", "/predict", {"txt": "a"})
expect(400, "field 'text': expected a string, got number", "/predict", {"text": 3})
expect(400, "field 'text': expected a string, got object", "/predict", {"text": {}})
expect(400, "instances[1]: missing field 'text'", "/predict", {"instances": ["a", {}]})
expect(400, 'expected "instances" to be a list', "/predict", {"instances": "a"})
expect(400, "duplicate object key", "/predict", b'{"text": "a", "text": "b"}')
expect(400, "missing field 'instances'", "/v1/models/s:predict", {"text": "a"})
expect(400, "instances[0]: expected an object", "/v1/models/s:predict", {"instances": [5]})
expect(400, "missing field 'inputs'", "/v2/models/s/infer", {"id": "1"})
expect(400, "field 'id' must be a string", "/v2/models/s/infer", dict(T("a"), id=5))
expect(400, "shape needs 3 elements, got 1", "/v2/models/s/infer",
       {"inputs": [{"name": "text", "shape": [3], "datatype": "BYTES", "data": ["a"]}]})
expect(400, "unsupported datatype 'FP16'", "/v2/models/s/infer",
       {"inputs": [{"name": "text", "shape": [1], "datatype": "FP16", "data": [1]}]})
expect(400, "element 0: expected a string, got number", "/v2/models/s/infer",
       {"inputs": [{"name": "text", "shape": [1], "datatype": "FP32", "data": [1]}]})
expect(400, "unknown output 'value'", "/v2/models/s/infer", dict(T("a"), outputs=[{"name": "value"}]))
expect(400, "binary tensor data is not supported", "/v2/models/s/infer", T("a"),
       headers=[("Inference-Header-Content-Length", "10")])

expect(404, "no route for '/nope'", "/nope")
expect(404, "no route", "/v2/models//ready")
expect(404, "Model with name other does not exist.", "/v2/models/other/infer", T("a"))
expect(404, "Model with name other does not exist.", "/v1/models/other:predict", {"instances": ["a"]})
expect(404, "Model with name other does not exist.", "/v2/models/other")
expect(404, "has no version 9", "/v2/models/s/versions/9/infer", T("a"))
hd = expect(405, "method POST not allowed", "/health", b"{}")
assert hd["Allow"] == "GET", hd["Allow"]
hd = expect(405, "method GET not allowed", "/v1/models/s:predict")
assert hd["Allow"] == "POST", hd["Allow"]
expect(405, "not allowed", "/metrics", method="DELETE")
expect(413, "over the limit of 4096 bytes", "/predict", json.dumps({"text": "x" * 5000}).encode())

# Still healthy and answering.
st, _, j = call("/predict", {"text": "great"})
assert st == 200 and j["sentiment"] in ("positive", "negative"), j
PY

# A chunked upload over the cap is cut off while it is read.
head -c 6000 /dev/zero | tr '\0' a >big
code=$(curl -s -o out -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @big \
	"http://127.0.0.1:$PORT/predict")
[ "$code" = 413 ] || fail "chunked oversize body: got $code"

# A client that stalls mid-request is disconnected after --timeout; a
# connection beyond --max-connections waits in the backlog until one closes.
expect_ok python3 - "$PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
s.settimeout(5)
t0 = time.time()
assert s.recv(100) == b"", "stalled client not disconnected"
assert time.time() - t0 < 4.5, time.time() - t0
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
time.sleep(0.2)
extra = socket.create_connection(("127.0.0.1", port))
extra.settimeout(0.5)
extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    got = extra.recv(100)
except socket.timeout:
    got = None
assert got is None, "connection over the limit was served: %r" % got
for c in idle:
    c.close()
extra.settimeout(5)
got = extra.recv(100)
assert got.startswith(b"HTTP/1.1 200"), got
PY
sleep 0.3
code=$(curl -s -o out -w '%{http_code}' "http://127.0.0.1:$PORT/health")
[ "$code" = 200 ] || fail "not healthy after the limits: $code"
kill -0 "$PID" || fail "server died"
