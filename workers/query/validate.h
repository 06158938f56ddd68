/*
 * Field validation shared by every service. Validators append a precise
 * {field, message} to an error list instead of stopping at the first
 * problem, so a client sees everything wrong with its input at once.
 */
#ifndef ROOST_VALIDATE_H
#define ROOST_VALIDATE_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    bson_t list; /* BSON array of {field, message} */
    uint32_t count;
} field_errors_t;

void field_errors_init(field_errors_t *e);
void field_errors_add(field_errors_t *e, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void field_errors_destroy(field_errors_t *e);

/*
 * Checks that every key of `doc` is in the NULL-terminated `allowed` list
 * and does not start with '$' (operator injection). Reports each offender
 * under its own name. (A key repeated at any depth never gets this far:
 * the worker runtime refuses it for every op, see worker_dispatch.)
 */
bool validate_known_fields(const bson_t *doc, const char *const *allowed, field_errors_t *e);

/* A string of min..max characters (code points of its NFC form, text.h),
 * valid UTF-8, with no control characters (Unicode general category Cc).
 * On success *out points into the iterated document. */
bool validate_text(const bson_iter_t *it, field_errors_t *e, const char *field, size_t min, size_t max,
                   const char **out);

/* A real calendar date written YYYY-MM-DD. */
bool validate_is_date(const char *s);

/* Today's date (UTC) as YYYY-MM-DD. */
void validate_today(char out[11]);

/* An integer given as a BSON integer or a string of decimal digits (form
 * and query values arrive as strings). */
bool validate_as_int(const bson_iter_t *it, int64_t *out);

/*
 * A positive 64-bit id in `doc[key]`, given as an integer or a string of
 * decimal digits (path parameters arrive as strings). Adds an error and
 * returns false otherwise.
 */
bool validate_id(const bson_t *doc, const char *key, field_errors_t *e, int64_t *out);

/*
 * An integer query parameter in [min, max], as a decimal string or an
 * integer; `fallback` when absent.
 */
bool validate_query_int(const bson_t *query, const char *key, int64_t fallback, int64_t min, int64_t max,
                        field_errors_t *e, int64_t *out);

/* A plain decimal number of `len` bytes (digits, a sign, a point, an
 * exponent; spaces around it): not "nan", "inf" nor hexadecimal, and
 * finite. */
bool validate_decimal(const char *s, size_t len, double *out);

/* A range filter of two decimal query parameters, each in [min, max] and
 * defaulting to that bound, compared as validate_query_range does. */
bool validate_query_number_range(const bson_t *query, const char *lo_key, const char *hi_key, double min, double max,
                                 field_errors_t *e, double *lo, double *hi);

/*
 * A range filter of two integer query parameters, each in [min, max] and
 * defaulting to that bound: *lo from `lo_key`, *hi from `hi_key`. The two
 * are compared (an error on `lo_key`) only when both were sent and valid,
 * so a bad or lone bound gets its own error and no other.
 */
bool validate_query_range(const bson_t *query, const char *lo_key, const char *hi_key, int64_t min, int64_t max,
                          field_errors_t *e, int64_t *lo, int64_t *hi);

/* One accepted value of order_by: its name and the stored field it sorts. */
typedef struct {
    const char *name;
    const char *field;
} validate_order_t;

/*
 * Parses query.order_by, one of the names of `orders` with an optional
 * leading '-' for descending, into the field to sort and its direction.
 * Absent: "_id", ascending. Otherwise adds an error listing the names.
 */
bool validate_order_by(const bson_t *query, const validate_order_t *orders, size_t count, field_errors_t *e,
                       const char **field, int *dir);

/*
 * The classic contract's paging: 1 <= page_num <= VALIDATE_PAGE_MAX (default 1)
 * and 1 <= page_size <= 100 (default 10), with its messages "invalid
 * page_num" and "invalid page_size". The bound keeps the offset
 * (page_num - 1) * page_size far inside int64, as on the /api/v1 routes.
 */
bool validate_classic_paging(const bson_t *query, field_errors_t *errors, int64_t *page_num, int64_t *page_size);

/* The largest page number any list accepts, on every route. */
#define VALIDATE_PAGE_MAX 1000000

#endif
