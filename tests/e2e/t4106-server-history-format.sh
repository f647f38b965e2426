#!/usr/bin/env bash
# t4106: metrics/get-history writes its reply by hand (for 100,000-point
# histories); every value must read exactly as jansson writes it elsewhere
# (runs/get's latest metrics): each value below goes under its own key, and
# the history's token must equal runs/get's, byte for byte. Also paging and
# a key that needs escaping.
. "$KILN_TOP/tests/e2e/lib.sh"

start_server server.log
expect_ok python3 - "$PORT" <<'PY'
import json, sys, urllib.request, urllib.parse
base = "http://127.0.0.1:%s/api/2.0/mlflow/" % sys.argv[1]

def raw(method, path, body=None, query=None):
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 200, (path, r.status)
        return r.read().decode()

def tokens(text):  # numbers as their raw text
    return json.loads(text, parse_float=lambda s: "F" + s, parse_int=lambda s: "I" + s)

values = [0.1, 3, -2.5, 1e20, 1e-5, 1.5e-300, 123456789012345678, 2**53 + 1, 1e300 * 10,
          "NaN", "Infinity", "-Infinity", 0, -0.0, 5e-324, 1.7976931348623157e308, 100.0, 1e16, 1e17,
          999999999999999.0, 1e15, -42.0, -1e14, 0.5, -0.0001]
rid = json.loads(raw("POST", "runs/create", {"experiment_id": "0"}))["run"]["info"]["run_id"]
open("rid", "w").write(rid)
metrics = [{"key": "v%02d" % i, "value": v, "timestamp": 1700000000000 + i, "step": i}
           for i, v in enumerate(values) if not (isinstance(v, float) and v != v)]
metrics.append({"key": 'odd "key"\\\u00e9', "value": 7.25, "timestamp": 1, "step": 0})
raw("POST", "runs/log-batch", {"run_id": rid, "metrics": metrics})
latest = {m["key"]: m for m in tokens(raw("GET", "runs/get", query={"run_id": rid}))["run"]["data"]["metrics"]}
for m in metrics:
    h = tokens(raw("GET", "metrics/get-history", query={"run_id": rid, "metric_key": m["key"]}))
    assert len(h["metrics"]) == 1 and "next_page_token" not in h, h
    got, want = h["metrics"][0], latest[m["key"]]
    assert got == want, (m, got, want)

# Paging: 250 points of one key, pages of 100, in order, nothing lost.
pts = [{"key": "loss", "value": 1.0 / (i + 1), "timestamp": 1700000000000 + i, "step": i} for i in range(250)]
raw("POST", "runs/log-batch", {"run_id": rid, "metrics": pts})
seen, token = [], None
while True:
    q = {"run_id": rid, "metric_key": "loss", "max_results": "100"}
    if token:
        q["page_token"] = token
    page = json.loads(raw("GET", "metrics/get-history", query=q))
    seen += page["metrics"]
    token = page.get("next_page_token")
    if not token:
        break
assert [(p["step"], p["value"]) for p in seen] == [(p["step"], p["value"]) for p in pts], seen[:3]
print("history: %d values byte-equal to runs/get, %d points paged" % (len(metrics), len(seen)))
PY

# A key that is not UTF-8 (percent-encoded in the query) has no points: an
# empty history, not a server error.
code=$(curl -s -o bad.json -w '%{http_code}' \
	"http://127.0.0.1:$PORT/api/2.0/mlflow/metrics/get-history?run_id=$(cat rid)&metric_key=%ff%fe")
[ "$code" = 200 ] || fail "history of a non-UTF-8 key: HTTP $code $(cat bad.json)"
expect_contains bad.json '{"metrics":[]}'
