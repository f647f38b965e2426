/*
 * follow.c - `kiln serve NAME@ALIAS`: resolve the alias on a kiln server,
 * keep its bundles in a cache by sha256, and a thread that polls the alias
 * (If-None-Match) and hot-swaps through srv_load when it moves. A failed
 * poll, download or load keeps the model being served.
 */
#include "serve/internal.h"

#include "base/hash.h"
#include "base/log.h"
#include "base/mem.h"
#include "ctl/client.h"
#include "store/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FOLLOW_TIMEOUT_MS 10000L
/*
 * The cache keeps the CACHE_KEEP bundles used last (the one being served,
 * and the likely rollback targets) and any bundle used in the last
 * CACHE_GRACE_S seconds: another kiln serve sharing the cache may be
 * between verifying a file and loading it.
 */
#define CACHE_KEEP    5
#define CACHE_GRACE_S 600

struct srv_follow {
	struct ctl_client *client; /* used by one thread at a time: srv_start, then the follower */
	struct blob_store *bs;
	char etag[160];	    /* of the version being served */
	char bad_etag[160]; /* of a version whose bundle did not load: not tried again */
	char version[24];
	char *path; /* the cached bundle of the last download */
	int unreachable;
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop, kick;
};

/* mkdir -p */
static int make_dirs(const char *dir, struct err *err)
{
	char *p = mem_strdup(dir), *q;
	int ret = -1;
	if (!p)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (q = p + 1;; q++) {
		if (*q != '/' && *q)
			continue;
		char c = *q;
		*q = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			err_set(err, ERR_IO, "cannot create directory '%s': %s", p,
				strerror(errno));
			goto out;
		}
		if (!(*q = c))
			break;
	}
	ret = 0;
out:
	mem_free(p);
	return ret;
}

struct cached {
	char name[HASH_SHA256_HEX + 6]; /* <sha256>.kiln */
	time_t mtime;
};

static int newest_first(const void *a, const void *b)
{
	const struct cached *x = a, *y = b;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* <64 lowercase hex>.kiln: the only names the cache removes. */
static int cache_name(const char *n)
{
	size_t len = strlen(n);
	char sha[HASH_SHA256_HEX];
	if (len != HASH_SHA256_HEX - 1 + 5 || strcmp(n + len - 5, ".kiln") != 0)
		return 0;
	memcpy(sha, n, HASH_SHA256_HEX - 1);
	sha[HASH_SHA256_HEX - 1] = '\0';
	return blob_key_ok(sha);
}

/*
 * Removes cached bundles beyond the CACHE_KEEP used last (by mtime: a use
 * touches the file) that were not used in the last CACHE_GRACE_S seconds.
 * Best effort: a failure costs disk space, and is logged.
 */
static void prune_cache(const char *dir)
{
	DIR *d = opendir(dir);
	struct cached *all = NULL, *tmp;
	size_t n = 0, cap = 0, i;
	time_t now = time(NULL);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat st;
		if (!cache_name(e->d_name) || fstatat(dirfd(d), e->d_name, &st, 0) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			tmp = mem_reallocarray(all, cap, sizeof(*all));
			if (!tmp)
				goto out;
			all = tmp;
		}
		snprintf(all[n].name, sizeof(all[n].name), "%s", e->d_name);
		all[n++].mtime = st.st_mtime;
	}
	if (n <= CACHE_KEEP)
		goto out; /* also: all is NULL when n is 0 */
	qsort(all, n, sizeof(*all), newest_first);
	for (i = CACHE_KEEP; i < n; i++) {
		if (now - all[i].mtime < CACHE_GRACE_S)
			continue;
		if (unlinkat(dirfd(d), all[i].name, 0) == 0)
			log_info("serve: removed cached bundle %.12s (not used since %lld)",
				 all[i].name, (long long)all[i].mtime);
		else if (errno != ENOENT)
			log_warn("serve: cannot remove '%s/%s': %s", dir, all[i].name,
				 strerror(errno));
	}
out:
	mem_free(all);
	closedir(d);
}

/* The bundle of sha in the cache: reused when its bytes verify, else downloaded. */
static int fetch(struct srv *s, const char *sha, struct err *err)
{
	struct srv_follow *f = s->follow;
	struct buf path = BUF_INIT;
	char have[HASH_SHA256_HEX];
	struct stat st;
	int ret = -1;
	if (buf_addf(&path, "%s/%s.kiln", s->cfg.cache_dir, sha) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (stat(path.ptr, &st) == 0) {
		struct err herr = ERR_INIT;
		if (hash_sha256_file(path.ptr, have, &herr) == 0 && strcmp(have, sha) == 0) {
			log_info("serve: bundle %.12s from the cache", sha);
			/* Used now: the pruning keeps it. */
			(void)utimensat(AT_FDCWD, path.ptr, NULL, 0);
			goto done;
		}
		log_warn("serve: cached bundle '%s' does not verify: downloading it again",
			 path.ptr);
	}
	if (make_dirs(s->cfg.cache_dir, err) < 0 || blob_get_file(f->bs, sha, path.ptr, err) < 0)
		goto out;
	log_info("serve: downloaded bundle %.12s", sha);
done:
	prune_cache(s->cfg.cache_dir);
	mem_free(f->path);
	f->path = buf_take(&path, NULL);
	if (!f->path) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	ret = 0;
out:
	buf_release(&path);
	return ret;
}

/* Downloads the bundle of ref; sets f->version. */
static int fetch_ref(struct srv *s, const struct ctl_client_ref *ref, struct err *err)
{
	if (!ref->sha256[0])
		return err_set(err, ERR_INVALID, "version %" PRId64 " of model '%s' has no bundle",
			       ref->version, s->cfg.ref_name);
	if (fetch(s, ref->sha256, err) < 0)
		return -1;
	snprintf(s->follow->version, sizeof(s->follow->version), "%" PRId64, ref->version);
	return 0;
}

int srv__follow_open(struct srv *s, const char **path, const char **version, struct err *err)
{
	struct ctl_client_config ccfg = {0};
	struct blob_config bcfg = {0};
	struct ctl_client_ref ref = {0};
	struct srv_follow *f = mem_calloc(1, sizeof(*f));
	int ret = -1;
	if (!f)
		return err_set(err, ERR_NOMEM, "out of memory");
	s->follow = f;
	pthread_mutex_init(&f->lock, NULL);
	{
		pthread_condattr_t a;
		pthread_condattr_init(&a);
		pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
		pthread_cond_init(&f->cond, &a);
		pthread_condattr_destroy(&a);
	}
	ccfg.url = s->cfg.registry_url;
	ccfg.token = s->cfg.registry_token;
	ccfg.timeout_ms = FOLLOW_TIMEOUT_MS;
	bcfg.url = s->cfg.registry_url;
	bcfg.token = s->cfg.registry_token;
	if (!(f->client = ctl_client_new(&ccfg, err)) || blob_open(&f->bs, &bcfg, err) < 0)
		goto out;
	if (ctl_client_resolve(f->client, s->cfg.ref_name, s->cfg.ref_alias, NULL, &ref, err) < 0 ||
	    fetch_ref(s, &ref, err) < 0)
		goto out;
	snprintf(f->etag, sizeof(f->etag), "%s", ref.etag);
	*path = f->path;
	*version = f->version;
	ret = 0;
out:
	ctl_client_ref_release(&ref);
	return ret;
}

/* One poll: resolve with If-None-Match; when the alias moved, fetch and swap. */
static void poll_once(struct srv *s)
{
	struct srv_follow *f = s->follow;
	struct ctl_client_ref ref = {0};
	struct err err = ERR_INIT;
	const char *name = s->cfg.ref_name, *alias = s->cfg.ref_alias;
	int rc = ctl_client_resolve(f->client, name, alias, f->etag, &ref, &err);
	if (rc < 0) {
		atomic_fetch_add(&s->registry_errors, 1);
		if (!f->unreachable)
			log_error("serve: registry: %s; still serving %s@%s version %s, retrying",
				  err.msg, name, alias, f->version);
		f->unreachable = 1;
		return;
	}
	if (f->unreachable)
		log_warn("serve: registry: reachable again");
	f->unreachable = 0;
	if (rc == 1 || strcmp(ref.etag, f->bad_etag) == 0)
		goto out;
	log_info("serve: %s@%s moved to version %" PRId64, name, alias, ref.version);
	if (fetch_ref(s, &ref, &err) < 0) {
		/* A download may work next time: the etag is not marked bad. */
		atomic_fetch_add(&s->registry_errors, 1);
		log_error("serve: cannot fetch %s@%s version %" PRId64 ": %s; keeping the model",
			  name, alias, ref.version, err.msg);
		goto out;
	}
	if (srv_load(s, f->path, s->cfg.name, f->version, &err) < 0) {
		/* Logged and counted by srv_load; this bundle will not load next time either. */
		snprintf(f->bad_etag, sizeof(f->bad_etag), "%s", ref.etag);
		goto out;
	}
	snprintf(f->etag, sizeof(f->etag), "%s", ref.etag);
	f->bad_etag[0] = '\0';
out:
	ctl_client_ref_release(&ref);
}

static void *follow_main(void *arg)
{
	struct srv *s = arg;
	struct srv_follow *f = s->follow;
	pthread_mutex_lock(&f->lock);
	while (!f->stop) {
		if (!f->kick) {
			struct timespec t;
			clock_gettime(CLOCK_MONOTONIC, &t);
			t.tv_sec += s->cfg.poll_ms / 1000;
			t.tv_nsec += (s->cfg.poll_ms % 1000) * 1000000L;
			if (t.tv_nsec >= 1000000000L) {
				t.tv_sec++;
				t.tv_nsec -= 1000000000L;
			}
			while (!f->stop && !f->kick &&
			       pthread_cond_timedwait(&f->cond, &f->lock, &t) == 0)
				;
		}
		if (f->stop)
			break;
		f->kick = 0;
		pthread_mutex_unlock(&f->lock);
		poll_once(s);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int srv__follow_start(struct srv *s, struct err *err)
{
	struct srv_follow *f = s->follow;
	int rc = pthread_create(&f->thread, NULL, follow_main, s);
	if (rc != 0)
		return err_set(err, ERR_IO, "cannot start the registry thread: %s", strerror(rc));
	f->started = 1;
	log_info("serve: following %s@%s on %s every %ld ms", s->cfg.ref_name, s->cfg.ref_alias,
		 s->cfg.registry_url, s->cfg.poll_ms);
	return 0;
}

static void wake(struct srv_follow *f, int stop)
{
	pthread_mutex_lock(&f->lock);
	if (stop)
		f->stop = 1;
	else
		f->kick = 1;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

void srv__follow_kick(struct srv *s)
{
	if (s->follow)
		wake(s->follow, 0);
}

void srv__follow_stop(struct srv *s)
{
	struct srv_follow *f = s->follow;
	if (!f || !f->started)
		return;
	wake(f, 1);
	pthread_join(f->thread, NULL);
	f->started = 0;
}

void srv__follow_free(struct srv *s)
{
	struct srv_follow *f = s->follow;
	if (!f)
		return;
	srv__follow_stop(s);
	ctl_client_free(f->client);
	blob_close(f->bs);
	mem_free(f->path);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	mem_free(f);
	s->follow = NULL;
}
