#!/usr/bin/env bash
# t2110: kiln predict maps a regular input file. When another program
# truncates the file while it is read, kiln says so in one line, exits 1
# and leaves no output file, temporary or final (not a crash by SIGBUS).
# The file is truncated once kiln has mapped it, which /proc shows; it is
# large enough that kiln is still reading it then, even on a fast machine.
. "$KILN_TOP/tests/e2e/lib.sh"

expect_ok "$KILN" train "$DATA/churn/train.csv" --algo gbdt --target churn \
	-o churn.kiln >/dev/null
head -n 1 "$DATA/churn/test.csv" >part.csv
for _ in $(seq 40); do tail -n +2 "$DATA/churn/test.csv"; done >>part.csv
head -n 1 part.csv >big.csv
for _ in $(seq 60); do tail -n +2 part.csv; done >>big.csv # ~240 MB
[ "$(wc -c <big.csv)" -gt 200000000 ] || fail "big.csv is too small"

"$KILN" predict churn.kiln big.csv -o out.csv 2>err &
pid=$!
mapped=0
for _ in $(seq 2000); do
	if grep -q "/big.csv\$" "/proc/$pid/maps" 2>/dev/null; then
		mapped=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.005
done
[ "$mapped" = 1 ] || fail "kiln predict never mapped big.csv"
: >big.csv
rc=0
wait "$pid" || rc=$?
[ "$rc" = 1 ] || fail "exit $rc after the input was truncated, expected 1: $(cat err)"
expect_contains err "kiln: error: the input file shrank while it was read"
[ "$(wc -l <err)" = 1 ] || fail "more than one line on stderr: $(cat err)"
[ ! -e out.csv ] || fail "an output file was left"
leftover=$(find . -maxdepth 1 -name '*out.csv*' | head -n 1)
[ -z "$leftover" ] || fail "a temporary output file was left: $leftover"
rm -f big.csv part.csv
