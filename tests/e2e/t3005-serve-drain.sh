#!/usr/bin/env bash
# t3005: graceful shutdown. On SIGTERM (and SIGINT) kiln serve stops
# accepting connections, lets a request in flight finish with a normal reply,
# and exits 0; a request still running at --drain-timeout makes it exit 1.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_ok "$KILN" train "$DATA/sentiment/train.csv" --target label --label-name sentiment \
	-o s.kiln >/dev/null

# drain PID PORT SIGNAL FINISH: a request is half sent when the signal comes;
# with FINISH=1 the client then sends the rest and must get its answer.
cat >drain.py <<'PY'
import os, signal, socket, sys, time
pid, port, sig, finish = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
body = b'{"text": "I loved this movie"}'
c = socket.create_connection(("127.0.0.1", port))
c.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
time.sleep(0.3)
os.kill(pid, getattr(signal, "SIG" + sig))
time.sleep(0.5)
try:
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    sys.exit("a new connection was accepted while draining")
except OSError:
    pass
if not finish:
    time.sleep(30)
    sys.exit(0)
c.sendall(body[10:])
c.settimeout(5)
reply = b""
while True:
    got = c.recv(4096)
    if not got:
        break
    reply += got
assert reply.startswith(b"HTTP/1.1 200"), reply
assert b'"sentiment": "positive"' in reply, reply
assert b"Connection: close" in reply, reply
PY

for sig in TERM INT; do
	start_serve "serve-$sig.log" s.kiln
	expect_ok python3 drain.py "$PID" "$PORT" "$sig" 1
	wait "$PID"
	rc=$?
	[ $rc = 0 ] || fail "exit $rc after SIG$sig drain: $(cat "serve-$sig.log")"
	expect_contains "serve-$sig.log" "draining"
done

# A request that never completes: the drain gives up after --drain-timeout.
start_serve stuck.log s.kiln --drain-timeout 1
python3 drain.py "$PID" "$PORT" TERM 0 &
client=$!
on_exit_kill $client
start=$(date +%s)
wait "$PID"
rc=$?
[ $rc = 1 ] || fail "exit $rc, expected 1 after a drain timeout"
[ $(($(date +%s) - start)) -lt 5 ] || fail "drain took too long"
expect_contains stuck.log "1 requests still running after the 1000 ms drain"
