/*
 * dyn.c - the loader behind the shims of src/dyn/: dlopen, dlsym of every
 * name, and the one error line when a library is missing or too old. It
 * knows nothing of any particular library.
 */
#include "dyn/dyn.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

static int fail(struct dyn_lib *lib, const char *why, const char *name)
{
	snprintf(lib->error, sizeof(lib->error), "cannot load %s (Debian package %s): %s%s",
		 lib->soname, lib->package, why, name);
	snprintf(lib->brief, sizeof(lib->brief), "%s could not be loaded", lib->soname);
	log_error("%s", lib->error);
	return -1;
}

int dyn_open(struct dyn_lib *lib)
{
	void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	size_t i;
	if (!h) {
		const char *why = dlerror();
		return fail(lib, why ? why : "dlopen failed", "");
	}
	for (i = 0; i < lib->count; i++) {
		void *p = dlsym(h, lib->names[i]);
		if (!p)
			return fail(lib, "it lacks ", lib->names[i]); /* stays open: see dyn.h */
		/* POSIX: a dlsym result converts to a function pointer of the same size. */
		memcpy((char *)lib->table + i * sizeof(void *), &p, sizeof(p));
	}
	lib->loaded = 1;
	return 0;
}
