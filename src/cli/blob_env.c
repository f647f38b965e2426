/*
 * blob_env.c - the environment side of blob stores for the CLI: the local
 * store `kiln data` uses, a remote (kiln server, S3, a directory) with its
 * credentials, and the list of pointer files a data command works on.
 * Shared by `kiln data push|pull` and `kiln serve NAME@ALIAS`.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "store/blob.h"
#include "store/track.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cli_blob_config(struct blob_config *cfg, const char *url, struct buf *home, struct err *err)
{
	const char *env = getenv("KILN_HOME"), *h = getenv("HOME");
	memset(cfg, 0, sizeof(*cfg));
	cfg->url = url ? url : getenv("KILN_BLOBS");
	if (env && *env) {
		if (buf_adds(home, env) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
	} else if (h && *h) {
		if (buf_addf(home, "%s/.kiln", h) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
	}
	cfg->home = home->len ? home->ptr : NULL;
	cfg->s3_endpoint = getenv("AWS_ENDPOINT_URL");
	cfg->s3_region = getenv("AWS_REGION") ? getenv("AWS_REGION") : getenv("AWS_DEFAULT_REGION");
	cfg->s3_access_key = getenv("AWS_ACCESS_KEY_ID");
	cfg->s3_secret_key = getenv("AWS_SECRET_ACCESS_KEY");
	cfg->s3_session_token = getenv("AWS_SESSION_TOKEN");
	return 0;
}

int cli_remote_config(struct blob_config *cfg, const char *flag, struct buf *home, struct buf *tok,
		      struct err *err)
{
	const char *url = flag;
	if (!url || !*url)
		url = getenv("KILN_REMOTE");
	if (!url || !*url)
		url = getenv("KILN_SERVER");
	if (!url || !*url)
		return err_set(err, ERR_USAGE,
			       "no remote: pass --remote URL or set KILN_REMOTE or KILN_SERVER");
	if (cli_blob_config(cfg, url, home, err) < 0)
		return -1;
	if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) {
		if (cli_token(tok, err) < 0)
			return -1;
		cfg->token = tok->len ? tok->ptr : NULL;
	}
	return 0;
}

void cli_paths_release(struct cli_paths *p)
{
	for (size_t i = 0; i < p->n; i++)
		mem_free(p->v[i]);
	mem_free(p->v);
	p->v = NULL;
	p->n = 0;
}

static int paths_push(struct cli_paths *p, const char *path, struct err *err)
{
	char **v = mem_reallocarray(p->v, p->n + 1, sizeof(*v));
	if (!v)
		return err_set(err, ERR_NOMEM, "out of memory");
	p->v = v;
	v[p->n] = mem_strdup(strncmp(path, "./", 2) == 0 && path[2] ? path + 2 : path);
	if (!v[p->n])
		return err_set(err, ERR_NOMEM, "out of memory");
	p->n++;
	return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Collects the *.kiln files under dir, recursively; skips .git. */
static int walk(const char *dir, struct cli_paths *p, struct err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct buf path = BUF_INIT;
	int ret = -1;
	if (!d)
		return err_set(err, ERR_IO, "cannot list '%s': %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, ".git") == 0)
			continue;
		buf_reset(&path);
		if (buf_addf(&path, "%s/%s", dir, e->d_name) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		if (lstat(path.ptr, &st) < 0)
			continue; /* gone since readdir */
		if (S_ISDIR(st.st_mode)) {
			if (walk(path.ptr, p, err) < 0)
				goto out;
		} else if (S_ISREG(st.st_mode) && has_suffix(e->d_name, BLOB_POINTER_SUFFIX) &&
			   paths_push(p, path.ptr, err) < 0) {
			goto out;
		}
	}
	ret = 0;
out:
	closedir(d);
	buf_release(&path);
	return ret;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One argument: a pointer, a tracked file (FILE.kiln exists) or a directory. */
static int add_arg(const char *arg, struct cli_paths *p, struct err *err)
{
	struct buf ptr = BUF_INIT;
	struct stat st;
	int ret = -1;
	size_t n = strlen(arg);
	while (n > 1 && arg[n - 1] == '/')
		n--;
	if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (buf_add(&ptr, arg, n) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		ret = walk(ptr.ptr, p, err);
		goto out;
	}
	if (buf_adds(&ptr, arg) < 0 ||
	    (!has_suffix(arg, BLOB_POINTER_SUFFIX) && buf_adds(&ptr, BLOB_POINTER_SUFFIX) < 0)) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (stat(ptr.ptr, &st) < 0 || !S_ISREG(st.st_mode)) {
		err_set(err, ERR_NOTFOUND, "'%s' is not tracked: no pointer file '%s'", arg,
			ptr.ptr);
		goto out;
	}
	ret = paths_push(p, ptr.ptr, err);
out:
	buf_release(&ptr);
	return ret;
}

int cli_pointer_paths(char *const *args, size_t n, struct cli_paths *out, struct err *err)
{
	out->v = NULL;
	out->n = 0;
	if (n == 0 && walk(".", out, err) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (add_arg(args[i], out, err) < 0)
			goto fail;
	if (out->n) {
		size_t k = 1;
		qsort(out->v, out->n, sizeof(*out->v), cmp_path);
		for (size_t i = 1; i < out->n; i++) {
			if (strcmp(out->v[i], out->v[k - 1]) == 0)
				mem_free(out->v[i]);
			else
				out->v[k++] = out->v[i];
		}
		out->n = k;
	}
	return 0;
fail:
	cli_paths_release(out);
	return -1;
}
