/* Query strings and form bodies: decoding, and every malformed input refused. */
#include "roost_test.h"

#include "query.h"

static bool
parse(const char *q, bson_t *out)
{
    bson_error_t error;
    bson_init(out);
    return query_parse(q, strlen(q), out, &error);
}

static const char *
value(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) ? bson_iter_utf8(&it, NULL) : NULL;
}

static void
query_decodes_pairs(void **state)
{
    bson_t doc;
    assert_true(parse("a=1&b=x%20y+z&empty=&flag&a.b=%E2%82%AC", &doc));
    assert_string_equal(value(&doc, "a"), "1");
    assert_string_equal(value(&doc, "b"), "x y z");
    assert_string_equal(value(&doc, "empty"), "");
    assert_string_equal(value(&doc, "flag"), "");
    assert_string_equal(value(&doc, "a.b"), "\xe2\x82\xac"); /* the exact key, not a path */
    bson_destroy(&doc);
    assert_true(parse("a=1&&b=2&", &doc));
    assert_string_equal(value(&doc, "b"), "2");
    bson_destroy(&doc);
    assert_true(parse("", &doc));
    assert_true(bson_empty(&doc));
    bson_destroy(&doc);
}

static void
query_refuses_malformed_input(void **state)
{
    static const char *const bad[] = {"a=%zz", "a=%4",  "a=%", "%=1",     "a=%00",
                                      "a=%ff", "a=%c3", "=1",  "a=1&a=2", "x=1&=2"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bson_t doc;
        if (parse(bad[i], &doc)) {
            print_error("'%s' should be refused\n", bad[i]);
            fail();
        }
        bson_destroy(&doc);
    }
}

static void
query_decode_cases(void **state)
{
    char out[32];
    size_t len;
    assert_true(query_decode("a%2Bb+c", 7, out, &len));
    assert_string_equal(out, "a+b c");
    assert_int_equal(len, 5);
    assert_false(query_decode("%2", 2, out, &len));
    assert_false(query_decode("%g0", 3, out, &len));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(query_decodes_pairs),
        cmocka_unit_test(query_refuses_malformed_input),
        cmocka_unit_test(query_decode_cases),
    };
    return cmocka_run_group_tests_name("/query", tests, NULL, NULL);
}
