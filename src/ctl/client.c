/*
 * client.c - the client of `kiln server` (ctl/client.h): one libcurl easy
 * handle per struct ctl_client (connections are kept alive between calls),
 * JSON bodies with jansson, MLflow error replies turned into struct err.
 * Not a general HTTP client: no redirects, no cookies, no retries.
 */
#include "ctl/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/mem.h"
#include "http/http.h"

#define CLIENT_MAX_REPLY   (64u * 1024 * 1024) /* a JSON reply */
#define CLIENT_MAX_URL	   8192
#define CLIENT_TIMEOUT_DEF 30000L

struct ctl_client {
	CURL *curl;
	char *url;  /* without a final '/' */
	char *auth; /* "Authorization: Bearer TOKEN" or NULL */
	long timeout_ms;
};

/* What one request needs besides the client. All borrowed. */
struct client_req {
	int method;
	const char *path;
	const char *const *query;
	const char *body; /* JSON text or NULL */
	FILE *upload;	  /* PUT this file's bytes when non-NULL */
	curl_off_t upload_size;
	const char *if_none_match;
};

/* What came back. */
struct client_reply {
	long status;
	struct buf body;
	char etag[160];
};

struct ctl_client *ctl_client_new(const struct ctl_client_config *cfg, struct err *err)
{
	struct ctl_client *c = NULL;
	size_t n;
	if (!cfg->url ||
	    (strncmp(cfg->url, "http://", 7) != 0 && strncmp(cfg->url, "https://", 8) != 0)) {
		err_set(err, ERR_INVALID, "kiln server URL '%.200s': expected http://HOST:PORT",
			cfg->url ? cfg->url : "");
		return NULL;
	}
	n = strlen(cfg->url);
	if (n > CLIENT_MAX_URL / 2 || strpbrk(cfg->url, " \t\r\n?#")) {
		err_set(err, ERR_INVALID, "kiln server URL '%.200s': not a base URL", cfg->url);
		return NULL;
	}
	c = mem_calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->url = mem_strdup(cfg->url);
	if (!c->url)
		goto nomem;
	while (n > 0 && c->url[n - 1] == '/')
		c->url[--n] = '\0';
	if (cfg->token && *cfg->token) {
		struct buf b = BUF_INIT;
		if (strpbrk(cfg->token, "\r\n")) {
			err_set(err, ERR_INVALID, "the token holds a line break");
			ctl_client_free(c);
			return NULL;
		}
		if (buf_addf(&b, "Authorization: Bearer %s", cfg->token) < 0)
			goto nomem;
		c->auth = buf_take(&b, NULL);
		if (!c->auth)
			goto nomem;
	}
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : CLIENT_TIMEOUT_DEF;
	c->curl = curl_easy_init();
	if (!c->curl) {
		err_set(err, ERR_INTERNAL, "cannot initialise libcurl");
		ctl_client_free(c);
		return NULL;
	}
	return c;
nomem:
	err_set(err, ERR_NOMEM, "out of memory");
	ctl_client_free(c);
	return NULL;
}

void ctl_client_free(struct ctl_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	mem_free(c->url);
	mem_free(c->auth);
	mem_free(c);
}

const char *ctl_client_url(const struct ctl_client *c)
{
	return c->url;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t n = size * nmemb;
	return buf_add(b, ptr, n) < 0 ? 0 : n; /* 0 makes curl fail the transfer */
}

/* Keeps the ETag header's value (quotes included). */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct client_reply *r = ud;
	size_t n = size * nmemb, len;
	const char *v;
	if (n < 5 || strncasecmp(ptr, "etag:", 5) != 0)
		return n;
	v = ptr + 5;
	len = n - 5;
	while (len > 0 && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	if (len < sizeof(r->etag)) {
		memcpy(r->etag, v, len);
		r->etag[len] = '\0';
	}
	return n;
}

/* base URL + path + escaped query into url. */
static int build_url(struct ctl_client *c, const char *path, const char *const *query,
		     struct buf *url, struct err *err)
{
	char sep = '?';
	if (path[0] != '/')
		return err_set(err, ERR_INTERNAL, "client path '%.80s' lacks a leading '/'", path);
	if (buf_adds(url, c->url) < 0 || buf_adds(url, path) < 0)
		goto nomem;
	for (size_t i = 0; query && query[i] && query[i + 1]; i += 2) {
		char *k = curl_easy_escape(c->curl, query[i], 0);
		char *v = curl_easy_escape(c->curl, query[i + 1], 0);
		int rc = k && v ? buf_addf(url, "%c%s=%s", sep, k, v) : -1;
		curl_free(k);
		curl_free(v);
		if (rc < 0)
			goto nomem;
		sep = '&';
	}
	return 0;
nomem:
	return err_set(err, ERR_NOMEM, "out of memory");
}

/* Sets the method and what is sent. */
static void set_method(CURL *h, const struct client_req *rq)
{
	static const char *const names[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"};
	const char *name = "GET";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (rq->method == (1 << i))
			name = names[i];
	if (rq->upload) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READDATA, rq->upload);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, rq->upload_size);
	} else if (rq->method == HTTP_HEAD) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (rq->method != HTTP_GET) {
		const char *body = rq->body ? rq->body : "{}";
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	if (rq->method != HTTP_GET && rq->method != HTTP_POST && rq->method != HTTP_HEAD)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, name);
}

/* One HTTP exchange. A reply of any status is 0; -1 only when none came. */
static int perform(struct ctl_client *c, const struct client_req *rq, struct client_reply *rep,
		   struct err *err)
{
	struct buf url = BUF_INIT;
	struct curl_slist *hdrs = NULL, *h2;
	char errbuf[CURL_ERROR_SIZE] = "";
	char inm[200];
	CURLcode cc;
	int ret = -1;
	CURL *h = c->curl;

	if (build_url(c, rq->path, rq->query, &url, err) < 0)
		goto out;
	curl_easy_reset(h);
	h2 = curl_slist_append(hdrs, "Accept: application/json");
	hdrs = h2 ? h2 : hdrs;
	if (h2 && !rq->upload && rq->method != HTTP_GET && rq->method != HTTP_HEAD)
		hdrs = h2 = curl_slist_append(hdrs, "Content-Type: application/json");
	if (h2 && rq->upload)
		hdrs = h2 = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
	if (h2 && c->auth)
		hdrs = h2 = curl_slist_append(hdrs, c->auth);
	if (h2 && rq->if_none_match && *rq->if_none_match) {
		snprintf(inm, sizeof(inm), "If-None-Match: %s", rq->if_none_match);
		hdrs = h2 = curl_slist_append(hdrs, inm);
	}
	if (!h2) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url.ptr);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &rep->body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, rep);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	set_method(h, rq);
	cc = curl_easy_perform(h);
	if (cc == CURLE_WRITE_ERROR) {
		err_set(err, ERR_TOOBIG, "kiln server %s: reply larger than %u bytes", c->url,
			CLIENT_MAX_REPLY);
		goto out;
	}
	if (cc != CURLE_OK) {
		err_set(err, ERR_IO, "cannot reach kiln server at %s: %s", c->url,
			*errbuf ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rep->status);
	ret = 0;
out:
	curl_slist_free_all(hdrs);
	buf_release(&url);
	return ret;
}

/* Turns a non-2xx reply into err, with the server's message when it sent one. */
static int status_error(struct ctl_client *c, const struct client_reply *rep, struct err *err)
{
	json_t *j = json_loadb(rep->body.ptr, rep->body.len, 0, NULL);
	const char *msg = NULL;
	char text[400];
	int code;
	long st = rep->status;
	if (json_is_object(j))
		msg = json_string_value(json_object_get(j, "message"));
	if (!msg) {
		snprintf(text, sizeof(text), "HTTP %ld", st);
	} else {
		/* One line: the server's text may hold line breaks. */
		size_t i = 0;
		for (; msg[i] && i + 1 < sizeof(text); i++)
			text[i] = (msg[i] == '\n' || msg[i] == '\r') ? ' ' : msg[i];
		text[i] = '\0';
	}
	json_decref(j);
	if (st == 401 || st == 403)
		return err_set(err, ERR_INVALID, "permission denied: set KILN_TOKEN (%s)", text);
	code = st == 404		? ERR_NOTFOUND
	       : st == 400 || st == 409 ? ERR_INVALID
	       : st == 413		? ERR_TOOBIG
					: ERR_IO;
	if (code == ERR_IO)
		return err_set(err, ERR_IO, "kiln server %s: HTTP %ld: %s", c->url, st, text);
	return err_set(err, code, "%s", text);
}

/* Decodes a 2xx body into *reply (an empty body: {}). */
static int decode(struct ctl_client *c, const struct client_reply *rep, json_t **reply,
		  struct err *err)
{
	json_error_t je;
	json_t *j;
	if (!reply)
		return 0;
	if (rep->body.len == 0)
		j = json_object();
	else
		j = json_loadb(rep->body.ptr, rep->body.len, 0, &je);
	if (!j)
		return err_set(err, rep->body.len ? ERR_FORMAT : ERR_NOMEM,
			       "kiln server %s: reply is not JSON: %s", c->url,
			       rep->body.len ? je.text : "out of memory");
	*reply = j;
	return 0;
}

static int exchange(struct ctl_client *c, const struct client_req *rq, json_t **reply,
		    struct err *err)
{
	struct client_reply rep = {0};
	int ret = -1;
	buf_init(&rep.body, CLIENT_MAX_REPLY);
	if (perform(c, rq, &rep, err) < 0)
		goto out;
	if (rep.status < 200 || rep.status > 299) {
		status_error(c, &rep, err);
		goto out;
	}
	ret = decode(c, &rep, reply, err);
out:
	buf_release(&rep.body);
	return ret;
}

int ctl_client_call(struct ctl_client *c, int method, const char *path, const char *const *query,
		    json_t *body, json_t **reply, struct err *err)
{
	struct client_req rq = {0};
	char *text = NULL;
	int ret;
	if (reply)
		*reply = NULL;
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		if (!text)
			return err_set(err, ERR_NOMEM, "out of memory");
	}
	rq.method = method;
	rq.path = path;
	rq.query = query;
	rq.body = text;
	ret = exchange(c, &rq, reply, err);
	free(text); /* jansson's allocator */
	return ret;
}

int ctl_client_put_file(struct ctl_client *c, const char *path, const char *file, struct err *err)
{
	struct client_req rq = {0};
	struct stat st;
	FILE *f = fopen(file, "rb");
	int ret;
	if (!f)
		return err_set(err, ERR_IO, "cannot open '%s': %s", file, strerror(errno));
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return err_set(err, ERR_IO, "'%s' is not a regular file", file);
	}
	rq.method = HTTP_PUT;
	rq.path = path;
	rq.upload = f;
	rq.upload_size = (curl_off_t)st.st_size;
	ret = exchange(c, &rq, NULL, err);
	fclose(f);
	return ret;
}

void ctl_client_ref_release(struct ctl_client_ref *r)
{
	mem_free(r->run_id);
	mem_free(r->source);
	r->run_id = r->source = NULL;
}

/* Copies a string member or leaves NULL; -1 only on ENOMEM. */
static int dup_member(json_t *o, const char *key, char **out)
{
	const char *s = json_string_value(json_object_get(o, key));
	*out = NULL;
	if (!s)
		return 0;
	*out = mem_strdup(s);
	return *out ? 0 : -1;
}

/* Fills out from resolve's reply. */
static int read_ref(json_t *j, const char *etag, struct ctl_client_ref *out, struct err *err)
{
	json_t *v = json_object_get(j, "version");
	const char *sha = json_string_value(json_object_get(j, "sha256"));
	struct ctl_client_ref r = {0};
	if (json_is_integer(v))
		r.version = (int64_t)json_integer_value(v);
	else if (json_is_string(v))
		r.version = (int64_t)strtoll(json_string_value(v), NULL, 10);
	if (r.version <= 0)
		return err_set(err, ERR_FORMAT, "resolve reply lacks a version");
	if (sha && strlen(sha) != HASH_SHA256_HEX - 1)
		return err_set(err, ERR_FORMAT, "resolve reply: sha256 '%.80s' is not 64 hex", sha);
	snprintf(r.sha256, sizeof(r.sha256), "%s", sha ? sha : "");
	snprintf(r.etag, sizeof(r.etag), "%s", etag);
	if (dup_member(j, "run_id", &r.run_id) < 0 || dup_member(j, "source", &r.source) < 0) {
		ctl_client_ref_release(&r);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	*out = r;
	return 0;
}

int ctl_client_resolve(struct ctl_client *c, const char *name, const char *alias, const char *etag,
		       struct ctl_client_ref *out, struct err *err)
{
	struct client_reply rep = {0};
	struct client_req rq = {0};
	struct buf ref = BUF_INIT;
	const char *query[3] = {"ref", NULL, NULL};
	json_t *j = NULL;
	int ret = -1;
	buf_init(&rep.body, CLIENT_MAX_REPLY);
	if (buf_addf(&ref, "%s@%s", name, alias) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	query[1] = ref.ptr;
	rq.method = HTTP_GET;
	rq.path = "/api/2.0/kiln/resolve";
	rq.query = query;
	rq.if_none_match = etag;
	if (perform(c, &rq, &rep, err) < 0)
		goto out;
	if (rep.status == 304 && etag && *etag) {
		ret = 1;
		goto out;
	}
	if (rep.status < 200 || rep.status > 299) {
		status_error(c, &rep, err);
		goto out;
	}
	if (decode(c, &rep, &j, err) < 0 || read_ref(j, rep.etag, out, err) < 0)
		goto out;
	ret = 0;
out:
	json_decref(j);
	buf_release(&ref);
	buf_release(&rep.body);
	return ret;
}
