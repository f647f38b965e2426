#!/usr/bin/python3
"""store_http.py - times the store targets of issue 5 over HTTP against a
running `kiln server` (MLflow REST subset, kiln's resolve route), with the
standard library only. Prints one machine-readable line per measure:
    BENCH <name> <value> <unit>
Not a load generator for production sizing: one machine, loopback.

usage: store_http.py URL [--runs N] [--batches N] [--clients N] [--repeat N]
"""
import argparse
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse


class Client:
    """One keep-alive connection; every call checks the status."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)

    def raw(self, method, path, data, query):
        if query:
            path += "?" + urllib.parse.urlencode(query)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        text = r.read()
        if r.status != 200:
            sys.exit("store_http: %s %s: %d %s" % (method, path, r.status, text[:300]))
        return text

    def call(self, method, path, body=None, query=None):
        data = None if body is None else json.dumps(body).encode()
        text = self.raw(method, path, data, query)
        return json.loads(text) if text else {}

    def timed(self, method, path, body=None, query=None):
        """The time from sending the encoded request to the last byte of
        the reply: the client's own JSON work is left out."""
        data = None if body is None else json.dumps(body).encode()
        t0 = time.perf_counter()
        text = self.raw(method, path, data, query)
        ms = (time.perf_counter() - t0) * 1e3
        return ms, (json.loads(text) if text else {})


API = "/api/2.0/mlflow/"


def emit(name, value, unit="ms"):
    print("BENCH %s %.3f %s" % (name, value, unit), flush=True)


def parallel(n, fn):
    """Runs fn(i) on n threads at once; returns their results in order."""
    out = [None] * n
    errors = []

    def run(i):
        try:
            out[i] = fn(i)
        except BaseException as e:  # SystemExit from Client.call included
            errors.append(e)

    ts = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return out


def setup_runs(url, exp, runs, clients):
    """Creates the runs of the search, each with a metric and two params."""
    def work(i):
        c = Client(url)
        for k in range(i, runs, clients):
            r = c.call("POST", API + "runs/create",
                       {"experiment_id": exp, "start_time": 1700000000000 + k})
            rid = r["run"]["info"]["run_id"]
            c.call("POST", API + "runs/log-batch", {
                "run_id": rid,
                "metrics": [{"key": "acc", "value": k / runs,
                             "timestamp": 1700000000000, "step": 0}],
                "params": [{"key": "C", "value": "1.0"},
                           {"key": "solver", "value": "liblinear"}]})
    t0 = time.perf_counter()
    parallel(clients, work)
    return runs * 2 / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--runs", type=int, default=10000)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args()
    c = Client(a.url)
    tag = "bench-%d" % int(time.time() * 1000)

    exp = c.call("POST", API + "experiments/create", {"name": tag})["experiment_id"]
    emit("http.setup_writes_per_s", setup_runs(a.url, exp, a.runs, a.clients), "req/s")

    search = {"experiment_ids": [exp], "max_results": 100}
    c.call("POST", API + "runs/search", search)  # warm-up
    times = []
    for _ in range(a.repeat):
        ms, out = c.timed("POST", API + "runs/search", search)
        if len(out.get("runs", [])) != min(100, a.runs):
            sys.exit("store_http: search returned %d runs" % len(out.get("runs", [])))
        times.append(ms)
    emit("http.search_first_page_%d_runs" % a.runs, statistics.median(times))

    rid = c.call("POST", API + "runs/create", {"experiment_id": exp})["run"]["info"]["run_id"]
    times = []
    for b in range(a.batches):
        metrics = [{"key": "loss", "value": 1.0 / (i + 1), "timestamp": 1700000000000 + b,
                    "step": b * 1000 + i} for i in range(1000)]
        ms, _ = c.timed("POST", API + "runs/log-batch", {"run_id": rid, "metrics": metrics})
        times.append(ms)
    emit("http.log_batch_1000", statistics.median(times))

    hist = {"run_id": rid, "metric_key": "loss"}
    times = []
    for _ in range(max(3, a.repeat // 4)):
        ms, out = c.timed("GET", API + "metrics/get-history", query=hist)
        if len(out.get("metrics", [])) != a.batches * 1000:
            sys.exit("store_http: history has %d points" % len(out.get("metrics", [])))
        times.append(ms)
    emit("http.history_%d_points" % (a.batches * 1000), statistics.median(times))

    c.call("POST", API + "registered-models/create", {"name": tag})
    v = c.call("POST", API + "model-versions/create",
               {"name": tag, "source": "runs:/%s/model" % rid, "run_id": rid})
    c.call("POST", API + "registered-models/alias",
           {"name": tag, "alias": "production", "version": v["model_version"]["version"]})
    ref = {"ref": tag + "@production"}
    times = [c.timed("GET", "/api/2.0/kiln/resolve", query=ref)[0] for _ in range(a.repeat * 10)]
    emit("http.alias_resolve", statistics.median(times))

    # Concurrency: reads side by side, then a cheap read beside heavy ones.
    def searches(_):
        cc = Client(a.url)
        for _ in range(a.repeat):
            cc.call("POST", API + "runs/search", search)
    for n in (1, a.clients):
        t0 = time.perf_counter()
        parallel(n, searches)
        emit("http.search_per_s_%d_clients" % n, n * a.repeat / (time.perf_counter() - t0),
             "req/s")

    stop = threading.Event()

    def heavy(_):
        cc = Client(a.url)
        while not stop.is_set():
            cc.call("GET", API + "metrics/get-history", query=hist)

    hs = [threading.Thread(target=heavy, args=(i,)) for i in range(a.clients - 1)]
    for t in hs:
        t.start()
    time.sleep(0.2)
    times = [c.timed("GET", "/api/2.0/kiln/resolve", query=ref)[0] for _ in range(a.repeat * 2)]
    stop.set()
    for t in hs:
        t.join()
    emit("http.alias_resolve_beside_%d_history_readers" % (a.clients - 1),
         statistics.median(times))


if __name__ == "__main__":
    main()
