/*
 * The direct path's calls (spine.h): which services take it, a request's
 * life from its loop to a worker and back, the queue of each pool on each
 * loop, deadlines, and the loop's timers. Connections are spine_conn.c's.
 */
#include "spine.h"
#include "spine_internal.h"
#include "client.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "observe.h"
#include "pools.h"
#include "reply.h"
#include "respond.h"
#include "sp.h"
#include "tls.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static struct {
    struct {
        const char *list;                 /* the workers' URLs, as configured */
        spine_url_t urls[SPINE_MAX_URLS]; /* parsed, each loop's copy made from them */
        size_t nurls;
        char name[64];                             /* the services it serves ("sys+users"), for the logs */
        metrics_series_t *queued[SPINE_MAX_POOLS]; /* roost_ingress_queued_requests{service}, one per service */
        size_t nqueued;
        atomic_int ready; /* connections ready to its workers, over every loop */
    } pools[SPINE_MAX_POOLS];
    size_t npools;
    struct {
        char name[32];
        size_t pool;
    } services[SPINE_MAX_POOLS];
    size_t nservices;
    int timeout_ms, capacity;
    uint64_t max_message;
    atomic_int in_flight;
} spine;

static __thread spine_loop_t *spine_here;

int
spine_capacity(void)
{
    return spine.capacity;
}

uint64_t
spine_max_message(void)
{
    return spine.max_message;
}

/* Adds the pool of one routed op's service, when its workers are listed. */
static void
spine_add_route(const route_t *route, void *arg)
{
    bool *ok = arg;
    char service[32];
    if (route->flags & ROUTE_LOCAL)
        return;
    pools_service_of(route->op, service, sizeof(service));
    const char *list = pools_workers_url(service);
    if (list[0] == '\0' || spine_serves(service) || !*ok)
        return;
    size_t p = 0;
    while (p < spine.npools && strcmp(spine.pools[p].list, list) != 0)
        p++;
    if (p == spine.npools) {
        if (p == SPINE_MAX_POOLS) {
            log_error("more than %d worker pools", SPINE_MAX_POOLS);
            *ok = false;
            return;
        }
        spine.pools[p].list = list;
        spine.npools++;
    }
    size_t n = strlen(spine.pools[p].name);
    snprintf(spine.pools[p].name + n, sizeof(spine.pools[p].name) - n, "%s%s", n ? "+" : "", service);
    bson_strncpy(spine.services[spine.nservices].name, service, sizeof(spine.services[0].name));
    spine.services[spine.nservices++].pool = p;
}

/* Parses a pool's list of worker URLs into `p`'s, with the TLS context
 * of each tls+tcp:// one; false (logged) when one is not a URL. */
static bool
spine_parse_list(size_t p)
{
    char *copy = bson_strdup(spine.pools[p].list), *save = NULL;
    bool ok = true;
    for (char *url = strtok_r(copy, ",", &save); url != NULL && ok; url = strtok_r(NULL, ",", &save)) {
        spine_url_t *u = &spine.pools[p].urls[spine.pools[p].nurls];
        bool tls = false;
        struct in6_addr a6;
        bson_error_t error;
        ok = spine.pools[p].nurls < SPINE_MAX_URLS &&
             sp_url_parse(url, &tls, u->host, sizeof(u->host), u->port, sizeof(u->port)) && u->host[0] != '\0' &&
             strcmp(u->host, "*") != 0;
        if (!ok) {
            log_error("worker URL '%s' is not tcp://host:port or tls+tcp://host:port (at most %d per pool)", url,
                      SPINE_MAX_URLS);
            break;
        }
        u->numeric = inet_pton(AF_INET, u->host, &a6) == 1 || inet_pton(AF_INET6, u->host, &a6) == 1;
        if (tls && (u->tls = tls_context(false, u->host, &error)) == NULL) {
            log_error("worker URL '%s': %s", url, error.message);
            ok = false;
        }
        spine.pools[p].nurls++;
    }
    bson_free(copy);
    return ok && spine.pools[p].nurls > 0;
}

bool
spine_configure(int timeout_ms)
{
    bool ok = true;
    spine.timeout_ms = timeout_ms;
    spine.capacity = (int)cfg_int("ROOST_WORKER_CAPACITY", 16, 1, 4096);
    spine.max_message = (uint64_t)cfg_max_message_bytes();
    routes_each(spine_add_route, &ok);
    /* One series per service, each the queue of the service's pool: a
     * service's autoscaler selects its own (deploy/prometheus-adapter.yaml). */
    metrics_family_t *queued = metrics_gauge(
        "roost_ingress_queued_requests", "Requests waiting in the ingress for a worker of their service.", "service");
    for (size_t i = 0; i < spine.nservices; i++) {
        size_t p = spine.services[i].pool;
        spine.pools[p].queued[spine.pools[p].nqueued++] =
            metrics_series(queued, (const char *const[]){spine.services[i].name});
    }
    for (size_t p = 0; p < spine.npools && ok; p++) {
        ok = spine_parse_list(p);
        log_info("service(s) %s -> workers %s (direct)", spine.pools[p].name, spine.pools[p].list);
    }
    return ok;
}

/* The index of `service` in the table of directly reached services; -1 when it is not one. */
static int
spine_service_index(const char *service)
{
    for (size_t i = 0; i < spine.nservices; i++)
        if (strcmp(spine.services[i].name, service) == 0)
            return (int)i;
    return -1;
}

/* This loop's pool of the service of `op`; NULL when it is reached through its brokers. */
static spine_pool_t *
spine_pool_of(const char *op)
{
    char service[32];
    pools_service_of(op, service, sizeof(service));
    int i = spine_service_index(service);
    return i >= 0 && spine_here != NULL ? &spine_here->pools[spine.services[i].pool] : NULL;
}

bool
spine_serves(const char *service)
{
    return spine_service_index(service) >= 0;
}

int
spine_in_flight(void)
{
    return atomic_load(&spine.in_flight);
}

/* Ready when every pool has a worker connected on some loop: a request on a
 * loop still dialing waits for it, as a request to an nng socket waits for
 * a pipe (per loop, a loop connected a moment later answered 503s). */
bool
spine_all_ready(void)
{
    for (size_t p = 0; p < spine.npools; p++)
        if (atomic_load(&spine.pools[p].ready) <= 0)
            return false;
    return true;
}

void
spine_count_ready(const spine_pool_t *pool, int n)
{
    atomic_fetch_add(&spine.pools[pool->index].ready, n);
}

/* The call's response (from the reply's `body`, or the error `result`
 * stands for) goes to its client, if it is still there; the call itself
 * may live on (spine_on_deadline). */
static void
spine_respond(spine_call_t *call, client_result_t result, const uint8_t *body, size_t len)
{
    h2o_timeout_unlink(&call->deadline);
    call->answered = true;
    if (call->req != NULL) {
        *call->req_slot = NULL; /* the response is ours to send now; the slot must not touch the call */
        call_answer(call->req, call->route, call->rid, &call->then, result, body, len);
        call->req = NULL;
    }
    atomic_fetch_sub(&spine.in_flight, 1);
}

/* The call ends: answered now unless it was already, and freed. */
static void
spine_finish(spine_call_t *call, client_result_t result, const uint8_t *body, size_t len)
{
    if (!call->answered)
        spine_respond(call, result, body, len);
    free(call);
}

/* When h2o frees a request whose call is still under way: forget it. */
static void
spine_on_req_dispose(void *p)
{
    spine_call_t **slot = p;
    if (*slot != NULL)
        (*slot)->req = NULL;
}

static void
spine_assign(spine_conn_t *c, spine_call_t *call)
{
    call->conn = c;
    sp_request_id(call->frame + SP_FRAME_HEADER_LEN, c->next_id++);
    h2o_linklist_insert(&c->sent, &call->link);
    c->outstanding++;
    spine_conn_send(c, call->frame, call->len);
}

/* The queue of `pool` grew (or shrank) by `n`, in its services' gauges. */
static void
spine_count_queued(const spine_pool_t *pool, int n)
{
    for (size_t i = 0; i < spine.pools[pool->index].nqueued; i++)
        metrics_add(spine.pools[pool->index].queued[i], n);
}

static void
spine_dequeued(spine_call_t *call)
{
    h2o_linklist_unlink(&call->link);
    spine_count_queued(call->pool, -1);
}

void
spine_dispatch(spine_pool_t *pool)
{
    spine_conn_t *c;
    while (!h2o_linklist_is_empty(&pool->queue) && (c = spine_pool_pick(pool)) != NULL) {
        spine_call_t *call = H2O_STRUCT_FROM_MEMBER(spine_call_t, link, pool->queue.next);
        spine_dequeued(call);
        if (call->req == NULL)
            spine_finish(call, CLIENT_CLOSED, NULL, 0); /* nobody waits for it any more */
        else
            spine_assign(c, call);
    }
}

/* A lost connection's calls go back to the head of the queue, in order;
 * those already answered (their deadline passed) go. */
void
spine_requeue(spine_pool_t *pool, h2o_linklist_t *sent)
{
    int64_t now = clock_monotonic_ms();
    while (!h2o_linklist_is_empty(sent)) {
        spine_call_t *call = H2O_STRUCT_FROM_MEMBER(spine_call_t, link, sent->prev);
        h2o_linklist_unlink(&call->link);
        if (call->answered) {
            free(call);
            continue;
        }
        call->conn = NULL;
        call->queued_at_ms = now;
        h2o_linklist_insert(pool->queue.next, &call->link);
        spine_count_queued(pool, 1);
    }
}

void
spine_replied(spine_conn_t *c, uint32_t id, const uint8_t *body, size_t len)
{
    for (h2o_linklist_t *l = c->sent.next; l != &c->sent; l = l->next) {
        spine_call_t *call = H2O_STRUCT_FROM_MEMBER(spine_call_t, link, l);
        uint32_t sent_id;
        if (!sp_reply_id(call->frame + SP_FRAME_HEADER_LEN, 4, &sent_id) || sent_id != (id & 0x7fffffffu))
            continue;
        h2o_linklist_unlink(&call->link);
        c->outstanding--;
        spine_finish(call, CLIENT_OK, body, len); /* a call answered 504 already only goes */
        spine_dispatch(c->pool);
        return;
    }
}

static void
spine_on_deadline(h2o_timeout_entry_t *entry)
{
    spine_call_t *call = H2O_STRUCT_FROM_MEMBER(spine_call_t, deadline, entry);
    if (call->conn != NULL) {
        /* Its client gets 504 now, but the call still counts against its
         * worker until the reply comes (or the connection goes): a worker
         * slower than its deadline is not sent more and more work. */
        spine_respond(call, CLIENT_TIMEOUT, NULL, 0);
        return;
    }
    spine_dequeued(call);
    spine_finish(call, CLIENT_TIMEOUT, NULL, 0);
}

/* Requests queued longer than the grace while no worker of their pool is
 * ready are answered 503; `again` while some still wait. */
static void
spine_expire_grace(spine_pool_t *pool, int64_t now_ms, bool *again)
{
    if (spine_pool_ready(pool))
        return;
    /* A loop's first dials still under way (a TLS handshake on a busy
     * machine) are not a pool that is gone: its requests wait for them, up
     * to their deadline, as a first nng call waits for its first pipe. */
    if (!pool->ever_ready && spine_pool_dialing(pool)) {
        *again = !h2o_linklist_is_empty(&pool->queue);
        return;
    }
    while (!h2o_linklist_is_empty(&pool->queue)) {
        spine_call_t *call = H2O_STRUCT_FROM_MEMBER(spine_call_t, link, pool->queue.next);
        if (now_ms - call->queued_at_ms < SPINE_GRACE_MS) {
            *again = true;
            return;
        }
        spine_dequeued(call);
        spine_finish(call, CLIENT_UNREACHABLE, NULL, 0);
    }
}

bool
spine_send(h2o_req_t *req, const route_t *route, const char *rid, const bson_t *envelope, const call_then_t *then)
{
    spine_pool_t *pool = spine_pool_of(route->op);
    if (pool == NULL)
        return false;
    size_t len = SP_FRAME_HEADER_LEN + 4 + envelope->len;
    if (4 + (uint64_t)envelope->len > spine.max_message) {
        /* a worker would drop the connection, every call on it too, unread */
        respond_error(req, route_error_shape(route->flags), rid, 413, "body_too_large",
                      "the request is larger than ROOST_MAX_MESSAGE_BYTES lets through", NULL);
        return true;
    }
    spine_call_t *call = malloc(sizeof(*call) + len);
    if (call == NULL) {
        respond_error(req, route_error_shape(route->flags), rid, 503, "overloaded", "out of memory", NULL);
        return true;
    }
    *call = (spine_call_t){.pool = pool, .req = req, .route = route, .len = len, .deadline = {.cb = spine_on_deadline}};
    if (then != NULL)
        call->then = *then;
    bson_strncpy(call->rid, rid, sizeof(call->rid));
    sp_frame_header(call->frame, 4 + envelope->len);
    memcpy(call->frame + SP_FRAME_HEADER_LEN + 4, bson_get_data(envelope), envelope->len);
    call->req_slot = h2o_mem_alloc_shared(&req->pool, sizeof(*call->req_slot), spine_on_req_dispose);
    *call->req_slot = call;
    atomic_fetch_add(&spine.in_flight, 1);
    h2o_timeout_link(pool->loop->ctx->loop, &pool->loop->deadline, &call->deadline);
    spine_conn_t *c = h2o_linklist_is_empty(&pool->queue) ? spine_pool_pick(pool) : NULL;
    if (c != NULL) {
        spine_assign(c, call);
        return true;
    }
    call->queued_at_ms = clock_monotonic_ms();
    h2o_linklist_insert(&pool->queue, &call->link);
    spine_count_queued(pool, 1);
    if (!spine_pool_ready(pool))
        spine_tick_arm(pool->loop); /* for the grace */
    return true;
}

static void
spine_on_tick(h2o_timeout_entry_t *entry)
{
    spine_loop_t *loop = H2O_STRUCT_FROM_MEMBER(spine_loop_t, tick_entry, entry);
    int64_t now = clock_monotonic_ms();
    bool again = false;
    for (size_t p = 0; p < loop->npools; p++) {
        spine_conns_tick(&loop->pools[p], now, &again);
        spine_expire_grace(&loop->pools[p], now, &again);
    }
    if (again)
        spine_tick_arm(loop);
}

void
spine_tick_arm(spine_loop_t *loop)
{
    if (!h2o_timeout_is_linked(&loop->tick_entry))
        h2o_timeout_link(loop->ctx->loop, &loop->tick, &loop->tick_entry);
}

static void
spine_on_resolve(h2o_timeout_entry_t *entry)
{
    spine_loop_t *loop = H2O_STRUCT_FROM_MEMBER(spine_loop_t, resolve_entry, entry);
    for (size_t p = 0; p < loop->npools; p++)
        spine_pool_discover(&loop->pools[p]);
    h2o_timeout_link(loop->ctx->loop, &loop->resolve, &loop->resolve_entry);
}

void
spine_loop_start(h2o_context_t *ctx)
{
    if (spine.npools == 0)
        return;
    spine_loop_t *loop = spine_here = calloc(1, sizeof(*loop));
    if (loop == NULL)
        abort(); /* at start-up: nothing to serve with */
    loop->ctx = ctx;
    h2o_timeout_init(ctx->loop, &loop->deadline, (uint64_t)spine.timeout_ms);
    h2o_timeout_init(ctx->loop, &loop->tick, SPINE_TICK_MS);
    h2o_timeout_init(ctx->loop, &loop->resolve, 1000);
    loop->tick_entry.cb = spine_on_tick;
    loop->resolve_entry.cb = spine_on_resolve;
    loop->npools = spine.npools;
    for (size_t p = 0; p < spine.npools; p++) {
        spine_pool_t *pool = &loop->pools[p];
        pool->index = p;
        pool->loop = loop;
        h2o_linklist_init_anchor(&pool->queue);
        pool->nurls = spine.pools[p].nurls;
        for (size_t u = 0; u < pool->nurls; u++) {
            pool->urls[u] = spine.pools[p].urls[u];
            pool->urls[u].pool = pool;
        }
        spine_pool_discover(pool);
    }
    h2o_timeout_link(ctx->loop, &loop->resolve, &loop->resolve_entry);
}
