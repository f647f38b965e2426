#!/usr/bin/env bash
# t4202: errors of kiln models, kiln exp and train --register: an unknown
# model, version or experiment, a server that is down, no server
# configured (exit 2 with the hint), a server that wants a token (from
# KILN_TOKEN or KILN_TOKEN_FILE), usage errors. Each is one line on stderr.
. "$KILN_TOP/tests/e2e/lib.sh"

unset KILN_SERVER KILN_TOKEN KILN_TOKEN_FILE MLFLOW_EXPERIMENT_NAME
printf 's3cret \n' >token # trailing blanks: trimmed by both sides
start_server server.log --token-file token
URL=http://127.0.0.1:$PORT

one_line() { # one_line FILE TEXT: FILE is exactly one line holding TEXT
	expect_lines "$1" 1
	expect_contains "$1" "$2"
}

# No server configured: exit 2 and the hint, before any training.
expect_fail --code 2 "$KILN" models ls 2>e.txt
one_line e.txt "no kiln server: set KILN_SERVER or pass --server URL"
expect_fail --code 2 "$KILN" exp show x 2>e.txt
one_line e.txt "no kiln server"
expect_fail --code 2 "$KILN" train "$DATA/sentiment/train.csv" -o m.kiln --register s 2>e.txt
one_line e.txt "no kiln server"
[ ! -e m.kiln ] || fail "train trained although no server was configured"

export KILN_SERVER=$URL
# Reads need no token; unknown things are the server's message.
expect_ok "$KILN" models ls >ls.txt
expect_lines ls.txt 1
expect_fail --code 1 "$KILN" models show nope 2>e.txt
one_line e.txt "kiln: error: Registered Model with name=nope not found"
expect_fail --code 1 "$KILN" models versions nope 2>e.txt
one_line e.txt "Registered Model with name=nope not found"
expect_fail --code 1 "$KILN" models history nope prod 2>e.txt
one_line e.txt "Registered Model with name=nope not found"
expect_fail --code 1 "$KILN" exp show nope 2>e.txt
one_line e.txt "Could not find experiment with name 'nope'"
expect_fail --code 1 "$KILN" exp show 42 2>e.txt
one_line e.txt "No Experiment with id=42 exists"

# Writes need the token: without it, a hint; from KILN_TOKEN_FILE (trimmed) or KILN_TOKEN.
expect_fail --code 1 "$KILN" models alias nope prod 1 2>e.txt
one_line e.txt "permission denied: set KILN_TOKEN"
expect_fail --code 1 "$KILN" train "$DATA/sentiment/train.csv" -o m.kiln --register s 2>e.txt
one_line e.txt "registering 's' failed"
expect_contains e.txt "permission denied"
[ -s m.kiln ] || fail "the bundle must stay when registration fails"
KILN_TOKEN_FILE=$TMP/token expect_ok "$KILN" train "$DATA/sentiment/train.csv" -o m.kiln \
	--register s >out.txt
expect_contains out.txt "registered: s version 1"
export KILN_TOKEN=s3cret
expect_fail --code 1 "$KILN" models alias nope prod 1 2>e.txt
one_line e.txt "Model Version (name=nope, version=1) not found"
expect_fail --code 1 "$KILN" models alias s prod 9 2>e.txt
one_line e.txt "Model Version (name=s, version=9) not found"
expect_fail --code 1 "$KILN" models rollback s prod 2>e.txt
one_line e.txt "alias 'prod' of model 's' has no earlier version to roll back to"
expect_ok "$KILN" models alias s prod 1 >/dev/null
expect_fail --code 1 "$KILN" models rollback s prod 2>e.txt
one_line e.txt "no earlier version"
KILN_TOKEN=wrong expect_fail --code 1 "$KILN" models alias s prod 1 2>e.txt
one_line e.txt "permission denied"

# A registration that fails after its run was created ends the run FAILED
# (here: a model name longer than the server accepts).
LONG=$(printf 'm%.0s' $(seq 300))
expect_fail --code 1 "$KILN" train "$DATA/sentiment/train.csv" -o m2.kiln --register "$LONG" \
	--experiment failing 2>e.txt
one_line e.txt "registering"
expect_ok "$KILN" exp show failing >exp.txt
expect_contains exp.txt "FAILED"

# Usage errors: exit 2.
expect_fail --code 2 "$KILN" models 2>/dev/null
expect_fail --code 2 "$KILN" models frob 2>/dev/null
expect_fail --code 2 "$KILN" models show 2>/dev/null
expect_fail --code 2 "$KILN" models alias s prod 2>/dev/null
expect_fail --code 2 "$KILN" models alias s prod x 2>e.txt
one_line e.txt "invalid version 'x'"
expect_fail --code 2 "$KILN" models ls --bogus 2>/dev/null
expect_fail --code 2 "$KILN" exp show 2>/dev/null
expect_fail --code 2 "$KILN" exp ls extra 2>/dev/null
expect_fail --code 2 "$KILN" train "$DATA/sentiment/train.csv" -o m3.kiln --alias prod 2>/dev/null
expect_fail --code 2 "$KILN" models ls --server ftp://x 2>e.txt
one_line e.txt "expected http://HOST:PORT"

# The server goes away: exit 1, one line naming it.
kill "$PID"
wait "$PID" 2>/dev/null
expect_fail --code 1 "$KILN" models ls 2>e.txt
one_line e.txt "cannot reach kiln server at $URL"
expect_fail --code 1 "$KILN" exp ls --server "$URL/" 2>e.txt
one_line e.txt "cannot reach kiln server at $URL"
