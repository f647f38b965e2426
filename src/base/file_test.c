/*
 * file_test.c - unit tests for base/file (atomic replacement).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/file.h"

static char dir[] = "/tmp/kiln-file-test.XXXXXX";

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

static void test_file_atomic_write_has_umask_mode(void **state)
{
	struct err err = ERR_INIT;
	char path[256];
	struct stat st;
	mode_t old = umask(022);
	snprintf(path, sizeof(path), "%s/a.bin", dir);
	assert_int_equal(file_write_atomic(path, "abc", 3, &err), 0);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	/* 0600 from mkstemp was a bug: other users could not read a bundle */
	assert_int_equal(st.st_mode & 0777, 0644);
}

static void test_file_abort_leaves_nothing(void **state)
{
	struct err err = ERR_INIT;
	struct file_out o;
	char path[256];
	snprintf(path, sizeof(path), "%s/b.bin", dir);
	assert_int_equal(file_out_open(&o, path, &err), 0);
	fputs("partial", o.f);
	file_out_abort(&o);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(dir, F_OK), 0);
}

static void test_file_commit_replaces_contents(void **state)
{
	struct err err = ERR_INIT;
	struct buf b = BUF_INIT;
	char path[256];
	snprintf(path, sizeof(path), "%s/c.txt", dir);
	assert_int_equal(file_write_atomic(path, "old", 3, &err), 0);
	assert_int_equal(file_write_atomic(path, "new!", 4, &err), 0);
	assert_int_equal(buf_read_file(&b, path, 0), 0);
	assert_string_equal(b.ptr, "new!");
	buf_release(&b);
}

static void test_file_device_is_written_in_place(void **state)
{
	struct err err = ERR_INIT;
	struct stat st;
	/* renaming onto /dev/null once turned it into a regular file */
	assert_int_equal(file_write_atomic("/dev/null", "x", 1, &err), 0);
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
}

static void test_file_directory_is_refused(void **state)
{
	struct err err = ERR_INIT;
	assert_int_equal(file_write_atomic(dir, "x", 1, &err), -1);
	assert_non_null(strstr(err.msg, "is a directory"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_atomic_write_has_umask_mode),
		cmocka_unit_test(test_file_abort_leaves_nothing),
		cmocka_unit_test(test_file_commit_replaces_contents),
		cmocka_unit_test(test_file_device_is_written_in_place),
		cmocka_unit_test(test_file_directory_is_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
