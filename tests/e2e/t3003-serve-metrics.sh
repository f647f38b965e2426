#!/usr/bin/env bash
# t3003: /metrics is valid Prometheus text 0.0.4 (promtool check metrics),
# counts requests by route, method and status, has a histogram whose +Inf
# bucket equals its count, model and process families; and a real
# Prometheus on loopback scrapes it.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_ok "$KILN" train "$DATA/sentiment/train.csv" --target label --label-name sentiment \
	-o sentiment.kiln >/dev/null
start_serve serve.log sentiment.kiln
url=http://127.0.0.1:$PORT
for _ in 1 2 3; do curl -s "$url/predict" -d '{"text": "great food"}' >/dev/null; done
curl -s "$url/predict" -d '{"text": ' >/dev/null
curl -s "$url/nope" >/dev/null

curl -s -D headers "$url/metrics" >metrics || fail "GET /metrics"
expect_contains headers "Content-Type: text/plain; version=0.0.4; charset=utf-8"
promtool check metrics <metrics 2>lint || { cat lint >&2; fail "promtool check metrics"; }
[ -s lint ] && { cat lint >&2; fail "promtool complained"; }
[ "$(tail -c 1 metrics | od -An -c | tr -d ' ')" = '\n' ] || fail "last line lacks a newline"
expect_contains metrics 'kiln_http_requests_total{code="200",handler="/predict",method="POST"} 3'
expect_contains metrics 'kiln_http_requests_total{code="400",handler="/predict",method="POST"} 1'
expect_contains metrics 'kiln_http_requests_total{code="404",handler="unmatched",method="GET"} 1'
expect_contains metrics 'kiln_http_request_duration_seconds_bucket{handler="/predict",le="+Inf"} 4'
expect_contains metrics 'kiln_http_request_duration_seconds_count{handler="/predict"} 4'
expect_contains metrics 'kiln_http_requests_in_flight 1'
sha=$(sha256sum sentiment.kiln | cut -d' ' -f1)
expect_contains metrics "kiln_model_info{model=\"sentiment\",sha256=\"$sha\",version=\"1\"} 1"
expect_contains metrics 'kiln_model_loads_total 1'
expect_contains metrics 'kiln_model_load_failures_total 0'
expect_contains metrics 'kiln_model_ready 1'
for f in process_cpu_seconds_total process_resident_memory_bytes process_start_time_seconds \
	process_open_fds kiln_build_info; do
	grep -q "^$f" metrics || fail "no $f"
done
# Predictions by class add up to the predictions made.
python3 - <<'PY' || fail "predictions by class"
import re
m = open("metrics").read()
n = sum(int(v) for v in re.findall(r'^kiln_model_predictions_total\{[^}]*\} (\d+)$', m, re.M))
assert n == 3, n
buckets = [int(v) for v in re.findall(r'^kiln_http_request_duration_seconds_bucket\{handler="/predict",le="[^"]*"\} (\d+)$', m, re.M)]
assert buckets == sorted(buckets) and len(buckets) == 14, buckets
PY

# A real Prometheus scrapes it.
pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >prom.yml <<YML
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: kiln
    static_configs: [{targets: ['127.0.0.1:$PORT']}]
YML
prometheus --config.file=prom.yml --storage.tsdb.path=prom-data \
	--web.listen-address="127.0.0.1:$pport" >prom.log 2>&1 &
on_exit_kill $!
ok=0
for _ in $(seq 60); do
	sleep 0.5
	curl -s "http://127.0.0.1:$pport/api/v1/query?query=kiln_model_info" >q 2>/dev/null || continue
	if grep -q "\"sha256\":\"$sha\"" q; then ok=1; break; fi
done
[ $ok = 1 ] || { tail -20 prom.log >&2; cat q >&2; fail "Prometheus did not scrape kiln"; }
curl -s "http://127.0.0.1:$pport/api/v1/query?query=up" >up
expect_contains up '"value":['
grep -q '"1"\]' up || fail "target not up: $(cat up)"
