/* The depth-first walk behind doc_check (doc.h). */
#include "doc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper than any document Roost stores; stops a hostile nng caller's
 * thousand-level document from exhausting the stack. */
#define DOC_MAX_DEPTH 100

typedef struct {
    unsigned checks;
    bson_string_t *path;
    const char *what;
} doc_walk_t;

static int
doc_key_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends element `key` of a document (or index `key` of an array) to the path. */
static void
doc_path_push(bson_string_t *path, const char *key, bool in_array)
{
    if (in_array)
        bson_string_append_printf(path, "[%s]", key);
    else
        bson_string_append_printf(path, "%s%s", path->len > 0 ? "." : "", key);
}

static void
doc_path_pop(bson_string_t *path, uint32_t len)
{
    path->len = len;
    path->str[len] = '\0';
}

static bool doc_walk(doc_walk_t *w, const bson_t *doc, bool is_array, int depth);

/* The keys of `doc`, sorted, to find a repeat in O(n log n): an object may
 * hold thousands of keys. */
static bool
doc_unique_keys(doc_walk_t *w, const bson_t *doc)
{
    bson_iter_t it;
    size_t n = 0, i = 0;
    bool ok = true;
    if (!bson_iter_init(&it, doc))
        return true;
    while (bson_iter_next(&it))
        n++;
    if (n < 2)
        return true;
    const char **keys = malloc(n * sizeof(*keys));
    if (keys == NULL)
        return true; /* the caller's own checks still run; nothing is accepted silently wrong */
    bson_iter_init(&it, doc);
    while (bson_iter_next(&it))
        keys[i++] = bson_iter_key(&it);
    qsort(keys, n, sizeof(*keys), doc_key_order);
    for (i = 1; i < n && ok; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            doc_path_push(w->path, keys[i], false);
            w->what = "appears more than once";
            ok = false;
        }
    }
    free(keys);
    return ok;
}

static bool
doc_walk(doc_walk_t *w, const bson_t *doc, bool is_array, int depth)
{
    bson_iter_t it;
    if (depth > DOC_MAX_DEPTH) {
        w->what = "nests too deeply";
        return false;
    }
    if (!is_array && (w->checks & DOC_UNIQUE_KEYS) && !doc_unique_keys(w, doc))
        return false;
    if (!bson_iter_init(&it, doc))
        return true;
    while (bson_iter_next(&it)) {
        uint32_t mark = w->path->len;
        doc_path_push(w->path, bson_iter_key(&it), is_array);
        switch (bson_iter_type(&it)) {
        case BSON_TYPE_DOCUMENT:
        case BSON_TYPE_ARRAY: {
            bson_t sub;
            uint32_t len;
            const uint8_t *data;
            if (BSON_ITER_HOLDS_DOCUMENT(&it))
                bson_iter_document(&it, &len, &data);
            else
                bson_iter_array(&it, &len, &data);
            if (bson_init_static(&sub, data, len) && !doc_walk(w, &sub, BSON_ITER_HOLDS_ARRAY(&it), depth + 1))
                return false;
            break;
        }
        case BSON_TYPE_DOUBLE:
            if ((w->checks & DOC_JSON_VALUES) && !isfinite(bson_iter_double(&it))) {
                w->what = "is not a finite number";
                return false;
            }
            break;
        case BSON_TYPE_UTF8:
        case BSON_TYPE_INT32:
        case BSON_TYPE_INT64:
        case BSON_TYPE_BOOL:
        case BSON_TYPE_NULL:
            break;
        default:
            if (w->checks & DOC_JSON_VALUES) {
                w->what = "is MongoDB extended JSON; send a plain JSON value";
                return false;
            }
        }
        doc_path_pop(w->path, mark);
    }
    return true;
}

bool
doc_check(const bson_t *doc, unsigned checks, const char *prefix, char **path, const char **what)
{
    doc_walk_t w = {.checks = checks, .path = bson_string_new(prefix != NULL ? prefix : "")};
    bool ok = doc_walk(&w, doc, false, 0);
    if (!ok) {
        *path = strdup(w.path->str);
        *what = w.what;
    }
    bson_string_free(w.path, true);
    return ok;
}
