#!/usr/bin/env bash
# t4104: kiln server on bad input and bad callers: bearer token on writes,
# malformed JSON, wrong content type, oversized bodies, unknown routes and
# methods, bad flags and stores. Every error is MLflow-shaped and the
# server keeps serving.
. "$KILN_TOP/tests/e2e/lib.sh"


# Usage and startup errors.
export KILN_HOME=$TMP/home
expect_fail --code 2 "$KILN" server --port nope
expect_fail --code 2 "$KILN" server --bogus
expect_fail --code 2 "$KILN" server extra
expect_fail --code 2 "$KILN" server --max-body 10
expect_fail --code 1 "$KILN" server --port 0 --token-file missing 2>err.txt
expect_contains err.txt "cannot read token file 'missing'"
: >empty
expect_fail --code 1 "$KILN" server --port 0 --token-file empty 2>err.txt
expect_contains err.txt "token file 'empty' is empty"
expect_fail --code 1 "$KILN" server --port 0 --db /nonexistent/dir/x.db 2>err.txt
expect_fail --code 1 "$KILN" server --port 0 --host 10.255.255.1 2>err.txt
"$KILN" help server >help.txt || fail "kiln help server"
expect_contains help.txt "--token-file F"

printf 's3cret\n' >token
start_server server.log --token-file token --max-body 65536
B=http://127.0.0.1:$PORT/api/2.0/mlflow
J='Content-Type: application/json'

# status URL [CURL ARGS...]: prints the status, the body goes to out.json.
status() {
	local url=$1
	shift
	curl -s -o out.json -w '%{http_code}' "$@" "$url"
}
# expect_error STATUS CODE URL [CURL ARGS...]
expect_error() {
	local want=$1 code=$2 got
	shift 2
	got=$(status "$@")
	[ "$got" = "$want" ] || fail "$*: status $got, expected $want: $(cat out.json)"
	expect_contains out.json "{\"error_code\": \"$code\", \"message\": "
}

# Writes need the token; reads do not.
expect_error 401 UNAUTHENTICATED "$B/experiments/create" -XPOST -H "$J" -d '{"name":"x"}'
expect_error 401 UNAUTHENTICATED "$B/experiments/create" -XPOST -H "$J" -d '{"name":"x"}' -H 'Authorization: Bearer wrong'
expect_error 401 UNAUTHENTICATED "$B/experiments/create" -XPOST -H "$J" -d '{"name":"x"}' -H 'Authorization: Basic s3cret'
expect_error 401 UNAUTHENTICATED "$B/../mlflow-artifacts/artifacts/a" --path-as-is -XPUT --data-binary x
A='Authorization: Bearer s3cret'
[ "$(status "$B/experiments/create" -XPOST -H "$J" -H "$A" -d '{"name":"x"}')" = 200 ] || fail "authorized write"
[ "$(status "$B/experiments/get?experiment_id=1")" = 200 ] || fail "unauthenticated read"
[ "$(status "http://127.0.0.1:$PORT/health")" = 200 ] || fail "health"

# Bodies.
expect_error 400 INVALID_PARAMETER_VALUE "$B/experiments/create" -XPOST -H "$J" -H "$A" -d '{"name":'
expect_contains out.json "Malformed JSON"
expect_error 400 INVALID_PARAMETER_VALUE "$B/experiments/create" -XPOST -H "$J" -H "$A" -d '[1,2]'
expect_error 400 INVALID_PARAMETER_VALUE "$B/experiments/create" -XPOST -H "$J" -H "$A" -d '{"name":"a","name":"b"}'
expect_error 400 INVALID_PARAMETER_VALUE "$B/experiments/create" -XPOST -H "$A" -H 'Content-Type: text/plain' -d '{"name":"y"}'
expect_contains out.json "Content-Type must be one of [application/json]"
[ "$(status "$B/experiments/create" -XPOST -H "$A" -H 'Content-Type: application/json; charset=utf-8' -d '{"name":"z"}')" = 200 ] ||
	fail "content type with charset"
expect_error 400 INVALID_PARAMETER_VALUE "$B/experiments/create" -XPOST -H "$J" -H "$A" -d '{"name":{"a":1}}'
expect_error 400 INVALID_PARAMETER_VALUE "$B/runs/log-metric" -XPOST -H "$J" -H "$A" -d '{"run_id":"r","key":"k","value":"abc","timestamp":1}'
expect_error 404 RESOURCE_DOES_NOT_EXIST "$B/runs/log-metric" -XPOST -H "$J" -H "$A" -d '{"run_id":"r","key":"k","value":1,"timestamp":1}'
head -c 70000 /dev/zero | tr '\0' 'a' >big
expect_error 413 RESOURCE_EXHAUSTED "$B/experiments/create" -XPOST -H "$J" -H "$A" --data-binary @big
expect_error 400 INVALID_PARAMETER_VALUE "$B/experiments/get?experiment_id=-1"
expect_error 400 INVALID_PARAMETER_VALUE "$B/experiments/get?experiment_id=1x"
expect_error 400 INVALID_PARAMETER_VALUE "$B/runs/search" -XPOST -H "$J" -H "$A" -d '{"experiment_ids":["0"],"max_results":-1}'
expect_error 400 INVALID_PARAMETER_VALUE "$B/runs/search" -XPOST -H "$J" -H "$A" -d '{"experiment_ids":["0"],"filter":"metrics.acc >"}'
expect_error 400 INVALID_PARAMETER_VALUE "$B/runs/search" -XPOST -H "$J" -H "$A" -d '{"experiment_ids":["0"],"filter":"params.x = '"'"'unterminated"}'
expect_error 400 INVALID_PARAMETER_VALUE "$B/runs/search" -XPOST -H "$J" -H "$A" -d '{"experiment_ids":["0"],"order_by":["params.x"]}'

# Routes and methods.
expect_error 404 ENDPOINT_NOT_FOUND "$B/nope/nope"
expect_error 404 ENDPOINT_NOT_FOUND "http://127.0.0.1:$PORT/nope"
expect_error 404 ENDPOINT_NOT_FOUND "http://127.0.0.1:$PORT/api/2.0/kiln/nope"
expect_error 405 BAD_REQUEST "$B/runs/create"
expect_error 501 NOT_IMPLEMENTED "$B/runs/get" -XOPTIONS
long=$(head -c 3000 /dev/zero | tr '\0' 'a')
expect_error 414 BAD_REQUEST "$B/$long"

# Still serving after all that.
[ "$(status "$B/experiments/get-by-name?experiment_name=z")" = 200 ] || fail "server stopped answering"
kill -0 $PID || fail "server died"

# It binds 127.0.0.1 unless told otherwise.
expect_contains server.log "listening on http://127.0.0.1:"
