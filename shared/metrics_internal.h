/*
 * The registry's inside, shared by metrics.c (the registry) and
 * metrics_text.c (its exposition); nobody else includes it.
 */
#ifndef ROOST_METRICS_INTERNAL_H
#define ROOST_METRICS_INTERNAL_H

#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

enum metrics_kind { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM, METRICS_GAUGE_FN };

struct metrics_series {
    const struct metrics_family *family;
    char *values[METRICS_MAX_LABELS];
    _Atomic uint64_t value;    /* a double's bits: counter, gauge; a histogram's sum */
    _Atomic uint64_t *buckets; /* histogram: observations per bucket, not cumulative; nbounds + 1 */
};

#define METRICS_SLOTS (2 * METRICS_MAX_SERIES) /* open addressing, at most half full */

struct metrics_family {
    char *name, *help;
    enum metrics_kind kind;
    char *labels[METRICS_MAX_LABELS];
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    double (*read)(void);
    pthread_mutex_t lock;
    metrics_series_t **slots; /* METRICS_SLOTS, by hash of the label values */
    metrics_series_t **order; /* in creation order, for a stable exposition */
    size_t nseries;
    metrics_family_t *next;
};

extern struct metrics_registry {
    pthread_mutex_t lock;
    metrics_family_t *first, *last;
} metrics_registry;

/* The label every series of this process carries (metrics_const_label), or NULL. */
extern char *metrics_const_name, *metrics_const_value;

/* A double kept as its bits in an atomic word. */
double metrics_load(_Atomic uint64_t *bits);

#endif
