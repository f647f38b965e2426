#!/usr/bin/env bash
# t4201: kiln train --register against a real kiln server, twice, from a
# git repository made here: the versions carry the lineage the bundle
# records (git commit, data sha256 = sha256sum of the training file, the
# workflow run from GITHUB_*), the bundle is the run's artifact and a blob,
# an alias resolves and rolls back (twice: further back), kiln exp shows
# the runs with their metrics, and the npm mlflow client reads the same
# run's params and metrics over REST.
. "$KILN_TOP/tests/e2e/lib.sh"

start_server server.log
export KILN_SERVER=http://127.0.0.1:$PORT
unset KILN_TOKEN KILN_TOKEN_FILE MLFLOW_EXPERIMENT_NAME

mkdir repo
cp "$DATA/sentiment/train.csv" repo/
(cd repo && git init -q && git add train.csv &&
	git -c user.email=t@kiln -c user.name=t commit -qm data) || fail "git setup"
COMMIT=$(git -C repo rev-parse HEAD)
DATA_SHA=$(sha256sum repo/train.csv | cut -c1-64)

# 1: inside a workflow (kiln run sets GITHUB_*), with an alias.
expect_ok env GITHUB_REPOSITORY=acme/shop GITHUB_WORKFLOW=train GITHUB_RUN_ID=17 \
	GITHUB_RUN_NUMBER=3 "$KILN" train repo/train.csv -o v1.kiln --register sent \
	--alias prod >train1.out
expect_contains train1.out "registered: sent version 1 (run "
# 2: another experiment, JSON output.
expect_ok "$KILN" train repo/train.csv -o v2.kiln --C 0.3 --register sent \
	--experiment tuning --json >train2.json

expect_ok python3 - train2.json v1.kiln v2.kiln "$COMMIT" "$DATA_SHA" "$PORT" <<'PY'
import hashlib, json, sys, urllib.request
out, b1, b2, commit, data_sha, port = sys.argv[1:]
t = json.load(open(out))
r = t["registered"]
assert r["name"] == "sent" and r["version"] == 2 and r["alias"] is None, r
assert r["source"] == "mlflow-artifacts:/%s/%s/artifacts/model/model.kiln" % (
    r["experiment_id"], r["run_id"]), r
assert t["sha256"] == hashlib.sha256(open(b2, "rb").read()).hexdigest()
base = "http://127.0.0.1:%s" % port
# The bundle is the run's artifact, and a blob under its sha256.
for sha, path in ((t["sha256"], b2),):
    art = urllib.request.urlopen(base + "/api/2.0/mlflow-artifacts/artifacts/%s/%s/artifacts/model/model.kiln"
                                 % (r["experiment_id"], r["run_id"])).read()
    assert art == open(path, "rb").read()
    assert urllib.request.urlopen(base + "/api/2.0/kiln/blobs/" + sha).read() == art
v = json.load(urllib.request.urlopen(base + "/api/2.0/mlflow/model-versions/get?name=sent&version=2"))
lin = v["model_version"]["kiln_lineage"]
assert lin["git_commit"] == commit and lin["data_sha256"] == data_sha, lin
assert lin["bundle_sha256"] == t["sha256"], lin
assert v["model_version"]["run_id"] == r["run_id"]
PY

# models versions: both, newest first, with the lineage.
expect_ok "$KILN" models versions sent >versions.txt
expect_lines versions.txt 3
expect_contains versions.txt "${COMMIT:0:12}"
expect_contains versions.txt "${DATA_SHA:0:12}"
expect_contains versions.txt "repository=acme/shop workflow=train run_id=17 run_number=3"
expect_ok "$KILN" models versions sent --json >versions.json
expect_ok python3 - versions.json "$COMMIT" "$DATA_SHA" v1.kiln <<'PY'
import hashlib, json, sys
vs = json.load(open(sys.argv[1]))["model_versions"]
assert [v["version"] for v in vs] == ["2", "1"], vs
for v in vs:
    assert v["kiln_lineage"]["git_commit"] == sys.argv[2], v
    assert v["kiln_lineage"]["data_sha256"] == sys.argv[3], v
assert vs[1]["kiln_lineage"]["bundle_sha256"] == hashlib.sha256(open(sys.argv[4], "rb").read()).hexdigest()
assert vs[1]["kiln_lineage"]["workflow_run"] == "repository=acme/shop workflow=train run_id=17 run_number=3"
assert vs[1]["aliases"] == ["prod"] and vs[0]["aliases"] == []
for v in vs:  # the bundles are written outside the repository: clean
    assert {t["key"]: t["value"] for t in v["tags"]}["kiln.git_dirty"] == "false", v
PY
expect_ok "$KILN" models ls >ls.txt
expect_contains ls.txt "sent"
expect_contains ls.txt "prod=1"
expect_ok "$KILN" models show sent >show.txt
expect_contains show.txt "aliases:     prod=1"
expect_contains show.txt "versions:    2"

# Alias moves and resolves; rollback pops the moves one by one.
resolve() { curl -sf "$KILN_SERVER/api/2.0/kiln/resolve?ref=sent@prod" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'; }
[ "$(resolve)" = 1 ] || fail "prod should resolve to 1"
expect_ok "$KILN" models alias sent prod 2 >alias.out
expect_contains alias.out "sent@prod -> version 2"
[ "$(resolve)" = 2 ] || fail "prod should resolve to 2"
echo wip >repo/notes.txt # the manifest records the work tree as dirty
expect_ok "$KILN" train repo/train.csv -o v3.kiln --C 3 --register sent --alias prod >/dev/null
[ "$(resolve)" = 3 ] || fail "prod should resolve to 3"
curl -sf "$KILN_SERVER/api/2.0/mlflow/model-versions/get?name=sent&version=3" >v3.json
expect_contains v3.json '{"key":"kiln.git_dirty","value":"true"}'
expect_ok "$KILN" models rollback sent prod >rb1.out
expect_contains rb1.out "sent@prod: version 3 -> 2"
[ "$(resolve)" = 2 ] || fail "rollback should go to 2"
expect_ok "$KILN" models rollback sent prod --json >rb2.json
expect_ok python3 -c 'import json,sys; d=json.load(open("rb2.json")); assert d["version"]==1 and d["from"]==2, d'
[ "$(resolve)" = 1 ] || fail "second rollback should go to 1"
expect_fail --code 1 "$KILN" models rollback sent prod 2>rb3.err
expect_lines rb3.err 1
expect_contains rb3.err "kiln: error: alias 'prod' of model 'sent' has no earlier version to roll back to"
[ "$(resolve)" = 1 ] || fail "a failed rollback must not move the alias"
expect_ok "$KILN" models history sent prod >hist.txt
expect_lines hist.txt 6 # header + set 1, set 2, set 3, rollback, rollback

# exp: both experiments, the runs with status and metrics.
expect_ok "$KILN" exp ls >exp.txt
expect_contains exp.txt "Default"
expect_contains exp.txt "tuning"
expect_ok "$KILN" exp show Default >expshow.txt
expect_contains expshow.txt "(2 runs)"
expect_contains expshow.txt "FINISHED"
expect_contains expshow.txt "accuracy=0.8"
expect_ok "$KILN" exp show tuning --json >exp.json
RUN=$(python3 -c 'import json; d=json.load(open("exp.json")); r=d["runs"]; assert len(r)==1, r; print(r[0]["info"]["run_id"])') ||
	fail "exp show --json"
[ "$RUN" = "$(python3 -c 'import json; print(json.load(open("train2.json"))["registered"]["run_id"])')" ] ||
	fail "exp show tuning lists another run"

# The same run through a real MLflow client (npm mlflow, as t4105 installs it).
NPM_DIR=$KILN_TOP/build/npm
if [ ! -f "$NPM_DIR/node_modules/mlflow/package.json" ]; then
	mkdir -p "$NPM_DIR"
	npm install --no-audit --no-fund --prefix "$NPM_DIR" mlflow@2.0.7 >npm.log 2>&1 ||
		fail "npm install mlflow@2.0.7 failed: $(tail -5 npm.log)"
fi
cat >view.js <<'JS'
const MLflow = require('mlflow');
const assert = require('assert');
const {Runs} = new MLflow({endpoint: 'http://127.0.0.1:' + process.argv[2]});
(async () => {
  const {run} = await Runs.get({run_id: process.argv[3]});
  const params = Object.fromEntries(run.data.params.map(p => [p.key, p.value]));
  const metrics = Object.fromEntries(run.data.metrics.map(m => [m.key, m.value]));
  const tags = Object.fromEntries(run.data.tags.map(t => [t.key, t.value]));
  assert.strictEqual(run.info.status, 'FINISHED');
  assert.strictEqual(params.C, '0.3');
  assert.strictEqual(params.algorithm, 'logreg');
  assert.ok(metrics.accuracy > 0.7 && metrics.accuracy <= 1, metrics);
  assert.strictEqual(tags['mlflow.source.git.commit'], process.argv[4]);
  assert.strictEqual(tags['kiln.data_sha256'], process.argv[5]);
  require('fs').writeFileSync('view.ok', 'ok');
})().catch(e => { console.error(e); process.exit(1); });
JS
NODE_PATH=$NPM_DIR/node_modules expect_ok node view.js "$PORT" "$RUN" "$COMMIT" "$DATA_SHA" >/dev/null
[ -f view.ok ] || fail "npm view did not finish"
