/*
 * Checks on whole BSON documents from outside: the same walk serves the
 * HTTP edge (JSON bodies) and the workers (every request envelope, whoever
 * sent it). Each finding names the offending value by its path, written as
 * clients write it: `rooms[0].characteristics.floor`.
 */
#ifndef ROOST_DOC_H
#define ROOST_DOC_H

#include <bson/bson.h>
#include <stdbool.h>

/* What doc_check looks for. */
#define DOC_UNIQUE_KEYS 0x1 /* a key repeated within one object, at any depth */
#define DOC_JSON_VALUES 0x2 /* a value plain JSON cannot express, or a double that is not finite */

/*
 * Walks `doc` depth first and stops at the first offence against `checks`.
 * Returns true when there is none. Otherwise returns false and sets *path
 * to the offending value's path (a string to free() with free(); "" names
 * the document itself) and *what to a static phrase such as "appears more
 * than once". `prefix` (may be NULL) is prepended to paths.
 */
bool doc_check(const bson_t *doc, unsigned checks, const char *prefix, char **path, const char **what);

#endif
