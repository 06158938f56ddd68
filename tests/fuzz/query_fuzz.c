/* Fuzz: a request target — the path matched against every route (path
 * ids), the query string, and a form body (ingress/query.c, routes.c). The
 * first byte picks the method. */
#include "fuzz.h"
#include "query.h"
#include "routes.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE", "HEAD", "PUT", "OPTIONS", "get"};
    if (size == 0)
        return 0;
    const char *method = methods[data[0] % 8];
    const char *target = (const char *)data + 1;
    size_t len = size - 1;
    const char *q = memchr(target, '?', len);
    size_t path_len = q ? (size_t)(q - target) : len;
    route_match_t m;
    routes_match(method, strlen(method), target, path_len, &m);
    bson_t out;
    bson_error_t error;
    bson_init(&out);
    if (q != NULL)
        query_parse(q + 1, len - path_len - 1, &out, &error);
    bson_destroy(&out);
    bson_init(&out); /* the whole input as an x-www-form-urlencoded body */
    query_parse(target, len, &out, &error);
    bson_destroy(&out);
    char *decoded = malloc(len + 1);
    size_t decoded_len;
    query_decode(target, len, decoded, &decoded_len);
    free(decoded);
    return 0;
}
