/*
 * artifact.c - bytes over HTTP: MLflow's proxied artifacts
 * (/api/2.0/mlflow-artifacts/artifacts/<path>: PUT, GET, DELETE, listing)
 * and kiln's own routes (/api/2.0/kiln/: alias resolution with an ETag,
 * alias rollback and history, blobs by sha256). Bytes live in the blob store; paths in the store.
 */
#include "ctl/internal.h"

#include "base/file.h"
#include "base/hash.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* A content type from the file name (static strings only). */
static const char *guess_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {{".json", "application/json"}, {".txt", "text/plain"},
		     {".yaml", "text/plain"},	    {".yml", "text/plain"},
		     {".csv", "text/csv"},	    {".html", "text/html"},
		     {".png", "image/png"},	    {".kiln", "application/octet-stream"}};
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	if (strcmp(base, "MLmodel") == 0)
		return "text/plain";
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* Artifact paths: db_artifact_path_ok, and no percent-encoded tricks left over. */
static int path_check(const char *path, struct err *err)
{
	static const char *const encoded[] = {"%2e", "%2f", "%5c", "%00"};
	for (size_t i = 0; i < sizeof(encoded) / sizeof(encoded[0]); i++)
		if (strcasestr(path, encoded[i]))
			return err_set(err, ERR_INVALID, "Invalid path");
	if (!db_artifact_path_ok(path))
		return err_set(err, ERR_INVALID, "Invalid path");
	return 0;
}

/* Replies with the verified bytes of blob sha. */
/*
 * A blob over SEND_MEM_MAX bytes is verified into an unnamed file under the
 * spool directory and sent from there: downloads of any size in constant
 * memory. Smaller ones (and all without a spool directory) from memory.
 */
#define SEND_MEM_MAX (1024 * 1024)

static int send_blob_file(struct ctl__call *call, const char *sha, struct err *err)
{
	uint64_t size = 0;
	FILE *f = NULL;
	int fd = file_tmp_unnamed(call->c->spool_dir), ret = -1;
	if (fd < 0)
		return err_set(err, ERR_IO, "cannot create a file in '%s': %s", call->c->spool_dir,
			       strerror(errno));
	f = fdopen(dup(fd), "w");
	if (!f) {
		err_set(err, ERR_IO, "cannot write in '%s': %s", call->c->spool_dir,
			strerror(errno));
		goto out;
	}
	if (blob_get_stream(call->c->bs, sha, f, &size, err) < 0)
		goto out;
	call->resp->body_fd = fd;
	call->resp->body_fd_len = size;
	fd = -1;
	ret = 0;
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int send_blob(struct ctl__call *call, const char *sha, const char *name, const char *type,
		     struct err *err)
{
	struct http_resp *resp = call->resp;
	char disp[300];
	uint64_t size = 0;
	int exists = 0;
	buf_reset(&resp->body);
	if ((call->c->spool_dir || call->req->method == HTTP_HEAD) &&
	    blob_stat(call->c->bs, sha, &exists, &size, err) < 0)
		return -1;
	if (call->req->method == HTTP_HEAD && exists)
		resp->head_len = (int64_t)size; /* the size alone: the bytes are not read */
	else if (exists && size > SEND_MEM_MAX
			 ? send_blob_file(call, sha, err) < 0
			 : blob_get_buf(call->c->bs, sha, &resp->body, 0, err) < 0)
		return -1;
	call->raw = 1;
	resp->content_type = type;
	snprintf(disp, sizeof(disp), "attachment; filename=%s", name);
	(void)http_resp_header(resp, "Content-Disposition", disp); /* room for 4 */
	(void)http_resp_header(resp, "X-Content-Type-Options", "nosniff");
	return 0;
}

static int artifact_list(struct ctl__call *call, const char *dir, struct err *err)
{
	struct db_artifact_list l = {0};
	json_t *files;
	int rc = -1;
	if ((dir && *dir && path_check(dir, err) < 0) ||
	    db_artifact_list(call->c->db, dir, &l, err) < 0)
		goto out;
	files = json_array();
	if (ctl__set(call->out, "files", files, err) < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		json_t *o = json_pack("{s:s,s:b}", "path", l.v[i].path, "is_dir", l.v[i].is_dir);
		if (o && !l.v[i].is_dir &&
		    json_object_set_new(o, "file_size", json_integer(l.v[i].size)) < 0) {
			json_decref(o);
			o = NULL;
		}
		if (!o || json_array_append_new(files, o) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	db_artifact_list_release(&l);
	return rc;
}

int ctl__artifacts(struct ctl__call *call, const char *path, struct err *err)
{
	const struct ctl_req *req = call->req;
	struct db_artifact a = {0};
	char sha[HASH_SHA256_HEX];
	const char *slash;
	int rc = -1;

	if (strncmp(path, "mpu/", 4) == 0) {
		call->raw = 1;
		ctl_reply_error(call->resp, 501, "NOT_IMPLEMENTED",
				"multipart upload is not implemented: use PUT");
		return 0;
	}
	if (strcmp(path, "artifacts") == 0 || strcmp(path, "artifacts/") == 0) {
		if (req->method != HTTP_GET)
			return err_set(err, ERR_INVALID, "Invalid path: no artifact named");
		return artifact_list(call, call->req->arg ? req->arg(req->actx, "path") : NULL,
				     err);
	}
	if (strncmp(path, "artifacts/", 10) != 0) {
		call->raw = 1;
		ctl_reply_error(call->resp, 404, "ENDPOINT_NOT_FOUND", "no such endpoint");
		return 0;
	}
	path += 10;
	if (path_check(path, err) < 0)
		return -1;
	slash = strrchr(path, '/');
	switch (req->method) {
	case HTTP_PUT: {
		uint64_t size = req->body_len;
		if ((req->spooled
			     ? blob_put_fd(call->c->bs, req->body_fd, sha, &size, err)
			     : blob_put_mem(call->c->bs, req->body, req->body_len, sha, err)) < 0 ||
		    db_artifact_put(call->c->db, path, sha, (int64_t)size, err) < 0)
			return -1;
		return 0;
	}
	case HTTP_GET:
	case HTTP_HEAD:
		if (db_artifact_get(call->c->db, path, &a, err) == 0)
			rc = send_blob(call, a.sha256, slash ? slash + 1 : path, guess_type(path),
				       err);
		db_artifact_release(&a);
		return rc;
	case HTTP_DELETE:
		return db_artifact_delete(call->c->db, path, err);
	default:
		return err_set(err, ERR_INVALID, "method not allowed on artifacts");
	}
}

/* GET resolve?ref=NAME@ALIAS (or name=&alias=): the version and bundle behind an alias. */
static int resolve(struct ctl__call *call, struct err *err)
{
	const struct ctl_req *req = call->req;
	struct db_version v = {0};
	char name[512], etag[160];
	const char *ref = ctl__arg(call, "ref"), *alias = NULL, *sha;
	int rc = -1;

	if (ref) {
		const char *at = strrchr(ref, '@');
		if (!at || at == ref || !at[1] || (size_t)(at - ref) >= sizeof(name))
			return err_set(err, ERR_INVALID, "Invalid ref '%.64s': expected NAME@ALIAS",
				       ref);
		memcpy(name, ref, (size_t)(at - ref));
		name[at - ref] = '\0';
		alias = at + 1;
	} else {
		const char *n;
		if (ctl__need(call, "name", &n, err) < 0 ||
		    ctl__need(call, "alias", &alias, err) < 0)
			return -1;
		snprintf(name, sizeof(name), "%s", n);
	}
	if (db_alias_resolve(call->c->db, name, alias, &v, err) < 0)
		goto out;
	sha = v.lineage.bundle_sha256 ? v.lineage.bundle_sha256 : "";
	snprintf(etag, sizeof(etag), "\"%" PRId64 "-%.64s\"", v.version, sha);
	(void)http_resp_header(call->resp, "ETag", etag); /* room for 4 */
	if (req->if_none_match && strcmp(req->if_none_match, etag) == 0) {
		call->raw = 1;
		call->resp->status = 304;
		buf_reset(&call->resp->body);
		rc = 0;
		goto out;
	}
	if (ctl__set(call->out, "name", ctl__str(v.name), err) < 0 ||
	    ctl__set(call->out, "alias", ctl__str(alias), err) < 0 ||
	    ctl__set(call->out, "version", json_integer(v.version), err) < 0 ||
	    ctl__set(call->out, "sha256", *sha ? json_string(sha) : json_null(), err) < 0 ||
	    ctl__set(call->out, "source", ctl__str(v.source), err) < 0 ||
	    ctl__set(call->out, "run_id", ctl__str(v.run_id), err) < 0)
		goto out;
	rc = 0;
out:
	db_version_release(&v);
	return rc;
}

/* blobs/<sha256>: GET/HEAD download, PUT upload (the body must hash to the key). */
static int blob(struct ctl__call *call, const char *key, struct err *err)
{
	const struct ctl_req *req = call->req;
	unsigned char digest[HASH_SHA256_LEN];
	char sha[HASH_SHA256_HEX];
	if (!blob_key_ok(key))
		return err_set(err, ERR_INVALID,
			       "Invalid blob key '%.80s': 64 lowercase hex digits", key);
	if (req->method == HTTP_GET || req->method == HTTP_HEAD)
		return send_blob(call, key, key, "application/octet-stream", err);
	if (req->method != HTTP_PUT)
		return err_set(err, ERR_INVALID, "method not allowed on blobs");
	/* Checked before it is stored: a damaged upload leaves nothing behind. */
	if (req->spooled) {
		if (hash_sha256_fd(req->body_fd, "the uploaded body", sha, NULL, err) < 0)
			return -1;
	} else {
		hash_sha256(req->body, req->body_len, digest);
		hash_hex(digest, sizeof(digest), sha);
	}
	if (strcmp(sha, key) != 0)
		return err_set(err, ERR_CHECKSUM, "body hashes to %s, not %s", sha, key);
	if (req->spooled) {
		if (lseek(req->body_fd, 0, SEEK_SET) < 0)
			return err_set(err, ERR_IO, "cannot read the uploaded body: %s",
				       strerror(errno));
		if (blob_put_fd(call->c->bs, req->body_fd, sha, NULL, err) < 0)
			return -1;
	} else if (blob_put_mem(call->c->bs, req->body, req->body_len, sha, err) < 0) {
		return -1;
	}
	return ctl__set(call->out, "sha256", json_string(sha), err) < 0 ||
			       ctl__set(call->out, "size", json_integer((json_int_t)req->body_len),
					err) < 0
		       ? -1
		       : 0;
}

/* A version number as JSON: null for 0 (no version). */
static json_t *version_json(int64_t v)
{
	return v > 0 ? json_integer((json_int_t)v) : json_null();
}

/* POST aliases/rollback {"name","alias"} -> {"name","alias","version": NEW,"from": OLD}. */
static int alias_rollback(struct ctl__call *call, struct err *err)
{
	const char *name, *alias;
	int64_t from = 0, to = 0;
	if (call->req->method != HTTP_POST)
		return err_set(err, ERR_INVALID, "aliases/rollback is POST only");
	if (ctl__decode_body(call, 0, err) < 0 || ctl__need(call, "name", &name, err) < 0 ||
	    ctl__need(call, "alias", &alias, err) < 0 ||
	    db_alias_rollback(call->c->db, name, alias, &from, &to, err) < 0)
		return -1;
	return ctl__set(call->out, "name", json_string(name), err) < 0 ||
			       ctl__set(call->out, "alias", json_string(alias), err) < 0 ||
			       ctl__set(call->out, "version", version_json(to), err) < 0 ||
			       ctl__set(call->out, "from", version_json(from), err) < 0
		       ? -1
		       : 0;
}

/* GET aliases/history?name=&alias= -> {"moves": [{from, to, time, kind, undone}...]}, newest first.
 */
static int alias_history(struct ctl__call *call, struct err *err)
{
	struct db_alias_move_list h = {0};
	const char *name, *alias;
	json_t *moves;
	int rc = -1;
	if (call->req->method != HTTP_GET && call->req->method != HTTP_HEAD)
		return err_set(err, ERR_INVALID, "aliases/history is GET only");
	if (ctl__need(call, "name", &name, err) < 0 || ctl__need(call, "alias", &alias, err) < 0 ||
	    db_alias_history(call->c->db, name, alias, &h, err) < 0)
		return -1;
	moves = json_array();
	if (ctl__set(call->out, "moves", moves, err) < 0)
		goto out;
	for (size_t i = 0; i < h.n; i++) {
		const struct db_alias_move *m = &h.v[i];
		json_t *o =
			json_pack("{s:o,s:o,s:I,s:s,s:b}", "from", version_json(m->from_version),
				  "to", version_json(m->to_version), "time", (json_int_t)m->time,
				  "kind", m->kind, "undone", m->undone);
		if (!o || json_array_append_new(moves, o) < 0) {
			err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	rc = 0;
out:
	db_alias_move_list_release(&h);
	return rc;
}

int ctl__kiln(struct ctl__call *call, const char *path, struct err *err)
{
	if (strcmp(path, "aliases/rollback") == 0)
		return alias_rollback(call, err);
	if (strcmp(path, "aliases/history") == 0)
		return alias_history(call, err);
	if (strcmp(path, "resolve") == 0) {
		if (call->req->method != HTTP_GET && call->req->method != HTTP_HEAD)
			return err_set(err, ERR_INVALID, "resolve is GET only");
		return resolve(call, err);
	}
	if (strncmp(path, "blobs/", 6) == 0)
		return blob(call, path + 6, err);
	call->raw = 1;
	ctl_reply_error(call->resp, 404, "ENDPOINT_NOT_FOUND", "no such endpoint");
	return 0;
}
