/* URL query strings -> a BSON document of strings. */
#ifndef ROOST_QUERY_H
#define ROOST_QUERY_H

#include <bson/bson.h>
#include <stdbool.h>

/*
 * Parses "a=1&b=x%20y" into {a: "1", b: "x y"} (appended to `out`, which
 * the caller initialised). '+' is a space. Refuses bad percent-escapes,
 * decoded bytes that are not UTF-8 or are NUL, empty names and repeated
 * names — but for the list filters that take several values ("type"), whose
 * repeats are joined into one comma list — with a message in `error` that names the fault ("a malformed
 * percent-escape") for the caller to say where it was: the parser serves
 * query strings and form bodies alike.
 */
bool query_parse(const char *q, size_t len, bson_t *out, bson_error_t *error);

/* Percent-decodes `in` into `out` (at least len+1 bytes); false on a bad escape. */
bool query_decode(const char *in, size_t len, char *out, size_t *out_len);

#endif
