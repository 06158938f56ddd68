/*
 * Encoding and decoding of protocol 1.1 envelopes (and 1.0 requests).
 * Parsing is strict: a field of the wrong type is an error rather than
 * something to ignore, so that a direct nng caller learns of its mistake at
 * once.
 */
#include "envelope.h"
#include "http.h"

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define ENVELOPE_ERROR(error, ...) bson_set_error(error, 1, 400, __VA_ARGS__)

/*
 * Whether a document is well formed all the way down: every element's
 * length in bounds, every key and string UTF-8 without NUL, every nested
 * document and array likewise. bson_validate (libbson 1.23) passes some
 * documents that are not: a corrupt nested document, or a string with a
 * NUL inside, was found by tests/fuzz/envelope_fuzz.c.
 */
static bool
envelope_well_formed(const bson_t *doc, int depth)
{
    bson_iter_t it;
    if (depth > ENVELOPE_MAX_DEPTH || !bson_iter_init(&it, doc))
        return false;
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (!bson_utf8_validate(key, strlen(key), false))
            return false;
        uint32_t len;
        const uint8_t *data;
        bson_t sub;
        switch (bson_iter_type(&it)) {
        case BSON_TYPE_UTF8: {
            const char *s = bson_iter_utf8(&it, &len);
            if (!bson_utf8_validate(s, len, false))
                return false;
            break;
        }
        case BSON_TYPE_DOCUMENT:
        case BSON_TYPE_ARRAY:
            if (BSON_ITER_HOLDS_DOCUMENT(&it))
                bson_iter_document(&it, &len, &data);
            else
                bson_iter_array(&it, &len, &data);
            if (!bson_init_static(&sub, data, len) || !envelope_well_formed(&sub, depth + 1))
                return false;
            break;
        default:
            break;
        }
    }
    return it.err_off == 0; /* set where the walk met a corrupt element */
}

static bool
envelope_view_doc(bson_iter_t *it, bson_t *out, const char *name, bson_error_t *error)
{
    uint32_t len;
    const uint8_t *data;
    if (!BSON_ITER_HOLDS_DOCUMENT(it)) {
        ENVELOPE_ERROR(error, "envelope field '%s' must be a document", name);
        return false;
    }
    bson_iter_document(it, &len, &data);
    if (!bson_init_static(out, data, len)) {
        ENVELOPE_ERROR(error, "envelope field '%s' is corrupt", name);
        return false;
    }
    return true;
}

static bool
envelope_copy_str(bson_iter_t *it, char *out, size_t max, const char *name, bson_error_t *error)
{
    uint32_t len;
    if (!BSON_ITER_HOLDS_UTF8(it)) {
        ENVELOPE_ERROR(error, "envelope field '%s' must be a string", name);
        return false;
    }
    const char *s = bson_iter_utf8(it, &len);
    if (len == 0 || len > max || strlen(s) != len) {
        ENVELOPE_ERROR(error, "envelope field '%s' must have 1 to %zu characters, no NUL", name, max);
        return false;
    }
    memcpy(out, s, len + 1);
    return true;
}

/* expect_version: an array of positive integers (protocol 1.1). */
static bool
envelope_read_expect(bson_iter_t *it, envelope_request_t *out, bson_error_t *error)
{
    bson_iter_t v;
    if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &v)) {
        ENVELOPE_ERROR(error, "envelope field 'expect_version' must be an array of versions");
        return false;
    }
    while (bson_iter_next(&v)) {
        if (!BSON_ITER_HOLDS_INT(&v) || bson_iter_as_int64(&v) <= 0 || out->nexpect == ENVELOPE_EXPECT_MAX) {
            ENVELOPE_ERROR(error, "envelope field 'expect_version' must hold at most %d positive integers",
                           ENVELOPE_EXPECT_MAX);
            return false;
        }
        out->expect[out->nexpect++] = bson_iter_as_int64(&v);
    }
    out->has_expect = true;
    return true;
}

/* if_match: protocol 1.0's precondition, the HTTP If-Match value itself. */
static bool
envelope_read_if_match(bson_iter_t *it, envelope_request_t *out, bson_error_t *error)
{
    char value[ENVELOPE_IF_MATCH_MAX + 1];
    bool any;
    if (!envelope_copy_str(it, value, ENVELOPE_IF_MATCH_MAX, "if_match", error))
        return false;
    if (!http_if_match_versions(value, strlen(value), out->expect, ENVELOPE_EXPECT_MAX, &out->nexpect, &any)) {
        ENVELOPE_ERROR(error, "if_match must be \"*\" or a list of entity tags such as \"3\" (RFC 9110 section "
                              "13.1.1)");
        return false;
    }
    out->has_expect = !any; /* "*": any current version, which every op already requires */
    return true;
}

bool
envelope_request_parse(const uint8_t *data, size_t len, envelope_request_t *out, bson_error_t *error)
{
    bson_t doc;
    bson_iter_t it;
    bool has_v = false, seen_expect = false;

    memset(out, 0, sizeof(*out));
    bson_init(&out->params);
    bson_init(&out->query);
    bson_init(&out->body);
    if (!bson_init_static(&doc, data, len) || !bson_validate(&doc, BSON_VALIDATE_UTF8, NULL) ||
        !envelope_well_formed(&doc, 0)) {
        ENVELOPE_ERROR(error, "request is not a valid BSON document");
        return false;
    }
    bson_iter_init(&it, &doc);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (strcmp(key, "v") == 0) {
            if (!BSON_ITER_HOLDS_INT(&it) || bson_iter_as_int64(&it) != 1) {
                ENVELOPE_ERROR(error, "unsupported protocol version (this worker speaks v: 1)");
                return false;
            }
            has_v = true;
        } else if (strcmp(key, "op") == 0) {
            if (!envelope_copy_str(&it, out->op, ENVELOPE_OP_MAX, "op", error))
                return false;
        } else if (strcmp(key, "rid") == 0) {
            if (!envelope_copy_str(&it, out->rid, ENVELOPE_RID_MAX, "rid", error))
                return false;
        } else if (strcmp(key, "auth") == 0) {
            bson_t auth;
            bson_iter_t a;
            if (!envelope_view_doc(&it, &auth, "auth", error))
                return false;
            if (bson_iter_init_find(&a, &auth, "sub")) {
                if (!BSON_ITER_HOLDS_INT(&a) || bson_iter_as_int64(&a) <= 0) {
                    ENVELOPE_ERROR(error, "auth.sub must be a positive integer user id");
                    return false;
                }
                out->auth_sub = bson_iter_as_int64(&a);
            }
            if (bson_iter_init_find(&a, &auth, "token")) {
                uint32_t tlen;
                if (!BSON_ITER_HOLDS_UTF8(&a) || (out->auth_token = bson_iter_utf8(&a, &tlen), tlen == 0) ||
                    tlen > ENVELOPE_TOKEN_MAX || strlen(out->auth_token) != tlen) {
                    ENVELOPE_ERROR(error, "auth.token must be a bearer token of 1 to %d characters",
                                   ENVELOPE_TOKEN_MAX);
                    return false;
                }
            }
        } else if (strcmp(key, "client") == 0) {
            bson_t client;
            bson_iter_t c;
            if (!envelope_view_doc(&it, &client, "client", error))
                return false;
            if (bson_iter_init_find(&c, &client, "addr") &&
                !envelope_copy_str(&c, out->client_addr, ENVELOPE_ADDR_MAX, "client.addr", error))
                return false;
        } else if (strcmp(key, "minor") == 0) {
            if (!BSON_ITER_HOLDS_INT(&it) || bson_iter_as_int64(&it) < 0 || bson_iter_as_int64(&it) > ENVELOPE_MINOR) {
                ENVELOPE_ERROR(error, "unsupported protocol version (this worker speaks 1.0 to 1.%d)", ENVELOPE_MINOR);
                return false;
            }
        } else if (strcmp(key, "expect_version") == 0 || strcmp(key, "if_match") == 0) {
            if (seen_expect) {
                ENVELOPE_ERROR(error, "a request carries one precondition: expect_version or if_match");
                return false;
            }
            seen_expect = true;
            if (key[0] == 'e' ? !envelope_read_expect(&it, out, error) : !envelope_read_if_match(&it, out, error))
                return false;
        } else if (strcmp(key, "params") == 0) {
            if (!envelope_view_doc(&it, &out->params, "params", error))
                return false;
        } else if (strcmp(key, "query") == 0) {
            if (!envelope_view_doc(&it, &out->query, "query", error))
                return false;
        } else if (strcmp(key, "body") == 0) {
            if (!envelope_view_doc(&it, &out->body, "body", error))
                return false;
        } else {
            ENVELOPE_ERROR(error, "unknown envelope field '%s'", key);
            return false;
        }
    }
    if (!has_v) {
        ENVELOPE_ERROR(error, "envelope field 'v' is required");
        return false;
    }
    if (out->op[0] == '\0') {
        ENVELOPE_ERROR(error, "envelope field 'op' is required");
        return false;
    }
    if (out->rid[0] == '\0')
        envelope_new_rid(out->rid);
    return true;
}

void
envelope_peek_rid(const uint8_t *data, size_t len, char out[ENVELOPE_RID_MAX + 1])
{
    bson_t doc;
    bson_iter_t it;
    out[0] = '\0';
    if (bson_init_static(&doc, data, len) && bson_iter_init_find(&it, &doc, "rid") && BSON_ITER_HOLDS_UTF8(&it))
        bson_strncpy(out, bson_iter_utf8(&it, NULL), ENVELOPE_RID_MAX + 1);
}

void
envelope_request_build(bson_t *out, const envelope_request_parts_t *p)
{
    bson_init(out);
    BSON_APPEND_INT32(out, "v", 1);
    BSON_APPEND_INT32(out, "minor", ENVELOPE_MINOR);
    BSON_APPEND_UTF8(out, "op", p->op);
    BSON_APPEND_UTF8(out, "rid", p->rid);
    if (p->auth_sub > 0 || p->auth_token != NULL) {
        bson_t auth;
        BSON_APPEND_DOCUMENT_BEGIN(out, "auth", &auth);
        if (p->auth_sub > 0)
            BSON_APPEND_INT64(&auth, "sub", p->auth_sub);
        if (p->auth_token != NULL)
            BSON_APPEND_UTF8(&auth, "token", p->auth_token);
        bson_append_document_end(out, &auth);
    }
    if (p->client_addr != NULL) {
        bson_t client;
        BSON_APPEND_DOCUMENT_BEGIN(out, "client", &client);
        BSON_APPEND_UTF8(&client, "addr", p->client_addr);
        bson_append_document_end(out, &client);
    }
    if (p->if_match != NULL)
        BSON_APPEND_UTF8(out, "if_match", p->if_match);
    if (p->has_expect) {
        bson_t list;
        char key[24];
        BSON_APPEND_ARRAY_BEGIN(out, "expect_version", &list);
        for (size_t i = 0; i < p->nexpect; i++) {
            snprintf(key, sizeof(key), "%zu", i);
            BSON_APPEND_INT64(&list, key, p->expect[i]);
        }
        bson_append_array_end(out, &list);
    }
    if (p->params != NULL)
        BSON_APPEND_DOCUMENT(out, "params", p->params);
    if (p->query != NULL)
        BSON_APPEND_DOCUMENT(out, "query", p->query);
    if (p->body != NULL)
        BSON_APPEND_DOCUMENT(out, "body", p->body);
}

void
envelope_new_rid(char out[33])
{
    /* A request id per request, often: random bytes are read from the
     * kernel a few hundred at a time per thread, not with a system call
     * (or four) per id, and written out in hex by hand. */
    static __thread uint8_t pool[512];
    static __thread size_t used = sizeof(pool);
    static const char hex[] = "0123456789abcdef";
    if (used + 16 > sizeof(pool)) {
        if (getrandom(pool, sizeof(pool), 0) != (ssize_t)sizeof(pool))
            for (size_t i = 0; i < sizeof(pool); i += 4) { /* no getrandom: nng's generator */
                uint32_t r = nng_random();
                memcpy(pool + i, &r, 4);
            }
        used = 0;
    }
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[pool[used + i] >> 4];
        out[2 * i + 1] = hex[pool[used + i] & 15];
    }
    out[32] = '\0';
    used += 16;
}

void
envelope_reply_ok(bson_t *out, const char *rid, int status, const bson_t *body)
{
    bson_init(out);
    BSON_APPEND_INT32(out, "v", 1);
    BSON_APPEND_UTF8(out, "rid", rid);
    BSON_APPEND_INT32(out, "status", status);
    if (body != NULL)
        BSON_APPEND_DOCUMENT(out, "body", body);
}

void
envelope_reply_error(bson_t *out, const char *rid, int status, const char *code, const char *message,
                     const bson_t *fields)
{
    bson_t err;
    bson_init(out);
    BSON_APPEND_INT32(out, "v", 1);
    BSON_APPEND_UTF8(out, "rid", rid);
    BSON_APPEND_INT32(out, "status", status);
    BSON_APPEND_DOCUMENT_BEGIN(out, "error", &err);
    BSON_APPEND_UTF8(&err, "code", code);
    BSON_APPEND_UTF8(&err, "message", message);
    if (fields != NULL && !bson_empty(fields))
        BSON_APPEND_ARRAY(&err, "fields", fields);
    bson_append_document_end(out, &err);
}

void
envelope_reply_add_retry_after(bson_t *reply, int64_t seconds)
{
    BSON_APPEND_INT64(reply, "retry_after", seconds);
}

void
envelope_reply_add_rate_limit(bson_t *reply, const envelope_rate_limit_t *limit)
{
    bson_t rl;
    BSON_APPEND_DOCUMENT_BEGIN(reply, "rate_limit", &rl);
    BSON_APPEND_UTF8(&rl, "policy", limit->policy);
    BSON_APPEND_INT64(&rl, "quota", limit->quota);
    BSON_APPEND_INT64(&rl, "window", limit->window);
    BSON_APPEND_INT64(&rl, "remaining", limit->remaining);
    BSON_APPEND_INT64(&rl, "reset", limit->reset);
    bson_append_document_end(reply, &rl);
}

/* rate_limit: read leniently, as a hint; a part missing or mistyped drops it. */
static void
envelope_read_rate_limit(const bson_t *doc, envelope_reply_t *out)
{
    bson_iter_t it, r;
    bson_t rl;
    uint32_t len;
    const uint8_t *data;
    if (!bson_iter_init_find(&it, doc, "rate_limit") || !BSON_ITER_HOLDS_DOCUMENT(&it))
        return;
    bson_iter_document(&it, &len, &data);
    if (!bson_init_static(&rl, data, len))
        return;
    static const char *const names[] = {"quota", "window", "remaining", "reset"};
    int64_t *values[] = {&out->rate_limit.quota, &out->rate_limit.window, &out->rate_limit.remaining,
                         &out->rate_limit.reset};
    if (!bson_iter_init_find(&r, &rl, "policy") || !BSON_ITER_HOLDS_UTF8(&r))
        return;
    out->rate_limit.policy = bson_iter_utf8(&r, NULL);
    for (size_t i = 0; i < 4; i++) {
        if (!bson_iter_init_find(&r, &rl, names[i]) || !BSON_ITER_HOLDS_INT(&r) || bson_iter_as_int64(&r) < 0)
            return;
        *values[i] = bson_iter_as_int64(&r);
    }
    out->has_rate_limit = true;
}

bool
envelope_reply_parse(const uint8_t *data, size_t len, envelope_reply_t *out, bson_error_t *error)
{
    bson_t doc, err;
    bson_iter_t it;

    memset(out, 0, sizeof(*out));
    out->retry_after = -1;
    bson_init(&out->body);
    bson_init(&out->fields);
    /* envelope_well_formed checks all that bson_validate would (and more):
     * once over a reply, which the ingress reads for every request. */
    if (!bson_init_static(&doc, data, len) || !envelope_well_formed(&doc, 0)) {
        ENVELOPE_ERROR(error, "reply is not a valid BSON document");
        return false;
    }
    if (!bson_iter_init_find(&it, &doc, "status") || !BSON_ITER_HOLDS_INT(&it)) {
        ENVELOPE_ERROR(error, "reply has no integer status");
        return false;
    }
    out->status = (int)bson_iter_as_int64(&it);
    if (out->status < 100 || out->status > 599) {
        ENVELOPE_ERROR(error, "reply status %d is not an HTTP status", out->status);
        return false;
    }
    if (bson_iter_init_find(&it, &doc, "rid") && BSON_ITER_HOLDS_UTF8(&it))
        bson_strncpy(out->rid, bson_iter_utf8(&it, NULL), sizeof(out->rid));
    if (bson_iter_init_find(&it, &doc, "body") && !envelope_view_doc(&it, &out->body, "body", error))
        return false;
    if (bson_iter_init_find(&it, &doc, "retry_after") && BSON_ITER_HOLDS_INT(&it) && bson_iter_as_int64(&it) >= 0)
        out->retry_after = bson_iter_as_int64(&it);
    envelope_read_rate_limit(&doc, out);
    if (bson_iter_init_find(&it, &doc, "error")) {
        if (!envelope_view_doc(&it, &err, "error", error))
            return false;
        out->has_error = true;
        envelope_error_read(&err, &out->code, &out->message, &out->fields);
    }
    return true;
}

void
envelope_error_read(const bson_t *err, const char **code, const char **message, bson_t *fields)
{
    bson_iter_t e;
    *code = "internal";
    *message = "";
    if (bson_iter_init_find(&e, err, "code") && BSON_ITER_HOLDS_UTF8(&e))
        *code = bson_iter_utf8(&e, NULL);
    if (bson_iter_init_find(&e, err, "message") && BSON_ITER_HOLDS_UTF8(&e))
        *message = bson_iter_utf8(&e, NULL);
    if (bson_iter_init_find(&e, err, "fields") && BSON_ITER_HOLDS_ARRAY(&e)) {
        uint32_t flen;
        const uint8_t *fdata;
        bson_iter_array(&e, &flen, &fdata);
        bson_init_static(fields, fdata, flen);
    }
}
