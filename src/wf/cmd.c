/*
 * cmd.c - the text formats steps talk to the runner in: GITHUB_OUTPUT and
 * GITHUB_ENV files (NAME=VALUE and NAME<<DELIM heredocs, as the runner's
 * FileCommandManager reads them), "::command k=v::message" lines, dotenv
 * files for --secret-file/--env-file, and secret masking. No process work.
 */
#include "wf/internal.h"

#include "base/mem.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

int wf__mask_add(struct wf__masks *m, const char *s)
{
	size_t i, n = strlen(s);
	char *dup;

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	if (n == 0)
		return 0;
	for (i = 0; i < m->n; i++)
		if (strlen(m->v[i]) == n && strncmp(m->v[i], s, n) == 0)
			return 0;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 8;
		char **v = mem_reallocarray(m->v, cap, sizeof(*v));
		if (!v)
			return -1;
		m->v = v;
		m->cap = cap;
	}
	dup = mem_strndup(s, n);
	if (!dup)
		return -1;
	/* keep longest first, so a secret that contains another is masked whole */
	for (i = m->n; i > 0 && strlen(m->v[i - 1]) < n; i--)
		m->v[i] = m->v[i - 1];
	m->v[i] = dup;
	m->n++;
	/* each line of a multi-line secret is masked on its own as well */
	if (memchr(s, '\n', n)) {
		const char *p = s, *e = s + n;
		while (p < e) {
			const char *nl = memchr(p, '\n', (size_t)(e - p));
			size_t ln = nl ? (size_t)(nl - p) : (size_t)(e - p);
			char *line = mem_strndup(p, ln);
			int rc;
			if (!line)
				return -1;
			rc = wf__mask_add(m, line);
			mem_free(line);
			if (rc < 0)
				return -1;
			p += ln + 1;
		}
	}
	return 0;
}

int wf__mask_apply(const struct wf__masks *m, const char *line, size_t len, struct buf *out)
{
	size_t i = 0, k;
	while (i < len) {
		int hit = 0;
		for (k = 0; k < m->n; k++) {
			size_t n = strlen(m->v[k]);
			if (n <= len - i && memcmp(line + i, m->v[k], n) == 0) {
				if (buf_adds(out, "***") < 0)
					return -1;
				i += n;
				hit = 1;
				break;
			}
		}
		if (!hit) {
			if (buf_addch(out, line[i]) < 0)
				return -1;
			i++;
		}
	}
	return 0;
}

void wf__masks_release(struct wf__masks *m)
{
	size_t i;
	for (i = 0; i < m->n; i++)
		mem_free(m->v[i]);
	mem_free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

/* The next line of text from *p (without its \n or \r\n); 0 at the end. */
static int next_line(const char **p, const char *end, const char **line, size_t *len)
{
	const char *nl;
	if (*p >= end)
		return 0;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	*line = *p;
	*len = nl ? (size_t)(nl - *p) : (size_t)(end - *p);
	*p = nl ? nl + 1 : end;
	if (*len && (*line)[*len - 1] == '\r')
		(*len)--;
	return 1;
}

static int set_str(json_t *obj, const char *k, size_t kn, const char *v, size_t vn)
{
	char *key = mem_strndup(k, kn);
	json_t *val;
	int rc;
	if (!key)
		return -1;
	val = json_stringn(v, vn);
	rc = val ? json_object_set_new(obj, key, val) : -1;
	mem_free(key);
	return rc;
}

int wf__parse_kv_file(const char *text, size_t len, const char *file, json_t *obj, struct err *err)
{
	const char *p = text, *end = text + len, *line;
	size_t n, lineno = 0;

	while (next_line(&p, end, &line, &n)) {
		const char *eq = memchr(line, '=', n);
		const char *hd = NULL;
		size_t i;
		lineno++;
		if (n == 0)
			continue;
		for (i = 0; i + 1 < n; i++)
			if (line[i] == '<' && line[i + 1] == '<') {
				hd = line + i;
				break;
			}
		if (eq && (!hd || eq < hd)) {
			if (eq == line)
				return err_set(err, ERR_FORMAT, "%s:%zu: empty name", file, lineno);
			if (set_str(obj, line, (size_t)(eq - line), eq + 1,
				    n - (size_t)(eq + 1 - line)) < 0)
				return err_set(err, ERR_FORMAT, "%s:%zu: invalid value", file,
					       lineno);
		} else if (hd) {
			const char *delim = hd + 2, *body = p, *l2;
			size_t dn = n - (size_t)(delim - line), n2, start_line = lineno;
			struct buf v = BUF_INIT;
			int found = 0;
			if (hd == line || dn == 0)
				return err_set(err, ERR_FORMAT, "%s:%zu: invalid heredoc line",
					       file, lineno);
			while (next_line(&p, end, &l2, &n2)) {
				lineno++;
				if (n2 == dn && memcmp(l2, delim, dn) == 0) {
					found = 1;
					break;
				}
				if ((l2 != body && buf_addch(&v, '\n') < 0) ||
				    buf_add(&v, l2, n2) < 0) {
					buf_release(&v);
					return err_set(err, ERR_NOMEM, "out of memory");
				}
			}
			if (!found) {
				buf_release(&v);
				return err_set(err, ERR_FORMAT,
					       "%s:%zu: matching delimiter '%.*s' not found", file,
					       start_line, (int)(dn < 100 ? dn : 100), delim);
			}
			if (set_str(obj, line, (size_t)(hd - line), v.ptr, v.len) < 0) {
				buf_release(&v);
				return err_set(err, ERR_FORMAT, "%s:%zu: invalid value", file,
					       start_line);
			}
			buf_release(&v);
		} else {
			return err_set(err, ERR_FORMAT,
				       "%s:%zu: invalid format (NAME=VALUE or NAME<<DELIMITER)",
				       file, lineno);
		}
	}
	return 0;
}

/* Undoes the runner's escaping: %25 %0D %0A, and in properties also %3A %2C. */
static int unescape(const char *s, size_t n, int prop, struct buf *out)
{
	size_t i;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n) {
			char c = 0;
			if (strncmp(s + i, "%25", 3) == 0)
				c = '%';
			else if (strncasecmp(s + i, "%0D", 3) == 0)
				c = '\r';
			else if (strncasecmp(s + i, "%0A", 3) == 0)
				c = '\n';
			else if (prop && strncasecmp(s + i, "%3A", 3) == 0)
				c = ':';
			else if (prop && strncasecmp(s + i, "%2C", 3) == 0)
				c = ',';
			if (c) {
				if (buf_addch(out, c) < 0)
					return -1;
				i += 2;
				continue;
			}
		}
		if (buf_addch(out, s[i]) < 0)
			return -1;
	}
	return 0;
}

int wf__command_parse(const char *line, size_t len, struct wf__command *c)
{
	const char *p, *end, *sep, *props_end;
	size_t nlen;

	memset(c, 0, sizeof(*c));
	buf_init(&c->msg, 0);
	while (len && isspace((unsigned char)*line)) {
		line++;
		len--;
	}
	while (len && isspace((unsigned char)line[len - 1]))
		len--;
	if (len < 4 || line[0] != ':' || line[1] != ':')
		return 0;
	p = line + 2;
	end = line + len;
	sep = NULL;
	for (props_end = p; props_end + 1 < end; props_end++)
		if (props_end[0] == ':' && props_end[1] == ':') {
			sep = props_end;
			break;
		}
	if (!sep)
		return 0;
	for (nlen = 0; p + nlen < sep && p[nlen] != ' '; nlen++)
		;
	if (nlen == 0 || nlen >= sizeof(c->name))
		return 0;
	memcpy(c->name, p, nlen);
	c->name[nlen] = '\0';
	c->props = json_object();
	if (!c->props)
		return 0;
	p += nlen;
	while (p < sep) {
		const char *comma, *eq;
		while (p < sep && (*p == ' ' || *p == ','))
			p++;
		if (p >= sep)
			break;
		comma = memchr(p, ',', (size_t)(sep - p));
		if (!comma)
			comma = sep;
		eq = memchr(p, '=', (size_t)(comma - p));
		if (eq && eq > p) {
			struct buf v = BUF_INIT;
			char *k = mem_strndup(p, (size_t)(eq - p));
			json_t *jv;
			if (!k || unescape(eq + 1, (size_t)(comma - eq - 1), 1, &v) < 0 ||
			    !(jv = json_stringn(v.ptr, v.len)) ||
			    json_object_set_new(c->props, k, jv) < 0) {
				mem_free(k);
				buf_release(&v);
				wf__command_release(c);
				return 0;
			}
			mem_free(k);
			buf_release(&v);
		}
		p = comma;
	}
	if (unescape(sep + 2, (size_t)(end - sep - 2), 0, &c->msg) < 0) {
		wf__command_release(c);
		return 0;
	}
	return 1;
}

void wf__command_release(struct wf__command *c)
{
	json_decref(c->props);
	c->props = NULL;
	buf_release(&c->msg);
}

int wf__dotenv_parse(const char *text, size_t len, const char *file, json_t *obj, struct err *err)
{
	const char *p = text, *end = text + len, *line;
	size_t n, lineno = 0;

	while (next_line(&p, end, &line, &n)) {
		const char *eq, *v;
		size_t kn, vn;
		struct buf val = BUF_INIT;
		lineno++;
		while (n && isspace((unsigned char)*line)) {
			line++;
			n--;
		}
		while (n && isspace((unsigned char)line[n - 1]))
			n--;
		if (n == 0 || line[0] == '#')
			continue;
		if (n > 7 && strncmp(line, "export ", 7) == 0) {
			line += 7;
			n -= 7;
		}
		eq = memchr(line, '=', n);
		if (!eq)
			eq = memchr(line, ':', n);
		if (!eq || eq == line)
			return err_set(err, ERR_FORMAT, "%s:%zu: expected KEY=VALUE", file, lineno);
		kn = (size_t)(eq - line);
		while (kn && isspace((unsigned char)line[kn - 1]))
			kn--;
		v = eq + 1;
		vn = n - (size_t)(v - line);
		while (vn && isspace((unsigned char)*v)) {
			v++;
			vn--;
		}
		if (vn >= 2 && (v[0] == '"' || v[0] == '\'') && v[vn - 1] == v[0]) {
			size_t i;
			for (i = 1; i + 1 < vn; i++) {
				char ch = v[i];
				if (v[0] == '"' && ch == '\\' && i + 2 < vn) {
					ch = v[++i];
					ch = ch == 'n'	 ? '\n'
					     : ch == 'r' ? '\r'
					     : ch == 't' ? '\t'
							 : ch;
				}
				if (buf_addch(&val, ch) < 0)
					goto oom;
			}
		} else {
			const char *hash = NULL;
			size_t i;
			for (i = 1; i < vn; i++)
				if (v[i] == '#' && isspace((unsigned char)v[i - 1])) {
					hash = v + i;
					break;
				}
			if (hash) {
				vn = (size_t)(hash - v);
				while (vn && isspace((unsigned char)v[vn - 1]))
					vn--;
			}
			if (buf_add(&val, v, vn) < 0)
				goto oom;
		}
		if (set_str(obj, line, kn, val.ptr, val.len) < 0) {
			buf_release(&val);
			return err_set(err, ERR_FORMAT, "%s:%zu: invalid value", file, lineno);
		}
		buf_release(&val);
		continue;
	oom:
		buf_release(&val);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	return 0;
}

int wf_dotenv_load(const char *path, json_t *obj, struct err *err)
{
	struct buf b = BUF_INIT;
	int rc;
	buf_init(&b, WF_MAX_FILE);
	if (buf_read_file(&b, path, WF_MAX_FILE) < 0) {
		buf_release(&b);
		return err_set(err, ERR_IO, "cannot read '%s': %s", path, strerror(errno));
	}
	rc = wf__dotenv_parse(b.ptr, b.len, path, obj, err);
	buf_release(&b);
	return rc;
}
