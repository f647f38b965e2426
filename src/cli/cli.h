/*
 * cli.h - the commands of kiln, one file each under src/cli/.
 *
 * Adding a command means:
 *   1. src/cli/<name>.c with a purpose comment, a usage string
 *      (cmd_<name>_usage) and int cmd_<name>(int argc, char **argv);
 *   2. its declaration below and a line in the table in src/main.c;
 *   3. a page docs/cmd/<name>.md;
 *   4. an e2e test tests/e2e/tNNNN-<name>-<what>.sh.
 * A command returns its exit code: 0 ok, 1 failed, 2 usage. Only main.c
 * and cli/ write to stdout or exit.
 */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <stddef.h>

#include "base/err.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage; /* full text of `kiln help NAME` */
	const char *summary;
};

/* The command table (src/main.c), terminated by a NULL name. */
extern const struct cmd cli_commands[];
const struct cmd *cli_find(const char *name);

/* Prints "kiln: error: <msg>" on stderr; returns the exit code for the error. */
int cli_fail(const struct err *err);
/*
 * For a command that allocates megabytes and exits (train, predict): large
 * blocks from the heap, kept when freed, the first 30 MB on transparent
 * huge pages. Best effort; results do not depend on it.
 */
void cli_heap_tuning(void);
/* Prints "kiln NAME: <msg>" and the usage line hint; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when the argument vector asks for help (-h / --help) at argv[1]. */
int cli_wants_help(int argc, char **argv);
/* Prints the usage text of a command to stdout; returns EXIT_OK. */
int cli_print_usage(const char *name);

int cmd_help(int argc, char **argv);
int cmd_version(int argc, char **argv);

extern const char cmd_help_usage[];
extern const char cmd_version_usage[];

/* data */
int cmd_data(int argc, char **argv);
extern const char cmd_data_usage[];

/* train, predict */
int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
extern const char cmd_train_usage[];
extern const char cmd_predict_usage[];

/* eval */
int cmd_eval(int argc, char **argv);
extern const char cmd_eval_usage[];

/* serve */
int cmd_serve(int argc, char **argv);
extern const char cmd_serve_usage[];

/* run, runs */
int cmd_run(int argc, char **argv);
extern const char cmd_run_usage[];
int cmd_runs(int argc, char **argv);
extern const char cmd_runs_usage[];

/* server, models, exp */
int cmd_server(int argc, char **argv);
extern const char cmd_server_usage[];
/* models, exp (cli/models.c, cli/exp.c) */
int cmd_models(int argc, char **argv);
extern const char cmd_models_usage[];
int cmd_exp(int argc, char **argv);
extern const char cmd_exp_usage[];

/* `kiln train --register NAME [--alias A] [--experiment E] [--server URL]` */
struct ctl_client;
struct json_t;
struct cli_register {
	const char *name;	/* NULL: no registration */
	const char *alias;	/* NULL: none */
	const char *experiment; /* NULL: $MLFLOW_EXPERIMENT_NAME, else "Default" */
	const char *server;	/* NULL: $KILN_SERVER */
};
/*
 * After `kiln train` wrote the bundle (cli/register.c): in the experiment
 * (created when missing) creates a run with lineage tags, logs the
 * hyperparameters as params and the test metrics, uploads the bundle as
 * the run's artifact model/model.kiln, creates the registered model when
 * missing and a version with source, run_id and lineage (bundle and data
 * sha256, git commit, workflow run from GITHUB_*), moves r->alias when
 * given, and ends the run FINISHED. manifest is the bundle's (borrowed).
 * Returns a new object {name, version, run_id, experiment_id, source,
 * alias}, or NULL with err set (one line; the run, once created, is ended
 * FAILED; the bundle file is left alone).
 */
struct json_t *cli_train_register(struct ctl_client *c, const struct cli_register *r,
				  const char *bundle, const char *sha256,
				  const struct json_t *manifest, struct err *err);

/*
 * The kiln server a command talks to (cli/client.c): url_flag (--server or
 * --registry) or else $KILN_SERVER; the token from $KILN_TOKEN or the file
 * named by $KILN_TOKEN_FILE. ERR_USAGE "no kiln server: set KILN_SERVER or
 * pass --server URL" when there is none. *out is freed with ctl_client_free.
 */
struct ctl_client;
int cli_client_open(const char *url_flag, struct ctl_client **out, struct err *err);
/*
 * Reads a token file (kiln server --token-file, $KILN_TOKEN_FILE): its first
 * line without surrounding blanks, into tok (may end up empty). Files over
 * 4 KiB are refused.
 */
struct buf;
int cli_read_token_file(const char *path, struct buf *tok, struct err *err);

/*
 * The arguments of a sub-command that talks to the server (`kiln models
 * show NAME --json --server URL`), parsed by cli_remote_parse from argv
 * (argv[0] is the sub-command): --json, --server/--registry URL, and
 * between min and max positional arguments (pointers into argv). Returns 0,
 * or EXIT_USAGE after printing the usage error for cmd.
 */
#define CLI_REMOTE_MAX_POS 4
struct cli_remote_args {
	const char *server; /* NULL: $KILN_SERVER */
	int json;
	int npos;
	const char *pos[CLI_REMOTE_MAX_POS];
};
int cli_remote_parse(const char *cmd, int argc, char **argv, int min, int max,
		     struct cli_remote_args *a);
/* Writes j to stdout as indented JSON and a newline (j borrowed). */
struct json_t;
void cli_print_json(struct json_t *j);
/*
 * GET path with query (NULL-terminated key, value pairs; at most
 * CLI_FETCH_MAX_ARGS) page after page (next_page_token), and collects the
 * arrays under key of every reply into *out (a new JSON array; the caller
 * decrefs it). 0, or -1 with err set.
 */
#define CLI_FETCH_MAX_ARGS 8
int cli_fetch_pages(struct ctl_client *c, const char *path, const char *const *query,
		    const char *key, struct json_t **out, struct err *err);
/* "2026-11-23 19:30:00" (UTC) for epoch milliseconds; "-" for 0. */
void cli_format_ms(long long ms, char *out, size_t n);

/* (data push, data pull: slot of the data remote CLI) */
int cmd_data_push(int argc, char **argv);
int cmd_data_pull(int argc, char **argv);
extern const char cmd_data_push_usage[];
extern const char cmd_data_pull_usage[];

/*
 * Blob stores from the environment (cli/blob_env.c).
 * cli_blob_config: the local store of `kiln data`: url (a flag) or else
 * $KILN_BLOBS, else <home>/blobs with home $KILN_HOME or ~/.kiln, written
 * to *home (which must outlive cfg); the AWS_* variables for S3.
 * cli_remote_config: a remote: flag, else $KILN_REMOTE, else $KILN_SERVER
 * (ERR_USAGE when none); for http(s):// the token from $KILN_TOKEN or the
 * first line of $KILN_TOKEN_FILE goes to *tok and cfg->token.
 * cli_token (cli/client.c): that token alone ("" when neither variable is
 * set; an empty KILN_TOKEN_FILE is an error).
 */
struct blob_config;
struct buf;
int cli_blob_config(struct blob_config *cfg, const char *url, struct buf *home, struct err *err);
int cli_remote_config(struct blob_config *cfg, const char *flag, struct buf *home, struct buf *tok,
		      struct err *err);
int cli_token(struct buf *tok, struct err *err);
/*
 * The pointer files named by args: FILE.kiln, FILE (when FILE.kiln exists)
 * or a directory (every *.kiln under it, skipping .git); no args: the
 * current directory. Sorted, without duplicates, no "./" prefix.
 * ERR_NOTFOUND names an argument that is not tracked. Free with
 * cli_paths_release.
 */
struct cli_paths {
	char **v;
	size_t n;
};
int cli_pointer_paths(char *const *args, size_t n, struct cli_paths *out, struct err *err);
void cli_paths_release(struct cli_paths *p);

/* data add, data status (cli/data_store.c; dispatched from data.c's table) */
int cmd_data_add(int argc, char **argv);
int cmd_data_status(int argc, char **argv);
extern const char cmd_data_add_usage[];
extern const char cmd_data_status_usage[];

#endif
