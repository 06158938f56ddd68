/* Durations, instants and the calendar (shared/clock.c). */
#include "roost_test.h"

#include "clock.h"

static void
the_calendar_is_gregorian(void **state)
{
    assert_true(clock_is_leap_year(2024));
    assert_false(clock_is_leap_year(2026));
    assert_false(clock_is_leap_year(1900)); /* a century is not, */
    assert_true(clock_is_leap_year(2000));  /* but every fourth one is */
    assert_int_equal(clock_days_in_month(2024, 2), 29);
    assert_int_equal(clock_days_in_month(2026, 2), 28);
    assert_int_equal(clock_days_in_month(1900, 2), 28);
    assert_int_equal(clock_days_in_month(2026, 1), 31);
    assert_int_equal(clock_days_in_month(2026, 4), 30);
    assert_int_equal(clock_days_in_month(2026, 12), 31);
}

static void
durations_are_signed_seconds(void **state)
{
    struct timespec a = {.tv_sec = 10, .tv_nsec = 900000000}, b = {.tv_sec = 12, .tv_nsec = 100000000};
    assert_true(clock_seconds_between(&a, &b) > 1.199 && clock_seconds_between(&a, &b) < 1.201);
    assert_true(clock_seconds_between(&b, &a) < -1.199);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double since = clock_seconds_since(&now);
    assert_true(since >= 0 && since < 60);
    int64_t ms = clock_monotonic_ms(), later = clock_monotonic_ms();
    assert_true(later >= ms);
    /* Stored instants are microseconds since the epoch: after 2020, before 2200. */
    int64_t us = clock_realtime_us();
    assert_true(us > INT64_C(1577836800000000) && us < INT64_C(7258118400000000));
}

/* A deadline for the timed waits: ms from now, nanoseconds kept below a second. */
static void
realtime_deadlines_carry_into_seconds(void **state)
{
    int64_t now_us = clock_realtime_us();
    for (int64_t ms = 0; ms <= 2500; ms += 250) {
        struct timespec t = clock_realtime_after_ms(ms);
        assert_true(t.tv_nsec >= 0 && t.tv_nsec < 1000000000L);
        int64_t at_us = (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
        assert_true(at_us >= now_us + ms * 1000 && at_us < now_us + ms * 1000 + 5000000);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_calendar_is_gregorian),
        cmocka_unit_test(durations_are_signed_seconds),
        cmocka_unit_test(realtime_deadlines_carry_into_seconds),
    };
    return cmocka_run_group_tests_name("/shared/clock", tests, NULL, NULL);
}
