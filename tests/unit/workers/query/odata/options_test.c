/* The system query options (workers/query/odata/options.c): $top, $skip,
 * $count, $select, $orderby and $filter as a query gives them, and the
 * unsupported ones. */
#include "expect.h"

#include "services/listings/listings.h"

static void
odata_options(void **state)
{
    expect_options(&listings_odata, "{\"$top\": \"5\", \"$skip\": \"10\", \"$count\": \"true\"}", true, NULL, NULL);
    expect_options(&listings_odata, "{\"$top\": 5}", true, NULL, NULL); /* a direct caller's integer */
    expect_options(&listings_odata, "{\"$top\": \"101\"}", false, "$top", "from 0 to 100");
    expect_options(&listings_odata, "{\"$top\": \"-1\"}", false, "$top", "from 0 to 100");
    expect_options(&listings_odata, "{\"$top\": \"1x\"}", false, "$top", "integer");
    expect_options(&listings_odata, "{\"$skip\": \"100001\"}", false, "$skip", "from 0 to 100000");
    expect_options(&listings_odata, "{\"$count\": \"yes\"}", false, "$count", "true or false");
    expect_options(&listings_odata, "{\"$select\": \"price, listing_type\"}", true, NULL, NULL);
    expect_options(&listings_odata, "{\"$select\": \"price,secret\"}", false, "$select",
                   "'secret' is not a field that can be selected");
    expect_options(&listings_odata, "{\"$select\": \"price,\"}", false, "$select", "empty item");
    expect_options(&listings_odata, "{\"$orderby\": \"price desc, created_at\"}", true, NULL, NULL);
    expect_options(&listings_odata, "{\"$orderby\": \"price sideways\"}", false, "$orderby", "expected asc or desc");
    expect_options(&listings_odata, "{\"$orderby\": \"price,price desc\"}", false, "$orderby", "twice");
    expect_options(&listings_odata, "{\"$orderby\": \"version\"}", false, "$orderby", "can be ordered by");
    expect_options(&listings_odata, "{\"$expand\": \"property\"}", false, "$expand", "does not support");
    expect_options(&listings_odata, "{\"$frobnicate\": \"1\"}", false, "$frobnicate", "unknown option");
    expect_options(&listings_odata, "{\"$filter\": \"price eq\"}", false, "$filter",
                   "at character 9: expected a field");
    expect_options(&listings_odata, "{\"$filter\": {\"$gt\": 1}}", false, "$filter", "must be a string");

    /* The order is total: _id follows in the last key's direction. */
    bson_t *query = roost_test_doc("{\"$orderby\": \"price desc\", \"$select\": \"price\"}");
    field_errors_t e;
    odata_query_t q;
    field_errors_init(&e);
    assert_true(odata_query_parse(&listings_odata, query, NULL, &q, &e));
    char *sort = bson_as_relaxed_extended_json(&q.sort, NULL);
    assert_string_equal(sort, "{ \"price\" : -1, \"_id\" : -1 }");
    bson_free(sort);
    assert_int_equal(q.top, 10);
    /* $select keeps the id and the selected fields only. */
    bson_t *doc = roost_test_doc("{\"id\": 1, \"user_id\": 2, \"price\": 3, \"listing_type\": \"rent\"}"), out;
    odata_select(&listings_odata, &q, doc, &out);
    char *json = bson_as_relaxed_extended_json(&out, NULL);
    assert_string_equal(json, "{ \"id\" : 1, \"price\" : 3 }");
    bson_free(json);
    bson_destroy(&out);
    bson_destroy(doc);
    odata_query_destroy(&q);
    field_errors_destroy(&e);
    bson_destroy(query);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(odata_options),
    };
    return cmocka_run_group_tests_name("/query/odata/options", tests, NULL, NULL);
}
