/*
 * xgb.c - the XGBoost C API, loaded with dlopen the first time a model is
 * trained. Only training needs XGBoost (prediction walks the trees itself),
 * and linking it would cost every kiln process - serve, run, predict - about
 * 7 MB of resident memory for XGBoost, libstdc++ and libgomp.
 */
#include "ml/internal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define ML_XGB_LIBRARY "libxgboost.so.0"

static struct ml__xgb table;
static char load_error[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;

static void load(void)
{
	void *lib = dlopen(ML_XGB_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;
	if (!lib) {
		snprintf(load_error, sizeof(load_error), "%s", dlerror());
		return;
	}
	/* dlsym returns void *; POSIX guarantees it converts to a function pointer. */
#define ML_XGB_SYM(name)                                                                           \
	if (!missing && !(*(void **)(&table.name) = dlsym(lib, #name)))                            \
		missing = #name;
	ML_XGB_FUNCTIONS(ML_XGB_SYM)
#undef ML_XGB_SYM
	if (missing) {
		snprintf(load_error, sizeof(load_error), "%s lacks %s", ML_XGB_LIBRARY, missing);
		return; /* the library stays loaded: dlclose of a C++ runtime is unsafe */
	}
	loaded = 1;
}

const struct ml__xgb *ml__xgb_load(struct err *err)
{
	if (pthread_once(&once, load) != 0 || !loaded) {
		err_set(err, ERR_TRAIN,
			"gbdt needs XGBoost (Debian package libxgboost0): cannot load it: %s",
			load_error[0] ? load_error : "pthread_once failed");
		return NULL;
	}
	return &table;
}

const struct ml__xgb *ml__xgb_table(void)
{
	return &table;
}
