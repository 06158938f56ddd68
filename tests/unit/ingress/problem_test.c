/* The error bodies of each route shape (ingress/problem.c). */
#include "roost_test.h"

#include "problem.h"
#include "routes.h"

#include <stdlib.h>

static void
problem_body_has_every_member(void **state)
{
    bson_t *fields = roost_test_doc("{\"0\": {\"field\": \"name\", \"message\": \"is required\"}}");
    size_t len;
    char *body = problem_body(400, "validation_failed", "the request has invalid fields", fields, "r1", &len);
    assert_string_equal(body, "{\"type\":\"urn:roost:problem:validation_failed\",\"title\":\"Bad Request\","
                              "\"status\":400,\"detail\":\"the request has invalid fields\","
                              "\"code\":\"validation_failed\",\"errors\":[{\"field\":\"name\","
                              "\"message\":\"is required\"}],\"request_id\":\"r1\"}");
    bson_free(body);
    body = problem_classic_body("user not found", NULL, &len);
    assert_string_equal(body, "{\"result\":false,\"errors\":[\"user not found\"]}");
    bson_free(body);
    body = problem_classic_body("ignored", fields, &len);
    assert_string_equal(body, "{\"result\":false,\"errors\":[\"is required\"]}");
    bson_free(body);
    bson_destroy(fields);
}

/* The OData JSON format's error object: one detail per field, the request id inside. */
static void
odata_error_names_each_field(void **state)
{
    bson_t *fields = roost_test_doc("{\"0\": {\"field\": \"$filter\", \"message\": \"at character 3: x\"}}");
    size_t len;
    char *body = problem_odata_body("validation_failed", "the request has invalid fields", fields, "r2", &len);
    assert_string_equal(body, "{\"error\":{\"code\":\"validation_failed\",\"message\":\"the request has invalid "
                              "fields\",\"details\":[{\"code\":\"validation_failed\",\"target\":\"$filter\","
                              "\"message\":\"at character 3: x\"}],\"innererror\":{\"request_id\":\"r2\"}}}");
    bson_free(body);
    bson_destroy(fields);
}

/* problem_render picks the body and type by the route's shape, and never
 * answers invalid UTF-8: a bad message gets U+FFFD. */
static void
render_follows_the_shape(void **state)
{
    size_t len;
    char *body = problem_render(0, 404, "not_found", "no such route", NULL, "r3", &len);
    assert_non_null(strstr(body, "\"type\":\"urn:roost:problem:not_found\""));
    bson_free(body);
    body = problem_render(ROUTE_CLASSIC, 404, "not_found", "user not found", NULL, "r3", &len);
    assert_string_equal(body, "{\"result\":false,\"errors\":[\"user not found\"]}");
    bson_free(body);
    body = problem_render(ROUTE_ODATA, 404, "not_found", "no such entity", NULL, "r3", &len);
    assert_non_null(strstr(body, "{\"error\":{\"code\":\"not_found\""));
    bson_free(body);
    body = problem_render(0, 400, "bad", "caf\xe9", NULL, "r3", &len);
    assert_non_null(strstr(body, "caf\xef\xbf\xbd"));
    bson_free(body);
    assert_string_equal(problem_content_type(0), "application/problem+json");
    assert_string_equal(problem_content_type(ROUTE_CLASSIC), "application/json");
    assert_string_equal(problem_content_type(ROUTE_ODATA), "application/json");
    assert_string_equal(problem_reason(413), "Content Too Large");
    assert_string_equal(problem_reason(499), "Bad Request");
}

/* The 413's message states the limit in force (ROOST_MAX_BODY_BYTES). */
static void
body_too_large_states_the_limit(void **state)
{
    unsetenv("ROOST_MAX_BODY_BYTES");
    char *detail = problem_body_too_large();
    assert_string_equal(detail, "the body is larger than 1048576 bytes");
    bson_free(detail);
    setenv("ROOST_MAX_BODY_BYTES", "2048", 1);
    detail = problem_body_too_large();
    assert_string_equal(detail, "the body is larger than 2048 bytes");
    bson_free(detail);
    unsetenv("ROOST_MAX_BODY_BYTES");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(problem_body_has_every_member),
        cmocka_unit_test(odata_error_names_each_field),
        cmocka_unit_test(render_follows_the_shape),
        cmocka_unit_test(body_too_large_states_the_limit),
    };
    return cmocka_run_group_tests_name("/ingress/problem", tests, NULL, NULL);
}
