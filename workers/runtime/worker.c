/*
 * One worker process: a REP socket that dials the pool's worker address,
 * ROOST_WORKER_CONCURRENCY contexts each served by its own thread, and a
 * pooled MongoDB client. Handlers block on MongoDB, so each context has a
 * thread rather than sharing nng's callback threads, which must not block.
 */
#include "worker.h"
#include "auth.h"
#include "breaker.h"
#include "config.h"
#include "doc.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "service.h"
#include "token.h"
#include "transport.h"

#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static mongoc_client_pool_t *worker_mongo;
static bool worker_serves[32]; /* by index in svc_services */
/* What each served service's database was found to be (migrate_check),
 * by index in svc_services, and when: a database found current is looked
 * at again after 10 s (a `migrate down` shows), one behind after 1 s. */
static pthread_mutex_t worker_schema_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool current;
    struct timespec checked;
    char why[384];
} worker_schema[32];

static const svc_op_t *
worker_find_op(const char *op, size_t *service_index)
{
    for (size_t s = 0; svc_services[s] != NULL; s++)
        for (const svc_op_t *o = svc_services[s]->ops; o->op != NULL && worker_serves[s]; o++)
            if (strcmp(o->op, op) == 0) {
                *service_index = s;
                return o;
            }
    return NULL;
}

/* Whether the database of service `s` has every migration this binary
 * needs; when not, `why` says so and names the command. False with a
 * database error when it could not be read. */
static migrate_check_t
worker_schema_check(size_t s, mongoc_client_t *mongo, char *why, size_t why_len, bson_error_t *error)
{
    migrate_check_t result = MIGRATE_CURRENT;
    if (svc_services[s]->migrations == NULL)
        return result;
    pthread_mutex_lock(&worker_schema_lock);
    double age = metrics_seconds_since(&worker_schema[s].checked);
    bool never = worker_schema[s].checked.tv_sec == 0 && worker_schema[s].checked.tv_nsec == 0;
    if (never || age > (worker_schema[s].current ? 10.0 : 1.0)) {
        result = migrate_check(mongo, svc_services[s], worker_schema[s].why, sizeof(worker_schema[s].why), error);
        if (result != MIGRATE_ERROR) {
            if (result == MIGRATE_BEHIND && (never || worker_schema[s].current))
                log_warn("%s", worker_schema[s].why);
            worker_schema[s].current = result == MIGRATE_CURRENT;
            clock_gettime(CLOCK_MONOTONIC, &worker_schema[s].checked);
        }
    } else {
        result = worker_schema[s].current ? MIGRATE_CURRENT : MIGRATE_BEHIND;
    }
    if (result == MIGRATE_BEHIND)
        snprintf(why, why_len, "%s", worker_schema[s].why);
    pthread_mutex_unlock(&worker_schema_lock);
    return result;
}

bool
svc_schema_ready(mongoc_client_t *mongo, char *why, size_t why_len, bson_error_t *error)
{
    /* Every service, not only those served here: /readyz reaches one pool
     * and must tell about the whole platform's databases. */
    for (size_t s = 0; svc_services[s] != NULL; s++) {
        migrate_check_t c = worker_schema_check(s, mongo, why, why_len, error);
        if (c == MIGRATE_ERROR)
            return false;
        if (c == MIGRATE_BEHIND)
            return true;
    }
    why[0] = '\0';
    return true;
}

static struct {
    metrics_family_t *ops, *duration;
    metrics_series_t *mongo_wait;
} worker_metrics;

/* The worker's metric families (metrics.h); once, before serving. */
static void
worker_metrics_init(void)
{
    worker_metrics.ops =
        metrics_counter("roost_worker_ops_total", "Ops answered by this worker, by op and status.", "op,status");
    worker_metrics.duration =
        metrics_histogram("roost_worker_op_duration_seconds", "Time this worker spent answering an op, by op.", "op",
                          metrics_seconds_buckets, metrics_seconds_buckets_count);
    worker_metrics.mongo_wait =
        metrics_series(metrics_histogram("roost_worker_mongo_wait_seconds",
                                         "Time an op waited for a MongoDB connection from this worker's pool.", NULL,
                                         metrics_seconds_buckets, metrics_seconds_buckets_count),
                       NULL);
}

static const svc_op_t *worker_answer_op(const uint8_t *data, size_t len, bson_t *reply, envelope_request_t *req);

/* worker.h: the answer, counted in roost_worker_ops_total and timed in
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
    const svc_op_t *op = worker_answer_op(data, len, reply, &req);
    double seconds = metrics_seconds_since(&start);
    int status =
        bson_iter_init_find(&it, reply, "status") && BSON_ITER_HOLDS_INT(&it) ? (int)bson_iter_as_int64(&it) : 0;
    /* Only known ops become label values. */
    const char *name = op != NULL ? op->op : "unknown";
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    metrics_add(metrics_series(worker_metrics.ops, (const char *const[]){name, code}), 1);
    metrics_observe(metrics_series(worker_metrics.duration, (const char *const[]){name}), seconds);
    log_request(LOG_DEBUG, req.rid[0] ? req.rid : NULL, op != NULL ? op->op : NULL, status, seconds, "answered");
}

/* The answer of worker_answer, the request checked in this order:
 * envelope, op, token, auth, repeated keys, the database breaker, the
 * token's revocation, then the op's own handler. Returns the op, or NULL
 * when the request names none that this worker serves; `out->rid` is the
 * request's id as far as it was parsed. */
static const svc_op_t *
worker_answer_op(const uint8_t *data, size_t len, bson_t *reply, envelope_request_t *out)
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
    if ((op = worker_find_op(req.op, &s)) == NULL) {
        char *message = bson_strdup_printf("unknown op '%s'", req.op);
        envelope_reply_error(reply, req.rid, 404, "unknown_op", message, NULL);
        bson_free(message);
        return NULL;
    }
    svc_call_t call = {.req = &req, .replied = false};
    migrate_check_t schema;
    char why[384];
    if (req.auth_token != NULL) {
        token_status_t st = token_verify(token_config(), req.auth_token, (int64_t)time(NULL), &call.token);
        if (st != TOKEN_OK) {
            svc_fail(&call, 401, "invalid_token", "%s", token_status_message(st));
            bson_steal(reply, &call.reply);
            return op;
        }
        if (req.auth_sub > 0 && req.auth_sub != call.token.sub) {
            envelope_reply_error(reply, req.rid, 400, "bad_envelope", "auth.sub and auth.token name different users",
                                 NULL);
            return op;
        }
        req.auth_sub = call.token.sub;
        call.has_token = true;
    }
    if (op->auth == SVC_AUTH_REQUIRED && req.auth_sub <= 0) {
        svc_fail(&call, 401, "unauthorized",
                 "'%s' needs an authenticated user: a bearer token over HTTP, auth.sub over nng", req.op);
        bson_steal(reply, &call.reply);
        return op;
    }
    /* A key given twice, at any depth: libbson keeps both copies and a
     * handler would see only one. Refused for every op and every caller,
     * before anything is read or written. */
    static const struct {
        const char *name;
        size_t offset;
    } parts[] = {{"params", offsetof(envelope_request_t, params)},
                 {"query", offsetof(envelope_request_t, query)},
                 {"body", offsetof(envelope_request_t, body)}};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        char *path = NULL;
        const char *what;
        const bson_t *part = (const bson_t *)((const char *)&req + parts[i].offset);
        if (!doc_check(part, DOC_UNIQUE_KEYS, NULL, &path, &what)) {
            field_errors_t errors;
            field_errors_init(&errors);
            if (path[0] == '\0')
                field_errors_add(&errors, parts[i].name, "%s", what);
            else
                field_errors_add(&errors, path, "%s", what);
            svc_fail_fields(&call, &errors);
            field_errors_destroy(&errors);
            free(path);
            bson_steal(reply, &call.reply);
            return op;
        }
    }
    char fingerprint[33];
    svc_request_fingerprint(&call, fingerprint);
    snprintf(call.key, sizeof(call.key), "%s:%s", req.rid, fingerprint);
    if (op->flags & SVC_NO_DATABASE) {
        op->handler(&call);
    } else if (breaker_open()) {
        svc_fail(&call, 503, "database_unavailable", "the database does not answer; retry later");
        svc_retry_after(&call, 1);
    } else {
        struct timespec asked;
        clock_gettime(CLOCK_MONOTONIC, &asked);
        call.mongo = mongoc_client_pool_pop(worker_mongo);
        metrics_observe(worker_metrics.mongo_wait, metrics_seconds_since(&asked));
        svc_auth_status_t st = call.has_token ? svc_auth_check(call.mongo, &call.token, &error) : SVC_AUTH_GOOD;
        if (st == SVC_AUTH_DB_ERROR)
            svc_fail_db(&call, &error);
        else if (st == SVC_AUTH_REVOKED)
            svc_fail(&call, 401, "invalid_token", "the bearer token has been revoked (logout, or a password change)");
        else if ((schema = worker_schema_check(s, call.mongo, why, sizeof(why), &error)) == MIGRATE_ERROR)
            svc_fail_db(&call, &error);
        else if (schema == MIGRATE_BEHIND) {
            /* Serving on a database without its indexes (the unique ones
             * decide every race) or its data in shape could lose writes. */
            svc_fail(&call, 503, "migration_required", "%s", why);
            svc_retry_after(&call, 5);
        } else
            op->handler(&call);
        mongoc_client_pool_push(worker_mongo, call.mongo);
    }
    if (!call.replied)
        svc_fail(&call, 500, "internal", "op '%s' gave no reply", req.op);
    bson_steal(reply, &call.reply);
    return op;
}

typedef struct {
    nng_socket sock;
    pthread_t tid;
} worker_thread_t;

/* Set on SIGTERM: each context finishes the request it holds, answers it,
 * and takes no other. How often an idle context looks, in ms. */
static atomic_bool worker_stopping;
static int worker_deadline_ms = CFG_DEFAULT_TIMEOUT_MS; /* ROOST_REQUEST_TIMEOUT_MS */
#define WORKER_IDLE_LOOK_MS 200

/* Waits for a reply sent earlier on `send` (if any) to leave; frees it if
 * it could not. */
static void
worker_sent(nng_aio *send, bool *pending)
{
    if (!*pending)
        return;
    nng_aio_wait(send);
    if (nng_aio_result(send) != 0)
        nng_msg_free(nng_aio_get_msg(send)); /* still ours when the send failed */
    *pending = false;
}

static void *
worker_serve(void *arg)
{
    worker_thread_t *t = arg;
    nng_ctx ctx;
    nng_aio *aio, *send = NULL;
    bool sending = false;

    if (nng_ctx_open(&ctx, t->sock) != 0 || nng_aio_alloc(&aio, NULL, NULL) != 0 ||
        nng_aio_alloc(&send, NULL, NULL) != 0) {
        log_error("cannot open an nng context");
        return NULL;
    }
    while (!atomic_load(&worker_stopping)) {
        nng_aio_set_timeout(aio, WORKER_IDLE_LOOK_MS);
        nng_ctx_recv(ctx, aio);
        nng_aio_wait(aio);
        int rv = nng_aio_result(aio);
        if (rv == NNG_ECLOSED)
            break;
        if (rv != 0)
            continue; /* a timeout: look at worker_stopping again */
        nng_msg *msg = nng_aio_get_msg(aio);
        bson_t reply;
        worker_answer(nng_msg_body(msg), nng_msg_len(msg), &reply);
        nng_msg_clear(msg);
        if (nng_msg_append(msg, bson_get_data(&reply), reply.len) != 0) {
            nng_msg_free(msg);
            bson_destroy(&reply);
            continue;
        }
        bson_destroy(&reply);
        /* The reply goes out on its own aio and the context waits for the
         * next request at once: when the pipe is busy sending, waiting for
         * this send would cost the thread one more sleep and wake-up per
         * request (bench/spine.py). A REP context may receive while its
         * last reply is still queued; it only may not send twice. Past the
         * request's deadline nobody waits for the reply: a send never holds
         * the context longer (a stop waits for it). */
        worker_sent(send, &sending);
        nng_aio_set_timeout(send, worker_deadline_ms);
        nng_aio_set_msg(send, msg);
        nng_ctx_send(ctx, send);
        sending = true;
    }
    worker_sent(send, &sending);
    nng_aio_free(send);
    nng_aio_free(aio);
    nng_ctx_close(ctx);
    return NULL;
}

/* mongoc's own log lines, in ours. FerretDB lacks endSessions, which
 * mongoc tries once at shutdown: that warning is expected, not a problem. */
static void
worker_mongoc_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
    if (level <= MONGOC_LOG_LEVEL_ERROR)
        log_error("mongoc %s: %s", domain, message);
    else if (level == MONGOC_LOG_LEVEL_WARNING && strstr(message, "endSessions") == NULL)
        log_warn("mongoc %s: %s", domain, message);
    else
        log_debug("mongoc %s: %s", domain, message);
}

static mongoc_client_pool_t *
worker_open_mongo(int max_clients)
{
    bson_error_t error;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(cfg_str("ROOST_MONGODB_URI", CFG_DEFAULT_MONGODB_URI), &error);
    if (uri == NULL) {
        log_error("ROOST_MONGODB_URI is not a MongoDB URI: %s", error.message);
        return NULL;
    }
    /* Fail fast while the database is down, so clients get a quick 503 instead of a hang. */
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 2000);
    if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 2000);
    /* A database that hangs mid-request frees the context after this, not
     * after mongoc's default of five minutes; the breaker (breaker.h)
     * keeps later requests from waiting at all. */
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, 5000);
    /* After an outage the pool learns the server is back this soon. */
    if (!mongoc_uri_has_option(uri, MONGOC_URI_HEARTBEATFREQUENCYMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_HEARTBEATFREQUENCYMS, 500);
    mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
    mongoc_uri_destroy(uri);
    if (pool == NULL)
        return NULL;
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_pool_set_appname(pool, "roost-worker");
    mongoc_client_pool_max_size(pool, (uint32_t)max_clients);
    return pool;
}

bool
worker_open_database(int max_clients)
{
    mongoc_log_set_handler(worker_mongoc_log, NULL);
    mongoc_init();
    return sodium_init() >= 0 && (worker_mongo = worker_open_mongo(max_clients)) != NULL;
}

/*
 * Which services this worker serves: ROOST_SERVICES, a comma list such as
 * "users,places", or every service when unset. "sys" is always served, so
 * every pool answers pings and health checks. Returns false on a name that
 * is no service, after saying so.
 */
bool
worker_select_services(void)
{
    const char *list = cfg_str("ROOST_SERVICES", NULL);
    for (size_t s = 0; svc_services[s] != NULL; s++)
        worker_serves[s] = list == NULL || strcmp(svc_services[s]->name, "sys") == 0;
    while (list != NULL && *list) {
        const char *comma = strchr(list, ',');
        size_t len = comma ? (size_t)(comma - list) : strlen(list);
        bool known = false;
        for (size_t s = 0; svc_services[s] != NULL; s++)
            if (strlen(svc_services[s]->name) == len && strncmp(svc_services[s]->name, list, len) == 0)
                worker_serves[s] = known = true;
        if (!known && len > 0) {
            log_error("ROOST_SERVICES names '%.*s', which is no service", (int)len, list);
            return false;
        }
        list = comma ? comma + 1 : list + len;
    }
    return true;
}

int
worker_run(void)
{
    int concurrency = (int)cfg_int("ROOST_WORKER_CONCURRENCY", 16, 1, 1024);
    worker_deadline_ms = (int)cfg_int("ROOST_REQUEST_TIMEOUT_MS", CFG_DEFAULT_TIMEOUT_MS, 100, 600000);
    const char *url = cfg_str("ROOST_WORKER_URL", CFG_DEFAULT_WORKER_URL);
    worker_thread_t *threads = NULL;
    nng_socket sock;
    sigset_t stop;
    int sig, rv, status = 1;

    /* Block the stop signals before any thread exists, then wait for them here. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    token_config(); /* refuses to start without a secret outside development */
    if (!worker_select_services())
        return 2;
    mongoc_log_set_handler(worker_mongoc_log, NULL);
    mongoc_init();
    if (sodium_init() < 0) {
        log_error("libsodium failed to initialise");
        return 1;
    }
    if ((worker_mongo = worker_open_mongo(concurrency)) == NULL)
        goto done_mongo;
    metrics_const_label("service", cfg_str("ROOST_SERVICES", "all"));
    worker_metrics_init();
    /* Without its metrics a worker still serves: a port that cannot be
     * served is reported (metrics.c), and the worker goes on, rather than
     * exit and be restarted by its pool again and again. */
    if (!metrics_serve())
        log_warn("serving without metrics");
    if (!breaker_start(cfg_str("ROOST_MONGODB_URI", CFG_DEFAULT_MONGODB_URI))) {
        log_error("cannot start the database probe");
        goto done_pool;
    }
    if ((rv = nng_rep0_open(&sock)) != 0) {
        log_error("cannot open REP socket: %s", nng_strerror(rv));
        goto done_pool;
    }
    nng_setopt_ms(sock, NNG_OPT_RECONNMINT, 50);
    nng_setopt_ms(sock, NNG_OPT_RECONNMAXT, 1000);
    nng_setopt_size(sock, NNG_OPT_RECVMAXSZ, (size_t)cfg_max_message_bytes());
    /* Every broker of the pool: "tcp://a:7101,tcp://b:7101". */
    for (const char *u = url; *u != '\0';) {
        char one[512];
        size_t len = strcspn(u, ",");
        if (len == 0 || len >= sizeof(one)) {
            log_error("ROOST_WORKER_URL=%s is not a URL or a comma list of URLs", url);
            goto done_sock;
        }
        memcpy(one, u, len);
        one[len] = '\0';
        bson_error_t why;
        if ((rv = transport_dial(sock, one, &why)) != 0) {
            log_error("%s", why.message);
            goto done_sock;
        }
        u += len + (u[len] == ',');
    }
    threads = calloc((size_t)concurrency, sizeof(*threads));
    for (int i = 0; i < concurrency; i++) {
        threads[i].sock = sock;
        pthread_create(&threads[i].tid, NULL, worker_serve, &threads[i]);
    }
    log_info("worker serving %s with %d contexts", url, concurrency);
    sigwait(&stop, &sig);
    /* Gracefully: the requests held are answered; those the socket has not
     * handed to a context yet are re-sent by the broker to another worker
     * when this one's pipe closes. */
    log_info("worker stopping on signal %d: finishing the requests it holds", sig);
    atomic_store(&worker_stopping, true);
    /* A stop is bounded: every request held is answered within its
     * deadline, so a stop still under way two seconds past it is stuck
     * somewhere, and SIGALRM ends the process rather than let it hold its
     * pod or its slot. */
    alarm((unsigned)(worker_deadline_ms / 1000 + 3));
    if (threads != NULL)
        for (int i = 0; i < concurrency; i++)
            pthread_join(threads[i].tid, NULL);
    free(threads);
    threads = NULL;
    status = 0;
done_sock:
    nng_close(sock);
    if (threads != NULL)
        for (int i = 0; i < concurrency; i++)
            pthread_join(threads[i].tid, NULL);
    free(threads);
done_pool:
    metrics_serve_stop();
    breaker_stop();
    mongoc_client_pool_destroy(worker_mongo);
done_mongo:
    mongoc_cleanup();
    return status;
}
