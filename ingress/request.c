/* The ingress's request pipeline (request.h). */
#include "request.h"
#include "call.h"
#include "cors.h"
#include "doc.h"
#include "envelope.h"
#include "http.h"
#include "json.h"
#include "observe.h"
#include "ratelimit.h"
#include "pages.h"
#include "query.h"
#include "respond.h"
#include "routes.h"
#include "token.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static size_t request_max_body = 1 << 20;

void
request_set_max_body(size_t max_body)
{
    request_max_body = max_body;
}

/* Who sent a request: the user of a valid bearer token, the token (in
 * the request's pool) and the client's address. */
typedef struct {
    int64_t sub; /* 0: no token */
    const char *token;
    char addr[ENVELOPE_ADDR_MAX + 1];
} request_auth_t;

/*
 * The address the client is counted under (ratelimit_client_key): the TCP
 * peer's, or, when the peer is a trusted proxy (ratelimit_proxy), the last
 * entry of the configured header, which that proxy appended. "" when
 * neither says.
 */
static void
request_client_addr(h2o_req_t *req, char out[ENVELOPE_ADDR_MAX + 1])
{
    struct sockaddr_storage sa;
    char host[NI_MAXHOST];
    out[0] = '\0';
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&sa);
    if (len == 0)
        return;
    size_t n = h2o_socket_getnumerichost((struct sockaddr *)&sa, len, host);
    if (n == SIZE_MAX)
        return;
    host[n] = '\0';
    const ratelimit_proxy_t *proxy = ratelimit_proxy();
    if (proxy->header != NULL && ratelimit_in_cidrs(host, proxy->trusted)) {
        ssize_t i = -1, last = -1;
        while ((i = h2o_find_header_by_str(&req->headers, proxy->header, strlen(proxy->header), i)) >= 0)
            last = i;
        if (last >= 0) {
            h2o_iovec_t v = req->headers.entries[last].value;
            size_t start = v.len;
            while (start > 0 && v.base[start - 1] != ',')
                start--;
            while (start < v.len && v.base[start] == ' ')
                start++;
            size_t end = v.len;
            while (end > start && v.base[end - 1] == ' ')
                end--;
            char forwarded[INET6_ADDRSTRLEN];
            if (end - start < sizeof(forwarded)) {
                memcpy(forwarded, v.base + start, end - start);
                forwarded[end - start] = '\0';
                if (ratelimit_client_key(forwarded, out))
                    return;
            }
        }
    }
    if (!ratelimit_client_key(host, out))
        out[0] = '\0';
}

/*
 * The write limits (ratelimit.h): a POST, PUT, PATCH or DELETE other than the
 * login counts against its user's quota and its address's, `writes` times
 * (a bulk create counts each of its items). Sets the
 * RateLimit headers; on refusal answers 429 with Retry-After and returns
 * false.
 */
static bool
request_within_limits(h2o_req_t *req, const route_match_t *m, const char *rid, const request_auth_t *auth,
                      int64_t writes)
{
    const ratelimit_config_t *cfg = ratelimit_config();
    envelope_rate_limit_t states[2];
    size_t n = 0;
    char key[RATELIMIT_KEY_MAX + 1];
    bool allowed = true;
    int64_t now = (int64_t)time(NULL);

    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
        h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")) || strcmp(m->route->op, "users.login") == 0)
        return true;
    if (cfg->per_user != NULL && auth->sub > 0) {
        snprintf(key, sizeof(key), "u:%lld", (long long)auth->sub);
        allowed = ratelimit_take_n(cfg->per_user, key, now, writes, &states[n++]);
    }
    /* A write the user's quota refuses is not counted against the address's. */
    if (allowed && cfg->per_address != NULL && auth->addr[0] != '\0') {
        snprintf(key, sizeof(key), "a:%s", auth->addr);
        allowed = ratelimit_take_n(cfg->per_address, key, now, writes, &states[n++]);
    }
    respond_rate_limit(req, states, n);
    if (allowed)
        return true;
    int64_t wait = 0;
    for (size_t i = 0; i < n; i++)
        if (states[i].remaining < writes && states[i].reset > wait)
            wait = states[i].reset;
    char seconds[24];
    int len = snprintf(seconds, sizeof(seconds), "%lld", (long long)(wait > 0 ? wait : 1));
    respond_header(req, H2O_TOKEN_RETRY_AFTER, seconds, (size_t)len);
    respond_error(req, m->route->flags, rid, 429, "rate_limited",
                  "too many writes; wait for the time in Retry-After (ROOST_WRITE_LIMIT_* sets the quotas)", NULL);
    return false;
}

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

    call_send(req, m->route, rid, &env);
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

/*
 * OPTIONS on a known path (RFC 9110 §9.3.7): 204 with Allow. With an Origin
 * and Access-Control-Request-Method it is a CORS preflight (Fetch §3.2.2):
 * an allowed origin asking for one of the path's methods and allowed
 * headers gets the Access-Control-Allow-* answer; any other preflight is
 * refused with a 403 that says why.
 */
static void
request_options(h2o_req_t *req, const char *rid, const route_match_t *m)
{
    char *allow = bson_strdup_printf("%s, OPTIONS", m->allow);
    ssize_t o = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    ssize_t rm = h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-method"), -1);
    unsigned classic = m->path_flags & (ROUTE_CLASSIC | ROUTE_ODATA);

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
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL, allow,
                          strlen(allow));
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

int
request_handle(h2o_handler_t *self, h2o_req_t *req)
{
    char rid[ENVELOPE_RID_MAX + 1];
    route_match_t m;
    bson_t query = BSON_INITIALIZER, body;
    bson_error_t error;
    bool has_body = false;
    request_auth_t auth = {0};
    unsigned classic = 0; /* the error shape: ROUTE_CLASSIC, ROUTE_ODATA or neither */

    respond_request_id(req, rid);
    size_t path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    route_result_t matched = routes_match(req->method.base, req->method.len, req->path.base, path_len, &m);
    observe_request(req, matched == ROUTE_FOUND ? m.route : NULL, rid);
    switch (matched) {
    case ROUTE_NOT_FOUND:
        /* Under the RESO Web API's root, an OData error object too. */
        respond_error(req, routes_odata_path(req->path.base, path_len) ? ROUTE_ODATA : 0, rid, 404, "not_found",
                      "no such route", NULL);
        goto done;
    case ROUTE_BAD_METHOD:
        if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS"))) {
            request_options(req, rid, &m);
            goto done;
        }
        respond_header(req, H2O_TOKEN_ALLOW, m.allow, strlen(m.allow));
        respond_error(req, m.path_flags & (ROUTE_CLASSIC | ROUTE_ODATA), rid, 405, "method_not_allowed",
                      "this route does not accept that method", NULL);
        goto done;
    case ROUTE_FOUND:
        classic = m.route->flags & (ROUTE_CLASSIC | ROUTE_ODATA);
        break;
    }
    if (m.route->flags & ROUTE_LOCAL) {
        pages_answer(req, rid, m.route);
        goto done;
    }
    if (!request_authenticate(req, rid, m.route, &auth))
        goto done;
    request_client_addr(req, auth.addr);
    if (req->query_at != SIZE_MAX &&
        !query_parse(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1, &query, &error)) {
        char *detail = bson_strdup_printf("the query string has %s", error.message);
        respond_error(req, classic, rid, 400, "bad_query", detail, NULL);
        bson_free(detail);
        goto done;
    }
    if (m.route->body != ROUTE_BODY_NONE) {
        if (req->entity.len > request_max_body) {
            char *detail = bson_strdup_printf("the body is larger than %zu bytes", request_max_body);
            respond_error(req, classic, rid, 413, "body_too_large", detail, NULL);
            bson_free(detail);
            goto done;
        }
        const char *data = req->entity.base != NULL ? req->entity.base : "";
        if (m.route->body == ROUTE_BODY_JSON) {
            if (!request_content_type_is(req, request_json_types)) {
                respond_error(req, classic, rid, 415, "unsupported_media_type", "send the body as application/json",
                              NULL);
                goto done;
            }
            /* A JSON array where one object creates one: the route's bulk
             * twin, with the array as {items: [...]} (the op checks it). */
            size_t lead = 0;
            while (lead < req->entity.len && strchr(" \t\r\n", data[lead]) != NULL)
                lead++;
            const route_t *bulk = lead < req->entity.len && data[lead] == '[' ? routes_bulk(m.route) : NULL;
            bool parsed;
            if (bulk != NULL) {
                size_t n = req->entity.len;
                char *wrapped = bson_malloc(n + 11);
                memcpy(wrapped, "{\"items\":", 9);
                memcpy(wrapped + 9, data, n);
                memcpy(wrapped + 9 + n, "}", 2);
                parsed = json_to_bson(wrapped, n + 10, &body, &error);
                bson_free(wrapped);
                if (parsed)
                    m.route = bulk;
            } else {
                parsed = json_to_bson(data, req->entity.len, &body, &error);
            }
            if (!parsed) {
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
            if (!request_content_type_is(req, request_form_types)) {
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
    /* Counted once the body is read: a bulk create counts each item. */
    int64_t writes = 1;
    bson_iter_t items, item;
    if ((m.route->flags & ROUTE_BULK) && bson_iter_init_find(&items, &body, "items") && BSON_ITER_HOLDS_ARRAY(&items) &&
        bson_iter_recurse(&items, &item))
        for (writes = 0; bson_iter_next(&item);)
            writes++;
    if (!request_within_limits(req, &m, rid, &auth, writes > 0 ? writes : 1)) {
        if (has_body)
            bson_destroy(&body);
        goto done;
    }
    request_dispatch(req, &m, rid, &auth, &query, has_body ? &body : NULL);
    if (has_body)
        bson_destroy(&body);
done:
    bson_destroy(&query);
    return 0;
}
