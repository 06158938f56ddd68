/* Replies a handler makes (workers/sdk/reply.c): the envelope of a
 * success, of an error with its fields, retry advice, and rendering. */
#include "roost_test.h"

#include <stdlib.h>

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

/* A page cut to `fit` items restarts at the same item, with a size that
 * divides the items before it: page after page of that size, from there,
 * covers the rest once. */
static void
page_fit_starts_at_the_same_item(void **state)
{
    static const struct {
        int64_t page, per_page, fit, want_page, want_per_page;
    } cases[] = {
        {1, 100, 16, 1, 16}, /* nothing before: any size */
        {2, 10, 3, 6, 2},    /* 10 before: 2 divides it, 3 does not */
        {2, 10, 5, 3, 5},    /* 5 divides 10 */
        {3, 7, 4, 8, 2},     /* 14 before: 2 is the largest <= 4 that divides it */
        {2, 13, 12, 14, 1},  /* 13 before is prime: one at a time */
        {5, 100, 100, 5, 100},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        svc_page_t p = {.items_key = "items", .page = cases[i].page, .per_page = cases[i].per_page, .total = 1000};
        int64_t before = (p.page - 1) * p.per_page;
        assert_int_equal(svc_page_fit(&p, cases[i].fit), cases[i].want_per_page);
        assert_int_equal(p.per_page, cases[i].want_per_page);
        assert_int_equal(p.page, cases[i].want_page);
        assert_int_equal((p.page - 1) * p.per_page, before);
        assert_true(p.per_page <= cases[i].fit);
    }
    /* Never a page number the list would refuse: 999,999 pages of 100
     * before, and 7 fit: 5 gives page 19,999,981, past the 1,000,000 a
     * list takes; none does, and the page is left as it was. */
    svc_page_t far = {.items_key = "items", .page = 1000000, .per_page = 100, .total = 200000000};
    assert_int_equal(svc_page_fit(&far, 7), 0);
    assert_int_equal(far.page, 1000000);
    assert_int_equal(far.per_page, 100);
    svc_page_t near = {.items_key = "items", .page = 9000, .per_page = 100, .total = 2000000};
    assert_int_equal(svc_page_fit(&near, 50), 50); /* 899,900 before: page 17,999 of 50 */
    assert_int_equal(near.page, 17999);
}

/* The budget is what a reply may carry: the message limit less a sixteenth. */
static void
page_budget_follows_the_message_limit(void **state)
{
    unsetenv("ROOST_MAX_MESSAGE_BYTES");
    assert_int_equal(svc_page_budget(), (16 << 20) - (1 << 20));
    setenv("ROOST_MAX_MESSAGE_BYTES", "4194304", 1);
    assert_int_equal(svc_page_budget(), (4 << 20) - (256 << 10));
    unsetenv("ROOST_MAX_MESSAGE_BYTES");
}

int
main(void)
{
    setenv("ROOST_LOG_LEVEL", "error", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replies_carry_status_and_body),
        cmocka_unit_test(render_fields_names_the_id),
        cmocka_unit_test(page_fit_starts_at_the_same_item),
        cmocka_unit_test(page_budget_follows_the_message_limit),
    };
    return cmocka_run_group_tests_name("/sdk/reply", tests, NULL, NULL);
}
