/* The error bodies of every route's shape, pure (problem.h). */
#include "problem.h"
#include "config.h"
#include "json.h"
#include "routes.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>

/* The reason phrase of a status (RFC 9110 §15). */
const char *
problem_reason(int status)
{
    /* One status a line reads as the table it is. */
    /* clang-format off */
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
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
    case 416: return "Range Not Satisfiable";
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
problem_body(int status, const char *code, const char *detail, const bson_t *fields, const char *rid, size_t *len)
{
    bson_t doc = BSON_INITIALIZER;
    problem_doc(status, code, detail, fields, rid, &doc);
    char *json = json_from_bson(&doc, len);
    bson_destroy(&doc);
    return json;
}

void
problem_doc(int status, const char *code, const char *detail, const bson_t *fields, const char *rid, bson_t *out)
{
    char *type = bson_strdup_printf("urn:roost:problem:%s", code);
    BSON_APPEND_UTF8(out, "type", type);
    BSON_APPEND_UTF8(out, "title", problem_reason(status));
    BSON_APPEND_INT32(out, "status", status);
    BSON_APPEND_UTF8(out, "detail", detail);
    BSON_APPEND_UTF8(out, "code", code);
    if (fields != NULL && !bson_empty(fields))
        BSON_APPEND_ARRAY(out, "errors", fields);
    BSON_APPEND_UTF8(out, "request_id", rid);
    bson_free(type);
}

char *
problem_classic_body(const char *detail, const bson_t *fields, size_t *len)
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

char *
problem_odata_body(const char *code, const char *detail, const bson_t *fields, const char *rid, size_t *len)
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

char *
problem_render(unsigned shape, int status, const char *code, const char *detail, const bson_t *fields, const char *rid,
               size_t *len)
{
    bool classic = shape & ROUTE_CLASSIC, odata = shape & ROUTE_ODATA;
    char *body = classic ? problem_classic_body(detail, fields, len)
                 : odata ? problem_odata_body(code, detail, fields, rid, len)
                         : problem_body(status, code, detail, fields, rid, len);
    if (body == NULL) {
        /* No reply is ever invalid UTF-8: a message that is not gets U+FFFD
         * for its bad bytes, and field errors that are not are left out. */
        char *valid = text_valid(detail);
        body = classic ? problem_classic_body(valid, NULL, len)
               : odata ? problem_odata_body(code, valid, NULL, rid, len)
                       : problem_body(status, code, valid, NULL, rid, len);
        free(valid);
    }
    return body;
}

const char *
problem_content_type(unsigned shape)
{
    return route_error_shape(shape) ? "application/json" : "application/problem+json";
}

char *
problem_body_too_large(void)
{
    return bson_strdup_printf("the body is larger than %lld bytes", (long long)cfg_max_body_bytes());
}
