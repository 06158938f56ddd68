/* Metrics and the access log of the ingress (observe.h). */
#include "observe.h"
#include "call.h"
#include "clock.h"
#include "config.h"
#include "envelope.h"
#include "log.h"
#include "filter.h"
#include "respond.h"
#include "metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static struct {
    metrics_family_t *requests, *duration;
    metrics_series_t *calls[4]; /* by client_result_t */
    atomic_int in_flight;
    bool access_log;
} observe;

/* One request being watched; lives in the request's memory pool. */
typedef struct observe_request {
    h2o_req_t *req;
    const route_t *route;
    struct timespec start;
    bool recorded;
    struct observe_request *prev, *next; /* in this loop thread's `watched` */
    char rid[ENVELOPE_RID_MAX + 1];
} observe_request_t;

/* The requests of this thread's loop not yet recorded. A response starts on
 * the loop thread of its request, so each list is only touched by its own
 * thread; it holds at most the loop's requests in flight. */
static _Thread_local observe_request_t *watched;

static void observe_response_started(h2o_req_t *req);

static double
observe_in_flight(void)
{
    return atomic_load(&observe.in_flight);
}

void
observe_init(void)
{
    observe.requests =
        metrics_counter("roost_http_requests_total", "HTTP requests answered, by route pattern, method and status.",
                        "route,method,status");
    observe.duration = metrics_histogram("roost_http_request_duration_seconds",
                                         "Time from a request's arrival to the release of its response, by route.",
                                         "route", metrics_seconds_buckets, metrics_seconds_buckets_count);
    metrics_gauge_fn("roost_http_requests_in_flight", "HTTP requests received and not yet answered.",
                     observe_in_flight);
    metrics_family_t *calls = metrics_counter(
        "roost_nng_calls_total", "Calls to worker pools, by outcome (ok, unavailable: 503, timeout: 504).", "outcome");
    static const char *const outcomes[] = {"ok", "timeout", "unavailable", "unavailable"};
    for (int i = 0; i < 4; i++) /* CLIENT_UNREACHABLE and CLIENT_CLOSED: one series */
        observe.calls[i] = metrics_series(calls, (const char *const[]){outcomes[i]});
    /* One line per request at info level; ROOST_ACCESS_LOG=0 turns it off. */
    observe.access_log = cfg_int("ROOST_ACCESS_LOG", 1, 0, 1) == 1;
    filter_on_response_start(observe_response_started);
}

void
observe_call(client_result_t result)
{
    if ((unsigned)result < 4)
        metrics_add(observe.calls[result], 1);
}

/* Records `o` once: its status, route and duration, and its access-log line. */
static void
observe_record(observe_request_t *o)
{
    if (o->recorded)
        return;
    o->recorded = true;
    if (o->prev != NULL)
        o->prev->next = o->next;
    else
        watched = o->next;
    if (o->next != NULL)
        o->next->prev = o->prev;
    h2o_req_t *req = o->req;
    double seconds = clock_seconds_since(&o->start);
    const char *route = o->route != NULL ? o->route->pattern : "unmatched";
    char method[16], status[8];
    snprintf(method, sizeof(method), "%.*s", (int)(req->method.len < 15 ? req->method.len : 15), req->method.base);
    snprintf(status, sizeof(status), "%d", req->res.status);
    /* Only known methods become label values: any other is "other". */
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL};
    const char *m = "other";
    for (int i = 0; known[i] != NULL; i++)
        if (strcmp(method, known[i]) == 0)
            m = known[i];
    metrics_add(metrics_series(observe.requests, (const char *const[]){route, m, status}), 1);
    metrics_observe(metrics_series(observe.duration, (const char *const[]){route}), seconds);
    atomic_fetch_sub(&observe.in_flight, 1);
    if (observe.access_log)
        log_request(LOG_INFO, o->rid, o->route != NULL && !(o->route->flags & ROUTE_LOCAL) ? o->route->op : NULL,
                    req->res.status, seconds, "%s %.*s", method, (int)(req->path.len < 512 ? req->path.len : 512),
                    req->path.base);
}

static void
observe_response_started(h2o_req_t *req)
{
    for (observe_request_t *o = watched; o != NULL; o = o->next)
        if (o->req == req) {
            observe_record(o);
            return;
        }
}

/* When h2o frees the request: a request whose response never started (its
 * client left first) is recorded here, with the status it had (0 if none). */
static void
observe_request_done(void *p)
{
    observe_record(p);
}

void
observe_request(h2o_req_t *req, const route_t *route, const char *rid)
{
    observe_request_t *o = h2o_mem_alloc_shared(&req->pool, sizeof(*o), observe_request_done);
    o->req = req;
    o->route = route;
    o->recorded = false;
    o->prev = NULL;
    o->next = watched;
    if (watched != NULL)
        watched->prev = o;
    watched = o;
    snprintf(o->rid, sizeof(o->rid), "%s", rid);
    clock_gettime(CLOCK_MONOTONIC, &o->start);
    atomic_fetch_add(&observe.in_flight, 1);
}
