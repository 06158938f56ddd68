/* The store's pure pieces (workers/sdk/store.c): page options, the
 * filters every list shares, versions and preconditions. */
#include "roost_test.h"

#include "sdk/service.h"

static char *
json(const bson_t *doc)
{
    return bson_as_relaxed_extended_json(doc, NULL);
}

static void
page_options_order_totally(void **state)
{
    bson_t *opts = svc_page_opts("created_at", -1, 3, 20);
    char *got = json(opts);
    assert_string_equal(got, "{ \"sort\" : { \"created_at\" : -1, \"_id\" : -1 }, \"skip\" : 40, \"limit\" : 20 }");
    bson_free(got);
    bson_destroy(opts);
    opts = svc_page_opts("_id", 1, 1, 10); /* _id is not named twice */
    got = json(opts);
    assert_string_equal(got, "{ \"sort\" : { \"_id\" : 1 }, \"skip\" : 0, \"limit\" : 10 }");
    bson_free(got);
    bson_destroy(opts);
    opts = svc_page_opts("_id", 1, INT64_MAX, INT64_MAX); /* overflow: past the end, never wrapped */
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, opts, "skip"));
    assert_int_equal(bson_iter_as_int64(&it), INT64_MAX);
    bson_destroy(opts);
}

static void
shared_filters(void **state)
{
    bson_t f = BSON_INITIALIZER;
    svc_filter_live(&f);
    svc_filter_every_id(&f);
    char *got = json(&f);
    assert_string_equal(got, "{ \"deleted_at\" : { \"$exists\" : false }, \"_id\" : { \"$gt\" : 0 } }");
    bson_free(got);
    bson_destroy(&f);
}

static void
versions_and_preconditions(void **state)
{
    bson_t *doc = roost_test_doc("{\"version\": 4}"), *old = roost_test_doc("{\"name\": \"x\"}");
    assert_int_equal(svc_version(doc), 4);
    assert_int_equal(svc_version(old), 1);                  /* stored before versions existed */
    bson_t *by_hand = roost_test_doc("{\"version\": 5.0}"); /* a double, as a shell writes numbers */
    assert_int_equal(svc_version(by_hand), 5);
    bson_destroy(by_hand);
    envelope_request_t req = {0};
    assert_true(svc_expected(&req, 4)); /* no If-Match */
    req.has_expect = true;
    req.nexpect = 2;
    req.expect[0] = 3;
    req.expect[1] = 4;
    assert_true(svc_expected(&req, 4));
    assert_false(svc_expected(&req, 5));
    req.nexpect = 0; /* If-Match listing no version of this document */
    assert_false(svc_expected(&req, 4));
    bson_destroy(doc);
    bson_destroy(old);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(page_options_order_totally),
        cmocka_unit_test(shared_filters),
        cmocka_unit_test(versions_and_preconditions),
    };
    return cmocka_run_group_tests_name("/sdk/store", tests, NULL, NULL);
}
