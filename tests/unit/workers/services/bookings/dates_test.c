/* Day numbers and the rules of a stay. */
#include "roost_test.h"

#include "services/bookings/bookings.h"

static void
bookings_day_numbers_roundtrip(void **state)
{
    char out[11];
    assert_int_equal(bookings_day("1970-01-01"), 0);
    assert_int_equal(bookings_day("1970-01-02"), 1);
    assert_int_equal(bookings_day("2000-03-01") - bookings_day("2000-02-28"), 2); /* 2000 is a leap year */
    assert_int_equal(bookings_day("1900-03-01") - bookings_day("1900-02-28"), 1); /* 1900 is not */
    assert_int_equal(bookings_day("2024-02-30"), INT64_MIN);
    for (int64_t d = bookings_day("0001-01-01"); d <= bookings_day("9999-12-31"); d += 997) {
        bookings_date(d, out);
        assert_int_equal(bookings_day(out), d);
    }
}

static void
bookings_stay_rules(void **state)
{
    int64_t today = bookings_day("2030-06-15"), in, out;
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"check_in\": \"2030-06-14\", \"check_out\": \"2030-06-16\"}", "check_in"},  /* in the past */
        {"{\"check_in\": \"2030-06-16\", \"check_out\": \"2030-06-16\"}", "check_out"}, /* no night */
        {"{\"check_in\": \"2030-06-17\", \"check_out\": \"2030-06-16\"}", "check_out"},
        {"{\"check_in\": \"2030-06-15\", \"check_out\": \"2031-06-16\"}", "check_out"}, /* 366 nights */
        {"{\"check_in\": \"2030-02-30\", \"check_out\": \"2030-03-02\"}", "check_in"},
        {"{\"check_in\": \"2030-06-15\"}", "check_out"},
        {"{\"check_in\": 20300615, \"check_out\": \"2030-06-16\"}", "check_in"},
        {"{\"check_in\": \"2030-06-15\", \"check_out\": \"2030-06-16\", \"guest_id\": 1}", "guest_id"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bson_t *body = roost_test_doc(bad[i].json);
        field_errors_t e;
        field_errors_init(&e);
        if (bookings_check_stay(body, today, &e, &in, &out)) {
            print_error("accepted %s\n", bad[i].json);
            fail();
        }
        ASSERT_ERROR_FIELD(&e.list, bad[i].field);
        field_errors_destroy(&e);
        bson_destroy(body);
    }
    bson_t *body = roost_test_doc("{\"check_in\": \"2030-06-15\", \"check_out\": \"2031-06-15\"}");
    field_errors_t e;
    field_errors_init(&e);
    assert_true(bookings_check_stay(body, today, &e, &in, &out)); /* exactly 365 nights */
    assert_int_equal(out - in, 365);
    field_errors_destroy(&e);
    bson_destroy(body);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bookings_day_numbers_roundtrip),
        cmocka_unit_test(bookings_stay_rules),
    };
    return cmocka_run_group_tests_name("/bookings/dates", tests, NULL, NULL);
}
