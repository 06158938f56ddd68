/*
 * JSON <-> BSON at the edges of Roost. libbson does the parsing; this
 * module adds the checks an HTTP edge needs before trusting a body.
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
 */
#define JSON_MAX_DEPTH 32
bool json_to_bson(const char *data, size_t len, bson_t *out, bson_error_t *error);

/* Renders `doc` as relaxed extended JSON (plain numbers for int64). The
 * caller frees the result with bson_free. */
char *json_from_bson(const bson_t *doc, size_t *len);

#endif
