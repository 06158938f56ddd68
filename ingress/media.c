/* A photo's bytes for GET /media/{id} (media.h). */
#include "media.h"
#include "call.h"
#include "clock.h"
#include "config.h"
#include "envelope.h"
#include "http.h"
#include "media_cache.h"
#include "reply.h"
#include "respond.h"

#include <stdio.h>
#include <string.h>

#define MEDIA_ID_LEN 24
#define MEDIA_IMMUTABLE "public, max-age=31536000, immutable"

/* One read under way, in the request's pool. */
typedef struct {
    h2o_req_t *req;
    const route_t *route;
    char rid[ENVELOPE_RID_MAX + 1];
    char id[MEDIA_ID_LEN + 1];
    char w[8];          /* "" for the original */
    const char *as;     /* "jpeg" or "webp", with w */
    media_blob_t *blob; /* being filled; the request's reference */
    size_t got;
} media_read_t;

/* A blob's reference, dropped when its request is freed. */
static void
media_on_dispose(void *p)
{
    media_blob_release(*(media_blob_t **)p);
}

static void
media_hold(h2o_req_t *req, media_blob_t *b)
{
    media_blob_t **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), media_on_dispose);
    *slot = b;
}

/* The cache key of what `st` reads. */
static void
media_key(const media_read_t *st, char key[MEDIA_CACHE_KEY_MAX])
{
    if (st->w[0] != '\0')
        snprintf(key, MEDIA_CACHE_KEY_MAX, "%s-w%s.%s", st->id, st->w, st->as);
    else
        snprintf(key, MEDIA_CACHE_KEY_MAX, "%s", st->id);
}

/* The response from a whole blob, which the request holds: 304, 206, 416 or 200. */
static void
media_serve(h2o_req_t *req, const route_t *route, const char *rid, media_blob_t *b, bool varies)
{
    respond_header(req, H2O_TOKEN_ETAG, b->etag, strlen(b->etag));
    respond_header(req, H2O_TOKEN_CACHE_CONTROL, H2O_STRLIT(MEDIA_IMMUTABLE));
    respond_header(req, H2O_TOKEN_ACCEPT_RANGES, H2O_STRLIT("bytes"));
    if (varies)
        respond_header(req, H2O_TOKEN_VARY, H2O_STRLIT("Accept"));
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (i >= 0 &&
        http_none_match_lists(req->headers.entries[i].value.base, req->headers.entries[i].value.len, b->etag)) {
        respond_empty(req, 304, rid);
        return;
    }
    uint64_t first = 0, last = b->len - 1;
    http_range_t range = HTTP_RANGE_NONE;
    ssize_t r = h2o_find_header(&req->headers, H2O_TOKEN_RANGE, -1);
    ssize_t ir = h2o_find_header(&req->headers, H2O_TOKEN_IF_RANGE, -1);
    /* If-Range with another tag (or a date, which a photo has no use
     * for): the whole photo, as RFC 9110 §13.1.5 says. */
    bool if_range_holds = ir < 0 || h2o_memis(req->headers.entries[ir].value.base, req->headers.entries[ir].value.len,
                                              b->etag, strlen(b->etag));
    if (r >= 0 && if_range_holds)
        range =
            http_range(req->headers.entries[r].value.base, req->headers.entries[r].value.len, b->len, &first, &last);
    char content_range[64];
    if (range == HTTP_RANGE_UNSATISFIABLE) {
        int n = snprintf(content_range, sizeof(content_range), "bytes */%zu", b->len);
        respond_header(req, H2O_TOKEN_CONTENT_RANGE, content_range, (size_t)n);
        char *detail =
            bson_strdup_printf("the photo has %zu bytes: a range must start before byte %zu", b->len, b->len);
        respond_error(req, route_error_shape(route->flags), rid, 416, "range_not_satisfiable", detail, NULL);
        bson_free(detail);
        return;
    }
    if (range == HTTP_RANGE_OK) {
        int n = snprintf(content_range, sizeof(content_range), "bytes %llu-%llu/%zu", (unsigned long long)first,
                         (unsigned long long)last, b->len);
        respond_header(req, H2O_TOKEN_CONTENT_RANGE, content_range, (size_t)n);
        respond_bytes(req, 206, b->content_type, rid, b->data + first, (size_t)(last - first + 1));
        return;
    }
    respond_bytes(req, 200, b->content_type, rid, b->data, b->len);
}

static void media_on_read(h2o_req_t *req, void *arg, const uint8_t *reply, size_t len);

/* Asks for the bytes from `st->got` on. */
static void
media_send_read(media_read_t *st)
{
    bson_t params = BSON_INITIALIZER, query = BSON_INITIALIZER, env;
    char offset[24];
    BSON_APPEND_UTF8(&params, "mid", st->id);
    if (st->w[0] != '\0') {
        BSON_APPEND_UTF8(&query, "w", st->w);
        BSON_APPEND_UTF8(&query, "as", st->as);
    }
    snprintf(offset, sizeof(offset), "%zu", st->got);
    BSON_APPEND_UTF8(&query, "offset", offset);
    envelope_request_parts_t parts = {.op = st->route->op, .rid = st->rid, .params = &params, .query = &query};
    envelope_request_build(&env, &parts);
    call_then_t then = {media_on_read, st};
    call_send_then(st->req, st->route, st->rid, &env, &then);
    bson_destroy(&env);
    bson_destroy(&query);
    bson_destroy(&params);
}

/* One read's reply: its bytes into the blob, then the next read or the response. */
static void
media_on_read(h2o_req_t *req, void *arg, const uint8_t *reply, size_t len)
{
    media_read_t *st = arg;
    envelope_reply_t r;
    bson_error_t error;
    bson_iter_t it;
    const uint8_t *data = NULL;
    uint32_t n = 0;
    bson_subtype_t subtype;
    int64_t length = -1;
    if (!envelope_reply_parse(reply, len, &r, &error) || r.status != 200) {
        reply_render(req, st->route, st->rid, reply, len); /* the worker's 4xx, or a 502 */
        return;
    }
    if (bson_iter_init_find(&it, &r.body, "length"))
        length = bson_iter_as_int64(&it);
    if (bson_iter_init_find(&it, &r.body, "data") && BSON_ITER_HOLDS_BINARY(&it))
        bson_iter_binary(&it, &subtype, &n, &data);
    if (st->blob == NULL && length > 0) {
        char key[MEDIA_CACHE_KEY_MAX];
        media_key(st, key);
        st->blob = media_blob_new(key, (size_t)length);
        if (st->blob != NULL) {
            media_hold(req, st->blob);
            if (bson_iter_init_find(&it, &r.body, "content_type") && BSON_ITER_HOLDS_UTF8(&it))
                bson_strncpy(st->blob->content_type, bson_iter_utf8(&it, NULL), sizeof(st->blob->content_type));
            if (bson_iter_init_find(&it, &r.body, "property_id"))
                st->blob->property_id = bson_iter_as_int64(&it);
            if (bson_iter_init_find(&it, &r.body, "sha256") && BSON_ITER_HOLDS_UTF8(&it))
                snprintf(st->blob->etag, sizeof(st->blob->etag), "\"%s\"", bson_iter_utf8(&it, NULL));
        }
    }
    if (st->blob == NULL || data == NULL || n == 0 || (int64_t)st->blob->len != length || st->got + n > st->blob->len) {
        respond_error(req, route_error_shape(st->route->flags), st->rid, 502, "bad_gateway",
                      st->blob == NULL && length > 0 ? "out of memory for the photo"
                                                     : "the worker's reads of the photo do not add up",
                      NULL);
        return;
    }
    memcpy(st->blob->data + st->got, data, n);
    st->got += n;
    if (st->got < st->blob->len) {
        media_send_read(st);
        return;
    }
    st->blob->made_ms = clock_monotonic_ms();
    media_cache_put(st->blob);
    media_serve(req, st->route, st->rid, st->blob, st->w[0] != '\0');
}

void
media_answer(h2o_req_t *req, const route_match_t *m, const char *rid, const bson_t *query)
{
    unsigned shape = route_error_shape(m->route->flags);
    bson_iter_t it;
    media_read_t *st = h2o_mem_alloc_pool(&req->pool, sizeof(*st));
    memset(st, 0, sizeof(*st));
    st->req = req;
    st->route = m->route;
    bson_strncpy(st->rid, rid, sizeof(st->rid));
    const char *id = m->params[0].value;
    size_t id_len = m->params[0].value_len;
    bool hex = id_len == MEDIA_ID_LEN;
    for (size_t i = 0; hex && i < id_len; i++) /* the path is not NUL-terminated there */
        hex = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
    if (!hex) {
        respond_error(req, shape, rid, 404, "not_found", "no photo has that id", NULL);
        return;
    }
    memcpy(st->id, id, MEDIA_ID_LEN);
    bson_iter_init(&it, query);
    while (bson_iter_next(&it)) {
        const char *v = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
        bool w = strcmp(bson_iter_key(&it), "w") == 0;
        if (!w || (strcmp(v, "160") != 0 && strcmp(v, "320") != 0 && strcmp(v, "640") != 0 && strcmp(v, "1280") != 0)) {
            bson_t fields = BSON_INITIALIZER, field;
            BSON_APPEND_DOCUMENT_BEGIN(&fields, "0", &field);
            BSON_APPEND_UTF8(&field, "field", bson_iter_key(&it));
            BSON_APPEND_UTF8(&field, "message",
                             w ? "must be one of 160, 320, 640 and 1280"
                               : "is not a parameter "
                                 "of a photo");
            bson_append_document_end(&fields, &field);
            respond_error(req, shape, rid, 400, "validation_failed", "the request has invalid fields", &fields);
            bson_destroy(&fields);
            return;
        }
        bson_strncpy(st->w, v, sizeof(st->w));
    }
    if (st->w[0] != '\0') {
        ssize_t a = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
        st->as = a >= 0 && http_accepts_type(req->headers.entries[a].value.base, req->headers.entries[a].value.len,
                                             "image/webp")
                     ? "webp"
                     : "jpeg";
    }
    char key[MEDIA_CACHE_KEY_MAX];
    media_key(st, key);
    media_blob_t *b = media_cache_get(key);
    if (b != NULL) {
        media_hold(req, b); /* the reference media_cache_get gave */
        media_serve(req, st->route, rid, b, st->w[0] != '\0');
        return;
    }
    media_send_read(st);
}
