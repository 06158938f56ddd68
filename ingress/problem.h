/*
 * The error bodies, one per route shape (routes.h: route_error_shape):
 * RFC 9457 problem+json on /api/v1 and the operational routes, the
 * classic contract's {"result": false, "errors": [...]} on its routes, and
 * the OData JSON format's error object under /reso/odata. Pure: no h2o,
 * unit-tested.
 */
#ifndef ROOST_PROBLEM_H
#define ROOST_PROBLEM_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>

/* The reason phrase of a status (RFC 9110 §15). */
const char *problem_reason(int status);

/*
 * The problem details body (RFC 9457): {type: "urn:roost:problem:<code>",
 * title, status, detail, code, errors?: [{field, message}], request_id}.
 * `fields` may be NULL. Returns compact JSON to bson_free, or NULL when a
 * string is not valid UTF-8.
 */
/* The fields of that problem document, appended to `out` (a 207's items use it). */
void problem_doc(int status, const char *code, const char *detail, const bson_t *fields, const char *rid, bson_t *out);
char *problem_body(int status, const char *code, const char *detail, const bson_t *fields, const char *rid,
                   size_t *len);

/* The classic contract's error body: {"result": false, "errors": [...]},
 * one message per field of `fields`, else `detail`. */
char *problem_classic_body(const char *detail, const bson_t *fields, size_t *len);

/* The OData JSON format's error (OData JSON 4.01 §21.1): {"error": {"code",
 * "message", "details": [{"code", "target", "message"}] (one per field
 * error, the target naming the option or field), "innererror":
 * {"request_id"}}}. Compact JSON to bson_free, or NULL when a string is not
 * valid UTF-8. */
char *problem_odata_body(const char *code, const char *detail, const bson_t *fields, const char *rid, size_t *len);

/* The error body in `shape` (ROUTE_CLASSIC, ROUTE_ODATA or 0). Never NULL:
 * a `detail` that is not valid UTF-8 gets U+FFFD for its bad bytes, and
 * field errors that are not are left out. bson_free it. */
char *problem_render(unsigned shape, int status, const char *code, const char *detail, const bson_t *fields,
                     const char *rid, size_t *len);

/* The Content-Type of an error body in `shape`. */
const char *problem_content_type(unsigned shape);

/* The detail of a 413: "the body is larger than N bytes"
 * (ROOST_MAX_BODY_BYTES). bson_free it. */
char *problem_body_too_large(void);

#endif
