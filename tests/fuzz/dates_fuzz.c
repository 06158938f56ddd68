/* Fuzz: dates — YYYY-MM-DD as every op reads it (workers/query/validate.c)
 * and a stay's check-in and check-out (workers/services/bookings/dates.c). */
#include "services/bookings/bookings.h"
#include "fuzz.h"
#include "query/validate.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    validate_is_date(s);
    int64_t day = bookings_day(s);
    if (day >= 0) {
        char back[11];
        bookings_date(day, back);
        if (bookings_day(back) != day) /* a day written out reads back the same */
            abort();
    }
    /* The input split at its first NUL or '|' into check_in and check_out. */
    char *bar = strchr(s, '|');
    const char *out = "2030-01-02";
    if (bar != NULL) {
        *bar = '\0';
        out = bar + 1;
    }
    bson_t body = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&body, "check_in", s);
    BSON_APPEND_UTF8(&body, "check_out", out);
    field_errors_t e;
    field_errors_init(&e);
    int64_t in_day, out_day;
    bookings_check_stay(&body, bookings_day("2026-11-30"), &e, &in_day, &out_day);
    field_errors_destroy(&e);
    bson_destroy(&body);
    free(s);
    return 0;
}
