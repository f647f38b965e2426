#!/usr/bin/env bash
# store.sh - measures the store targets of issue 5 on SQLite on this machine:
# in process (the bench mode of db_test), over HTTP against a real `kiln
# server` on loopback (bench/store_http.py), and `kiln data add` of many
# files. Writes bench/results/store-<UTC date-time>.md. Not a unit test.
#
# usage: bench/store.sh          (after `make kiln build/default/test/store/db_test`)
# env:   KILN=path           the kiln to measure (default build/default/kiln)
#        BASE_KILN=path      another kiln measured beside it (HTTP, data add)
#        STORE_FILES=20000   files for `data add`; STORE_KB=100 their size
#        STORE_RUNS=10000    runs to search; STORE_CLIENTS=4 concurrent clients
#        STORE_SKIP="inproc http add"  parts to leave out
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$top/build/default/kiln}
BASE_KILN=${BASE_KILN:-}
DB_TEST=${DB_TEST:-$top/build/default/test/store/db_test}
STORE_FILES=${STORE_FILES:-20000}
STORE_KB=${STORE_KB:-100}
STORE_RUNS=${STORE_RUNS:-10000}
STORE_CLIENTS=${STORE_CLIENTS:-4}
STORE_SKIP=${STORE_SKIP:-}
PY=/usr/bin/python3

for f in "$KILN" "$DB_TEST" ${BASE_KILN:+"$BASE_KILN"}; do
	[ -x "$f" ] || { echo "store.sh: '$f' is not built (make kiln build/default/test/store/db_test)" >&2; exit 1; }
done
# The scratch directory is on the work tree's filesystem, like a checkout.
work=$(mktemp -d "$top/bench/.store.XXXXXX")
server_pids=
cleanup() {
	for p in $server_pids; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT
lines=$work/bench.lines # "<who> BENCH <name> <value> <unit>"
: >"$lines"
skip() { case " $STORE_SKIP " in *" $1 "*) return 0 ;; esac; return 1; }
say() { echo "store.sh: $*" >&2; }

inproc() {
	say "in process: KILN_STORE_BENCH=1 $DB_TEST"
	KILN_STORE_BENCH=1 "$DB_TEST" >"$work/db_test.out" 2>&1 ||
		{ cat "$work/db_test.out" >&2; exit 1; }
	grep '^BENCH ' "$work/db_test.out" | sed 's/^/kiln /' >>"$lines"
}

# start WHO BIN: a fresh server on 127.0.0.1:0; its URL goes to $url.
start() {
	local home=$work/home-http-$1 port=
	mkdir -p "$home"
	KILN_HOME=$home "$2" server --port 0 2>"$home/log" &
	server_pids="$server_pids $!"
	for _ in $(seq 200); do
		port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$home/log")
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { cat "$home/log" >&2; exit 1; }
	url=http://127.0.0.1:$port
}

# http: store_http.py against kiln (and the baseline), side by side.
http() {
	local args=()
	start kiln "$KILN"
	args+=("kiln=$url")
	if [ -n "$BASE_KILN" ]; then
		start base "$BASE_KILN"
		args+=("base=$url")
	fi
	say "over HTTP: store_http.py ${args[*]} --runs $STORE_RUNS --clients $STORE_CLIENTS"
	$PY "$top/bench/store_http.py" "${args[@]}" --runs "$STORE_RUNS" \
		--clients "$STORE_CLIENTS" >>"$lines"
	for p in $server_pids; do
		kill "$p"
		wait "$p" 2>/dev/null || true
	done
	server_pids=
}

# make_data NAME: a data set of its own for each measured add, all made
# before any is timed: deleting files right before a run would make it pay
# for ext4's search past recently freed inodes (docs/store.md).
make_data() {
	mkdir -p "$work/data-$1"
	say "data add: making $STORE_FILES files of $STORE_KB KB in data-$1"
	$PY -c '
import os, sys
d, n, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    with open(os.path.join(d, "f%06d.bin" % i), "wb") as f:
        f.write(os.urandom(kb * 1024))
' "$work/data-$1" "$STORE_FILES" "$STORE_KB"
}

# add WHO MODE BIN [FLAGS]: times `kiln data add` on data-WHO-MODE.
add() {
	local who=$1 mode=$2 bin=$3 dir=$work/data-$1-$2 t0 t1
	shift 3
	say "data add ($who, $mode): kiln data add $* f*.bin"
	t0=$(date +%s.%N)
	(cd "$dir" && KILN_HOME=$work/home-add-$who-$mode "$bin" data add "$@" f*.bin 2>"$dir.err") ||
		{ cat "$dir.err" >&2; exit 1; }
	t1=$(date +%s.%N)
	echo "$who BENCH add.$mode $(echo "$t1 - $t0" | bc -l) s" >>"$lines"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
skip inproc || inproc
skip http || http
if ! skip add; then
	link=
	# `kiln data add --help` is data.c's page: probe the flag instead.
	case $("$KILN" data add --link copy 2>&1) in *"missing FILE"*) link=1 ;; esac
	make_data kiln-copy
	[ -z "$BASE_KILN" ] || make_data base-copy
	[ -z "$link" ] || make_data kiln-hardlink
	sync # the data sets' own dirty pages are not the command's to write
	[ -z "$BASE_KILN" ] || add base copy "$BASE_KILN"
	add kiln copy "$KILN"
	[ -z "$link" ] || add kiln hardlink "$KILN" --link hardlink
fi
load1=$(cut -d' ' -f1-3 /proc/loadavg)

stamp=$(date -u +%Y-%m-%d_%H%M%SZ)
out=$top/bench/results/store-$stamp.md
mkdir -p "$top/bench/results"
$PY - "$lines" "$out" "$stamp" "$load0" "$load1" "$KILN" "${BASE_KILN:-}" "$STORE_FILES" "$STORE_KB" "$STORE_RUNS" "$STORE_CLIENTS" <<'EOF'
import sys, os, subprocess
lines, out, stamp, load0, load1, kiln, base, files, kb, runs, clients = sys.argv[1:12]
got = {}
units = {}
for l in open(lines):
    who, _, name, value, unit = l.split()
    got[(who, name)] = float(value)
    units[name] = unit
# name prefix -> (target, unit, what); "<=" targets only.
targets = [
    ("inproc.log_batch_1000", 20, "log-batch of 1,000 metrics, in process (median of 100)"),
    ("inproc.search_first_page_", 50, "first page (100) of a search over %s runs, in process (median of 20)" % runs),
    ("inproc.history_", 100, "metric history of 100,000 points, in process (median of 5)"),
    ("inproc.alias_resolve", 1, "alias resolution, in process (median of 1,000)"),
    ("http.log_batch_1000", 20, "log-batch of 1,000 metrics over HTTP (median of 100)"),
    ("http.search_first_page_", 50, "first page (100) of a search over %s runs over HTTP (median of 20)" % runs),
    ("http.history_", 100, "metric history of 100,000 points over HTTP (median of 5)"),
    ("http.alias_resolve", 1, "alias resolution over HTTP, GET /api/2.0/kiln/resolve (median of 200)"),
    ("http.alias_resolve_mean_beside_", 1, "alias resolution over HTTP while %d clients read 100,000-point histories (mean over 2 s)" % (int(clients) - 1)),
    ("http.search_per_s_1_", None, "runs/search first pages per second, 1 client"),
    ("http.search_per_s_%s_" % clients, None, "runs/search first pages per second, %s clients at once" % clients),
    ("http.setup_writes_per_s", None, "writes per second (runs/create + log-batch), %s clients, while the runs are made (servers one after the other, not interleaved: noisy)" % clients),
    ("add.", 5, "`kiln data add` of %s files of %s KB (DVC: ~46 s, from issue 5; not run here)" % (files, kb)),
]
names = sorted({n for (_, n) in got})
hdr = "| measure | kiln |" + (" baseline kiln |" if base else "") + " target | ok? |"
rows = [hdr, "|" + "---|" * (hdr.count("|") - 1)]
for prefix, target, what in targets:
    for n in names:
        # A prefix ending in "_" or "." names a family; otherwise one measure.
        if not (n.startswith(prefix) if prefix[-1] in "_." else n == prefix):
            continue
        k = got.get(("kiln", n))
        if k is None:
            continue
        u = units[n]
        label = what + (" (`%s`)" % n[4:] if n.startswith("add.") else "")
        cell = "%.3g %s" % (k, u)
        b = got.get(("base", n))
        bcell = ""
        if base:
            bcell = (" %.3g %s (kiln/base %.2f) |" % (b, u, k / b)) if b else " – |"
        if target is None:
            rows.append("| %s | %s |%s – | – |" % (label, cell, bcell))
        else:
            rows.append("| %s | %s |%s ≤ %g %s | %s |" % (label, cell, bcell, target, u,
                                                    "yes" if k <= target else "**no**"))
rev = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(out)), "log", "-1", "--format=%h %s"],
                     capture_output=True, text=True).stdout.strip()
with open(out + ".tmp", "w") as f:
    f.write("# store benchmark, %s\n\n" % stamp)
    f.write("kiln: `%s` (commit %s)%s  \n" % (kiln, rev, ("; baseline: `%s`" % base) if base else ""))
    f.write("machine: %d cores, load average %s before, %s after; scratch on %s\n\n" % (
        os.cpu_count(), load0, load1,
        subprocess.run(["df", "--output=fstype", os.path.dirname(out)], capture_output=True, text=True).stdout.split()[-1]))
    f.write("\n".join(rows) + "\n\n")
    f.write("Commands (bench/store.sh runs them):\n\n")
    f.write("- in process: `KILN_STORE_BENCH=1 build/default/test/store/db_test` (lines `BENCH …`)\n")
    f.write("- over HTTP: `kiln server --port 0` with a fresh KILN_HOME (SQLite), then "
            "`/usr/bin/python3 bench/store_http.py kiln=http://127.0.0.1:PORT [base=http://127.0.0.1:PORT2] --runs %s --clients %s`; "
            "with a baseline both servers run at once and every measure alternates between them call by call\n" % (runs, clients))
    f.write("- data add: %s files of %s KB of random bytes, `sync`, then "
            "`kiln data add [FLAGS] f*.bin` with a fresh KILN_HOME on the same filesystem "
            "(every data set made before the first add); wall time of the command, which ends with syncfs. "
            "The files are in the page cache (just written), as after a download or a preprocessing step.\n" % (files, kb))
os.rename(out + ".tmp", out)
print(out)
EOF
