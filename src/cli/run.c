/*
 * run.c - `kiln run`: run GitHub Actions workflow files locally, no
 * containers. Turns argv into struct wf_run_opts, loads the workflows and
 * hands them to the engine (src/wf); prints the summary table or JSON.
 */
#include "base/buf.h"
#include "base/mem.h"
#include "cli/cli.h"
#include "wf/wf.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

const char cmd_run_usage[] =
	"usage: kiln run [WORKFLOW] [--event NAME] [--event-file JSON] [--job ID]\n"
	"                [--input K=V] [--secret K=V] [--secret-file F] [--env-file F]\n"
	"                [--var K=V] [--list] [--dry-run] [--jobs N] [--json] [--sandbox]\n"
	"                [--workdir DIR]\n"
	"\n"
	"Runs a GitHub Actions workflow on this machine, without containers.\n"
	"Without WORKFLOW, runs every .github/workflows/*.yml whose 'on:' names the event.\n"
	"\n"
	"  --event NAME       event that triggers the run (default: push)\n"
	"  --event-file JSON  event payload (github.event)\n"
	"  --job ID           run only this job and the jobs it needs\n"
	"  --input K=V        a workflow_dispatch / workflow_call input (repeatable)\n"
	"  --secret K=V       a secret (repeatable); masked in every log line\n"
	"  --secret-file F    secrets from a dotenv file\n"
	"  --env-file F       values for the env context from a dotenv file\n"
	"  --var K=V          a configuration variable (vars context; repeatable)\n"
	"  --list             list the jobs and exit\n"
	"  --dry-run          validate and show the plan; run nothing\n"
	"  --jobs N           run at most N jobs at once (default: 4)\n"
	"  --json             print the summary as JSON on stdout (step output goes to stderr)\n"
	"  --workdir DIR      run the steps in DIR itself (e.g. '.': with uncommitted\n"
	"                     changes); default: each job gets its own clone of HEAD\n"
	"  --sandbox          run steps under bubblewrap: only the workspace is writable,\n"
	"                     no network\n"
	"\n"
	"Exit status: 0 when every job succeeded, 1 when the run failed or a workflow\n"
	"is invalid, 2 on usage errors.\n";

struct run_cfg {
	const char *workflow, *event, *event_file, *job;
	json_t *inputs, *secrets, *vars, *env;
	int list, dry, json, jobs, sandbox;
	const char *workdir;
};

static int add_kv(json_t *obj, const char *arg, const char *opt)
{
	const char *eq = strchr(arg, '=');
	char *k;
	int rc;
	if (!eq || eq == arg)
		return cli_usage_error("run", "%s needs KEY=VALUE, not '%s'", opt, arg);
	k = mem_strndup(arg, (size_t)(eq - arg));
	if (!k)
		return EXIT_FAILED;
	rc = json_object_set_new(obj, k, json_string(eq + 1));
	mem_free(k);
	if (rc < 0)
		return cli_usage_error("run", "%s: value of '%s' is not valid UTF-8", opt, arg);
	return 0;
}

static int parse_args(int argc, char **argv, struct run_cfg *c, struct err *err)
{
	static const struct option opts[] = {{"workflow", required_argument, NULL, 'W'},
					     {"event", required_argument, NULL, 'e'},
					     {"event-file", required_argument, NULL, 'E'},
					     {"job", required_argument, NULL, 'j'},
					     {"input", required_argument, NULL, 'i'},
					     {"secret", required_argument, NULL, 's'},
					     {"secret-file", required_argument, NULL, 'S'},
					     {"env-file", required_argument, NULL, 'v'},
					     {"var", required_argument, NULL, 'V'},
					     {"list", no_argument, NULL, 'l'},
					     {"dry-run", no_argument, NULL, 'n'},
					     {"jobs", required_argument, NULL, 'J'},
					     {"json", no_argument, NULL, 'x'},
					     {"sandbox", no_argument, NULL, 'B'},
					     {"workdir", required_argument, NULL, 'w'},
					     {NULL, 0, NULL, 0}};
	int ch, rc;
	char *end;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'W':
			c->workflow = optarg;
			break;
		case 'e':
			c->event = optarg;
			break;
		case 'E':
			c->event_file = optarg;
			break;
		case 'j':
			c->job = optarg;
			break;
		case 'i':
			if ((rc = add_kv(c->inputs, optarg, "--input")) != 0)
				return rc;
			break;
		case 's':
			if ((rc = add_kv(c->secrets, optarg, "--secret")) != 0)
				return rc;
			break;
		case 'V':
			if ((rc = add_kv(c->vars, optarg, "--var")) != 0)
				return rc;
			break;
		case 'S':
			if (wf_dotenv_load(optarg, c->secrets, err) < 0)
				return cli_fail(err);
			break;
		case 'v':
			if (wf_dotenv_load(optarg, c->env, err) < 0)
				return cli_fail(err);
			break;
		case 'l':
			c->list = 1;
			break;
		case 'n':
			c->dry = 1;
			break;
		case 'x':
			c->json = 1;
			break;
		case 'B':
			c->sandbox = 1;
			break;
		case 'w':
			c->workdir = optarg;
			break;
		case 'J':
			errno = 0;
			c->jobs = (int)strtol(optarg, &end, 10);
			if (errno || *end || c->jobs < 1 || c->jobs > 256)
				return cli_usage_error("run", "--jobs must be 1..256, not '%s'",
						       optarg);
			break;
		case ':':
			return cli_usage_error("run", "option '%s' needs a value",
					       argv[optind - 1]);
		default:
			return cli_usage_error("run", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc && !c->workflow)
		c->workflow = argv[optind++];
	if (optind < argc)
		return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* The .yml and .yaml files of .github/workflows, sorted. */
static int find_workflows(char ***out, size_t *n, struct err *err)
{
	const char *dir = ".github/workflows";
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t cnt = 0, i, j;

	*out = NULL;
	*n = 0;
	if (!d)
		return err_set(err, ERR_NOTFOUND, "no workflow given and cannot open '%s': %s", dir,
			       strerror(errno));
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		struct buf p = BUF_INIT;
		char **nv;
		if (!((l > 4 && strcmp(de->d_name + l - 4, ".yml") == 0) ||
		      (l > 5 && strcmp(de->d_name + l - 5, ".yaml") == 0)))
			continue;
		nv = mem_reallocarray(v, cnt + 1, sizeof(*v));
		if (!nv || buf_addf(&p, "%s/%s", dir, de->d_name) < 0) {
			mem_free(nv ? nv : v);
			closedir(d);
			return err_set(err, ERR_NOMEM, "out of memory");
		}
		v = nv;
		v[cnt++] = buf_take(&p, NULL);
	}
	closedir(d);
	for (i = 1; i < cnt; i++)
		for (j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	*n = cnt;
	return 0;
}

static void list_jobs(const struct wf *wf)
{
	size_t i, k;
	for (i = 0; i < wf->n_jobs; i++) {
		const struct wf_job *j = &wf->jobs[i];
		printf("%s\t%s\t", wf->path, j->id);
		for (k = 0; k < j->n_needs; k++)
			printf("%s%s", k ? "," : "", j->needs[k]);
		printf("\n");
	}
}

static void dry_run(const struct wf *wf)
{
	size_t i, k, done = 0, round = 0;
	int *level = calloc(wf->n_jobs ? wf->n_jobs : 1, sizeof(int));
	if (!level)
		return;
	/* print jobs in the order they can start: by depth in the needs graph */
	while (done < wf->n_jobs && round <= wf->n_jobs) {
		for (i = 0; i < wf->n_jobs; i++) {
			const struct wf_job *j = &wf->jobs[i];
			int ready = !level[i];
			for (k = 0; ready && k < j->n_needs; k++) {
				size_t t = (size_t)(wf_job_find(wf, j->needs[k]) - wf->jobs);
				ready = level[t] && level[t] <= (int)round;
			}
			if (!ready)
				continue;
			level[i] = (int)round + 1;
			done++;
			printf("%s: job %s (stage %zu)\n", wf->path, j->id, round + 1);
			for (k = 0; k < j->n_steps; k++) {
				const struct wf_step *s = &j->steps[k];
				const char *what = s->name ? s->name : s->run ? s->run : s->uses;
				const char *nl = strchr(what, '\n');
				printf("  step %zu: %.*s\n", k + 1,
				       (int)(nl ? (size_t)(nl - what) : strlen(what)), what);
			}
		}
		round++;
	}
	free(level);
}

static int run_one(const char *path, const struct run_cfg *c, json_t *event, json_t *summary)
{
	struct err err = ERR_INIT;
	struct wf *wf = wf_load(path, &err);
	struct wf_run_opts o;
	struct wf_result *res = NULL;
	struct buf runs = BUF_INIT, cache = BUF_INIT;
	size_t n = 0, i;
	char cwd[4096], wdir[PATH_MAX];
	int rc;

	if (!wf)
		return cli_fail(&err);
	if (c->list) {
		list_jobs(wf);
		wf_free(wf);
		return EXIT_OK;
	}
	if (c->dry) {
		dry_run(wf);
		wf_free(wf);
		return EXIT_OK;
	}
	if (!getcwd(cwd, sizeof(cwd))) {
		wf_free(wf);
		err_set(&err, ERR_IO, "cannot get the current directory: %s", strerror(errno));
		return cli_fail(&err);
	}
	memset(&o, 0, sizeof(o));
	o.event_name = c->event;
	o.event = event;
	o.inputs = c->inputs;
	o.secrets = c->secrets;
	o.vars = c->vars;
	o.env = c->env;
	o.job = c->job;
	o.workspace = cwd;
	o.environ = environ;
	if (buf_addf(&runs, "%s/.kiln/runs", cwd) < 0) {
		wf_free(wf);
		err_set(&err, ERR_NOMEM, "out of memory");
		return cli_fail(&err);
	}
	if (buf_addf(&cache, "%s/.kiln/cache", cwd) < 0) {
		wf_free(wf);
		buf_release(&runs);
		err_set(&err, ERR_NOMEM, "out of memory");
		return cli_fail(&err);
	}
	o.runs_root = runs.ptr;
	o.cache_dir = cache.ptr;
	o.tmpdir = getenv("TMPDIR");
	o.max_jobs = c->jobs;
	o.out = c->json ? stderr : stdout;
	o.log = stderr;
	if (c->sandbox)
		o.flags |= WF_RUN_SANDBOX;
	if (c->workdir) {
		if (!realpath(c->workdir, wdir)) {
			wf_free(wf);
			buf_release(&runs);
			buf_release(&cache);
			err_set(&err, ERR_IO, "--workdir '%s': %s", c->workdir, strerror(errno));
			return cli_fail(&err);
		}
		o.workspace = wdir;
		o.flags |= WF_RUN_WORKDIR;
	}
	if (!c->json && isatty(fileno(stdout)) && !getenv("NO_COLOR"))
		o.flags |= WF_RUN_COLOR;
	rc = wf_run(wf, &o, &res, &n, &err);
	buf_release(&runs);
	buf_release(&cache);
	if (rc < 0) {
		wf_free(wf);
		return cli_fail(&err);
	}
	for (i = 0; i < n; i++) {
		if (c->json) {
			json_t *e =
				json_pack("{s:s, s:s, s:s, s:f}", "workflow", path, "job",
					  res[i].job ? res[i].job : "", "result",
					  wf_status_name(res[i].status), "seconds", res[i].secs);
			if (e)
				json_array_append_new(json_object_get(summary, "jobs"), e);
		} else {
			fprintf(stderr, "%-40s %-10s %8.2fs\n", res[i].job ? res[i].job : "",
				wf_status_name(res[i].status), res[i].secs);
		}
	}
	wf_results_free(res, n);
	wf_free(wf);
	return rc ? EXIT_FAILED : EXIT_OK;
}

int cmd_run(int argc, char **argv)
{
	struct run_cfg c;
	struct err err = ERR_INIT;
	json_t *event = NULL, *summary = NULL;
	char **files = NULL;
	size_t n = 0, i;
	int rc = EXIT_FAILED, one, have_push = 0, is_pr;
	struct wf_push push;

	memset(&c, 0, sizeof(c));
	c.event = "push";
	c.jobs = 4;
	c.inputs = json_object();
	c.secrets = json_object();
	c.vars = json_object();
	c.env = json_object();
	summary = json_pack("{s:[]}", "jobs");
	if (!c.inputs || !c.secrets || !c.vars || !c.env || !summary) {
		err_set(&err, ERR_NOMEM, "out of memory");
		rc = cli_fail(&err);
		goto out;
	}
	rc = parse_args(argc, argv, &c, &err);
	if (rc != 0)
		goto out;
	rc = EXIT_FAILED;
	if (c.event_file) {
		json_error_t je;
		event = json_load_file(c.event_file, JSON_DECODE_ANY, &je);
		if (!event) {
			err_set(&err, ERR_PARSE, "%s:%d:%d: %s", c.event_file, je.line, je.column,
				je.text);
			rc = cli_fail(&err);
			goto out;
		}
	} else if (!(event = json_object())) {
		goto out;
	}
	is_pr = strcmp(c.event, "pull_request") == 0 || strcmp(c.event, "pull_request_target") == 0;
	if (c.workflow) {
		rc = run_one(c.workflow, &c, event, summary);
	} else {
		if (find_workflows(&files, &n, &err) < 0) {
			rc = cli_fail(&err);
			goto out;
		}
		rc = EXIT_OK;
		/* a push of the current branch: its filters are checked against HEAD */
		if (strcmp(c.event, "push") == 0) {
			struct err gerr = ERR_INIT;
			have_push = wf_push_from_repo(".", &push, &gerr) == 0;
			if (!have_push)
				fprintf(stderr, "kiln: warning: %s; push filters are not checked\n",
					gerr.msg);
		} else if (is_pr) {
			/* pull_request filters: the base branch and the files the
			 * pull request changes (merge base of base and head..head) */
			struct err gerr = ERR_INIT;
			json_t *pr = json_object_get(event, "pull_request");
			const char *base = json_string_value(
				json_object_get(json_object_get(pr, "base"), "ref"));
			const char *bsha = json_string_value(
				json_object_get(json_object_get(pr, "base"), "sha"));
			const char *hsha = json_string_value(
				json_object_get(json_object_get(pr, "head"), "sha"));
			const char *action = json_string_value(json_object_get(event, "action"));
			memset(&push, 0, sizeof(push));
			snprintf(push.ref_name, sizeof(push.ref_name), "%s", base ? base : "main");
			snprintf(push.action, sizeof(push.action), "%s", action ? action : "");
			have_push =
				wf_pr_from_repo(".", bsha ? bsha : base, hsha, &push, &gerr) == 0;
			if (!have_push)
				fprintf(stderr,
					"kiln: warning: %s; pull_request filters are not checked\n",
					gerr.msg);
		}
		for (i = 0; i < n; i++) {
			struct wf *wf = wf_load(files[i], &err);
			if (!wf) {
				rc = cli_fail(&err);
				goto out;
			}
			if (!have_push)
				one = wf_on_event(wf, c.event);
			else if (is_pr)
				one = wf_on_pull_request(wf, c.event, &push);
			else
				one = wf_on_push(wf, &push);
			wf_free(wf);
			if (!one)
				continue;
			if (run_one(files[i], &c, event, summary) != EXIT_OK)
				rc = EXIT_FAILED;
		}
	}
	if (c.json && !c.list && !c.dry) {
		json_object_set_new(summary, "result",
				    json_string(rc == EXIT_OK ? "success" : "failure"));
		if (json_dumpf(summary, stdout, JSON_INDENT(2)) == 0)
			putchar('\n');
	}
out:
	if (have_push)
		wf_push_release(&push);
	for (i = 0; i < n; i++)
		mem_free(files[i]);
	mem_free(files);
	json_decref(event);
	json_decref(summary);
	json_decref(c.inputs);
	json_decref(c.secrets);
	json_decref(c.vars);
	json_decref(c.env);
	return rc;
}
