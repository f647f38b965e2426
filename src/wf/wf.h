/*
 * wf.h - the workflow engine: load a GitHub Actions workflow file, validate
 * it before anything runs, and run its jobs on this machine (no containers).
 * A struct wf owns everything it points to (one arena); wf_free releases it.
 * Errors from wf_load carry file:line:col.
 */
#ifndef KILN_WF_WF_H
#define KILN_WF_WF_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

struct wf_node;

struct wf_step {
	int line, col;
	const char *id;	  /* NULL when the step has no id */
	const char *name; /* may hold ${{ }}; NULL when absent */
	const char *if_;  /* NULL: success() */
	const char *run;  /* exactly one of run and uses is set */
	const char *uses;
	const char *shell;
	const char *working_directory;
	const struct wf_node *with, *env; /* maps or NULL */
	const struct wf_node *continue_on_error, *timeout_minutes;
};

struct wf_job {
	int line, col;
	const char *id;
	const struct wf_node *name; /* NULL: the id */
	const char **needs;
	size_t n_needs;
	const char *if_;
	const struct wf_node *env, *outputs, *strategy, *matrix;
	const struct wf_node *fail_fast, *max_parallel;
	const struct wf_node *continue_on_error, *timeout_minutes;
	const char *shell, *working_directory; /* defaults.run */
	const char *uses;		       /* reusable workflow */
	const struct wf_node *with, *secrets;
	const struct wf_node *concurrency; /* a group template or {group, cancel-in-progress} */
	struct wf_step *steps;
	size_t n_steps;
};

struct wf {
	const char *path;
	const char *name; /* workflow name or its path */
	const struct wf_node *on, *env;
	const struct wf_node *concurrency;     /* as wf_job's */
	const char *shell, *working_directory; /* defaults.run */
	struct wf_job *jobs;
	size_t n_jobs;
	void *arena; /* internal */
};

/*
 * Parses and validates the workflow at path. Returns a workflow (free with
 * wf_free) or NULL with err set to "file:line:col: reason" for YAML errors,
 * unknown keys, wrong types, `uses` with `run`, missing or cyclic needs and
 * invalid expressions.
 */
struct wf *wf_load(const char *path, struct err *err);
/* As wf_load, from text in memory; path only names the file in errors. */
struct wf *wf_load_mem(const char *text, size_t len, const char *path, struct err *err);
void wf_free(struct wf *wf);
/* The job with this id, or NULL. */
const struct wf_job *wf_job_find(const struct wf *wf, const char *id);
/* 1 when the workflow's on: names event (scalar, list or map form). */
int wf_on_event(const struct wf *wf, const char *event);

/* What a push is: the ref's short name and the files its commit changed. */
struct wf_push {
	char ref_name[256]; /* "main", "v1.2" */
	int is_tag;
	char **paths; /* owned; release with wf_push_release */
	size_t n_paths;
	char action[64]; /* pull_request: the event's action ("opened"), "" when none */
};

/*
 * Fills p from the repository holding dir: HEAD's branch, and the files its
 * commit changed against its first parent (every file for a root commit).
 */
int wf_push_from_repo(const char *dir, struct wf_push *p, struct err *err);
void wf_push_release(struct wf_push *p);
/*
 * 1 when a push p starts the workflow: on: names push, and its branches,
 * branches-ignore, tags, tags-ignore, paths and paths-ignore filters (GitHub's
 * pattern syntax, later '!' patterns win) let it through.
 */
int wf_on_push(const struct wf *wf, const struct wf_push *p);
/*
 * For a pull_request or pull_request_target event: fills p->paths with the
 * files changed between the merge base of base and head (shas or branch
 * names; head NULL or "" is HEAD; an unknown base compares head with its
 * first parent). The caller sets p->ref_name (the base branch) and p->action.
 */
int wf_pr_from_repo(const char *dir, const char *base, const char *head, struct wf_push *p,
		    struct err *err);
/*
 * 1 when a pull_request(_target) event p starts the workflow: on: names
 * event, its types (default opened, synchronize, reopened) hold p->action
 * when set, branches / branches-ignore let the base branch through, and
 * paths / paths-ignore the changed files.
 */
int wf_on_pull_request(const struct wf *wf, const char *event, const struct wf_push *p);

enum wf_run_flags {
	WF_RUN_DRY = 1 << 0,	 /* plan and print, run nothing */
	WF_RUN_COLOR = 1 << 1,	 /* colour the job prefixes */
	WF_RUN_JSON = 1 << 2,	 /* summary as JSON on stdout */
	WF_RUN_CALLED = 1 << 3,	 /* a reusable workflow: inputs are final, no re-typing */
	WF_RUN_WORKDIR = 1 << 5, /* steps run in the workspace itself, not a clone */
	WF_RUN_SANDBOX = 1 << 4, /* steps under bubblewrap: workspace writable, no network */
};

/*
 * What a run needs. Objects are borrowed; values are strings. event is the
 * payload (github.event). out and log receive the step output lines (out) and
 * the engine's messages and summary (log).
 */
struct wf_run_opts {
	const char *event_name;
	json_t *event;
	json_t *inputs, *secrets, *vars, *env;
	const char *job; /* run only this job (and what it needs); NULL: all */
	const char *workspace;
	char *const *environ; /* the process environment steps inherit */
	const char *tmpdir;   /* for the run's scratch files; NULL: /tmp */
	int max_jobs;
	int flags;
	FILE *out;
	FILE *log;
	json_t *jobs_out;      /* when set, receives {job id: {result, outputs}} */
	const char *prefix;    /* prepended to job names in output (reusable workflows) */
	const json_t *github;  /* reusable workflows: the caller's github context */
	const char *runs_root; /* when set, the run is kept in runs_root/N/ (log, artifacts) */
	const char *run_dir;   /* reusable workflows: the caller's run directory */
	const char *cache_dir; /* actions/cache entries; NULL: the action fails */
};

/* Outcome of one job (matrix instances are separate results). */
struct wf_result {
	char *job;  /* display name; owned */
	int status; /* enum wf_status in internal.h: 0 success 1 failure 2 cancelled 3 skipped */
	double secs;
};

/*
 * Runs the workflow. Returns 0 when every job succeeded (or was skipped or
 * allowed to fail), 1 when the run failed, -1 with err set when it could not
 * start. results (may be NULL) receives one entry per job; free with
 * wf_results_free.
 */
int wf_run(const struct wf *wf, const struct wf_run_opts *o, struct wf_result **results,
	   size_t *n_results, struct err *err);
void wf_results_free(struct wf_result *r, size_t n);
/* "success", "failure", "cancelled", "skipped". */
const char *wf_status_name(int status);
/* Reads a dotenv file into obj (string values). */
int wf_dotenv_load(const char *path, json_t *obj, struct err *err);

#endif
