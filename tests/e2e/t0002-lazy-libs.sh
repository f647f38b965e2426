#!/usr/bin/env bash
# t0002: libmicrohttpd, libcurl, libpq and libgit2 are opened on first use
# (src/dyn/), not at exec: kiln does not link them, exports none of their
# names, works without them for what does not need them, and says which
# library and Debian package are missing, once, when a command needs one.
# The missing library is a real dlopen failure: an empty file (or another
# library) found first under the soname through LD_LIBRARY_PATH.
. "$KILN_TOP/tests/e2e/lib.sh"

# soname and Debian package of each library, read here from the system the
# same way the build does (scripts/dynflags.sh), but independently.
declare -A soname deb
for pc in libmicrohttpd libcurl libpq libgit2; do
	l=$(pkg-config --libs-only-l $pc | sed 's/^-l\([^ ]*\).*/\1/')
	dir=$(pkg-config --variable=libdir $pc)
	soname[$pc]=$(objdump -p "$dir/lib$l.so" | awk '$1 == "SONAME" {print $2}')
	[ -n "${soname[$pc]}" ] || fail "no SONAME in $dir/lib$l.so"
	deb[$pc]=$(dpkg-query -S "$dir/${soname[$pc]}" | sed -n '1s/:.*//p')
done

# Not linked, and no shim name in the dynamic symbol table (a library
# binding its own calls to kiln's shims would recurse through them).
readelf -d "$KILN" >needed || fail "readelf failed"
for pc in libmicrohttpd libcurl libpq libgit2; do
	! grep -qF "[${soname[$pc]}]" needed || fail "kiln links ${soname[$pc]}"
done
nm -D --defined-only "$KILN" >dynsym || fail "nm failed"
! grep -E ' (MHD_|curl_|PQ|git_)' dynsym || fail "kiln exports a shim name"

mkdir fake other
for pc in libmicrohttpd libcurl libpq libgit2; do : >"fake/${soname[$pc]}"; done
export LD_LIBRARY_PATH=$TMP/fake

# One error line for a library: "cannot load SONAME (Debian package DEB): WHY"
# (dlerror's text, which names the file it tried).
expect_load_error() {
	local pc=$1 file=$2 why=$3
	expect_contains "$file" "kiln: error: cannot load ${soname[$pc]} (Debian package ${deb[$pc]}): "
	grep 'cannot load ' "$file" | grep -qF -- "$why" || fail "no '$why' in $file: $(cat "$file")"
	[ "$(grep -c 'cannot load ' "$file")" = 1 ] || fail "not one load error in $file: $(cat "$file")"
}

# Training, prediction and the rest need none of the four.
expect_ok "$KILN" version >/dev/null
"$KILN" train "$DATA/churn/train.csv" --target churn -o churn.kiln 2>err >/dev/null ||
	fail "train failed: $(cat err)"
! grep -q 'cannot load' err || fail "train loaded a lazy library: $(cat err)"
"$KILN" predict churn.kiln "$DATA/churn/test.csv" -o pred.csv 2>err ||
	fail "predict failed: $(cat err)"
! grep -q 'cannot load' err || fail "predict loaded a lazy library: $(cat err)"

# libmicrohttpd: kiln serve cannot start its HTTP server.
expect_fail --code 1 "$KILN" serve churn.kiln --port 0 2>err
expect_load_error libmicrohttpd err "file too short"

# libpq: PQconnectdb fails as libpq does, with the reason in its message.
expect_fail --code 1 "$KILN" server --db "postgres://127.0.0.1:1/kiln" --port 0 2>err
expect_load_error libpq err "file too short"

# libcurl: the client cannot make a handle.
expect_fail --code 1 "$KILN" models ls --server http://127.0.0.1:1 2>err
expect_load_error libcurl err "file too short"

# libgit2: kiln run reads the workspace's commit through it, and goes on
# with placeholders, after saying why.
git init -q repo && mkdir -p repo/.github/workflows
printf 'on: push\njobs:\n  a:\n    steps:\n      - run: echo "sha=$GITHUB_SHA"\n' >repo/w.yml
(cd repo && git add w.yml && git -c user.name=t -c user.email=t@t commit -qm one) ||
	fail "cannot make a repository"
(cd repo && "$KILN" run w.yml) >out 2>err || fail "kiln run failed: $(cat err)"
expect_load_error libgit2 err "file too short"

# A library that loads but lacks a function kiln uses (libyaml under
# libcurl's soname): the same one line, naming the function.
cp "$(pkg-config --variable=libdir yaml-0.1)/libyaml.so" "other/${soname[libcurl]}"
LD_LIBRARY_PATH=$TMP/other expect_fail --code 1 "$KILN" models ls \
	--server http://127.0.0.1:1 2>err
expect_load_error libcurl err "it lacks curl_easy_init"
