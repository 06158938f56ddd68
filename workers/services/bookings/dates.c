/* Calendar arithmetic for stays: dates <-> day numbers; pure, unit-tested. */
#include "bookings.h"

#include <stdio.h>

/* Howard Hinnant's days-from-civil, for the proleptic Gregorian calendar. */
static int64_t
bookings_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t
bookings_day(const char *date)
{
    if (!validate_is_date(date))
        return INT64_MIN;
    int y, m, d;
    if (sscanf(date, "%4d-%2d-%2d", &y, &m, &d) != 3)
        return INT64_MIN;
    return bookings_days_from_civil(y, m, d);
}

void
bookings_date(int64_t z, char out[11])
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp + (mp < 10 ? 3 : -9);
    snprintf(out, 11, "%04d-%02d-%02d", (int)(y + (m <= 2)), (int)m, (int)d);
}

bool
bookings_check_stay(const bson_t *body, int64_t today, field_errors_t *e, int64_t *in, int64_t *out)
{
    static const char *const fields[] = {"check_in", "check_out", NULL};
    static const char *const names[] = {"check_in", "check_out"};
    int64_t *days[] = {in, out};
    uint32_t before = e->count;
    bson_iter_t it;

    validate_known_fields(body, fields, e);
    for (int i = 0; i < 2; i++) {
        const char *s;
        *days[i] = INT64_MIN;
        if (!bson_iter_init_find(&it, body, names[i]))
            field_errors_add(e, names[i], "is required");
        else if (validate_text(&it, e, names[i], 10, 10, &s) && (*days[i] = bookings_day(s)) == INT64_MIN)
            field_errors_add(e, names[i], "must be a real date written YYYY-MM-DD");
    }
    if (e->count != before)
        return false;
    if (*in < today)
        field_errors_add(e, "check_in", "must not be in the past");
    else if (*out <= *in)
        field_errors_add(e, "check_out", "must be after check_in");
    else if (*out - *in > BOOKINGS_MAX_NIGHTS)
        field_errors_add(e, "check_out", "a stay may last at most %d nights", BOOKINGS_MAX_NIGHTS);
    return e->count == before;
}
