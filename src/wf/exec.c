/*
 * exec.c - run a validated workflow on this machine: a scheduler that starts
 * each job as soon as its own needs are done (up to --jobs at once), one
 * thread per running job instance, and each step spawned directly (no
 * wrapper shell) in its own process group with its output prefixed, masked
 * and scanned for workflow commands. Not for parsing: see parse.c.
 */
#include "wf/internal.h"

#include "base/hash.h"
#include "base/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <glob.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { JOB_PENDING, JOB_RUNNING, JOB_DONE };

struct run;
struct jobst;

/* One job instance: a matrix combination, run by its own thread. */
struct inst {
	struct run *run;
	struct jobst *js;
	json_t *ctx; /* contexts prepared by the scheduler; owned by the thread */
	char *display;
	int index;
	pthread_t th;
	int started, done, joined;
	int result;
	int cancel; /* set under the run lock */
	pid_t pgid; /* running step's process group, 0 when none; run lock */
	json_t *outputs;
	double secs;
	char *ws;		/* the instance's own checkout; NULL: the workspace itself */
	char *group;		/* concurrency group, NULL when none */
	int cip;		/* cancel-in-progress */
	int waiting;		/* pending on its group; run lock */
	unsigned long wait_seq; /* order of becoming pending; run lock */
};

struct jobst {
	const struct wf_job *job;
	int state, result, wanted;
	struct inst *inst;
	size_t n_inst;
	int fail_fast, max_parallel, running, ff_cancel, allow_fail;
	json_t *outputs;
	double secs;
};

struct run {
	const struct wf *wf;
	const struct wf_run_opts *o;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct jobst *jobs;
	int running;
	struct wf__masks masks;
	json_t *github, *inputs, *procenv;
	char tmp[1024];
	char rundir[1024]; /* runs_root/N, or the caller's; "" when not kept */
	FILE *logf;	   /* rundir/log.txt */
	int seq;
	struct {
		char name[64], path[1024];
	} exe[8]; /* shells found on PATH; run lock */
	int n_exe;
	git_repository *repo; /* clone mode: the run's own clone of the user's repository */
	git_object *commit;   /* the event's commit in it */
	git_oid head;	      /* the event's commit */
	int n_ws;
	int n_free;		/* sets of step files pooled in tmp/freeN_ (see step_files_take) */
	unsigned long conc_seq; /* pending instances so far (concurrency) */
	char *wf_group;		/* the workflow's concurrency group, NULL when none */
};

/* State of one job instance while its steps run (thread-local). */
struct jctx {
	const char *ws; /* the job's workspace (GITHUB_WORKSPACE) */
	struct run *run;
	struct inst *in;
	const struct wf_job *job;
	json_t *ctx;	  /* all contexts; ctx.env and ctx.steps change */
	json_t *env;	  /* workflow + job env */
	json_t *gh_env;	  /* from GITHUB_ENV and set-env */
	json_t *path_add; /* from GITHUB_PATH, first is first in PATH */
	json_t *step_out; /* outputs of the running step */
	int status;
	char dir[1100]; /* RUNNER_TEMP */
	char stop_token[128];
	struct buf summary;
	double deadline;
	int debug, timed_out;
	const struct wf_step *cur; /* the step running */
	json_t *cache_saves;	   /* [{key, paths}] saved when the job succeeds */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *wf_status_name(int status)
{
	static const char *const names[] = {"success", "failure", "cancelled", "skipped"};
	return status >= 0 && status <= 3 ? names[status] : "unknown";
}

void wf_results_free(struct wf_result *r, size_t n)
{
	size_t i;
	for (i = 0; r && i < n; i++)
		mem_free(r[i].job);
	mem_free(r);
}

/* ---- output ---- */

static const char *colour_of(int i)
{
	static const char *const c[] = {"\033[36m", "\033[35m", "\033[33m", "\033[32m",
					"\033[34m", "\033[96m", "\033[95m", "\033[93m"};
	return c[i % 8];
}

/* Writes "[job] text" lines, masked. Caller holds the run lock. */
static void emit_locked(struct run *r, struct inst *in, FILE *f, const char *text, size_t len)
{
	struct buf b = BUF_INIT;
	if (in && (r->o->flags & WF_RUN_COLOR))
		(void)buf_addf(&b, "%s[%s]\033[0m ", colour_of((int)(in->js - r->jobs)),
			       in->display);
	else if (in)
		(void)buf_addf(&b, "[%s] ", in->display);
	if (wf__mask_apply(&r->masks, text, len, &b) == 0 && buf_addch(&b, '\n') == 0) {
		(void)fwrite(b.ptr, 1, b.len, f);
		/* live, also on a pipe: CI logs interleave it with kiln's stderr */
		(void)fflush(f);
		if (r->logf) {
			/* the kept log has no colour codes */
			const char *t = b.ptr;
			if (in && (r->o->flags & WF_RUN_COLOR))
				(void)fprintf(r->logf, "[%s] ", in->display);
			if (in && (r->o->flags & WF_RUN_COLOR))
				t = strstr(b.ptr, "\033[0m ") + 5;
			(void)fputs(t, r->logf);
		}
	}
	buf_release(&b);
}

static void say(struct run *r, struct inst *in, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(struct run *r, struct inst *in, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	if (buf_vaddf(&b, fmt, ap) == 0) {
		pthread_mutex_lock(&r->lock);
		emit_locked(r, in, r->o->log, b.ptr, b.len);
		fflush(r->o->log);
		pthread_mutex_unlock(&r->lock);
	}
	va_end(ap);
	buf_release(&b);
}

/* ---- files ---- */

static int write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

static int rm_rf(const char *path)
{
	pid_t pid;
	int st;
	char *argv[] = {(char *)"/bin/rm", (char *)"-rf", (char *)path, NULL};
	char *envp[] = {NULL};
	if (posix_spawn(&pid, "/bin/rm", NULL, NULL, argv, envp) != 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* ---- environment ---- */

static int set_s(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, json_string(v ? v : ""));
}

/* The env array for a step: process env, GITHUB_*, env, PATH additions. */
static char **make_envp(struct jctx *j, json_t *step_env, const char *files)
{
	json_t *e = json_copy(j->run->procenv), *v;
	struct buf path = BUF_INIT;
	const char *k;
	char **envp = NULL;
	size_t n = 0, i;
	char p[1300];

	if (!e)
		return NULL;
	if (json_object_update(e, json_object_get(j->ctx, "_genv")) < 0 ||
	    json_object_update(e, step_env) < 0)
		goto out;
#define FILEVAR(NAME, FILE)                                                                        \
	snprintf(p, sizeof(p), "%s%s", files, FILE);                                               \
	if (set_s(e, NAME, p) < 0)                                                                 \
		goto out;
	FILEVAR("GITHUB_OUTPUT", "output")
	FILEVAR("GITHUB_ENV", "env")
	FILEVAR("GITHUB_PATH", "path")
	FILEVAR("GITHUB_STEP_SUMMARY", "summary")
	FILEVAR("GITHUB_STATE", "state")
#undef FILEVAR
	for (i = 0; i < json_array_size(j->path_add); i++)
		if (buf_adds(&path, json_string_value(json_array_get(j->path_add, i))) < 0 ||
		    buf_addch(&path, ':') < 0)
			goto out;
	if (path.len) {
		v = json_object_get(e, "PATH");
		if (buf_adds(&path, v ? json_string_value(v) : "/usr/bin:/bin") < 0 ||
		    set_s(e, "PATH", path.ptr) < 0)
			goto out;
	}
	envp = mem_calloc(json_object_size(e) + 1, sizeof(*envp));
	if (!envp)
		goto out;
	json_object_foreach(e, k, v)
	{
		struct buf kv = BUF_INIT;
		if (!json_is_string(v) || strchr(k, '='))
			continue;
		if (buf_addf(&kv, "%s=%s", k, json_string_value(v)) < 0) {
			buf_release(&kv);
			goto fail;
		}
		envp[n++] = buf_take(&kv, NULL);
		if (!envp[n - 1])
			goto fail;
	}
	goto out;
fail:
	for (i = 0; i < n; i++)
		mem_free(envp[i]);
	mem_free(envp);
	envp = NULL;
out:
	json_decref(e);
	buf_release(&path);
	return envp;
}

static void free_envp(char **envp)
{
	size_t i;
	for (i = 0; envp && envp[i]; i++)
		mem_free(envp[i]);
	mem_free(envp);
}

/* ---- workflow commands in step output ---- */

static int unsecure_ok(json_t *env)
{
	json_t *v = json_object_get(env, "ACTIONS_ALLOW_UNSECURE_COMMANDS");
	return json_is_string(v) && strcmp(json_string_value(v), "true") == 0;
}

static void handle_line(struct jctx *j, json_t *step_env, const char *line, size_t len)
{
	struct run *r = j->run;
	struct wf__command c;
	const char *name;

	if (j->stop_token[0]) {
		size_t tn = strlen(j->stop_token);
		if (len == tn + 4 && memcmp(line, "::", 2) == 0 &&
		    memcmp(line + 2, j->stop_token, tn) == 0 && memcmp(line + 2 + tn, "::", 2) == 0)
			j->stop_token[0] = '\0';
		goto print;
	}
	if (!wf__command_parse(line, len, &c))
		goto print;
	name = c.name;
	if (strcmp(name, "add-mask") == 0) {
		pthread_mutex_lock(&r->lock);
		(void)wf__mask_add(&r->masks, c.msg.ptr); /* ENOMEM: the value stays visible */
		pthread_mutex_unlock(&r->lock);
		wf__command_release(&c);
		return;
	}
	if (strcmp(name, "set-output") == 0) {
		json_t *n = json_object_get(c.props, "name");
		if (json_is_string(n))
			(void)json_object_set_new(j->step_out, json_string_value(n),
						  json_stringn(c.msg.ptr, c.msg.len));
		wf__command_release(&c);
		return;
	}
	if (strcmp(name, "set-env") == 0 || strcmp(name, "add-path") == 0) {
		if (!unsecure_ok(step_env)) {
			say(r, j->in,
			    "error: the '%s' command is disabled; use the GITHUB_ENV / GITHUB_PATH "
			    "files or set ACTIONS_ALLOW_UNSECURE_COMMANDS=true",
			    name);
		} else if (name[4] == 'e') {
			json_t *n = json_object_get(c.props, "name");
			if (json_is_string(n))
				(void)json_object_set_new(j->gh_env, json_string_value(n),
							  json_stringn(c.msg.ptr, c.msg.len));
		} else {
			(void)json_array_insert_new(j->path_add, 0, json_string(c.msg.ptr));
		}
		wf__command_release(&c);
		return;
	}
	if (strcmp(name, "stop-commands") == 0) {
		snprintf(j->stop_token, sizeof(j->stop_token), "%s", c.msg.ptr);
		wf__command_release(&c);
		return;
	}
	if (strcmp(name, "error") == 0 || strcmp(name, "warning") == 0 ||
	    strcmp(name, "notice") == 0 || strcmp(name, "debug") == 0) {
		json_t *f = json_object_get(c.props, "file"), *l = json_object_get(c.props, "line");
		json_t *col = json_object_get(c.props, "col");
		if (name[0] != 'd' || j->debug)
			say(r, j->in, "%s: %s%s%s%s%s%s%s", name, f ? json_string_value(f) : "",
			    l ? ":" : "", l ? json_string_value(l) : "", col ? ":" : "",
			    col ? json_string_value(col) : "", f ? ": " : "", c.msg.ptr);
		wf__command_release(&c);
		return;
	}
	if (strcmp(name, "group") == 0) {
		say(r, j->in, "> %s", c.msg.ptr);
		wf__command_release(&c);
		return;
	}
	if (strcmp(name, "endgroup") == 0 || strcmp(name, "save-state") == 0 ||
	    strcmp(name, "echo") == 0) {
		wf__command_release(&c);
		return;
	}
	wf__command_release(&c);
print:
	pthread_mutex_lock(&r->lock);
	emit_locked(r, j->in, r->o->out, line, len);
	pthread_mutex_unlock(&r->lock);
}

/* ---- processes ---- */

/*
 * The full path of a shell like "bash", looked up on kiln's PATH once per
 * run: posix_spawnp would try every PATH entry for every step.
 */
static const char *resolve_exe(struct run *r, const char *name, char *out, size_t cap)
{
	json_t *pv = json_object_get(r->procenv, "PATH");
	const char *p = json_is_string(pv) ? json_string_value(pv) : "/usr/bin:/bin";
	int i;

	if (strchr(name, '/') || strlen(name) >= sizeof(r->exe[0].name))
		return name;
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->n_exe; i++) {
		if (strcmp(r->exe[i].name, name) == 0) {
			snprintf(out, cap, "%s", r->exe[i].path);
			pthread_mutex_unlock(&r->lock);
			return out;
		}
	}
	pthread_mutex_unlock(&r->lock);
	while (*p) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n && n + strlen(name) + 2 < cap) {
			snprintf(out, cap, "%.*s/%s", (int)n, p, name);
			if (access(out, X_OK) == 0) {
				pthread_mutex_lock(&r->lock);
				if (r->n_exe < 8 && strlen(out) < sizeof(r->exe[0].path)) {
					snprintf(r->exe[r->n_exe].name, sizeof(r->exe[0].name),
						 "%s", name);
					snprintf(r->exe[r->n_exe].path, sizeof(r->exe[0].path),
						 "%s", out);
					r->n_exe++;
				}
				pthread_mutex_unlock(&r->lock);
				return out;
			}
		}
		p += n;
		if (*p == ':')
			p++;
	}
	return name;
}

static void kill_group(pid_t pgid)
{
	if (pgid > 0)
		(void)kill(-pgid, SIGKILL); /* ESRCH: already gone */
}

/*
 * Spawns argv in its own process group with stdout and stderr on a pipe,
 * handles each output line, and waits. *code is the exit status (128+sig
 * when killed); *why is 1 on a step timeout, 2 on cancel.
 */
static int spawn_step(struct jctx *j, char **argv, char **envp, const char *cwd, double deadline,
		      json_t *step_env, int *code, int *why, struct err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	int fds[2] = {-1, -1}, st = 0, rc = -1;
	pid_t pid = -1;
	struct buf part = BUF_INIT;
	char chunk[8192];
	int fa_ok = 0, at_ok = 0, killed = 0;

	*why = 0;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return err_set(err, ERR_IO, "pipe: %s", strerror(errno));
	if (posix_spawn_file_actions_init(&fa) != 0)
		goto spawn_fail;
	fa_ok = 1;
	if (posix_spawnattr_init(&at) != 0)
		goto spawn_fail;
	at_ok = 1;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	if (posix_spawn_file_actions_adddup2(&fa, fds[1], 1) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, fds[1], 2) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_addchdir_np(&fa, cwd) != 0 ||
	    posix_spawnattr_setpgroup(&at, 0) != 0 || posix_spawnattr_setsigmask(&at, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&at, &def) != 0 ||
	    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						  POSIX_SPAWN_SETSIGDEF) != 0)
		goto spawn_fail;
	{
		char exe[1024];
		const char *path = resolve_exe(j->run, argv[0], exe, sizeof(exe));
		if (strchr(path, '/'))
			errno = posix_spawn(&pid, path, &fa, &at, argv, envp);
		else
			errno = posix_spawnp(&pid, path, &fa, &at, argv, envp);
	}
	if (errno != 0) {
		err_set(err, ERR_IO, "cannot run '%s': %s", argv[0], strerror(errno));
		pid = -1;
		goto out;
	}
	close(fds[1]);
	fds[1] = -1;
	pthread_mutex_lock(&j->run->lock);
	j->in->pgid = pid;
	if (j->in->cancel)
		kill_group(pid);
	pthread_mutex_unlock(&j->run->lock);
	for (;;) {
		struct pollfd pfd = {fds[0], POLLIN, 0};
		double left = deadline - now();
		int t = 250, n;
		ssize_t got;
		if (!killed && deadline > 0 && left <= 0) {
			*why = 1;
			kill_group(pid);
			killed = 1;
		}
		if (deadline > 0 && !killed && left * 1000 < t)
			t = (int)(left * 1000) + 1;
		n = poll(&pfd, 1, t);
		if (n < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&j->run->lock);
		if (j->in->cancel && !killed) {
			*why = 2;
			kill_group(pid);
			killed = 1;
		}
		pthread_mutex_unlock(&j->run->lock);
		if (n <= 0)
			continue;
		got = read(fds[0], chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		if (buf_add(&part, chunk, (size_t)got) < 0)
			break;
		for (;;) {
			char *nl = memchr(part.ptr, '\n', part.len);
			size_t ll;
			if (!nl)
				break;
			ll = (size_t)(nl - part.ptr);
			handle_line(j, step_env, part.ptr,
				    ll && part.ptr[ll - 1] == '\r' ? ll - 1 : ll);
			memmove(part.ptr, nl + 1, part.len - ll - 1);
			buf_setlen(&part, part.len - ll - 1);
		}
		if (part.len > 65536) { /* a very long line: flush what we have */
			handle_line(j, step_env, part.ptr, part.len);
			buf_reset(&part);
		}
	}
	if (part.len)
		handle_line(j, step_env, part.ptr, part.len);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	/* a background process left behind by the step dies with its group */
	kill_group(pid);
	*code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	rc = 0;
	goto out;
spawn_fail:
	err_set(err, ERR_IO, "cannot set up process: %s", strerror(errno));
out:
	if (pid > 0) {
		pthread_mutex_lock(&j->run->lock);
		j->in->pgid = 0;
		pthread_mutex_unlock(&j->run->lock);
	}
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (at_ok)
		posix_spawnattr_destroy(&at);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	buf_release(&part);
	return rc;
}

/* ---- hashFiles ---- */

struct hf {
	json_t *patterns;
	char **files;
	size_t n, cap;
	int err;
};

static int hf_wanted(struct hf *h, const char *rel)
{
	size_t i;
	int hit = 0;
	for (i = 0; i < json_array_size(h->patterns); i++) {
		const char *pat = json_string_value(json_array_get(h->patterns, i));
		if (!pat)
			continue;
		if (pat[0] == '!') {
			if (wf__glob_match(pat + 1, rel))
				hit = 0;
		} else if (wf__glob_match(pat, rel)) {
			hit = 1;
		}
	}
	return hit;
}

/* Walks root/rel (not .git), collecting the files the patterns match. */
static void hf_walk(struct hf *h, const char *root, const char *rel, int depth)
{
	struct buf dir = BUF_INIT;
	DIR *d;
	struct dirent *de;

	if (depth > 64 || h->err || buf_addf(&dir, "%s%s%s", root, *rel ? "/" : "", rel) < 0) {
		buf_release(&dir);
		return;
	}
	d = opendir(dir.ptr);
	while (d && (de = readdir(d)) && !h->err) {
		struct buf sub = BUF_INIT, full = BUF_INIT;
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (!*rel && strcmp(de->d_name, ".git") == 0))
			continue;
		if (buf_addf(&sub, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0 ||
		    buf_addf(&full, "%s/%s", dir.ptr, de->d_name) < 0) {
			h->err = 1;
		} else if (lstat(full.ptr, &st) == 0 && S_ISDIR(st.st_mode)) {
			hf_walk(h, root, sub.ptr, depth + 1);
		} else if (S_ISREG(st.st_mode) && hf_wanted(h, sub.ptr)) {
			char **v = h->files;
			if (h->n == h->cap) {
				h->cap = h->cap ? 2 * h->cap : 16;
				v = mem_reallocarray(h->files, h->cap, sizeof(*v));
			}
			if (!v) {
				h->err = 1;
			} else {
				h->files = v;
				h->files[h->n++] = buf_take(&full, NULL);
			}
		}
		buf_release(&sub);
		buf_release(&full);
	}
	if (d)
		closedir(d);
	buf_release(&dir);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * hashFiles(patterns...): sha256 over the sha256 of each matching file
 * (sorted by path) under the workspace, as the runner computes it; "" when
 * nothing matches.
 */
static int hash_files(void *arg, json_t *patterns, struct buf *out, struct err *err)
{
	struct jctx *j = arg;
	struct hf h = {patterns, NULL, 0, 0, 0};
	struct buf all = BUF_INIT;
	size_t i;
	int rc = -1;

	hf_walk(&h, j->ws, "", 0);
	if (h.err) {
		err_set(err, ERR_NOMEM, "hashFiles: out of memory");
		goto out;
	}
	if (h.n == 0) {
		rc = 0;
		goto out;
	}
	if (h.n > 1)
		qsort(h.files, h.n, sizeof(*h.files), cmp_str);
	for (i = 0; i < h.n; i++) {
		char hex[HASH_SHA256_HEX];
		unsigned char raw[HASH_SHA256_LEN];
		size_t k;
		if (hash_sha256_file(h.files[i], hex, err) < 0)
			goto out;
		for (k = 0; k < HASH_SHA256_LEN; k++) {
			unsigned int byte;
			if (sscanf(hex + 2 * k, "%2x", &byte) != 1)
				byte = 0;
			raw[k] = (unsigned char)byte;
		}
		if (buf_add(&all, raw, sizeof(raw)) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	{
		unsigned char d[HASH_SHA256_LEN];
		char hex[HASH_SHA256_HEX];
		hash_sha256(all.ptr, all.len, d);
		hash_hex(d, sizeof(d), hex);
		if (buf_adds(out, hex) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	for (i = 0; i < h.n; i++)
		mem_free(h.files[i]);
	mem_free(h.files);
	buf_release(&all);
	return rc;
}

/* ---- steps ---- */

static int evaluate_str(struct jctx *j, const char *s, struct buf *out, struct err *err)
{
	struct wf_expr_ctx c = {j->ctx, j->status, hash_files, j};
	return wf__tmpl_str(s, strlen(s), &c, out, err);
}

static int node_bool(struct jctx *j, const struct wf_node *n, int *out, struct err *err)
{
	struct wf_expr_ctx c = {j->ctx, j->status, hash_files, j};
	json_t *v;
	*out = 0;
	if (!n)
		return 0;
	v = wf__node_eval(n, &c, err);
	if (!v)
		return -1;
	*out = json_is_string(v) ? strcmp(json_string_value(v), "true") == 0 : wf__truthy(v);
	json_decref(v);
	return 0;
}

static int node_num(json_t *ctx, int status, const struct wf_node *n, double *out, struct err *err,
		    struct jctx *hj)
{
	struct wf_expr_ctx c = {ctx, status, hj ? hash_files : NULL, hj};
	json_t *v;
	if (!n)
		return 0;
	v = wf__node_eval(n, &c, err);
	if (!v)
		return -1;
	if (json_is_number(v))
		*out = json_number_value(v);
	else if (json_is_string(v))
		*out = strtod(json_string_value(v), NULL);
	json_decref(v);
	return 0;
}

/* Evaluates an env: mapping (or expression) into dst. */
static int eval_env(json_t *ctx, int status, const struct wf_node *n, json_t *dst, struct err *err,
		    struct jctx *hj)
{
	struct wf_expr_ctx c = {ctx, status, hj ? hash_files : NULL, hj};
	json_t *v;
	const char *k;
	json_t *x;
	int rc = 0;

	if (!n || wf__node_is_null(n))
		return 0;
	v = wf__node_eval(n, &c, err);
	if (!v)
		return -1;
	json_object_foreach(v, k, x)
	{
		struct buf b = BUF_INIT;
		if (wf__to_str(x, &b) < 0 || set_s(dst, k, b.ptr) < 0)
			rc = err_set(err, ERR_NOMEM, "out of memory");
		buf_release(&b);
		/* later entries may refer to earlier ones through env */
	}
	json_decref(v);
	return rc;
}

/* argv for a shell spec; {0} replaced by the script path. */
static char **shell_argv(const char *shell, int explicit, const char *script, char *storage,
			 size_t cap, char **argv)
{
	const char *spec;
	size_t n = 0, used = 0;
	char *p;

	if (!explicit || !shell)
		spec = "bash -e {0}";
	else if (strcmp(shell, "bash") == 0)
		spec = "bash --noprofile --norc -eo pipefail {0}";
	else if (strcmp(shell, "sh") == 0)
		spec = "sh -e {0}";
	else if (strcmp(shell, "python") == 0)
		spec = "python3 {0}";
	else
		spec = shell;
	if (strlen(spec) + strlen(script) + 8 > cap)
		return NULL;
	p = storage;
	while (*spec && n < 15) {
		const char *e;
		while (*spec == ' ' || *spec == '\t')
			spec++;
		if (!*spec)
			break;
		e = spec;
		while (*e && *e != ' ' && *e != '\t')
			e++;
		argv[n++] = p + used;
		while (spec < e) {
			if (strncmp(spec, "{0}", 3) == 0) {
				size_t sl = strlen(script);
				memcpy(p + used, script, sl);
				used += sl;
				spec += 3;
			} else {
				p[used++] = *spec++;
			}
		}
		p[used++] = '\0';
	}
	if (n == 0 || !strstr(shell && explicit ? shell : "{0}", "{0}")) {
		/* a custom shell without {0} gets the script as its last argument */
		if (n >= 15 || !explicit || !shell)
			return NULL;
		argv[n++] = (char *)script;
	}
	argv[n] = NULL;
	return argv;
}

static int read_small(const char *path, struct buf *b)
{
	buf_reset(b);
	if (buf_read_file(b, path, WF_MAX_FILE) < 0)
		return errno == ENOENT ? 0 : -1;
	return 0;
}

/* The names of a job's step files under its RUNNER_TEMP ("step_" + name). */
static const char *const step_file_names[] = {"output",	 "env",	  "path",
					      "summary", "state", "script.sh"};
#define N_STEP_FILES (sizeof(step_file_names) / sizeof(step_file_names[0]))

/* Creates the empty runner files of a step (prefix FILES): output, env,
 * path, summary and state. */
static int create_step_files(const char *files, struct err *err)
{
	char p[1300];
	size_t i;
	int fd;

	for (i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "%s%s", files, step_file_names[i]);
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			err_set(err, ERR_IO, "cannot create '%s': %s", p, strerror(errno));
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* Moves a pooled set of step files into job directory DIR, when there is
 * one: a rename costs microseconds where creating an inode costs up to a
 * millisecond on some file systems. Missing files are created later. */
static void step_files_take(struct run *r, const char *dir)
{
	char from[1300], to[1300];
	int id;
	size_t i;

	pthread_mutex_lock(&r->lock);
	id = r->n_free > 0 ? --r->n_free : -1;
	pthread_mutex_unlock(&r->lock);
	if (id < 0)
		return;
	for (i = 0; i < N_STEP_FILES; i++) {
		snprintf(from, sizeof(from), "%s/free%d_%s", r->tmp, id, step_file_names[i]);
		snprintf(to, sizeof(to), "%s/step_%s", dir, step_file_names[i]);
		(void)rename(from, to);
	}
}

/* Gives the step files of a finished job back to the pool. */
static void step_files_give(struct run *r, const char *dir)
{
	char from[1300], to[1300];
	int id;
	size_t i;

	pthread_mutex_lock(&r->lock);
	id = r->n_free++;
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < N_STEP_FILES; i++) {
		snprintf(from, sizeof(from), "%s/step_%s", dir, step_file_names[i]);
		snprintf(to, sizeof(to), "%s/free%d_%s", r->tmp, id, step_file_names[i]);
		(void)rename(from, to);
	}
}

/* After a step: GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH and the summary. */
static int collect_files(struct jctx *j, const char *files, struct err *err)
{
	struct buf b = BUF_INIT;
	char p[1300];
	int rc = -1;
	const char *s, *e;

	snprintf(p, sizeof(p), "%soutput", files);
	if (read_small(p, &b) < 0 ||
	    wf__parse_kv_file(b.ptr, b.len, "GITHUB_OUTPUT", j->step_out, err) < 0)
		goto out;
	snprintf(p, sizeof(p), "%senv", files);
	if (read_small(p, &b) < 0 ||
	    wf__parse_kv_file(b.ptr, b.len, "GITHUB_ENV", j->gh_env, err) < 0)
		goto out;
	snprintf(p, sizeof(p), "%spath", files);
	if (read_small(p, &b) < 0)
		goto out;
	for (s = b.ptr; s < b.ptr + b.len; s = e + 1) {
		size_t n;
		e = memchr(s, '\n', (size_t)(b.ptr + b.len - s));
		if (!e)
			e = b.ptr + b.len;
		n = (size_t)(e - s);
		if (n && s[n - 1] == '\r')
			n--;
		if (n && json_array_insert_new(j->path_add, 0, json_stringn(s, n)) < 0)
			goto out;
	}
	snprintf(p, sizeof(p), "%ssummary", files);
	if (read_small(p, &b) < 0 || buf_add(&j->summary, b.ptr, b.len) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0)
		err_set(err, ERR_IO, "cannot read the step's files: %s", strerror(errno));
	buf_release(&b);
	return rc;
}

/* Runs a helper command (cp, mkdir) and waits; 0 when it exited 0. */
static int run_cmd(char *const argv[], const char *cwd)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = 0, rc;
	char *envp[] = {(char *)"PATH=/usr/bin:/bin", NULL};

	if (posix_spawn_file_actions_init(&fa) != 0)
		return -1;
	if (cwd && posix_spawn_file_actions_addchdir_np(&fa, cwd) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static const char *with_str(json_t *with, const char *k, const char *def)
{
	json_t *v = json_object_get(with, k);
	return json_is_string(v) && json_string_length(v) ? json_string_value(v) : def;
}

/* The run's artifact store: rundir/artifacts, or the scratch directory. */
static int artifacts_dir(struct run *r, struct buf *out)
{
	char *argv[] = {(char *)"/bin/mkdir", (char *)"-p", NULL, NULL};
	if (buf_addf(out, "%s/artifacts", r->rundir[0] ? r->rundir : r->tmp) < 0)
		return -1;
	argv[2] = out->ptr;
	return run_cmd(argv, NULL);
}

/* actions/upload-artifact: copies with.path (lines, globs) into the store. */
static int upload_artifact(struct jctx *j, json_t *with, struct err *err)
{
	struct run *r = j->run;
	const char *name = with_str(with, "name", "artifact");
	const char *paths = with_str(with, "path", NULL);
	const char *missing = with_str(with, "if-no-files-found", "warn");
	struct buf store = BUF_INIT, line = BUF_INIT;
	const char *p, *e;
	size_t found = 0, lines = 0;
	int rc = -1;

	if (!paths)
		return err_set(err, ERR_INVALID, "upload-artifact: 'path' is required");
	if (strchr(name, '/') || strcmp(name, "..") == 0 || strcmp(name, ".") == 0)
		return err_set(err, ERR_INVALID, "upload-artifact: invalid name '%s'", name);
	if (artifacts_dir(r, &store) < 0 || buf_addf(&store, "/%s", name) < 0)
		goto fail;
	{
		char *mk[] = {(char *)"/bin/mkdir", (char *)"-p", store.ptr, NULL};
		if (run_cmd(mk, NULL) < 0)
			goto fail;
	}
	for (p = paths; *p; p = *e ? e + 1 : e) {
		glob_t g;
		size_t k;
		e = strchr(p, '\n');
		if (!e)
			e = p + strlen(p);
		buf_reset(&line);
		if (buf_add(&line, p, (size_t)(e - p)) < 0)
			goto fail;
		while (line.len &&
		       (line.ptr[line.len - 1] == ' ' || line.ptr[line.len - 1] == '\r'))
			buf_setlen(&line, line.len - 1);
		if (!line.len || line.ptr[0] == '!')
			continue; /* TODO: exclusion patterns ('!path') are not applied yet */
		lines++;
		{
			struct buf abs = BUF_INIT;
			if ((line.ptr[0] != '/' && buf_addf(&abs, "%s/", j->ws) < 0) ||
			    buf_adds(&abs, line.ptr) < 0) {
				buf_release(&abs);
				goto fail;
			}
			if (glob(abs.ptr, 0, NULL, &g) != 0) {
				buf_release(&abs);
				continue;
			}
			buf_release(&abs);
		}
		for (k = 0; k < g.gl_pathc; k++) {
			struct stat st;
			struct buf src = BUF_INIT;
			int ok;
			if (stat(g.gl_pathv[k], &st) < 0)
				continue;
			/* a single directory uploads its contents, as GitHub does */
			ok = buf_addf(&src, "%s%s", g.gl_pathv[k],
				      S_ISDIR(st.st_mode) && g.gl_pathc == 1 ? "/." : "") == 0;
			if (ok) {
				char *cp[] = {(char *)"/bin/cp", (char *)"-a", src.ptr, store.ptr,
					      NULL};
				ok = run_cmd(cp, NULL) == 0;
			}
			buf_release(&src);
			if (!ok) {
				globfree(&g);
				err_set(err, ERR_IO, "upload-artifact: cannot copy '%s'",
					g.gl_pathv[k]);
				goto out;
			}
			found++;
		}
		globfree(&g);
	}
	if (!found) {
		if (strcmp(missing, "error") == 0) {
			err_set(err, ERR_NOTFOUND, "upload-artifact: no files found for '%s'",
				paths);
			goto out;
		}
		if (strcmp(missing, "warn") == 0)
			say(r, j->in, "warning: upload-artifact: no files found for '%s'", paths);
	} else {
		say(r, j->in, "artifact '%s': %zu path(s) stored", name, found);
	}
	(void)lines;
	rc = 0;
	goto out;
fail:
	err_set(err, ERR_IO, "upload-artifact: %s", strerror(errno ? errno : EIO));
out:
	buf_release(&store);
	buf_release(&line);
	return rc;
}

/* actions/download-artifact: copies one artifact (or all) into with.path. */
static int download_artifact(struct jctx *j, json_t *with, struct err *err)
{
	struct run *r = j->run;
	const char *name = with_str(with, "name", NULL);
	const char *path = with_str(with, "path", ".");
	struct buf store = BUF_INIT, src = BUF_INIT, dst = BUF_INIT;
	struct stat st;
	int rc = -1;

	if (artifacts_dir(r, &store) < 0)
		goto fail;
	if ((path[0] != '/' && buf_addf(&dst, "%s/", j->ws) < 0) || buf_adds(&dst, path) < 0)
		goto fail;
	if (name && (strchr(name, '/') || strcmp(name, "..") == 0))
		return err_set(err, ERR_INVALID, "download-artifact: invalid name '%s'", name);
	if (buf_addf(&src, "%s/%s", store.ptr, name ? name : "") < 0)
		goto fail;
	if (name && stat(src.ptr, &st) < 0) {
		err_set(err, ERR_NOTFOUND, "download-artifact: no artifact '%s' in this run", name);
		goto out;
	}
	if (buf_adds(&src, name ? "/." : ".") < 0)
		goto fail;
	{
		char *mk[] = {(char *)"/bin/mkdir", (char *)"-p", dst.ptr, NULL};
		char *cp[] = {(char *)"/bin/cp", (char *)"-a", src.ptr, dst.ptr, NULL};
		if (run_cmd(mk, NULL) < 0 || run_cmd(cp, NULL) < 0) {
			err_set(err, ERR_IO, "download-artifact: cannot copy into '%s'", dst.ptr);
			goto out;
		}
	}
	rc = 0;
	goto out;
fail:
	err_set(err, ERR_IO, "download-artifact: %s", strerror(errno ? errno : EIO));
out:
	buf_release(&store);
	buf_release(&src);
	buf_release(&dst);
	return rc;
}

/* ---- actions/cache ---- */

/* The lines of a multi-line with: value, trimmed, as a JSON array. */
static json_t *lines_of(const char *text)
{
	json_t *a = json_array();
	const char *p = text, *e;
	while (a && p && *p) {
		size_t n;
		e = strchr(p, '\n');
		n = e ? (size_t)(e - p) : strlen(p);
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\r'))
			n--;
		while (n && *p == ' ') {
			p++;
			n--;
		}
		if (n && json_array_append_new(a, json_stringn(p, n)) < 0) {
			json_decref(a);
			return NULL;
		}
		p = e ? e + 1 : NULL;
	}
	return a;
}

/* A cache path as an absolute path: ~ is $HOME, relative is the workspace. */
static int cache_abs(struct jctx *j, const char *path, struct buf *out)
{
	struct run *r = j->run;
	json_t *home = json_object_get(r->procenv, "HOME");
	if (path[0] == '~' && (path[1] == '/' || !path[1]))
		return buf_addf(out, "%s%s", json_is_string(home) ? json_string_value(home) : "",
				path + 1);
	if (path[0] == '/')
		return buf_adds(out, path);
	return buf_addf(out, "%s/%s", j->ws, path);
}

static int cache_entry(struct run *r, const char *key, struct buf *out)
{
	unsigned char d[HASH_SHA256_LEN];
	char hex[HASH_SHA256_HEX];
	hash_sha256(key, strlen(key), d);
	hash_hex(d, sizeof(d), hex);
	return buf_addf(out, "%s/%s", r->o->cache_dir, hex);
}

/* 1: the entry for key; 0: the newest whose key starts with a restore key; -2: none. */
static int cache_find(struct run *r, const char *key, json_t *restore, struct buf *entry,
		      struct buf *matched)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	size_t i;
	if (cache_entry(r, key, entry) < 0)
		return -1;
	if (stat(entry->ptr, &st) == 0) {
		(void)buf_adds(matched, key);
		return 1;
	}
	for (i = 0; i < json_array_size(restore); i++) {
		const char *pre = json_string_value(json_array_get(restore, i));
		time_t best = 0;
		d = opendir(r->o->cache_dir);
		while (d && (de = readdir(d))) {
			struct buf kf = BUF_INIT, k = BUF_INIT;
			if (de->d_name[0] == '.' ||
			    buf_addf(&kf, "%s/%s/key", r->o->cache_dir, de->d_name) < 0 ||
			    buf_read_file(&k, kf.ptr, 4096) < 0 || stat(kf.ptr, &st) < 0 ||
			    strncmp(k.ptr, pre, strlen(pre)) != 0 || st.st_mtime < best) {
				buf_release(&kf);
				buf_release(&k);
				continue;
			}
			best = st.st_mtime;
			buf_reset(entry);
			buf_reset(matched);
			(void)buf_addf(entry, "%s/%s", r->o->cache_dir, de->d_name);
			(void)buf_adds(matched, k.ptr);
			buf_release(&kf);
			buf_release(&k);
		}
		if (d)
			closedir(d);
		if (best)
			return 0;
	}
	return -2;
}

/* actions/cache: restore now; save when the job succeeds (the post step). */
static int cache_step(struct jctx *j, json_t *with, struct err *err)
{
	struct run *r = j->run;
	const char *key = with_str(with, "key", NULL);
	json_t *paths = lines_of(with_str(with, "path", ""));
	json_t *restore = lines_of(with_str(with, "restore-keys", ""));
	struct buf entry = BUF_INIT, matched = BUF_INIT;
	size_t i;
	int found, rc = -1;

	if (!paths || !restore) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (!key || json_array_size(paths) == 0) {
		err_set(err, ERR_INVALID, "cache: 'key' and 'path' are required");
		goto out;
	}
	if (!r->o->cache_dir) {
		err_set(err, ERR_INVALID, "cache: no cache directory configured");
		goto out;
	}
	found = cache_find(r, key, restore, &entry, &matched);
	(void)set_s(j->step_out, "cache-hit", found == 1 ? "true" : "false");
	if (found >= 0) {
		(void)set_s(j->step_out, "cache-matched-key", matched.ptr);
		for (i = 0; i < json_array_size(paths); i++) {
			struct buf src = BUF_INIT, dst = BUF_INIT;
			struct stat st;
			int ok = buf_addf(&src, "%s/files/%zu", entry.ptr, i) == 0 &&
				 cache_abs(j, json_string_value(json_array_get(paths, i)), &dst) ==
					 0;
			if (ok && stat(src.ptr, &st) == 0) {
				char *rm[] = {(char *)"/bin/rm", (char *)"-rf", dst.ptr, NULL};
				char *cp[] = {(char *)"/bin/cp", (char *)"-a", src.ptr, dst.ptr,
					      NULL};
				ok = run_cmd(rm, NULL) == 0 && run_cmd(cp, NULL) == 0;
			}
			buf_release(&src);
			buf_release(&dst);
			if (!ok) {
				err_set(err, ERR_IO, "cache: cannot restore '%s'",
					json_string_value(json_array_get(paths, i)));
				goto out;
			}
		}
		say(r, j->in, "cache restored from key '%s'", matched.ptr);
	} else {
		say(r, j->in, "cache not found for key '%s'", key);
	}
	if (found != 1) {
		json_t *e = json_pack("{s:s, s:O}", "key", key, "paths", paths);
		if (!e || json_array_append_new(j->cache_saves, e) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(paths);
	json_decref(restore);
	buf_release(&entry);
	buf_release(&matched);
	return rc;
}

static int mkdirs(const char *path);

/* Post-job: saves the caches this job missed (into a temp dir, then rename). */
static void cache_save_all(struct jctx *j)
{
	struct run *r = j->run;
	size_t i, k;
	for (i = 0; i < json_array_size(j->cache_saves); i++) {
		json_t *e = json_array_get(j->cache_saves, i);
		const char *key = json_string_value(json_object_get(e, "key"));
		json_t *paths = json_object_get(e, "paths");
		struct buf tmp = BUF_INIT, fin = BUF_INIT, kf = BUF_INIT;
		int ok = mkdirs(r->o->cache_dir) == 0 &&
			 buf_addf(&tmp, "%s/.tmp-%ld-%s", r->o->cache_dir, (long)getpid(),
				  j->in->display) == 0 &&
			 cache_entry(r, key, &fin) == 0 && buf_addf(&kf, "%s/key", tmp.ptr) == 0;
		if (ok) {
			char *mk[] = {(char *)"/bin/mkdir", (char *)"-p", tmp.ptr, NULL};
			ok = run_cmd(mk, NULL) == 0 && write_file(kf.ptr, key, strlen(key)) == 0;
		}
		for (k = 0; ok && k < json_array_size(paths); k++) {
			struct buf src = BUF_INIT, dst = BUF_INIT;
			struct stat st;
			ok = cache_abs(j, json_string_value(json_array_get(paths, k)), &src) == 0 &&
			     buf_addf(&dst, "%s/files", tmp.ptr) == 0;
			if (ok && stat(src.ptr, &st) == 0) {
				char *mk[] = {(char *)"/bin/mkdir", (char *)"-p", dst.ptr, NULL};
				ok = run_cmd(mk, NULL) == 0 && buf_addf(&dst, "/%zu", k) == 0;
				if (ok) {
					char *cp[] = {(char *)"/bin/cp", (char *)"-a", src.ptr,
						      dst.ptr, NULL};
					ok = run_cmd(cp, NULL) == 0;
				}
			}
			buf_release(&src);
			buf_release(&dst);
		}
		/* another job may have saved the same key first: keep theirs */
		if (ok && rename(tmp.ptr, fin.ptr) < 0 && errno != ENOTEMPTY && errno != EEXIST)
			ok = 0;
		if (tmp.len) {
			char *rm[] = {(char *)"/bin/rm", (char *)"-rf", tmp.ptr, NULL};
			(void)run_cmd(rm, NULL); /* nothing left after a rename */
		}
		if (ok)
			say(r, j->in, "cache saved with key '%s'", key);
		else
			say(r, j->in, "warning: cannot save cache '%s'", key);
		buf_release(&tmp);
		buf_release(&fin);
		buf_release(&kf);
	}
}

/*
 * 1 when the installed version (digits and dots) satisfies the requested
 * one: component by component, "x" and "*" match anything and a shorter
 * request matches every longer version ("3.11" matches 3.11.2). -1 when the
 * request is not a plain version (lts names, stable, ranges): not compared.
 */
static int version_ok(const char *want, const char *have)
{
	while (*want) {
		if (*want == 'x' || *want == 'X' || *want == '*') {
			want++;
		} else if (*want >= '0' && *want <= '9') {
			char *e1, *e2;
			unsigned long a = strtoul(want, &e1, 10), b;
			if (!(*have >= '0' && *have <= '9'))
				return 0;
			b = strtoul(have, &e2, 10);
			if (a != b)
				return 0;
			want = e1;
			have = e2;
			if (*want && *want != '.')
				return -1;
		} else {
			return -1;
		}
		if (*want == '.')
			want++;
		while (*have && *have != '.')
			have++;
		if (*have == '.')
			have++;
	}
	return 1;
}

/* setup-python / setup-node / setup-go: the installed tool's version
 * against with: <lang>-version; a warning on a mismatch. */
static int setup_tool(struct jctx *j, const char *uses, const char *tool, const char *key,
		      struct err *err)
{
	struct wf_expr_ctx c = {j->ctx, j->status, hash_files, j};
	json_t *with = j->cur->with ? wf__node_eval(j->cur->with, &c, err) : json_object();
	char cmd[64], line[256], have[64] = "";
	const char *want, *p;
	FILE *f;
	size_t n;

	if (!with)
		return -1;
	want = json_string_value(json_object_get(with, key));
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", tool,
		 strcmp(tool, "go") == 0 ? "version" : "--version");
	f = popen(cmd, "re");
	if (f) {
		if (fgets(line, sizeof(line), f)) {
			/* the first run of digits and dots: "Python 3.11.2", "v18.1", "go1.21.0" */
			for (p = line; *p && !(*p >= '0' && *p <= '9'); p++)
				;
			for (n = 0;
			     n + 1 < sizeof(have) && ((p[n] >= '0' && p[n] <= '9') || p[n] == '.');
			     n++)
				have[n] = p[n];
			have[n] = '\0';
		}
		if (pclose(f) != 0)
			have[0] = '\0';
	}
	if (!have[0])
		say(j->run, j->in, "warning: %s: '%s' is not installed", uses, tool);
	else if (want && *want && version_ok(want, have) == 0)
		say(j->run, j->in, "warning: %s: %s '%s' was requested, the installed '%s' is %s",
		    uses, key, want, tool, have);
	else
		say(j->run, j->in, "%s: using the installed '%s' %s", uses, tool, have);
	if (have[0] && json_object_set_new(j->step_out, key, json_string(have)) < 0) {
		json_decref(with);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	json_decref(with);
	return 0;
}

static int builtin_uses(struct jctx *j, const char *uses, struct err *err)
{
	static const char *const tools[][3] = {
		{"actions/setup-python@", "python3", "python-version"},
		{"actions/setup-node@", "node", "node-version"},
		{"actions/setup-go@", "go", "go-version"}};
	size_t i;
	if (strncmp(uses, "actions/checkout@", 17) == 0)
		return 0; /* the workspace already is the checkout */
	if (strncmp(uses, "actions/upload-artifact@", 24) == 0 ||
	    strncmp(uses, "actions/download-artifact@", 26) == 0) {
		struct wf_expr_ctx c = {j->ctx, j->status, hash_files, j};
		json_t *with = j->cur->with ? wf__node_eval(j->cur->with, &c, err) : json_object();
		int rc;
		if (!with)
			return -1;
		rc = uses[8] == 'u' ? upload_artifact(j, with, err)
				    : download_artifact(j, with, err);
		json_decref(with);
		return rc;
	}
	if (strncmp(uses, "actions/cache@", 14) == 0) {
		struct wf_expr_ctx c = {j->ctx, j->status, hash_files, j};
		json_t *with = j->cur->with ? wf__node_eval(j->cur->with, &c, err) : json_object();
		int rc;
		if (!with)
			return -1;
		rc = cache_step(j, with, err);
		json_decref(with);
		return rc;
	}
	for (i = 0; i < 3; i++) {
		if (strncmp(uses, tools[i][0], strlen(tools[i][0])) == 0)
			return setup_tool(j, uses, tools[i][1], tools[i][2], err);
	}
	return err_set(err, ERR_INVALID, "unsupported action '%s'", uses);
}

/*
 * --sandbox: the step under bubblewrap: the whole file system read-only, the
 * workspace, the job's temp directory and the run directory writable, a
 * private /tmp, no network. bwrap dies with its parent, so killing the
 * step's process group (timeout, cancel) ends what runs inside.
 */
static char **sandbox_argv(struct run *r, struct jctx *j, char **argv, char **out, size_t cap)
{
	size_t n = 0, i;
	const char *pre[] = {
		"bwrap",  "--ro-bind", "/",	  "/",	    "--dev",	     "/dev",
		"--proc", "/proc",     "--tmpfs", "/tmp",   "--unshare-net", "--die-with-parent",
		"--bind", j->ws,       j->ws,	  "--bind", j->dir,	     j->dir};
	for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		out[n++] = (char *)pre[i];
	if (r->rundir[0]) {
		out[n++] = (char *)"--bind";
		out[n++] = r->rundir;
		out[n++] = r->rundir;
	}
	out[n++] = (char *)"--";
	for (i = 0; argv[i] && n + 1 < cap; i++)
		out[n++] = argv[i];
	out[n] = NULL;
	return out;
}

/* Runs one step; sets *outcome. Returns -1 only on engine failure. */
static int run_list(struct jctx *j, const struct wf_step *steps, size_t n, int depth);
static int run_composite(struct jctx *j, const struct wf_step *s, json_t *step_env, int depth,
			 int *outcome, struct err *err);

static int run_step(struct jctx *j, const struct wf_step *s, size_t idx, int depth, int *outcome)
{
	struct run *r = j->run;
	struct err err = ERR_INIT;
	json_t *step_env = json_copy(j->env), *env_ctx = NULL;
	struct buf name = BUF_INIT, script = BUF_INIT, wd = BUF_INIT, tmp = BUF_INIT;
	char files[1200], spath[1300], argstore[4096];
	char **envp = NULL, **argv, *argvbuf[16], *boxed[48];
	int code = 0, why = 0, rc = 0;
	double t0 = now(), limit = 0, deadline = j->deadline;
	const char *shell;
	int explicit_shell;

	*outcome = WF_ST_FAILURE;
	if (!step_env || json_object_update(step_env, j->gh_env) < 0)
		goto oom;
	json_object_set(j->ctx, "env", step_env);
	if (eval_env(j->ctx, j->status, s->env, step_env, &err, j) < 0)
		goto fail;
	json_object_set(j->ctx, "env", step_env);
	if (s->name) {
		if (evaluate_str(j, s->name, &name, &err) < 0)
			goto fail;
	} else if (s->run) {
		const char *nl = strchr(s->run, '\n');
		if (buf_addf(&name, "Run %.*s", (int)(nl ? nl - s->run : (long)strlen(s->run)),
			     s->run) < 0)
			goto oom;
	} else if (buf_addf(&name, "Run %s", s->uses) < 0) {
		goto oom;
	}
	say(r, j->in, "step %zu: %s", idx + 1, name.ptr);
	if (s->uses && strncmp(s->uses, "./", 2) == 0) {
		if (run_composite(j, s, step_env, depth, outcome, &err) < 0)
			goto fail;
		goto out;
	}
	if (s->uses) {
		j->cur = s;
		if (builtin_uses(j, s->uses, &err) < 0)
			goto fail;
		*outcome = WF_ST_SUCCESS;
		goto out;
	}
	if (evaluate_str(j, s->run, &script, &err) < 0)
		goto fail;
	if (node_num(j->ctx, j->status, s->timeout_minutes, &limit, &err, j) < 0)
		goto fail;
	if (limit > 0 && (deadline <= 0 || t0 + limit * 60 < deadline))
		deadline = t0 + limit * 60;
	shell = s->shell ? s->shell : j->job->shell ? j->job->shell : r->wf->shell;
	explicit_shell = shell != NULL;
	/* The five runner files exist, empty, before the step starts, as on
	 * GitHub. Steps run one at a time in a job, so every step of the job
	 * reuses the same names: truncating a file costs microseconds, creating
	 * an inode up to a millisecond on some file systems. */
	snprintf(files, sizeof(files), "%s/step_", j->dir);
	if (create_step_files(files, &err) < 0)
		goto fail;
	snprintf(spath, sizeof(spath), "%sscript%s", files,
		 shell && strcmp(shell, "python") == 0 ? ".py" : ".sh");
	if (write_file(spath, script.ptr, script.len) < 0) {
		err_set(&err, ERR_IO, "cannot write '%s': %s", spath, strerror(errno));
		goto fail;
	}
	argv = shell_argv(shell, explicit_shell, spath, argstore, sizeof(argstore), argvbuf);
	if (!argv) {
		err_set(&err, ERR_INVALID, "invalid shell '%s'", shell ? shell : "");
		goto fail;
	}
	if (r->o->flags & WF_RUN_SANDBOX)
		argv = sandbox_argv(r, j, argv, boxed, sizeof(boxed) / sizeof(boxed[0]));
	{
		const char *w = s->working_directory	    ? s->working_directory
				: j->job->working_directory ? j->job->working_directory
							    : r->wf->working_directory;
		if (w && evaluate_str(j, w, &tmp, &err) < 0)
			goto fail;
		if (!w || tmp.ptr[0] != '/') {
			if (buf_adds(&wd, j->ws) < 0 ||
			    (w && (buf_addch(&wd, '/') < 0 || buf_adds(&wd, tmp.ptr) < 0)))
				goto oom;
		} else if (buf_adds(&wd, tmp.ptr) < 0) {
			goto oom;
		}
	}
	{
		char act[64];
		snprintf(act, sizeof(act), "__run_%zu", idx);
		if (set_s(step_env, "GITHUB_ACTION", s->id ? s->id : act) < 0)
			goto oom;
	}
	envp = make_envp(j, step_env, files);
	if (!envp)
		goto oom;
	json_decref(j->step_out);
	j->step_out = json_object();
	if (!j->step_out)
		goto oom;
	if (spawn_step(j, argv, envp, wd.ptr, deadline, step_env, &code, &why, &err) < 0)
		goto fail;
	if (collect_files(j, files, &err) < 0)
		goto fail;
	if (why == 1) {
		if (deadline == j->deadline)
			j->timed_out = 1;
		say(r, j->in, "error: step %zu timed out after %g minutes", idx + 1,
		    deadline == j->deadline ? (j->deadline - t0) / 60 : limit);
	} else if (why == 2) {
		say(r, j->in, "step %zu cancelled", idx + 1);
	} else if (code != 0) {
		say(r, j->in, "error: step %zu failed: exit status %d", idx + 1, code);
	}
	*outcome = code == 0 && why == 0 ? WF_ST_SUCCESS : WF_ST_FAILURE;
	goto out;
oom:
	err_set(&err, ERR_NOMEM, "out of memory");
fail:
	say(r, j->in, "error: step %zu: %s", idx + 1, err.msg);
	*outcome = WF_ST_FAILURE;
out:
	(void)t0;
	free_envp(envp);
	json_decref(step_env);
	json_decref(env_ctx);
	buf_release(&name);
	buf_release(&script);
	buf_release(&wd);
	buf_release(&tmp);
	return rc;
}

static int set_step_ctx(struct jctx *j, const struct wf_step *s, int outcome, int conclusion)
{
	json_t *steps = json_object_get(j->ctx, "steps"), *e;
	if (!s->id)
		return 0;
	e = json_pack("{s:O?, s:s, s:s}", "outputs", j->step_out, "outcome",
		      wf_status_name(outcome), "conclusion", wf_status_name(conclusion));
	if (e && !json_object_get(e, "outputs"))
		json_object_set_new(e, "outputs", json_object());
	return e ? json_object_set_new(steps, s->id, e) : -1;
}

/* Inputs of a composite action: with: values, else defaults, else "". */
static json_t *action_inputs(struct jctx *j, const struct wf_action *act, const struct wf_step *s,
			     struct err *err)
{
	struct wf_expr_ctx c = {j->ctx, j->status, hash_files, j};
	json_t *with = s->with ? wf__node_eval(s->with, &c, err) : json_object();
	json_t *in = json_object();
	const char *k;
	json_t *v;
	size_t i;

	if (!with || !in)
		goto fail;
	for (i = 0; act->inputs && i < act->inputs->n; i++) {
		const char *name = act->inputs->items[2 * i]->str;
		const struct wf_node *def = wf__map_get(act->inputs->items[2 * i + 1], "default");
		json_t *val = json_object_get(with, name);
		struct buf b = BUF_INIT;
		if (val) {
			if (wf__to_str(val, &b) < 0 || set_s(in, name, b.ptr) < 0) {
				buf_release(&b);
				goto fail;
			}
		} else if (def && def->kind == WF_NODE_SCALAR) {
			if (wf__tmpl_str(def->str, def->len, &c, &b, err) < 0 ||
			    set_s(in, name, b.ptr) < 0) {
				buf_release(&b);
				goto fail;
			}
		} else if (set_s(in, name, "") < 0) {
			goto fail;
		}
		buf_release(&b);
	}
	json_object_foreach(with, k, v)
	{
		struct buf b = BUF_INIT;
		if (!json_object_get(in, k) && (wf__to_str(v, &b) < 0 || set_s(in, k, b.ptr) < 0)) {
			buf_release(&b);
			goto fail;
		}
		buf_release(&b);
	}
	json_decref(with);
	return in;
fail:
	err_set(err, ERR_NOMEM, "out of memory");
	json_decref(with);
	json_decref(in);
	return NULL;
}

/*
 * A local composite action (uses: ./path): its steps run in this job with
 * their own steps and inputs contexts and the calling step's env; GITHUB_ENV
 * and GITHUB_PATH written inside reach the job. Its outputs become the
 * calling step's outputs, even when it fails.
 */
static int run_composite(struct jctx *j, const struct wf_step *s, json_t *step_env, int depth,
			 int *outcome, struct err *err)
{
	struct run *r = j->run;
	struct buf dir = BUF_INIT, file = BUF_INIT;
	struct wf_action *act = NULL;
	json_t *inputs = NULL, *old_steps, *old_inputs, *old_env = j->env, *outs = NULL;
	json_t *gh = json_object_get(j->ctx, "github"), *genv = json_object_get(j->ctx, "_genv");
	int old_status = j->status, rc = -1;
	size_t i;
	struct stat st;

	*outcome = WF_ST_FAILURE;
	if (depth >= 8)
		return err_set(err, ERR_INVALID, "composite actions nested more than 8 deep");
	if (buf_addf(&dir, "%s/%s", j->ws, s->uses + 2) < 0)
		goto oom;
	while (dir.len > 1 && dir.ptr[dir.len - 1] == '/')
		buf_setlen(&dir, dir.len - 1);
	if (buf_addf(&file, "%s/action.yml", dir.ptr) < 0)
		goto oom;
	if (stat(file.ptr, &st) < 0) {
		buf_reset(&file);
		if (buf_addf(&file, "%s/action.yaml", dir.ptr) < 0)
			goto oom;
		if (stat(file.ptr, &st) < 0) {
			err_set(err, ERR_NOTFOUND,
				"action '%s': no action.yml or action.yaml in '%s'", s->uses,
				dir.ptr);
			goto out;
		}
	}
	act = wf__action_load(file.ptr, err);
	if (!act)
		goto out;
	inputs = action_inputs(j, act, s, err);
	if (!inputs)
		goto out;
	old_steps = json_incref(json_object_get(j->ctx, "steps"));
	old_inputs = json_incref(json_object_get(j->ctx, "inputs"));
	j->env = json_copy(step_env);
	if (!j->env || json_object_set_new(j->ctx, "steps", json_object()) < 0 ||
	    json_object_set(j->ctx, "inputs", inputs) < 0 ||
	    set_s(gh, "action_path", dir.ptr) < 0 ||
	    set_s(genv, "GITHUB_ACTION_PATH", dir.ptr) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
	} else {
		struct wf_expr_ctx c = {j->ctx, WF_ST_SUCCESS, NULL, NULL};
		j->status = WF_ST_SUCCESS;
		(void)run_list(j, act->steps, act->n_steps, depth + 1);
		*outcome = j->status == WF_ST_SUCCESS ? WF_ST_SUCCESS : WF_ST_FAILURE;
		c.status = j->status;
		outs = json_object();
		for (i = 0; outs && act->outputs && i < act->outputs->n; i++) {
			const struct wf_node *val =
				wf__map_get(act->outputs->items[2 * i + 1], "value");
			struct buf b = BUF_INIT;
			struct err e2 = ERR_INIT;
			if (val && val->kind == WF_NODE_SCALAR &&
			    wf__tmpl_str(val->str, val->len, &c, &b, &e2) == 0)
				(void)set_s(outs, act->outputs->items[2 * i]->str, b.ptr);
			else if (e2.code)
				say(r, j->in, "error: output '%s': %s",
				    act->outputs->items[2 * i]->str, e2.msg);
			buf_release(&b);
		}
		rc = 0;
	}
	json_decref(j->env);
	j->env = old_env;
	j->status = old_status;
	(void)json_object_set_new(j->ctx, "steps", old_steps);
	(void)json_object_set_new(j->ctx, "inputs", old_inputs);
	(void)set_s(gh, "action_path", "");
	(void)json_object_del(genv, "GITHUB_ACTION_PATH");
	json_decref(j->step_out);
	j->step_out = outs ? outs : json_object();
	goto out;
oom:
	err_set(err, ERR_NOMEM, "out of memory");
out:
	json_decref(inputs);
	wf__action_free(act);
	buf_release(&dir);
	buf_release(&file);
	return rc;
}

/* Keeps ctx.job.status equal to the job's current status, as steps run. A
 * new object each time: the old one may be shared with other instances. */
static void sync_job_status(struct jctx *j)
{
	const char *want = wf_status_name(j->status);
	const char *have =
		json_string_value(json_object_get(json_object_get(j->ctx, "job"), "status"));
	if (have && strcmp(have, want) == 0)
		return;
	(void)json_object_set_new(j->ctx, "job", json_pack("{s:s}", "status", want));
}

/* Runs a list of steps (a job's or a composite action's), updating j->status. */
static int run_list(struct jctx *j, const struct wf_step *steps, size_t n, int depth)
{
	struct run *r = j->run;
	size_t i;
	int cancelled = 0;

	for (i = 0; i < n; i++) {
		const struct wf_step *s = &steps[i];
		struct err err = ERR_INIT;
		int run_it = 0, outcome = WF_ST_SKIPPED, conclusion, coe = 0;
		json_t *env_now = json_copy(j->env);

		pthread_mutex_lock(&r->lock);
		cancelled = j->in->cancel;
		pthread_mutex_unlock(&r->lock);
		if (cancelled || j->timed_out)
			j->status = WF_ST_CANCELLED;
		if (!env_now || json_object_update(env_now, j->gh_env) < 0) {
			json_decref(env_now);
			j->status = WF_ST_FAILURE;
			return cancelled;
		}
		json_object_set_new(j->ctx, "env", env_now);
		sync_job_status(j);
		if (wf__cond(s->if_ ? s->if_ : "",
			     &(struct wf_expr_ctx){j->ctx, j->status, hash_files, j}, &run_it,
			     &err) < 0) {
			say(r, j->in, "error: step %zu: if: %s", i + 1, err.msg);
			run_it = 0;
			outcome = WF_ST_FAILURE;
		}
		json_decref(j->step_out);
		j->step_out = json_object();
		if (run_it) {
			if (run_step(j, s, i, depth, &outcome) < 0)
				outcome = WF_ST_FAILURE;
		}
		conclusion = outcome;
		if (outcome == WF_ST_FAILURE) {
			if (node_bool(j, s->continue_on_error, &coe, &err) < 0)
				say(r, j->in, "error: continue-on-error: %s", err.msg);
			if (coe)
				conclusion = WF_ST_SUCCESS;
			else if (j->status == WF_ST_SUCCESS)
				j->status = WF_ST_FAILURE;
		}
		if (set_step_ctx(j, s, outcome, conclusion) < 0)
			j->status = WF_ST_FAILURE;
	}
	sync_job_status(j);
	return cancelled;
}

/* The steps of one job instance, in order. Returns the instance's result. */
static int run_steps(struct jctx *j)
{
	int cancelled = run_list(j, j->job->steps, j->job->n_steps, 0);
	if (j->timed_out)
		return WF_ST_FAILURE;
	return j->status == WF_ST_CANCELLED ? (cancelled ? WF_ST_CANCELLED : WF_ST_FAILURE)
					    : j->status;
}

/* Job outputs; values that hold a secret are dropped, as GitHub does. */
static json_t *job_outputs(struct jctx *j)
{
	struct wf_expr_ctx c = {j->ctx, j->status, hash_files, j};
	struct run *r = j->run;
	json_t *out = json_object(), *v = NULL, *x;
	const char *k;
	struct err err = ERR_INIT;

	if (!out || !j->job->outputs)
		return out;
	v = wf__node_eval(j->job->outputs, &c, &err);
	if (!v) {
		say(r, j->in, "error: outputs: %s", err.msg);
		return out;
	}
	json_object_foreach(v, k, x)
	{
		struct buf b = BUF_INIT, m = BUF_INIT;
		if (wf__to_str(x, &b) == 0) {
			pthread_mutex_lock(&r->lock);
			(void)wf__mask_apply(&r->masks, b.ptr, b.len, &m);
			pthread_mutex_unlock(&r->lock);
			if (strcmp(b.ptr, m.ptr) != 0)
				say(r, j->in,
				    "warning: output '%s' holds a secret; it is not passed on", k);
			else
				(void)set_s(out, k, b.ptr);
		}
		buf_release(&b);
		buf_release(&m);
	}
	json_decref(v);
	return out;
}

/*
 * A job that calls a local reusable workflow (jobs.<id>.uses): the callee
 * runs as a nested run with typed inputs from with:, secrets from secrets:
 * (or inherit), and the caller's event; its on.workflow_call.outputs,
 * evaluated over its jobs, become this job's outputs.
 */
static int run_called(struct jctx *j)
{
	struct run *r = j->run;
	struct wf_expr_ctx c = {j->ctx, WF_ST_SUCCESS, NULL, NULL};
	struct err err = ERR_INIT;
	struct buf path = BUF_INIT;
	struct wf *callee = NULL;
	struct wf_run_opts o = *r->o;
	json_t *with = NULL, *payload = NULL, *inputs = NULL, *secrets = NULL, *jobs = NULL;
	json_t *outs = NULL, *octx = NULL;
	const struct wf_node *wc, *decl;
	int rc, result = WF_ST_FAILURE;
	size_t i;

	if (buf_addf(&path, "%s/%s", j->ws, j->job->uses + 2) < 0)
		goto oom;
	callee = wf_load(path.ptr, &err);
	if (!callee)
		goto fail;
	with = j->job->with ? wf__node_eval(j->job->with, &c, &err) : json_object();
	if (!with)
		goto fail;
	payload = json_pack("{s:O}", "inputs", with);
	if (!payload)
		goto oom;
	inputs = wf__inputs(callee, "workflow_call", payload, NULL, &c, &err);
	if (!inputs)
		goto fail;
	if (!j->job->secrets)
		secrets = json_object();
	else if (j->job->secrets->kind == WF_NODE_SCALAR)
		secrets = json_deep_copy(r->o->secrets); /* inherit */
	else
		secrets = wf__node_eval(j->job->secrets, &c, &err);
	jobs = json_object();
	if (!secrets || !jobs)
		goto fail;
	/* secrets the callee declares as required must be passed */
	wc = callee->on->kind == WF_NODE_MAP ? wf__map_get(callee->on, "workflow_call") : NULL;
	decl = wc && wc->kind == WF_NODE_MAP ? wf__map_get(wc, "secrets") : NULL;
	for (i = 0; decl && decl->kind == WF_NODE_MAP && i < decl->n; i++) {
		const struct wf_node *d = decl->items[2 * i + 1];
		const struct wf_node *req =
			d->kind == WF_NODE_MAP ? wf__map_get(d, "required") : NULL;
		const char *name = decl->items[2 * i]->str;
		if (req && req->kind == WF_NODE_SCALAR && strcmp(req->str, "true") == 0 &&
		    !json_object_get(secrets, name)) {
			err_set(&err, ERR_INVALID,
				"%s:%d:%d: workflow_call: the required secret '%s' is not passed",
				callee->path, decl->items[2 * i]->line, decl->items[2 * i]->col,
				name);
			goto fail;
		}
	}
	o.inputs = inputs;
	o.secrets = secrets;
	o.job = NULL;
	o.flags |= WF_RUN_CALLED;
	o.jobs_out = jobs;
	o.prefix = j->in->display;
	o.workspace = j->ws;
	o.flags |= WF_RUN_WORKDIR; /* the called jobs share the caller's checkout */
	o.github = json_object_get(j->ctx, "github");
	o.runs_root = NULL;
	o.run_dir = r->rundir[0] ? r->rundir : NULL;
	say(r, j->in, "calling %s", j->job->uses);
	rc = wf_run(callee, &o, NULL, NULL, &err);
	if (rc < 0)
		goto fail;
	result = rc == 0 ? WF_ST_SUCCESS : WF_ST_FAILURE;
	outs = json_object();
	octx = json_pack("{s:O, s:O}", "jobs", jobs, "inputs", inputs);
	if (!outs || !octx)
		goto oom;
	wc = callee->on->kind == WF_NODE_MAP ? wf__map_get(callee->on, "workflow_call") : NULL;
	decl = wc ? wf__map_get(wc, "outputs") : NULL;
	for (i = 0; decl && decl->kind == WF_NODE_MAP && i < decl->n; i++) {
		const struct wf_node *val = wf__map_get(decl->items[2 * i + 1], "value");
		struct wf_expr_ctx oc = {octx, WF_ST_SUCCESS, NULL, NULL};
		struct buf b = BUF_INIT;
		if (val && val->kind == WF_NODE_SCALAR &&
		    wf__tmpl_str(val->str, val->len, &oc, &b, &err) == 0)
			(void)set_s(outs, decl->items[2 * i]->str, b.ptr);
		buf_release(&b);
	}
	j->in->outputs = outs;
	outs = NULL;
	goto out;
oom:
	err_set(&err, ERR_NOMEM, "out of memory");
fail:
	say(r, j->in, "error: %s", err.msg);
	result = WF_ST_FAILURE;
out:
	wf_free(callee);
	buf_release(&path);
	json_decref(with);
	json_decref(payload);
	json_decref(inputs);
	json_decref(secrets);
	json_decref(jobs);
	json_decref(outs);
	json_decref(octx);
	return result;
}

/*
 * Concurrency across kiln invocations: an exclusive flock on
 * .kiln/concurrency/<sha256 of group>.lock (beside runs_root), waited for.
 * Returns the descriptor (closing it releases the lock), or -1 when there is
 * no runs root or the lock file cannot be opened.
 */
static int conc_lock(struct run *r, struct inst *in, const char *group)
{
	char dir[1100], path[1300], hex[HASH_SHA256_HEX];
	unsigned char d[HASH_SHA256_LEN];
	const char *root = r->o->runs_root, *slash;
	int fd;

	if (!root)
		return -1;
	slash = strrchr(root, '/');
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s/concurrency", (int)(slash - root), root);
	else
		snprintf(dir, sizeof(dir), "concurrency");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -1;
	hash_sha256(group, strlen(group), d);
	hash_hex(d, sizeof(d), hex);
	snprintf(path, sizeof(path), "%s/%s.lock", dir, hex);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		say(r, in, "waiting for concurrency group '%s' (another kiln run holds it)", group);
		while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
			;
	}
	return fd;
}

static void *inst_main(void *arg)
{
	struct inst *in = arg;
	struct run *r = in->run;
	const struct wf_job *job = in->js->job;
	struct jctx j;
	struct err err = ERR_INIT;
	double t0 = now(), tmo = 360;
	int result = WF_ST_FAILURE, n, made = 0, lockfd = -1;

	memset(&j, 0, sizeof(j));
	j.ws = in->ws ? in->ws : r->o->workspace;
	j.run = r;
	j.in = in;
	j.job = job;
	j.ctx = in->ctx;
	j.status = WF_ST_SUCCESS;
	j.summary = (struct buf)BUF_INIT;
	j.env = json_object();
	j.gh_env = json_object();
	j.path_add = json_array();
	j.step_out = json_object();
	j.cache_saves = json_array();
	pthread_mutex_lock(&r->lock);
	n = ++r->seq;
	pthread_mutex_unlock(&r->lock);
	snprintf(j.dir, sizeof(j.dir), "%s/j%d", r->tmp, n);
	if (!j.env || !j.gh_env || !j.path_add || !j.step_out || !j.cache_saves) {
		say(r, in, "error: out of memory");
		goto out;
	}
	if (mkdir(j.dir, 0700) < 0) {
		say(r, in, "error: cannot create '%s': %s", j.dir, strerror(errno));
		goto out;
	}
	made = 1;
	step_files_take(r, j.dir);
	{
		json_t *runner = json_object_get(j.ctx, "runner");
		(void)set_s(runner, "temp", j.dir);
		(void)set_s(json_object_get(j.ctx, "_genv"), "RUNNER_TEMP", j.dir);
	}
	j.debug = json_is_string(json_object_get(r->procenv, "ACTIONS_STEP_DEBUG"));
	/* env: --env-file values, then workflow env, then job env */
	if (json_object_update(j.env, r->o->env) < 0)
		goto oom;
	json_object_set(j.ctx, "env", j.env);
	if (eval_env(j.ctx, WF_ST_SUCCESS, r->wf->env, j.env, &err, &j) < 0 ||
	    eval_env(j.ctx, WF_ST_SUCCESS, job->env, j.env, &err, &j) < 0 ||
	    node_num(j.ctx, WF_ST_SUCCESS, job->timeout_minutes, &tmo, &err, &j) < 0) {
		say(r, in, "error: %s", err.msg);
		goto out;
	}
	j.deadline = tmo > 0 ? t0 + tmo * 60 : 0;
	if (in->group && r->wf_group && strcmp(in->group, r->wf_group) == 0) {
		say(r, in,
		    "error: concurrency group '%s' is also the workflow's: a deadlock (GitHub "
		    "cancels such a job)",
		    in->group);
		result = WF_ST_CANCELLED;
		goto out;
	}
	if (in->group)
		lockfd = conc_lock(r, in, in->group);
	say(r, in, "job started");
	if (job->uses) {
		result = run_called(&j);
	} else {
		result = run_steps(&j);
		in->outputs = job_outputs(&j);
		if (result == WF_ST_SUCCESS)
			cache_save_all(&j);
	}
	if (j.summary.len) {
		say(r, in, "step summary:");
		say(r, in, "%s", j.summary.ptr);
		if (r->rundir[0]) {
			char sp[1100];
			FILE *f;
			snprintf(sp, sizeof(sp), "%s/step-summary.md", r->rundir);
			pthread_mutex_lock(&r->lock);
			f = fopen(sp, "ae");
			if (!f || fprintf(f, "## %s\n\n%s\n", in->display, j.summary.ptr) < 0)
				(void)0; /* the summary is also in the log */
			if (f)
				(void)fclose(f);
			pthread_mutex_unlock(&r->lock);
		}
	}
	goto out;
oom:
	say(r, in, "error: out of memory");
out:
	in->secs = now() - t0;
	if (lockfd >= 0)
		(void)close(lockfd);
	if (made)
		step_files_give(r, j.dir);
	say(r, in, "job %s (%.2fs)", wf_status_name(result), in->secs);
	json_decref(j.env);
	json_decref(j.gh_env);
	json_decref(j.path_add);
	json_decref(j.step_out);
	json_decref(j.cache_saves);
	buf_release(&j.summary);
	json_decref(in->ctx);
	in->ctx = NULL;
	pthread_mutex_lock(&r->lock);
	in->result = result;
	in->done = 1;
	r->running--;
	in->js->running--;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* ---- scheduling ---- */

static int needs_done(struct run *r, struct jobst *js)
{
	size_t k;
	for (k = 0; k < js->job->n_needs; k++) {
		const struct wf_job *n = wf_job_find(r->wf, js->job->needs[k]);
		if (r->jobs[n - r->wf->jobs].state != JOB_DONE)
			return 0;
	}
	return 1;
}

/* Status for a job's if: failure when any ancestor failed, and so on. */
static int ancestors_status(struct run *r, const struct wf_job *job, int depth)
{
	size_t k;
	int st = WF_ST_SUCCESS;
	if (depth > 1000)
		return st;
	for (k = 0; k < job->n_needs; k++) {
		const struct wf_job *n = wf_job_find(r->wf, job->needs[k]);
		int res = r->jobs[n - r->wf->jobs].result, up = ancestors_status(r, n, depth + 1);
		if (res == WF_ST_FAILURE || up == WF_ST_FAILURE)
			return WF_ST_FAILURE;
		if (res == WF_ST_CANCELLED || up == WF_ST_CANCELLED)
			st = WF_ST_CANCELLED;
		else if (st == WF_ST_SUCCESS && (res == WF_ST_SKIPPED || up == WF_ST_SKIPPED))
			st = WF_ST_SKIPPED;
	}
	return st;
}

static json_t *needs_ctx(struct run *r, const struct wf_job *job)
{
	json_t *o = json_object();
	size_t k;
	for (k = 0; o && k < job->n_needs; k++) {
		const struct jobst *n = &r->jobs[wf_job_find(r->wf, job->needs[k]) - r->wf->jobs];
		json_t *e = json_pack("{s:s, s:O}", "result", wf_status_name(n->result), "outputs",
				      n->outputs);
		if (!e || json_object_set_new(o, job->needs[k], e) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* Contexts every job sees; deep copies, so threads share nothing. */
static json_t *base_ctx(struct run *r, const struct wf_job *job)
{
	json_t *gh = json_deep_copy(r->github);
	json_t *c = json_object();
	if (!gh || !c)
		goto fail;
	if (set_s(gh, "job", job->id) < 0 || json_object_set_new(c, "github", gh) < 0)
		goto fail_c;
	if (json_object_set_new(c, "needs", needs_ctx(r, job)) < 0 ||
	    json_object_set_new(c, "inputs", json_deep_copy(r->inputs)) < 0 ||
	    json_object_set_new(c, "vars", json_deep_copy(r->o->vars)) < 0 ||
	    json_object_set_new(c, "secrets", json_deep_copy(r->o->secrets)) < 0 ||
	    json_object_set_new(c, "env", json_object()) < 0 ||
	    json_object_set_new(c, "steps", json_object()) < 0 ||
	    json_object_set_new(c, "matrix", json_object()) < 0 ||
	    json_object_set_new(c, "strategy", json_object()) < 0 ||
	    json_object_set_new(c, "job", json_pack("{s:s}", "status", "success")) < 0 ||
	    json_object_set_new(c, "runner",
				json_pack("{s:s, s:s, s:s, s:s}", "os", "Linux", "arch", "X64",
					  "name", "kiln", "tool_cache", "/opt/hostedtoolcache")) <
		    0)
		goto fail_c;
	return c;
fail:
	json_decref(gh);
fail_c:
	json_decref(c);
	return NULL;
}

/* Environment variables of the GITHUB_ and RUNNER_ family for a job. */
static int genv(struct run *r, json_t *c, const struct wf_job *job)
{
	json_t *g = json_object_get(c, "github"), *e = json_object();
	static const char *const map[][2] = {{"GITHUB_SHA", "sha"},
					     {"GITHUB_REF", "ref"},
					     {"GITHUB_REF_NAME", "ref_name"},
					     {"GITHUB_REF_TYPE", "ref_type"},
					     {"GITHUB_EVENT_NAME", "event_name"},
					     {"GITHUB_EVENT_PATH", "event_path"},
					     {"GITHUB_RUN_ID", "run_id"},
					     {"GITHUB_RUN_NUMBER", "run_number"},
					     {"GITHUB_RUN_ATTEMPT", "run_attempt"},
					     {"GITHUB_REPOSITORY", "repository"},
					     {"GITHUB_REPOSITORY_OWNER", "repository_owner"},
					     {"GITHUB_ACTOR", "actor"},
					     {"GITHUB_WORKFLOW", "workflow"},
					     {"GITHUB_SERVER_URL", "server_url"},
					     {"GITHUB_API_URL", "api_url"},
					     {"GITHUB_GRAPHQL_URL", "graphql_url"},
					     {"GITHUB_HEAD_REF", "head_ref"},
					     {"GITHUB_BASE_REF", "base_ref"},
					     {"GITHUB_WORKSPACE", "workspace"},
					     {"GITHUB_TRIGGERING_ACTOR", "actor"}};
	size_t i;
	char ws[PATH_MAX];

	if (!e)
		return -1;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		json_t *v = json_object_get(g, map[i][1]);
		if (set_s(e, map[i][0], json_is_string(v) ? json_string_value(v) : "") < 0)
			goto fail;
	}
	snprintf(ws, sizeof(ws), "%s", r->o->workspace);
	if (strrchr(ws, '/') && strrchr(ws, '/') != ws)
		*strrchr(ws, '/') = '\0';
	if (set_s(e, "CI", "true") < 0 || set_s(e, "GITHUB_ACTIONS", "true") < 0 ||
	    set_s(e, "GITHUB_JOB", job->id) < 0 || set_s(e, "RUNNER_OS", "Linux") < 0 ||
	    set_s(e, "RUNNER_ARCH", "X64") < 0 || set_s(e, "RUNNER_NAME", "kiln") < 0 ||
	    set_s(e, "RUNNER_WORKSPACE", ws) < 0 ||
	    set_s(e, "RUNNER_TOOL_CACHE", "/opt/hostedtoolcache") < 0)
		goto fail;
	return json_object_set_new(c, "_genv", e);
fail:
	json_decref(e);
	return -1;
}

static char *display_name(struct run *r, const struct wf_job *job, json_t *ctx, json_t *matrix)
{
	struct buf b = BUF_INIT;
	struct err err = ERR_INIT;
	const char *k;
	json_t *v;
	int first = 1;

	if (r->o->prefix && buf_addf(&b, "%s/", r->o->prefix) < 0)
		goto fail;
	if (job->name) {
		size_t keep = b.len;
		if (evaluate_str(&(struct jctx){.run = r, .ctx = ctx, .status = WF_ST_SUCCESS},
				 job->name->str, &b, &err) == 0)
			return buf_take(&b, NULL);
		buf_setlen(&b, keep);
	}
	if (buf_adds(&b, job->id) < 0)
		goto fail;
	if (json_object_size(matrix)) {
		if (buf_adds(&b, " (") < 0)
			goto fail;
		json_object_foreach(matrix, k, v)
		{
			if ((!first && buf_adds(&b, ", ") < 0) || wf__to_str(v, &b) < 0)
				goto fail;
			first = 0;
		}
		if (buf_addch(&b, ')') < 0)
			goto fail;
	}
	return buf_take(&b, NULL);
fail:
	buf_release(&b);
	return NULL;
}

/*
 * Clone mode: each instance gets its own checkout of the event's commit,
 * with a .git file pointing at the run's clone (made once per run, objects
 * hard-linked): a job sees what was committed, can use git, and cannot change
 * the user's files or repository. Runs on the scheduler (main) thread:
 * libgit2 is only used there.
 */
static int clone_ws(struct run *r, struct inst *in, struct err *err)
{
	git_checkout_options ck;
	struct buf ws = BUF_INIT, gitfile = BUF_INIT, link = BUF_INIT;
	int rc = -1;

	if (git_checkout_options_init(&ck, GIT_CHECKOUT_OPTIONS_VERSION) < 0)
		return err_set(err, ERR_INTERNAL, "libgit2 options");
	if (buf_addf(&ws, "%s/ws%d", r->tmp, ++r->n_ws) < 0 ||
	    buf_addf(&gitfile, "%s/.git", ws.ptr) < 0 ||
	    buf_addf(&link, "gitdir: %s\n", git_repository_path(r->repo)) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (mkdir(ws.ptr, 0755) < 0) {
		err_set(err, ERR_IO, "cannot create '%s': %s", ws.ptr, strerror(errno));
		goto out;
	}
	ck.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX;
	ck.target_directory = ws.ptr;
	if (git_checkout_tree(r->repo, r->commit, &ck) < 0) {
		err_set(err, ERR_IO, "cannot check out the workspace: %s",
			git_error_last() ? git_error_last()->message : "git error");
		goto out;
	}
	if (write_file(gitfile.ptr, link.ptr, link.len) < 0) {
		err_set(err, ERR_IO, "cannot write '%s': %s", gitfile.ptr, strerror(errno));
		goto out;
	}
	in->ws = buf_take(&ws, NULL);
	rc = in->ws ? 0 : err_set(err, ERR_NOMEM, "out of memory");
out:
	buf_release(&ws);
	buf_release(&gitfile);
	buf_release(&link);
	return rc;
}

/* Decides whether a ready job runs, and if so creates its instances. */
/* Evaluates a concurrency: node into *group (NULL when empty) and *cip. */
static int conc_eval(struct run *r, json_t *ctx, const struct wf_node *n, char **group, int *cip,
		     struct err *err)
{
	struct jctx tmp = {.run = r, .ctx = ctx, .status = WF_ST_SUCCESS, .ws = r->o->workspace};
	const struct wf_node *g = n->kind == WF_NODE_SCALAR ? n : wf__map_get(n, "group");
	struct buf b = BUF_INIT;

	*group = NULL;
	*cip = 0;
	if (n->kind != WF_NODE_SCALAR &&
	    node_bool(&tmp, wf__map_get(n, "cancel-in-progress"), cip, err) < 0)
		return -1;
	if (!g || evaluate_str(&tmp, g->str, &b, err) < 0) {
		buf_release(&b);
		return g ? -1 : 0;
	}
	if (b.len)
		*group = buf_take(&b, NULL);
	buf_release(&b);
	return 0;
}

static void plan_job(struct run *r, struct jobst *js)
{
	const struct wf_job *job = js->job;
	json_t *ctx = base_ctx(r, job), *combos = NULL, *strategy = NULL;
	struct wf_expr_ctx c = {ctx, WF_ST_SUCCESS, NULL, NULL};
	struct err err = ERR_INIT;
	int go = 0;
	size_t i;
	double mp = 0;

	js->outputs = json_object();
	if (!ctx || !js->outputs) {
		err_set(&err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	c.status = ancestors_status(r, job, 0);
	if (wf__cond(job->if_ ? job->if_ : "", &c, &go, &err) < 0)
		goto fail;
	if (!go) {
		js->state = JOB_DONE;
		js->result = WF_ST_SKIPPED;
		pthread_mutex_unlock(&r->lock);
		say(r, NULL, "[%s] job skipped", job->id);
		pthread_mutex_lock(&r->lock);
		json_decref(ctx);
		return;
	}
	c.status = WF_ST_SUCCESS;
	if (job->strategy && job->strategy->kind == WF_NODE_SCALAR) {
		strategy = wf__node_eval(job->strategy, &c, &err);
		if (!strategy)
			goto fail;
		combos = json_object_get(strategy, "matrix")
				 ? wf__matrix_expand(json_object_get(strategy, "matrix"), &err)
				 : json_pack("[{}]");
	} else if (job->matrix) {
		json_t *m = wf__node_eval(job->matrix, &c, &err);
		if (!m)
			goto fail;
		combos = wf__matrix_expand(m, &err);
		json_decref(m);
	} else {
		combos = json_pack("[{}]");
	}
	if (!combos)
		goto fail;
	js->fail_fast = 1;
	if (job->fail_fast) {
		json_t *v = wf__node_eval(job->fail_fast, &c, &err);
		if (!v)
			goto fail;
		js->fail_fast = wf__truthy(v) &&
				!(json_is_string(v) && strcmp(json_string_value(v), "false") == 0);
		json_decref(v);
	}
	if (node_num(ctx, WF_ST_SUCCESS, job->max_parallel, &mp, &err, NULL) < 0)
		goto fail;
	js->max_parallel = mp >= 1 ? (int)mp : INT_MAX;
	js->n_inst = json_array_size(combos);
	js->inst = mem_calloc(js->n_inst, sizeof(*js->inst));
	if (!js->inst) {
		err_set(&err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < js->n_inst; i++) {
		struct inst *in = &js->inst[i];
		json_t *m = json_array_get(combos, i), *ic = json_deep_copy(ctx);
		in->run = r;
		in->js = js;
		in->index = (int)i;
		in->ctx = ic;
		if (r->repo && clone_ws(r, in, &err) < 0)
			goto fail;
		if (in->ws && set_s(json_object_get(ic, "github"), "workspace", in->ws) < 0) {
			err_set(&err, ERR_NOMEM, "out of memory");
			goto fail;
		}
		if (!ic || json_object_set(ic, "matrix", m) < 0 ||
		    json_object_set_new(ic, "strategy",
					json_pack("{s:b, s:i, s:i, s:i}", "fail-fast",
						  js->fail_fast, "job-index", (int)i, "job-total",
						  (int)js->n_inst, "max-parallel",
						  js->max_parallel == INT_MAX ? (int)js->n_inst
									      : js->max_parallel)) <
			    0 ||
		    genv(r, ic, job) < 0 || !(in->display = display_name(r, job, ic, m))) {
			err_set(&err, ERR_NOMEM, "out of memory");
			goto fail;
		}
		if (job->concurrency &&
		    conc_eval(r, ic, job->concurrency, &in->group, &in->cip, &err) < 0)
			goto fail;
	}
	{
		int coe = 0;
		struct jctx tmp = {.run = r, .ctx = ctx, .status = WF_ST_SUCCESS};
		if (node_bool(&tmp, job->continue_on_error, &coe, &err) < 0)
			goto fail;
		js->allow_fail = coe;
	}
	js->state = JOB_RUNNING;
	json_decref(ctx);
	json_decref(combos);
	json_decref(strategy);
	return;
fail:
	pthread_mutex_unlock(&r->lock);
	say(r, NULL, "[%s] error: %s", job->id, err.msg);
	pthread_mutex_lock(&r->lock);
	for (i = 0; js->inst && i < js->n_inst; i++) {
		json_decref(js->inst[i].ctx);
		js->inst[i].ctx = NULL;
		js->inst[i].done = 1;
		js->inst[i].result = WF_ST_FAILURE;
	}
	js->state = JOB_DONE;
	js->result = WF_ST_FAILURE;
	json_decref(ctx);
	json_decref(combos);
	json_decref(strategy);
}

static void finish_job(struct run *r, struct jobst *js)
{
	size_t i;
	int res = WF_ST_SUCCESS;
	for (i = 0; i < js->n_inst; i++) {
		struct inst *in = &js->inst[i];
		if (in->result == WF_ST_FAILURE)
			res = WF_ST_FAILURE;
		else if (in->result == WF_ST_CANCELLED && res == WF_ST_SUCCESS)
			res = WF_ST_CANCELLED;
		if (in->outputs)
			(void)json_object_update(js->outputs, in->outputs);
		if (in->secs > js->secs)
			js->secs = in->secs;
	}
	if (res != WF_ST_SUCCESS && js->allow_fail)
		res = WF_ST_SUCCESS;
	js->result = res;
	js->state = JOB_DONE;
}

/*
 * Concurrency groups within the run (caller holds the run lock): 1 when IN
 * must wait. As on GitHub, a group has at most one running and one pending
 * instance: a newer pending instance cancels an older pending one, and with
 * cancel-in-progress it cancels the running one too.
 */
static int conc_blocked(struct run *r, struct inst *in, int *progress)
{
	size_t i, k;
	int blocked = 0, len;
	char msg[400];

	for (i = 0; i < r->wf->n_jobs; i++) {
		struct jobst *js = &r->jobs[i];
		for (k = 0; k < js->n_inst; k++) {
			struct inst *x = &js->inst[k];
			if (x == in || x->done || !x->group || strcmp(x->group, in->group) != 0)
				continue;
			if (x->started) {
				blocked = 1;
				if (in->cip && !x->cancel) {
					x->cancel = 1;
					kill_group(x->pgid);
					*progress = 1;
					len = snprintf(msg, sizeof(msg),
						       "cancelling: '%.100s' of concurrency group "
						       "'%.200s' has cancel-in-progress",
						       in->display, x->group);
					emit_locked(r, x, r->o->log, msg, (size_t)len);
				}
			} else if (x->waiting && (!in->waiting || x->wait_seq < in->wait_seq)) {
				x->waiting = 0;
				x->done = 1;
				x->result = WF_ST_CANCELLED;
				*progress = 1;
				len = snprintf(msg, sizeof(msg),
					       "cancelled: '%.100s' is now the pending job of "
					       "concurrency group '%.200s'",
					       in->display, x->group);
				emit_locked(r, x, r->o->log, msg, (size_t)len);
			} else if (x->waiting) {
				blocked = 1; /* a newer pending one cancels this one */
			}
		}
	}
	if (blocked && !in->waiting) {
		in->waiting = 1;
		in->wait_seq = ++r->conc_seq;
	}
	return blocked;
}

static void schedule(struct run *r)
{
	const struct wf *wf = r->wf;
	size_t i, k;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		int progress = 0, all_done = 1;
		for (i = 0; i < wf->n_jobs; i++) {
			struct jobst *js = &r->jobs[i];
			if (!js->wanted || js->state != JOB_PENDING || !needs_done(r, js))
				continue;
			plan_job(r, js);
			progress = 1;
		}
		for (i = 0; i < wf->n_jobs; i++) {
			struct jobst *js = &r->jobs[i];
			int busy = 0;
			if (js->state != JOB_RUNNING)
				continue;
			for (k = 0; k < js->n_inst; k++) {
				struct inst *in = &js->inst[k];
				if (!in->done && in->started)
					busy = 1;
				if (in->started || in->done)
					continue;
				if (js->ff_cancel) {
					in->done = 1;
					in->result = WF_ST_CANCELLED;
					progress = 1;
					continue;
				}
				if (r->running >= r->o->max_jobs || js->running >= js->max_parallel)
					continue;
				if (in->group && conc_blocked(r, in, &progress))
					continue;
				in->waiting = 0;
				in->started = 1;
				r->running++;
				js->running++;
				busy = 1;
				if (pthread_create(&in->th, NULL, inst_main, in) != 0) {
					in->started = 0;
					in->done = 1;
					in->result = WF_ST_FAILURE;
					r->running--;
					js->running--;
				}
				progress = 1;
			}
			/* fail-fast: a failed instance cancels its siblings */
			if (js->fail_fast && !js->allow_fail && !js->ff_cancel) {
				for (k = 0; k < js->n_inst; k++) {
					if (js->inst[k].done &&
					    js->inst[k].result == WF_ST_FAILURE) {
						size_t m;
						js->ff_cancel = 1;
						for (m = 0; m < js->n_inst; m++) {
							js->inst[m].cancel = 1;
							kill_group(js->inst[m].pgid);
						}
						progress = 1;
						break;
					}
				}
			}
			if (!busy) {
				int all = 1;
				for (k = 0; k < js->n_inst; k++)
					all = all && js->inst[k].done;
				if (all) {
					for (k = 0; k < js->n_inst; k++) {
						if (js->inst[k].started && !js->inst[k].joined) {
							pthread_mutex_unlock(&r->lock);
							pthread_join(js->inst[k].th, NULL);
							pthread_mutex_lock(&r->lock);
							js->inst[k].joined = 1;
						}
					}
					finish_job(r, js);
					progress = 1;
				}
			}
		}
		for (i = 0; i < wf->n_jobs; i++)
			if (r->jobs[i].wanted && r->jobs[i].state != JOB_DONE)
				all_done = 0;
		if (all_done)
			break;
		if (!progress)
			pthread_cond_wait(&r->cond, &r->lock);
	}
	pthread_mutex_unlock(&r->lock);
}

/* ---- setup ---- */

static void want_job(struct run *r, const struct wf_job *job)
{
	size_t k;
	struct jobst *js = &r->jobs[job - r->wf->jobs];
	if (js->wanted)
		return;
	js->wanted = 1;
	for (k = 0; k < job->n_needs; k++)
		want_job(r, wf_job_find(r->wf, job->needs[k]));
}

/* sha and branch of the workspace's HEAD through libgit2; placeholders otherwise. */
static int git_info(json_t *gh, const char *ws)
{
	git_repository *repo = NULL;
	git_reference *head = NULL;
	char sha[GIT_OID_HEXSZ + 1] = "0000000000000000000000000000000000000000";
	const char *ref = "refs/heads/main", *name = "main";
	int rc;

	git_libgit2_init();
	if (git_repository_open_ext(&repo, ws, 0, NULL) == 0 &&
	    git_repository_head(&head, repo) == 0) {
		const git_oid *oid = git_reference_target(head);
		if (oid)
			git_oid_tostr(sha, sizeof(sha), oid);
		ref = git_reference_name(head);
		name = git_reference_shorthand(head);
	}
	rc = set_s(gh, "sha", sha) | set_s(gh, "ref", ref) | set_s(gh, "ref_name", name) |
	     set_s(gh, "ref_type", "branch");
	git_reference_free(head);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

/* github.ref, ref_name and ref_type from a full ref name ("refs/tags/v1"). */
static int event_ref(json_t *gh, const char *ref)
{
	const char *name = ref, *type = "branch";
	if (strncmp(ref, "refs/heads/", 11) == 0) {
		name = ref + 11;
	} else if (strncmp(ref, "refs/tags/", 10) == 0) {
		name = ref + 10;
		type = "tag";
	}
	return set_s(gh, "ref", ref) | set_s(gh, "ref_name", name) | set_s(gh, "ref_type", type);
}

static json_t *github_ctx(struct run *r, const char *event_path)
{
	const struct wf_run_opts *o = r->o;
	json_t *gh = json_object(), *pr = json_object_get(o->event, "pull_request");
	const char *slash = strrchr(o->workspace, '/');
	char repo[300], id[32];
	json_t *user = json_object_get(r->procenv, "USER");

	if (!gh)
		return NULL;
	snprintf(repo, sizeof(repo), "local/%s", slash ? slash + 1 : o->workspace);
	snprintf(id, sizeof(id), "%ld", (long)getpid());
	if (set_s(gh, "event_name", o->event_name) < 0 ||
	    json_object_set(gh, "event", o->event) < 0 || set_s(gh, "event_path", event_path) < 0 ||
	    set_s(gh, "workspace", o->workspace) < 0 || set_s(gh, "repository", repo) < 0 ||
	    set_s(gh, "repository_owner", "local") < 0 ||
	    set_s(gh, "actor", json_is_string(user) ? json_string_value(user) : "kiln") < 0 ||
	    set_s(gh, "run_id", id) < 0 || set_s(gh, "run_number", "1") < 0 ||
	    set_s(gh, "run_attempt", "1") < 0 || set_s(gh, "workflow", r->wf->name) < 0 ||
	    set_s(gh, "server_url", "https://github.com") < 0 ||
	    set_s(gh, "api_url", "https://api.github.com") < 0 ||
	    set_s(gh, "graphql_url", "https://api.github.com/graphql") < 0 ||
	    set_s(gh, "action", "") < 0 || set_s(gh, "token", "") < 0 ||
	    set_s(gh, "retention_days", "0") < 0 || git_info(gh, o->workspace) < 0)
		goto fail;
	{
		/* A push event names its ref and commit: they win over HEAD, as on GitHub. */
		json_t *ev_ref = json_object_get(o->event, "ref");
		json_t *after = json_object_get(o->event, "after");
		if (json_is_string(ev_ref) && event_ref(gh, json_string_value(ev_ref)) < 0)
			goto fail;
		if (json_is_string(after) && strlen(json_string_value(after)) == GIT_OID_HEXSZ &&
		    set_s(gh, "sha", json_string_value(after)) < 0)
			goto fail;
	}
	{
		json_t *h = json_object_get(json_object_get(pr, "head"), "ref");
		json_t *b = json_object_get(json_object_get(pr, "base"), "ref");
		if (set_s(gh, "head_ref", json_is_string(h) ? json_string_value(h) : "") < 0 ||
		    set_s(gh, "base_ref", json_is_string(b) ? json_string_value(b) : "") < 0)
			goto fail;
	}
	return gh;
fail:
	json_decref(gh);
	return NULL;
}

/* mkdir -p for a path kiln builds itself. */
static int mkdirs(const char *path)
{
	char tmp[1024];
	size_t i;
	if (strlen(path) >= sizeof(tmp))
		return -1;
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (i = 1; tmp[i]; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		tmp[i] = '/';
	}
	return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* Creates runs_root/N with the next free N (mkdir is the lock). */
static int make_rundir(struct run *r, struct err *err)
{
	const char *root = r->o->runs_root;
	int n;
	if (strlen(root) > 900)
		return err_set(err, ERR_INVALID, "runs directory path too long");
	if (mkdirs(root) < 0)
		return err_set(err, ERR_IO, "cannot create '%s': %s", root, strerror(errno));
	for (n = 1; n < 1000000; n++) {
		struct stat st;
		snprintf(r->rundir, sizeof(r->rundir), "%s/%d", root, n);
		if (stat(r->rundir, &st) == 0)
			continue;
		if (mkdir(r->rundir, 0755) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	r->rundir[0] = '\0';
	return err_set(err, ERR_IO, "cannot create a run directory under '%s': %s", root,
		       strerror(errno));
}

static void write_run_summary(struct run *r, int failed)
{
	json_t *jobs = json_array(), *sum;
	char path[1100];
	size_t i, q;
	char *text;

	for (i = 0; jobs && i < r->wf->n_jobs; i++) {
		struct jobst *js = &r->jobs[i];
		if (!js->wanted)
			continue;
		for (q = 0; q < (js->n_inst ? js->n_inst : 1); q++) {
			const struct inst *in = js->n_inst ? &js->inst[q] : NULL;
			json_t *e =
				json_pack("{s:s, s:s, s:f}", "job",
					  in && in->display ? in->display : js->job->id, "result",
					  wf_status_name(in ? in->result : js->result), "seconds",
					  in ? in->secs : 0.0);
			if (e)
				(void)json_array_append_new(jobs, e);
		}
	}
	sum = json_pack("{s:s, s:s, s:s, s:o?}", "workflow", r->wf->path, "event", r->o->event_name,
			"result", failed ? "failure" : "success", "jobs", jobs);
	text = sum ? json_dumps(sum, JSON_INDENT(2)) : NULL;
	snprintf(path, sizeof(path), "%s/summary.json", r->rundir);
	if (!text || write_file(path, text, strlen(text)) < 0)
		say(r, NULL, "warning: cannot write '%s'", path);
	free(text);
	json_decref(sum);
}

/*
 * Clone mode needs the workspace to be the top of a repository with a HEAD
 * commit; then every job instance works in its own clone of that commit.
 */
static int open_source(struct run *r)
{
	git_repository *repo = NULL, *cl = NULL;
	git_reference *head = NULL;
	git_checkout_options ck;
	const char *wd;
	size_t n = strlen(r->o->workspace);
	char dir[1100];
	int rc = -1;

	git_libgit2_init();
	if (git_checkout_options_init(&ck, GIT_CHECKOUT_OPTIONS_VERSION) < 0)
		goto out;
	if (git_repository_open_ext(&repo, r->o->workspace, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) <
		    0 ||
	    !(wd = git_repository_workdir(repo)) || strncmp(wd, r->o->workspace, n) != 0 ||
	    (wd[n] != '\0' && strcmp(wd + n, "/") != 0) || git_repository_head(&head, repo) < 0 ||
	    !git_reference_target(head))
		goto out;
	git_oid_cpy(&r->head, git_reference_target(head));
	/*
	 * The run's repository: a fresh one that borrows the user's objects
	 * (objects/info/alternates, nothing copied), HEAD detached at the commit,
	 * index and files of it. No remote is made: git_clone would, and leaks
	 * in libgit2's config regex matching.
	 */
	snprintf(dir, sizeof(dir), "%s/repo", r->tmp);
	ck.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (git_repository_init(&cl, dir, 0) < 0)
		goto out;
	{
		struct buf alt = BUF_INIT, obj = BUF_INIT;
		int ok =
			buf_addf(&alt, "%sobjects/info/alternates", git_repository_path(cl)) == 0 &&
			buf_addf(&obj, "%sobjects\n", git_repository_path(repo)) == 0 &&
			write_file(alt.ptr, obj.ptr, obj.len) == 0;
		buf_release(&alt);
		buf_release(&obj);
		git_repository_free(cl);
		cl = NULL;
		if (!ok || git_repository_open(&cl, dir) < 0)
			goto out;
	}
	if (git_repository_set_head_detached(cl, &r->head) < 0 || git_checkout_head(cl, &ck) < 0 ||
	    git_object_lookup(&r->commit, cl, &r->head, GIT_OBJECT_COMMIT) < 0)
		goto out;
	r->repo = cl;
	cl = NULL;
	rc = 0;
out:
	git_reference_free(head);
	git_repository_free(repo);
	git_repository_free(cl);
	if (rc < 0)
		git_libgit2_shutdown();
	return rc;
}

/* Every uses: must be something kiln provides; checked before anything runs. */
static int check_uses(const struct wf *wf, struct err *err)
{
	static const char *const ok[] = {"actions/checkout@",	     "actions/setup-python@",
					 "actions/setup-node@",	     "actions/setup-go@",
					 "actions/upload-artifact@", "actions/download-artifact@",
					 "actions/cache@",	     NULL};
	size_t i, k, m;
	for (i = 0; i < wf->n_jobs; i++) {
		if (wf->jobs[i].uses && strncmp(wf->jobs[i].uses, "./", 2) != 0)
			return err_set(err, ERR_INVALID,
				       "%s:%d:%d: unsupported reusable workflow '%s' (only local "
				       "ones, uses: ./path/to/workflow.yml)",
				       wf->path, wf->jobs[i].line, wf->jobs[i].col,
				       wf->jobs[i].uses);
		for (k = 0; k < wf->jobs[i].n_steps; k++) {
			const struct wf_step *s = &wf->jobs[i].steps[k];
			int found = 0;
			if (!s->uses)
				continue;
			for (m = 0; ok[m]; m++)
				found = found || strncmp(s->uses, ok[m], strlen(ok[m])) == 0;
			if (!found && strncmp(s->uses, "./", 2) != 0)
				return err_set(
					err, ERR_INVALID,
					"%s:%d:%d: unsupported action '%s' (kiln provides "
					"actions/checkout, setup-python, setup-node, setup-go, "
					"upload-artifact, download-artifact, cache and local "
					"./ actions; nothing is fetched from the network)",
					wf->path, s->line, s->col, s->uses);
		}
	}
	return 0;
}

static int proc_env(struct run *r)
{
	char *const *e;
	r->procenv = json_object();
	if (!r->procenv)
		return -1;
	for (e = r->o->environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		char key[256];
		json_t *v;
		if (!eq || eq == *e || (size_t)(eq - *e) >= sizeof(key))
			continue;
		memcpy(key, *e, (size_t)(eq - *e));
		key[eq - *e] = '\0';
		v = json_string(eq + 1);
		if (v && json_object_set_new(r->procenv, key, v) < 0)
			return -1;
	}
	return 0;
}

int wf_run(const struct wf *wf, const struct wf_run_opts *o, struct wf_result **results,
	   size_t *n_results, struct err *err)
{
	struct run r;
	char evpath[1100];
	const char *k;
	json_t *v;
	size_t i, n = 0;
	int rc = -1, failed = 0, wf_lock = -1;
	char *evjson = NULL;

	memset(&r, 0, sizeof(r));
	r.wf = wf;
	r.o = o;
	if (results)
		*results = NULL;
	if (n_results)
		*n_results = 0;
	if (check_uses(wf, err) < 0)
		return -1;
	if (o->job && !wf_job_find(wf, o->job))
		return err_set(err, ERR_NOTFOUND, "no job '%s' in %s", o->job, wf->path);
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	if (o->tmpdir && strlen(o->tmpdir) > 900) {
		err_set(err, ERR_INVALID, "temporary directory path too long");
		goto out;
	}
	snprintf(r.tmp, sizeof(r.tmp), "%s/kiln-run.XXXXXX", o->tmpdir ? o->tmpdir : "/tmp");
	if (!mkdtemp(r.tmp)) {
		err_set(err, ERR_IO, "cannot create a temporary directory: %s", strerror(errno));
		r.tmp[0] = '\0';
		goto out;
	}
	if (o->run_dir && strlen(o->run_dir) < sizeof(r.rundir))
		snprintf(r.rundir, sizeof(r.rundir), "%s", o->run_dir);
	else if (o->runs_root && make_rundir(&r, err) < 0)
		goto out;
	if (r.rundir[0]) {
		char lp[1100];
		snprintf(lp, sizeof(lp), "%s/log.txt", r.rundir);
		r.logf = fopen(lp, "ae");
		if (!r.logf) {
			err_set(err, ERR_IO, "cannot open '%s': %s", lp, strerror(errno));
			goto out;
		}
		setvbuf(r.logf, NULL, _IOLBF, 0);
		if (!o->run_dir)
			say(&r, NULL, "run kept in %s", r.rundir);
	}
	snprintf(evpath, sizeof(evpath), "%s/event.json", r.tmp);
	evjson = json_dumps(o->event, JSON_INDENT(2) | JSON_ENCODE_ANY);
	if (!evjson || write_file(evpath, evjson, strlen(evjson)) < 0) {
		err_set(err, ERR_IO, "cannot write '%s'", evpath);
		goto out;
	}
	/* a called workflow reuses the caller's github context: libgit2 is only
	 * used from the main thread */
	r.github = o->github ? json_deep_copy(o->github) : NULL;
	if (r.github)
		(void)json_object_del(r.github, "action_path"); /* -1: it was not there */
	if (r.github && set_s(r.github, "workflow", wf->name) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (proc_env(&r) < 0 || (!r.github && !(r.github = github_ctx(&r, evpath)))) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (o->flags & WF_RUN_CALLED) {
		r.inputs = json_deep_copy(o->inputs);
	} else {
		struct wf_expr_ctx ic = {NULL, WF_ST_SUCCESS, NULL, NULL};
		ic.ctx = json_pack("{s:O}", "github", r.github);
		r.inputs = ic.ctx ? wf__inputs(wf, o->event_name, o->event, o->inputs, &ic, err)
				  : NULL;
		json_decref(ic.ctx);
	}
	if (!r.inputs)
		goto out;
	json_object_foreach(o->secrets, k, v)
	{
		if (json_is_string(v) && wf__mask_add(&r.masks, json_string_value(v)) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (!(o->flags & (WF_RUN_WORKDIR | WF_RUN_CALLED)) && open_source(&r) < 0)
		say(&r, NULL, "note: not a git repository with a commit: jobs run in %s itself",
		    o->workspace);
	r.jobs = mem_calloc(wf->n_jobs, sizeof(*r.jobs));
	if (!r.jobs) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < wf->n_jobs; i++)
		r.jobs[i].job = &wf->jobs[i];
	if (wf->concurrency) {
		json_t *cc = json_pack("{s:O, s:O, s:O}", "github", r.github, "inputs", r.inputs,
				       "vars", o->vars);
		int cip = 0;
		if (!cc || conc_eval(&r, cc, wf->concurrency, &r.wf_group, &cip, err) < 0) {
			json_decref(cc);
			if (!cc)
				err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		json_decref(cc);
		if (r.wf_group)
			wf_lock = conc_lock(&r, NULL, r.wf_group);
	}
	if (o->job)
		want_job(&r, wf_job_find(wf, o->job));
	else
		for (i = 0; i < wf->n_jobs; i++)
			r.jobs[i].wanted = 1;
	schedule(&r);
	for (i = 0; i < wf->n_jobs; i++) {
		if (!r.jobs[i].wanted)
			continue;
		n += r.jobs[i].n_inst ? r.jobs[i].n_inst : 1;
		if (r.jobs[i].result == WF_ST_FAILURE || r.jobs[i].result == WF_ST_CANCELLED)
			failed = 1;
	}
	if (results && n) {
		struct wf_result *res = mem_calloc(n, sizeof(*res));
		size_t m = 0, q;
		if (!res) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < wf->n_jobs; i++) {
			struct jobst *js = &r.jobs[i];
			if (!js->wanted)
				continue;
			if (!js->n_inst) {
				res[m].job = mem_strdup(js->job->id);
				res[m++].status = js->result;
				continue;
			}
			for (q = 0; q < js->n_inst; q++) {
				res[m].job = mem_strdup(js->inst[q].display ? js->inst[q].display
									    : js->job->id);
				res[m].status = js->inst[q].result;
				res[m++].secs = js->inst[q].secs;
			}
		}
		*results = res;
		*n_results = m;
	}
	for (i = 0; o->jobs_out && i < wf->n_jobs; i++) {
		json_t *e =
			json_pack("{s:s, s:O}", "result", wf_status_name(r.jobs[i].result),
				  "outputs", r.jobs[i].outputs ? r.jobs[i].outputs : json_null());
		if (!e || json_object_set_new(o->jobs_out, wf->jobs[i].id, e) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (r.rundir[0] && !o->run_dir)
		write_run_summary(&r, failed);
	rc = failed;
out:
	free(evjson);
	if (wf_lock >= 0)
		(void)close(wf_lock);
	mem_free(r.wf_group);
	if (r.logf)
		(void)fclose(r.logf); /* line-buffered: everything is written already */
	for (i = 0; r.jobs && i < wf->n_jobs; i++) {
		size_t q;
		for (q = 0; q < r.jobs[i].n_inst; q++) {
			mem_free(r.jobs[i].inst[q].display);
			mem_free(r.jobs[i].inst[q].ws);
			mem_free(r.jobs[i].inst[q].group);
			json_decref(r.jobs[i].inst[q].outputs);
			json_decref(r.jobs[i].inst[q].ctx);
		}
		mem_free(r.jobs[i].inst);
		json_decref(r.jobs[i].outputs);
	}
	mem_free(r.jobs);
	json_decref(r.github);
	json_decref(r.inputs);
	json_decref(r.procenv);
	wf__masks_release(&r.masks);
	if (r.repo) {
		git_object_free(r.commit);
		git_repository_free(r.repo);
		git_libgit2_shutdown();
	}
	if (r.tmp[0])
		(void)rm_rf(r.tmp); /* best effort: a leftover temp dir is harmless */
	pthread_mutex_destroy(&r.lock);
	pthread_cond_destroy(&r.cond);
	return rc;
}
