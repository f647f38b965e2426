/*
 * blob_test.c - the blob store's test suite, one suite for both backends: a
 * local directory by default, S3 when KILN_TEST_S3 holds s3://BUCKET/PREFIX
 * (credentials and endpoint from the AWS_* variables, read here, in the
 * test, as a caller's config would). The kiln server backend's errors are
 * tested here; its transfers in tests/e2e/t43*.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/hash.h"
#include "store/blob.h"

#define HELLO	  "hello kiln\n"
#define HELLO_SHA "c8714057f78790d434a91513f7f07187f8fae8a476f031c17bd97f63129adf94"

struct fixture {
	char dir[64];
	struct blob_config cfg;
	char root[128];
	struct blob_store *bs;
};

static const char *s3_url(void)
{
	const char *u = getenv("KILN_TEST_S3");
	return u && *u ? u : NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct err err = ERR_INIT;
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/kiln-blob-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (s3_url()) {
		f->cfg.url = s3_url();
		f->cfg.s3_endpoint = getenv("AWS_ENDPOINT_URL");
		f->cfg.s3_region = getenv("AWS_REGION");
		f->cfg.s3_access_key = getenv("AWS_ACCESS_KEY_ID");
		f->cfg.s3_secret_key = getenv("AWS_SECRET_ACCESS_KEY");
		f->cfg.s3_session_token = getenv("AWS_SESSION_TOKEN");
	} else {
		snprintf(f->root, sizeof(f->root), "%s/store", f->dir);
		f->cfg.url = f->root;
	}
	if (blob_open(&f->bs, &f->cfg, &err) < 0)
		fail_msg("blob_open: %s", err.msg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	blob_close(f->bs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

#define OK(call)                                                                                   \
	do {                                                                                       \
		struct err e_ = ERR_INIT;                                                          \
		struct err *err = &e_;                                                             \
		if ((call) < 0)                                                                    \
			fail_msg("%s: %s", #call, e_.msg);                                         \
	} while (0)

#define FAILS(want_code, want_msg, call)                                                           \
	do {                                                                                       \
		struct err e_ = ERR_INIT;                                                          \
		struct err *err = &e_;                                                             \
		const char *w_ = (want_msg);                                                       \
		if ((call) == 0)                                                                   \
			fail_msg("%s succeeded", #call);                                           \
		if (e_.code != (want_code))                                                        \
			fail_msg("%s: code %s, want %s (%s)", #call, err_name(e_.code),            \
				 err_name(want_code), e_.msg);                                     \
		if (w_ && !strstr(e_.msg, w_))                                                     \
			fail_msg("%s: message '%s' lacks '%s'", #call, e_.msg, w_);                \
	} while (0)

static void sha_of(const void *p, size_t n, char out[HASH_SHA256_HEX])
{
	unsigned char d[HASH_SHA256_LEN];
	hash_sha256(p, n, d);
	hash_hex(d, HASH_SHA256_LEN, out);
}

static void test_put_mem_get_buf_round_trip(void **state)
{
	struct fixture *f = *state;
	char sha[HASH_SHA256_HEX], want[HASH_SHA256_HEX];
	struct buf b = BUF_INIT;
	uint64_t size = 0;
	int exists = 0;
	sha_of(HELLO, strlen(HELLO), want);
	OK(blob_put_mem(f->bs, HELLO, strlen(HELLO), sha, err));
	assert_string_equal(sha, want);
	OK(blob_stat(f->bs, sha, &exists, &size, err));
	assert_int_equal(exists, 1);
	assert_int_equal(size, strlen(HELLO));
	OK(blob_get_buf(f->bs, sha, &b, 0, err));
	assert_int_equal(b.len, strlen(HELLO));
	assert_memory_equal(b.ptr, HELLO, b.len);
	/* Again: the same key, no error (this blob is left for the e2e test to read back). */
	OK(blob_put_mem(f->bs, HELLO, strlen(HELLO), sha, err));
	assert_string_equal(sha, want);
	FAILS(ERR_TOOBIG, "larger than", blob_get_buf(f->bs, sha, &b, 4, err));
	assert_int_equal(b.len, strlen(HELLO)); /* a failed get appends nothing */
	buf_release(&b);
	OK(blob_put_mem(f->bs, "", 0, sha, err));
	assert_string_equal(sha,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	OK(blob_get_buf(f->bs, sha, &b, 0, err));
	assert_int_equal(b.len, 0);
	buf_release(&b);
}

static void test_put_file_streams_large_file(void **state)
{
	struct fixture *f = *state;
	char src[128], dst[128], sha[HASH_SHA256_HEX], want[HASH_SHA256_HEX];
	size_t n = 3 * 1024 * 1024 + 17, i;
	unsigned char *data = malloc(n);
	struct buf back = BUF_INIT;
	uint64_t size = 0;
	FILE *fp;
	assert_non_null(data);
	for (i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	snprintf(src, sizeof(src), "%s/big.bin", f->dir);
	snprintf(dst, sizeof(dst), "%s/back.bin", f->dir);
	fp = fopen(src, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
	OK(blob_put_file(f->bs, src, sha, &size, err));
	sha_of(data, n, want);
	assert_string_equal(sha, want);
	assert_int_equal(size, n);
	OK(blob_get_file(f->bs, sha, dst, err));
	assert_int_equal(buf_read_file(&back, dst, 0), 0);
	assert_int_equal(back.len, n);
	assert_memory_equal(back.ptr, data, n);
	buf_release(&back);
	free(data);
	FAILS(ERR_IO, "cannot open", blob_put_file(f->bs, "/nonexistent/x", sha, &size, err));
}

static void test_put_fd_from_a_pipe(void **state)
{
	struct fixture *f = *state;
	char sha[HASH_SHA256_HEX], want[HASH_SHA256_HEX];
	const char *msg = "streamed through a pipe";
	struct buf b = BUF_INIT;
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], msg, strlen(msg)), (ssize_t)strlen(msg));
	close(p[1]);
	OK(blob_put_fd(f->bs, p[0], sha, NULL, err));
	close(p[0]);
	sha_of(msg, strlen(msg), want);
	assert_string_equal(sha, want);
	OK(blob_get_buf(f->bs, sha, &b, 0, err));
	assert_string_equal(b.ptr, msg);
	buf_release(&b);
}

static void test_missing_blob_and_delete(void **state)
{
	struct fixture *f = *state;
	const char *missing = "0000000000000000000000000000000000000000000000000000000000000000";
	char dst[128], sha[HASH_SHA256_HEX];
	struct buf b = BUF_INIT;
	struct stat st;
	int exists = 1;
	snprintf(dst, sizeof(dst), "%s/out.bin", f->dir);
	OK(blob_stat(f->bs, missing, &exists, NULL, err));
	assert_int_equal(exists, 0);
	FAILS(ERR_NOTFOUND, "not found", blob_get_buf(f->bs, missing, &b, 0, err));
	FAILS(ERR_NOTFOUND, "not found", blob_get_file(f->bs, missing, dst, err));
	assert_int_equal(stat(dst, &st), -1); /* nothing left behind */
	FAILS(ERR_NOTFOUND, "not found", blob_delete(f->bs, missing, err));
	OK(blob_put_mem(f->bs, "to delete", 9, sha, err));
	OK(blob_delete(f->bs, sha, err));
	OK(blob_stat(f->bs, sha, &exists, NULL, err));
	assert_int_equal(exists, 0);
	buf_release(&b);
}

static void test_invalid_keys_are_refused(void **state)
{
	struct fixture *f = *state;
	struct buf b = BUF_INIT;
	int exists;
	FAILS(ERR_INVALID, "invalid blob key", blob_get_buf(f->bs, "../../etc/passwd", &b, 0, err));
	FAILS(ERR_INVALID, "invalid blob key", blob_stat(f->bs, HELLO_SHA "0", &exists, NULL, err));
	FAILS(ERR_INVALID, "invalid blob key",
	      blob_delete(f->bs, "C8714057F78790D434A91513F7F07187F8FAE8A476F031C17BD97F63129ADF94",
			  err));
	FAILS(ERR_INVALID, "invalid blob key", blob_get_file(f->bs, NULL, "x", err));
	assert_true(blob_key_ok(HELLO_SHA));
	assert_false(blob_key_ok(""));
}

/* Local only: bytes changed on disk are caught on read. */
static void test_local_corruption_is_detected(void **state)
{
	struct fixture *f = *state;
	char sha[HASH_SHA256_HEX], obj[256], dst[128];
	struct buf b = BUF_INIT;
	struct stat st;
	FILE *fp;
	if (s3_url()) {
		const char *key = getenv("KILN_TEST_S3_CORRUPT_KEY");
		/* The e2e test planted wrong bytes under this key with boto3. */
		if (!key)
			skip();
		FAILS(ERR_CHECKSUM, "corrupt", blob_get_buf(f->bs, key, &b, 0, err));
		assert_int_equal(b.len, 0);
		buf_release(&b);
		return;
	}
	OK(blob_put_mem(f->bs, "precious", 8, sha, err));
	snprintf(obj, sizeof(obj), "%s/objects/%.2s/%s", f->root, sha, sha + 2);
	fp = fopen(obj, "r+b");
	assert_non_null(fp);
	assert_int_equal(fputc('P', fp), 'P');
	assert_int_equal(fclose(fp), 0);
	FAILS(ERR_CHECKSUM, "corrupt", blob_get_buf(f->bs, sha, &b, 0, err));
	assert_int_equal(b.len, 0);
	snprintf(dst, sizeof(dst), "%s/out.bin", f->dir);
	FAILS(ERR_CHECKSUM, "corrupt", blob_get_file(f->bs, sha, dst, err));
	assert_int_equal(stat(dst, &st), -1);
	FAILS(ERR_INVALID, "stdout", blob_get_file(f->bs, sha, "-", err));
	/* A truncated object is replaced by the next put of the same bytes. */
	assert_int_equal(truncate(obj, 3), 0);
	OK(blob_put_mem(f->bs, "precious", 8, sha, err));
	OK(blob_get_buf(f->bs, sha, &b, 0, err));
	assert_string_equal(b.ptr, "precious");
	buf_release(&b);
}

/* Local only: puts leave no temporary files, and a deferred sync works. */
static void test_local_layout_and_deferred_sync(void **state)
{
	struct fixture *f = *state;
	struct blob_config cfg = {0};
	struct blob_store *bs = NULL;
	char sha[HASH_SHA256_HEX], cmd[512], root2[128];
	int i;
	if (s3_url())
		skip();
	for (i = 0; i < 20; i++) {
		char v[16];
		snprintf(v, sizeof(v), "blob %d", i);
		OK(blob_put_mem(f->bs, v, strlen(v), sha, err));
	}
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s/tmp')\" && test -f '%s/objects/%.2s/%s'",
		 f->root, f->root, sha, sha + 2);
	assert_int_equal(system(cmd), 0);
	snprintf(root2, sizeof(root2), "%s/deferred/a/b", f->dir);
	cfg.url = root2;
	cfg.defer_sync = 1;
	OK(blob_open(&bs, &cfg, err));
	assert_string_equal(blob_backend(bs), "local");
	OK(blob_put_mem(bs, "later", 5, sha, err));
	OK(blob_sync(bs, err));
	blob_close(bs);
}

/*
 * Local only: a writer killed in the middle of a put leaves no object
 * visible (only a temporary file, swept once it is a day old).
 */
static void test_local_kill9_mid_put_leaves_no_blob(void **state)
{
	struct fixture *f = *state;
	struct blob_store *bs = NULL;
	char cmd[512], stale[160];
	int p[2], status = 0, i;
	pid_t pid;
	if (s3_url())
		skip();
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char sha[HASH_SHA256_HEX];
		struct err e = ERR_INIT;
		close(p[1]);
		/* Reads the pipe until killed: the put never completes. */
		(void)blob_put_fd(f->bs, p[0], sha, NULL, &e);
		_exit(0);
	}
	close(p[0]);
	assert_int_equal(write(p[1], "partial bytes", 13), 13);
	/* Kill once the writer's temporary file is there (a loaded machine may take a while). */
	snprintf(cmd, sizeof(cmd), "ls '%s/tmp' | grep -q '^put\\.'", f->root);
	for (i = 0; i < 500 && system(cmd) != 0; i++)
		usleep(10 * 1000);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(p[1]);
	assert_true(WIFSIGNALED(status));
	/* No object at all; one temporary file. */
	snprintf(cmd, sizeof(cmd),
		 "test -z \"$(find '%s/objects' -type f)\" && test \"$(ls '%s/tmp' | wc -l)\" = 1",
		 f->root, f->root);
	assert_int_equal(system(cmd), 0);
	/* Reopening sweeps temporary files older than a day, and only those. */
	snprintf(cmd, sizeof(cmd), "for t in '%s'/tmp/put.*; do touch -d '2 days ago' \"$t\"; done",
		 f->root);
	assert_int_equal(system(cmd), 0);
	snprintf(stale, sizeof(stale), "%s/tmp/put.young", f->root);
	{
		FILE *fp = fopen(stale, "w");
		assert_non_null(fp);
		assert_int_equal(fclose(fp), 0);
	}
	OK(blob_open(&bs, &f->cfg, err));
	blob_close(bs);
	snprintf(cmd, sizeof(cmd), "test \"$(ls '%s/tmp')\" = put.young", f->root);
	assert_int_equal(system(cmd), 0);
}

static void test_open_errors(void **state)
{
	struct blob_config cfg = {0};
	struct blob_store *bs = NULL;
	cfg.url = "ftp://x/y";
	FAILS(ERR_USAGE, "unknown blob store URL", blob_open(&bs, &cfg, err));
	cfg.url = NULL;
	FAILS(ERR_USAGE, "no blob store", blob_open(&bs, &cfg, err));
	cfg.url = "s3://bucket/prefix";
	FAILS(ERR_USAGE, "no credentials", blob_open(&bs, &cfg, err));
	cfg.s3_access_key = "a";
	cfg.s3_secret_key = "b";
	cfg.url = "s3://bad bucket/x";
	FAILS(ERR_USAGE, "invalid S3 bucket", blob_open(&bs, &cfg, err));
	cfg.url = "s3://bucket/a/../b";
	FAILS(ERR_USAGE, "invalid S3 prefix", blob_open(&bs, &cfg, err));
	cfg.url = "s3:///x";
	FAILS(ERR_USAGE, "invalid S3 bucket", blob_open(&bs, &cfg, err));
	cfg.url = "/proc/no/such/dir";
	FAILS(ERR_IO, "cannot create directory", blob_open(&bs, &cfg, err));
	assert_null(bs);
	/* An unreachable endpoint is an I/O error with the URL, not a crash. */
	cfg.url = "s3://bucket/p";
	cfg.s3_endpoint = "http://127.0.0.1:1";
	OK(blob_open(&bs, &cfg, err));
	assert_string_equal(blob_backend(bs), "s3");
	{
		int exists;
		FAILS(ERR_IO, "http://127.0.0.1:1/bucket/p/objects/c8/",
		      blob_stat(bs, HELLO_SHA, &exists, NULL, err));
	}
	blob_close(bs);
}

/* The kiln server backend: URL checks, transport errors name the URL, no delete. */
static void test_kiln_server_backend_errors(void **state)
{
	struct blob_config cfg = {0};
	struct blob_store *bs = NULL;
	struct buf b = BUF_INIT;
	int exists = 1;
	cfg.url = "http://";
	FAILS(ERR_USAGE, "invalid kiln server URL", blob_open(&bs, &cfg, err));
	cfg.url = "http://host/a b";
	FAILS(ERR_USAGE, "invalid kiln server URL", blob_open(&bs, &cfg, err));
	cfg.url = "https://host/?x=1";
	FAILS(ERR_USAGE, "invalid kiln server URL", blob_open(&bs, &cfg, err));
	cfg.url = "http://127.0.0.1:1/";
	cfg.token = "a\nb";
	FAILS(ERR_USAGE, "line break", blob_open(&bs, &cfg, err));
	assert_null(bs);
	cfg.token = "t";
	OK(blob_open(&bs, &cfg, err));
	assert_string_equal(blob_backend(bs), "kiln");
	FAILS(ERR_IO, "http://127.0.0.1:1/api/2.0/kiln/blobs/" HELLO_SHA,
	      blob_stat(bs, HELLO_SHA, &exists, NULL, err));
	assert_int_equal(exists, 0);
	FAILS(ERR_IO, "kiln server: GET", blob_get_buf(bs, HELLO_SHA, &b, 0, err));
	assert_int_equal(b.len, 0);
	FAILS(ERR_INVALID, "cannot be deleted", blob_delete(bs, HELLO_SHA, err));
	FAILS(ERR_INVALID, "invalid blob key", blob_stat(bs, "../x", &exists, NULL, err));
	blob_close(bs);
	buf_release(&b);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_put_mem_get_buf_round_trip),
		T(test_put_file_streams_large_file),
		T(test_put_fd_from_a_pipe),
		T(test_missing_blob_and_delete),
		T(test_invalid_keys_are_refused),
		T(test_local_corruption_is_detected),
		T(test_local_layout_and_deferred_sync),
		T(test_local_kill9_mid_put_leaves_no_blob),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_kiln_server_backend_errors),
	};
	printf("blob backend: %s\n", s3_url() ? "s3 (KILN_TEST_S3)" : "local");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
