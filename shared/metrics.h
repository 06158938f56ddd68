/*
 * Prometheus metrics of one process, and their text exposition
 * (https://prometheus.io/docs/instrumenting/exposition_formats/, format
 * 0.0.4): counters, gauges and histograms with up to METRICS_MAX_LABELS
 * labels each, safe to update from any thread.
 *
 * Names follow Prometheus conventions
 * (https://prometheus.io/docs/practices/naming/): base units (seconds,
 * bytes), `_total` for counters, a `roost_` prefix for Roost's own. A
 * family is registered once at start-up; a series (one combination of
 * label values) is found or made by metrics_series() and its pointer stays
 * valid for the life of the process, so hot paths look it up once and keep
 * it. Label values must come from small fixed sets (route templates, op
 * names, status codes), never from client text: a family holds at most
 * METRICS_MAX_SERIES series and ignores (returns NULL for) any more.
 *
 * The standard process metrics (process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds, process_start_time_seconds) are
 * rendered from /proc with every exposition.
 */
#ifndef ROOST_METRICS_H
#define ROOST_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define METRICS_MAX_LABELS 3
#define METRICS_MAX_SERIES 2048

typedef struct metrics_family metrics_family_t;
typedef struct metrics_series metrics_series_t;

/* `labels`: comma-separated label names ("route,method,status"), or NULL. */
metrics_family_t *metrics_counter(const char *name, const char *help, const char *labels);
metrics_family_t *metrics_gauge(const char *name, const char *help, const char *labels);
/* `bounds`: the buckets' upper bounds, increasing (the +Inf bucket is added). */
metrics_family_t *metrics_histogram(const char *name, const char *help, const char *labels, const double *bounds,
                                    size_t nbounds);
/* A gauge without labels whose value `read` gives at each exposition. */
void metrics_gauge_fn(const char *name, const char *help, double (*read)(void));

/* A label every roost_* series of this process carries, e.g. service="users"
 * for a broker or a worker, so that one query can select a service's pool
 * (the autoscaler's). Set once, before serving. */
void metrics_const_label(const char *name, const char *value);

/* The series of `values` (as many as the family has labels; NULL for none). */
metrics_series_t *metrics_series(metrics_family_t *family, const char *const *values);

/* Counter or gauge: adds `v` (a counter only ever grows: v >= 0). NULL is a no-op. */
void metrics_add(metrics_series_t *series, double v);
/* Gauge: sets. */
void metrics_set(metrics_series_t *series, double v);
/* Histogram: counts one observation of `v` (seconds, bytes...). */
void metrics_observe(metrics_series_t *series, double v);

/* The latency buckets of Roost's duration histograms, in seconds. */
extern const double metrics_seconds_buckets[];
extern const size_t metrics_seconds_buckets_count;

/* Every family and the process metrics, in the text format; malloc'ed,
 * its length in *len. NULL when out of memory. */
char *metrics_render(size_t *len);

/* The Content-Type of metrics_render()'s text. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
