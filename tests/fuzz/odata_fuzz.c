/* Fuzz: the OData $filter parser and compiler, and the system query
 * options (workers/query/odata/). The first byte picks what the rest is:
 * a $filter for listings or properties, an $orderby, a $select. Checks,
 * beyond not crashing: a tree prints; a compiled filter uses only the
 * operators the compiler writes, so no client text became an operator;
 * every error, its field and its message, is valid UTF-8 (a message that
 * quotes client text cut inside a character was a 502 at the ingress). */
#include "fuzz.h"
#include "services/listings/listings.h"
#include "query/odata.h"
#include "services/properties/properties.h"

#include <stdio.h>

/* Every string of an error list (fields and messages) is valid UTF-8. */
static void
check_utf8(const bson_t *list)
{
    bson_iter_t it, f;
    if (!bson_iter_init(&it, list))
        abort();
    while (bson_iter_next(&it))
        if (bson_iter_recurse(&it, &f))
            while (bson_iter_next(&f)) {
                uint32_t len;
                const char *s = BSON_ITER_HOLDS_UTF8(&f) ? bson_iter_utf8(&f, &len) : NULL;
                if (s != NULL && !bson_utf8_validate(s, len, false)) {
                    fprintf(stderr, "an error that is not UTF-8: %s\n", s);
                    abort();
                }
            }
}

/* Every key that starts with '$' is one the compiler writes. */
static void
check_operators(const bson_t *doc)
{
    static const char *const allowed[] = {
        "$and",          "$or",       "$nor",  "$eq",     "$ne",      "$gt",   "$gte",
        "$lt",           "$lte",      "$in",   "$regex",  "$options", "$not",  "$geoWithin",
        "$centerSphere", "$geometry", "$text", "$search", "$all",     "$meta", NULL};
    bson_iter_t it, child;
    if (!bson_iter_init(&it, doc))
        abort();
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (key[0] == '$') {
            bool ok = false;
            for (const char *const *a = allowed; *a; a++)
                ok = ok || strcmp(*a, key) == 0;
            if (!ok) {
                fprintf(stderr, "the compiled filter holds the operator %s\n", key);
                abort();
            }
        }
        if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)) {
            uint32_t len;
            const uint8_t *data;
            bson_t sub;
            if (BSON_ITER_HOLDS_DOCUMENT(&it))
                bson_iter_document(&it, &len, &data);
            else
                bson_iter_array(&it, &len, &data);
            if (bson_init_static(&sub, data, len))
                check_operators(&sub);
        }
        (void)child;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    const odata_resource_t *res = data[0] & 1 ? &properties_odata : &listings_odata;
    switch ((data[0] >> 1) % 3) {
    case 0: {
        odata_error_t err;
        odata_node_t *root = odata_parse(text, len, &err);
        if (root == NULL) {
            if (err.message[0] == '\0' || !bson_utf8_validate(err.message, strlen(err.message), false))
                abort(); /* every refusal says why, in UTF-8 */
            return 0;
        }
        char *s = odata_sexpr(root);
        if (s == NULL || s[0] == '\0')
            abort();
        bson_free(s);
        bson_t out = BSON_INITIALIZER;
        if (odata_compile(res, root, &out, &err))
            check_operators(&out);
        else if (err.message[0] == '\0' || !bson_utf8_validate(err.message, strlen(err.message), false))
            abort();
        bson_destroy(&out);
        odata_free(root);
        break;
    }
    default: {
        /* As $orderby or $select (the option's value is a C string, valid UTF-8). */
        char *value = fuzz_cstr((const uint8_t *)text, len);
        if (memchr(text, '\0', len) != NULL || !bson_utf8_validate(text, len, false)) {
            free(value);
            return 0;
        }
        bson_t *query = bson_new();
        BSON_APPEND_UTF8(query, (data[0] >> 1) % 3 == 1 ? "$orderby" : "$select", value);
        field_errors_t errors;
        odata_query_t q;
        field_errors_init(&errors);
        if (odata_query_parse(res, query, NULL, &q, &errors))
            check_operators(&q.sort);
        check_utf8(&errors.list);
        odata_query_destroy(&q);
        field_errors_destroy(&errors);
        bson_destroy(query);
        free(value);
        break;
    }
    }
    return 0;
}
