/* Fuzz: a JSON request body -> BSON (shared/json.c), the checks every body
 * passes (doc.h), and BSON -> JSON back, as the ingress does both ways. */
#include "doc.h"
#include "fuzz.h"
#include "json.h"

#include <stdio.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bson_t doc;
    bson_error_t error;
    if (!json_to_bson((const char *)data, size, &doc, &error))
        return 0;
    char *path = NULL;
    const char *what;
    if (!doc_check(&doc, DOC_JSON_VALUES, NULL, &path, &what))
        free(path);
    path = NULL;
    if (!doc_check(&doc, DOC_UNIQUE_KEYS, "body", &path, &what))
        free(path);
    size_t len;
    char *json = json_from_bson(&doc, &len);
    if (json != NULL) {
        /* What Roost writes, Roost reads back to the same document. */
        bson_t again;
        if (!json_to_bson(json, len, &again, &error)) {
            fprintf(stderr, "Roost cannot read back %s: %s\n", json, error.message);
            abort();
        }
        bson_destroy(&again);
        bson_free(json);
    }
    bson_destroy(&doc);
    return 0;
}
