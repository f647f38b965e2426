/*
 * stats.c - request counters and latency histograms per route (lock-free
 * atomics bumped on the request path), and the Prometheus text writers:
 * the kiln_http_* families, and the standard process_* families.
 */
#include "http/internal.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

const double http_buckets[HTTP_NBUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
					    0.025,  0.05,    0.1,    0.25,  0.5,    1};
const int http_statuses[HTTP_NSTATUS] = {200, 201, 204, 400, 404, 405,
					 413, 414, 429, 500, 501, 503};

static int method_slot(int method)
{
	for (int i = 0; i < HTTP_NMETHODS; i++)
		if (method == (1 << i))
			return i;
	return HTTP_NMETHODS;
}

static int status_slot(int status)
{
	for (int i = 0; i < HTTP_NSTATUS; i++)
		if (http_statuses[i] == status)
			return i;
	return HTTP_NSTATUS;
}

void http__stats_record(struct http_route_stats *st, int method, int status, double seconds)
{
	int b;
	atomic_fetch_add_explicit(&st->by_status[method_slot(method)][status_slot(status)], 1,
				  memory_order_relaxed);
	for (b = 0; b < HTTP_NBUCKETS && seconds > http_buckets[b]; b++)
		;
	if (b < HTTP_NBUCKETS)
		atomic_fetch_add_explicit(&st->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->sum_ns, (uint_fast64_t)(seconds * 1e9),
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&st->count, 1, memory_order_relaxed);
}

int http_prom_family(struct buf *b, const char *name, const char *type, const char *help)
{
	return buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int http_prom_label(struct buf *b, const char *value)
{
	for (const char *p = value; *p; p++) {
		int rc;
		if (*p == '\\')
			rc = buf_adds(b, "\\\\");
		else if (*p == '"')
			rc = buf_adds(b, "\\\"");
		else if (*p == '\n')
			rc = buf_adds(b, "\\n");
		else
			rc = buf_addch(b, *p);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static const char *route_name(const struct http_route *routes, size_t n, size_t i)
{
	return i < n ? routes[i].pattern : "unmatched";
}

static int write_counts(const struct http_route *routes, size_t n,
			const struct http_route_stats *stats, struct buf *out)
{
	static const char *mnames[] = {"GET", "POST", "PUT", "DELETE", "HEAD", "other"};
	if (http_prom_family(out, "kiln_http_requests_total", "counter",
			     "Total HTTP requests handled.") < 0)
		return -1;
	for (size_t i = 0; i <= n; i++)
		for (int m = 0; m <= HTTP_NMETHODS; m++)
			for (int c = 0; c <= HTTP_NSTATUS; c++) {
				uint_fast64_t v = atomic_load_explicit(&stats[i].by_status[m][c],
								       memory_order_relaxed);
				char code[8] = "other";
				if (!v)
					continue;
				if (c < HTTP_NSTATUS)
					snprintf(code, sizeof(code), "%d", http_statuses[c]);
				if (buf_addf(out, "kiln_http_requests_total{code=\"%s\",handler=\"",
					     code) < 0 ||
				    http_prom_label(out, route_name(routes, n, i)) < 0 ||
				    buf_addf(out, "\",method=\"%s\"} %" PRIuFAST64 "\n", mnames[m],
					     v) < 0)
					return -1;
			}
	return 0;
}

static int write_histogram(const struct http_route *routes, size_t n,
			   const struct http_route_stats *stats, struct buf *out)
{
	if (http_prom_family(out, "kiln_http_request_duration_seconds", "histogram",
			     "HTTP request latency, from the first byte read to the reply.") < 0)
		return -1;
	for (size_t i = 0; i <= n; i++) {
		const char *h = route_name(routes, n, i);
		uint_fast64_t count = atomic_load(&stats[i].count), cum = 0;
		if (!count)
			continue;
		for (int b = 0; b < HTTP_NBUCKETS; b++) {
			cum += atomic_load(&stats[i].bucket[b]);
			if (buf_adds(out, "kiln_http_request_duration_seconds_bucket{handler=\"") <
				    0 ||
			    http_prom_label(out, h) < 0 ||
			    buf_addf(out, "\",le=\"%g\"} %" PRIuFAST64 "\n", http_buckets[b], cum) <
				    0)
				return -1;
		}
		/* +Inf equals _count by construction: read count once, use it for both. */
		if (cum > count)
			count = cum;
		if (buf_adds(out, "kiln_http_request_duration_seconds_bucket{handler=\"") < 0 ||
		    http_prom_label(out, h) < 0 ||
		    buf_addf(out, "\",le=\"+Inf\"} %" PRIuFAST64 "\n", count) < 0 ||
		    buf_adds(out, "kiln_http_request_duration_seconds_sum{handler=\"") < 0 ||
		    http_prom_label(out, h) < 0 ||
		    buf_addf(out, "\"} %.9f\n", (double)atomic_load(&stats[i].sum_ns) / 1e9) < 0 ||
		    buf_adds(out, "kiln_http_request_duration_seconds_count{handler=\"") < 0 ||
		    http_prom_label(out, h) < 0 ||
		    buf_addf(out, "\"} %" PRIuFAST64 "\n", count) < 0)
			return -1;
	}
	return 0;
}

int http__stats_write(const struct http_route *routes, size_t n,
		      const struct http_route_stats *stats, long in_flight, struct buf *out)
{
	if (write_counts(routes, n, stats, out) < 0 || write_histogram(routes, n, stats, out) < 0)
		return -1;
	if (http_prom_family(out, "kiln_http_requests_in_flight", "gauge",
			     "HTTP requests being handled now.") < 0 ||
	    buf_addf(out, "kiln_http_requests_in_flight %ld\n", in_flight) < 0)
		return -1;
	return 0;
}

/* Fields of /proc/self/stat after the command name: utime, stime, starttime, vsize, rss. */
static int read_self_stat(double *cpu, double *start, double *vsize, double *rss)
{
	char line[1024], *p;
	unsigned long long utime = 0, stime = 0, starttime = 0, vsz = 0;
	long long rss_pages = 0;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	double btime = 0;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t got;

	if (!f)
		return -1;
	got = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[got] = '\0';
	p = strrchr(line, ')');
	if (!p || tck <= 0 || page <= 0)
		return -1;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
	 * cutime cstime priority nice threads itrealvalue starttime vsize rss */
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
		   "%*d %llu %llu %lld",
		   &utime, &stime, &starttime, &vsz, &rss_pages) != 5)
		return -1;
	f = fopen("/proc/stat", "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "btime ", 6) == 0) {
				btime = strtod(line + 6, NULL);
				break;
			}
		fclose(f);
	}
	*cpu = (double)(utime + stime) / (double)tck;
	*start = btime + (double)starttime / (double)tck;
	*vsize = (double)vsz;
	*rss = (double)rss_pages * (double)page;
	return 0;
}

static long count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	const struct dirent *e;
	long n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream itself */
}

int http_prom_process(struct buf *b)
{
	double cpu, start, vsize, rss;
	struct rlimit rl;
	long fds = count_fds();

	if (read_self_stat(&cpu, &start, &vsize, &rss) == 0) {
		if (http_prom_family(b, "process_cpu_seconds_total", "counter",
				     "Total user and system CPU time spent in seconds.") < 0 ||
		    buf_addf(b, "process_cpu_seconds_total %.2f\n", cpu) < 0 ||
		    http_prom_family(b, "process_resident_memory_bytes", "gauge",
				     "Resident memory size in bytes.") < 0 ||
		    buf_addf(b, "process_resident_memory_bytes %.0f\n", rss) < 0 ||
		    http_prom_family(b, "process_virtual_memory_bytes", "gauge",
				     "Virtual memory size in bytes.") < 0 ||
		    buf_addf(b, "process_virtual_memory_bytes %.0f\n", vsize) < 0 ||
		    http_prom_family(b, "process_start_time_seconds", "gauge",
				     "Start time of the process since unix epoch in seconds.") <
			    0 ||
		    buf_addf(b, "process_start_time_seconds %.2f\n", start) < 0)
			return -1;
	}
	if (fds >= 0 && (http_prom_family(b, "process_open_fds", "gauge",
					  "Number of open file descriptors.") < 0 ||
			 buf_addf(b, "process_open_fds %ld\n", fds) < 0))
		return -1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    (http_prom_family(b, "process_max_fds", "gauge",
			      "Maximum number of open file descriptors.") < 0 ||
	     buf_addf(b, "process_max_fds %.0f\n",
		      rl.rlim_cur == RLIM_INFINITY ? 1e9 : (double)rl.rlim_cur) < 0))
		return -1;
	return 0;
}
