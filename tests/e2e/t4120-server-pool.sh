#!/usr/bin/env bash
# t4120: kiln server's connection pool: 16 clients logging at once while
# others read lose nothing; kill -9 during a stream of log-batch calls keeps
# every acknowledged batch whole (and no batch half there) after a restart,
# with PRAGMA integrity_check ok.
. "$KILN_TOP/tests/e2e/lib.sh"

PY=/usr/bin/python3
cat >client.py <<'PYEOF'
import http.client, json, os, sys, threading, time

port, mode = int(sys.argv[1]), sys.argv[2]
API = "/api/2.0/mlflow/"

def call(c, method, path, body=None):
    c.request(method, path, body=None if body is None else json.dumps(body),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    text = r.read()
    if r.status != 200:
        raise SystemExit("%s %s: %d %s" % (method, path, r.status, text[:200]))
    return json.loads(text)

def conn():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=60)

def batch(run, b, n):
    return {"run_id": run, "metrics": [{"key": "m", "value": float(b * n + i),
            "timestamp": 1, "step": b * n + i} for i in range(n)]}

def history(c, run):
    return call(c, "GET", API + "metrics/get-history?run_id=%s&metric_key=m" % run)["metrics"]

c = conn()
if mode == "concurrent":
    exp = call(c, "POST", API + "experiments/create", {"name": "pool"})["experiment_id"]
    runs = [call(c, "POST", API + "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
            for _ in range(16)]
    errors, stop = [], threading.Event()
    def writer(run):
        try:
            w = conn()
            for b in range(10):
                call(w, "POST", API + "runs/log-batch", batch(run, b, 100))
        except BaseException as e:
            errors.append(e)
    def reader():
        try:
            r = conn()
            while not stop.is_set():
                call(r, "POST", API + "runs/search", {"experiment_ids": [exp]})
                history(r, runs[0])
        except BaseException as e:
            errors.append(e)
    rs = [threading.Thread(target=reader) for _ in range(4)]
    ws = [threading.Thread(target=writer, args=(r,)) for r in runs]
    for t in rs + ws:
        t.start()
    for t in ws:
        t.join()
    stop.set()
    for t in rs:
        t.join()
    if errors:
        raise SystemExit("client error: %s" % errors[0])
    for run in runs:
        steps = sorted(m["step"] for m in history(c, run))
        if steps != list(range(1000)):
            raise SystemExit("run %s has %d of 1000 points" % (run, len(steps)))
    print("concurrent ok")
elif mode == "stream":
    exp = call(c, "POST", API + "experiments/create", {"name": "kill"})["experiment_id"]
    run = call(c, "POST", API + "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    print(run, flush=True)
    b = 0
    try:
        while True:
            call(c, "POST", API + "runs/log-batch", batch(run, b, 50))
            print(b, flush=True)  # acknowledged
            b += 1
    except (OSError, http.client.HTTPException, SystemExit):
        pass
elif mode == "check":
    run, acked = sys.argv[3], [int(x) for x in open(sys.argv[4]).read().split()[1:]]
    steps = {m["step"] for m in history(c, run)}
    batches = {s // 50 for s in steps}
    for b in batches:
        if {b * 50 + i for i in range(50)} - steps:
            raise SystemExit("batch %d is half there" % b)
    missing = set(acked) - batches
    if missing or not acked:
        raise SystemExit("acknowledged batches lost: %s (acked %d)" % (sorted(missing)[:5], len(acked)))
    print("kill ok: %d batches acknowledged, %d stored" % (len(acked), len(batches)))
PYEOF

start_server log
$PY client.py "$PORT" concurrent >out 2>&1 || fail "$(cat out)"
expect_contains out "concurrent ok"

# kill -9 in the middle of a stream of log-batch calls.
$PY client.py "$PORT" stream >acked 2>&1 &
client=$!
for _ in $(seq 100); do
	[ "$(wc -l <acked)" -ge 20 ] && break
	sleep 0.05
done
kill -9 "$PID"
wait "$client" || true
[ "$(wc -l <acked)" -ge 20 ] || fail "the stream did not start: $(cat acked)"
$PY -c "
import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0]
sys.exit(0 if r == 'ok' else 'integrity_check: ' + r)" "$TMP/home/kiln.db" || fail "database damaged"
start_server log2
$PY client.py "$PORT" check "$(head -1 acked)" acked >out 2>&1 || fail "$(cat out)"
expect_contains out "kill ok"
