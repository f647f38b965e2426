/*
 * bundle_test.c - unit tests for the model bundle container (ml/bundle.h):
 * round trip, and one clear error for truncated, corrupt, foreign and
 * newer-version files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/mem.h"
#include "ml/bundle.h"

static char dir[] = "/tmp/kiln-bundle-test.XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes a small bundle to dir/name and reads its bytes into out. */
static void make_bundle(const char *name, struct buf *out)
{
	struct ml_bundle b;
	struct err err = ERR_INIT;
	char path[256];
	memset(&b, 0, sizeof(b));
	b.manifest = json_pack("{s:s, s:i, s:[s,s]}", "task", "classification", "n", 3, "classes",
			       "neg", "pos");
	b.payload = mem_malloc(5);
	assert_non_null(b.payload);
	memcpy(b.payload, "\x01\x02\x00\x04\x05", 5);
	b.payload_len = 5;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (ml_bundle_write(&b, path, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(strlen(b.sha256), 64);
	ml_bundle_release(&b);
	assert_int_equal(buf_read_file(out, path, 0), 0);
}

static void test_bundle_round_trip(void **state)
{
	struct ml_bundle b;
	struct err err = ERR_INIT;
	struct buf raw = BUF_INIT;
	char path[256], hex[HASH_SHA256_HEX];
	unsigned char sum[HASH_SHA256_LEN];
	make_bundle("rt.kiln", &raw);
	snprintf(path, sizeof(path), "%s/rt.kiln", dir);
	if (ml_bundle_read(&b, path, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(json_string_value(json_object_get(b.manifest, "task")),
			    "classification");
	assert_int_equal(b.payload_len, 5);
	assert_memory_equal(b.payload, "\x01\x02\x00\x04\x05", 5);
	hash_sha256(raw.ptr, raw.len, sum);
	hash_hex(sum, sizeof(sum), hex);
	assert_string_equal(b.sha256, hex);
	assert_memory_equal(raw.ptr, "KILNMDL\0\x01\0\0\0\0\0\0\0", 16);
	ml_bundle_release(&b);
	buf_release(&raw);
}

static void test_bundle_truncated_at_any_length_is_an_error(void **state)
{
	struct buf raw = BUF_INIT;
	make_bundle("tr.kiln", &raw);
	for (size_t n = 0; n < raw.len; n++) {
		struct ml_bundle b;
		struct err err = ERR_INIT;
		assert_int_equal(ml_bundle_parse(&b, raw.ptr, n, "tr.kiln", &err), -1);
		assert_int_equal(err.code, n < 8 ? ERR_FORMAT : ERR_CHECKSUM);
		assert_non_null(strstr(err.msg, "tr.kiln"));
		assert_null(b.manifest);
	}
	buf_release(&raw);
}

static void test_bundle_any_flipped_byte_is_caught(void **state)
{
	struct buf raw = BUF_INIT;
	make_bundle("fl.kiln", &raw);
	for (size_t i = 0; i < raw.len; i++) {
		struct ml_bundle b;
		struct err err = ERR_INIT;
		raw.ptr[i] ^= 0x20;
		assert_int_equal(ml_bundle_parse(&b, raw.ptr, raw.len, "fl.kiln", &err), -1);
		assert_true(err.code == ERR_FORMAT || err.code == ERR_CHECKSUM ||
			    err.code == ERR_VERSION);
		raw.ptr[i] ^= 0x20;
	}
	buf_release(&raw);
}

static void test_bundle_foreign_files_are_refused(void **state)
{
	static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06"
				  "\0\0\0\x1f\x15\xc4\x89\0\0\0\nIDATx\x9c";
	static const char csv[] = "text,label\nI loved this movie,positive\n";
	struct ml_bundle b;
	struct err err = ERR_INIT;
	assert_int_equal(ml_bundle_parse(&b, png, sizeof(png) - 1, "x.png", &err), -1);
	assert_int_equal(err.code, ERR_FORMAT);
	assert_string_equal(err.msg, "'x.png' is not a kiln model bundle (bad magic)");
	err_clear(&err);
	assert_int_equal(ml_bundle_parse(&b, csv, sizeof(csv) - 1, "x.csv", &err), -1);
	assert_int_equal(err.code, ERR_FORMAT);
	err_clear(&err);
	assert_int_equal(ml_bundle_read(&b, "/nonexistent.kiln", &err), -1);
	assert_int_equal(err.code, ERR_IO);
}

/* Rewrites the checksum trailer so a doctored header gets past it. */
static void reseal(struct buf *raw)
{
	hash_sha256(raw->ptr, raw->len - HASH_SHA256_LEN,
		    (unsigned char *)raw->ptr + raw->len - HASH_SHA256_LEN);
}

static void test_bundle_newer_version_is_refused(void **state)
{
	struct buf raw = BUF_INIT;
	struct ml_bundle b;
	struct err err = ERR_INIT;
	make_bundle("v2.kiln", &raw);
	raw.ptr[8] = 2;
	reseal(&raw);
	assert_int_equal(ml_bundle_parse(&b, raw.ptr, raw.len, "v2.kiln", &err), -1);
	assert_int_equal(err.code, ERR_VERSION);
	assert_non_null(strstr(err.msg, "format version 2"));
	buf_release(&raw);
}

static void test_bundle_sealed_but_inconsistent_is_refused(void **state)
{
	struct buf raw = BUF_INIT;
	struct ml_bundle b;
	struct err err = ERR_INIT;
	make_bundle("bad.kiln", &raw);
	raw.ptr[16] = (char)0xff; /* manifest length past the end */
	reseal(&raw);
	assert_int_equal(ml_bundle_parse(&b, raw.ptr, raw.len, "bad.kiln", &err), -1);
	assert_int_equal(err.code, ERR_FORMAT);
	assert_non_null(strstr(err.msg, "manifest length"));
	raw.ptr[16] = 1; /* manifest "{" only */
	reseal(&raw);
	err_clear(&err);
	assert_int_equal(ml_bundle_parse(&b, raw.ptr, raw.len, "bad.kiln", &err), -1);
	assert_int_equal(err.code, ERR_FORMAT);
	buf_release(&raw);
}

static void test_bundle_write_refuses_non_object_manifest(void **state)
{
	struct ml_bundle b;
	struct err err = ERR_INIT;
	char path[256];
	memset(&b, 0, sizeof(b));
	b.manifest = json_array();
	snprintf(path, sizeof(path), "%s/no.kiln", dir);
	assert_int_equal(ml_bundle_write(&b, path, &err), -1);
	assert_int_equal(access(path, F_OK), -1);
	ml_bundle_release(&b);
}

static void test_bundle_parse_survives_allocation_failure(void **state)
{
	struct buf raw = BUF_INIT;
	int ok = 0;
	make_bundle("nomem.kiln", &raw);
	for (long n = 0; n < 50 && !ok; n++) {
		struct ml_bundle b;
		struct err err = ERR_INIT;
		mem_set_fail_after(n);
		if (ml_bundle_parse(&b, raw.ptr, raw.len, "nomem.kiln", &err) == 0) {
			ok = 1;
			ml_bundle_release(&b);
		} else {
			assert_int_equal(err.code, ERR_NOMEM);
			assert_null(b.manifest);
		}
		mem_set_fail_after(-1);
	}
	assert_true(ok);
	buf_release(&raw);
}

/*
 * The manifest's text is json_dumps(manifest, JSON_COMPACT | JSON_ENSURE_ASCII),
 * byte for byte: bundles stay identical to those of earlier kilns. Values
 * chosen to reach every branch of the writer (escapes, non-ASCII, extreme
 * integers, reals, empty containers, nesting).
 */
static void test_bundle_manifest_text_is_janssons(void **state)
{
	static const char *const strs[] = {"plain",
					   "",
					   "quote \" back \\ slash /",
					   "tab\tnl\nret\rbs\bff\f",
					   "ctl \x01\x1f del \x7f",
					   "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"};
	struct ml_bundle b;
	struct err err = ERR_INIT;
	struct buf raw = BUF_INIT;
	char path[256], *want;
	json_t *a, *o;
	size_t i, mlen;

	memset(&b, 0, sizeof(b));
	b.manifest = json_object();
	a = json_array();
	assert_non_null(b.manifest);
	assert_non_null(a);
	for (i = 0; i < sizeof(strs) / sizeof(*strs); i++) {
		assert_int_equal(json_array_append_new(a, json_string(strs[i])), 0);
		assert_int_equal(
			json_object_set_new(b.manifest, strs[i], json_integer((json_int_t)i)), 0);
	}
	assert_int_equal(json_object_set_new(b.manifest, "strings", a), 0);
	o = json_pack(
		"{s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:b, s:b, s:n, s:{}, s:[], "
		"s:[[[{s:[i,i,{}]}]]]}",
		"zero", (json_int_t)0, "neg", (json_int_t)-1234567, "max", (json_int_t)INT64_MAX,
		"min", (json_int_t)INT64_MIN, "one", 1.0, "tenth", 0.1, "negzero", -0.0, "big",
		1e300, "small", -2.5e-300, "third", 1.0 / 3, "t", 1, "f", 0, "null", "empty_obj",
		"empty_arr", "deep", "x", 1, -2);
	assert_non_null(o);
	assert_int_equal(json_object_set_new(b.manifest, "values", o), 0);
	snprintf(path, sizeof(path), "%s/text.kiln", dir);
	if (ml_bundle_write(&b, path, &err) < 0)
		fail_msg("%s", err.msg);
	assert_int_equal(buf_read_file(&raw, path, 0), 0);
	want = json_dumps(b.manifest, JSON_COMPACT | JSON_ENSURE_ASCII);
	assert_non_null(want);
	mlen = 0;
	for (i = 0; i < 8; i++)
		mlen |= (size_t)(unsigned char)raw.ptr[16 + i] << (8 * i);
	assert_int_equal(mlen, strlen(want));
	assert_memory_equal(raw.ptr + 24, want, mlen);
	free(want); /* jansson's allocator is malloc */
	buf_release(&raw);
	ml_bundle_release(&b);
}

static void test_bundle_write_survives_allocation_failure(void **state)
{
	char path[256];
	int ok = 0;
	snprintf(path, sizeof(path), "%s/wnomem.kiln", dir);
	for (long n = 0; n < 50 && !ok; n++) {
		struct ml_bundle b;
		struct err err = ERR_INIT;
		memset(&b, 0, sizeof(b));
		b.manifest = json_pack("{s:s, s:[i,i,i], s:f}", "task", "t\u00e9", "idx", 1, 2, 3,
				       "x", 0.5);
		assert_non_null(b.manifest);
		mem_set_fail_after(n);
		if (ml_bundle_write(&b, path, &err) == 0)
			ok = 1;
		else
			assert_int_equal(err.code, ERR_NOMEM);
		mem_set_fail_after(-1);
		ml_bundle_release(&b);
	}
	assert_true(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bundle_round_trip),
		cmocka_unit_test(test_bundle_truncated_at_any_length_is_an_error),
		cmocka_unit_test(test_bundle_any_flipped_byte_is_caught),
		cmocka_unit_test(test_bundle_foreign_files_are_refused),
		cmocka_unit_test(test_bundle_newer_version_is_refused),
		cmocka_unit_test(test_bundle_sealed_but_inconsistent_is_refused),
		cmocka_unit_test(test_bundle_write_refuses_non_object_manifest),
		cmocka_unit_test(test_bundle_parse_survives_allocation_failure),
		cmocka_unit_test(test_bundle_manifest_text_is_janssons),
		cmocka_unit_test(test_bundle_write_survives_allocation_failure),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
