#!/usr/bin/python3
"""store_http.py - times the store targets of issue 5 over HTTP against a
running `kiln server` (MLflow REST subset, kiln's resolve route), with the
standard library only. Prints one machine-readable line per measure:
    <label> BENCH <name> <value> <unit>
Not a load generator for production sizing: one machine, loopback.

usage: store_http.py [LABEL=]URL... [--runs N] [--batches N] [--clients N] [--repeat N]
Several servers are measured side by side: every measure alternates
between them call by call, so a change in the machine's load hits all.
"""
import argparse
import http.client
import json
import multiprocessing
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


class Server:
    """One server under test: its URL, label, client and fixtures."""

    def __init__(self, label, url, a):
        self.label, self.url, self.c = label, url, Client(url)
        self.tag = "bench-%d" % int(time.time() * 1000)
        self.exp = self.c.call("POST", API + "experiments/create",
                               {"name": self.tag})["experiment_id"]
        self.writes = setup_runs(url, self.exp, a.runs, a.clients)
        self.search = {"experiment_ids": [self.exp], "max_results": 100}
        self.run = self.c.call("POST", API + "runs/create",
                               {"experiment_id": self.exp})["run"]["info"]["run_id"]
        self.hist = {"run_id": self.run, "metric_key": "loss"}
        self.ref = {"ref": self.tag + "@production"}
        self.times = {}

    def emit(self, name, value, unit="ms"):
        print("%s BENCH %s %.3f %s" % (self.label, name, value, unit), flush=True)

    def add(self, name, ms):
        self.times.setdefault(name, []).append(ms)


def interleaved(servers, n, fn):
    """Calls fn(server, i) n times per server, alternating which goes first."""
    for i in range(n):
        for s in (servers if i % 2 == 0 else servers[::-1]):
            fn(s, i)


def log_batch(s, b):
    metrics = [{"key": "loss", "value": 1.0 / (i + 1), "timestamp": 1700000000000 + b,
                "step": b * 1000 + i} for i in range(1000)]
    s.add("http.log_batch_1000",
          s.c.timed("POST", API + "runs/log-batch", {"run_id": s.run, "metrics": metrics})[0])


def search(s, _):
    ms, out = s.c.timed("POST", API + "runs/search", s.search)
    if len(out.get("runs", [])) != min(100, s.runs):
        sys.exit("store_http: search returned %d runs" % len(out.get("runs", [])))
    s.add("http.search_first_page_%d_runs" % s.runs, ms)


def history(s, _):
    ms, out = s.c.timed("GET", API + "metrics/get-history", query=s.hist)
    if len(out.get("metrics", [])) != s.points:
        sys.exit("store_http: history has %d points" % len(out.get("metrics", [])))
    s.add("http.history_%d_points" % s.points, ms)


def resolve(s, _):
    s.add("http.alias_resolve", s.c.timed("GET", "/api/2.0/kiln/resolve", query=s.ref)[0])


def concurrency(s, a):
    """Searches per second with 1 and with a.clients clients; resolution
    beside a.clients - 1 clients reading histories."""
    def searches(_):
        cc = Client(s.url)
        for _ in range(a.repeat):
            cc.call("POST", API + "runs/search", s.search)
    for n in (1, a.clients):
        t0 = time.perf_counter()
        parallel(n, searches)
        s.add("http.search_per_s_%d_clients" % n, n * a.repeat / (time.perf_counter() - t0))
    # The readers are processes of their own that do not decode the replies:
    # threads of this one would hold the GIL while parsing 8 MB of JSON and
    # the resolution timings below would measure that wait, not the server.
    stop = multiprocessing.Event()
    done = multiprocessing.Value("i", 0)

    def heavy(_):
        cc = Client(s.url)
        while not stop.is_set():
            cc.raw("GET", API + "metrics/get-history", None, s.hist)
            with done.get_lock():
                done.value += 1
    hs = [multiprocessing.Process(target=heavy, args=(i,)) for i in range(a.clients - 1)]
    for t in hs:
        t.start()
    time.sleep(0.2)
    # For 2 s, so that calls land during every phase of the readers' requests.
    name = "http.alias_resolve_mean_beside_%d_history_readers" % (a.clients - 1)
    end = time.perf_counter() + 2
    while time.perf_counter() < end:
        s.add(name, s.c.timed("GET", "/api/2.0/kiln/resolve", query=s.ref)[0])
    stop.set()
    for t in hs:
        t.join()
    if done.value < a.clients - 1:
        sys.exit("store_http: the history readers failed")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("servers", nargs="+", metavar="LABEL=URL")
    ap.add_argument("--runs", type=int, default=10000)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args()
    servers = []
    for arg in a.servers:
        label, _, url = arg.rpartition("=")
        servers.append(Server(label or "kiln", url, a))
    for s in servers:
        s.runs, s.points = a.runs, a.batches * 1000
        s.c.call("POST", API + "runs/search", s.search)  # warm-up
    # Every measure alternates between the servers, call by call.
    interleaved(servers, a.repeat, search)
    interleaved(servers, a.batches, log_batch)
    interleaved(servers, max(3, a.repeat // 4), history)
    for s in servers:
        s.c.call("POST", API + "registered-models/create", {"name": s.tag})
        v = s.c.call("POST", API + "model-versions/create",
                     {"name": s.tag, "source": "runs:/%s/model" % s.run, "run_id": s.run})
        s.c.call("POST", API + "registered-models/alias",
                 {"name": s.tag, "alias": "production",
                  "version": v["model_version"]["version"]})
    interleaved(servers, a.repeat * 10, resolve)
    # Whole rounds, in the order A B B A, so drift in the load evens out.
    for s in servers + servers[::-1]:
        concurrency(s, a)
    for s in servers:
        s.emit("http.setup_writes_per_s", s.writes, "req/s")
        for name, v in s.times.items():
            if "_per_s_" in name:
                s.emit(name, statistics.mean(v), "req/s")
            elif "_mean_" in name:
                s.emit(name, statistics.mean(v))
            else:
                s.emit(name, statistics.median(v))


if __name__ == "__main__":
    main()
