/*
 * model.c - served models: load and verify a bundle, refcounts, and the slot
 * a model is served from (one atomic exchange per swap, a short grace period
 * before the old model's reference is dropped). No HTTP here.
 */
#include "serve/serve.h"

#include "base/log.h"
#include "base/mem.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct srv_model *srv_model_ref(struct srv_model *m, const char *who)
{
	long n = atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed) + 1;
	log_at(LOG_DEBUG + 1, "serve", "model %s ref %ld by %s", m->name, n, who);
	return m;
}

static void model_free(struct srv_model *m)
{
	ml_model_free(m->ml);
	mem_free(m->name);
	mem_free(m->version);
	mem_free((void *)m->pred_count);
	mem_free(m);
}

void srv_model_unref(struct srv_model *m, const char *who)
{
	long n;
	if (!m)
		return;
	n = atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) - 1;
	log_at(LOG_DEBUG + 1, "serve", "model %s unref %ld by %s", m->name, n, who);
	if (n == 0) {
		log_debug("serve: freeing model %s version %s", m->name, m->version);
		model_free(m);
	}
}

struct srv_model *srv_slot_get(struct srv_slot *s)
{
	struct srv_model *m;
	atomic_fetch_add(&s->readers, 1);
	m = atomic_load(&s->cur);
	if (m)
		atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	atomic_fetch_sub(&s->readers, 1);
	return m;
}

void srv_slot_swap(struct srv_slot *s, struct srv_model *m)
{
	struct srv_model *old = atomic_exchange(&s->cur, m);
	/*
	 * A reader may have loaded old just before the exchange and not yet
	 * taken its reference. Once readers is seen at zero after the exchange,
	 * every such reader has its reference, and later ones see m. The window
	 * is a few instructions long, so yielding is enough.
	 */
	while (atomic_load(&s->readers) != 0)
		sched_yield();
	srv_model_unref(old, __func__);
}

/* The file name without directories and a ".kiln" suffix. */
static char *default_name(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t len;
	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".kiln") == 0)
		len -= 5;
	return mem_strndup(base, len);
}

static char *manifest_version(const json_t *manifest)
{
	const json_t *v = json_object_get(manifest, "version");
	char num[32];
	if (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 64)
		return mem_strdup(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
		return mem_strdup(num);
	}
	return mem_strdup("1");
}

struct srv_model *srv_model_load(const char *path, const char *name, const char *version,
				 struct err *err)
{
	struct srv_model *m = mem_calloc(1, sizeof(*m));
	struct timespec now;
	const char *sha;

	if (!m) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	atomic_init(&m->refs, 1);
	m->ml = ml_model_load(path, err);
	if (!m->ml)
		goto fail;
	m->schema = ml_model_schema(m->ml);
	m->label = ml_model_label_name(m->ml);
	m->name = name ? mem_strdup(name) : default_name(path);
	m->version = version ? mem_strdup(version) : manifest_version(ml_model_manifest(m->ml));
	m->npred = m->schema->task == ML_TASK_REGRESSION ? 1 : m->schema->nclasses;
	m->pred_count = mem_calloc(m->npred ? m->npred : 1, sizeof(*m->pred_count));
	if (!m->name || !m->version || !m->pred_count) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (!m->name[0] || strchr(m->name, ':') || strchr(m->name, '/')) {
		err_set(err, ERR_USAGE, "model name '%s' must be non-empty without ':' or '/'",
			m->name);
		goto fail;
	}
	sha = ml_model_sha256(m->ml);
	snprintf(m->sha256, sizeof(m->sha256), "%s", sha ? sha : "");
	clock_gettime(CLOCK_REALTIME, &now);
	m->loaded_at = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	return m;
fail:
	model_free(m);
	return NULL;
}
