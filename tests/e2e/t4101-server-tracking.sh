#!/usr/bin/env bash
# t4101: kiln server's tracking endpoints with Python's urllib: experiments
# (create, get, get-by-name, search with pagination, update, delete,
# restore, tags), runs (create, get, update, delete, restore), log-metric,
# log-parameter, set-tag, delete-tag, log-batch, metric history, runs/search
# with filter, order_by and pagination, artifacts/list; MLflow's error shapes.
. "$KILN_TOP/tests/e2e/lib.sh"

start_server server.log
expect_contains server.log "listening on http://127.0.0.1:$PORT"

PYTHONPATH=$KILN_TOP/tests/e2e expect_ok python3 - "$PORT" <<'PY'
import json, sys, urllib.request, urllib.error, urllib.parse
from mlflow_rest import caller
call = caller(sys.argv[1])

# experiments
assert call("POST", "experiments/create", {"name": "spam", "tags": [{"key": "team", "value": "ml"}]}) == {"experiment_id": "1"}
e = call("GET", "experiments/get", query={"experiment_id": "1"})["experiment"]
assert e["name"] == "spam" and e["artifact_location"] == "mlflow-artifacts:/1", e
assert e["lifecycle_stage"] == "active" and e["tags"] == [{"key": "team", "value": "ml"}], e
assert isinstance(e["creation_time"], int) and e["creation_time"] > 1600000000000, e
assert call("GET", "experiments/get-by-name", query={"experiment_name": "spam"})["experiment"]["experiment_id"] == "1"
err = call("POST", "experiments/create", {"name": "spam"}, status=400)
assert err["error_code"] == "RESOURCE_ALREADY_EXISTS", err
err = call("GET", "experiments/get", query={"experiment_id": "99"}, status=404)
assert err["error_code"] == "RESOURCE_DOES_NOT_EXIST", err
err = call("GET", "experiments/get-by-name", query={"experiment_name": "nope"}, status=404)
assert err["error_code"] == "RESOURCE_DOES_NOT_EXIST", err
err = call("POST", "experiments/create", {}, status=400)
assert err["error_code"] == "INVALID_PARAMETER_VALUE" and "'name'" in err["message"], err
for i in range(5):
    call("POST", "experiments/create", {"name": "e%d" % i})
assert call("POST", "experiments/update", {"experiment_id": "2", "new_name": "e0-renamed"}) == {}
assert call("POST", "experiments/set-experiment-tag", {"experiment_id": "2", "key": "k", "value": "v"}) == {}
# the npm client's path without '/'
assert call("POST", "experimentsset-experiment-tag", {"experiment_id": "2", "key": "k2", "value": "v2"}) == {}
assert call("POST", "experiments/delete", {"experiment_id": "3"}) == {}
names = [x["name"] for x in call("POST", "experiments/search", {"max_results": 100})["experiments"]]
assert "e1" not in names and "e0-renamed" in names and "Default" in names, names
deleted = call("GET", "experiments/search", query={"view_type": "DELETED_ONLY"})["experiments"]
assert [x["name"] for x in deleted] == ["e1"], deleted
assert call("POST", "experiments/restore", {"experiment_id": "3"}) == {}
# pagination: 7 experiments in pages of 3
seen, token, pages = [], None, 0
while True:
    q = {"max_results": 3, "order_by": ["name ASC"]}
    if token:
        q["page_token"] = token
    page = call("POST", "experiments/search", q)
    seen += [x["name"] for x in page.get("experiments", [])]
    pages += 1
    token = page.get("next_page_token")
    if not token:
        break
assert pages == 3 and len(seen) == 7 and seen == sorted(seen), (pages, seen)
err = call("POST", "experiments/search", {"page_token": "garbage!"}, status=400)
assert err["error_code"] == "INVALID_PARAMETER_VALUE", err
like = call("POST", "experiments/search", {"filter": "name LIKE 'e%'"})["experiments"]
assert sorted(x["name"] for x in like) == ["e0-renamed", "e1", "e2", "e3", "e4"], like
assert call("GET", "experiments/list")["experiments"]

# runs
run = call("POST", "runs/create", {"experiment_id": "1", "start_time": 1700000000000, "run_name": "first",
                                  "tags": [{"key": "mlflow.user", "value": "ci"}]})["run"]
rid = run["info"]["run_id"]
assert len(rid) == 32 and run["info"]["run_uuid"] == rid and run["info"]["status"] == "RUNNING", run
assert run["info"]["artifact_uri"] == "mlflow-artifacts:/1/%s/artifacts" % rid, run
assert {"key": "mlflow.runName", "value": "first"} in run["data"]["tags"], run
err = call("POST", "runs/create", {"experiment_id": "1", "run_name": "a", "tags": [{"key": "mlflow.runName", "value": "b"}]}, status=400)
assert err["error_code"] == "INVALID_PARAMETER_VALUE", err
err = call("POST", "runs/create", {"experiment_id": "42"}, status=404)
assert call("POST", "runs/log-metric", {"run_id": rid, "key": "loss", "value": 0.5, "timestamp": 1700000001000, "step": 1}) == {}
assert call("POST", "runs/log-metric", {"run_uuid": rid, "key": "loss", "value": 0.25, "timestamp": 1700000002000, "step": 2}) == {}
assert call("POST", "runs/log-parameter", {"run_id": rid, "key": "C", "value": "1.0"}) == {}
assert call("POST", "runs/log-parameter", {"run_id": rid, "key": "C", "value": "1.0"}) == {}
err = call("POST", "runs/log-parameter", {"run_id": rid, "key": "C", "value": "2.0"}, status=400)
assert err["error_code"] == "INVALID_PARAMETER_VALUE", err
err = call("POST", "runs/log-metric", {"run_id": rid, "key": "loss", "value": 1}, status=400)
assert "'timestamp'" in err["message"], err
assert call("POST", "runs/set-tag", {"run_id": rid, "key": "stage", "value": "dev"}) == {}
assert call("POST", "runs/set-tag", {"run_id": rid, "key": "gone", "value": "x"}) == {}
assert call("POST", "runs/delete-tag", {"run_id": rid, "key": "gone"}) == {}
batch = {"run_id": rid,
         "metrics": [{"key": "acc", "value": 0.8 + i / 1000, "timestamp": 1700000003000 + i, "step": i} for i in range(50)],
         "params": [{"key": "depth", "value": "6"}], "tags": [{"key": "stage", "value": "prod"}]}
assert call("POST", "runs/log-batch", batch) == {}
err = call("POST", "runs/log-batch", {"run_id": rid, "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 0}] * 1001}, status=400)
assert err["error_code"] == "INVALID_PARAMETER_VALUE", err
# an invalid batch stores nothing of itself
err = call("POST", "runs/log-batch", {"run_id": rid, "metrics": [{"key": "partial", "value": 1, "timestamp": 1}],
                                     "params": [{"key": "C", "value": "3.0"}]}, status=400)
hist = call("GET", "metrics/get-history", query={"run_id": rid, "metric_key": "partial"})
assert not hist.get("metrics"), hist
r = call("GET", "runs/get", query={"run_id": rid})["run"]
metrics = {m["key"]: m for m in r["data"]["metrics"]}
assert metrics["loss"]["value"] == 0.25 and metrics["loss"]["step"] == 2, metrics
assert metrics["acc"]["step"] == 49 and abs(metrics["acc"]["value"] - 0.849) < 1e-12, metrics
params = {p["key"]: p["value"] for p in r["data"]["params"]}
assert params == {"C": "1.0", "depth": "6"}, params
tags = {t["key"]: t["value"] for t in r["data"]["tags"]}
assert tags["stage"] == "prod" and "gone" not in tags and tags["mlflow.user"] == "ci", tags
hist = call("GET", "metrics/get-history", query={"run_id": rid, "metric_key": "acc"})["metrics"]
assert [m["step"] for m in hist] == list(range(50)), hist
page = call("GET", "metrics/get-history", query={"run_id": rid, "metric_key": "acc", "max_results": 20})
assert len(page["metrics"]) == 20 and page["next_page_token"], page
page2 = call("GET", "metrics/get-history", query={"run_id": rid, "metric_key": "acc", "max_results": 20, "page_token": page["next_page_token"]})
assert page2["metrics"][0]["step"] == 20, page2
err = call("GET", "runs/get", query={"run_id": "f" * 32}, status=404)
assert err["error_code"] == "RESOURCE_DOES_NOT_EXIST" and "not found" in err["message"], err
err = call("GET", "runs/get", status=400)
assert err["message"].startswith("Missing value for required parameter 'run_id'"), err
info = call("POST", "runs/update", {"run_id": rid, "status": "FINISHED", "end_time": 1700000060000})["run_info"]
assert info["status"] == "FINISHED" and info["end_time"] == 1700000060000, info
err = call("POST", "runs/update", {"run_id": rid, "status": "DONE"}, status=400)

# search: more runs with a metric, filter, order, pages
ids = []
for i in range(6):
    x = call("POST", "runs/create", {"experiment_id": "1", "start_time": 1700000100000 + i})["run"]["info"]["run_id"]
    call("POST", "runs/log-batch", {"run_id": x, "metrics": [{"key": "acc", "value": i / 10, "timestamp": 1, "step": 0}],
                                    "params": [{"key": "C", "value": str(i % 2)}]})
    ids.append(x)
res = call("POST", "runs/search", {"experiment_ids": ["1"], "filter": "metrics.acc >= 0.3 and params.C = '1'",
                                   "order_by": ["metrics.acc DESC"]})["runs"]
assert [x["info"]["run_id"] for x in res] == [ids[5], ids[3]], res
res = call("POST", "runs/search", {"experiment_ids": ["1"], "filter": "attributes.status = 'FINISHED'"})["runs"]
assert [x["info"]["run_id"] for x in res] == [rid], res
got, token = [], None
while True:
    q = {"experiment_ids": ["1"], "max_results": 4}
    if token:
        q["page_token"] = token
    p = call("POST", "runs/search", q)
    got += [x["info"]["run_id"] for x in p["runs"]]
    token = p.get("next_page_token")
    if not token:
        break
assert got == ids[::-1] + [rid], got   # start_time DESC
err = call("POST", "runs/search", {"experiment_ids": ["1"], "filter": "metrics.acc > 'x'"}, status=400)
err = call("POST", "runs/search", {"experiment_ids": ["1"], "filter": "metrics.acc > 1 or params.C = '1'"}, status=400)
assert err["error_code"] == "INVALID_PARAMETER_VALUE", err
err = call("POST", "runs/search", {"filter": ""}, status=400)
err = call("POST", "runs/search", {"experiment_ids": ["1"], "max_results": 50001}, status=400)
# delete / restore; logging to a deleted run is refused
assert call("POST", "runs/delete", {"run_id": ids[0]}) == {}
res = call("POST", "runs/search", {"experiment_ids": ["1"]})["runs"]
assert ids[0] not in [x["info"]["run_id"] for x in res]
assert call("GET", "runs/get", query={"run_id": ids[0]})["run"]["info"]["lifecycle_stage"] == "deleted"
call("POST", "runs/log-metric", {"run_id": ids[0], "key": "x", "value": 1, "timestamp": 1}, status=400)
assert call("POST", "runs/restore", {"run_id": ids[0]}) == {}
# artifacts/list of a run without artifacts
lst = call("GET", "artifacts/list", query={"run_id": rid})
assert lst["root_uri"] == "mlflow-artifacts:/1/%s/artifacts" % rid and not lst.get("files"), lst
call("GET", "artifacts/list", query={"run_id": rid, "path": "../x"}, status=400)
# the ajax-api alias
assert call("GET", "/ajax-api/2.0/mlflow/experiments/get", query={"experiment_id": "1"})["experiment"]["name"] == "spam"
print("ok")
PY

# Stops cleanly on SIGTERM; the store survives a restart.
kill -TERM $PID
wait $PID
rc=$?
[ $rc -eq 0 ] || fail "kiln server exited $rc on SIGTERM: $(cat server.log)"
start_server server2.log
expect_ok python3 - "$PORT" <<'PY'
import json, sys, urllib.request
u = "http://127.0.0.1:%s/api/2.0/mlflow/experiments/get-by-name?experiment_name=spam" % sys.argv[1]
assert json.load(urllib.request.urlopen(u))["experiment"]["experiment_id"] == "1"
PY
