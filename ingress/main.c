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
#include "envelope.h"
#include "json.h"
#include "log.h"
#include "pools.h"
#include "query.h"
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

static const char *
ingress_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

/* Adds a response header; h2o keeps the pointer, so the value is copied into the request's pool. */
static void
ingress_header(h2o_req_t *req, const h2o_token_t *token, const char *value, size_t len)
{
    h2o_iovec_t copy = h2o_strdup(&req->pool, value, len);
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, copy.base, copy.len);
}

/* Sends `json` (copied) as the whole response, with the request id header. */
static void
ingress_send(h2o_req_t *req, int status, const char *content_type, const char *rid, const char *json, size_t len)
{
    req->res.status = status;
    req->res.reason = ingress_reason(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    h2o_iovec_t id = h2o_strdup(&req->pool, rid, strlen(rid));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
    h2o_send_inline(req, json, len);
}

/*
 * The classic contract's error: {"result": false, "errors": [...]}, one
 * message per invalid field, or the detail when no field is named.
 */
static void
ingress_classic_error(h2o_req_t *req, const char *rid, int status, const char *detail, const bson_t *fields)
{
    bson_t doc = BSON_INITIALIZER, errors;
    bson_iter_t it, f;
    uint32_t n = 0;
    char key[16];
    size_t len;

    BSON_APPEND_BOOL(&doc, "result", false);
    BSON_APPEND_ARRAY_BEGIN(&doc, "errors", &errors);
    if (fields != NULL && bson_iter_init(&it, fields)) {
        while (bson_iter_next(&it)) {
            if (BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &f) && bson_iter_find(&f, "message") &&
                BSON_ITER_HOLDS_UTF8(&f)) {
                snprintf(key, sizeof(key), "%u", n++);
                BSON_APPEND_UTF8(&errors, key, bson_iter_utf8(&f, NULL));
            }
        }
    }
    if (n == 0)
        BSON_APPEND_UTF8(&errors, "0", detail);
    bson_append_array_end(&doc, &errors);
    char *json = json_from_bson(&doc, &len);
    ingress_send(req, status, "application/json", rid, json, len);
    bson_free(json);
    bson_destroy(&doc);
}

/*
 * An error, in the style of the route: RFC 9457 problem details, or the
 * classic contract's envelope. `fields` is a BSON array of {field,
 * message} or NULL.
 */
static void
ingress_error(h2o_req_t *req, bool classic, const char *rid, int status, const char *code, const char *detail,
              const bson_t *fields)
{
    bson_t doc = BSON_INITIALIZER;
    char type[128];
    size_t len;

    if (classic) {
        ingress_classic_error(req, rid, status, detail, fields);
        bson_destroy(&doc);
        return;
    }

    snprintf(type, sizeof(type), "urn:roost:problem:%s", code);
    BSON_APPEND_UTF8(&doc, "type", type);
    BSON_APPEND_UTF8(&doc, "title", ingress_reason(status));
    BSON_APPEND_INT32(&doc, "status", status);
    BSON_APPEND_UTF8(&doc, "detail", detail);
    BSON_APPEND_UTF8(&doc, "code", code);
    if (fields != NULL && !bson_empty(fields))
        BSON_APPEND_ARRAY(&doc, "errors", fields);
    BSON_APPEND_UTF8(&doc, "request_id", rid);
    char *json = json_from_bson(&doc, &len);
    ingress_send(req, status, "application/problem+json", rid, json, len);
    bson_free(json);
    bson_destroy(&doc);
}

/* The request id: the client's X-Request-Id when it is sane, else a new one. */
static void
ingress_request_id(h2o_req_t *req, char *out)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    if (i >= 0) {
        h2o_iovec_t v = req->headers.entries[i].value;
        bool sane = v.len > 0 && v.len <= ENV_RID_MAX;
        for (size_t k = 0; sane && k < v.len; k++) {
            char c = v.base[k];
            sane = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '_' || c == '.';
        }
        if (sane) {
            memcpy(out, v.base, v.len);
            out[v.len] = '\0';
            return;
        }
    }
    env_new_rid(out);
}

/* Adds an RFC 8288 Link header for a paginated reply. */
static void
ingress_link_header(h2o_req_t *req, const bson_t *body)
{
    bson_iter_t it;
    int64_t page = 0, per_page = 0, total = -1;
    if (bson_iter_init_find(&it, body, "page") && BSON_ITER_HOLDS_INT(&it))
        page = bson_iter_as_int64(&it);
    if (bson_iter_init_find(&it, body, "per_page") && BSON_ITER_HOLDS_INT(&it))
        per_page = bson_iter_as_int64(&it);
    if (bson_iter_init_find(&it, body, "total") && BSON_ITER_HOLDS_INT(&it))
        total = bson_iter_as_int64(&it);
    if (page < 1 || per_page < 1 || total < 0)
        return;
    int64_t last = total == 0 ? 1 : (total + per_page - 1) / per_page;

    /* Keep every other query parameter as the client sent it. */
    h2o_iovec_t path = h2o_iovec_init(req->path.base, req->query_at != SIZE_MAX ? req->query_at : req->path.len);
    char rest[1024] = "";
    size_t rest_len = 0;
    if (req->query_at != SIZE_MAX) {
        const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
        while (q < end) {
            const char *amp = memchr(q, '&', (size_t)(end - q));
            const char *pe = amp ? amp : end;
            size_t plen = (size_t)(pe - q);
            bool paging = (plen >= 5 && strncmp(q, "page=", 5) == 0) || (plen >= 9 && strncmp(q, "per_page=", 9) == 0) ||
                          (plen == 4 && strncmp(q, "page", 4) == 0) || (plen == 8 && strncmp(q, "per_page", 8) == 0);
            if (!paging && plen > 0 && rest_len + plen + 2 < sizeof(rest)) {
                memcpy(rest + rest_len, q, plen);
                rest_len += plen;
                rest[rest_len++] = '&';
                rest[rest_len] = '\0';
            }
            q = pe + 1;
        }
    }
    char links[4096];
    size_t n = 0;
    struct {
        const char *rel;
        int64_t page;
        bool show;
    } rels[] = {{"first", 1, true}, {"prev", page - 1, page > 1}, {"next", page + 1, page < last}, {"last", last, true}};
    for (size_t r = 0; r < 4; r++) {
        if (!rels[r].show)
            continue;
        n += (size_t)snprintf(links + n, sizeof(links) - n, "%s<%.*s?%spage=%lld&per_page=%lld>; rel=\"%s\"",
                              n > 0 ? ", " : "", (int)path.len, path.base, rest, (long long)rels[r].page,
                              (long long)per_page, rels[r].rel);
        if (n >= sizeof(links))
            return;
    }
    ingress_header(req, H2O_TOKEN_LINK, links, n);
}

/* Renders a worker's reply envelope as the HTTP response. */
static void
ingress_render(ingress_call_t *call, nng_msg *msg)
{
    h2o_req_t *req = call->req;
    env_reply_t reply;
    bson_error_t error;

    if (!env_reply_parse(nng_msg_body(msg), nng_msg_len(msg), &reply, &error)) {
        log_error("rid=%s bad reply from pool: %s", call->rid, error.message);
        ingress_error(req, call->route->flags & ROUTE_CLASSIC, call->rid, 502, "bad_reply", "the worker sent a malformed reply", NULL);
        return;
    }
    if (reply.has_error) {
        ingress_error(req, call->route->flags & ROUTE_CLASSIC, call->rid, reply.status, reply.code, reply.message, &reply.fields);
        return;
    }
    bson_iter_t it;
    if (call->route->flags & ROUTE_READINESS) {
        const char *ok = "{ \"status\" : \"ready\" }";
        ingress_send(req, 200, "application/json", call->rid, ok, strlen(ok));
        return;
    }
    if ((call->route->flags & ROUTE_ETAG) && reply.status / 100 == 2 &&
        bson_iter_init_find(&it, &reply.body, "version") && BSON_ITER_HOLDS_INT(&it)) {
        char etag[32];
        int n = snprintf(etag, sizeof(etag), "\"%lld\"", (long long)bson_iter_as_int64(&it));
        ingress_header(req, H2O_TOKEN_ETAG, etag, (size_t)n);
    }
    if ((call->route->flags & ROUTE_PAGINATED) && reply.status == 200)
        ingress_link_header(req, &reply.body);
    if ((call->route->flags & ROUTE_LOCATION) && reply.status == 201 && bson_iter_init_find(&it, &reply.body, "id") &&
        BSON_ITER_HOLDS_INT(&it)) {
        char location[512];
        int len = snprintf(location, sizeof(location), "%.*s/%lld",
                           (int)(req->query_at != SIZE_MAX ? req->query_at : req->path.len), req->path.base,
                           (long long)bson_iter_as_int64(&it));
        ingress_header(req, H2O_TOKEN_LOCATION, location, (size_t)len);
    }
    if (reply.status == 204) {
        req->res.status = 204;
        req->res.reason = ingress_reason(204);
        h2o_iovec_t id = h2o_strdup(&req->pool, call->rid, strlen(call->rid));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
        h2o_send_inline(req, "", 0);
        return;
    }
    size_t len;
    char *json = json_from_bson(&reply.body, &len);
    ingress_send(req, reply.status, "application/json", call->rid, json, len);
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
                ingress_error(call->req, call->route->flags & ROUTE_CLASSIC, call->rid, 504, "timeout", "the worker pool did not answer in time", NULL);
            else
                ingress_error(call->req, call->route->flags & ROUTE_CLASSIC, call->rid, 503, "pool_unavailable", "the worker pool cannot be reached",
                                NULL);
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
        ingress_error(req, m->route->flags & ROUTE_CLASSIC, rid, 503, "pool_unavailable", "the worker pool for this request is not connected", NULL);
        goto done;
    }
    for (size_t i = 0; i < m->nparams; i++)
        bson_append_utf8(&params, m->params[i].name, (int)m->params[i].name_len, m->params[i].value,
                         (int)m->params[i].value_len);
    char if_match[ENV_IF_MATCH_MAX + 1];
    ssize_t im = h2o_find_header(&req->headers, H2O_TOKEN_IF_MATCH, -1);
    if (im >= 0) {
        h2o_iovec_t v = req->headers.entries[im].value;
        if (v.len == 0 || v.len > ENV_IF_MATCH_MAX) {
            ingress_error(req, m->route->flags & ROUTE_CLASSIC, rid, 400, "bad_precondition", "If-Match must be an entity tag such as \"3\"", NULL);
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
        ingress_error(req, m->route->flags & ROUTE_CLASSIC, rid, 503, "pool_unavailable", "cannot open a context to the worker pool", NULL);
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
        ingress_error(req, m->route->flags & ROUTE_CLASSIC, rid, 503, "overloaded", "out of memory", NULL);
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
        ingress_send(req, 200, "application/json", rid, roost_openapi_json, roost_openapi_json_len);
    } else if (strncmp(route->op, "page.", 5) == 0) {
        h2o_iovec_t page = strcmp(route->op, "page.docs") == 0 ? app.page_docs : app.page_browse;
        if (page.base == NULL)
            ingress_error(req, false, rid, 503, "pages_missing",
                          "the web pages are not installed: run make setup (ROOST_WEB_DIR, ROOST_SWAGGER_DIR)", NULL);
        else
            ingress_send(req, 200, "text/html; charset=utf-8", rid, page.base, page.len);
    } else {
        const char *ok = "{ \"status\" : \"ok\" }";
        ingress_send(req, 200, "application/json", rid, ok, strlen(ok));
    }
}

/*
 * Verifies the bearer token, if any. A request that presents a token must
 * present a valid one, whatever the route; a route that requires one
 * refuses a request without. On refusal the 401 is sent and false returned.
 */
static bool
ingress_authenticate(h2o_req_t *req, const char *rid, const route_t *route, int64_t *sub)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *detail = NULL;
    char token[2048];

    if (i < 0) {
        if (route->auth != ROUTE_AUTH_REQUIRED)
            return true;
        ingress_header(req, H2O_TOKEN_WWW_AUTHENTICATE, H2O_STRLIT("Bearer realm=\"roost\""));
        ingress_error(req, route->flags & ROUTE_CLASSIC, rid, 401, "unauthorized", "this route needs an Authorization: Bearer token", NULL);
        return false;
    }
    h2o_iovec_t v = req->headers.entries[i].value;
    if (v.len < 8 || strncasecmp(v.base, "Bearer ", 7) != 0 || v.len - 7 >= sizeof(token)) {
        detail = "the Authorization header must be \"Bearer <token>\"";
    } else {
        memcpy(token, v.base + 7, v.len - 7);
        token[v.len - 7] = '\0';
        token_status_t st = token_verify(token_config(), token, (int64_t)time(NULL), sub);
        if (st == TOKEN_OK)
            return true;
        detail = token_status_message(st);
    }
    char challenge[256];
    int n = snprintf(challenge, sizeof(challenge), "Bearer realm=\"roost\", error=\"invalid_token\", error_description=\"%s\"",
                     detail);
    ingress_header(req, H2O_TOKEN_WWW_AUTHENTICATE, challenge, (size_t)n);
    ingress_error(req, route->flags & ROUTE_CLASSIC, rid, 401, "invalid_token", detail, NULL);
    return false;
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

    ingress_request_id(req, rid);
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    switch (routes_match(req->method.base, req->method.len, req->path.base, path_len, &m)) {
    case ROUTE_NOT_FOUND:
        ingress_error(req, false, rid, 404, "not_found", "no such route", NULL);
        goto done;
    case ROUTE_BAD_METHOD:
        ingress_header(req, H2O_TOKEN_ALLOW, m.allow, strlen(m.allow));
        ingress_error(req, m.path_flags & ROUTE_CLASSIC, rid, 405, "method_not_allowed", "this route does not accept that method", NULL);
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
        char detail[sizeof(error.message) + 32];
        snprintf(detail, sizeof(detail), "the query string has %s", error.message);
        ingress_error(req, classic, rid, 400, "bad_query", detail, NULL);
        goto done;
    }
    if (m.route->body != ROUTE_BODY_NONE) {
        if (req->entity.len > app.max_body) {
            char detail[96];
            snprintf(detail, sizeof(detail), "the body is larger than %zu bytes", app.max_body);
            ingress_error(req, classic, rid, 413, "body_too_large", detail, NULL);
            goto done;
        }
        const char *data = req->entity.base != NULL ? req->entity.base : "";
        if (m.route->body == ROUTE_BODY_JSON) {
            if (!ingress_content_type_is(req, ingress_json_types)) {
                ingress_error(req, classic, rid, 415, "unsupported_media_type", "send the body as application/json",
                              NULL);
                goto done;
            }
            if (!json_to_bson(data, req->entity.len, &body, &error)) {
                ingress_error(req, classic, rid, 400, "malformed_json", error.message, NULL);
                goto done;
            }
        } else {
            if (!ingress_content_type_is(req, ingress_form_types)) {
                ingress_error(req, classic, rid, 415, "unsupported_media_type",
                              "send the body as application/x-www-form-urlencoded", NULL);
                goto done;
            }
            bson_init(&body);
            if (!query_parse(data, req->entity.len, &body, &error)) {
                bson_destroy(&body);
                char detail[sizeof(error.message) + 32];
                snprintf(detail, sizeof(detail), "the form body has %s", error.message);
                ingress_error(req, classic, rid, 400, "malformed_form", detail, NULL);
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
    h2o_file_register(h2o_config_register_path(host, "/static", 0), h2o_strdup(NULL, dir, SIZE_MAX).base, NULL, NULL,
                      0);
    h2o_file_register(h2o_config_register_path(host, "/docs/assets", 0), swagger, NULL, NULL, 0);
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

    int failed = 0;
    routes_each(ingress_add_route_pool, &failed);
    if (failed)
        return 1;

    h2o_config_init(&app.config);
    /* h2o itself refuses absurd bodies; ours (a problem+json 413) covers the rest. */
    app.config.max_request_entity_size = app.max_body * 4;
    h2o_hostconf_t *host = h2o_config_register_host(&app.config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    ingress_register_pages(host);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = ingress_on_req;

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
