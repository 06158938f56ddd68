/* Prometheus metrics and their text exposition (metrics.h). */
#include "metrics.h"
#include "metrics_internal.h"
#include "config.h"
#include "log.h"

#include <arpa/inet.h>
#include <bson/bson.h>
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* 1 ms to 10 s: a worker op, a wait for a worker, a whole HTTP request. */
const double metrics_seconds_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const size_t metrics_seconds_buckets_count = sizeof(metrics_seconds_buckets) / sizeof(metrics_seconds_buckets[0]);

struct metrics_registry metrics_registry = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL};

char *metrics_const_name, *metrics_const_value;

void
metrics_const_label(const char *name, const char *value)
{
    metrics_const_name = bson_strdup(name);
    metrics_const_value = bson_strdup(value);
}

double
metrics_load(_Atomic uint64_t *bits)
{
    uint64_t b = atomic_load_explicit(bits, memory_order_relaxed);
    double v;
    memcpy(&v, &b, sizeof(v));
    return v;
}

static void
metrics_add_bits(_Atomic uint64_t *bits, double v)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed), new;
    do {
        double d;
        memcpy(&d, &old, sizeof(d));
        d += v;
        memcpy(&new, &d, sizeof(new));
    } while (!atomic_compare_exchange_weak_explicit(bits, &old, new, memory_order_relaxed, memory_order_relaxed));
}

static metrics_family_t *
metrics_family_new(const char *name, const char *help, enum metrics_kind kind, const char *labels)
{
    metrics_family_t *f = bson_malloc0(sizeof(*f));
    f->name = bson_strdup(name);
    f->help = bson_strdup(help);
    f->kind = kind;
    for (const char *l = labels; l != NULL && *l != '\0' && f->nlabels < METRICS_MAX_LABELS;) {
        size_t n = strcspn(l, ",");
        f->labels[f->nlabels++] = bson_strndup(l, n);
        l += n + (l[n] == ',');
    }
    pthread_mutex_init(&f->lock, NULL);
    f->slots = bson_malloc0(METRICS_SLOTS * sizeof(*f->slots));
    f->order = bson_malloc0(METRICS_MAX_SERIES * sizeof(*f->order));
    pthread_mutex_lock(&metrics_registry.lock);
    if (metrics_registry.last != NULL)
        metrics_registry.last->next = f;
    else
        metrics_registry.first = f;
    metrics_registry.last = f;
    pthread_mutex_unlock(&metrics_registry.lock);
    return f;
}

metrics_family_t *
metrics_counter(const char *name, const char *help, const char *labels)
{
    return metrics_family_new(name, help, METRICS_COUNTER, labels);
}

metrics_family_t *
metrics_gauge(const char *name, const char *help, const char *labels)
{
    return metrics_family_new(name, help, METRICS_GAUGE, labels);
}

metrics_family_t *
metrics_histogram(const char *name, const char *help, const char *labels, const double *bounds, size_t nbounds)
{
    metrics_family_t *f = metrics_family_new(name, help, METRICS_HISTOGRAM, labels);
    f->bounds = bson_malloc(nbounds * sizeof(double));
    memcpy(f->bounds, bounds, nbounds * sizeof(double));
    f->nbounds = nbounds;
    return f;
}

void
metrics_gauge_fn(const char *name, const char *help, double (*read)(void))
{
    metrics_family_new(name, help, METRICS_GAUGE_FN, NULL)->read = read;
}

static uint32_t
metrics_hash(const char *const *values, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++)
            h = (h ^ *p) * 16777619u;
        h = (h ^ 0xff) * 16777619u;
    }
    return h;
}

metrics_series_t *
metrics_series(metrics_family_t *f, const char *const *values)
{
    static const char *const none[1] = {NULL};
    if (f == NULL)
        return NULL;
    if (values == NULL)
        values = none;
    uint32_t slot = metrics_hash(values, f->nlabels) % METRICS_SLOTS;
    metrics_series_t *s = NULL;
    pthread_mutex_lock(&f->lock);
    for (;; slot = (slot + 1) % METRICS_SLOTS) {
        s = f->slots[slot];
        if (s == NULL)
            break;
        size_t i = 0;
        while (i < f->nlabels && strcmp(s->values[i], values[i]) == 0)
            i++;
        if (i == f->nlabels)
            break;
    }
    if (s == NULL && f->nseries < METRICS_MAX_SERIES) {
        s = bson_malloc0(sizeof(*s));
        s->family = f;
        for (size_t i = 0; i < f->nlabels; i++)
            s->values[i] = bson_strdup(values[i] != NULL ? values[i] : "");
        if (f->kind == METRICS_HISTOGRAM)
            s->buckets = bson_malloc0((f->nbounds + 1) * sizeof(*s->buckets));
        f->slots[slot] = s;
        f->order[f->nseries++] = s;
    }
    pthread_mutex_unlock(&f->lock);
    return s;
}

void
metrics_add(metrics_series_t *s, double v)
{
    if (s != NULL)
        metrics_add_bits(&s->value, v);
}

void
metrics_set(metrics_series_t *s, double v)
{
    if (s == NULL)
        return;
    uint64_t b;
    memcpy(&b, &v, sizeof(b));
    atomic_store_explicit(&s->value, b, memory_order_relaxed);
}

void
metrics_observe(metrics_series_t *s, double v)
{
    if (s == NULL || s->buckets == NULL)
        return;
    size_t i = 0;
    while (i < s->family->nbounds && v > s->family->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    metrics_add_bits(&s->value, v);
}
