#!/usr/bin/env bash
# t4105: a real MLflow client drives kiln server: the npm package
# mlflow@2.0.7 (installed with npm once into build/npm) creates an
# experiment and a run, logs params, metrics and a batch, sets a tag, ends
# the run, reads everything back (runs/get, get-history, search, list) and
# sees a 404 rejected as the client expects.
. "$KILN_TOP/tests/e2e/lib.sh"

command -v node >/dev/null || fail "node is not installed"
NPM_DIR=$KILN_TOP/build/npm
if [ ! -f "$NPM_DIR/node_modules/mlflow/package.json" ]; then
	mkdir -p "$NPM_DIR"
	npm install --no-audit --no-fund --prefix "$NPM_DIR" mlflow@2.0.7 >npm.log 2>&1 ||
		fail "npm install mlflow@2.0.7 failed: $(tail -5 npm.log)"
fi


start_server server.log
cat >client.js <<'JS'
const MLflow = require('mlflow');
const c = new MLflow({endpoint: 'http://127.0.0.1:' + process.argv[2]});
const {Experiments, Runs, Metrics} = c;
const assert = require('assert');
const result = {};
(async () => {
  const {experiment_id} = await Experiments.create({name: 'npm-exp'});
  assert.strictEqual(experiment_id, '1');
  const got = await Experiments.get({experiment_id});
  assert.strictEqual(got.experiment.name, 'npm-exp');
  await Experiments.setExperimentTag({experiment_id, key: 'team', value: 'ml'});
  const list = await Experiments.list({view_type: 'ALL'});
  assert.deepStrictEqual(list.experiments.map(e => e.name).sort(), ['Default', 'npm-exp']);
  const {run} = await Runs.create({experiment_id, start_time: 1700000000000,
                                   tags: [{key: 'mlflow.user', value: 'npm'}]});
  const run_id = run.info.run_id;
  await Runs.logParameter({run_id, key: 'lr', value: '0.1'});
  for (let step = 0; step < 5; step++)
    await Runs.logMetric({run_id, key: 'loss', value: 1 / (step + 1), timestamp: 1700000000000 + step, step});
  await Runs.logBatch({run_id, metrics: [{key: 'acc', value: 0.9, timestamp: 1700000000100, step: 4}],
                       params: [{key: 'depth', value: '3'}], tags: [{key: 'phase', value: 'test'}]});
  await Runs.setTag({run_id, key: 'note', value: 'hello'});
  await Runs.update({run_id, status: 'FINISHED', end_time: 1700000009000});
  const back = await Runs.get({run_id});
  const hist = await Metrics.getHistory({run_id, metric_key: 'loss'});
  const found = await Runs.search({experiment_ids: [experiment_id], filter: "metrics.acc > 0.5"});
  let rejected = null;
  try { await Runs.get({run_id: 'f'.repeat(32)}); } catch (e) { rejected = String(e.message); }
  result.run = back.run;
  result.history = hist.metrics;
  result.found = found.runs.map(r => r.info.run_id);
  result.run_id = run_id;
  result.rejected = rejected;
  require('fs').writeFileSync('result.json', JSON.stringify(result));
})().catch(e => { console.error('client failed:', e); process.exit(1); });
JS
# The client logs every POST body to stdout: keep it out of the checks.
NODE_PATH=$NPM_DIR/node_modules expect_ok node client.js "$PORT" >client.out
expect_ok python3 - <<'PY'
import json
r = json.load(open("result.json"))
run, rid = r["run"], r["run_id"]
assert run["info"]["status"] == "FINISHED" and run["info"]["end_time"] == 1700000009000, run["info"]
params = {p["key"]: p["value"] for p in run["data"]["params"]}
assert params == {"lr": "0.1", "depth": "3"}, params
metrics = {m["key"]: (m["value"], m["step"]) for m in run["data"]["metrics"]}
assert metrics == {"loss": (0.2, 4), "acc": (0.9, 4)}, metrics
tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
assert tags["note"] == "hello" and tags["phase"] == "test" and tags["mlflow.user"] == "npm", tags
assert [round(m["value"], 6) for m in r["history"]] == [1.0, 0.5, 0.333333, 0.25, 0.2], r["history"]
assert r["found"] == [rid], r["found"]
assert '"status":404' in r["rejected"] and "RESOURCE_DOES_NOT_EXIST" in r["rejected"], r["rejected"]
PY
