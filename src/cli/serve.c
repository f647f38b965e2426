/*
 * serve.c - `kiln serve MODEL.kiln` and `kiln serve NAME@ALIAS`: flags into a
 * struct srv_config, then src/serve runs the server until SIGTERM / SIGINT.
 * Prints the bound address on stderr ("listening on http://HOST:PORT") so
 * scripts can read the port.
 */
#include "cli/cli.h"

#include "base/buf.h"
#include "base/log.h"
#include "serve/serve.h"
#include "store/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char cmd_serve_usage[] =
	"usage: kiln serve MODEL.kiln|NAME@ALIAS [--registry URL] [--poll SECONDS]\n"
	"                  [--host ADDR] [--port N] [--threads N] [--name NAME]\n"
	"                  [--model-version V] [--max-body BYTES] [--max-connections N]\n"
	"                  [--timeout SECONDS] [--drain-timeout SECONDS] [--no-watch]\n"
	"                  [--access-log FILE] [--log-requests DIR] [--log-sample F]\n"
	"                  [--log-max-bytes BYTES]\n"
	"\n"
	"Serves a model bundle over HTTP: POST /predict, KServe V1 (/v1/models/NAME),\n"
	"Open Inference Protocol V2 (/v2/...), GET /health, /ready and /metrics.\n"
	"SIGHUP or a change of MODEL.kiln loads it again and swaps it in once it\n"
	"passes its own checks; SIGTERM and SIGINT finish requests in flight and exit.\n"
	"\n"
	"NAME@ALIAS serves the version an alias of the kiln server's registry points\n"
	"at: the bundle is downloaded (verified) into $KILN_HOME/cache/models/, the\n"
	"alias is polled and a new version swapped in when it moves (SIGHUP polls at\n"
	"once). A version that fails to download or load keeps the old one serving.\n"
	"\n"
	"  --registry URL         the kiln server (default $KILN_SERVER); token from\n"
	"                         $KILN_TOKEN or $KILN_TOKEN_FILE\n"
	"  --poll SECONDS         how often to ask where the alias points (default 2)\n"
	"  --host ADDR            numeric address to bind (default 127.0.0.1)\n"
	"  --port N               port (default 8080; 0 picks a free one)\n"
	"  --threads N            worker threads (default: one per core)\n"
	"  --name NAME            model name in routes (default: file name without .kiln)\n"
	"  --model-version V      version reported (default: the bundle's, else 1)\n"
	"  --max-body BYTES       largest request body; larger gets 413 (default 1048576)\n"
	"  --max-connections N    open connections at most (default 1024)\n"
	"  --timeout SECONDS      idle or slow connections are closed after this (default 30)\n"
	"  --drain-timeout SECONDS  on SIGTERM, wait this long for requests (default 10)\n"
	"  --no-watch             do not reload when the model file changes\n"
	"  --access-log FILE      one JSON line per request to FILE ('-': stderr)\n"
	"  --log-requests DIR     sampled inputs and predictions as JSON lines in\n"
	"                         DIR/requests.jsonl, with a request id (X-Request-Id)\n"
	"  --log-sample F         fraction of requests logged (default 1)\n"
	"  --log-max-bytes BYTES  rotate DIR/requests.jsonl past this size (default 67108864)\n";

/* Parses a whole decimal number in [lo, hi]. */
static int parse_num(const char *flag, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		cli_usage_error("serve", "%s: '%s' is not a number from %ld to %ld", flag, s, lo,
				hi);
		return -1;
	}
	*out = v;
	return 0;
}

enum {
	OPT_HOST = 256,
	OPT_PORT,
	OPT_THREADS,
	OPT_NAME,
	OPT_VERSION,
	OPT_MAX_BODY,
	OPT_MAX_CONN,
	OPT_TIMEOUT,
	OPT_DRAIN,
	OPT_NO_WATCH,
	OPT_ACCESS_LOG,
	OPT_LOG_DIR,
	OPT_LOG_SAMPLE,
	OPT_LOG_MAX,
	OPT_REGISTRY,
	OPT_POLL,
};

static int parse_args(int argc, char **argv, struct srv_config *cfg, const char **access_log)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, OPT_HOST},
		{"port", required_argument, NULL, OPT_PORT},
		{"threads", required_argument, NULL, OPT_THREADS},
		{"name", required_argument, NULL, OPT_NAME},
		{"model-version", required_argument, NULL, OPT_VERSION},
		{"max-body", required_argument, NULL, OPT_MAX_BODY},
		{"max-connections", required_argument, NULL, OPT_MAX_CONN},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"drain-timeout", required_argument, NULL, OPT_DRAIN},
		{"no-watch", no_argument, NULL, OPT_NO_WATCH},
		{"access-log", required_argument, NULL, OPT_ACCESS_LOG},
		{"log-requests", required_argument, NULL, OPT_LOG_DIR},
		{"log-sample", required_argument, NULL, OPT_LOG_SAMPLE},
		{"log-max-bytes", required_argument, NULL, OPT_LOG_MAX},
		{"registry", required_argument, NULL, OPT_REGISTRY},
		{"poll", required_argument, NULL, OPT_POLL},
		{NULL, 0, NULL, 0},
	};
	int c;
	long v = 0;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOST:
			cfg->http.host = optarg;
			break;
		case OPT_PORT:
			if (parse_num("--port", optarg, 0, 65535, &v) < 0)
				return -1;
			cfg->http.port = (unsigned)v;
			break;
		case OPT_THREADS:
			if (parse_num("--threads", optarg, 1, 256, &v) < 0)
				return -1;
			cfg->http.threads = (unsigned)v;
			break;
		case OPT_NAME:
			cfg->name = optarg;
			break;
		case OPT_VERSION:
			cfg->version = optarg;
			break;
		case OPT_MAX_BODY:
			if (parse_num("--max-body", optarg, 1, 1L << 30, &v) < 0)
				return -1;
			cfg->http.max_body = (size_t)v;
			break;
		case OPT_MAX_CONN:
			if (parse_num("--max-connections", optarg, 1, 100000, &v) < 0)
				return -1;
			cfg->http.max_connections = (unsigned)v;
			break;
		case OPT_TIMEOUT:
			if (parse_num("--timeout", optarg, 1, 86400, &v) < 0)
				return -1;
			cfg->http.timeout = (unsigned)v;
			break;
		case OPT_DRAIN:
			if (parse_num("--drain-timeout", optarg, 0, 3600, &v) < 0)
				return -1;
			cfg->drain_timeout_ms = v * 1000;
			break;
		case OPT_NO_WATCH:
			cfg->watch = 0;
			break;
		case OPT_ACCESS_LOG:
			*access_log = optarg;
			break;
		case OPT_LOG_DIR:
			cfg->log_dir = optarg;
			break;
		case OPT_LOG_SAMPLE: {
			char *end;
			double f;
			errno = 0;
			f = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(f > 0 && f <= 1)) {
				cli_usage_error("serve",
						"--log-sample: '%s' is not a number in (0, 1]",
						optarg);
				return -1;
			}
			cfg->log_sample = f;
			break;
		}
		case OPT_LOG_MAX:
			if (parse_num("--log-max-bytes", optarg, 1024, LONG_MAX, &v) < 0)
				return -1;
			cfg->log_max_bytes = (size_t)v;
			break;
		case OPT_REGISTRY:
			cfg->registry_url = optarg;
			break;
		case OPT_POLL:
			if (parse_num("--poll", optarg, 1, 86400, &v) < 0)
				return -1;
			cfg->poll_ms = v * 1000;
			break;
		default:
			cli_usage_error("serve", "unknown option '%s'", argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc - 1) {
		cli_usage_error("serve",
				optind >= argc ? "expected MODEL.kiln" : "unexpected argument '%s'",
				argv[argc - 1]);
		return -1;
	}
	cfg->model_path = argv[optind];
	return 0;
}

/*
 * NAME@ALIAS (not an existing file): registry mode. Splits the reference
 * into ref (which owns both strings), finds the server, the token and the
 * cache directory. 1: registry mode set up, 0: a model file, -1: error.
 */
static int registry_setup(struct srv_config *cfg, struct buf *ref, struct buf *home,
			  struct buf *tok, struct buf *cache, struct err *err)
{
	const char *arg = cfg->model_path, *at = strrchr(arg, '@');
	struct blob_config bc;
	struct stat st;
	if (!at || stat(arg, &st) == 0) {
		if (cfg->registry_url)
			return err_set(err, ERR_USAGE, "--registry needs NAME@ALIAS, not a file");
		return 0;
	}
	if (at == arg || !at[1])
		return err_set(err, ERR_USAGE, "'%s' is not NAME@ALIAS", arg);
	if (cfg->version)
		return err_set(err, ERR_USAGE,
			       "--model-version cannot be given for NAME@ALIAS: the registry "
			       "says");
	if (!cfg->registry_url || !*cfg->registry_url)
		cfg->registry_url = getenv("KILN_SERVER");
	if (!cfg->registry_url || !*cfg->registry_url)
		return err_set(err, ERR_USAGE,
			       "no registry for '%s': pass --registry URL or set KILN_SERVER", arg);
	if (buf_add(ref, arg, (size_t)(at - arg)) < 0 || buf_add(ref, "", 1) < 0 ||
	    buf_adds(ref, at + 1) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	cfg->ref_name = ref->ptr;
	cfg->ref_alias = ref->ptr + (at - arg) + 1;
	if (cli_token(tok, err) < 0 || cli_blob_config(&bc, NULL, home, err) < 0)
		return -1;
	if (!bc.home)
		return err_set(err, ERR_USAGE, "no cache directory: set KILN_HOME or HOME");
	if (buf_addf(cache, "%s/cache/models", bc.home) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	cfg->registry_token = tok->len ? tok->ptr : NULL;
	cfg->cache_dir = cache->ptr;
	if (!cfg->poll_ms)
		cfg->poll_ms = 2000;
	return 1;
}

int cmd_serve(int argc, char **argv)
{
	struct srv_config cfg = {0};
	struct err err = ERR_INIT;
	struct srv *s = NULL;
	struct buf ref = BUF_INIT, home = BUF_INIT, tok = BUF_INIT, cache = BUF_INIT;
	const char *access_log = NULL;
	int rc, v6;

	http_config_default(&cfg.http);
	cfg.drain_timeout_ms = 10000;
	cfg.watch = 1;
	cfg.log_sample = 1;
	cfg.log_max_bytes = 64UL << 20;
	if (parse_args(argc, argv, &cfg, &access_log) < 0)
		return EXIT_USAGE;
	if (registry_setup(&cfg, &ref, &home, &tok, &cache, &err) < 0) {
		rc = err.code == ERR_USAGE ? cli_usage_error("serve", "%s", err.msg)
					   : cli_fail(&err);
		goto out;
	}
	if (access_log && strcmp(access_log, "-") == 0) {
		cfg.http.access_log_fd = 2;
	} else if (access_log) {
		cfg.http.access_log_fd =
			open(access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (cfg.http.access_log_fd < 0) {
			err_set(&err, ERR_IO, "cannot open '%s': %s", access_log, strerror(errno));
			rc = cli_fail(&err);
			goto out;
		}
	}
	s = srv_start(&cfg, &err);
	if (!s) {
		rc = cli_fail(&err);
		goto out;
	}
	v6 = cfg.http.host && strchr(cfg.http.host, ':');
	fprintf(stderr, "kiln: serve: listening on http://%s%s%s:%u\n", v6 ? "[" : "",
		cfg.http.host, v6 ? "]" : "", srv_port(s));
	fflush(stderr);
	rc = srv_wait(s, &err) < 0 ? cli_fail(&err) : EXIT_OK;
	srv_free(s);
out:
	if (cfg.http.access_log_fd > 2)
		close(cfg.http.access_log_fd);
	buf_release(&ref);
	buf_release(&home);
	buf_release(&tok);
	buf_release(&cache);
	return rc;
}
