/* The validators every service shares. */
#include "roost_test.h"

#include "query/validate.h"

static void
check_dates(void **state)
{
    static const char *const good[] = {"2024-02-29", "2000-02-29", "1999-12-31", "1900-01-01", "2023-04-30"};
    static const char *const bad[] = {"2023-02-29", "1900-02-29",  "2024-13-01", "2024-00-10", "2024-04-31",
                                      "2024-4-01",  "2024-04-01x", "",           "20240401",   "2024/04/01"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_true(validate_is_date(good[i]));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(validate_is_date(bad[i]));
}

static void
check_text_counts_code_points(void **state)
{
    /* "a": three precomposed é; "e": e + U+0301 three times, the same three characters in NFD. */
    bson_t *doc = roost_test_doc("{\"a\": \"\xc3\xa9\xc3\xa9\xc3\xa9\", \"b\": \"x\\ty\", \"c\": 5, \"d\": \"\", "
                                 "\"e\": \"e\xcc\x81"
                                 "e\xcc\x81"
                                 "e\xcc\x81\", \"f\": \"x\xc2\x85"
                                 "y\"}");
    bson_iter_t it;
    field_errors_t e;
    const char *s;
    field_errors_init(&e);
    bson_iter_init_find(&it, doc, "a");
    assert_true(validate_text(&it, &e, "a", 3, 3, &s));
    assert_false(validate_text(&it, &e, "a", 4, 10, &s));
    bson_iter_init_find(&it, doc, "b");
    assert_false(validate_text(&it, &e, "b", 1, 10, &s));
    bson_iter_init_find(&it, doc, "c");
    assert_false(validate_text(&it, &e, "c", 1, 10, &s));
    bson_iter_init_find(&it, doc, "d");
    assert_false(validate_text(&it, &e, "d", 1, 10, &s));
    bson_iter_init_find(&it, doc, "e");
    assert_true(validate_text(&it, &e, "e", 3, 3, &s));
    bson_iter_init_find(&it, doc, "f"); /* U+0085, a C1 control character */
    assert_false(validate_text(&it, &e, "f", 1, 10, &s));
    ASSERT_ERROR_FIELD(&e.list, "b");
    ASSERT_ERROR_FIELD(&e.list, "c");
    ASSERT_ERROR_FIELD(&e.list, "d");
    ASSERT_ERROR_FIELD(&e.list, "f");
    assert_int_equal(e.count, 5);
    field_errors_destroy(&e);
    bson_destroy(doc);
}

static void
check_known_fields(void **state)
{
    static const char *const allowed[] = {"name", "city", NULL};
    bson_t doc = BSON_INITIALIZER;
    field_errors_t e;
    BSON_APPEND_UTF8(&doc, "name", "a");
    BSON_APPEND_UTF8(&doc, "$where", "1");
    BSON_APPEND_UTF8(&doc, "is_admin", "1");
    BSON_APPEND_UTF8(&doc, "city", "x");
    field_errors_init(&e);
    assert_false(validate_known_fields(&doc, allowed, &e));
    ASSERT_ERROR_FIELD(&e.list, "$where");
    ASSERT_ERROR_FIELD(&e.list, "is_admin");
    assert_false(roost_test_has_field(&e.list, "city"));
    assert_false(roost_test_has_field(&e.list, "name"));
    assert_int_equal(e.count, 2);
    field_errors_destroy(&e);
    bson_destroy(&doc);
}

static void
check_ids(void **state)
{
    bson_t *doc = roost_test_doc("{\"i32\": 5, \"i64\": {\"$numberLong\": \"9000000000\"}, \"s\": \"42\", "
                                 "\"zero\": 0, \"neg\": -1, \"mixed\": \"4x2\", \"empty\": \"\", \"dbl\": 1.5, "
                                 "\"plus\": \"+3\", \"big\": \"99999999999999999999\"}");
    field_errors_t e;
    int64_t id;
    field_errors_init(&e);
    assert_true(validate_id(doc, "i32", &e, &id) && id == 5);
    assert_true(validate_id(doc, "i64", &e, &id) && id == 9000000000LL);
    assert_true(validate_id(doc, "s", &e, &id) && id == 42);
    static const char *const bad[] = {"zero", "neg", "mixed", "empty", "dbl", "plus", "big", "missing"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(validate_id(doc, bad[i], &e, &id));
        ASSERT_ERROR_FIELD(&e.list, bad[i]);
    }
    field_errors_destroy(&e);
    bson_destroy(doc);
}

static void
check_query_ints(void **state)
{
    bson_t *q = roost_test_doc("{\"page\": \"3\", \"per_page\": \"101\", \"x\": \"abc\"}");
    field_errors_t e;
    int64_t v;
    field_errors_init(&e);
    assert_true(validate_query_int(q, "absent", 10, 1, 100, &e, &v) && v == 10);
    assert_true(validate_query_int(q, "page", 1, 1, 1000, &e, &v) && v == 3);
    assert_false(validate_query_int(q, "per_page", 10, 1, 100, &e, &v));
    assert_false(validate_query_int(q, "x", 1, 1, 100, &e, &v));
    ASSERT_ERROR_FIELD(&e.list, "per_page");
    ASSERT_ERROR_FIELD(&e.list, "x");
    field_errors_destroy(&e);
    bson_destroy(q);
}

/* Each bound of a range gets its own error; they are compared only when
 * both were sent and valid (min_rooms=101 alone is one error, not two). */
static void
check_query_ranges(void **state)
{
    struct {
        const char *json;
        bool ok;
        int64_t lo, hi;
        uint32_t errors;
    } cases[] = {
        {"{}", true, 0, 100, 0},
        {"{\"min\": \"3\"}", true, 3, 100, 0},
        {"{\"min\": \"101\"}", false, 0, 0, 1},
        {"{\"max\": \"x\"}", false, 0, 0, 1},
        {"{\"min\": \"5\", \"max\": \"4\"}", false, 0, 0, 1},
        {"{\"min\": \"4\", \"max\": \"4\"}", true, 4, 4, 0},
        {"{\"min\": \"1e3\", \"max\": \"4\"}", false, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bson_t *q = roost_test_doc(cases[i].json);
        field_errors_t e;
        int64_t lo, hi;
        field_errors_init(&e);
        assert_int_equal(validate_query_range(q, "min", "max", 0, 100, &e, &lo, &hi), cases[i].ok);
        assert_int_equal(e.count, cases[i].errors);
        if (cases[i].ok) {
            assert_int_equal(lo, cases[i].lo);
            assert_int_equal(hi, cases[i].hi);
        }
        field_errors_destroy(&e);
        bson_destroy(q);
    }
}

static void
check_order_by(void **state)
{
    static const validate_order_t orders[] = {{"id", "_id"}, {"name", "name_key"}};
    field_errors_t e;
    const char *field;
    int dir;
    field_errors_init(&e);
    bson_t *q = roost_test_doc("{\"order_by\": \"-name\"}");
    assert_true(validate_order_by(q, orders, 2, &e, &field, &dir));
    assert_string_equal(field, "name_key");
    assert_int_equal(dir, -1);
    bson_destroy(q);
    q = roost_test_doc("{}");
    assert_true(validate_order_by(q, orders, 2, &e, &field, &dir));
    assert_string_equal(field, "_id");
    assert_int_equal(dir, 1);
    bson_destroy(q);
    q = roost_test_doc("{\"order_by\": \"password_hash\"}");
    assert_false(validate_order_by(q, orders, 2, &e, &field, &dir));
    ASSERT_ERROR_FIELD(&e.list, "order_by");
    bson_destroy(q);
    field_errors_destroy(&e);
}

static void
check_classic_paging(void **state)
{
    field_errors_t e;
    int64_t num, size;
    field_errors_init(&e);
    bson_t *q = roost_test_doc("{}");
    assert_true(validate_classic_paging(q, &e, &num, &size));
    assert_int_equal(num, 1);
    assert_int_equal(size, 10);
    bson_destroy(q);
    q = roost_test_doc("{\"page_num\": \"0\", \"page_size\": \"101\"}");
    assert_false(validate_classic_paging(q, &e, &num, &size));
    ASSERT_ERROR_FIELD(&e.list, "page_num");
    ASSERT_ERROR_FIELD(&e.list, "page_size");
    bson_destroy(q);
    /* A page whose offset would not fit in int64 is refused, never multiplied. */
    static const char *const huge[] = {"{\"page_num\": \"9223372036854775807\"}",
                                       "{\"page_num\": \"1000000000000000000\"}", "{\"page_num\": \"1000001\"}",
                                       "{\"page_num\": \"99999999999999999999\"}"};
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        field_errors_t h;
        field_errors_init(&h);
        q = roost_test_doc(huge[i]);
        assert_false(validate_classic_paging(q, &h, &num, &size));
        ASSERT_ERROR_FIELD(&h.list, "page_num");
        bson_destroy(q);
        field_errors_destroy(&h);
    }
    field_errors_destroy(&e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(check_dates),        cmocka_unit_test(check_text_counts_code_points),
        cmocka_unit_test(check_known_fields), cmocka_unit_test(check_ids),
        cmocka_unit_test(check_query_ints),   cmocka_unit_test(check_query_ranges),
        cmocka_unit_test(check_order_by),     cmocka_unit_test(check_classic_paging),
    };
    return cmocka_run_group_tests_name("/validate", tests, NULL, NULL);
}
