/*
 * server.c - `kiln server`: the control-plane daemon (MLflow REST subset,
 * model registry, artifacts and blobs; src/ctl/). Turns flags and the
 * environment into a config, binds, prints "listening on http://HOST:PORT"
 * on stderr and serves until SIGTERM or SIGINT, then drains.
 */
#include "cli/cli.h"

#include "base/buf.h"
#include "base/mem.h"
#include "ctl/ctl.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char cmd_server_usage[] =
	"usage: kiln server [--port 5000] [--host 127.0.0.1] [--db URL] [--blobs URL]\n"
	"                   [--token-file F] [--max-body BYTES]\n"
	"\n"
	"Runs the control plane: the MLflow REST 2.0 subset (experiments, runs,\n"
	"metrics, params, tags, search, registered models, versions, aliases,\n"
	"mlflow-artifacts) and kiln's routes (/api/2.0/kiln/resolve, /blobs/SHA).\n"
	"\n"
	"  --port N          port (default 5000; 0 picks a free one)\n"
	"  --host ADDR       address to bind (default 127.0.0.1)\n"
	"  --db URL          sqlite:PATH or postgres://... (default: $KILN_DB,\n"
	"                    else $KILN_HOME/kiln.db; KILN_HOME defaults to ~/.kiln)\n"
	"  --blobs URL       a directory or s3://bucket/prefix (default: $KILN_BLOBS,\n"
	"                    else $KILN_HOME/blobs); S3 settings from AWS_*\n"
	"  --token-file F    writes need 'Authorization: Bearer TOKEN' (the file's\n"
	"                    first line)\n"
	"  --max-body BYTES  largest upload of an artifact or blob (default: no limit;\n"
	"                    uploads go to $KILN_HOME/tmp as they arrive, not to\n"
	"                    memory); other bodies are limited to 1 MiB\n";

struct server_opts {
	const char *db, *blobs, *token_file;
	struct http_config http;
};

/* Prints a usage error; returns -1. */
static int usage_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)cli_usage_error("server", "%s", msg);
	return -1;
}

static int parse_args(int argc, char **argv, struct server_opts *o)
{
	enum { OPT_DB = 256, OPT_BLOBS, OPT_TOKEN, OPT_MAX_BODY };
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'},
		{"host", required_argument, NULL, 'H'},
		{"db", required_argument, NULL, OPT_DB},
		{"blobs", required_argument, NULL, OPT_BLOBS},
		{"token-file", required_argument, NULL, OPT_TOKEN},
		{"max-body", required_argument, NULL, OPT_MAX_BODY},
		{NULL, 0, NULL, 0},
	};
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+p:H:", opts, NULL)) != -1) {
		char *end;
		unsigned long long v;
		switch (c) {
		case 'p':
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || v > 65535 || optarg[0] == '-')
				return usage_fail("--port: '%s' is not a port", optarg);
			o->http.port = (unsigned)v;
			break;
		case 'H':
			o->http.host = optarg;
			break;
		case OPT_DB:
			o->db = optarg;
			break;
		case OPT_BLOBS:
			o->blobs = optarg;
			break;
		case OPT_TOKEN:
			o->token_file = optarg;
			break;
		case OPT_MAX_BODY:
			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1024 || optarg[0] == '-')
				return usage_fail("--max-body: '%s' is not a size >= 1024", optarg);
			o->http.max_upload = v;
			if (v < o->http.max_body)
				o->http.max_body = (size_t)v;
			break;
		case '?':
			return usage_fail("unknown or incomplete option '%s'", argv[optind - 1]);
		default:
			return usage_fail("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_fail("unexpected argument '%s'", argv[optind]);
	return 0;
}

/* The token: the first line of the file, without surrounding blanks. */
static int read_token(const char *path, struct buf *tok, struct err *err)
{
	if (cli_read_token_file(path, tok, err) < 0)
		return -1;
	if (tok->len == 0)
		return err_set(err, ERR_INVALID, "token file '%s' is empty", path);
	return 0;
}

int cmd_server(int argc, char **argv)
{
	struct server_opts o = {0};
	struct ctl_config cfg = {0};
	struct buf home = BUF_INIT, tok = BUF_INIT;
	struct err err = ERR_INIT;
	struct ctl *c = NULL;
	struct http_server *hs = NULL;
	const char *env_home = getenv("KILN_HOME"), *h = getenv("HOME");
	sigset_t set;
	int rc = EXIT_FAILED, sig, v6;

	http_config_default(&o.http);
	o.http.port = 5000;
	o.http.max_body = CTL_MAX_JSON_BODY; /* uploads are spooled (ctl_before_body) */
	if (parse_args(argc, argv, &o) < 0)
		return EXIT_USAGE;
	if (env_home && *env_home ? buf_adds(&home, env_home) < 0
	    : h && *h		  ? buf_addf(&home, "%s/.kiln", h) < 0
				  : buf_adds(&home, ".kiln") < 0) {
		err_set(&err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (mkdir(home.ptr, 0755) < 0 && errno != EEXIST) {
		err_set(&err, ERR_IO, "cannot create '%s': %s", home.ptr, strerror(errno));
		goto fail;
	}
	if (o.token_file && read_token(o.token_file, &tok, &err) < 0)
		goto fail;
	cfg.home = home.ptr;
	cfg.db_url = o.db ? o.db : getenv("KILN_DB");
	cfg.token = o.token_file ? tok.ptr : NULL;
	cfg.blobs.url = o.blobs ? o.blobs : getenv("KILN_BLOBS");
	cfg.blobs.home = home.ptr;
	cfg.blobs.s3_endpoint = getenv("AWS_ENDPOINT_URL");
	cfg.blobs.s3_region =
		getenv("AWS_REGION") ? getenv("AWS_REGION") : getenv("AWS_DEFAULT_REGION");
	cfg.blobs.s3_access_key = getenv("AWS_ACCESS_KEY_ID");
	cfg.blobs.s3_secret_key = getenv("AWS_SECRET_ACCESS_KEY");
	cfg.blobs.s3_session_token = getenv("AWS_SESSION_TOKEN");
	c = ctl_new(&cfg, &err);
	if (!c)
		goto fail;
	/* Before any thread starts, so the HTTP threads inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
		err_set(&err, ERR_IO, "cannot block signals");
		goto fail;
	}
	hs = ctl_listen(c, &o.http, &err);
	if (!hs)
		goto fail;
	v6 = strchr(o.http.host, ':') != NULL;
	fprintf(stderr, "kiln: server: listening on http://%s%s%s:%u\n", v6 ? "[" : "", o.http.host,
		v6 ? "]" : "", http_port(hs));
	fflush(stderr);
	if (sigwait(&set, &sig) != 0) {
		err_set(&err, ERR_IO, "sigwait failed");
		goto fail;
	}
	fprintf(stderr, "kiln: server: %s, draining\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	if (http_drain(hs, 10000) > 0)
		fprintf(stderr, "kiln: server: requests still in flight after 10 s\n");
	rc = EXIT_OK;
	goto out;
fail:
	rc = cli_fail(&err);
out:
	http_free(hs);
	ctl_free(c);
	buf_release(&home);
	buf_release(&tok);
	return rc;
}
