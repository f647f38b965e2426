#!/usr/bin/env bash
# t4304: kiln serve NAME@ALIAS follows a registry alias on a real kiln
# server: two versions made through REST (curl), alias production -> v1,
# serve, predict; the alias moves to v2 under wrk load and the server swaps
# with no failed request; back to v1 (from the cache); a bundle that does
# not load and a server that goes away keep the model serving; SIGTERM
# stops the follower cleanly. Start-up errors are one line, exit 1 or 2.
. "$KILN_TOP/tests/e2e/lib.sh"

echo tok3n >token
start_server server.log --token-file token
reg=http://127.0.0.1:$PORT
spid=$PID
api=$reg/api/2.0/mlflow
auth=(-H "Authorization: Bearer tok3n")
unset KILN_SERVER KILN_REMOTE KILN_TOKEN KILN_TOKEN_FILE

expect_ok "$KILN" train "$DATA/sentiment/train.csv" --target label --label-name sentiment \
	-o v1.kiln >/dev/null
expect_ok "$KILN" train "$DATA/sentiment/train.csv" --target label --label-name sentiment \
	--C 0.1 -o v2.kiln >/dev/null
head -c 100000 v2.kiln >broken.kiln
post() { curl -sf "${auth[@]}" -H 'Content-Type: application/json' -X POST "$api/$1" -d "$2"; }
put_blob() {
	local sha
	sha=$(sha256sum "$1" | cut -d' ' -f1)
	curl -sf "${auth[@]}" -X PUT --data-binary @"$1" "$reg/api/2.0/kiln/blobs/$sha" >/dev/null ||
		fail "PUT blob $1"
	echo "$sha"
}
expect_ok post registered-models/create '{"name": "sentiment"}' >/dev/null
for v in v1 v2 broken; do
	sha=$(put_blob $v.kiln)
	eval "sha_$v=$sha"
	expect_ok post model-versions/create \
		"{\"name\": \"sentiment\", \"source\": \"models:/$v\", \"bundle_sha256\": \"$sha\"}" >/dev/null
done
alias_to() { expect_ok post registered-models/alias "{\"name\": \"sentiment\", \"alias\": \"production\", \"version\": \"$1\"}" >/dev/null; }
alias_to 1

# Start-up errors: no registry (usage), unknown alias, unreachable server.
export KILN_HOME=$TMP/kh
expect_fail --code 2 "$KILN" serve sentiment@production --port 0 2>err
expect_contains err "KILN_SERVER"
expect_fail --code 1 "$KILN" serve sentiment@nope --registry "$reg" --port 0 2>err
expect_lines err 1
expect_contains err "nope"
expect_fail --code 1 "$KILN" serve sentiment@production --registry http://127.0.0.1:1 --port 0 2>err
expect_lines err 1
expect_contains err "127.0.0.1:1"

# A cache other runs filled: 6 bundles used in the last minutes, 3 hours
# ago, and a file that is not a bundle. The pruning after the download
# keeps the 5 used last and whatever was used within 10 minutes.
cache=$KILN_HOME/cache/models
mkdir -p "$cache"
fake() { printf '%064x' "$1"; }
for i in 1 2 3 4 5 6; do touch -d "-$((i * 30)) seconds" "$cache/$(fake $i).kiln"; done
for i in 7 8 9; do touch -d "-$i hours" "$cache/$(fake $i).kiln"; done
touch -d '-9 hours' "$cache/notes.txt"

KILN_LOG_LEVEL=info KILN_SERVER=$reg start_serve serve.log sentiment@production --poll 1
for i in 1 2 3 4 5 6; do [ -f "$cache/$(fake $i).kiln" ] || fail "recent cached bundle $i removed"; done
for i in 7 8 9; do [ ! -e "$cache/$(fake $i).kiln" ] || fail "old cached bundle $i kept"; done
[ -f "$cache/notes.txt" ] || fail "a file that is not a bundle was removed"
expect_contains serve.log "removed cached bundle $(fake 9 | cut -c1-12)"
port=$PORT
spid_serve=$PID
metric() { curl -s "http://127.0.0.1:$port/metrics" | sed -n "s/^$1 //p"; }
version() { curl -s "http://127.0.0.1:$port/v2/models/sentiment" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["versions"][0])'; }
wait_version() {
	for _ in $(seq 200); do
		[ "$(version)" = "$1" ] && return 0
		sleep 0.05
	done
	fail "/v2/models/sentiment says version $(version), expected $1"
}
[ "$(version)" = 1 ] || fail "serving version $(version), expected 1"
[ -f "$KILN_HOME/cache/models/$sha_v1.kiln" ] || fail "no cached bundle"
code=$(curl -s -o out -w '%{http_code}' "http://127.0.0.1:$port/predict" -d '{"text": "I loved this movie"}')
[ "$code" = 200 ] || fail "predict: $code $(cat out)"
expect_contains out '"version": "1"'

# Move the alias under load: version 2, no failed request.
start_load "http://127.0.0.1:$port/predict" 4
alias_to 2
wait_version 2
alias_to 1
wait_version 1
alias_to 2
wait_version 2
sleep 0.3
stop_load 50
expect_contains serve.log "bundle ${sha_v1:0:12} from the cache"
[ "$(metric kiln_model_load_failures_total)" = 0 ] || fail "a load failed"

# A bundle that does not load: counted, logged once, version 2 keeps serving.
alias_to 3
for _ in $(seq 100); do [ "$(metric kiln_model_load_failures_total)" = 1 ] && break; sleep 0.05; done
[ "$(metric kiln_model_load_failures_total)" = 1 ] || fail "the broken version was not counted"
sleep 1.5
[ "$(metric kiln_model_load_failures_total)" = 1 ] || fail "the broken version was tried again"
[ "$(version)" = 2 ] || fail "a broken bundle replaced version 2"
expect_contains serve.log "keeping model sentiment version 2"

# Back to v1 (a rollback), then the server goes away: still serving, counted, logged once.
alias_to 1
wait_version 1
kill -TERM $spid
wait $spid 2>/dev/null
for _ in $(seq 100); do [ "${ERRS:=$(metric kiln_registry_errors_total)}" -ge 2 ] 2>/dev/null && break; ERRS=; sleep 0.1; done
[ "$(metric kiln_registry_errors_total)" -ge 1 ] || fail "registry errors not counted"
[ "$(grep -c 'serve: registry:' serve.log)" = 1 ] || fail "unreachable registry not logged once"
code=$(curl -s -o out -w '%{http_code}' "http://127.0.0.1:$port/predict" -d '{"text": "bad"}')
[ "$code" = 200 ] || fail "not serving without the registry: $code"

# SIGTERM: the follower stops, clean exit.
kill -TERM $spid_serve
wait $spid_serve || fail "kiln serve exit status $? after SIGTERM: $(tail -5 serve.log)"
exit 0
