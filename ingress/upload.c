/* A photo upload in pieces (upload.h). */
#include "upload.h"
#include "call.h"
#include "config.h"
#include "http.h"
#include "multipart.h"
#include "reply.h"
#include "respond.h"

#include <openssl/evp.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The op each piece goes to: the same service as the route's add. */
static const route_t upload_piece_route = {"POST", "/api/v1/properties/{id}/media", "properties.media.piece",
                                           ROUTE_BODY_NONE, 0};

static const char *const upload_image_types[] = {"image/jpeg", "image/png", "image/webp", NULL};
static const char *const upload_form_types[] = {"multipart/form-data", NULL};

/* One upload under way, in the request's pool. */
typedef struct {
    h2o_req_t *req;
    const route_t *route; /* the add's */
    char rid[ENVELOPE_RID_MAX + 1];
    upload_caller_t caller;
    char addr[ENVELOPE_ADDR_MAX + 1];
    char property[32];
    const uint8_t *bytes; /* the photo's, inside req->entity */
    size_t len, pieces, next;
    char content_type[64];
    char *caption;      /* in the pool, or NULL */
    bool file_backed;   /* the body is in h2o's file buffer: its pages can be let go */
    EVP_MD_CTX *digest; /* SHA-256 of the pieces sent so far: the add carries it */
} upload_t;

/* When the request is freed: its digest goes too. */
static void
upload_on_dispose(void *p)
{
    EVP_MD_CTX_free(*(EVP_MD_CTX **)p);
}

/* Whether [p, p + len) lies in one of h2o's file buffers (main.c names
 * them roost-body.*): a shared file mapping, whose pages hold nothing the
 * file does not. Read from /proc/self/maps, once an upload. */
static bool
upload_in_body_file(const void *p, size_t len)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[512];
    uintptr_t at = (uintptr_t)p;
    bool found = false;
    while (maps != NULL && fgets(line, sizeof(line), maps) != NULL) {
        unsigned long start, end;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 && at >= start && at + len <= end) {
            found = perms[3] == 's' && strstr(line, "/roost-body.") != NULL;
            break;
        }
    }
    if (maps != NULL)
        fclose(maps);
    return found;
}

/* Lets the kernel take back the pages of [p, p + len) of a body file: they
 * stay in the file (the page cache), and a later read brings them back. So
 * the ingress holds a few pieces of an upload in memory, not all of it. */
static void
upload_let_go(const upload_t *up, const uint8_t *p, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1), end = ((uintptr_t)p + len) & ~(page - 1);
    if (up->file_backed && end > start)
        madvise((void *)start, end - start, MADV_DONTNEED);
}

bool
upload_content_type_ok(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return false;
    h2o_iovec_t v = req->headers.entries[i].value;
    return http_media_type_is(v.base, v.len, upload_image_types) ||
           http_media_type_is(v.base, v.len, upload_form_types);
}

static void upload_on_reply(h2o_req_t *req, void *arg, const uint8_t *reply, size_t len);

/* Sends piece `up->next`, or, after the last, the add. */
static void
upload_send(upload_t *up)
{
    bson_t params = BSON_INITIALIZER, body = BSON_INITIALIZER, env;
    BSON_APPEND_UTF8(&params, "id", up->property);
    bool add = up->next == up->pieces;
    if (add) {
        unsigned char hash[EVP_MAX_MD_SIZE];
        unsigned int hash_len = 0;
        char hex[2 * EVP_MAX_MD_SIZE + 1];
        EVP_DigestFinal_ex(up->digest, hash, &hash_len);
        for (unsigned int i = 0; i < hash_len; i++)
            snprintf(hex + 2 * i, 3, "%02x", hash[i]);
        BSON_APPEND_INT64(&body, "pieces", (int64_t)up->pieces);
        BSON_APPEND_UTF8(&body, "content_type", up->content_type);
        /* the worker checks the joined pieces against it, and names the photo by it */
        BSON_APPEND_UTF8(&body, "sha256", hex);
        if (up->caption != NULL)
            BSON_APPEND_UTF8(&body, "caption", up->caption);
    } else {
        size_t at = up->next * CFG_MEDIA_PIECE_BYTES, n = up->len - at;
        if (n > CFG_MEDIA_PIECE_BYTES)
            n = CFG_MEDIA_PIECE_BYTES;
        BSON_APPEND_INT64(&body, "n", (int64_t)up->next);
        BSON_APPEND_BINARY(&body, "data", BSON_SUBTYPE_BINARY, up->bytes + at, (uint32_t)n);
        EVP_DigestUpdate(up->digest, up->bytes + at, n);
        upload_let_go(up, up->bytes + at, n); /* copied into the message */
    }
    envelope_request_parts_t parts = {.op = add ? up->route->op : upload_piece_route.op,
                                      .rid = up->rid,
                                      .auth_sub = up->caller.sub,
                                      .auth_token = up->caller.token,
                                      .client_addr = up->caller.addr,
                                      .params = &params,
                                      .query = NULL,
                                      .body = &body};
    envelope_request_build(&env, &parts);
    if (add) {
        call_send(up->req, up->route, up->rid, &env); /* its reply is the response (reply.c) */
    } else {
        call_then_t then = {upload_on_reply, up};
        call_send_then(up->req, &upload_piece_route, up->rid, &env, &then);
    }
    bson_destroy(&env);
    bson_destroy(&body);
    bson_destroy(&params);
}

/* A piece's reply: the next piece, or the refusal as the response. */
static void
upload_on_reply(h2o_req_t *req, void *arg, const uint8_t *reply, size_t len)
{
    upload_t *up = arg;
    envelope_reply_t r;
    bson_error_t error;
    if (!envelope_reply_parse(reply, len, &r, &error) || r.status != 200) {
        reply_render(req, up->route, up->rid, reply, len); /* in the route's error shape */
        return;
    }
    up->next++;
    upload_send(up);
}

/* A form's caption as a string in the pool, or NULL with a 400 sent when
 * it cannot be one: not UTF-8, a NUL or another control character, or
 * longer than any 500 characters are. The worker checks the rest, as for
 * every caption; refused here, no piece is sent for nothing. */
static char *
upload_caption(h2o_req_t *req, unsigned shape, const char *rid, const char *s, size_t n)
{
    const char *why = NULL;
    if (n > 4 * 500)
        why = "is at most 500 characters";
    else if (!bson_utf8_validate(s, n, false))
        why = "must be UTF-8 text";
    for (size_t i = 0; why == NULL && i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            why = "must not hold control characters";
    if (why != NULL) {
        bson_t fields = BSON_INITIALIZER, field;
        BSON_APPEND_DOCUMENT_BEGIN(&fields, "0", &field);
        BSON_APPEND_UTF8(&field, "field", "caption");
        BSON_APPEND_UTF8(&field, "message", why);
        bson_append_document_end(&fields, &field);
        respond_error(req, shape, rid, 400, "validation_failed", "the request has invalid fields", &fields);
        bson_destroy(&fields);
        return NULL;
    }
    char *c = h2o_mem_alloc_pool(&req->pool, n + 1);
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

void
upload_start(h2o_req_t *req, const route_match_t *m, const char *rid, const upload_caller_t *caller, int64_t max_bytes)
{
    unsigned shape = route_error_shape(m->route->flags);
    upload_t *up = h2o_mem_alloc_pool(&req->pool, sizeof(*up));
    memset(up, 0, sizeof(*up));
    up->req = req;
    up->route = m->route;
    bson_strncpy(up->rid, rid, sizeof(up->rid));
    up->caller = *caller;
    if (caller->addr != NULL) {
        bson_strncpy(up->addr, caller->addr, sizeof(up->addr));
        up->caller.addr = up->addr;
    }
    for (size_t i = 0; i < m->nparams; i++)
        if (m->params[i].name_len == 2 && memcmp(m->params[i].name, "id", 2) == 0)
            snprintf(up->property, sizeof(up->property), "%.*s",
                     (int)(m->params[i].value_len < 31 ? m->params[i].value_len : 31), m->params[i].value);
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    h2o_iovec_t type = req->headers.entries[i].value; /* request.c checked it is there */
    const char *body = req->entity.base != NULL ? req->entity.base : "";
    const char *declared = type.base;
    size_t declared_len = type.len;
    if (http_media_type_is(type.base, type.len, upload_form_types)) {
        multipart_photo_t form;
        const char *why;
        if (!multipart_photo(type.base, type.len, body, req->entity.len, &form, &why)) {
            respond_error(req, shape, rid, 400, "malformed_form", why, NULL);
            return;
        }
        if (form.file_type == NULL) {
            respond_error(req, shape, rid, 415, "unsupported_media_type",
                          "the file part needs its Content-Type: image/jpeg, image/png or image/webp", NULL);
            return;
        }
        body = form.file;
        up->len = form.file_len;
        declared = form.file_type;
        declared_len = form.file_type_len;
        if (form.caption != NULL &&
            (up->caption = upload_caption(req, shape, rid, form.caption, form.caption_len)) == NULL)
            return;
    } else {
        up->len = req->entity.len;
    }
    if (!http_media_type_is(declared, declared_len, upload_image_types)) {
        respond_error(req, shape, rid, 415, "unsupported_media_type",
                      "a photo is sent as image/jpeg, image/png or image/webp", NULL);
        return;
    }
    if (up->len == 0) {
        respond_error(req, shape, rid, 400, "empty_body", "the photo has no bytes", NULL);
        return;
    }
    if ((int64_t)up->len > max_bytes) {
        char *detail =
            bson_strdup_printf("a photo may have at most %lld bytes (ROOST_MAX_MEDIA_BYTES)", (long long)max_bytes);
        respond_error(req, shape, rid, 413, "body_too_large", detail, NULL);
        bson_free(detail);
        return;
    }
    /* The media type alone, without parameters, as the worker checks it. */
    size_t n = 0;
    while (n < declared_len && n < sizeof(up->content_type) - 1 && declared[n] != ';' && declared[n] != ' ')
        n++;
    memcpy(up->content_type, declared, n);
    for (size_t k = 0; k < n; k++)
        up->content_type[k] = (char)(up->content_type[k] >= 'A' && up->content_type[k] <= 'Z' ? up->content_type[k] + 32
                                                                                              : up->content_type[k]);
    up->bytes = (const uint8_t *)body;
    up->pieces = (up->len + CFG_MEDIA_PIECE_BYTES - 1) / CFG_MEDIA_PIECE_BYTES;
    EVP_MD_CTX **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), upload_on_dispose);
    *slot = up->digest = EVP_MD_CTX_new();
    if (up->digest == NULL || EVP_DigestInit_ex(up->digest, EVP_sha256(), NULL) != 1) {
        respond_error(req, shape, rid, 503, "overloaded", "out of memory", NULL);
        return;
    }
    if (req->entity.len >= 2 * CFG_MEDIA_PIECE_BYTES &&
        (up->file_backed = upload_in_body_file(req->entity.base, req->entity.len)))
        upload_let_go(up, (const uint8_t *)req->entity.base, req->entity.len);
    upload_send(up);
}
