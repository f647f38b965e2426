/*
 * git2.c - libgit2, loaded on the first call (the workflow runner's
 * checkouts and the push triggers). Defines the git_* functions kiln uses,
 * with git2.h's own prototypes, each forwarding to the library's.
 *
 * These definitions cannot capture libgit2's own calls: kiln is linked
 * without -rdynamic and without -lgit2, so nothing linked at build time
 * refers to these names, ld leaves them out of kiln's dynamic symbol table,
 * and libgit2 (opened RTLD_LOCAL) binds its internal calls to itself.
 */
#include <git2.h>

#include "dyn/dyn.h"

#ifndef KILN_SONAME_GIT2
#error "KILN_SONAME_GIT2 is set by the Makefile from libgit2.so's SONAME"
#endif

#define GIT2_FUNCTIONS(X)                                                                          \
	X(git_libgit2_init)                                                                        \
	X(git_libgit2_shutdown)                                                                    \
	X(git_error_last)                                                                          \
	X(git_repository_init)                                                                     \
	X(git_repository_open)                                                                     \
	X(git_repository_open_ext)                                                                 \
	X(git_repository_free)                                                                     \
	X(git_repository_path)                                                                     \
	X(git_repository_workdir)                                                                  \
	X(git_repository_head)                                                                     \
	X(git_repository_set_head_detached)                                                        \
	X(git_reference_free)                                                                      \
	X(git_reference_name)                                                                      \
	X(git_reference_shorthand)                                                                 \
	X(git_reference_target)                                                                    \
	X(git_revparse_single)                                                                     \
	X(git_merge_base)                                                                          \
	X(git_oid_cpy)                                                                             \
	X(git_oid_tostr)                                                                           \
	X(git_object_lookup)                                                                       \
	X(git_object_peel)                                                                         \
	X(git_object_id)                                                                           \
	X(git_object_free)                                                                         \
	X(git_commit_lookup)                                                                       \
	X(git_commit_parent)                                                                       \
	X(git_commit_parentcount)                                                                  \
	X(git_commit_tree)                                                                         \
	X(git_commit_free)                                                                         \
	X(git_tree_free)                                                                           \
	X(git_diff_tree_to_tree)                                                                   \
	X(git_diff_foreach)                                                                        \
	X(git_diff_free)                                                                           \
	X(git_checkout_options_init)                                                               \
	X(git_checkout_tree)                                                                       \
	X(git_checkout_head)

DYN_SHIM(GIT2_FUNCTIONS, KILN_SONAME_GIT2, KILN_PACKAGE_GIT2)

/*
 * Without the library, git_libgit2_init and every other call that can fail
 * return GIT_ERROR (-1), and git_error_last says "libgit2.so.1.5 could not
 * be loaded" (after the logged line), as libgit2 itself reports a failure. No repository, reference
 * or object exists then, so the getters and frees only ever see NULL.
 */
static git_error load_failure = {lib.brief, GIT_ERROR_OS};

static char *no_oid_str(char *out, size_t n)
{
	if (out && n)
		out[0] = '\0'; /* libgit2 gives an empty string for bad arguments */
	return out;
}

DYN_FWD(int, git_libgit2_init, GIT_ERROR, (void), ())
DYN_FWD(int, git_libgit2_shutdown, GIT_ERROR, (void), ())
DYN_FWD(const git_error *, git_error_last, &load_failure, (void), ())

DYN_FWD(int, git_repository_init, GIT_ERROR,
	(git_repository * *out, const char *path, unsigned is_bare), (out, path, is_bare))
DYN_FWD(int, git_repository_open, GIT_ERROR, (git_repository * *out, const char *path), (out, path))
DYN_FWD(int, git_repository_open_ext, GIT_ERROR,
	(git_repository * *out, const char *path, unsigned int flags, const char *ceiling),
	(out, path, flags, ceiling))
DYN_VOID(git_repository_free, (git_repository * repo), (repo))
DYN_FWD(const char *, git_repository_path, NULL, (const git_repository *repo), (repo))
DYN_FWD(const char *, git_repository_workdir, NULL, (const git_repository *repo), (repo))
DYN_FWD(int, git_repository_head, GIT_ERROR, (git_reference * *out, git_repository *repo),
	(out, repo))
DYN_FWD(int, git_repository_set_head_detached, GIT_ERROR,
	(git_repository * repo, const git_oid *id), (repo, id))

DYN_VOID(git_reference_free, (git_reference * ref), (ref))
DYN_FWD(const char *, git_reference_name, NULL, (const git_reference *ref), (ref))
DYN_FWD(const char *, git_reference_shorthand, NULL, (const git_reference *ref), (ref))
DYN_FWD(const git_oid *, git_reference_target, NULL, (const git_reference *ref), (ref))
DYN_FWD(int, git_revparse_single, GIT_ERROR,
	(git_object * *out, git_repository *repo, const char *spec), (out, repo, spec))
DYN_FWD(int, git_merge_base, GIT_ERROR,
	(git_oid * out, git_repository *repo, const git_oid *one, const git_oid *two),
	(out, repo, one, two))
DYN_FWD(int, git_oid_cpy, GIT_ERROR, (git_oid * out, const git_oid *src), (out, src))
DYN_FWD(char *, git_oid_tostr, no_oid_str(out, n), (char *out, size_t n, const git_oid *id),
	(out, n, id))

DYN_FWD(int, git_object_lookup, GIT_ERROR,
	(git_object * *out, git_repository *repo, const git_oid *id, git_object_t type),
	(out, repo, id, type))
DYN_FWD(int, git_object_peel, GIT_ERROR,
	(git_object * *out, const git_object *obj, git_object_t type), (out, obj, type))
DYN_FWD(const git_oid *, git_object_id, NULL, (const git_object *obj), (obj))
DYN_VOID(git_object_free, (git_object * obj), (obj))

DYN_FWD(int, git_commit_lookup, GIT_ERROR,
	(git_commit * *out, git_repository *repo, const git_oid *id), (out, repo, id))
DYN_FWD(int, git_commit_parent, GIT_ERROR,
	(git_commit * *out, const git_commit *commit, unsigned int n), (out, commit, n))
DYN_FWD(unsigned int, git_commit_parentcount, 0, (const git_commit *commit), (commit))
DYN_FWD(int, git_commit_tree, GIT_ERROR, (git_tree * *out, const git_commit *commit), (out, commit))
DYN_VOID(git_commit_free, (git_commit * commit), (commit))
DYN_VOID(git_tree_free, (git_tree * tree), (tree))

DYN_FWD(int, git_diff_tree_to_tree, GIT_ERROR,
	(git_diff * *out, git_repository *repo, git_tree *old_tree, git_tree *new_tree,
	 const git_diff_options *opts),
	(out, repo, old_tree, new_tree, opts))
DYN_FWD(int, git_diff_foreach, GIT_ERROR,
	(git_diff * diff, git_diff_file_cb file_cb, git_diff_binary_cb binary_cb,
	 git_diff_hunk_cb hunk_cb, git_diff_line_cb line_cb, void *payload),
	(diff, file_cb, binary_cb, hunk_cb, line_cb, payload))
DYN_VOID(git_diff_free, (git_diff * diff), (diff))

DYN_FWD(int, git_checkout_options_init, GIT_ERROR,
	(git_checkout_options * opts, unsigned int version), (opts, version))
DYN_FWD(int, git_checkout_tree, GIT_ERROR,
	(git_repository * repo, const git_object *treeish, const git_checkout_options *opts),
	(repo, treeish, opts))
DYN_FWD(int, git_checkout_head, GIT_ERROR,
	(git_repository * repo, const git_checkout_options *opts), (repo, opts))
