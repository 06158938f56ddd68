/*
 * roostctl call OP [JSON]: one protocol 1.1 request to the pool of OP's
 * service (ROOST_POOL_URL_<SERVICE>, else ROOST_POOL_URL), through
 * libroost as any internal service would, and the reply printed.
 * JSON may hold "params", "query", "body", "auth" ({"sub": id}),
 * "expect_version" (the versions a change may apply to) or protocol 1.0's
 * "if_match" (an entity tag string); an internal caller is trusted to set
 * auth itself.
 */
#include "call.h"
#include "config.h"
#include "json.h"
#include "pools.h"
#include "roost/roost.h"

#include <stdio.h>
#include <string.h>

int
roostctl_call(const char *op, const char *json)
{
    static const char *const allowed[] = {"params", "query", "body", "auth", "if_match", "expect_version", NULL};
    bson_t request = BSON_INITIALIZER, reply;
    bson_error_t error;
    bson_iter_t it;
    int status = 2;

    if (json != NULL) {
        bson_destroy(&request);
        if (!json_to_bson(json, strlen(json), &request, &error)) {
            fprintf(stderr, "roostctl: %s\n", error.message);
            return 2;
        }
        bson_iter_init(&it, &request);
        while (bson_iter_next(&it)) {
            bool known = false;
            for (const char *const *a = allowed; *a; a++)
                known = known || strcmp(*a, bson_iter_key(&it)) == 0;
            bool is_if_match = strcmp(bson_iter_key(&it), "if_match") == 0;
            bool is_expect = strcmp(bson_iter_key(&it), "expect_version") == 0;
            if (!known || (is_if_match ? !BSON_ITER_HOLDS_UTF8(&it)
                           : is_expect ? !BSON_ITER_HOLDS_ARRAY(&it)
                                       : !BSON_ITER_HOLDS_DOCUMENT(&it))) {
                fprintf(stderr,
                        "roostctl: '%s' is not one of params, query, body, auth (each an object), expect_version (an "
                        "array) or if_match (a string)\n",
                        bson_iter_key(&it));
                bson_destroy(&request);
                return 2;
            }
        }
    }
    int timeout = cfg_request_timeout_ms();
    char service[32];
    pools_service_of(op, service, sizeof(service));
    roost_client_t *client = roost_client_open(pools_url(service), timeout, &error);
    if (client == NULL) {
        fprintf(stderr, "roostctl: %s\n", error.message);
        goto done;
    }
    if (!roost_client_call(client, op, &request, &reply, &error)) {
        fprintf(stderr, "roostctl: %s\n", error.message);
        goto done;
    }
    char *out = json_from_bson(&reply, NULL);
    printf("%s\n", out);
    bson_free(out);
    status = bson_iter_init_find(&it, &reply, "status") && bson_iter_as_int64(&it) / 100 == 2 ? 0 : 1;
    bson_destroy(&reply);
done:
    roost_client_close(client);
    bson_destroy(&request);
    return status;
}
