#!/usr/bin/env bash
# t3004: hot swap. SIGHUP reloads the model file; so does replacing it
# (inotify). A broken bundle never replaces a good one: it is counted in
# /metrics and the old model keeps serving. Under load (wrk), 50 swaps lose
# no request.
. "$KILN_TOP/tests/e2e/lib.sh"

# metric NAME: the value of an unlabelled sample on /metrics.
metric() {
	curl -s "http://127.0.0.1:$PORT/metrics" | sed -n "s/^$1 //p"
}

# wait_metric NAME VALUE: polls /metrics until NAME equals VALUE (10 s).
wait_metric() {
	for _ in $(seq 200); do
		[ "$(metric "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	fail "$1 is $(metric "$1"), expected $2"
}

served_sha() {
	curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^kiln_model_info{.*sha256="\([0-9a-f]*\)".*/\1/p'
}

expect_ok "$KILN" train "$DATA/sentiment/train.csv" --target label --label-name sentiment \
	-o a.kiln >/dev/null
expect_ok "$KILN" train "$DATA/sentiment/train.csv" --target label --label-name sentiment \
	--C 0.1 -o b.kiln >/dev/null
sha_a=$(sha256sum a.kiln | cut -d' ' -f1)
sha_b=$(sha256sum b.kiln | cut -d' ' -f1)
[ "$sha_a" != "$sha_b" ] || fail "the two models are the same"
head -c 100000 b.kiln >broken.kiln

# SIGHUP, with the file watch off.
cp a.kiln live.kiln
start_serve hup.log live.kiln --name sentiment --no-watch
[ "$(served_sha)" = "$sha_a" ] || fail "not serving a.kiln"
cp b.kiln live.kiln
sleep 0.3
[ "$(served_sha)" = "$sha_a" ] || fail "reloaded without SIGHUP under --no-watch"
kill -HUP "$PID"
wait_metric kiln_model_loads_total 2
[ "$(served_sha)" = "$sha_b" ] || fail "SIGHUP did not swap in b.kiln"
cp broken.kiln live.kiln
kill -HUP "$PID"
wait_metric kiln_model_load_failures_total 1
[ "$(served_sha)" = "$sha_b" ] || fail "a broken bundle replaced the model"
expect_contains hup.log "keeping model sentiment version 1"
code=$(curl -s -o out -w '%{http_code}' "http://127.0.0.1:$PORT/predict" -d '{"text": "good"}')
[ "$code" = 200 ] || fail "not serving after a failed reload: $code"
kill -TERM "$PID"
wait "$PID" || fail "exit status $? after SIGTERM"

# The file watch: an atomic rename and an in-place write both reload.
cp a.kiln live.kiln
start_serve watch.log live.kiln --name sentiment
cp b.kiln tmp.kiln && mv tmp.kiln live.kiln
wait_metric kiln_model_loads_total 2
[ "$(served_sha)" = "$sha_b" ] || fail "rename did not swap"
cp a.kiln live.kiln
wait_metric kiln_model_loads_total 3
[ "$(served_sha)" = "$sha_a" ] || fail "in-place write did not swap"
cp broken.kiln tmp.kiln && mv tmp.kiln live.kiln
wait_metric kiln_model_load_failures_total 1
[ "$(served_sha)" = "$sha_a" ] || fail "a broken bundle replaced the model"

# 50 swaps under load: no failed request.
start_load "http://127.0.0.1:$PORT/predict" 8
loads=3
for i in $(seq 50); do
	if [ $((i % 2)) = 1 ]; then cp b.kiln tmp.kiln; else cp a.kiln tmp.kiln; fi
	mv tmp.kiln live.kiln
	loads=$((loads + 1))
	wait_metric kiln_model_loads_total $loads
done
sleep 0.5
stop_load 100
[ "$(metric kiln_model_load_failures_total)" = 1 ] || fail "a swap failed"
