/*
 * data_store.c - `kiln data add FILE...` and `kiln data status [FILE...]`:
 * DVC-like tracking of data files with FILE.kiln pointers and the blob
 * store. Thin: argv and environment to a blob_config, then store/track.h.
 * The `data` command's sub-command table (src/cli/data.c) dispatches here.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "store/blob.h"
#include "store/track.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DATA_MAX_JOBS 16

const char cmd_data_add_usage[] =
	"usage: kiln data add [--blobs URL] [--link copy|hardlink] [--jobs N] FILE...\n"
	"\n"
	"Tracks data files the way DVC does: stores each FILE's bytes in the blob\n"
	"store under their sha256, writes a small pointer FILE.kiln (sha256, size,\n"
	"name) to commit to git instead, and adds /FILE to the .gitignore next to it.\n"
	"  --blobs URL   the blob store: a directory, file:PATH or s3://BUCKET/PREFIX\n"
	"                (default: $KILN_BLOBS, else $KILN_HOME/blobs, KILN_HOME\n"
	"                defaulting to ~/.kiln). S3 takes AWS_ENDPOINT_URL, AWS_REGION,\n"
	"                AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.\n"
	"  --link MODE   copy (default; a reflink where the filesystem can) or\n"
	"                hardlink: no copy, FILE becomes the stored blob and is made\n"
	"                read-only (do not edit it in place; see docs/store.md)\n"
	"  --jobs N      files stored at once (default: one per core)\n";

const char cmd_data_status_usage[] =
	"usage: kiln data status [--blobs URL] [FILE|FILE.kiln...]\n"
	"\n"
	"Compares tracked files with their pointers, one line each: ok, modified,\n"
	"missing (the file is gone) or not stored (the blob store lacks its bytes).\n"
	"Without arguments, every *.kiln pointer under the current directory.\n"
	"Exit 0 when all are ok, 1 when any is not (or on an error).\n"
	"  --blobs URL   the blob store, as for kiln data add\n";

/* The local store of `kiln data` (cli_blob_config), synced once per command. */
static int blob_config_from_env(struct blob_config *cfg, const char *flag, struct buf *home,
				struct err *err)
{
	if (cli_blob_config(cfg, flag, home, err) < 0)
		return -1;
	cfg->defer_sync = 1; /* one sync per command, not two per file */
	return 0;
}

/* The flags of data add and data status (status takes only --blobs). */
struct data_flags {
	const char *blobs;
	int link;      /* enum blob_track_link */
	unsigned jobs; /* 0: one per core */
};

/* Parses --link and --jobs; -1 after printing a usage error. */
static int parse_add_flag(int c, const char *arg, struct data_flags *f)
{
	char *end = NULL;
	unsigned long v;
	if (c == 'l') {
		if (strcmp(arg, "copy") == 0 || strcmp(arg, "hardlink") == 0) {
			f->link = arg[0] == 'h' ? BLOB_TRACK_HARDLINK : BLOB_TRACK_COPY;
			return 0;
		}
		cli_usage_error("data add", "--link: '%s' is not copy or hardlink", arg);
		return -1;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || !*arg || *end || v < 1 || v > DATA_MAX_JOBS) {
		cli_usage_error("data add", "--jobs: '%s' is not a number from 1 to %d", arg,
				DATA_MAX_JOBS);
		return -1;
	}
	f->jobs = (unsigned)v;
	return 0;
}

/*
 * Parses the flags; returns the index of the first operand, 0 when help
 * was asked for and printed, or -1 (usage error printed).
 */
static int parse_flags(const char *cmd, int argc, char **argv, struct data_flags *f)
{
	static const struct option opts[] = {
		{"blobs", required_argument, NULL, 'b'},
		{"link", required_argument, NULL, 'l'},
		{"jobs", required_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int c, add = strcmp(cmd, "data add") == 0;
	if (cli_wants_help(argc, argv)) {
		fputs(add ? cmd_data_add_usage : cmd_data_status_usage, stdout);
		return 0;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'b') {
			f->blobs = optarg;
			continue;
		}
		if (add && (c == 'l' || c == 'j')) {
			if (parse_add_flag(c, optarg, f) < 0)
				return -1;
			continue;
		}
		cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		return -1;
	}
	return optind;
}

/* One store per job: a blob store is one thread's (blob.h). */
static int open_stores(const struct blob_config *cfg, unsigned jobs, struct blob_store **bs,
		       size_t *n, struct err *err)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (jobs == 0)
		jobs = cores < 1 ? 1 : cores > DATA_MAX_JOBS ? DATA_MAX_JOBS : (unsigned)cores;
	for (*n = 0; *n < jobs; (*n)++)
		if (blob_open(&bs[*n], cfg, err) < 0)
			return -1;
	return 0;
}

int cmd_data_add(int argc, char **argv)
{
	struct blob_config cfg;
	struct blob_store *bs[DATA_MAX_JOBS] = {NULL};
	struct blob_track_opts o = {bs, 0, BLOB_TRACK_COPY};
	struct data_flags f = {NULL, BLOB_TRACK_COPY, 0};
	struct buf home = BUF_INIT;
	struct err err = ERR_INIT;
	size_t done = 0, i;
	int first, rc = EXIT_FAILED;
	first = parse_flags("data add", argc, argv, &f);
	if (first <= 0)
		return first < 0 ? EXIT_USAGE : EXIT_OK;
	if (first >= argc)
		return cli_usage_error("data add", "missing FILE");
	o.link = f.link;
	if (blob_config_from_env(&cfg, f.blobs, &home, &err) < 0 ||
	    open_stores(&cfg, f.jobs, bs, &o.nstores, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	if (blob_track_add_opts(&o, (const char *const *)argv + first, (size_t)(argc - first),
				&done, &err) < 0) {
		rc = cli_fail(&err);
		if (done)
			fprintf(stderr, "kiln: %zu of %d files were added before the error\n", done,
				argc - first);
		goto out;
	}
	fprintf(stderr, "kiln: added %zu file%s to the %s blob store\n", done, done == 1 ? "" : "s",
		blob_backend(bs[0]));
	rc = EXIT_OK;
out:
	for (i = 0; i < DATA_MAX_JOBS; i++)
		blob_close(bs[i]);
	buf_release(&home);
	return rc;
}

/* Status of one pointer file: prints its line; returns 1 when not ok, -1 on error. */
static int status_one(struct blob_store *bs, const char *pointer, struct err *err)
{
	char *data = NULL;
	int state = 0;
	if (blob_track_status(bs, pointer, &state, &data, err) < 0)
		return -1;
	printf("%-11s %s\n", blob_track_state_name(state),
	       strncmp(data, "./", 2) == 0 ? data + 2 : data);
	mem_free(data);
	return state != BLOB_TRACK_OK;
}

int cmd_data_status(int argc, char **argv)
{
	struct blob_config cfg;
	struct blob_store *bs = NULL;
	struct cli_paths ptrs = {NULL, 0};
	struct buf home = BUF_INIT;
	struct err err = ERR_INIT;
	struct data_flags f = {NULL, BLOB_TRACK_COPY, 0};
	int first, rc = EXIT_FAILED, dirty = 0;
	first = parse_flags("data status", argc, argv, &f);
	if (first <= 0)
		return first < 0 ? EXIT_USAGE : EXIT_OK;
	if (blob_config_from_env(&cfg, f.blobs, &home, &err) < 0 ||
	    blob_open(&bs, &cfg, &err) < 0 ||
	    cli_pointer_paths(argv + first, (size_t)(argc - first), &ptrs, &err) < 0) {
		rc = cli_fail(&err);
		goto out;
	}
	for (size_t i = 0; i < ptrs.n; i++) {
		int s = status_one(bs, ptrs.v[i], &err);
		if (s < 0) {
			rc = cli_fail(&err);
			goto out;
		}
		dirty |= s;
	}
	rc = dirty ? EXIT_FAILED : EXIT_OK;
out:
	cli_paths_release(&ptrs);
	blob_close(bs);
	buf_release(&home);
	return rc;
}
