/*
 * serve.h - the model server behind `kiln serve`: model slots with atomic
 * hot swap, the inference routes (/predict, KServe V1, Open Inference
 * Protocol V2), health and Prometheus metrics, reload on SIGHUP or a change
 * of the model file, following a registry alias (NAME@ALIAS on a kiln
 * server, follow.c), and a graceful drain on SIGTERM / SIGINT.
 *
 * Lifetimes: a struct srv_model is refcounted. A slot owns one reference to
 * its current model; every request takes its own with srv_slot_get and drops
 * it when the reply is written, so a swap never frees a model in use.
 */
#ifndef KILN_SERVE_H
#define KILN_SERVE_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/err.h"
#include "http/http.h"
#include "ml/model.h"

/* A loaded, verified model and what the routes need to describe it. */
struct srv_model {
	atomic_long refs;
	struct ml_model *ml;		/* owned */
	const struct ml_schema *schema; /* borrowed from ml */
	const char *label;		/* output key, borrowed from ml */
	char *name, *version;		/* owned */
	char sha256[65];
	double loaded_at;		  /* unix seconds */
	size_t npred;			  /* counters: one per class, or 1 for regression */
	atomic_uint_fast64_t *pred_count; /* owned */
};

/*
 * Loads the bundle at path and returns a model with one reference, or NULL
 * with err set. ml_model_load checks the bundle: format, checksum, and the
 * sample predictions its manifest stores from training ("checks") must come
 * out the same. name NULL: the file name without ".kiln"; version NULL: the
 * manifest's "version", else "1".
 */
struct srv_model *srv_model_load(const char *path, const char *name, const char *version,
				 struct err *err);
/* Takes a reference (who names the taker in debug logs) and returns m. */
struct srv_model *srv_model_ref(struct srv_model *m, const char *who);
/* Drops a reference; the last one frees the model. NULL is fine. */
void srv_model_unref(struct srv_model *m, const char *who);

/*
 * A named place a model is served from. Swapping is one atomic exchange; a
 * later alias (NAME@ALIAS) or canary is another slot.
 */
struct srv_slot {
	_Atomic(struct srv_model *) cur;
	atomic_long readers; /* threads between loading cur and taking their reference */
};

/* A new reference to the slot's model, or NULL when it is empty. Lock-free. */
struct srv_model *srv_slot_get(struct srv_slot *s);
/*
 * Installs m (taking over the caller's reference; NULL empties the slot) and
 * drops the slot's reference to the old model once every reader that could
 * have seen it holds its own. Called from one thread at a time.
 */
void srv_slot_swap(struct srv_slot *s, struct srv_model *m);

struct srv_config {
	struct http_config http;
	const char *model_path;
	const char *name;      /* NULL: from the file name */
	const char *version;   /* NULL: from the manifest */
	long drain_timeout_ms; /* SIGTERM: how long requests in flight may finish */
	int watch;	       /* reload when the model file changes (inotify) */
	const char *log_dir;   /* --log-requests: sampled predictions as JSON lines; NULL: off */
	double log_sample;     /* fraction of requests logged, (0, 1] */
	size_t log_max_bytes;  /* rotate the request log past this size */
	/*
	 * Registry mode (registry_url set): model_path, version and watch are
	 * ignored. The alias ref_name@ref_alias is resolved on the kiln server
	 * at registry_url (token: registry_token, may be NULL), its bundle is
	 * downloaded (verified) into cache_dir/<sha256>.kiln, or reused from
	 * there, and served as model name (NULL: ref_name) with the registry
	 * version. A thread resolves again every poll_ms (If-None-Match) and
	 * swaps in the new version when the alias moves; SIGHUP polls at once.
	 */
	const char *registry_url, *registry_token;
	const char *ref_name, *ref_alias;
	const char *cache_dir;
	long poll_ms;
};

struct srv; /* opaque */

/*
 * Loads the model, blocks SIGHUP, SIGTERM and SIGINT in the calling thread
 * (so every server thread inherits the mask) and starts the HTTP server (and
 * in registry mode the follower thread). Returns NULL with err set when the
 * model or the address is bad, or the registry cannot be reached.
 */
struct srv *srv_start(const struct srv_config *cfg, struct err *err);
unsigned srv_port(const struct srv *s);
/*
 * Runs until SIGTERM or SIGINT: reloads on SIGHUP and (with watch) when the
 * model file is replaced, then stops the follower thread and drains. Returns 0 after a clean drain,
 * -1 with err set when requests were still running at the drain timeout.
 */
int srv_wait(struct srv *s, struct err *err);
/*
 * Loads the model file again and swaps it in when it loads and verifies;
 * otherwise keeps the current model, counts the failure and returns -1.
 */
int srv_reload(struct srv *s, struct err *err);
/*
 * Loads the bundle at path as model name, version (NULL: as srv_model_load
 * says) and swaps it in, as srv_reload does: a bundle that fails to load
 * keeps the current model, is logged and counted, and returns -1. The same
 * bytes under the same name and version are not swapped again. Safe to call
 * from any thread (swaps are serialised).
 */
int srv_load(struct srv *s, const char *path, const char *name, const char *version,
	     struct err *err);
void srv_free(struct srv *s);

/* The HTTP routes of the server, for tests and the route fuzzer. */
extern const struct http_route srv_routes[];
extern const size_t srv_nroutes;

#endif
