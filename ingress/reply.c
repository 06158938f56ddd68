/* A worker's reply envelope as the HTTP response (reply.h). */
#include "reply.h"
#include "envelope.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "problem.h"
#include "respond.h"

#include <stdio.h>
#include <string.h>

/*
 * Whether the client's copy is current: a GET or HEAD whose If-None-Match
 * matches the resource's ETag (weak comparison, RFC 9110 §13.1.2) is
 * answered 304 Not Modified without a body.
 */
/* Whether a GET's If-None-Match holds `version` ("*" or a tag of it); *tag
 * is then the tag it named, the one the client keeps (its coding's:
 * "3-gzip"). */
static bool
reply_not_modified(h2o_req_t *req, int64_t version, h2o_iovec_t *tag)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (i < 0 || !(h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
                   h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))))
        return false;
    h2o_iovec_t v = req->headers.entries[i].value;
    const char *t = tag->base; /* "*": *tag stays the identity body's */
    size_t n = tag->len;
    if (!http_if_none_match_tag(v.base, v.len, version, &t, &n))
        return false;
    *tag = h2o_iovec_init(t, n);
    return true;
}

/*
 * A bulk create's 207 (RFC 4918 §13 Multi-Status, in JSON): each item's
 * result as its own response would be — {status: 201, location, body} or
 * {status, problem: an RFC 9457 problem document, as respond_error writes}.
 */
static void
reply_bulk(const route_t *route, const char *rid, const bson_t *body, bson_t *out)
{
    bson_iter_t it, items, f;
    bson_t list;
    uint32_t n = 0;
    BSON_APPEND_ARRAY_BEGIN(out, "items", &list);
    if (bson_iter_init_find(&it, body, "items") && bson_iter_recurse(&it, &items)) {
        while (bson_iter_next(&items)) {
            char key[16];
            bson_t item, problem;
            snprintf(key, sizeof(key), "%u", n++);
            BSON_APPEND_DOCUMENT_BEGIN(&list, key, &item);
            int status = 500;
            if (bson_iter_recurse(&items, &f) && bson_iter_find(&f, "status"))
                status = (int)bson_iter_as_int64(&f);
            BSON_APPEND_INT32(&item, "status", status);
            if (bson_iter_recurse(&items, &f) && bson_iter_find(&f, "body") && BSON_ITER_HOLDS_DOCUMENT(&f)) {
                bson_iter_t id;
                if (status == 201 && bson_iter_recurse(&f, &id) && bson_iter_find(&id, "id") &&
                    BSON_ITER_HOLDS_INT(&id)) {
                    char *location = bson_strdup_printf("%s/%lld", route->pattern, (long long)bson_iter_as_int64(&id));
                    BSON_APPEND_UTF8(&item, "location", location);
                    bson_free(location);
                }
                bson_append_iter(&item, "body", -1, &f);
            }
            bson_t err;
            if (bson_iter_recurse(&items, &f) && bson_iter_find(&f, "error") && BSON_ITER_HOLDS_DOCUMENT(&f)) {
                const char *code, *message;
                uint32_t len;
                const uint8_t *data;
                bson_t fields = BSON_INITIALIZER;
                bson_iter_document(&f, &len, &data);
                bson_init_static(&err, data, len);
                envelope_error_read(&err, &code, &message, &fields);
                BSON_APPEND_DOCUMENT_BEGIN(&item, "problem", &problem);
                problem_doc(status, code, message, &fields, rid, &problem);
                bson_append_document_end(&item, &problem);
                bson_destroy(&fields);
            }
            bson_append_document_end(&list, &item);
        }
    }
    bson_append_array_end(out, &list);
}

/* The ETag of a versioned document's 2xx; true when it answered 304 Not
 * Modified instead (a GET whose If-None-Match names the version). */
static bool
reply_etag(h2o_req_t *req, const char *rid, const envelope_reply_t *reply)
{
    bson_iter_t it;
    if (reply->status / 100 != 2 || !bson_iter_init_find(&it, &reply->body, "version") || !BSON_ITER_HOLDS_INT(&it))
        return false;
    char etag[32];
    int64_t version = bson_iter_as_int64(&it);
    int n = snprintf(etag, sizeof(etag), "\"%lld\"", (long long)version);
    h2o_iovec_t kept = h2o_iovec_init(etag, (size_t)n);
    if (reply->status == 200 && reply_not_modified(req, version, &kept)) {
        /* A 304 sends the headers the 200 would (RFC 9110 §15.4.5): the
         * ETag of the coding the client keeps, and the Vary of a body that
         * may be coded. */
        respond_header(req, H2O_TOKEN_ETAG, kept.base, kept.len);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Accept-Encoding"));
        respond_empty(req, 304, rid);
        return true;
    }
    /* respond_body gives a coded body its own tag ("3-gzip"). */
    respond_header(req, H2O_TOKEN_ETAG, etag, (size_t)n);
    return false;
}

void
reply_render(h2o_req_t *req, const route_t *route, const char *rid, const uint8_t *data, size_t len)
{
    unsigned classic = route_error_shape(route->flags);
    envelope_reply_t reply;
    bson_error_t error;
    bson_iter_t it;

    if (!envelope_reply_parse(data, len, &reply, &error)) {
        log_error("rid=%s bad reply from pool: %s", rid, error.message);
        respond_error(req, classic, rid, 502, "bad_reply", "the worker sent a malformed reply", NULL);
        return;
    }
    if (reply.retry_after >= 0) {
        char seconds[24];
        int n = snprintf(seconds, sizeof(seconds), "%lld", (long long)reply.retry_after);
        respond_header(req, H2O_TOKEN_RETRY_AFTER, seconds, (size_t)n);
    }
    if (reply.has_rate_limit)
        respond_rate_limit(req, &reply.rate_limit, 1);
    if (reply.has_error) {
        /* The op needs a user and the request named none (RFC 6750 §3). */
        if (reply.status == 401)
            respond_bearer_challenge(req, strcmp(reply.code, "invalid_token") == 0 ? reply.message : NULL);
        respond_error(req, classic, rid, reply.status, reply.code, reply.message, &reply.fields);
        return;
    }
    if (route->flags & ROUTE_READINESS) {
        static const char ok[] = "{\"status\":\"ready\"}";
        respond_body(req, 200, "application/json", rid, ok, sizeof(ok) - 1);
        return;
    }
    if ((route->flags & ROUTE_ETAG) && reply_etag(req, rid, &reply))
        return;
    size_t path_len = route_path_len(req->path.len, req->query_at);
    if ((route->flags & ROUTE_PAGINATED) && reply.status == 200) {
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
    /* An id is a number, or a photo's hex digits (which need no escaping). */
    if ((route->flags & ROUTE_LOCATION) && reply.status == 201 && bson_iter_init_find(&it, &reply.body, "id") &&
        (BSON_ITER_HOLDS_INT(&it) ||
         (BSON_ITER_HOLDS_UTF8(&it) &&
          strspn(bson_iter_utf8(&it, NULL), "0123456789abcdef") == strlen(bson_iter_utf8(&it, NULL))))) {
        char *location =
            BSON_ITER_HOLDS_INT(&it)
                ? bson_strdup_printf("%.*s/%lld", (int)path_len, req->path.base, (long long)bson_iter_as_int64(&it))
                : bson_strdup_printf("%.*s/%s", (int)path_len, req->path.base, bson_iter_utf8(&it, NULL));
        respond_header(req, H2O_TOKEN_LOCATION, location, strlen(location));
        bson_free(location);
    }
    if (reply.status == 204) {
        respond_empty(req, 204, rid);
        return;
    }
    bson_t bulk = BSON_INITIALIZER;
    const bson_t *shown = &reply.body;
    if ((route->flags & ROUTE_BULK) && reply.status == 207) {
        reply_bulk(route, rid, &reply.body, &bulk);
        shown = &bulk;
    }
    /* The classic contract's success envelope, beside its errors' (problem.c):
     * {"result": true, ...the op's body}. Its ops answer only the body. */
    bool enveloped = route->flags & ROUTE_RESULT;
    bson_t result = BSON_INITIALIZER;
    if (enveloped) {
        BSON_APPEND_BOOL(&result, "result", true);
        bson_concat(&result, shown);
    }
    size_t json_len;
    char *json = json_from_bson(enveloped ? &result : shown, &json_len);
    bson_destroy(&result);
    bson_destroy(&bulk);
    if (json == NULL) {
        log_error("rid=%s the reply holds a string that is not UTF-8", rid);
        respond_error(req, classic, rid, 502, "bad_reply", "the worker's reply is not valid UTF-8", NULL);
        return;
    }
    if (route->flags & ROUTE_ODATA)
        respond_odata_version(req);
    respond_body(req, reply.status, "application/json", rid, json, json_len);
    bson_free(json);
}
