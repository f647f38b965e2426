/*
 * server.c - the life of a kiln serve process: start (model, signals, HTTP),
 * the wait loop on signalfd and inotify (SIGHUP or a new model file reloads;
 * SIGTERM / SIGINT drains), reloads that never replace a good model with a
 * broken one, and the /metrics families about the model. Registry mode's
 * follower thread is follow.c.
 */
#include "serve/internal.h"

#include "base/log.h"
#include "base/mem.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>

static int watch_file(struct srv *s, struct err *err)
{
	const char *slash = strrchr(s->cfg.model_path, '/');
	s->dir = slash ? mem_strndup(s->cfg.model_path, (size_t)(slash - s->cfg.model_path) + 1)
		       : mem_strdup(".");
	s->base = mem_strdup(slash ? slash + 1 : s->cfg.model_path);
	if (!s->dir || !s->base)
		return err_set(err, ERR_NOMEM, "out of memory");
	s->inofd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inofd < 0)
		return err_set(err, ERR_IO, "inotify: %s", strerror(errno));
	/*
	 * Watch the directory, not the file: an atomic replace (write a
	 * temporary, rename) puts a new inode under the name.
	 */
	s->inowd = inotify_add_watch(s->inofd, s->dir, IN_CLOSE_WRITE | IN_MOVED_TO);
	if (s->inowd < 0)
		return err_set(err, ERR_IO, "cannot watch '%s': %s", s->dir, strerror(errno));
	return 0;
}

struct srv *srv_start(const struct srv_config *cfg, struct err *err)
{
	struct srv *s = mem_calloc(1, sizeof(*s));
	struct srv_model *m;
	const char *path = cfg->model_path, *version = cfg->version;
	sigset_t set;

	if (!s) {
		err_set(err, ERR_NOMEM, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	s->sigfd = s->inofd = s->inowd = -1;
	s->reqlog.fd = -1;
	pthread_mutex_init(&s->swap_lock, NULL);
	if (cfg->registry_url) {
		s->cfg.watch = 0; /* the cache file never changes; the alias does */
		if (!cfg->name)
			s->cfg.name = cfg->ref_name;
		if (srv__follow_open(s, &path, &version, err) < 0)
			goto fail;
	}
	m = srv_model_load(path, s->cfg.name, version, err);
	if (!m)
		goto fail;
	atomic_fetch_add(&s->loads, 1);
	srv_slot_swap(&s->slot, m);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* Before any thread starts, so the HTTP threads inherit the mask. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
		err_set(err, ERR_IO, "cannot block signals");
		goto fail;
	}
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (s->sigfd < 0) {
		err_set(err, ERR_IO, "signalfd: %s", strerror(errno));
		goto fail;
	}
	if (s->cfg.watch && watch_file(s, err) < 0)
		goto fail;
	if (cfg->log_dir && srv__reqlog_open(&s->reqlog, cfg->log_dir, cfg->log_sample,
					     cfg->log_max_bytes, err) < 0)
		goto fail;
	s->http = http_start(&cfg->http, srv_routes, srv_nroutes, s, err);
	if (!s->http || (s->follow && srv__follow_start(s, err) < 0))
		goto fail;
	return s;
fail:
	srv_free(s);
	return NULL;
}

unsigned srv_port(const struct srv *s)
{
	return http_port(s->http);
}

int srv_load(struct srv *s, const char *path, const char *name, const char *version,
	     struct err *err)
{
	struct srv_model *cur, *m;
	int ret = -1;

	pthread_mutex_lock(&s->swap_lock);
	cur = srv_slot_get(&s->slot);
	m = srv_model_load(path, name, version, err);
	if (!m) {
		atomic_fetch_add(&s->load_failures, 1);
		log_error("serve: keeping model %s version %s: %s", cur ? cur->name : "-",
			  cur ? cur->version : "-", err->msg);
		goto out;
	}
	if (cur && strcmp(cur->sha256, m->sha256) == 0 && strcmp(cur->name, m->name) == 0 &&
	    strcmp(cur->version, m->version) == 0) {
		log_info("serve: model unchanged (sha256 %.12s)", m->sha256);
		srv_model_unref(m, __func__);
		ret = 0;
		goto out;
	}
	atomic_fetch_add(&s->loads, 1);
	log_warn("serve: now serving %s version %s (sha256 %.12s)", m->name, m->version, m->sha256);
	srv_slot_swap(&s->slot, m);
	ret = 0;
out:
	srv_model_unref(cur, __func__);
	pthread_mutex_unlock(&s->swap_lock);
	return ret;
}

int srv_reload(struct srv *s, struct err *err)
{
	return srv_load(s, s->cfg.model_path, s->cfg.name, s->cfg.version, err);
}

/* Drains pending inotify events; true when one names the model file. */
static int file_changed(struct srv *s)
{
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int hit = 0;
	ssize_t n;
	while ((n = read(s->inofd, ev, sizeof(ev))) > 0) {
		for (char *p = ev; p < ev + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			if (e->len && strcmp(e->name, s->base) == 0)
				hit = 1;
			p += sizeof(*e) + e->len;
		}
	}
	return hit;
}

int srv_wait(struct srv *s, struct err *err)
{
	struct pollfd pfd[2] = {{s->sigfd, POLLIN, 0}, {s->inofd, POLLIN, 0}};
	long left;

	for (;;) {
		struct signalfd_siginfo si;
		struct err rerr = ERR_INIT;
		if (poll(pfd, s->inofd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return err_set(err, ERR_IO, "poll: %s", strerror(errno));
		}
		if (s->inofd >= 0 && (pfd[1].revents & POLLIN) && file_changed(s)) {
			log_info("serve: '%s' changed, reloading", s->cfg.model_path);
			(void)srv_reload(s, &rerr); /* logged and counted; the old model stays */
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		if (read(s->sigfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP && s->follow) {
			log_info("serve: SIGHUP, asking the registry now");
			srv__follow_kick(s);
			continue;
		}
		if (si.ssi_signo == SIGHUP) {
			log_info("serve: SIGHUP, reloading '%s'", s->cfg.model_path);
			(void)srv_reload(s, &rerr); /* logged and counted; the old model stays */
			continue;
		}
		break;
	}
	srv__follow_stop(s); /* no swap once draining */
	log_warn("serve: draining (up to %ld ms)", s->cfg.drain_timeout_ms);
	atomic_store(&s->draining, 1);
	left = http_drain(s->http, s->cfg.drain_timeout_ms);
	if (left > 0)
		return err_set(err, ERR_IO, "%ld requests still running after the %ld ms drain",
			       left, s->cfg.drain_timeout_ms);
	return 0;
}

void srv_free(struct srv *s)
{
	if (!s)
		return;
	srv__follow_stop(s);
	http_free(s->http);
	srv__follow_free(s);
	srv_slot_swap(&s->slot, NULL);
	srv__reqlog_close(&s->reqlog);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->inofd >= 0)
		close(s->inofd);
	mem_free(s->dir);
	mem_free(s->base);
	pthread_mutex_destroy(&s->swap_lock);
	mem_free(s);
}

static int write_model(struct srv *s, struct srv_model *m, struct buf *b)
{
	if (http_prom_family(b, "kiln_model_info", "gauge", "The model being served (always 1).") <
		    0 ||
	    buf_adds(b, "kiln_model_info{model=\"") < 0 || http_prom_label(b, m->name) < 0 ||
	    buf_adds(b, "\",sha256=\"") < 0 || http_prom_label(b, m->sha256) < 0 ||
	    buf_adds(b, "\",version=\"") < 0 || http_prom_label(b, m->version) < 0 ||
	    buf_adds(b, "\"} 1\n") < 0 ||
	    http_prom_family(b, "kiln_model_loaded_timestamp_seconds", "gauge",
			     "When the model being served was loaded.") < 0 ||
	    buf_addf(b, "kiln_model_loaded_timestamp_seconds %.3f\n", m->loaded_at) < 0 ||
	    http_prom_family(b, "kiln_model_predictions_total", "counter",
			     "Predictions made, by predicted class.") < 0)
		return -1;
	for (size_t k = 0; k < m->npred; k++) {
		const char *cls =
			m->schema->task == ML_TASK_REGRESSION ? "" : m->schema->classes[k];
		if (buf_adds(b, "kiln_model_predictions_total{class=\"") < 0 ||
		    http_prom_label(b, cls) < 0 || buf_adds(b, "\",model=\"") < 0 ||
		    http_prom_label(b, m->name) < 0 || buf_adds(b, "\",version=\"") < 0 ||
		    http_prom_label(b, m->version) < 0 ||
		    buf_addf(b, "\"} %llu\n", (unsigned long long)atomic_load(&m->pred_count[k])) <
			    0)
			return -1;
	}
	return 0;
}

int srv__write_metrics(struct srv *s, struct buf *out)
{
	struct srv_model *m = srv_slot_get(&s->slot);
	int ret = -1;

	if (http_write_metrics(s->http, out) < 0 || (m && write_model(s, m, out) < 0))
		goto out;
	if (http_prom_family(out, "kiln_model_loads_total", "counter",
			     "Models loaded and swapped in.") < 0 ||
	    buf_addf(out, "kiln_model_loads_total %llu\n",
		     (unsigned long long)atomic_load(&s->loads)) < 0 ||
	    http_prom_family(out, "kiln_model_load_failures_total", "counter",
			     "Model loads that failed; the previous model kept serving.") < 0 ||
	    buf_addf(out, "kiln_model_load_failures_total %llu\n",
		     (unsigned long long)atomic_load(&s->load_failures)) < 0 ||
	    (s->follow &&
	     (http_prom_family(out, "kiln_registry_errors_total", "counter",
			       "Registry polls and bundle downloads that failed; the model "
			       "kept serving.") < 0 ||
	      buf_addf(out, "kiln_registry_errors_total %llu\n",
		       (unsigned long long)atomic_load(&s->registry_errors)) < 0)) ||
	    http_prom_family(out, "kiln_model_ready", "gauge",
			     "1 while a model is loaded and the server is not draining.") < 0 ||
	    buf_addf(out, "kiln_model_ready %d\n", m && !atomic_load(&s->draining)) < 0 ||
	    http_prom_family(out, "kiln_build_info", "gauge", "kiln's version (always 1).") < 0 ||
	    buf_adds(out, "kiln_build_info{version=\"" KILN_VERSION "\"} 1\n") < 0 ||
	    http_prom_process(out) < 0)
		goto out;
	ret = 0;
out:
	srv_model_unref(m, __func__);
	return ret;
}
