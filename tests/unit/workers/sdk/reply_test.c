/* Replies a handler makes (workers/sdk/reply.c): the envelope of a
 * success, of an error with its fields, retry advice, and rendering. */
#include "roost_test.h"

#include "sdk/service.h"

static char *
reply_json(svc_call_t *call)
{
    char *s = bson_as_relaxed_extended_json(&call->reply, NULL);
    bson_destroy(&call->reply);
    call->replied = false;
    return s;
}

static void
replies_carry_status_and_body(void **state)
{
    envelope_request_t req = {.rid = "r1", .op = "things.get"};
    svc_call_t call = {.req = &req};
    bson_t *body = roost_test_doc("{\"id\": 7}");
    svc_reply(&call, 200, body);
    assert_true(call.replied);
    ASSERT_STATUS(&call.reply, 200);
    char *got = reply_json(&call);
    assert_non_null(strstr(got, "\"rid\" : \"r1\""));
    assert_non_null(strstr(got, "\"body\" : { \"id\" : 7 }"));
    bson_free(got);
    bson_destroy(body);

    svc_fail(&call, 404, "not_found", "no thing has id %d", 7);
    ASSERT_STATUS(&call.reply, 404);
    got = reply_json(&call);
    assert_non_null(strstr(got, "\"error\" : { \"code\" : \"not_found\", \"message\" : \"no thing has id 7\""));
    bson_free(got);

    field_errors_t e;
    field_errors_init(&e);
    field_errors_add(&e, "name", "is required");
    svc_fail_fields(&call, &e);
    ASSERT_STATUS(&call.reply, 400);
    got = reply_json(&call);
    assert_non_null(strstr(got, "\"code\" : \"validation_failed\""));
    assert_non_null(strstr(got, "\"fields\" : [ { \"field\" : \"name\", \"message\" : \"is required\" } ]"));
    bson_free(got);
    field_errors_destroy(&e);

    svc_fail(&call, 503, "busy", "retry");
    svc_retry_after(&call, 5);
    got = reply_json(&call);
    assert_non_null(strstr(got, "\"retry_after\" : 5"));
    bson_free(got);

    bson_error_t down;
    bson_set_error(&down, MONGOC_ERROR_SERVER_SELECTION, 1, "no server");
    svc_fail_db(&call, &down);
    ASSERT_STATUS(&call.reply, 503);
    bson_destroy(&call.reply);
}

static void
render_fields_names_the_id(void **state)
{
    static const char *const fields[] = {"name", "price", NULL};
    bson_t *doc = roost_test_doc("{\"_id\": 3, \"name\": \"a\", \"secret\": 1, \"price\": 5}"), out;
    svc_render_fields(doc, fields, &out);
    char *got = bson_as_relaxed_extended_json(&out, NULL);
    assert_string_equal(got, "{ \"id\" : 3, \"name\" : \"a\", \"price\" : 5 }");
    bson_free(got);
    bson_destroy(&out);
    bson_destroy(doc);
}

int
main(void)
{
    setenv("ROOST_LOG_LEVEL", "error", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replies_carry_status_and_body),
        cmocka_unit_test(render_fields_names_the_id),
    };
    return cmocka_run_group_tests_name("/sdk/reply", tests, NULL, NULL);
}
