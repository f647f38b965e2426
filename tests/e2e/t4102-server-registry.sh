#!/usr/bin/env bash
# t4102: kiln server's model registry with Python's urllib: registered
# models (create, get, rename, update, search with pagination, tags,
# delete), versions (create with lineage, get, update, search, stages,
# latest versions, download uri, tags, delete), aliases (set, get, move,
# delete) and MLflow's errors for each.
. "$KILN_TOP/tests/e2e/lib.sh"


start_server server.log
PYTHONPATH=$KILN_TOP/tests/e2e expect_ok python3 - "$PORT" <<'PY'
import json, sys, urllib.request, urllib.error, urllib.parse
from mlflow_rest import caller
call = caller(sys.argv[1])

SHA = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
run = call("POST", "runs/create", {"experiment_id": "0"})["run"]["info"]["run_id"]
m = call("POST", "registered-models/create", {"name": "spam-clf", "description": "spam filter",
                                              "tags": [{"key": "team", "value": "ml"}]})["registered_model"]
assert m["name"] == "spam-clf" and m["description"] == "spam filter" and m["tags"] == [{"key": "team", "value": "ml"}], m
err = call("POST", "registered-models/create", {"name": "spam-clf"}, status=400)
assert err["error_code"] == "RESOURCE_ALREADY_EXISTS", err
err = call("GET", "registered-models/get", query={"name": "nope"}, status=404)
assert err["error_code"] == "RESOURCE_DOES_NOT_EXIST", err

v1 = call("POST", "model-versions/create", {"name": "spam-clf", "source": "runs:/%s/model" % run, "run_id": run,
                                           "bundle_sha256": SHA, "git_commit": "abc123", "data_sha256": SHA,
                                           "workflow_run": "42"})["model_version"]
assert v1["version"] == "1" and v1["status"] == "READY" and v1["current_stage"] == "None" and v1["run_id"] == run, v1
assert v1["kiln_lineage"] == {"bundle_sha256": SHA, "git_commit": "abc123", "data_sha256": SHA, "workflow_run": "42"}, v1
v2 = call("POST", "model-versions/create", {"name": "spam-clf", "source": "mlflow-artifacts:/0/%s/artifacts/model" % run, "run_id": run})["model_version"]
assert v2["version"] == "2", v2
for bad in ["../etc/passwd", "runs:/x/../../y", "file:///etc/passwd", "/abs/path", "runs:/x/%2e%2e/y"]:
    err = call("POST", "model-versions/create", {"name": "spam-clf", "source": bad}, status=400)
    assert err["error_code"] == "INVALID_PARAMETER_VALUE", (bad, err)
err = call("POST", "model-versions/create", {"name": "nope", "source": "runs:/x/m"}, status=404)
err = call("POST", "model-versions/create", {"name": "spam-clf"}, status=400)
assert "'source'" in err["message"], err
assert call("GET", "model-versions/get", query={"name": "spam-clf", "version": "2"})["model_version"]["version"] == "2"
err = call("GET", "model-versions/get", query={"name": "spam-clf", "version": "9"}, status=404)
err = call("GET", "model-versions/get", query={"name": "spam-clf", "version": "x"}, status=400)
u = call("PATCH", "model-versions/update", {"name": "spam-clf", "version": "1", "description": "first"})["model_version"]
assert u["description"] == "first", u
assert call("GET", "model-versions/get-download-uri", query={"name": "spam-clf", "version": "1"}) == {"artifact_uri": "runs:/%s/model" % run}
assert call("POST", "model-versions/set-tag", {"name": "spam-clf", "version": "1", "key": "k", "value": "v"}) == {}
assert call("GET", "model-versions/get", query={"name": "spam-clf", "version": "1"})["model_version"]["tags"] == [{"key": "k", "value": "v"}]
assert call("DELETE", "model-versions/delete-tag", {"name": "spam-clf", "version": "1", "key": "k"}) == {}

# stages
t = call("POST", "model-versions/transition-stage", {"name": "spam-clf", "version": "1", "stage": "production"})["model_version"]
assert t["current_stage"] == "Production", t
t = call("POST", "model-versions/transition-stage", {"name": "spam-clf", "version": "2", "stage": "Production",
                                                      "archive_existing_versions": True})["model_version"]
assert call("GET", "model-versions/get", query={"name": "spam-clf", "version": "1"})["model_version"]["current_stage"] == "Archived"
call("POST", "model-versions/transition-stage", {"name": "spam-clf", "version": "1", "stage": "Live"}, status=400)
latest = call("GET", "registered-models/get-latest-versions", query={"name": "spam-clf", "stages": ["Production"]})["model_versions"]
assert [v["version"] for v in latest] == ["2"], latest
latest = call("POST", "registered-models/get-latest-versions", {"name": "spam-clf"})["model_versions"]
assert sorted(v["current_stage"] for v in latest) == ["Archived", "Production"], latest
call("GET", "registered-models/get-latest-versions", query={"name": "nope"}, status=404)

# aliases
assert call("POST", "registered-models/alias", {"name": "spam-clf", "alias": "champion", "version": "1"}) == {}
a = call("GET", "registered-models/alias", query={"name": "spam-clf", "alias": "champion"})["model_version"]
assert a["version"] == "1" and a["aliases"] == ["champion"], a
assert call("POST", "registered-models/alias", {"name": "spam-clf", "alias": "champion", "version": "2"}) == {}
assert call("GET", "registered-models/alias", query={"name": "spam-clf", "alias": "champion"})["model_version"]["version"] == "2"
err = call("GET", "registered-models/alias", query={"name": "spam-clf", "alias": "nope"}, status=400)
assert err == {"error_code": "INVALID_PARAMETER_VALUE", "message": "Registered model alias nope not found."}, err
call("GET", "registered-models/alias", query={"name": "nope", "alias": "champion"}, status=404)
call("POST", "registered-models/alias", {"name": "spam-clf", "alias": "x", "version": "7"}, status=404)
g = call("GET", "registered-models/get", query={"name": "spam-clf"})["registered_model"]
assert g["aliases"] == [{"alias": "champion", "version": "2"}], g
assert sorted(v["version"] for v in g["latest_versions"]) == ["1", "2"], g
assert call("DELETE", "registered-models/alias", {"name": "spam-clf", "alias": "champion"}) == {}
call("GET", "registered-models/alias", query={"name": "spam-clf", "alias": "champion"}, status=400)
# deleting a version drops the aliases on it; numbers are never reused
call("POST", "registered-models/alias", {"name": "spam-clf", "alias": "old", "version": "1"})
assert call("DELETE", "model-versions/delete", {"name": "spam-clf", "version": "1"}) == {}
call("GET", "registered-models/alias", query={"name": "spam-clf", "alias": "old"}, status=400)
assert call("POST", "model-versions/create", {"name": "spam-clf", "source": "runs:/x/m"})["model_version"]["version"] == "3"

# model-versions/search
vs = call("GET", "model-versions/search", query={"filter": "name='spam-clf'"})["model_versions"]
assert [v["version"] for v in vs] == ["3", "2"], vs
vs = call("GET", "model-versions/search", query={"filter": "run_id = '%s'" % run})["model_versions"]
assert [v["version"] for v in vs] == ["2"], vs
call("GET", "model-versions/search", query={"filter": "source = 'x'"}, status=400)

# model tags, rename, update, search, delete
assert call("POST", "registered-models/set-tag", {"name": "spam-clf", "key": "k", "value": "v"}) == {}
assert call("DELETE", "registered-models/delete-tag", {"name": "spam-clf", "key": "k"}) == {}
r = call("POST", "registered-models/rename", {"name": "spam-clf", "new_name": "ham-clf"})["registered_model"]
assert r["name"] == "ham-clf", r
assert call("GET", "model-versions/get", query={"name": "ham-clf", "version": "3"})["model_version"]["name"] == "ham-clf"
r = call("PATCH", "registered-models/update", {"name": "ham-clf", "description": "renamed"})["registered_model"]
assert r["description"] == "renamed", r
for i in range(5):
    call("POST", "registered-models/create", {"name": "m%d" % i})
got, token = [], None
while True:
    q = {"max_results": 2}
    if token:
        q["page_token"] = token
    p = call("GET", "registered-models/search", query=q)
    got += [x["name"] for x in p.get("registered_models", [])]
    token = p.get("next_page_token")
    if not token:
        break
assert got == sorted(got) and len(got) == 6, got
f = call("GET", "registered-models/search", query={"filter": "name LIKE 'm%'", "order_by": "name DESC"})["registered_models"]
assert [x["name"] for x in f] == ["m4", "m3", "m2", "m1", "m0"], f
assert [x["name"] for x in call("GET", "registered-models/search", query={"filter": "name='m2'"})["registered_models"]] == ["m2"]
call("GET", "registered-models/search", query={"max_results": 1001}, status=400)
assert call("DELETE", "registered-models/delete", {"name": "ham-clf"}) == {}
call("GET", "registered-models/get", query={"name": "ham-clf"}, status=404)
call("GET", "model-versions/get", query={"name": "ham-clf", "version": "3"}, status=404)
# wrong method on a known endpoint
call("GET", "registered-models/create", status=405)
print("ok")
PY
