#!/usr/bin/env bash
# t3001: kiln serve answers every route (/predict, KServe V1, Open Inference
# Protocol V2, health, readiness, metadata) for a text model and a tabular
# model, with the shapes of docs/serve.md. Checked with curl and Python.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_ok "$KILN" train "$DATA/sentiment/train.csv" --target label --label-name sentiment \
	-o sentiment.kiln >/dev/null
start_serve serve.log sentiment.kiln
expect_contains serve.log "listening on http://127.0.0.1:$PORT"

# The same text through every protocol must give the same answer.
expect_ok python3 - "$PORT" <<'PY'
import json, sys, urllib.request, urllib.error
base = "http://127.0.0.1:%s" % sys.argv[1]

def call(path, body=None, method=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())

def ok(path, body=None):
    st, j = call(path, body)
    assert st == 200, (path, st, j)
    return j

pos, neg = "I loved this movie, the food was wonderful", "awful, terrible, the worst"
one = ok("/predict", {"text": pos})
assert set(one) == {"sentiment", "probability", "model", "version"}, one
assert one["sentiment"] == "positive" and one["model"] == "sentiment" and one["version"] == "1", one
assert 0.5 < one["probability"] <= 1, one
many = ok("/predict", {"instances": [{"text": pos}, neg, {"text": neg, "other": 1}]})
assert [m["sentiment"] for m in many] == ["positive", "negative", "negative"], many
assert abs(many[0]["probability"] - one["probability"]) < 1e-5

assert ok("/v1/models") == {"models": ["sentiment"]}
assert ok("/v1/models/sentiment") == {"name": "sentiment", "ready": True}
v1 = ok("/v1/models/sentiment:predict", {"instances": [pos, neg]})
assert v1["predictions"] == ["positive", "negative"], v1
assert len(v1["probabilities"]) == 2 and abs(sum(v1["probabilities"][0]) - 1) < 1e-5, v1
assert abs(v1["probabilities"][0][1] - one["probability"]) < 1e-5, (v1, one)
assert ok("/v1/models/sentiment%3Apredict", {"inputs": [pos]})["predictions"] == ["positive"]

assert ok("/v2/health/live") == {"live": True}
assert ok("/v2/health/ready") == {"ready": True}
assert ok("/v2") == {"name": "kiln", "version": ok("/v2")["version"], "extensions": []}
assert ok("/v2/models") == {"models": ["sentiment"]}
meta = ok("/v2/models/sentiment")
assert meta["name"] == "sentiment" and meta["versions"] == ["1"], meta
assert meta["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}], meta
assert [o["name"] for o in meta["outputs"]] == ["label", "proba"], meta
assert ok("/v2/models/sentiment/versions/1") == meta
assert ok("/v2/models/sentiment/ready") == {"name": "sentiment", "ready": True}
assert ok("/v2/models/sentiment/versions/1/ready") == {"name": "sentiment", "ready": True}

# KServe sklearnserver style: flat BYTES, any tensor name.
r = ok("/v2/models/sentiment/infer", {"id": "req-1", "inputs": [
    {"name": "input-0", "shape": [2], "datatype": "BYTES", "data": [pos, neg]}]})
assert r["model_name"] == "sentiment" and r["model_version"] == "1" and r["id"] == "req-1", r
lab, proba = r["outputs"]
assert lab == {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["positive", "negative"]}, lab
assert proba["name"] == "proba" and proba["datatype"] == "FP32" and proba["shape"] == [2, 2], proba
assert abs(proba["data"][1] - one["probability"]) < 1e-5, (proba, one)
# MLServer style: content_type str, shape [N, 1], nested data, outputs selected by its names.
r = ok("/v2/models/sentiment/versions/1/infer", {"parameters": {"content_type": "str"},
    "inputs": [{"name": "text", "shape": [2, 1], "datatype": "BYTES",
                "parameters": {"content_type": "str"}, "data": [[neg], [pos]]}],
    "outputs": [{"name": "predict_proba"}, {"name": "predict"}]})
assert "id" not in r
assert [o["name"] for o in r["outputs"]] == ["predict_proba", "predict"], r
assert r["outputs"][1]["data"] == ["negative", "positive"], r
h = ok("/health")
assert set(h) == {"status", "model"} and h["status"] == "ok", h
import hashlib, time
assert h["model"]["name"] == "sentiment" and h["model"]["version"] == "1", h
assert h["model"]["sha256"] == hashlib.sha256(open("sentiment.kiln", "rb").read()).hexdigest(), h
assert 0 < time.time() - h["model"]["loaded_at"] < 600, h
assert ok("/ready") == {"ready": True}
PY

# /metrics counted what happened above.
curl -s "http://127.0.0.1:$PORT/metrics" >metrics || fail "GET /metrics"
expect_contains metrics 'kiln_http_requests_total{code="200",handler="/predict",method="POST"} 2'
expect_contains metrics 'kiln_model_info{model="sentiment",sha256="'
expect_contains metrics 'kiln_model_predictions_total{class="positive",model="sentiment",version="1"}'

# A tabular model: one field per column, numbers as numbers, one V2 tensor per column.
expect_ok "$KILN" train "$DATA/churn/train.csv" --target churn -o churn.kiln >/dev/null
start_serve churn.log churn.kiln --name churn --model-version 7
expect_ok python3 - "$PORT" "$DATA/churn/test.csv" <<'PY'
import csv, json, sys, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode())
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
        return json.loads(r.read())
rows = list(csv.DictReader(open(sys.argv[2])))[:5]
def typed(row):
    out = {}
    for k, v in row.items():
        if k == "churn":
            continue
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = v
    return out
inst = [typed(r) for r in rows]
one = post("/predict", inst[0])
assert one["model"] == "churn" and one["version"] == "7" and one["churn"] in ("yes", "no"), one
many = post("/predict", {"instances": inst})
assert len(many) == 5 and many[0] == one, (many, one)
cols = list(inst[0])
v2 = post("/v2/models/churn/versions/7/infer", {"inputs": [
    {"name": c, "shape": [5], "datatype": "FP64" if isinstance(inst[0][c], float) else "BYTES",
     "data": [i[c] for i in inst]} for c in reversed(cols)]})
assert v2["outputs"][0]["data"] == [m["churn"] for m in many], (v2, many)
v1 = post("/v1/models/churn:predict", {"instances": [[i[c] for c in cols] for i in inst]})
assert v1["predictions"] == [m["churn"] for m in many], v1
PY

# A regression model: the value under the target's name, V2 output 'value' (FP64).
expect_ok "$KILN" train "$DATA/ames/train.csv" --target Sale_Price -o ames.kiln >/dev/null
start_serve ames.log ames.kiln
expect_ok python3 - "$PORT" "$DATA/ames/test.csv" <<'PY'
import csv, json, sys, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
def call(path, body=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
        return json.loads(r.read())
meta = call("/v2/models/ames")
assert meta["outputs"] == [{"name": "value", "datatype": "FP64", "shape": [-1]}], meta
names = [i["name"] for i in meta["inputs"]]
rows = list(csv.DictReader(open(sys.argv[2])))[:3]
def typed(row):
    out = {}
    for k in names:
        try:
            out[k] = float(row[k])
        except ValueError:
            out[k] = row[k]
    return out
inst = [typed(r) for r in rows]
one = call("/predict", inst[0])
assert set(one) == {"Sale_Price", "model", "version"} and one["Sale_Price"] > 1000, one
v1 = call("/v1/models/ames:predict", {"instances": inst})
assert "probabilities" not in v1 and abs(v1["predictions"][0] - one["Sale_Price"]) < 1e-6, v1
v2 = call("/v2/models/ames/infer", {"inputs": [
    {"name": k, "shape": [3], "datatype": "FP64" if isinstance(inst[0][k], float) else "BYTES",
     "data": [i[k] for i in inst]} for k in names], "outputs": [{"name": "predict"}]})
assert v2["outputs"][0]["name"] == "predict" and v2["outputs"][0]["datatype"] == "FP64", v2
assert v2["outputs"][0]["data"] == v1["predictions"], (v2, v1)
PY
