/*
 * The checks before a handler (answer.h), in this order: envelope, op,
 * token, auth, repeated keys, the database breaker, the token's
 * revocation, the service's migrations, then the op's own handler.
 */
#include "runtime/answer.h"
#include "runtime/breaker.h"
#include "runtime/database.h"
#include "runtime/schema.h"
#include "runtime/services.h"
#include "sdk/auth.h"
#include "clock.h"
#include "config.h"
#include "doc.h"
#include "log.h"
#include "metrics.h"
#include "token.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct {
    metrics_family_t *ops, *duration;
    metrics_series_t *mongo_wait;
} answer_metrics;

void
answer_metrics_init(void)
{
    answer_metrics.ops =
        metrics_counter("roost_worker_ops_total", "Ops answered by this worker, by op and status.", "op,status");
    answer_metrics.duration =
        metrics_histogram("roost_worker_op_duration_seconds", "Time this worker spent answering an op, by op.", "op",
                          metrics_seconds_buckets, metrics_seconds_buckets_count);
    answer_metrics.mongo_wait =
        metrics_series(metrics_histogram("roost_worker_mongo_wait_seconds",
                                         "Time an op waited for a MongoDB connection from this worker's pool.", NULL,
                                         metrics_seconds_buckets, metrics_seconds_buckets_count),
                       NULL);
}

/* The bearer token, verified, stands for auth.sub. False when the call is
 * answered already (a bad token, or one naming another user). */
static bool
answer_token(svc_call_t *call, envelope_request_t *req, bson_t *reply)
{
    if (req->auth_token == NULL)
        return true;
    token_status_t st = token_verify(token_config(), req->auth_token, (int64_t)time(NULL), &call->token);
    if (st != TOKEN_OK) {
        svc_fail(call, 401, "invalid_token", "%s", token_status_message(st));
        bson_steal(reply, &call->reply);
        return false;
    }
    if (req->auth_sub > 0 && req->auth_sub != call->token.sub) {
        envelope_reply_error(reply, req->rid, 400, "bad_envelope", "auth.sub and auth.token name different users",
                             NULL);
        return false;
    }
    req->auth_sub = call->token.sub;
    call->has_token = true;
    return true;
}

/* A key given twice, at any depth: libbson keeps both copies and a handler
 * would see only one. Refused for every op and every caller, before
 * anything is read or written. False when the call is answered so. */
static bool
answer_unique_keys(svc_call_t *call, const envelope_request_t *req)
{
    static const struct {
        const char *name;
        size_t offset;
    } parts[] = {{"params", offsetof(envelope_request_t, params)},
                 {"query", offsetof(envelope_request_t, query)},
                 {"body", offsetof(envelope_request_t, body)}};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        char *path = NULL;
        const char *what;
        const bson_t *part = (const bson_t *)((const char *)req + parts[i].offset);
        if (!doc_check(part, DOC_UNIQUE_KEYS, NULL, &path, &what)) {
            field_errors_t errors;
            field_errors_init(&errors);
            if (path[0] == '\0')
                field_errors_add(&errors, parts[i].name, "%s", what);
            else
                field_errors_add(&errors, path, "%s", what);
            svc_fail_fields(call, &errors);
            field_errors_destroy(&errors);
            free(path);
            return false;
        }
    }
    return true;
}

/*
 * A handler thread that holds a client (answer_hold_client) answers with
 * it: a pop and a push of the pool per request take the pool's lock, which
 * every handler thread of the worker shares. An ask answered in process
 * while the held client is in use takes another from the pool.
 */
static __thread mongoc_client_t *answer_held;
static __thread bool answer_holding, answer_held_busy;

void
answer_hold_client(bool hold)
{
    answer_holding = hold;
    if (!hold && answer_held != NULL) {
        mongoc_client_pool_push(database_clients_pool(), answer_held);
        answer_held = NULL;
    }
}

static mongoc_client_t *
answer_client_take(mongoc_client_pool_t *pool)
{
    if (answer_holding && !answer_held_busy && answer_held != NULL) {
        answer_held_busy = true;
        return answer_held;
    }
    struct timespec asked;
    clock_gettime(CLOCK_MONOTONIC, &asked);
    mongoc_client_t *client = mongoc_client_pool_pop(pool);
    metrics_observe(answer_metrics.mongo_wait, clock_seconds_since(&asked));
    if (answer_holding && !answer_held_busy && answer_held == NULL) {
        answer_held = client;
        answer_held_busy = true;
    }
    return client;
}

static void
answer_client_give(mongoc_client_pool_t *pool, mongoc_client_t *client)
{
    if (client == answer_held)
        answer_held_busy = false;
    else
        mongoc_client_pool_push(pool, client);
}

/* The handler of `op` (of service `s`) with a client of the pool, once the
 * breaker, the token's revocation and the service's migrations allow it. */
static void
answer_with_database(svc_call_t *call, const svc_op_t *op, size_t s)
{
    bson_error_t error;
    char why[384];
    migrate_check_t schema;
    if (breaker_open()) {
        svc_fail(call, 503, "database_unavailable", "the database does not answer; retry later");
        svc_retry_after(call, 1);
        return;
    }
    mongoc_client_pool_t *pool = database_clients_pool();
    call->mongo = answer_client_take(pool);
    svc_auth_status_t st = call->has_token ? svc_auth_check(call->mongo, &call->token, &error) : SVC_AUTH_GOOD;
    if (st == SVC_AUTH_DB_ERROR)
        svc_fail_db(call, &error);
    else if (st == SVC_AUTH_REVOKED)
        svc_fail(call, 401, "invalid_token", "the bearer token has been revoked (logout, or a password change)");
    else if ((schema = schema_check(s, call->mongo, why, sizeof(why), &error)) == MIGRATE_ERROR)
        svc_fail_db(call, &error);
    else if (schema == MIGRATE_BEHIND) {
        /* Serving on a database without its indexes (the unique ones
         * decide every race) or its data in shape could lose writes. */
        svc_fail(call, 503, "migration_required", "%s", why);
        svc_retry_after(call, 5);
    } else {
        op->handler(call);
    }
    answer_client_give(pool, call->mongo);
}

/* What a reply may carry (config.h), read from the environment once:
 * every answer is held to it. */
static int64_t
answer_reply_max(void)
{
    static _Atomic int64_t max;
    int64_t m = atomic_load_explicit(&max, memory_order_relaxed);
    if (m == 0)
        atomic_store_explicit(&max, m = cfg_max_reply_bytes(), memory_order_relaxed);
    return m;
}

/* The answer of worker_answer. Returns the op, or NULL when the request
 * names none that this worker serves; `out->rid` is the request's id as
 * far as it was parsed. */
static const svc_op_t *
answer_op(const uint8_t *data, size_t len, bson_t *reply, envelope_request_t *out)
{
    envelope_request_t req;
    bson_error_t error;
    size_t s = 0;
    const svc_op_t *op;

    if (!envelope_request_parse(data, len, &req, &error)) {
        envelope_reply_error(reply, req.rid[0] ? req.rid : "", 400, "bad_envelope", error.message, NULL);
        memcpy(out->rid, req.rid, sizeof(out->rid));
        return NULL;
    }
    memcpy(out->rid, req.rid, sizeof(out->rid));
    if ((op = services_find_op(req.op, &s)) == NULL) {
        char *message = bson_strdup_printf("unknown op '%s'", req.op);
        envelope_reply_error(reply, req.rid, 404, "unknown_op", message, NULL);
        bson_free(message);
        return NULL;
    }
    svc_call_t call = {.req = &req, .replied = false};
    if (!answer_token(&call, &req, reply))
        return op;
    if (op->auth == SVC_AUTH_REQUIRED && req.auth_sub <= 0) {
        svc_fail(&call, 401, "unauthorized",
                 "'%s' needs an authenticated user: a bearer token over HTTP, auth.sub over nng", req.op);
        bson_steal(reply, &call.reply);
        return op;
    }
    if (!answer_unique_keys(&call, &req)) {
        bson_steal(reply, &call.reply);
        return op;
    }
    char fingerprint[33];
    svc_request_fingerprint(&call, fingerprint);
    snprintf(call.key, sizeof(call.key), "%s:%s", req.rid, fingerprint);
    if (op->flags & SVC_NO_DATABASE)
        op->handler(&call);
    else
        answer_with_database(&call, op, s);
    if (!call.replied)
        svc_fail(&call, 500, "internal", "op '%s' gave no reply", req.op);
    /* Past what a reply may carry, a peer would drop this worker's
     * connection with the reply: the client would wait for its deadline. */
    if ((int64_t)call.reply.len > answer_reply_max())
        svc_fail_too_large(&call, call.reply.len);
    bson_steal(reply, &call.reply);
    return op;
}

/*
 * The series of an op's count (by status) and duration. Each thread keeps
 * the few it used last: a family's lookup takes its lock and hashes the
 * labels, and sixteen handlers doing that for every request were seen
 * waiting on each other (bench/profile.sh). `name` is an op table's
 * string (or a literal): its address is its identity here.
 */
static void
answer_series(const char *name, int status, metrics_series_t **ops, metrics_series_t **duration)
{
    enum { ANSWER_SERIES_CACHED = 8 };
    static __thread struct {
        const char *name;
        int status;
        metrics_series_t *ops, *duration;
    } seen[ANSWER_SERIES_CACHED];
    static __thread unsigned next;
    for (unsigned i = 0; i < ANSWER_SERIES_CACHED; i++)
        if (seen[i].name == name && seen[i].status == status) {
            *ops = seen[i].ops;
            *duration = seen[i].duration;
            return;
        }
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    *ops = metrics_series(answer_metrics.ops, (const char *const[]){name, code});
    *duration = metrics_series(answer_metrics.duration, (const char *const[]){name});
    unsigned i = next++ % ANSWER_SERIES_CACHED;
    seen[i].name = name;
    seen[i].status = status;
    seen[i].ops = *ops;
    seen[i].duration = *duration;
}

/* Counted in roost_worker_ops_total and timed in
 * roost_worker_op_duration_seconds by op (only ops this worker serves
 * become label values), and logged at debug level with its rid. */
void
worker_answer(const uint8_t *data, size_t len, bson_t *reply)
{
    struct timespec start;
    envelope_request_t req;
    bson_iter_t it;
    clock_gettime(CLOCK_MONOTONIC, &start);
    memset(&req, 0, sizeof(req));
    const svc_op_t *op = answer_op(data, len, reply, &req);
    double seconds = clock_seconds_since(&start);
    int status =
        bson_iter_init_find(&it, reply, "status") && BSON_ITER_HOLDS_INT(&it) ? (int)bson_iter_as_int64(&it) : 0;
    metrics_series_t *ops, *duration;
    answer_series(op != NULL ? op->op : "unknown", status, &ops, &duration);
    metrics_add(ops, 1);
    metrics_observe(duration, seconds);
    log_request(LOG_DEBUG, req.rid[0] ? req.rid : NULL, op != NULL ? op->op : NULL, status, seconds, "answered");
}

bool
answer_locally(const char *op, const uint8_t *data, size_t len, bson_t *reply)
{
    size_t s;
    if (services_find_op(op, &s) == NULL)
        return false;
    worker_answer(data, len, reply);
    return true;
}
