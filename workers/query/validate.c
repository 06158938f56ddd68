/* Validators used by the service handlers; pure functions, unit-tested. */
#include "validate.h"
#include "clock.h"
#include "text.h"

#include <ctype.h>
#include <utf8proc.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
field_errors_init(field_errors_t *e)
{
    bson_init(&e->list);
    e->count = 0;
}

void
field_errors_add(field_errors_t *e, const char *field, const char *fmt, ...)
{
    char key[16];
    bson_t item;
    va_list ap;

    va_start(ap, fmt);
    char *message = bson_strdupv_printf(fmt, ap); /* whole: a message is never cut */
    va_end(ap);
    snprintf(key, sizeof(key), "%u", e->count++);
    BSON_APPEND_DOCUMENT_BEGIN(&e->list, key, &item);
    BSON_APPEND_UTF8(&item, "field", field);
    BSON_APPEND_UTF8(&item, "message", message);
    bson_append_document_end(&e->list, &item);
    bson_free(message);
}

void
field_errors_destroy(field_errors_t *e)
{
    bson_destroy(&e->list);
}

bool
validate_known_fields(const bson_t *doc, const char *const *allowed, field_errors_t *e)
{
    bson_iter_t it;
    bool ok = true;

    bson_iter_init(&it, doc);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        bool known = false;
        char *name = text_excerpt(key, 64); /* a client's key, echoed: bounded, never cut silently */
        if (key[0] == '$') {
            field_errors_add(e, key, "operator key '%s' is not accepted", name);
            ok = false;
        } else {
            for (const char *const *a = allowed; *a != NULL; a++)
                known = known || strcmp(*a, key) == 0;
            if (!known) {
                field_errors_add(e, key, "unknown field '%s'", name);
                ok = false;
            }
        }
        free(name);
    }
    return ok;
}

bool
validate_text(const bson_iter_t *it, field_errors_t *e, const char *field, size_t min, size_t max, const char **out)
{
    uint32_t len;
    utf8proc_int32_t cp;

    if (!BSON_ITER_HOLDS_UTF8(it)) {
        field_errors_add(e, field, "must be a string");
        return false;
    }
    const char *s = bson_iter_utf8(it, &len);
    for (uint32_t i = 0; i < len;) {
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, len - i, &cp);
        if (n <= 0) {
            field_errors_add(e, field, "must be valid UTF-8");
            return false;
        }
        if (utf8proc_category(cp) == UTF8PROC_CATEGORY_CC) {
            field_errors_add(e, field, "must not contain control characters");
            return false;
        }
        i += (uint32_t)n;
    }
    long chars = text_chars(s, len);
    if (chars < (long)min || chars > (long)max) {
        if (min == max)
            field_errors_add(e, field, "must have exactly %zu characters", min);
        else
            field_errors_add(e, field, "must have %zu to %zu characters", min, max);
        return false;
    }
    *out = s;
    return true;
}

bool
validate_is_date(const char *s)
{
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (s[i] != '-')
                return false;
        } else if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    if (s[10] != '\0')
        return false;
    int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= clock_days_in_month(y, m);
}

void
validate_today(char out[11])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

bool
validate_as_int(const bson_iter_t *it, int64_t *out)
{
    if (BSON_ITER_HOLDS_INT(it)) {
        *out = bson_iter_as_int64(it);
        return true;
    }
    if (BSON_ITER_HOLDS_UTF8(it)) {
        const char *s = bson_iter_utf8(it, NULL);
        char *end;
        if (s[0] == '\0' || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
            return false;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0')
            return false;
        *out = n;
        return true;
    }
    return false;
}

bool
validate_id(const bson_t *doc, const char *key, field_errors_t *e, int64_t *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key)) {
        field_errors_add(e, key, "is required");
        return false;
    }
    if (!validate_as_int(&it, out) || *out <= 0) {
        field_errors_add(e, key, "must be a positive integer id");
        return false;
    }
    return true;
}

bool
validate_query_int(const bson_t *query, const char *key, int64_t fallback, int64_t min, int64_t max, field_errors_t *e,
                   int64_t *out)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, query, key)) {
        *out = fallback;
        return true;
    }
    if (!validate_as_int(&it, out)) {
        field_errors_add(e, key, "must be an integer");
        return false;
    }
    if (*out < min || *out > max) {
        field_errors_add(e, key, "must be between %lld and %lld", (long long)min, (long long)max);
        return false;
    }
    return true;
}

bool
validate_query_range(const bson_t *query, const char *lo_key, const char *hi_key, int64_t min, int64_t max,
                     field_errors_t *e, int64_t *lo, int64_t *hi)
{
    bool lo_ok = validate_query_int(query, lo_key, min, min, max, e, lo);
    bool hi_ok = validate_query_int(query, hi_key, max, min, max, e, hi);
    if (lo_ok && hi_ok && bson_has_field(query, lo_key) && bson_has_field(query, hi_key) && *lo > *hi) {
        field_errors_add(e, lo_key, "must not be greater than %s", hi_key);
        return false;
    }
    return lo_ok && hi_ok;
}

bool
validate_decimal(const char *s, size_t len, double *out)
{
    char buf[64];
    while (len > 0 && *s == ' ')
        s++, len--;
    while (len > 0 && s[len - 1] == ' ')
        len--;
    if (len == 0 || len >= sizeof(buf))
        return false;
    for (size_t i = 0; i < len; i++)
        if (strchr("0123456789+-.eE", s[i]) == NULL)
            return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    *out = strtod(buf, &end);
    return *end == '\0' && isfinite(*out);
}

/* One decimal query parameter in [min, max]; `fallback` when absent. */
static bool
validate_query_number(const bson_t *query, const char *key, double fallback, double min, double max, field_errors_t *e,
                      double *out)
{
    bson_iter_t it;
    uint32_t len;
    *out = fallback;
    if (!bson_iter_init_find(&it, query, key))
        return true;
    bool ok = false;
    if (BSON_ITER_HOLDS_NUMBER(&it))
        ok = isfinite(*out = bson_iter_as_double(&it));
    else if (BSON_ITER_HOLDS_UTF8(&it)) {
        const char *s = bson_iter_utf8(&it, &len); /* before len is read */
        ok = validate_decimal(s, len, out);
    }
    if (!ok || *out < min || *out > max) {
        field_errors_add(e, key, "must be a number from %g to %g", min, max);
        return false;
    }
    return true;
}

bool
validate_query_number_range(const bson_t *query, const char *lo_key, const char *hi_key, double min, double max,
                            field_errors_t *e, double *lo, double *hi)
{
    bool lo_ok = validate_query_number(query, lo_key, min, min, max, e, lo);
    bool hi_ok = validate_query_number(query, hi_key, max, min, max, e, hi);
    if (lo_ok && hi_ok && bson_has_field(query, lo_key) && bson_has_field(query, hi_key) && *lo > *hi) {
        field_errors_add(e, lo_key, "must not be greater than %s", hi_key);
        return false;
    }
    return lo_ok && hi_ok;
}

bool
validate_classic_paging(const bson_t *query, field_errors_t *errors, int64_t *page_num, int64_t *page_size)
{
    bson_iter_t it;
    uint32_t before = errors->count;
    *page_num = 1;
    *page_size = 10;
    if (bson_iter_init_find(&it, query, "page_num") &&
        (!validate_as_int(&it, page_num) || *page_num < 1 || *page_num > VALIDATE_PAGE_MAX))
        field_errors_add(errors, "page_num", "invalid page_num");
    if (bson_iter_init_find(&it, query, "page_size") &&
        (!validate_as_int(&it, page_size) || *page_size < 1 || *page_size > 100))
        field_errors_add(errors, "page_size", "invalid page_size");
    return errors->count == before;
}

bool
validate_order_by(const bson_t *query, const validate_order_t *orders, size_t count, field_errors_t *e,
                  const char **field, int *dir)
{
    bson_iter_t it;
    *field = "_id";
    *dir = 1;
    if (!bson_iter_init_find(&it, query, "order_by"))
        return true;
    const char *o = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
    if (o[0] == '-') {
        *dir = -1;
        o++;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(o, orders[i].name) == 0) {
            *field = orders[i].field;
            return true;
        }
    }
    bson_string_t *names = bson_string_new(NULL);
    for (size_t i = 0; i < count; i++)
        bson_string_append_printf(names, "%s%s", i ? ", " : "", orders[i].name);
    field_errors_add(e, "order_by", "must be one of %s, optionally with a leading '-'", names->str);
    bson_string_free(names, true);
    return false;
}
