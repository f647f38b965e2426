#!/usr/bin/env bash
# t3006: --access-log writes one JSON line per request; --log-requests DIR
# writes sampled rows (input, output, request id, also sent as X-Request-Id)
# as JSON lines and rotates them by size; bad flag values are usage errors.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_ok "$KILN" train "$DATA/sentiment/train.csv" --target label --label-name sentiment \
	-o s.kiln >/dev/null
expect_fail --code 2 "$KILN" serve s.kiln --log-sample 0 2>err
expect_contains err "--log-sample: '0' is not a number in (0, 1]"
expect_fail --code 2 "$KILN" serve s.kiln --log-requests nodir --port 0 2>err
expect_contains err "'nodir' is not a directory"

mkdir logs
start_serve serve.log s.kiln --access-log access.log --log-requests logs --log-sample 0.5 \
	--log-max-bytes 1024
for i in 1 2 3 4 5 6 7 8; do
	curl -s -D "h$i" -o /dev/null "http://127.0.0.1:$PORT/predict" \
		-d '{"instances": [{"text": "great food"}, "awful \"service\""]}'
done
curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/models/s/infer" -H 'Content-Type: application/json' \
	-d '{"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["nice"]}]}'
curl -s -o /dev/null "http://127.0.0.1:$PORT/nope"
kill -TERM "$PID"
wait "$PID" || fail "exit $? after SIGTERM"

expect_ok python3 - <<'PY'
import glob, json
acc = [json.loads(l) for l in open("access.log")]
assert len(acc) == 10, len(acc)
assert acc[0]["method"] == "POST" and acc[0]["path"] == "/predict" and acc[0]["status"] == 200, acc[0]
assert acc[-1]["path"] == "/nope" and acc[-1]["status"] == 404, acc[-1]
assert all(a["remote"] == "127.0.0.1" and a["duration_seconds"] >= 0 for a in acc)

ids = []
for i in range(1, 9):
    for line in open("h%d" % i):
        if line.lower().startswith("x-request-id:"):
            ids.append(line.split(":", 1)[1].strip())
assert len(ids) == 4, ids  # half of the 8 /predict requests
files = sorted(glob.glob("logs/requests*.jsonl"))
assert len(files) >= 2 and "logs/requests.jsonl" in files, files  # rotated
rows = [json.loads(l) for f in files for l in open(f)]
assert len(rows) == 4 * 2 + 1 or len(rows) == 4 * 2, len(rows)
assert sorted({r["id"] for r in rows if r["input"]["text"] != "nice"}) == sorted(ids), (rows, ids)
r0 = [r for r in rows if r["id"] == ids[0]]
assert [r["row"] for r in r0] == [0, 1], r0
assert r0[0]["input"] == {"text": "great food"} and r0[1]["input"] == {"text": 'awful "service"'}, r0
assert r0[0]["output"]["sentiment"] == "positive" and 0.5 < r0[0]["output"]["probability"] <= 1, r0
assert r0[0]["model"] == "s" and r0[0]["version"] == "1", r0
PY
