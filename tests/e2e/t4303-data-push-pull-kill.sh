#!/usr/bin/env bash
# t4303: a `kiln data push` and a `kiln data pull` killed with SIGKILL half
# way through a large blob never leave a corrupt blob visible on either
# side. A slow TCP proxy (Python, standard library) in front of a real kiln
# server stretches the transfer so the kill lands in the middle of it.
. "$KILN_TOP/tests/e2e/lib.sh"

start_server server.log
py=/usr/bin/python3
# proxy.py LISTEN_PORT_FILE TARGET_PORT BYTES_PER_SECOND
cat >proxy.py <<'PY'
import socket, sys, threading, time
rate = int(sys.argv[3])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(16)
open(sys.argv[1], "w").write(str(ls.getsockname()[1]))
def pump(a, b):
    try:
        while True:
            d = a.recv(16384)
            if not d:
                break
            b.sendall(d)
            time.sleep(len(d) / rate)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
while True:
    c, _ = ls.accept()
    u = socket.create_connection(("127.0.0.1", int(sys.argv[2])))
    threading.Thread(target=pump, args=(c, u), daemon=True).start()
    threading.Thread(target=pump, args=(u, c), daemon=True).start()
PY
$py proxy.py pport "$PORT" 8000000 &
on_exit_kill $!
for _ in $(seq 100); do [ -s pport ] && break; sleep 0.05; done
[ -s pport ] || fail "the proxy did not start"
slow=http://127.0.0.1:$(cat pport)
direct=http://127.0.0.1:$PORT
unset KILN_SERVER KILN_REMOTE KILN_TOKEN KILN_TOKEN_FILE KILN_BLOBS

mkdir a && cd a
export KILN_HOME=$TMP/home-a
head -c 40000000 /dev/urandom >big.bin
expect_ok "$KILN" data add big.bin 2>/dev/null
sha=$(sha256sum big.bin | cut -d' ' -f1)
# kill_half_way WHAT CMD...: runs CMD, SIGKILLs it after 1.5 s (it must still be running).
kill_half_way() {
	local what=$1 pid
	shift
	"$@" >"$what.out" 2>&1 &
	pid=$!
	sleep 1.5
	kill -0 $pid 2>/dev/null || fail "$what ended before the kill: $(cat "$what.out")"
	kill -9 $pid
	wait $pid 2>/dev/null
}
blob_code() { curl -s -o /dev/null -w '%{http_code}' -I "$direct/api/2.0/kiln/blobs/$sha"; }

# Push through the proxy (about 5 s), killed after 1.5 s: the server has nothing.
kill_half_way push "$KILN" data push --remote "$slow"
sleep 0.5
[ "$(blob_code)" = 404 ] || fail "after a killed push the server answers $(blob_code) for the blob"
find "$TMP/home/blobs" -type f -path '*objects*' | grep -q . && fail "a blob file on the server"
mkdir ../b && cp big.bin.kiln ../b/
cd ../b
export KILN_HOME=$TMP/home-b
expect_fail --code 1 "$KILN" data pull --remote "$direct" 2>err
expect_contains err "not found"
[ -e big.bin ] && fail "a pull of a missing blob wrote big.bin"

# The push again, to the end: now a full pull gets the right bytes.
(cd ../a && KILN_HOME=$TMP/home-a expect_ok "$KILN" data push --remote "$direct" >/dev/null)
[ "$(blob_code)" = 200 ] || fail "the blob is not on the server after a full push"

# Pull through the proxy, killed half way: no big.bin, nothing in the local store.
kill_half_way pull "$KILN" data pull --remote "$slow"
[ -e big.bin ] && fail "a killed pull left big.bin"
[ -d "$KILN_HOME/blobs/objects" ] && find "$KILN_HOME/blobs/objects" -type f | grep -q . &&
	fail "a killed pull left a blob in the local store"
expect_ok "$KILN" data pull --remote "$direct" >out
expect_same <(echo "1 fetched, 0 already local, 1 file written") out
expect_same ../a/big.bin big.bin
expect_ok "$KILN" data status big.bin >/dev/null
exit 0
