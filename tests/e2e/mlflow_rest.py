"""mlflow_rest.py - the e2e tests' MLflow REST caller (Python's urllib):
call(method, path, body, query, status) against kiln server on PORT; path
is under /api/2.0/mlflow/ unless it starts with '/'. The reply's status must
be the expected one, and an error reply must have MLflow's shape.
Tests import it with PYTHONPATH=$KILN_TOP/tests/e2e."""
import json
import urllib.error
import urllib.parse
import urllib.request


def caller(port):
    root = "http://127.0.0.1:%s" % port
    base = root + "/api/2.0/mlflow/"

    def call(method, path, body=None, query=None, status=200):
        url = (root if path.startswith("/") else base) + path
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req) as r:
                got, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            got, text = e.code, e.read()
        assert got == status, (method, path, body, got, text)
        out = json.loads(text)
        if status >= 400:
            assert set(out) == {"error_code", "message"}, out
        return out
    return call
