/* The nng call lifecycle of the ingress (call.h), on shared/client.h's REQ client. */
#include "call.h"
#include "client.h"
#include "envelope.h"
#include "log.h"
#include "observe.h"
#include "pools.h"
#include "reply.h"
#include "respond.h"
#include "server.h"
#include "spine.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CALL_MAX_POOLS 16

static struct {
    client_req_t *pools[CALL_MAX_POOLS];
    const char *urls[CALL_MAX_POOLS];
    size_t npools;
    struct {
        char name[32];
        client_req_t *pool;
    } services[CALL_MAX_POOLS];
    size_t nservices;
    int timeout_ms;
    atomic_int in_flight;
} calls;

/* A request in flight to the pool. Owned by the loop thread except while
 * nng holds it between send and completion. */
typedef struct call {
    h2o_multithread_message_t message; /* must be first: the queue links it */
    h2o_multithread_receiver_t *replies;
    h2o_req_t *req;         /* NULL once the client went away */
    struct call **req_slot; /* in req->pool; cleared when the req is freed */
    const route_t *route;
    call_then_t then;
    client_call_t *exchange;
    char rid[ENVELOPE_RID_MAX + 1];
} call_t;

/* Opens (or finds) the pool of the service of one routed op. */
static void
call_add_route_pool(const route_t *route, void *arg)
{
    bool *ok = arg;
    char service[32];
    bson_error_t error;
    if (route->flags & ROUTE_LOCAL)
        return;
    pools_service_of(route->op, service, sizeof(service));
    if (spine_serves(service))
        return; /* reached directly (spine.c), not through its brokers */
    for (size_t i = 0; i < calls.nservices; i++)
        if (strcmp(calls.services[i].name, service) == 0)
            return;
    const char *url = pools_url(service);
    client_req_t *pool = NULL;
    for (size_t i = 0; i < calls.npools; i++)
        if (strcmp(calls.urls[i], url) == 0)
            pool = calls.pools[i];
    if (pool == NULL) {
        if (calls.npools == CALL_MAX_POOLS) {
            log_error("more than %d worker pools", CALL_MAX_POOLS);
            *ok = false;
            return;
        }
        if ((pool = client_req_open(url, false, &error)) == NULL) {
            log_error("the worker pool at %s: %s", url, error.message);
            *ok = false;
            return;
        }
        calls.urls[calls.npools] = url;
        calls.pools[calls.npools++] = pool;
    }
    bson_strncpy(calls.services[calls.nservices].name, service, sizeof(calls.services[0].name));
    calls.services[calls.nservices++].pool = pool;
    log_info("service %s -> pool %s", service, url);
}

bool
call_open_pools(int timeout_ms)
{
    bool ok = true;
    calls.timeout_ms = timeout_ms;
    routes_each(call_add_route_pool, &ok);
    return ok;
}

void
call_close_pools(void)
{
    for (size_t i = 0; i < calls.npools; i++)
        client_req_close(calls.pools[i]);
}

int
call_in_flight(void)
{
    return atomic_load(&calls.in_flight) + spine_in_flight();
}

size_t
call_pool_count(void)
{
    return calls.npools;
}

static client_req_t *
call_pool_for(const char *op)
{
    char service[32];
    pools_service_of(op, service, sizeof(service));
    for (size_t i = 0; i < calls.nservices; i++)
        if (strcmp(calls.services[i].name, service) == 0)
            return calls.services[i].pool;
    return NULL;
}

/* A continuation's turn, on the next pass of the request's loop: never
 * from inside the code that read its reply (spine_conn.c reads replies in
 * a loop over its connection, which a next step sent on that connection
 * from there would re-enter). */
typedef struct {
    h2o_timeout_entry_t entry;
    h2o_req_t *req;
    call_then_t then;
    uint8_t *reply; /* a copy: the reader's buffer is gone by then */
    size_t len;
} call_deferred_t;

static void
call_deferred_run(h2o_timeout_entry_t *entry)
{
    call_deferred_t *d = H2O_STRUCT_FROM_MEMBER(call_deferred_t, entry, entry);
    uint8_t *reply = d->reply;
    d->reply = NULL;
    d->then.fn(d->req, d->then.arg, reply, d->len);
    free(reply);
}

/* When the request is freed first (its client went away). */
static void
call_deferred_dispose(void *p)
{
    call_deferred_t *d = p;
    if (h2o_timeout_is_linked(&d->entry))
        h2o_timeout_unlink(&d->entry);
    free(d->reply);
}

static bool
call_defer(h2o_req_t *req, const call_then_t *then, const uint8_t *reply, size_t len)
{
    call_deferred_t *d = h2o_mem_alloc_shared(&req->pool, sizeof(*d), call_deferred_dispose);
    *d = (call_deferred_t){.entry = {.cb = call_deferred_run}, .req = req, .then = *then, .len = len};
    if ((d->reply = malloc(len > 0 ? len : 1)) == NULL)
        return false;
    memcpy(d->reply, reply, len);
    h2o_timeout_link(req->conn->ctx->loop, &req->conn->ctx->zero_timeout, &d->entry);
    return true;
}

void
call_answer(h2o_req_t *req, const route_t *route, const char *rid, const call_then_t *then, client_result_t result,
            const uint8_t *reply, size_t len)
{
    unsigned shape = route_error_shape(route->flags);
    observe_call(result);
    if (result == CLIENT_OK && then != NULL && then->fn != NULL) {
        if (!call_defer(req, then, reply, len))
            respond_error(req, shape, rid, 503, "overloaded", "out of memory", NULL);
    } else if (result == CLIENT_OK)
        reply_render(req, route, rid, reply, len);
    else if (result == CLIENT_TIMEOUT)
        respond_error(req, shape, rid, 504, "timeout", "the worker pool did not answer in time", NULL);
    else
        respond_error(req, shape, rid, 503, "pool_unavailable", "the worker pool cannot be reached", NULL);
}

void
call_on_replies(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        call_t *call = H2O_STRUCT_FROM_MEMBER(call_t, message.link, messages->next);
        h2o_linklist_unlink(&call->message.link);
        if (call->req != NULL) {
            *call->req_slot = NULL; /* the response is ours to send now; the slot must not touch the call */
            size_t len;
            const uint8_t *bytes = client_call_reply(call->exchange, &len);
            call_answer(call->req, call->route, call->rid, &call->then, client_call_result(call->exchange), bytes, len);
        }
        client_call_free(call->exchange);
        free(call);
        atomic_fetch_sub(&calls.in_flight, 1);
    }
}

/* On an nng thread: hand the ended call to its request's loop. */
static void
call_on_done(client_call_t *exchange, void *arg)
{
    call_t *call = arg;
    h2o_multithread_send_message(call->replies, &call->message);
}

/* When h2o frees a request whose call is still in flight: forget it. */
static void
call_on_req_dispose(void *p)
{
    call_t **slot = p;
    if (*slot != NULL)
        (*slot)->req = NULL;
}

void
call_send(h2o_req_t *req, const route_t *route, const char *rid, const bson_t *envelope)
{
    call_send_then(req, route, rid, envelope, NULL);
}

void
call_send_then(h2o_req_t *req, const route_t *route, const char *rid, const bson_t *envelope, const call_then_t *then)
{
    unsigned classic = route_error_shape(route->flags);
    bson_error_t error;
    if ((route->flags & ROUTE_READINESS) && !spine_all_ready()) {
        respond_error(req, classic, rid, 503, "pool_unavailable", "no worker of some pool is connected", NULL);
        return;
    }
    if (spine_send(req, route, rid, envelope, then))
        return; /* its service is reached directly */
    /* A pool with no pipe right now (its brokers restarting) still gets the
     * call: client.c waits a second for a pipe before answering that it
     * cannot be reached. Readiness alone wants every pool connected now. */
    client_req_t *pool = call_pool_for(route->op);
    if (route->flags & ROUTE_READINESS)
        for (size_t i = 0; i < calls.npools && pool != NULL; i++)
            if (client_req_pipes(calls.pools[i]) == 0)
                pool = NULL;
    if (pool == NULL) {
        respond_error(req, classic, rid, 503, "pool_unavailable", "the worker pool for this request is not connected",
                      NULL);
        return;
    }
    call_t *call = calloc(1, sizeof(*call));
    if (call == NULL) {
        respond_error(req, classic, rid, 503, "overloaded", "out of memory", NULL);
        return;
    }
    call->replies = server_replies_of(req);
    call->req = req;
    call->route = route;
    if (then != NULL)
        call->then = *then;
    bson_strncpy(call->rid, rid, sizeof(call->rid));
    call->req_slot = h2o_mem_alloc_shared(&req->pool, sizeof(*call->req_slot), call_on_req_dispose);
    *call->req_slot = call;
    atomic_fetch_add(&calls.in_flight, 1);
    call->exchange =
        client_call_start(pool, bson_get_data(envelope), envelope->len, calls.timeout_ms, call_on_done, call, &error);
    if (call->exchange == NULL) {
        atomic_fetch_sub(&calls.in_flight, 1);
        *call->req_slot = NULL;
        free(call);
        log_error("rid=%s %s", rid, error.message);
        respond_error(req, classic, rid, 503, "pool_unavailable", "cannot start a call to the worker pool", NULL);
    }
}
