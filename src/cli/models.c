/*
 * models.c - `kiln models ls|show|versions|alias|rollback|history`: the
 * model registry of a kiln server, read and moved over its REST API
 * (ctl/client.h). A table on stdout, or the server's JSON with --json.
 * Not the server side: that is ctl/registry.c.
 */
#include "cli/cli.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "ctl/client.h"
#include "http/http.h"

#define API "/api/2.0/mlflow/"

const char cmd_models_usage[] =
	"usage: kiln models ls [--json] [--server URL]\n"
	"       kiln models show NAME [--json] [--server URL]\n"
	"       kiln models versions NAME [--json] [--server URL]\n"
	"       kiln models alias NAME ALIAS VERSION [--json] [--server URL]\n"
	"       kiln models rollback NAME ALIAS [--json] [--server URL]\n"
	"       kiln models history NAME ALIAS [--json] [--server URL]\n"
	"\n"
	"The model registry of a kiln server: registered models, their versions\n"
	"with lineage (git commit, data sha256, workflow run, bundle sha256) and\n"
	"aliases. 'alias' points ALIAS at VERSION (a deployment when servers follow\n"
	"it); 'rollback' moves ALIAS back to where it pointed before its last move\n"
	"(again: further back); 'history' lists the moves of ALIAS, newest first.\n"
	"\n"
	"  --json        print the server's JSON instead of a table\n"
	"  --server URL  the kiln server (also --registry; default: $KILN_SERVER)\n"
	"\n"
	"Writes send 'Authorization: Bearer TOKEN' from $KILN_TOKEN or the file\n"
	"$KILN_TOKEN_FILE. Exit 1 on an error from the server, 2 on a usage error\n"
	"or when no server is configured.\n";

/* One invocation: the client and the parsed arguments. */
struct models_ctx {
	struct ctl_client *c;
	struct cli_remote_args a;
};

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static long long num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* The first n characters of s, for hashes in tables ("-" when empty). */
static const char *short_hash(const char *s, char *out, size_t n)
{
	snprintf(out, n, "%s", *s ? s : "-");
	return out;
}

/* Aliases of a model ([{alias, version}]) or a version (["a", "b"]) as "a=1,b=2" / "a,b". */
static void join_aliases(json_t *arr, struct buf *b)
{
	size_t i;
	json_t *x;
	buf_reset(b);
	json_array_foreach(arr, i, x)
	{
		int rc = json_is_string(x) ? buf_addf(b, "%s%s", i ? "," : "", json_string_value(x))
					   : buf_addf(b, "%s%s=%s", i ? "," : "", str(x, "alias"),
						      str(x, "version"));
		if (rc < 0)
			break; /* ENOMEM: the table shows what fit */
	}
	if (b->len == 0)
		(void)buf_adds(b, "-");
}

static int models_ls(struct models_ctx *m, struct err *err)
{
	const char *query[] = {"max_results", "1000", NULL};
	json_t *all = NULL, *x;
	struct buf al = BUF_INIT;
	size_t i;
	int ret = -1;
	if (cli_fetch_pages(m->c, API "registered-models/search", query, "registered_models", &all,
			    err) < 0)
		goto out;
	if (m->a.json) {
		json_t *o = json_pack("{s:O}", "registered_models", all);
		cli_print_json(o);
		json_decref(o);
		ret = 0;
		goto out;
	}
	printf("%-24s %-7s %-24s %-19s %s\n", "NAME", "LATEST", "ALIASES", "UPDATED",
	       "DESCRIPTION");
	json_array_foreach(all, i, x)
	{
		long long latest = 0;
		size_t k;
		json_t *v;
		char t[32];
		json_array_foreach(json_object_get(x, "latest_versions"), k, v)
		{
			long long n = strtoll(str(v, "version"), NULL, 10);
			latest = n > latest ? n : latest;
		}
		join_aliases(json_object_get(x, "aliases"), &al);
		cli_format_ms(num(x, "last_updated_timestamp"), t, sizeof(t));
		printf("%-24s %-7lld %-24s %-19s %s\n", str(x, "name"), latest, al.ptr, t,
		       str(x, "description"));
	}
	ret = 0;
out:
	buf_release(&al);
	json_decref(all);
	return ret;
}

/* The versions of name (every page), newest first, into *out. */
static int fetch_versions(struct models_ctx *m, const char *name, json_t **out, struct err *err)
{
	struct buf filter = BUF_INIT;
	const char *query[] = {"filter", NULL, "max_results", "1000", NULL};
	int ret;
	if (strchr(name, '\''))
		return err_set(err, ERR_INVALID, "model name '%s' holds a quote", name);
	if (buf_addf(&filter, "name = '%s'", name) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	query[1] = filter.ptr;
	ret = cli_fetch_pages(m->c, API "model-versions/search", query, "model_versions", out, err);
	buf_release(&filter);
	return ret;
}

static void print_versions(json_t *versions)
{
	struct buf al = BUF_INIT;
	size_t i;
	json_t *v;
	printf("%-7s %-19s %-16s %-32s %-12s %-12s %-12s %s\n", "VERSION", "CREATED", "ALIASES",
	       "RUN", "GIT_COMMIT", "DATA_SHA256", "BUNDLE", "WORKFLOW_RUN");
	json_array_foreach(versions, i, v)
	{
		json_t *l = json_object_get(v, "kiln_lineage");
		char t[32], g[13], d[13], b[13];
		const char *wr = str(l, "workflow_run");
		join_aliases(json_object_get(v, "aliases"), &al);
		cli_format_ms(num(v, "creation_timestamp"), t, sizeof(t));
		printf("%-7s %-19s %-16s %-32s %-12s %-12s %-12s %s\n", str(v, "version"), t,
		       al.ptr, *str(v, "run_id") ? str(v, "run_id") : "-",
		       short_hash(str(l, "git_commit"), g, sizeof(g)),
		       short_hash(str(l, "data_sha256"), d, sizeof(d)),
		       short_hash(str(l, "bundle_sha256"), b, sizeof(b)), *wr ? wr : "-");
	}
	buf_release(&al);
}

/* show NAME (versions: 0) or versions NAME (1). */
static int models_show(struct models_ctx *m, int versions_only, struct err *err)
{
	const char *query[] = {"name", m->a.pos[0], NULL};
	json_t *r = NULL, *versions = NULL, *model, *x;
	struct buf al = BUF_INIT;
	char t1[32], t2[32];
	size_t i;
	int ret = -1;
	/* The model first: an unknown name is a 404, not an empty list. */
	if (ctl_client_call(m->c, HTTP_GET, API "registered-models/get", query, NULL, &r, err) <
		    0 ||
	    fetch_versions(m, m->a.pos[0], &versions, err) < 0)
		goto out;
	model = json_object_get(r, "registered_model");
	if (m->a.json) {
		json_t *o = versions_only ? json_pack("{s:O}", "model_versions", versions)
					  : json_pack("{s:O,s:O}", "registered_model", model,
						      "model_versions", versions);
		cli_print_json(o);
		json_decref(o);
		ret = 0;
		goto out;
	}
	if (!versions_only) {
		join_aliases(json_object_get(model, "aliases"), &al);
		cli_format_ms(num(model, "creation_timestamp"), t1, sizeof(t1));
		cli_format_ms(num(model, "last_updated_timestamp"), t2, sizeof(t2));
		printf("name:        %s\n", str(model, "name"));
		printf("description: %s\n",
		       *str(model, "description") ? str(model, "description") : "-");
		printf("created:     %s\nupdated:     %s\n", t1, t2);
		printf("aliases:     %s\n", al.ptr);
		json_array_foreach(json_object_get(model, "tags"), i, x)
		{
			printf("tag:         %s=%s\n", str(x, "key"), str(x, "value"));
		}
		printf("versions:    %zu\n\n", json_array_size(versions));
	}
	print_versions(versions);
	ret = 0;
out:
	buf_release(&al);
	json_decref(r);
	json_decref(versions);
	return ret;
}

static int models_alias(struct models_ctx *m, struct err *err)
{
	const char *name = m->a.pos[0], *alias = m->a.pos[1], *ver = m->a.pos[2];
	json_t *body, *r = NULL;
	char *end;
	long long v = strtoll(ver, &end, 10);
	if (*end || v <= 0 || end == ver)
		return err_set(err, ERR_USAGE, "invalid version '%s': a number from 1", ver);
	body = json_pack("{s:s,s:s,s:s}", "name", name, "alias", alias, "version", ver);
	if (!body)
		return err_set(err, ERR_INVALID, "name and alias must be UTF-8");
	if (ctl_client_call(m->c, HTTP_POST, API "registered-models/alias", NULL, body, &r, err) <
	    0) {
		json_decref(body);
		return -1;
	}
	if (m->a.json)
		cli_print_json(body);
	else
		printf("%s@%s -> version %lld\n", name, alias, v);
	json_decref(body);
	json_decref(r);
	return 0;
}

static int models_rollback(struct models_ctx *m, struct err *err)
{
	json_t *body = json_pack("{s:s,s:s}", "name", m->a.pos[0], "alias", m->a.pos[1]), *r = NULL;
	json_t *from;
	if (!body)
		return err_set(err, ERR_INVALID, "name and alias must be UTF-8");
	if (ctl_client_call(m->c, HTTP_POST, "/api/2.0/kiln/aliases/rollback", NULL, body, &r,
			    err) < 0) {
		json_decref(body);
		return -1;
	}
	from = json_object_get(r, "from");
	if (m->a.json)
		cli_print_json(r);
	else if (json_is_integer(from))
		printf("%s@%s: version %lld -> %lld\n", m->a.pos[0], m->a.pos[1],
		       (long long)json_integer_value(from), num(r, "version"));
	else
		printf("%s@%s: (unset) -> version %lld\n", m->a.pos[0], m->a.pos[1],
		       num(r, "version"));
	json_decref(body);
	json_decref(r);
	return 0;
}

static int models_history(struct models_ctx *m, struct err *err)
{
	const char *query[] = {"name", m->a.pos[0], "alias", m->a.pos[1], NULL};
	json_t *r = NULL, *x;
	size_t i;
	if (ctl_client_call(m->c, HTTP_GET, "/api/2.0/kiln/aliases/history", query, NULL, &r, err) <
	    0)
		return -1;
	if (m->a.json) {
		cli_print_json(r);
		json_decref(r);
		return 0;
	}
	printf("%-19s %-8s %-6s %-6s %s\n", "TIME", "KIND", "FROM", "TO", "UNDONE");
	json_array_foreach(json_object_get(r, "moves"), i, x)
	{
		char t[32], from[24];
		json_t *f = json_object_get(x, "from");
		cli_format_ms(num(x, "time"), t, sizeof(t));
		if (json_is_integer(f))
			snprintf(from, sizeof(from), "%lld", (long long)json_integer_value(f));
		else
			snprintf(from, sizeof(from), "-");
		printf("%-19s %-8s %-6s %-6lld %s\n", t, str(x, "kind"), from, num(x, "to"),
		       json_is_true(json_object_get(x, "undone")) ? "yes" : "no");
	}
	json_decref(r);
	return 0;
}

static const struct models_sub {
	const char *name;
	int (*fn)(struct models_ctx *m, struct err *err); /* NULL: models_show */
	int npos;					  /* positional arguments */
	int flag;					  /* passed to models_show */
} subs[] = {
	{"ls", models_ls, 0, 0},
	{"show", NULL, 1, 0},
	{"versions", NULL, 1, 1},
	{"alias", models_alias, 3, 0},
	{"rollback", models_rollback, 2, 0},
	{"history", models_history, 2, 0},
};

int cmd_models(int argc, char **argv)
{
	struct models_ctx m = {0};
	struct err err = ERR_INIT;
	const struct models_sub *s = NULL;
	int rc;
	if (argc < 2)
		return cli_usage_error("models",
				       "missing subcommand (ls, show, versions, alias, rollback, "
				       "history)");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			s = &subs[i];
	if (!s)
		return cli_usage_error("models", "unknown subcommand '%s'", argv[1]);
	rc = cli_remote_parse("models", argc - 1, argv + 1, s->npos, s->npos, &m.a);
	if (rc)
		return rc;
	if (cli_client_open(m.a.server, &m.c, &err) < 0)
		return cli_fail(&err);
	rc = s->fn ? s->fn(&m, &err) : models_show(&m, s->flag, &err);
	ctl_client_free(m.c);
	return rc < 0 ? cli_fail(&err) : EXIT_OK;
}
