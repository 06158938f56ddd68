/*
 * roost-ingress: the HTTP edge. Several h2o event-loop threads accept on
 * the same port (SO_REUSEPORT); every request is matched against the
 * routing table, turned into a protocol v1 envelope and sent to the worker
 * pool on its own nng context. nng completes the call on one of its own
 * threads, which hands the reply back to the request's loop through h2o's
 * multithread queue: a loop never blocks on nng or MongoDB, and h2o_send is
 * only ever called on the loop that owns the request.
 */
#include "config.h"
#include "cors.h"
#include "doc.h"
#include "envelope.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "pools.h"
#include "query.h"
#include "respond.h"
#include "routes.h"
#include "token.h"

#include <h2o.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One event loop; h2o_context_t first so that req->conn->ctx finds it. */
typedef struct {
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    h2o_multithread_receiver_t replies; /* completed calls, posted by nng threads */
    pthread_t tid;
    pthread_barrier_t *ready; /* passed once the loop listens */
} ingress_loop_t;

/* One REQ socket per distinct pool URL; services that share a URL share it. */
typedef struct {
    const char *url;
    nng_socket sock;
    atomic_int pipes; /* connected pipes: 0 means the pool is unreachable */
} ingress_pool_t;

#define INGRESS_MAX_POOLS 16
/* Longer than any token the users service issues (about 150 bytes). */
#define INGRESS_TOKEN_MAX 4096

static struct {
    h2o_globalconf_t config;
    ingress_pool_t pools[INGRESS_MAX_POOLS];
    size_t npools;
    struct {
        char name[32];
        ingress_pool_t *pool;
    } services[INGRESS_MAX_POOLS];
    size_t nservices;
    int timeout_ms;
    size_t max_body;
    const char *host;
    int port;
    /* The pages, read once at start; NULL when the web assets are missing. */
    h2o_iovec_t page_browse, page_docs;
} app;

/* A request in flight to the pool. Owned by the loop thread except while
 * nng holds it between send and completion. */
typedef struct ingress_call {
    h2o_multithread_message_t message; /* must be first: the queue links it */
    ingress_loop_t *loop;
    h2o_req_t *req;                    /* NULL once the client went away */
    struct ingress_call **req_slot;    /* in req->pool; cleared when the req is freed */
    const route_t *route;
    nng_ctx ctx;
    nng_aio *aio;
    bool sent;
    int result; /* nng result of the exchange */
    char rid[ENV_RID_MAX + 1];
} ingress_call_t;

/*
 * Whether the client's copy is current: a GET or HEAD whose If-None-Match
 * matches the resource's ETag (weak comparison, RFC 9110 §13.1.2) is
 * answered 304 Not Modified without a body.
 */
static bool
ingress_not_modified(h2o_req_t *req, int64_t version)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (i < 0 || !(h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
                   h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))))
        return false;
    h2o_iovec_t v = req->headers.entries[i].value;
    return http_if_none_match(v.base, v.len, version) == HTTP_PRECONDITION_FALSE;
}

/* Renders a worker's reply envelope as the HTTP response. */
static void
ingress_render(ingress_call_t *call, nng_msg *msg)
{
    h2o_req_t *req = call->req;
    bool classic = call->route->flags & ROUTE_CLASSIC;
    env_reply_t reply;
    bson_error_t error;
    bson_iter_t it;

    if (!env_reply_parse(nng_msg_body(msg), nng_msg_len(msg), &reply, &error)) {
        log_error("rid=%s bad reply from pool: %s", call->rid, error.message);
        respond_error(req, classic, call->rid, 502, "bad_reply", "the worker sent a malformed reply", NULL);
        return;
    }
    if (reply.has_error) {
        respond_error(req, classic, call->rid, reply.status, reply.code, reply.message, &reply.fields);
        return;
    }
    if (call->route->flags & ROUTE_READINESS) {
        static const char ok[] = "{\"status\":\"ready\"}";
        respond_body(req, 200, "application/json", call->rid, ok, sizeof(ok) - 1);
        return;
    }
    if ((call->route->flags & ROUTE_ETAG) && reply.status / 100 == 2 &&
        bson_iter_init_find(&it, &reply.body, "version") && BSON_ITER_HOLDS_INT(&it)) {
        char etag[32];
        int64_t version = bson_iter_as_int64(&it);
        int n = snprintf(etag, sizeof(etag), "\"%lld\"", (long long)version);
        respond_header(req, H2O_TOKEN_ETAG, etag, (size_t)n);
        if (reply.status == 200 && ingress_not_modified(req, version)) {
            respond_empty(req, 304, call->rid);
            return;
        }
    }
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    if ((call->route->flags & ROUTE_PAGINATED) && reply.status == 200) {
        int64_t page = 0, per_page = 0, total = -1;
        if (bson_iter_init_find(&it, &reply.body, "page") && BSON_ITER_HOLDS_INT(&it))
            page = bson_iter_as_int64(&it);
        if (bson_iter_init_find(&it, &reply.body, "per_page") && BSON_ITER_HOLDS_INT(&it))
            per_page = bson_iter_as_int64(&it);
        if (bson_iter_init_find(&it, &reply.body, "total") && BSON_ITER_HOLDS_INT(&it))
            total = bson_iter_as_int64(&it);
        const char *query = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : NULL;
        size_t query_len = query != NULL ? req->path.len - req->query_at - 1 : 0;
        char *link = respond_link_value(req->path.base, path_len, query, query_len, page, per_page, total);
        if (link != NULL)
            respond_header(req, H2O_TOKEN_LINK, link, strlen(link));
        bson_free(link);
    }
    if ((call->route->flags & ROUTE_LOCATION) && reply.status == 201 && bson_iter_init_find(&it, &reply.body, "id") &&
        BSON_ITER_HOLDS_INT(&it)) {
        char *location = bson_strdup_printf("%.*s/%lld", (int)path_len, req->path.base,
                                            (long long)bson_iter_as_int64(&it));
        respond_header(req, H2O_TOKEN_LOCATION, location, strlen(location));
        bson_free(location);
    }
    if (reply.status == 204) {
        respond_empty(req, 204, call->rid);
        return;
    }
    size_t len;
    char *json = json_from_bson(&reply.body, &len);
    if (json == NULL) {
        log_error("rid=%s the reply holds a string that is not UTF-8", call->rid);
        respond_error(req, classic, call->rid, 502, "bad_reply", "the worker's reply is not valid UTF-8", NULL);
        return;
    }
    respond_body(req, reply.status, "application/json", call->rid, json, len);
    bson_free(json);
}

static void
ingress_call_free(ingress_call_t *call)
{
    nng_aio_free(call->aio);
    nng_ctx_close(call->ctx);
    free(call);
}

/* On the loop thread: the calls nng completed. */
static void
ingress_on_replies(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        ingress_call_t *call = H2O_STRUCT_FROM_MEMBER(ingress_call_t, message.link, messages->next);
        h2o_linklist_unlink(&call->message.link);
        nng_msg *msg = call->result == 0 ? nng_aio_get_msg(call->aio) : NULL;
        if (call->req != NULL) {
            *call->req_slot = NULL; /* the response is ours to send now; the slot must not touch the call */
            if (call->result == 0)
                ingress_render(call, msg);
            else if (call->result == NNG_ETIMEDOUT)
                respond_error(call->req, call->route->flags & ROUTE_CLASSIC, call->rid, 504, "timeout",
                              "the worker pool did not answer in time", NULL);
            else
                respond_error(call->req, call->route->flags & ROUTE_CLASSIC, call->rid, 503, "pool_unavailable",
                              "the worker pool cannot be reached", NULL);
        }
        if (msg != NULL)
            nng_msg_free(msg);
        else if (call->result != 0 && !call->sent)
            nng_msg_free(nng_aio_get_msg(call->aio)); /* the request never left */
        ingress_call_free(call);
    }
}

/* On an nng thread: step the exchange, then hand the call to its loop. */
static void
ingress_on_aio(void *arg)
{
    ingress_call_t *call = arg;
    int rv = nng_aio_result(call->aio);
    if (rv == 0 && !call->sent) {
        call->sent = true;
        nng_ctx_recv(call->ctx, call->aio);
        return;
    }
    call->result = rv;
    h2o_multithread_send_message(&call->loop->replies, &call->message);
}

/* When h2o frees a request whose call is still in flight: forget it. */
static void
ingress_on_req_dispose(void *p)
{
    ingress_call_t **slot = p;
    if (*slot != NULL)
        (*slot)->req = NULL;
}

static ingress_pool_t *
ingress_pool_for(const char *op)
{
    char service[32];
    pools_service_of(op, service, sizeof(service));
    for (size_t i = 0; i < app.nservices; i++)
        if (strcmp(app.services[i].name, service) == 0)
            return app.services[i].pool;
    return NULL;
}

/* Builds the envelope and sends it; the reply arrives in ingress_on_replies. */
static void
ingress_dispatch(h2o_req_t *req, const route_match_t *m, const char *rid, int64_t auth_sub, const bson_t *query,
                 const bson_t *body)
{
    ingress_loop_t *loop = (ingress_loop_t *)req->conn->ctx;
    bson_t params = BSON_INITIALIZER, env;
    nng_msg *msg = NULL;
    int rv;

    ingress_pool_t *pool = ingress_pool_for(m->route->op);
    if (m->route->flags & ROUTE_READINESS) {
        for (size_t i = 0; i < app.npools && pool != NULL; i++)
            if (atomic_load(&app.pools[i].pipes) == 0)
                pool = NULL;
    }
    if (pool == NULL || atomic_load(&pool->pipes) == 0) {
        respond_error(req, m->route->flags & ROUTE_CLASSIC, rid, 503, "pool_unavailable",
                      "the worker pool for this request is not connected", NULL);
        goto done;
    }
    for (size_t i = 0; i < m->nparams; i++)
        bson_append_utf8(&params, m->params[i].name, (int)m->params[i].name_len, m->params[i].value,
                         (int)m->params[i].value_len);
    char if_match[ENV_IF_MATCH_MAX + 1];
    ssize_t im = h2o_find_header(&req->headers, H2O_TOKEN_IF_MATCH, -1);
    if (im >= 0) {
        h2o_iovec_t v = req->headers.entries[im].value;
        if (v.len > ENV_IF_MATCH_MAX || http_if_match(v.base, v.len, 1) == HTTP_PRECONDITION_MALFORMED) {
            char *detail = bson_strdup_printf("If-Match must be \"*\" or a list of entity tags such as \"3\" "
                                              "(RFC 9110 section 13.1.1), at most %d characters",
                                              ENV_IF_MATCH_MAX);
            respond_error(req, m->route->flags & ROUTE_CLASSIC, rid, 400, "bad_precondition", detail, NULL);
            bson_free(detail);
            goto done;
        }
        memcpy(if_match, v.base, v.len);
        if_match[v.len] = '\0';
    }
    env_request_parts_t parts = {.op = m->route->op, .rid = rid, .auth_sub = auth_sub, .params = &params,
                                 .query = query, .body = body, .if_match = im >= 0 ? if_match : NULL};
    env_request_build(&env, &parts);

    ingress_call_t *call = calloc(1, sizeof(*call));
    call->loop = loop;
    call->req = req;
    call->route = m->route;
    bson_strncpy(call->rid, rid, sizeof(call->rid));
    if ((rv = nng_ctx_open(&call->ctx, pool->sock)) != 0) {
        free(call);
        respond_error(req, m->route->flags & ROUTE_CLASSIC, rid, 503, "pool_unavailable",
                      "cannot open a context to the worker pool", NULL);
        goto done_env;
    }
    if ((rv = nng_aio_alloc(&call->aio, ingress_on_aio, call)) != 0 || (rv = nng_msg_alloc(&msg, 0)) != 0 ||
        (rv = nng_msg_append(msg, bson_get_data(&env), env.len)) != 0) {
        if (msg != NULL)
            nng_msg_free(msg);
        if (call->aio != NULL)
            nng_aio_free(call->aio);
        nng_ctx_close(call->ctx);
        free(call);
        respond_error(req, m->route->flags & ROUTE_CLASSIC, rid, 503, "overloaded", "out of memory", NULL);
        goto done_env;
    }
    call->req_slot = h2o_mem_alloc_shared(&req->pool, sizeof(*call->req_slot), ingress_on_req_dispose);
    *call->req_slot = call;
    /* One deadline for the whole exchange: the send waits for a pipe, the receive for the answer. */
    nng_aio_set_timeout(call->aio, app.timeout_ms);
    nng_aio_set_msg(call->aio, msg);
    nng_ctx_send(call->ctx, call->aio);
done_env:
    bson_destroy(&env);
done:
    bson_destroy(&params);
}

extern const char roost_openapi_json[];
extern const size_t roost_openapi_json_len;

/* Routes the ingress answers itself, from memory. */
static void
ingress_local(h2o_req_t *req, const char *rid, const route_t *route)
{
    if (strcmp(route->op, "openapi") == 0) {
        respond_body(req, 200, "application/json", rid, roost_openapi_json, roost_openapi_json_len);
    } else if (strncmp(route->op, "page.", 5) == 0) {
        h2o_iovec_t page = strcmp(route->op, "page.docs") == 0 ? app.page_docs : app.page_browse;
        if (page.base == NULL)
            respond_error(req, false, rid, 503, "pages_missing",
                          "the web pages are not installed: run make setup (ROOST_WEB_DIR, ROOST_SWAGGER_DIR)", NULL);
        else
            respond_body(req, 200, "text/html; charset=utf-8", rid, page.base, page.len);
    } else {
        static const char ok[] = "{\"status\":\"ok\"}";
        respond_body(req, 200, "application/json", rid, ok, sizeof(ok) - 1);
    }
}

/*
 * Verifies the bearer token, if any (RFC 6750 §2.1, RFC 9110 §11.6.2). A
 * request that presents a token must present a valid one, whatever the
 * route; a route that requires one refuses a request without. On refusal
 * the 401 is sent, with its WWW-Authenticate challenge, and false returned.
 */
static bool
ingress_authenticate(h2o_req_t *req, const char *rid, const route_t *route, int64_t *sub)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *detail = NULL, *token;
    size_t token_len;

    if (i < 0) {
        if (route->auth != ROUTE_AUTH_REQUIRED)
            return true;
        respond_header(req, H2O_TOKEN_WWW_AUTHENTICATE, H2O_STRLIT("Bearer realm=\"roost\""));
        respond_error(req, route->flags & ROUTE_CLASSIC, rid, 401, "unauthorized",
                      "this route needs an Authorization: Bearer token", NULL);
        return false;
    }
    h2o_iovec_t v = req->headers.entries[i].value;
    if (!http_bearer(v.base, v.len, &token, &token_len)) {
        detail = "the Authorization header must be \"Bearer <token>\" (RFC 6750)";
    } else if (token_len > INGRESS_TOKEN_MAX) {
        detail = "the bearer token is longer than any this service issues";
    } else {
        char *copy = h2o_mem_alloc_pool(&req->pool, token_len + 1);
        memcpy(copy, token, token_len);
        copy[token_len] = '\0';
        token_status_t st = token_verify(token_config(), copy, (int64_t)time(NULL), sub);
        if (st == TOKEN_OK)
            return true;
        detail = token_status_message(st);
    }
    char *challenge =
        bson_strdup_printf("Bearer realm=\"roost\", error=\"invalid_token\", error_description=\"%s\"", detail);
    respond_header(req, H2O_TOKEN_WWW_AUTHENTICATE, challenge, strlen(challenge));
    bson_free(challenge);
    respond_error(req, route->flags & ROUTE_CLASSIC, rid, 401, "invalid_token", detail, NULL);
    return false;
}

/*
 * OPTIONS on a known path (RFC 9110 §9.3.7): 204 with Allow. With an Origin
 * and Access-Control-Request-Method it is a CORS preflight (Fetch §3.2.2):
 * an allowed origin asking for one of the path's methods and allowed
 * headers gets the Access-Control-Allow-* answer; any other preflight is
 * refused with a 403 that says why.
 */
static void
ingress_options(h2o_req_t *req, const char *rid, const route_match_t *m)
{
    char *allow = bson_strdup_printf("%s, OPTIONS", m->allow);
    ssize_t o = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    ssize_t rm = h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-method"), -1);
    bool classic = m->path_flags & ROUTE_CLASSIC;

    respond_header(req, H2O_TOKEN_ALLOW, allow, strlen(allow));
    if (o < 0 || rm < 0) {
        respond_empty(req, 204, rid);
        goto done;
    }
    const cors_config_t *cors = cors_config();
    h2o_iovec_t origin = req->headers.entries[o].value, method = req->headers.entries[rm].value;
    if (!cors_origin_allowed(cors, origin.base, origin.len)) {
        respond_error(req, classic, rid, 403, "origin_not_allowed",
                      cors->enabled ? "this origin may not call Roost from a browser (ROOST_CORS_ORIGINS)"
                                    : "cross-origin requests are off: set ROOST_CORS_ORIGINS to allow an origin",
                      NULL);
        goto done;
    }
    route_match_t probe;
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    if (routes_match(method.base, method.len, req->path.base, path_len, &probe) != ROUTE_FOUND) {
        char *detail = bson_strdup_printf("this path accepts %s", m->allow);
        respond_error(req, classic, rid, 403, "method_not_allowed", detail, NULL);
        bson_free(detail);
        goto done;
    }
    ssize_t rh = h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-headers"), -1);
    if (rh >= 0 && !cors_headers_allowed(req->headers.entries[rh].value.base, req->headers.entries[rh].value.len)) {
        respond_error(req, classic, rid, 403, "header_not_allowed",
                      "a browser may send only these request headers: " CORS_ALLOW_HEADERS, NULL);
        goto done;
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL,
                          allow, strlen(allow));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL,
                          H2O_STRLIT(CORS_ALLOW_HEADERS));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-max-age"), 0, NULL,
                          H2O_STRLIT(CORS_MAX_AGE));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL,
                   H2O_STRLIT("Access-Control-Request-Method, Access-Control-Request-Headers"));
    respond_empty(req, 204, rid); /* adds Access-Control-Allow-Origin and Vary: Origin */
done:
    bson_free(allow);
}

static const char *const ingress_json_types[] = {"application/json", "application/merge-patch+json", NULL};
static const char *const ingress_form_types[] = {"application/x-www-form-urlencoded", NULL};

/* Whether the Content-Type is one of `types` (parameters such as charset
 * allowed). A request without a Content-Type passes: its body must still parse. */
static bool
ingress_content_type_is(h2o_req_t *req, const char *const *types)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return true;
    h2o_iovec_t v = req->headers.entries[i].value;
    for (; *types != NULL; types++) {
        size_t n = strlen(*types);
        if (v.len >= n && strncasecmp(v.base, *types, n) == 0 && (v.len == n || v.base[n] == ';' || v.base[n] == ' '))
            return true;
    }
    return false;
}

static int
ingress_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    char rid[ENV_RID_MAX + 1];
    route_match_t m;
    bson_t query = BSON_INITIALIZER, body;
    bson_error_t error;
    bool has_body = false;
    int64_t auth_sub = 0;
    bool classic = false;

    respond_request_id(req, rid);
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    switch (routes_match(req->method.base, req->method.len, req->path.base, path_len, &m)) {
    case ROUTE_NOT_FOUND:
        respond_error(req, false, rid, 404, "not_found", "no such route", NULL);
        goto done;
    case ROUTE_BAD_METHOD:
        if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"))) {
            ingress_options(req, rid, &m);
            goto done;
        }
        respond_header(req, H2O_TOKEN_ALLOW, m.allow, strlen(m.allow));
        respond_error(req, m.path_flags & ROUTE_CLASSIC, rid, 405, "method_not_allowed",
                      "this route does not accept that method", NULL);
        goto done;
    case ROUTE_FOUND:
        classic = m.route->flags & ROUTE_CLASSIC;
        break;
    }
    if (m.route->flags & ROUTE_LOCAL) {
        ingress_local(req, rid, m.route);
        goto done;
    }
    if (!ingress_authenticate(req, rid, m.route, &auth_sub))
        goto done;
    if (req->query_at != SIZE_MAX &&
        !query_parse(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1, &query, &error)) {
        char *detail = bson_strdup_printf("the query string has %s", error.message);
        respond_error(req, classic, rid, 400, "bad_query", detail, NULL);
        bson_free(detail);
        goto done;
    }
    if (m.route->body != ROUTE_BODY_NONE) {
        if (req->entity.len > app.max_body) {
            char *detail = bson_strdup_printf("the body is larger than %zu bytes", app.max_body);
            respond_error(req, classic, rid, 413, "body_too_large", detail, NULL);
            bson_free(detail);
            goto done;
        }
        const char *data = req->entity.base != NULL ? req->entity.base : "";
        if (m.route->body == ROUTE_BODY_JSON) {
            if (!ingress_content_type_is(req, ingress_json_types)) {
                respond_error(req, classic, rid, 415, "unsupported_media_type", "send the body as application/json",
                              NULL);
                goto done;
            }
            if (!json_to_bson(data, req->entity.len, &body, &error)) {
                respond_error(req, classic, rid, 400, "malformed_json", error.message, NULL);
                goto done;
            }
            /* A body is plain JSON: no value that only extended JSON can write ({"$date": ...}, NaN). */
            char *path = NULL;
            const char *what;
            if (!doc_check(&body, DOC_JSON_VALUES, NULL, &path, &what)) {
                bson_t fields = BSON_INITIALIZER, field;
                BSON_APPEND_DOCUMENT_BEGIN(&fields, "0", &field);
                BSON_APPEND_UTF8(&field, "field", path);
                BSON_APPEND_UTF8(&field, "message", what);
                bson_append_document_end(&fields, &field);
                respond_error(req, classic, rid, 400, "validation_failed", "the request has invalid fields", &fields);
                bson_destroy(&fields);
                bson_destroy(&body);
                free(path);
                goto done;
            }
        } else {
            if (!ingress_content_type_is(req, ingress_form_types)) {
                respond_error(req, classic, rid, 415, "unsupported_media_type",
                              "send the body as application/x-www-form-urlencoded", NULL);
                goto done;
            }
            bson_init(&body);
            if (!query_parse(data, req->entity.len, &body, &error)) {
                bson_destroy(&body);
                char *detail = bson_strdup_printf("the form body has %s", error.message);
                respond_error(req, classic, rid, 400, "malformed_form", detail, NULL);
                bson_free(detail);
                goto done;
            }
        }
        has_body = true;
    }
    ingress_dispatch(req, &m, rid, auth_sub, &query, has_body ? &body : NULL);
    if (has_body)
        bson_destroy(&body);
done:
    bson_destroy(&query);
    return 0;
}

static void
ingress_on_accept(h2o_socket_t *listener, const char *err)
{
    ingress_loop_t *loop = listener->data;
    h2o_socket_t *sock;
    if (err != NULL)
        return;
    if ((sock = h2o_evloop_socket_accept(listener)) != NULL)
        h2o_accept(&loop->accept, sock);
}

/* Reads `dir`/`name` whole; {NULL, 0} (and a warning) when it cannot. */
static h2o_iovec_t
ingress_read_page(const char *dir, const char *name)
{
    char path[1024];
    h2o_iovec_t page = {NULL, 0};
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f != NULL && fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > 0 && size < (1 << 20) && fseek(f, 0, SEEK_SET) == 0) {
            page.base = malloc((size_t)size);
            if (page.base != NULL && fread(page.base, 1, (size_t)size, f) == (size_t)size) {
                page.len = (size_t)size;
            } else {
                free(page.base);
                page.base = NULL;
            }
        }
    }
    if (f != NULL)
        fclose(f);
    if (page.base == NULL)
        log_warn("cannot read %s: its page answers 503 until it exists (run make setup)", path);
    return page;
}

/*
 * The pages: "/" and "/docs" from memory (routing table rows), their
 * assets by h2o's file handler. Asset paths are registered before the
 * catch-all "/", which h2o would otherwise pick for them.
 */
static void
ingress_register_pages(h2o_hostconf_t *host)
{
    const char *web = cfg_str("ROOST_WEB_DIR", ROOST_DEFAULT_WEB_DIR);
    const char *swagger = cfg_str("ROOST_SWAGGER_DIR", ROOST_DEFAULT_SWAGGER_DIR);
    char dir[1024];
    app.page_browse = ingress_read_page(web, "index.html");
    app.page_docs = ingress_read_page(web, "docs.html");
    snprintf(dir, sizeof(dir), "%s/static", web);
    h2o_pathconf_t *assets = h2o_config_register_path(host, "/static", 0);
    h2o_file_register(assets, h2o_strdup(NULL, dir, SIZE_MAX).base, NULL, NULL, 0);
    respond_register_error_filter(assets);
    h2o_pathconf_t *swagger_ui = h2o_config_register_path(host, "/docs/assets", 0);
    h2o_file_register(swagger_ui, swagger, NULL, NULL, 0);
    respond_register_error_filter(swagger_ui);
    if (access(swagger, R_OK) != 0)
        log_warn("%s is missing: /docs has no Swagger UI until it exists (run make setup)", swagger);
}

static int
ingress_listen_fd(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)app.port)};
    int fd, on = 1;
    if (inet_pton(AF_INET, app.host, &addr.sin_addr) != 1) {
        log_error("ROOST_HTTP_HOST=%s is not an IPv4 address", app.host);
        return -1;
    }
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        log_error("cannot listen on %s:%d: %s", app.host, app.port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void *
ingress_loop_run(void *arg)
{
    ingress_loop_t *loop = arg;

    /* Everything of a loop is made on its own thread: h2o 2.2.5 recycles
     * socket buffers through per-thread pools without locks, so a loop
     * whose sockets were made on another thread corrupts that thread's pool
     * (seen as crashes under load with two loops). */
    h2o_context_init(&loop->ctx, h2o_evloop_create(), &app.config);
    loop->accept.ctx = &loop->ctx;
    loop->accept.hosts = app.config.hosts;
    h2o_multithread_register_receiver(loop->ctx.queue, &loop->replies, ingress_on_replies);
    int fd = ingress_listen_fd();
    if (fd < 0)
        exit(1);
    h2o_socket_t *sock = h2o_evloop_socket_create(loop->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    sock->data = loop;
    h2o_socket_read_start(sock, ingress_on_accept);
    pthread_barrier_wait(loop->ready);

    while (h2o_evloop_run(loop->ctx.loop, INT32_MAX) == 0)
        ;
    return NULL;
}

static void
ingress_pipe_cb(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    ingress_pool_t *pool = arg;
    atomic_fetch_add(&pool->pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

/* Opens (or finds) the pool of the service of every routed op. */
static void
ingress_add_route_pool(const route_t *route, void *arg)
{
    int *failed = arg;
    char service[32];
    int rv;
    if (route->flags & ROUTE_LOCAL)
        return;
    pools_service_of(route->op, service, sizeof(service));
    for (size_t i = 0; i < app.nservices; i++)
        if (strcmp(app.services[i].name, service) == 0)
            return;
    const char *url = pools_url(service);
    ingress_pool_t *pool = NULL;
    for (size_t i = 0; i < app.npools; i++)
        if (strcmp(app.pools[i].url, url) == 0)
            pool = &app.pools[i];
    if (pool == NULL) {
        if (app.npools == INGRESS_MAX_POOLS) {
            *failed = 1;
            return;
        }
        pool = &app.pools[app.npools++];
        pool->url = url;
        if ((rv = nng_req0_open(&pool->sock)) != 0) {
            log_error("cannot open REQ socket: %s", nng_strerror(rv));
            *failed = 1;
            return;
        }
        nng_pipe_notify(pool->sock, NNG_PIPE_EV_ADD_POST, ingress_pipe_cb, pool);
        nng_pipe_notify(pool->sock, NNG_PIPE_EV_REM_POST, ingress_pipe_cb, pool);
        nng_setopt_ms(pool->sock, NNG_OPT_RECONNMINT, 50);
        nng_setopt_ms(pool->sock, NNG_OPT_RECONNMAXT, 1000);
        /* Re-send only when the pool's pipe drops, never because a call is slow. */
        nng_setopt_ms(pool->sock, NNG_OPT_REQ_RESENDTIME, 3600 * 1000);
        if ((rv = nng_dial(pool->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
            log_error("cannot dial the worker pool at %s: %s", url, nng_strerror(rv));
            *failed = 1;
            return;
        }
    }
    bson_strncpy(app.services[app.nservices].name, service, sizeof(app.services[0].name));
    app.services[app.nservices++].pool = pool;
    log_info("service %s -> pool %s", service, url);
}

int
main(int argc, char **argv)
{
    sigset_t stop;
    int sig;

    log_init("ingress");
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    app.host = cfg_str("ROOST_HTTP_HOST", "127.0.0.1");
    app.port = (int)cfg_int("ROOST_HTTP_PORT", 8080, 1, 65535);
    app.timeout_ms = (int)cfg_int("ROOST_REQUEST_TIMEOUT_MS", CFG_DEFAULT_TIMEOUT_MS, 100, 600000);
    app.max_body = (size_t)cfg_int("ROOST_MAX_BODY_BYTES", 1 << 20, 1024, 64 << 20);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = (int)cfg_int("ROOST_HTTP_THREADS", ncpu > 0 ? ncpu : 1, 1, 256);
    token_config(); /* refuses to start without a secret outside development */
    cors_config();  /* refuses to start with an allow-list it cannot read */

    int failed = 0;
    routes_each(ingress_add_route_pool, &failed);
    if (failed)
        return 1;

    h2o_config_init(&app.config);
    /* h2o refuses a larger body before reading it; its 413 is given Roost's shape by the error filter. */
    app.config.max_request_entity_size = app.max_body;
    respond_set_max_body(app.max_body);
    h2o_hostconf_t *host = h2o_config_register_host(&app.config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    respond_register_error_filter(&host->fallback_path); /* errors before a path is chosen */
    ingress_register_pages(host);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = ingress_on_req;
    respond_register_error_filter(path);

    ingress_loop_t *loops = calloc((size_t)threads, sizeof(*loops));
    pthread_barrier_t ready; /* every loop listens before we say so */
    pthread_barrier_init(&ready, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        loops[i].ready = &ready;
        pthread_create(&loops[i].tid, NULL, ingress_loop_run, &loops[i]);
    }
    pthread_barrier_wait(&ready);
    log_info("listening on http://%s:%d with %d loops, %zu worker pool(s)", app.host, app.port, threads, app.npools);

    sigwait(&stop, &sig);
    log_info("stopping on signal %d", sig);
    for (size_t i = 0; i < app.npools; i++)
        nng_close(app.pools[i].sock);
    return 0;
}
