/*
 * data_remote.c - `kiln data push` and `kiln data pull` (DVC's push/pull):
 * move the blobs of tracked files between the local store (the one `kiln
 * data add` writes) and a remote (kiln server, S3 or a directory). Thin:
 * argv and environment to two blob stores, then store/blob.h and track.h.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "store/blob.h"
#include "store/track.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_data_push_usage[] =
	"usage: kiln data push [--remote URL] [--blobs URL] [--json] [PATH...]\n"
	"\n"
	"Uploads the blobs of tracked files that the remote lacks (DVC's push):\n"
	"from the tracked file itself when it still matches its pointer, else from\n"
	"the local blob store. PATHs are pointer files (FILE.kiln), tracked files or\n"
	"directories (every pointer under them, skipping .git); default: the\n"
	"current directory. Prints \"N pushed, M already on the remote\".\n"
	"  --remote URL   http(s)://HOST:PORT (a kiln server; token from $KILN_TOKEN\n"
	"                 or $KILN_TOKEN_FILE), s3://BUCKET/PREFIX (AWS_* variables)\n"
	"                 or a directory; default $KILN_REMOTE, else $KILN_SERVER\n"
	"  --blobs URL    the local store (default $KILN_BLOBS, else $KILN_HOME/blobs)\n"
	"  --json         the summary and each file's action as JSON\n";

const char cmd_data_pull_usage[] =
	"usage: kiln data pull [--remote URL] [--blobs URL] [--force] [--json] [PATH...]\n"
	"\n"
	"Fetches the blobs of tracked files that the local store lacks (verified\n"
	"against their sha256), then writes each tracked file (atomically) when it\n"
	"is missing. A file that differs from its pointer is kept, named, and the\n"
	"exit status is 1, unless --force replaces it. PATHs as for push.\n"
	"Prints \"N fetched, M already local, K files written\".\n"
	"  --remote URL   as for kiln data push\n"
	"  --blobs URL    the local store, as for kiln data add\n"
	"  --force        overwrite tracked files that differ from their pointers\n"
	"  --json         the summary and each file's action as JSON\n";

struct opts {
	const char *remote, *blobs;
	int force, json, first;
};

/* What one command did, for the summary. */
struct tally {
	size_t moved, already, written, kept;
	json_t *files;
};

struct ctx {
	struct blob_store *local, *remote;
	struct tally t;
	int force;
};

/* Parses the options; returns 1 to go on, 0 (help printed) or -1 (usage error printed). */
static int parse(const char *cmd, int argc, char **argv, struct opts *o)
{
	static const struct option opts[] = {
		{"remote", required_argument, NULL, 'r'},
		{"blobs", required_argument, NULL, 'b'},
		{"force", no_argument, NULL, 'f'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int c, pull = strcmp(cmd, "data pull") == 0;
	if (cli_wants_help(argc, argv)) {
		fputs(pull ? cmd_data_pull_usage : cmd_data_push_usage, stdout);
		return 0;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->remote = optarg;
			break;
		case 'b':
			o->blobs = optarg;
			break;
		case 'f':
			if (!pull)
				goto bad;
			o->force = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		default:
			goto bad;
		}
	}
	o->first = optind;
	return 1;
bad:
	cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
	return -1;
}

/* Reads and parses a pointer; *data gets the tracked file's path. */
static int read_pointer(const char *ptr_path, struct blob_pointer *p, struct buf *data,
			struct err *err)
{
	struct buf text = BUF_INIT;
	const char *slash = strrchr(ptr_path, '/');
	int ret = -1;
	if (buf_read_file(&text, ptr_path, BLOB_POINTER_MAX) < 0) {
		err_set(err, ERR_IO, "cannot read '%s': %s", ptr_path,
			errno == E2BIG ? "too large for a pointer file" : strerror(errno));
		goto out;
	}
	if (blob_pointer_parse(text.ptr, text.len, ptr_path, p, err) < 0)
		goto out;
	buf_reset(data);
	if ((slash && buf_add(data, ptr_path, (size_t)(slash - ptr_path) + 1) < 0) ||
	    buf_adds(data, p->path) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = 0;
out:
	buf_release(&text);
	return ret;
}

/* A file name in the temporary directory, for a blob on its way between stores. */
static int temp_path(struct buf *out, struct err *err)
{
	const char *dir = getenv("TMPDIR");
	int fd;
	buf_reset(out);
	if (buf_addf(out, "%s/kiln-data.XXXXXX", dir && *dir ? dir : "/tmp") < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	fd = mkstemp(out->ptr);
	if (fd < 0)
		return err_set(err, ERR_IO, "cannot create a file in '%s': %s",
			       dir && *dir ? dir : "/tmp", strerror(errno));
	close(fd);
	return 0;
}

/* Stores a tracked file's bytes; a file that changed meanwhile is an error. */
static int put_tracked(struct blob_store *to, const char *path, const char *want, struct err *err)
{
	char got[HASH_SHA256_HEX];
	if (blob_put_file(to, path, got, NULL, err) < 0)
		return -1;
	if (strcmp(got, want) != 0)
		return err_set(err, ERR_CHECKSUM, "'%s' changed while it was being stored", path);
	return 0;
}

/* Copies blob sha from one store to another through a temporary file. */
static int copy_blob(struct blob_store *from, struct blob_store *to, const char *sha,
		     struct err *err)
{
	struct buf tmp = BUF_INIT;
	int ret = -1;
	if (temp_path(&tmp, err) < 0)
		goto out;
	if (blob_get_file(from, sha, tmp.ptr, err) < 0 || put_tracked(to, tmp.ptr, sha, err) < 0)
		goto out;
	ret = 0;
out:
	if (tmp.len)
		(void)unlink(tmp.ptr); /* gone already when the get failed */
	buf_release(&tmp);
	return ret;
}

static int note(struct tally *t, const char *path, const char *sha, const char *action,
		struct err *err)
{
	if (!t->files)
		return 0;
	if (json_array_append_new(t->files, json_pack("{s:s,s:s,s:s}", "path", path, "sha256", sha,
						      "action", action)) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

static int push_one(struct ctx *c, const char *ptr_path, struct err *err)
{
	struct blob_pointer p = {{0}, 0, NULL};
	struct buf data = BUF_INIT;
	uint64_t size = 0;
	int exists = 0, state = 0, ret = -1;
	if (read_pointer(ptr_path, &p, &data, err) < 0 ||
	    blob_stat(c->remote, p.sha256, &exists, &size, err) < 0)
		goto out;
	if (exists && size == p.size) {
		c->t.already++;
		ret = note(&c->t, data.ptr, p.sha256, "already", err);
		goto out;
	}
	if (blob_track_status(c->local, ptr_path, &state, NULL, err) < 0)
		goto out;
	if (state == BLOB_TRACK_OK || state == BLOB_TRACK_NOT_STORED) {
		if (put_tracked(c->remote, data.ptr, p.sha256, err) < 0)
			goto out;
	} else {
		if (blob_stat(c->local, p.sha256, &exists, NULL, err) < 0)
			goto out;
		if (!exists) {
			err_set(err, ERR_NOTFOUND,
				"cannot push '%s': the file is %s and the local store lacks blob "
				"%s",
				data.ptr, blob_track_state_name(state), p.sha256);
			goto out;
		}
		if (copy_blob(c->local, c->remote, p.sha256, err) < 0)
			goto out;
	}
	c->t.moved++;
	ret = note(&c->t, data.ptr, p.sha256, "pushed", err);
out:
	blob_pointer_release(&p);
	buf_release(&data);
	return ret;
}

/* Pull when the local store lacks the blob: fetch it (straight into the file when allowed). */
static int pull_fetch(struct ctx *c, const char *data, const char *sha, int write_file,
		      struct err *err)
{
	if (!write_file)
		return copy_blob(c->remote, c->local, sha, err);
	/* Verified and renamed into place; then the local store gets a copy. */
	if (blob_get_file(c->remote, sha, data, err) < 0)
		return -1;
	return put_tracked(c->local, data, sha, err);
}

static int pull_one(struct ctx *c, const char *ptr_path, struct err *err)
{
	struct blob_pointer p = {{0}, 0, NULL};
	struct buf data = BUF_INIT;
	const char *action = "already";
	int exists = 0, state = 0, write_file, ret = -1;
	if (read_pointer(ptr_path, &p, &data, err) < 0 ||
	    blob_track_status(c->local, ptr_path, &state, NULL, err) < 0)
		goto out;
	if (state == BLOB_TRACK_NOT_STORED) {
		/* The file is right; only the local store lacks it: no download needed. */
		if (put_tracked(c->local, data.ptr, p.sha256, err) < 0)
			goto out;
	}
	if (state == BLOB_TRACK_OK || state == BLOB_TRACK_NOT_STORED) {
		c->t.already++;
		ret = note(&c->t, data.ptr, p.sha256, action, err);
		goto out;
	}
	write_file = state == BLOB_TRACK_MISSING || c->force;
	if (blob_stat(c->local, p.sha256, &exists, NULL, err) < 0)
		goto out;
	if (!exists) {
		if (pull_fetch(c, data.ptr, p.sha256, write_file, err) < 0)
			goto out;
		c->t.moved++;
		action = "fetched";
	} else {
		c->t.already++;
		if (write_file && blob_get_file(c->local, p.sha256, data.ptr, err) < 0)
			goto out;
	}
	if (write_file) {
		c->t.written++;
	} else {
		c->t.kept++;
		action = "kept";
		fprintf(stderr,
			"kiln: '%s' differs from its pointer: kept (kiln data pull --force "
			"replaces it)\n",
			data.ptr);
	}
	ret = note(&c->t, data.ptr, p.sha256, action, err);
out:
	blob_pointer_release(&p);
	buf_release(&data);
	return ret;
}

static int summary(const struct ctx *c, int pull, int json, const char *remote)
{
	const struct tally *t = &c->t;
	if (json) {
		json_t *j =
			pull ? json_pack("{s:s,s:I,s:I,s:I,s:I,s:O}", "remote", remote, "fetched",
					 (json_int_t)t->moved, "already", (json_int_t)t->already,
					 "written", (json_int_t)t->written, "kept",
					 (json_int_t)t->kept, "files", t->files)
			     : json_pack("{s:s,s:I,s:I,s:O}", "remote", remote, "pushed",
					 (json_int_t)t->moved, "already", (json_int_t)t->already,
					 "files", t->files);
		if (!j || json_dumpf(j, stdout, JSON_INDENT(2)) < 0) {
			json_decref(j);
			return -1;
		}
		putchar('\n');
		json_decref(j);
		return 0;
	}
	if (pull)
		printf("%zu fetched, %zu already local, %zu file%s written%s\n", t->moved,
		       t->already, t->written, t->written == 1 ? "" : "s",
		       t->kept ? ", modified files kept" : "");
	else
		printf("%zu pushed, %zu already on the remote\n", t->moved, t->already);
	return 0;
}

/* push and pull: open both stores, run one function per pointer, print the summary. */
static int run(const char *cmd, int argc, char **argv,
	       int (*one)(struct ctx *, const char *, struct err *))
{
	struct opts o = {0};
	struct ctx c = {0};
	struct blob_config lcfg, rcfg;
	struct buf lhome = BUF_INIT, rhome = BUF_INIT, tok = BUF_INIT;
	struct cli_paths paths = {NULL, 0};
	struct err err = ERR_INIT;
	int rc = parse(cmd, argc, argv, &o), pull = one == pull_one;
	if (rc <= 0)
		return rc < 0 ? EXIT_USAGE : EXIT_OK;
	c.force = o.force;
	if (o.json && !(c.t.files = json_array())) {
		err_set(&err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (cli_remote_config(&rcfg, o.remote, &rhome, &tok, &err) < 0) {
		if (err.code == ERR_USAGE)
			rc = cli_usage_error(cmd, "%s", err.msg);
		else
			rc = cli_fail(&err);
		goto out;
	}
	if (cli_blob_config(&lcfg, o.blobs, &lhome, &err) < 0 ||
	    cli_pointer_paths(argv + o.first, (size_t)(argc - o.first), &paths, &err) < 0 ||
	    blob_open(&c.local, &lcfg, &err) < 0 || blob_open(&c.remote, &rcfg, &err) < 0)
		goto fail;
	for (size_t i = 0; i < paths.n; i++)
		if (one(&c, paths.v[i], &err) < 0)
			goto fail;
	if (summary(&c, pull, o.json, rcfg.url) < 0) {
		err_set(&err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	rc = c.t.kept ? EXIT_FAILED : EXIT_OK;
	goto out;
fail:
	rc = cli_fail(&err);
	if (c.t.moved)
		fprintf(stderr, "kiln: %zu blob%s %s before the error\n", c.t.moved,
			c.t.moved == 1 ? " was" : "s were", pull ? "fetched" : "pushed");
out:
	json_decref(c.t.files);
	cli_paths_release(&paths);
	blob_close(c.local);
	blob_close(c.remote);
	buf_release(&lhome);
	buf_release(&rhome);
	buf_release(&tok);
	return rc;
}

int cmd_data_push(int argc, char **argv)
{
	return run("data push", argc, argv, push_one);
}

int cmd_data_pull(int argc, char **argv)
{
	return run("data pull", argc, argv, pull_one);
}
