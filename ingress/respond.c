/* The ingress's response shapes and senders (respond.h). */
#include "respond.h"
#include "problem.h"
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

bool
respond_request_id(h2o_req_t *req, char out[ENVELOPE_RID_MAX + 1])
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    if (i >= 0 && respond_rid_acceptable(req->headers.entries[i].value.base, req->headers.entries[i].value.len)) {
        h2o_iovec_t v = req->headers.entries[i].value;
        memcpy(out, v.base, v.len);
        out[v.len] = '\0';
        return true;
    }
    envelope_new_rid(out);
    return i < 0;
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

void
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

void
respond_drain(void)
{
    atomic_store(&respond_draining, true);
}

static void
respond_common_headers(h2o_req_t *req, int status, const char *rid)
{
    /* Draining (SIGTERM): every response closes its connection, so that a
     * keep-alive client opens its next one to an ingress that stays. */
    if (atomic_load(&respond_draining))
        req->http1_is_persistent = 0;
    req->res.status = status;
    req->res.reason = problem_reason(status);
    h2o_iovec_t id = h2o_strdup(&req->pool, rid, strlen(rid));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
    respond_cors(req);
}

/* A coded body is another representation, so a strong ETag of its own
 * (RFC 9110 §8.8.3): "3" becomes "3-gzip"; http.h reads both as version 3. */
static void
respond_etag_of_coding(h2o_req_t *req, const char *coding)
{
    ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_ETAG, -1);
    if (i < 0)
        return;
    h2o_iovec_t *v = &req->res.headers.entries[i].value;
    if (v->len < 2 || v->base[0] != '"' || v->base[v->len - 1] != '"')
        return;
    size_t n = strlen(coding), len = v->len + 1 + n;
    char *tagged = h2o_mem_alloc_pool(&req->pool, len);
    memcpy(tagged, v->base, v->len - 1);
    tagged[v->len - 1] = '-';
    memcpy(tagged + v->len, coding, n);
    tagged[len - 1] = '"';
    *v = h2o_iovec_init(tagged, len);
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
            respond_etag_of_coding(req, name);
            body = coded;
            len = coded_len;
        }
    }
    req->res.content_length = len;
    h2o_send_inline(req, body, len); /* copies the body; nothing for HEAD */
    free(coded);
}

void
respond_bytes(h2o_req_t *req, int status, const char *content_type, const char *rid, const uint8_t *data, size_t len)
{
    static h2o_generator_t generator = {NULL, NULL}; /* one send, the last */
    respond_common_headers(req, status, rid);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    req->res.content_length = len;
    h2o_start_response(req, &generator);
    if (h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"))) {
        h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
    } else {
        h2o_iovec_t body = h2o_iovec_init(data, len);
        h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    }
}

void
respond_empty(h2o_req_t *req, int status, const char *rid)
{
    respond_common_headers(req, status, rid);
    h2o_send_inline(req, "", 0);
}

void
respond_error(h2o_req_t *req, unsigned shape, const char *rid, int status, const char *code, const char *detail,
              const bson_t *fields)
{
    size_t len;
    char *body = problem_render(shape, status, code, detail, fields, rid, &len);
    /* A 429 or 503 always says when to come back (RFC 9110 §10.2.3, RFC
     * 6585 §4): one second unless whoever refused said otherwise. */
    if ((status == 429 || status == 503) && h2o_find_header(&req->res.headers, H2O_TOKEN_RETRY_AFTER, -1) < 0)
        respond_header(req, H2O_TOKEN_RETRY_AFTER, H2O_STRLIT("1"));
    if (shape & ROUTE_ODATA)
        respond_odata_version(req);
    respond_body(req, status, problem_content_type(shape), rid, body, len);
    bson_free(body);
}
