/*
 * trigger.c - does a push start this workflow? on.push branches,
 * branches-ignore, tags, tags-ignore, paths and paths-ignore evaluated as
 * GitHub documents them (filter pattern cheat sheet), against the ref and
 * the files the pushed commit changed (read with libgit2).
 */
#include "wf/internal.h"

#include "base/mem.h"

#include <git2.h>
#include <string.h>

/*
 * GitHub's filter patterns: '*' any run of characters but '/', '**' any run,
 * '?' zero or one of the preceding character, '+' one or more of it,
 * '[...]' a class (ranges, no negation), '\' escapes the next character.
 */
static int cls(const char **pp, char ch)
{
	const char *p = *pp + 1;
	int hit = 0;
	while (*p && *p != ']') {
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hit = hit || (ch >= p[0] && ch <= p[2]);
			p += 3;
		} else {
			hit = hit || ch == *p;
			p++;
		}
	}
	*pp = *p ? p + 1 : p;
	return hit;
}

/* Length of the single-character atom at p (literal, escape or class). */
static size_t atom_len(const char *p)
{
	const char *q = p;
	if (*p == '\\' && p[1])
		return 2;
	if (*p == '[') {
		while (*q && *q != ']')
			q++;
		return *q ? (size_t)(q - p) + 1 : (size_t)(q - p);
	}
	return 1;
}

static int atom_match(const char *p, char ch)
{
	if (*p == '\\')
		return p[1] == ch;
	if (*p == '[') {
		const char *q = p;
		return cls(&q, ch);
	}
	return *p == ch;
}

/*
 * Backtracking matcher. Patterns come from workflow files, so the work is
 * bounded: *budget counts calls, and an exhausted budget means no match.
 */
static int match(const char *p, const char *s, int depth, long *budget)
{
	if (depth > 64 || --*budget < 0)
		return 0;
	while (*p) {
		size_t al;
		if (p[0] == '*' && p[1] == '*') {
			p += 2;
			/* "**" + "/x" also matches "x" at the top */
			if (*p == '/' && match(p + 1, s, depth + 1, budget))
				return 1;
			for (;; s++) {
				if (match(p, s, depth + 1, budget))
					return 1;
				if (!*s)
					return 0;
			}
		}
		if (*p == '*') {
			p++;
			for (;; s++) {
				if (match(p, s, depth + 1, budget))
					return 1;
				if (!*s || *s == '/')
					return 0;
			}
		}
		al = atom_len(p);
		if (p[al] == '?') {
			/* zero or one of the atom */
			if (*s && atom_match(p, *s) && match(p + al + 1, s + 1, depth + 1, budget))
				return 1;
			p += al + 1;
			continue;
		}
		if (p[al] == '+') {
			if (!*s || !atom_match(p, *s))
				return 0;
			s++;
			while (*s && atom_match(p, *s)) {
				if (match(p + al + 1, s, depth + 1, budget))
					return 1;
				s++;
			}
			p += al + 1;
			continue;
		}
		if (!*s || !atom_match(p, *s))
			return 0;
		p += al;
		s++;
	}
	return *s == '\0';
}

int wf__glob_match(const char *pattern, const char *s)
{
	long budget = 200000;
	return match(pattern, s, 0, &budget);
}

/* A filter list: later patterns win; '!' negates. -1 when n is not a list. */
static int list_match(const struct wf_node *n, const char *s)
{
	size_t i;
	int hit = 0;
	if (n->kind == WF_NODE_SCALAR)
		return wf__glob_match(n->str, s);
	if (n->kind != WF_NODE_SEQ)
		return -1;
	for (i = 0; i < n->n; i++) {
		const char *pat = n->items[i]->str;
		if (n->items[i]->kind != WF_NODE_SCALAR)
			continue;
		if (pat[0] == '!') {
			if (wf__glob_match(pat + 1, s))
				hit = 0;
		} else if (wf__glob_match(pat, s)) {
			hit = 1;
		}
	}
	return hit;
}

static int paths_pass(const struct wf_node *ev, const struct wf_push *p);

int wf_on_push(const struct wf *wf, const struct wf_push *p)
{
	const struct wf_node *on = wf->on, *push;

	if (!wf_on_event(wf, "push"))
		return 0;
	if (on->kind != WF_NODE_MAP)
		return 1;
	push = wf__map_get(on, "push");
	if (!push || push->kind != WF_NODE_MAP)
		return 1;
	/* refs: branches and tags filters; naming only one kind excludes the other */
	{
		const struct wf_node *b = wf__map_get(push, "branches");
		const struct wf_node *bi = wf__map_get(push, "branches-ignore");
		const struct wf_node *t = wf__map_get(push, "tags");
		const struct wf_node *ti = wf__map_get(push, "tags-ignore");
		int has_b = b || bi, has_t = t || ti;
		if (has_b || has_t) {
			if (p->is_tag) {
				if (!has_t)
					return 0;
				if ((t && list_match(t, p->ref_name) != 1) ||
				    (ti && list_match(ti, p->ref_name) == 1))
					return 0;
			} else {
				if (!has_b)
					return 0;
				if ((b && list_match(b, p->ref_name) != 1) ||
				    (bi && list_match(bi, p->ref_name) == 1))
					return 0;
			}
		}
	}
	if (p->is_tag)
		return 1; /* GitHub ignores path filters for tag pushes */
	return paths_pass(push, p);
}

/* paths and paths-ignore of an event's filters against the changed files. */
static int paths_pass(const struct wf_node *ev, const struct wf_push *p)
{
	const struct wf_node *inc = wf__map_get(ev, "paths"),
			     *exc = wf__map_get(ev, "paths-ignore");
	size_t i;
	int any;

	if (!inc && !exc)
		return 1;
	any = 0;
	for (i = 0; i < p->n_paths; i++) {
		if (inc && list_match(inc, p->paths[i]) != 1)
			continue;
		if (exc && list_match(exc, p->paths[i]) == 1)
			continue;
		any = 1;
		break;
	}
	return any;
}

int wf_on_pull_request(const struct wf *wf, const char *event, const struct wf_push *p)
{
	const struct wf_node *ev, *b, *bi, *types;
	size_t i;

	if (!wf_on_event(wf, event))
		return 0;
	if (wf->on->kind != WF_NODE_MAP)
		return 1;
	ev = wf__map_get(wf->on, event);
	if (!ev || ev->kind != WF_NODE_MAP)
		return 1;
	/* types: the default is opened, synchronize and reopened */
	types = wf__map_get(ev, "types");
	if (p->action[0]) {
		int hit = 0;
		if (!types)
			hit = strcmp(p->action, "opened") == 0 ||
			      strcmp(p->action, "synchronize") == 0 ||
			      strcmp(p->action, "reopened") == 0;
		else if (types->kind == WF_NODE_SCALAR)
			hit = strcmp(types->str, p->action) == 0;
		for (i = 0; types && types->kind == WF_NODE_SEQ && i < types->n; i++)
			hit = hit || (types->items[i]->kind == WF_NODE_SCALAR &&
				      strcmp(types->items[i]->str, p->action) == 0);
		if (!hit)
			return 0;
	}
	/* branches filters name the base branch */
	b = wf__map_get(ev, "branches");
	bi = wf__map_get(ev, "branches-ignore");
	if ((b && list_match(b, p->ref_name) != 1) || (bi && list_match(bi, p->ref_name) == 1))
		return 0;
	return paths_pass(ev, p);
}

static int add_path(struct wf_push *p, const char *path)
{
	char **v;
	if (!path)
		return 0;
	v = mem_reallocarray(p->paths, p->n_paths + 1, sizeof(*v));
	if (!v)
		return -1;
	p->paths = v;
	p->paths[p->n_paths] = mem_strdup(path);
	if (!p->paths[p->n_paths])
		return -1;
	p->n_paths++;
	return 0;
}

static int diff_cb(const git_diff_delta *d, float progress, void *arg)
{
	struct wf_push *p = arg;
	if (add_path(p, d->new_file.path) < 0)
		return -1;
	if (d->old_file.path && strcmp(d->old_file.path, d->new_file.path) != 0 &&
	    add_path(p, d->old_file.path) < 0)
		return -1;
	return 0;
}

int wf_push_from_repo(const char *dir, struct wf_push *p, struct err *err)
{
	git_repository *repo = NULL;
	git_reference *head = NULL;
	git_commit *commit = NULL, *parent = NULL;
	git_tree *tree = NULL, *ptree = NULL;
	git_diff *diff = NULL;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	git_libgit2_init();
	if (git_repository_open_ext(&repo, dir, 0, NULL) < 0) {
		err_set(err, ERR_NOTFOUND, "'%s' is not in a git repository", dir);
		goto out;
	}
	if (git_repository_head(&head, repo) < 0) {
		err_set(err, ERR_NOTFOUND, "the repository has no commit yet");
		goto out;
	}
	snprintf(p->ref_name, sizeof(p->ref_name), "%s", git_reference_shorthand(head));
	if (git_commit_lookup(&commit, repo, git_reference_target(head)) < 0 ||
	    git_commit_tree(&tree, commit) < 0)
		goto git_fail;
	if (git_commit_parentcount(commit) > 0) {
		if (git_commit_parent(&parent, commit, 0) < 0 ||
		    git_commit_tree(&ptree, parent) < 0)
			goto git_fail;
	}
	/* the first commit changes every file it holds */
	if (git_diff_tree_to_tree(&diff, repo, ptree, tree, NULL) < 0 ||
	    git_diff_foreach(diff, diff_cb, NULL, NULL, NULL, p) < 0)
		goto git_fail;
	rc = 0;
	goto out;
git_fail:
	err_set(err, ERR_IO, "git: %s", git_error_last() ? git_error_last()->message : "error");
out:
	if (rc < 0)
		wf_push_release(p);
	git_diff_free(diff);
	git_tree_free(tree);
	git_tree_free(ptree);
	git_commit_free(commit);
	git_commit_free(parent);
	git_reference_free(head);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

/* An oid from a sha or a ref name; -1 when it does not resolve. */
static int resolve(git_repository *repo, const char *spec, git_oid *out)
{
	git_object *o = NULL, *c = NULL;
	char full[300];
	int rc = -1;
	if (!spec || !*spec)
		return -1;
	if (git_revparse_single(&o, repo, spec) < 0) {
		snprintf(full, sizeof(full), "refs/remotes/origin/%s", spec);
		if (git_revparse_single(&o, repo, full) < 0)
			return -1;
	}
	if (git_object_peel(&c, o, GIT_OBJECT_COMMIT) == 0) {
		git_oid_cpy(out, git_object_id(c));
		rc = 0;
	}
	git_object_free(c);
	git_object_free(o);
	return rc;
}

int wf_pr_from_repo(const char *dir, const char *base, const char *head, struct wf_push *p,
		    struct err *err)
{
	git_repository *repo = NULL;
	git_commit *hc = NULL, *bc = NULL;
	git_tree *htree = NULL, *btree = NULL;
	git_diff *diff = NULL;
	git_oid hoid, boid, mb;
	int rc = -1;

	git_libgit2_init();
	if (git_repository_open_ext(&repo, dir, 0, NULL) < 0) {
		err_set(err, ERR_NOTFOUND, "'%s' is not in a git repository", dir);
		goto out;
	}
	if (resolve(repo, head && *head ? head : "HEAD", &hoid) < 0) {
		err_set(err, ERR_NOTFOUND, "the pull request's head '%s' is not in the repository",
			head && *head ? head : "HEAD");
		goto out;
	}
	if (git_commit_lookup(&hc, repo, &hoid) < 0 || git_commit_tree(&htree, hc) < 0)
		goto git_fail;
	/* the files changed since the merge base, as GitHub's three-dot diff */
	if (resolve(repo, base, &boid) == 0 && git_merge_base(&mb, repo, &boid, &hoid) == 0) {
		if (git_commit_lookup(&bc, repo, &mb) < 0 || git_commit_tree(&btree, bc) < 0)
			goto git_fail;
	} else if (git_commit_parentcount(hc) > 0) {
		if (git_commit_parent(&bc, hc, 0) < 0 || git_commit_tree(&btree, bc) < 0)
			goto git_fail;
	}
	if (git_diff_tree_to_tree(&diff, repo, btree, htree, NULL) < 0 ||
	    git_diff_foreach(diff, diff_cb, NULL, NULL, NULL, p) < 0)
		goto git_fail;
	rc = 0;
	goto out;
git_fail:
	err_set(err, ERR_IO, "git: %s", git_error_last() ? git_error_last()->message : "error");
out:
	if (rc < 0)
		wf_push_release(p);
	git_diff_free(diff);
	git_tree_free(htree);
	git_tree_free(btree);
	git_commit_free(hc);
	git_commit_free(bc);
	git_repository_free(repo);
	git_libgit2_shutdown();
	return rc;
}

void wf_push_release(struct wf_push *p)
{
	size_t i;
	for (i = 0; i < p->n_paths; i++)
		mem_free(p->paths[i]);
	mem_free(p->paths);
	p->paths = NULL;
	p->n_paths = 0;
}
