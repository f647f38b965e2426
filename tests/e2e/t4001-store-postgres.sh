#!/usr/bin/env bash
# t4001: the store's unit-test suite (src/store/db_test.c) against a real
# PostgreSQL: initdb + pg_ctl in this test's temporary directory, listening
# on a unix socket only, stopped by the trap.
. "$KILN_TOP/tests/e2e/lib.sh"

suite=$(dirname "$KILN")/test/store/db_test
[ -x "$suite" ] || fail "no $suite: build it with 'make check' (or make $suite)"
pgbin=/usr/lib/postgresql/15/bin
[ -x "$pgbin/initdb" ] || fail "no PostgreSQL 15 server in $pgbin (scripts/deps.sh installs it)"

# PostgreSQL refuses to run as root: the server runs as user postgres.
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || fail "no user 'postgres' to run the server as"
	as_pg=(runuser -u postgres --)
	chown postgres "$TMP"
fi
pgdata=$TMP/pgdata
sock=$TMP
port=54329
expect_ok "${as_pg[@]}" "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 \
	--no-instructions >initdb.log 2>&1
stop_pg() { "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1; }
trap 'stop_pg; _cleanup' EXIT
expect_ok "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -l "$TMP/pg.log" -w -t 60 \
	-o "-c listen_addresses='' -k $sock -p $port -c fsync=off" start >/dev/null
expect_ok "${as_pg[@]}" "$pgbin/createdb" -h "$sock" -p $port -U postgres kiln_test

url="postgresql:///kiln_test?host=$sock&port=$port&user=postgres"
KILN_TEST_PG=$url "$suite" >suite.log 2>&1 || { cat suite.log >&2; fail "store suite failed on postgres"; }
expect_contains suite.log "store backend: postgres"
expect_contains suite.log "PASSED"
grep "store timing" suite.log

