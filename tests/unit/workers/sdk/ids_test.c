/* The key that tells a repeated request (workers/sdk/ids.c): the same for
 * the same op, caller, params and body, different when any differs. */
#include "roost_test.h"

#include "sdk/service.h"

#include <sodium.h>

static void
fingerprint_of(const char *op, int64_t sub, const char *params, const char *body, char out[33])
{
    envelope_request_t req = {.auth_sub = sub};
    snprintf(req.op, sizeof(req.op), "%s", op);
    bson_t *p = roost_test_doc(params), *b = roost_test_doc(body);
    bson_copy_to(p, &req.params);
    bson_copy_to(b, &req.body);
    svc_call_t call = {.req = &req};
    svc_request_fingerprint(&call, out);
    bson_destroy(&req.params);
    bson_destroy(&req.body);
    bson_destroy(p);
    bson_destroy(b);
}

static void
fingerprints_tell_requests_apart(void **state)
{
    char a[33], b[33];
    fingerprint_of("things.update", 3, "{\"id\": \"7\"}", "{\"name\": \"x\"}", a);
    assert_int_equal(strlen(a), 32);
    fingerprint_of("things.update", 3, "{\"id\": \"7\"}", "{\"name\": \"x\"}", b);
    assert_string_equal(a, b);
    fingerprint_of("things.update", 4, "{\"id\": \"7\"}", "{\"name\": \"x\"}", b);
    assert_string_not_equal(a, b);
    fingerprint_of("things.delete", 3, "{\"id\": \"7\"}", "{\"name\": \"x\"}", b);
    assert_string_not_equal(a, b);
    fingerprint_of("things.update", 3, "{\"id\": \"8\"}", "{\"name\": \"x\"}", b);
    assert_string_not_equal(a, b);
    fingerprint_of("things.update", 3, "{\"id\": \"7\"}", "{\"name\": \"y\"}", b);
    assert_string_not_equal(a, b);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fingerprints_tell_requests_apart),
    };
    return cmocka_run_group_tests_name("/sdk/ids", tests, NULL, NULL);
}
