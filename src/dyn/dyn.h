/*
 * dyn.h - open a shared library with dlopen on first use, once, from any
 * thread. The shims beside it (curl.c, mhd.c, pq.c, git2.c) define the
 * library's own functions and forward each call through a table this loader
 * fills, so kiln does not link those libraries and a process that never
 * calls one never maps it (nor gnutls, krb5, ldap, ssh2... behind it).
 */
#ifndef KILN_DYN_DYN_H
#define KILN_DYN_DYN_H

#include <pthread.h>
#include <stddef.h>

/*
 * One library. The shim fills the first five fields; dyn_open the last two.
 * table points at a struct holding only function pointers, one per name, in
 * the order of names (every function pointer has the size of a void *, which
 * DYN_SHIM checks).
 */
struct dyn_lib {
	const char *soname;	  /* "libcurl.so.4", from the .so's SONAME at build time */
	const char *package;	  /* Debian package that ships it, for the message */
	const char *const *names; /* symbols to resolve */
	size_t count;
	void *table;	 /* count function pointers; valid once loaded */
	int loaded;	 /* 1 once every name is resolved */
	char error[512]; /* after a failure: the logged line, without "kiln: error: " */
	char brief[128]; /* after a failure: "SONAME could not be loaded" */
};

/*
 * Opens lib->soname with RTLD_NOW | RTLD_LOCAL and resolves every name into
 * lib->table. Returns 0; or -1 with lib->error set to "cannot load SONAME
 * (Debian package PKG): REASON" (dlerror's text, or "it lacks NAME"), which
 * is logged at error level (once: DYN_SHIM calls this under pthread_once). lib->brief is set to
 * "SONAME could not be loaded", for shims whose library reports errors as strings (PQerrorMessage,
 * git_error_last, curl_easy_strerror): the caller's own line then refers to the logged one without
 * repeating it. The library stays open for the life of the process (closing a library whose
 * functions may still be on another thread's stack is unsafe). Not thread-safe by itself: DYN_SHIM
 * calls it under pthread_once.
 */
int dyn_open(struct dyn_lib *lib);

/* X-macro helpers for a shim's list of functions (see DYN_SHIM). */
#define DYN__NAME(name) #name,
#define DYN__PTR(name)	__typeof__(&name) name;

/*
 * In a shim file, after the library's header: defines the name list, the
 * table `fn` of typed pointers (each has the type of the header's own
 * declaration), the struct dyn_lib `lib`, and `static int ready(void)`,
 * which loads the library on the first call from any thread and returns 1
 * when it is usable. LIST(X) expands X(name) for every function forwarded.
 */
#define DYN_SHIM(LIST, soname_, package_)                                                          \
	static struct {                                                                            \
		LIST(DYN__PTR)                                                                     \
	} fn;                                                                                      \
	static const char *const names[] = {LIST(DYN__NAME)};                                      \
	_Static_assert(sizeof(fn) == sizeof(names) / sizeof(names[0]) * sizeof(void *),            \
		       "function pointers are not the size of void *");                            \
	static struct dyn_lib lib = {.soname = soname_,                                            \
				     .package = package_,                                          \
				     .names = names,                                               \
				     .count = sizeof(names) / sizeof(names[0]),                    \
				     .table = &fn};                                                \
	static pthread_once_t once = PTHREAD_ONCE_INIT;                                            \
	static void load(void)                                                                     \
	{                                                                                          \
		(void)dyn_open(&lib); /* lib.loaded and lib.error say how it went */               \
	}                                                                                          \
	static int ready(void)                                                                     \
	{                                                                                          \
		return pthread_once(&once, load) == 0 && lib.loaded;                               \
	}

/*
 * Defines the library function NAME with the header's prototype PARAMS;
 * it calls the loaded one with ARGS, or returns FAIL, the value the library
 * itself returns on failure, when the library cannot be loaded.
 */
#define DYN_FWD(ret, name, fail, params, args)                                                     \
	ret name params                                                                            \
	{                                                                                          \
		return ready() ? fn.name args : (fail);                                            \
	}

/* DYN_FWD for a function returning nothing: without the library, a no-op. */
#define DYN_VOID(name, params, args)                                                               \
	void name params                                                                           \
	{                                                                                          \
		if (ready())                                                                       \
			fn.name args;                                                              \
	}

#endif
