/*
 * JSON <-> BSON at the edges of Roost. libbson parses JSON; this module
 * adds the checks an HTTP edge needs before trusting a body, and renders
 * replies as compact JSON (RFC 8259) with every double in the shortest
 * form that reads back to the same value.
 */
#ifndef ROOST_JSON_H
#define ROOST_JSON_H

#include <bson/bson.h>
#include <stdbool.h>

/*
 * Parses a JSON object into `out` (uninitialised on entry; initialised on
 * success only). Refuses bytes that are not UTF-8, a NUL byte, a top level
 * that is not an object, and nesting deeper than JSON_MAX_DEPTH. On failure
 * `error->message` says precisely why, for a 400 reply.
 *
 * libbson reads MongoDB extended JSON: {"$date": ...} becomes a date,
 * {"$numberDouble": "NaN"} a NaN. An HTTP body is plain JSON, so the
 * ingress refuses such values by their path (doc_check, DOC_JSON_VALUES).
 */
#define JSON_MAX_DEPTH 32
bool json_to_bson(const char *data, size_t len, bson_t *out, bson_error_t *error);

/*
 * Renders `doc` as compact JSON: {"id":1,"name":"x"}, no spaces; integers
 * as integers, doubles in the shortest form that round-trips (4.3, 0.1,
 * 1e+21), strings with only the escapes JSON needs. A double that is not
 * finite renders as null (JSON has no NaN). Values that plain JSON cannot
 * express (ObjectId, dates, ...) render as libbson's relaxed extended
 * JSON. Returns NULL when a string is not valid UTF-8, so that no reply is
 * ever invalid UTF-8. The caller frees the result with bson_free; `len`
 * (may be NULL) receives its length.
 */
char *json_from_bson(const bson_t *doc, size_t *len);

/* Writes the shortest decimal form of the finite double `d` that strtod
 * reads back as `d` (at most 24 bytes and a NUL) to `out`. */
void json_double(double d, char out[32]);

#endif
