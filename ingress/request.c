/* The ingress's request pipeline (request.h). */
#include "request.h"
#include "call.h"
#include "cors.h"
#include "doc.h"
#include "envelope.h"
#include "http.h"
#include "json.h"
#include "media.h"
#include "media_cache.h"
#include "observe.h"
#include "ratelimit.h"
#include "pages.h"
#include "query.h"
#include "reply.h"
#include "problem.h"
#include "respond.h"
#include "routes.h"
#include "token.h"
#include "upload.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static struct {
    int64_t max_body, max_media;
} limits;

void
request_configure(int64_t max_body, int64_t max_media)
{
    limits.max_body = max_body;
    limits.max_media = max_media;
}

/* Who sent a request: the user of a valid bearer token, the token (in
 * the request's pool) and the client's address. */
typedef struct {
    int64_t sub; /* 0: no token */
    const char *token;
    char addr[ENVELOPE_ADDR_MAX + 1];
} request_auth_t;

static call_then_t *request_forget_media(h2o_req_t *req, const route_match_t *m, const char *rid);

/* Builds the envelope and sends it; the reply comes back through call.c. */
static void
request_dispatch(h2o_req_t *req, const route_match_t *m, const char *rid, const request_auth_t *auth,
                 const bson_t *query, const bson_t *body)
{
    bson_t params = BSON_INITIALIZER, env;

    for (size_t i = 0; i < m->nparams; i++)
        bson_append_utf8(&params, m->params[i].name, (int)m->params[i].name_len, m->params[i].value,
                         (int)m->params[i].value_len);
    /* If-Match becomes expect_version (RFC 9110 §13.1.1, strong comparison):
     * workers never see HTTP syntax. "*" asks for a current representation,
     * which every op that reads If-Match requires anyway. */
    int64_t expect[ENVELOPE_EXPECT_MAX];
    size_t nexpect = 0;
    bool any = true;
    ssize_t im = h2o_find_header(&req->headers, H2O_TOKEN_IF_MATCH, -1);
    if (im >= 0) {
        h2o_iovec_t v = req->headers.entries[im].value;
        if (v.len > ENVELOPE_IF_MATCH_MAX ||
            !http_if_match_versions(v.base, v.len, expect, ENVELOPE_EXPECT_MAX, &nexpect, &any)) {
            char *detail = bson_strdup_printf("If-Match must be \"*\" or a list of entity tags such as \"3\" "
                                              "(RFC 9110 section 13.1.1), at most %d characters",
                                              ENVELOPE_IF_MATCH_MAX);
            respond_error(req, m->route->flags, rid, 400, "bad_precondition", detail, NULL);
            bson_free(detail);
            goto done;
        }
    }
    envelope_request_parts_t parts = {.op = m->route->op,
                                      .rid = rid,
                                      .auth_sub = auth->sub,
                                      .auth_token = auth->token,
                                      .client_addr = auth->addr[0] ? auth->addr : NULL,
                                      .params = &params,
                                      .query = query,
                                      .body = body,
                                      .has_expect = !any,
                                      .nexpect = nexpect,
                                      .expect = expect};
    envelope_request_build(&env, &parts);

    call_send_then(req, m->route, rid, &env,
                   (m->route->flags & ROUTE_FORGETS_MEDIA) ? request_forget_media(req, m, rid) : NULL);
    bson_destroy(&env);
done:
    bson_destroy(&params);
}

/*
 * Verifies the bearer token, if any (RFC 6750 §2.1, RFC 9110 §11.6.2): a
 * request that presents a token must present a valid one, whatever the
 * route, and *sub is its user. Whether an op needs a user at all is the
 * op table's to say (workers/sdk/service.h): without a token the request
 * goes on with no user, and an op that needs one answers 401, which
 * reply.c gives its challenge. On refusal the 401 is sent, with its
 * WWW-Authenticate challenge, and false returned.
 */
static bool
request_authenticate(h2o_req_t *req, const char *rid, const route_t *route, request_auth_t *auth)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    const char *detail = NULL, *token;
    size_t token_len;

    if (i < 0)
        return true;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (!http_bearer(v.base, v.len, &token, &token_len)) {
        detail = "the Authorization header must be \"Bearer <token>\" (RFC 6750)";
    } else if (token_len > TOKEN_MAX) {
        detail = "the bearer token is longer than any this service issues";
    } else {
        char *copy = h2o_mem_alloc_pool(&req->pool, token_len + 1);
        memcpy(copy, token, token_len);
        copy[token_len] = '\0';
        token_claims_t claims;
        token_status_t st = token_verify(token_config(), copy, (int64_t)time(NULL), &claims);
        if (st == TOKEN_OK) {
            /* The worker checks it again, against the user's token
             * generation and revoked ids, which only it can read. */
            auth->sub = claims.sub;
            auth->token = copy;
            return true;
        }
        detail = token_status_message(st);
    }
    respond_bearer_challenge(req, detail);
    respond_error(req, route->flags, rid, 401, "invalid_token", detail, NULL);
    return false;
}

static const char *const request_json_types[] = {"application/json", "application/merge-patch+json", NULL};
static const char *const request_form_types[] = {"application/x-www-form-urlencoded", NULL};

/* Whether the Content-Type is one of `types` (parameters such as charset
 * allowed). A request without a Content-Type passes: its body must still parse. */
static bool
request_content_type_is(h2o_req_t *req, const char *const *types)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return true;
    h2o_iovec_t v = req->headers.entries[i].value;
    return http_media_type_is(v.base, v.len, types);
}

/* A JSON body into `body`; an array where one object creates one goes to
 * the route's bulk twin, as {items: [...]} (the op checks it), and
 * m->route becomes that twin. False when the 4xx is sent. */
static bool
request_json_body(h2o_req_t *req, route_match_t *m, const char *rid, bson_t *body)
{
    unsigned shape = route_error_shape(m->route->flags);
    const char *data = req->entity.base != NULL ? req->entity.base : "";
    bson_error_t error;
    if (!request_content_type_is(req, request_json_types)) {
        respond_error(req, shape, rid, 415, "unsupported_media_type", "send the body as application/json", NULL);
        return false;
    }
    size_t lead = 0;
    while (lead < req->entity.len && strchr(" \t\r\n", data[lead]) != NULL)
        lead++;
    const route_t *bulk = lead < req->entity.len && data[lead] == '[' ? routes_bulk(m->route) : NULL;
    bool parsed;
    if (bulk != NULL) {
        size_t n = req->entity.len;
        char *wrapped = bson_malloc(n + 11);
        memcpy(wrapped, "{\"items\":", 9);
        memcpy(wrapped + 9, data, n);
        memcpy(wrapped + 9 + n, "}", 2);
        parsed = json_to_bson(wrapped, n + 10, body, &error);
        bson_free(wrapped);
        if (parsed)
            m->route = bulk;
    } else {
        parsed = json_to_bson(data, req->entity.len, body, &error);
    }
    if (!parsed) {
        respond_error(req, shape, rid, 400, "malformed_json", error.message, NULL);
        return false;
    }
    /* A body is plain JSON: no value that only extended JSON can write ({"$date": ...}, NaN). */
    char *path = NULL;
    const char *what;
    if (!doc_check(body, DOC_JSON_VALUES, NULL, &path, &what)) {
        bson_t fields = BSON_INITIALIZER, field;
        BSON_APPEND_DOCUMENT_BEGIN(&fields, "0", &field);
        BSON_APPEND_UTF8(&field, "field", path);
        BSON_APPEND_UTF8(&field, "message", what);
        bson_append_document_end(&fields, &field);
        respond_error(req, shape, rid, 400, "validation_failed", "the request has invalid fields", &fields);
        bson_destroy(&fields);
        bson_destroy(body);
        free(path);
        return false;
    }
    return true;
}

/* The route's body (JSON or a form) into `body`, checked against its
 * Content-Type; its size was checked before routing (request_handle).
 * False when the 4xx is sent. */
static bool
request_body(h2o_req_t *req, route_match_t *m, const char *rid, bson_t *body)
{
    unsigned shape = route_error_shape(m->route->flags);
    bson_error_t error;
    if (m->route->body == ROUTE_BODY_JSON)
        return request_json_body(req, m, rid, body);
    if (!request_content_type_is(req, request_form_types)) {
        respond_error(req, shape, rid, 415, "unsupported_media_type",
                      "send the body as application/x-www-form-urlencoded", NULL);
        return false;
    }
    bson_init(body);
    if (!query_parse(req->entity.base != NULL ? req->entity.base : "", req->entity.len, body, &error)) {
        bson_destroy(body);
        char *detail = bson_strdup_printf("the form body has %s", error.message);
        respond_error(req, shape, rid, 400, "malformed_form", detail, NULL);
        bson_free(detail);
        return false;
    }
    return true;
}

/* How many writes a request counts for: a bulk create counts each item. */
static int64_t
request_writes(const route_t *route, const bson_t *body)
{
    int64_t writes = 0;
    bson_iter_t items, item;
    if (body != NULL && (route->flags & ROUTE_BULK) && bson_iter_init_find(&items, body, "items") &&
        BSON_ITER_HOLDS_ARRAY(&items) && bson_iter_recurse(&items, &item))
        while (bson_iter_next(&item))
            writes++;
    return writes > 0 ? writes : 1;
}

/* A photo upload: its size and type, the write limit, then upload.h. */
static void
request_upload(h2o_req_t *req, const route_match_t *m, const char *rid, const request_auth_t *auth)
{
    unsigned shape = route_error_shape(m->route->flags);
    if ((int64_t)req->entity.len > limits.max_media + REQUEST_FORM_SLACK_BYTES) {
        char *detail = bson_strdup_printf("a photo may have at most %lld bytes (ROOST_MAX_MEDIA_BYTES)",
                                          (long long)limits.max_media);
        respond_error(req, shape, rid, 413, "body_too_large", detail, NULL);
        bson_free(detail);
        return;
    }
    if (!upload_content_type_ok(req)) {
        respond_error(req, shape, rid, 415, "unsupported_media_type",
                      "send the photo as image/jpeg, image/png or image/webp, or as multipart/form-data", NULL);
        return;
    }
    if (!ratelimit_allow_writes(req, m->route, rid, auth->sub, auth->addr, 1))
        return;
    upload_caller_t caller = {.sub = auth->sub, .token = auth->token, .addr = auth->addr[0] ? auth->addr : NULL};
    upload_start(req, m, rid, &caller, limits.max_media);
}

/* A delete of a photo (params.mid) or of a property with its photos
 * (params.id), whose 2xx makes this ingress's cache forget them
 * (media_cache.h). Only then: a refused delete must not empty the cache of
 * someone else's photos, and a read between the forgetting and the delete
 * would fill it again. */
typedef struct {
    const route_t *route;
    char rid[ENVELOPE_RID_MAX + 1];
    char mid[MEDIA_CACHE_KEY_MAX], id[24];
} request_forget_t;

static void
request_forget_then(h2o_req_t *req, void *arg, const uint8_t *reply, size_t len)
{
    request_forget_t *f = arg;
    envelope_reply_t r;
    bson_error_t error;
    if (envelope_reply_parse(reply, len, &r, &error) && r.status >= 200 && r.status < 300) {
        if (f->mid[0] != '\0')
            media_cache_forget(f->mid);
        else if (f->id[0] != '\0' && strspn(f->id, "0123456789") == strlen(f->id))
            media_cache_forget_property(strtoll(f->id, NULL, 10));
    }
    reply_render(req, f->route, f->rid, reply, len);
}

static call_then_t *
request_forget_media(h2o_req_t *req, const route_match_t *m, const char *rid)
{
    request_forget_t *f = h2o_mem_alloc_pool(&req->pool, sizeof(*f));
    call_then_t *then = h2o_mem_alloc_pool(&req->pool, sizeof(*then));
    memset(f, 0, sizeof(*f));
    f->route = m->route;
    bson_strncpy(f->rid, rid, sizeof(f->rid));
    for (size_t i = 0; i < m->nparams; i++) {
        char *into = m->params[i].name_len == 3 && memcmp(m->params[i].name, "mid", 3) == 0  ? f->mid
                     : m->params[i].name_len == 2 && memcmp(m->params[i].name, "id", 2) == 0 ? f->id
                                                                                             : NULL;
        size_t size = into == f->mid ? sizeof(f->mid) : sizeof(f->id);
        if (into != NULL && m->params[i].value_len < size) {
            memcpy(into, m->params[i].value, m->params[i].value_len);
            into[m->params[i].value_len] = '\0';
        }
    }
    *then = (call_then_t){request_forget_then, f};
    return then;
}

int
request_handle(h2o_handler_t *self, h2o_req_t *req)
{
    char rid[ENVELOPE_RID_MAX + 1];
    route_match_t m;
    bson_t query = BSON_INITIALIZER, body;
    bson_error_t error;
    bool has_body = false;
    request_auth_t auth = {0};

    bool rid_usable = respond_request_id(req, rid);
    size_t path_len = route_path_len(req->path.len, req->query_at);
    route_result_t matched = routes_match(req->method.base, req->method.len, req->path.base, path_len, &m);
    observe_request(req, matched == ROUTE_FOUND ? m.route : NULL, rid);
    /* A body past ROOST_MAX_BODY_BYTES (read once at start-up, main.c) is
     * refused before anything else, on any route but a photo's, as h2o
     * refused it when that was its limit (main.c raised h2o's to a
     * photo's); request_body relies on it. */
    if ((int64_t)req->entity.len > limits.max_body && !(matched == ROUTE_FOUND && m.route->body == ROUTE_BODY_MEDIA)) {
        unsigned shape = matched == ROUTE_FOUND                        ? route_error_shape(m.route->flags)
                         : routes_odata_path(req->path.base, path_len) ? ROUTE_ODATA
                                                                       : route_error_shape(m.path_flags);
        char *detail = problem_body_too_large();
        respond_error(req, shape, rid, 413, "body_too_large", detail, NULL);
        bson_free(detail);
        goto done;
    }
    switch (matched) {
    case ROUTE_NOT_FOUND:
        /* Under the RESO Web API's root, an OData error object too. */
        respond_error(req, routes_odata_path(req->path.base, path_len) ? ROUTE_ODATA : 0, rid, 404, "not_found",
                      "no such route", NULL);
        goto done;
    case ROUTE_BAD_METHOD:
        if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"))) {
            cors_preflight(req, rid, &m);
            goto done;
        }
        respond_header(req, H2O_TOKEN_ALLOW, m.allow, strlen(m.allow));
        respond_error(req, route_error_shape(m.path_flags), rid, 405, "method_not_allowed",
                      "this route does not accept that method", NULL);
        goto done;
    case ROUTE_FOUND:
        break;
    }
    if (!rid_usable) {
        respond_error(req, route_error_shape(m.route->flags), rid, 400, "bad_request_id",
                      "X-Request-Id must be 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' and '.': it is this "
                      "request's idempotency id, so Roost refuses one it cannot use rather than replace it",
                      NULL);
        goto done;
    }
    if (m.route->flags & ROUTE_LOCAL) {
        pages_answer(req, rid, m.route);
        goto done;
    }
    if (!request_authenticate(req, rid, m.route, &auth))
        goto done;
    ratelimit_client_address(req, auth.addr);
    if (req->query_at != SIZE_MAX &&
        !query_parse(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1, &query, &error)) {
        char *detail = bson_strdup_printf("the query string has %s", error.message);
        respond_error(req, route_error_shape(m.route->flags), rid, 400, "bad_query", detail, NULL);
        bson_free(detail);
        goto done;
    }
    if (m.route->flags & ROUTE_MEDIA) {
        media_answer(req, &m, rid, &query);
        goto done;
    }
    if (m.route->body == ROUTE_BODY_MEDIA) {
        request_upload(req, &m, rid, &auth);
        goto done;
    }
    if (m.route->body != ROUTE_BODY_NONE) {
        if (!request_body(req, &m, rid, &body))
            goto done;
        has_body = true;
    }
    /* Counted once the body is read: a bulk create counts each item. */
    if (ratelimit_allow_writes(req, m.route, rid, auth.sub, auth.addr,
                               request_writes(m.route, has_body ? &body : NULL)))
        request_dispatch(req, &m, rid, &auth, &query, has_body ? &body : NULL);
    if (has_body)
        bson_destroy(&body);
done:
    bson_destroy(&query);
    return 0;
}
