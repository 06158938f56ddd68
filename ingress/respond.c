/* The ingress's response shapes and senders (respond.h). */
#include "respond.h"
#include "ratelimit.h"
#include "cors.h"
#include "encode.h"
#include "http.h"
#include "json.h"
#include "routes.h"
#include "text.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reason phrase of a status (RFC 9110 §15). */
static const char *
respond_reason(int status)
{
    /* One status a line reads as the table it is. */
    /* clang-format off */
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 207: return "Multi-Status";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
    }
    /* clang-format on */
}

char *
respond_problem_body(int status, const char *code, const char *detail, const bson_t *fields, const char *rid,
                     size_t *len)
{
    bson_t doc = BSON_INITIALIZER;
    respond_problem_doc(status, code, detail, fields, rid, &doc);
    char *json = json_from_bson(&doc, len);
    bson_destroy(&doc);
    return json;
}

void
respond_problem_doc(int status, const char *code, const char *detail, const bson_t *fields, const char *rid,
                    bson_t *out)
{
    char *type = bson_strdup_printf("urn:roost:problem:%s", code);
    BSON_APPEND_UTF8(out, "type", type);
    BSON_APPEND_UTF8(out, "title", respond_reason(status));
    BSON_APPEND_INT32(out, "status", status);
    BSON_APPEND_UTF8(out, "detail", detail);
    BSON_APPEND_UTF8(out, "code", code);
    if (fields != NULL && !bson_empty(fields))
        BSON_APPEND_ARRAY(out, "errors", fields);
    BSON_APPEND_UTF8(out, "request_id", rid);
    bson_free(type);
}

char *
respond_classic_body(const char *detail, const bson_t *fields, size_t *len)
{
    bson_t doc = BSON_INITIALIZER, errors;
    bson_iter_t it, f;
    uint32_t n = 0;
    char key[16];

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
    char *json = json_from_bson(&doc, len);
    bson_destroy(&doc);
    return json;
}

bool
respond_rid_acceptable(const char *v, size_t len)
{
    if (len == 0 || len > ENVELOPE_RID_MAX)
        return false;
    for (size_t k = 0; k < len; k++) {
        char c = v[k];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return false;
    }
    return true;
}

void
respond_request_id(h2o_req_t *req, char out[ENVELOPE_RID_MAX + 1])
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    if (i >= 0 && respond_rid_acceptable(req->headers.entries[i].value.base, req->headers.entries[i].value.len)) {
        h2o_iovec_t v = req->headers.entries[i].value;
        memcpy(out, v.base, v.len);
        out[v.len] = '\0';
        return;
    }
    envelope_new_rid(out);
}

char *
respond_link_value(const char *path, size_t path_len, const char *query, size_t query_len, int64_t page,
                   int64_t per_page, int64_t total)
{
    if (page < 1 || per_page < 1 || total < 0)
        return NULL;
    int64_t last = total == 0 ? 1 : total / per_page + (total % per_page != 0);

    /* Every other query parameter, as the client sent it. */
    bson_string_t *rest = bson_string_new(NULL);
    const char *q = query, *end = query + query_len;
    while (q != NULL && q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pe = amp ? amp : end;
        size_t plen = (size_t)(pe - q);
        const char *eq = memchr(q, '=', plen);
        size_t name_len = eq != NULL ? (size_t)(eq - q) : plen;
        bool paging =
            (name_len == 4 && strncmp(q, "page", 4) == 0) || (name_len == 8 && strncmp(q, "per_page", 8) == 0);
        if (!paging && plen > 0) {
            char *pair = bson_strndup(q, plen);
            bson_string_append_printf(rest, "%s&", pair);
            bson_free(pair);
        }
        q = pe + 1;
    }
    struct {
        const char *rel;
        int64_t page;
        bool show;
    } rels[] = {
        {"first", 1, true}, {"prev", page - 1, page > 1}, {"next", page + 1, page < last}, {"last", last, true}};
    char *base = bson_strndup(path, path_len);
    bson_string_t *links = bson_string_new(NULL);
    for (size_t r = 0; r < 4; r++) {
        if (!rels[r].show)
            continue;
        bson_string_append_printf(links, "%s<%s?%spage=%lld&per_page=%lld>; rel=\"%s\"", links->len > 0 ? ", " : "",
                                  base, rest->str, (long long)rels[r].page, (long long)per_page, rels[r].rel);
    }
    bson_free(base);
    bson_string_free(rest, true);
    return bson_string_free(links, false);
}

void
respond_odata_version(h2o_req_t *req)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("odata-version"), 0, NULL, H2O_STRLIT("4.0"));
}

void
respond_header(h2o_req_t *req, const h2o_token_t *token, const char *value, size_t len)
{
    h2o_iovec_t copy = h2o_strdup(&req->pool, value, len);
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, copy.base, copy.len);
}

void
respond_bearer_challenge(h2o_req_t *req, const char *description)
{
    if (description == NULL) {
        respond_header(req, H2O_TOKEN_WWW_AUTHENTICATE, H2O_STRLIT("Bearer realm=\"roost\""));
        return;
    }
    char *challenge =
        bson_strdup_printf("Bearer realm=\"roost\", error=\"invalid_token\", error_description=\"%s\"", description);
    /* RFC 6750 §3: error_description holds %x20-21 / %x23-5B / %x5D-7E. */
    char *p = challenge + strlen("Bearer realm=\"roost\", error=\"invalid_token\", error_description=\"");
    for (char *end = challenge + strlen(challenge) - 1; p < end; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '\'';
    respond_header(req, H2O_TOKEN_WWW_AUTHENTICATE, challenge, strlen(challenge));
    bson_free(challenge);
}

void
respond_rate_limit(h2o_req_t *req, const envelope_rate_limit_t *states, size_t n)
{
    char policy[256], limit[128];
    if (n == 0 || !ratelimit_header_values(states, n, policy, sizeof(policy), limit, sizeof(limit)))
        return;
    h2o_iovec_t p = h2o_strdup(&req->pool, policy, strlen(policy)), l = h2o_strdup(&req->pool, limit, strlen(limit));
    h2o_set_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("ratelimit-policy"), 0, p.base, p.len, 1);
    h2o_set_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("ratelimit"), 0, l.base, l.len, 1);
}

/* Adds the CORS headers of an actual (not preflight) request to the response. */
static void
respond_cors(h2o_req_t *req)
{
    const cors_config_t *c = cors_config();
    if (!c->enabled)
        return;
    if (!c->any) /* the answer depends on the Origin: caches must keep one per origin */
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    if (i < 0)
        return;
    h2o_iovec_t origin = req->headers.entries[i].value;
    if (!cors_origin_allowed(c, origin.base, origin.len))
        return;
    if (c->any)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-origin"), 0, NULL,
                              H2O_STRLIT("*"));
    else
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-origin"), 0, NULL,
                              origin.base, origin.len);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-expose-headers"), 0, NULL,
                          H2O_STRLIT(CORS_EXPOSE_HEADERS));
}

static atomic_bool respond_draining;

static void
respond_common_headers(h2o_req_t *req, int status, const char *rid)
{
    /* Draining (SIGTERM): every response closes its connection, so that a
     * keep-alive client opens its next one to an ingress that stays. */
    if (atomic_load(&respond_draining))
        req->http1_is_persistent = 0;
    req->res.status = status;
    req->res.reason = respond_reason(status);
    h2o_iovec_t id = h2o_strdup(&req->pool, rid, strlen(rid));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
    respond_cors(req);
}

void
respond_body(h2o_req_t *req, int status, const char *content_type, const char *rid, const char *body, size_t len)
{
    char *coded = NULL;
    size_t coded_len = 0;
    respond_common_headers(req, status, rid);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    /* Whether a body is compressed depends on Accept-Encoding, for caches too. */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Accept-Encoding"));
    if (len >= ENCODE_MIN_BYTES) {
        ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT_ENCODING, -1);
        http_encoding_t coding =
            i < 0 ? HTTP_ENCODING_IDENTITY
                  : http_accept_encoding(req->headers.entries[i].value.base, req->headers.entries[i].value.len);
        if (coding != HTTP_ENCODING_IDENTITY && encode_body(coding, body, len, &coded, &coded_len)) {
            const char *name = encode_name(coding);
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_ENCODING, NULL, name, strlen(name));
            body = coded;
            len = coded_len;
        }
    }
    req->res.content_length = len;
    h2o_send_inline(req, body, len); /* copies the body; nothing for HEAD */
    free(coded);
}

void
respond_empty(h2o_req_t *req, int status, const char *rid)
{
    respond_common_headers(req, status, rid);
    h2o_send_inline(req, "", 0);
}

char *
respond_odata_body(const char *code, const char *detail, const bson_t *fields, const char *rid, size_t *len)
{
    bson_t doc = BSON_INITIALIZER, error, details, inner;
    bson_iter_t it, f;
    uint32_t n = 0;
    BSON_APPEND_DOCUMENT_BEGIN(&doc, "error", &error);
    BSON_APPEND_UTF8(&error, "code", code);
    BSON_APPEND_UTF8(&error, "message", detail);
    BSON_APPEND_ARRAY_BEGIN(&error, "details", &details);
    if (fields != NULL && bson_iter_init(&it, fields))
        while (bson_iter_next(&it)) {
            bson_t item;
            const char *target = "", *message = "";
            if (!bson_iter_recurse(&it, &f))
                continue;
            bson_iter_t x = f;
            if (bson_iter_find(&x, "field") && BSON_ITER_HOLDS_UTF8(&x))
                target = bson_iter_utf8(&x, NULL);
            x = f;
            if (bson_iter_find(&x, "message") && BSON_ITER_HOLDS_UTF8(&x))
                message = bson_iter_utf8(&x, NULL);
            char key[16];
            snprintf(key, sizeof(key), "%u", n++);
            BSON_APPEND_DOCUMENT_BEGIN(&details, key, &item);
            BSON_APPEND_UTF8(&item, "code", code);
            BSON_APPEND_UTF8(&item, "target", target);
            BSON_APPEND_UTF8(&item, "message", message);
            bson_append_document_end(&details, &item);
        }
    bson_append_array_end(&error, &details);
    BSON_APPEND_DOCUMENT_BEGIN(&error, "innererror", &inner);
    BSON_APPEND_UTF8(&inner, "request_id", rid);
    bson_append_document_end(&error, &inner);
    bson_append_document_end(&doc, &error);
    char *json = json_from_bson(&doc, len);
    bson_destroy(&doc);
    return json;
}

void
respond_error(h2o_req_t *req, unsigned shape, const char *rid, int status, const char *code, const char *detail,
              const bson_t *fields)
{
    size_t len;
    bool classic = shape & ROUTE_CLASSIC, odata = shape & ROUTE_ODATA;
    char *body = classic ? respond_classic_body(detail, fields, &len)
                 : odata ? respond_odata_body(code, detail, fields, rid, &len)
                         : respond_problem_body(status, code, detail, fields, rid, &len);
    if (body == NULL) {
        /* No reply is ever invalid UTF-8: a message that is not gets U+FFFD
         * for its bad bytes, and field errors that are not are left out. */
        char *valid = text_valid(detail);
        body = classic ? respond_classic_body(valid, NULL, &len)
               : odata ? respond_odata_body(code, valid, NULL, rid, &len)
                       : respond_problem_body(status, code, valid, NULL, rid, &len);
        free(valid);
    }
    /* A 429 or 503 always says when to come back (RFC 9110 §10.2.3, RFC
     * 6585 §4): one second unless whoever refused said otherwise. */
    if ((status == 429 || status == 503) && h2o_find_header(&req->res.headers, H2O_TOKEN_RETRY_AFTER, -1) < 0)
        respond_header(req, H2O_TOKEN_RETRY_AFTER, H2O_STRLIT("1"));
    if (odata)
        respond_odata_version(req);
    respond_body(req, status, classic || odata ? "application/json" : "application/problem+json", rid, body, len);
    bson_free(body);
}

/* --- h2o's own errors, in Roost's shapes ------------------------------------ */

static size_t respond_max_body;

void
respond_drain(void)
{
    atomic_store(&respond_draining, true);
}

void
respond_set_max_body(size_t max_body)
{
    respond_max_body = max_body;
}

typedef struct {
    h2o_ostream_t super;
    h2o_iovec_t body; /* in the request's pool */
} respond_rewrite_t;

/* Replaces h2o's plain-text body with ours; h2o_send_inline sends it whole. */
static void
respond_rewrite_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    respond_rewrite_t *r = (respond_rewrite_t *)self;
    bool head = h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"));
    if (h2o_send_state_is_in_progress(state)) {
        h2o_ostream_send_next(self, req, NULL, 0, state);
        return;
    }
    h2o_ostream_send_next(self, req, head ? NULL : &r->body, head ? 0 : 1, state);
}

static void (*response_start_hook)(h2o_req_t *req);

void
respond_on_response_start(void (*hook)(h2o_req_t *req))
{
    response_start_hook = hook;
}

static void
respond_on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    /* Every response Roost makes carries its request id; one without it is h2o's own. */
    if (req->res.status >= 400 && h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("x-request-id"), -1) < 0) {
        char rid[ENVELOPE_RID_MAX + 1];
        route_match_t m;
        int status = req->res.status;
        size_t path_len = req->input.query_at != SIZE_MAX ? req->input.query_at : req->input.path.len;
        bool classic = false;
        if (req->input.path.base != NULL) {
            route_result_t found =
                routes_match(req->input.method.base, req->input.method.len, req->input.path.base, path_len, &m);
            classic = (found == ROUTE_FOUND && (m.route->flags & ROUTE_CLASSIC)) ||
                      (found == ROUTE_BAD_METHOD && (m.path_flags & ROUTE_CLASSIC));
        }
        const char *code = status == 413 ? "body_too_large" : status == 404 ? "not_found" : "bad_request";
        char *detail = status == 413   ? bson_strdup_printf("the body is larger than %zu bytes", respond_max_body)
                       : status == 404 ? bson_strdup("no such file")
                       : status == 417 ? bson_strdup("the only expectation this server meets is 100-continue")
                                       : bson_strdup("the request is not valid HTTP/1.1 (broken framing)");
        envelope_new_rid(rid);
        size_t len;
        char *body = classic ? respond_classic_body(detail, NULL, &len)
                             : respond_problem_body(status, code, detail, NULL, rid, &len);
        bson_free(detail);
        respond_rewrite_t *r = (respond_rewrite_t *)h2o_add_ostream(req, sizeof(*r), slot);
        r->super.do_send = respond_rewrite_send;
        r->body = h2o_strdup(&req->pool, body, len);
        bson_free(body);
        ssize_t ct;
        while ((ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1)) >= 0)
            h2o_delete_header(&req->res.headers, ct);
        const char *type = classic ? "application/json" : "application/problem+json";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
        h2o_iovec_t id = h2o_strdup(&req->pool, rid, strlen(rid));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
        respond_cors(req);
        req->res.reason = respond_reason(status);
        req->res.content_length = len;
        slot = &r->super.next;
    }
    if (response_start_hook != NULL)
        response_start_hook(req);
    h2o_setup_next_ostream(req, slot);
}

void
respond_register_error_filter(h2o_pathconf_t *pathconf)
{
    h2o_filter_t *filter = h2o_create_filter(pathconf, sizeof(*filter));
    filter->on_setup_ostream = respond_on_setup_ostream;
}
