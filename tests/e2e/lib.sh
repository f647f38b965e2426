# lib.sh - helpers for e2e tests (git t/test-lib.sh in miniature).
# A test sources this, gets its own temporary directory as cwd ($TMP), and
# uses expect_ok / expect_fail / expect_same / expect_contains. Any failed
# expectation ends the test with exit 1 and the reason on stderr. Daemons a
# test starts are registered with on_exit_kill PID and stopped by the trap.
set -u
: "${KILN:?KILN must name the kiln binary}"
: "${KILN_TOP:?KILN_TOP must name the source tree}"
KILN_SHARED=${KILN_SHARED:-$(cd "$KILN_TOP/.." && pwd)/shared}
DATA=$KILN_SHARED/datasets
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kiln-e2e.XXXXXX")
_pids=()
_cleanup() {
	for p in "${_pids[@]+"${_pids[@]}"}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "${_failed:-0}" = 0 ]; then rm -rf "$TMP"; else echo "kept $TMP" >&2; fi
}
trap _cleanup EXIT
cd "$TMP" || exit 1

on_exit_kill() { _pids+=("$1"); }

fail() {
	_failed=1
	echo "FAIL: $*" >&2
	exit 1
}

# expect_ok CMD...: CMD must exit 0.
expect_ok() {
	"$@" || fail "expected success (exit $?): $*"
}

# expect_fail [--code N] CMD...: CMD must exit non-zero (N when given) and
# must not be killed by a signal or a sanitizer.
expect_fail() {
	local want=""
	if [ "$1" = --code ]; then want=$2; shift 2; fi
	"$@"
	local rc=$?
	[ $rc -ne 0 ] || fail "expected failure, got success: $*"
	[ $rc -lt 100 ] || fail "crashed (exit $rc): $*"
	[ -z "$want" ] || [ $rc -eq "$want" ] || fail "expected exit $want, got $rc: $*"
}

# expect_same EXPECTED_FILE ACTUAL_FILE
expect_same() {
	diff -u "$1" "$2" >&2 || fail "files differ: $1 $2"
}

# expect_contains FILE TEXT: FILE must contain TEXT (fixed string).
expect_contains() {
	grep -qF -- "$2" "$1" || { echo "--- $1:" >&2; head -c 2000 "$1" >&2; fail "'$1' lacks '$2'"; }
}

# expect_lines FILE N: FILE must have N lines.
expect_lines() {
	local n
	n=$(wc -l <"$1")
	[ "$n" -eq "$2" ] || fail "'$1' has $n lines, expected $2"
}

# start_kiln LOG COMMAND ARGS...: starts `kiln COMMAND ARGS... --port 0` in
# the background with stderr to LOG, waits for its "listening on
# http://127.0.0.1:PORT" line, and sets PID and PORT. The process is stopped
# when the test exits.
start_kiln() {
	local log=$1
	shift
	: >"$log"
	"$KILN" "$@" --port 0 2>"$log" &
	PID=$!
	on_exit_kill $PID
	for _ in $(seq 200); do
		PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$log")
		[ -n "$PORT" ] && return 0
		kill -0 $PID 2>/dev/null || fail "kiln $1 exited: $(cat "$log")"
		sleep 0.05
	done
	fail "kiln $1 did not start: $(cat "$log")"
}

# start_serve LOG ARGS...: `kiln serve ARGS...` on 127.0.0.1:0 (start_kiln).
start_serve() {
	local log=$1
	shift
	start_kiln "$log" serve "$@"
}

# start_server LOG ARGS...: `kiln server ARGS...` on 127.0.0.1:0 with its
# state in $TMP/home (start_kiln).
start_server() {
	local log=$1
	shift
	KILN_HOME=$TMP/home start_kiln "$log" server "$@"
}

# start_moto: moto's S3 server on 127.0.0.1 (a free port, stopped by the
# trap) with SigV4 checking on: an IAM user is made with the first
# unauthenticated requests, and AWS_ENDPOINT_URL, AWS_REGION and that user's
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are exported. Sets PY (a python
# with moto and boto3).
start_moto() {
	local port up=0
	PY=python3
	$PY -c 'import moto, boto3' 2>/dev/null || PY=/usr/bin/python3
	$PY -c 'import moto, boto3' 2>/dev/null || fail "no python with moto and boto3"
	port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	INITIAL_NO_AUTH_ACTION_COUNT=3 $PY -m moto.server -H 127.0.0.1 -p "$port" >moto.log 2>&1 &
	on_exit_kill $!
	export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_REGION=us-east-1 \
		AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=bootstrap AWS_SECRET_ACCESS_KEY=bootstrap
	# Bare TCP connects: an HTTP probe would use up an unauthenticated request.
	for _ in $(seq 1 150); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then up=1; break; fi
		sleep 0.1
	done
	[ $up = 1 ] || { cat moto.log >&2; fail "moto did not start"; }
	$PY - >moto.keys <<'PY' || fail "cannot make the moto IAM user"
import json, boto3
iam = boto3.client("iam")
iam.create_user(UserName="kiln")
k = iam.create_access_key(UserName="kiln")["AccessKey"]
iam.put_user_policy(UserName="kiln", PolicyName="all", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
print(k["AccessKeyId"], k["SecretAccessKey"])
PY
	read -r AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY <moto.keys
	export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
}

# start_load URL CONNECTIONS: wrk POSTs {"text": "I loved this movie"} to
# URL with that many connections (at most 2 minutes) in the background;
# stop_load MIN then stops it and fails unless every request succeeded and
# more than MIN were made (swaps under load must lose nothing).
start_load() {
	cat >post.lua <<'LUA'
wrk.method = "POST"
wrk.body = '{"text": "I loved this movie"}'
wrk.headers["Content-Type"] = "application/json"
LUA
	wrk -t1 -c"$2" -d120s -s post.lua "$1" >wrk.out 2>&1 &
	LOAD_PID=$!
	on_exit_kill $LOAD_PID
	sleep 0.5
}
stop_load() {
	local n
	kill -0 $LOAD_PID 2>/dev/null || fail "the work outlasted the load run"
	kill -INT $LOAD_PID # wrk stops and prints its summary
	wait $LOAD_PID || fail "wrk failed: $(cat wrk.out)"
	cat wrk.out
	grep -q "Non-2xx" wrk.out && fail "failed requests under load: $(cat wrk.out)"
	grep -q "Socket errors" wrk.out && fail "socket errors under load: $(cat wrk.out)"
	n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' wrk.out)
	[ "${n:-0}" -gt "$1" ] || fail "too few requests under load: $(cat wrk.out)"
}
