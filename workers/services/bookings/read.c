/*
 * The bookings service's read-only ops: a property's availability over a
 * date range, and the pages of bookings a guest or an owner may see.
 */
#include "bookings.h"
#include "sdk/list.h"

#include <stdio.h>
#include <string.h>

/* Consecutive booked nights read as one range [from, to), to = the day after. */
typedef struct {
    bson_t *booked;
    int64_t start, end;
    uint32_t n;
} bookings_runs_t;

/* Appends the run under way, if any. */
static void
bookings_run_end(bookings_runs_t *r)
{
    if (r->start == INT64_MIN)
        return;
    char key[16], date[11];
    bson_t range;
    snprintf(key, sizeof(key), "%u", r->n++);
    BSON_APPEND_DOCUMENT_BEGIN(r->booked, key, &range);
    bookings_date(r->start, date);
    BSON_APPEND_UTF8(&range, "from", date);
    bookings_date(r->end, date);
    BSON_APPEND_UTF8(&range, "to", date);
    bson_append_document_end(r->booked, &range);
}

static bool
bookings_run_night(const bson_t *doc, void *arg)
{
    bookings_runs_t *r = arg;
    int64_t day = bookings_int(doc, "day");
    if (r->start != INT64_MIN && day == r->end) {
        r->end = day + 1;
        return true;
    }
    bookings_run_end(r);
    r->start = day;
    r->end = day + 1;
    return true;
}

void
bookings_availability(svc_call_t *call)
{
    static const char *const params[] = {"from", "to", NULL};
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    bson_iter_t it;
    bson_error_t error;
    int64_t property, from = INT64_MIN, to = INT64_MIN, owner;
    const char *s;

    field_errors_init(&errors);
    validate_id(&call->req->params, "id", &errors, &property);
    validate_known_fields(query, params, &errors);
    if (!bson_iter_init_find(&it, query, "from"))
        field_errors_add(&errors, "from", "is required");
    else if (validate_text(&it, &errors, "from", 10, 10, &s) && (from = bookings_day(s)) == INT64_MIN)
        field_errors_add(&errors, "from", "must be a real date written YYYY-MM-DD");
    if (!bson_iter_init_find(&it, query, "to"))
        field_errors_add(&errors, "to", "is required");
    else if (validate_text(&it, &errors, "to", 10, 10, &s) && (to = bookings_day(s)) == INT64_MIN)
        field_errors_add(&errors, "to", "must be a real date written YYYY-MM-DD");
    if (errors.count == 0 && to <= from)
        field_errors_add(&errors, "to", "must be after from");
    else if (errors.count == 0 && to - from > BOOKINGS_MAX_NIGHTS + 1)
        field_errors_add(&errors, "to", "the range may span at most %d nights", BOOKINGS_MAX_NIGHTS + 1);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return;
    }
    field_errors_destroy(&errors);
    if (!bookings_property_owner(call, property, &owner))
        return;

    mongoc_collection_t *nights = svc_collection(call->mongo, "bookings", "nights");
    bson_t body = BSON_INITIALIZER, booked;
    char date[11];
    BSON_APPEND_INT64(&body, "property_id", property);
    bookings_date(from, date);
    BSON_APPEND_UTF8(&body, "from", date);
    bookings_date(to, date);
    BSON_APPEND_UTF8(&body, "to", date);
    BSON_APPEND_ARRAY_BEGIN(&body, "booked", &booked);
    bookings_runs_t runs = {.booked = &booked, .start = INT64_MIN, .end = INT64_MIN};
    bool ok = bookings_nights_each(nights, property, from, to, 0, bookings_run_night, &runs, &error);
    bookings_run_end(&runs);
    bson_append_array_end(&body, &booked);
    BSON_APPEND_BOOL(&body, "available", runs.n == 0);
    if (!ok)
        svc_fail_db(call, &error);
    else
        svc_reply(call, 200, &body);
    bson_destroy(&body);
    svc_collection_close(nights);
}

/* A page of the bookings matching `filter` (not pending), newest first. */
static void
bookings_reply_page(svc_call_t *call, bson_t *filter)
{
    static const char *const params[] = {"page", "per_page", "status", NULL};
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    bson_iter_t it;
    int64_t page, per_page;
    mongoc_collection_t *bookings = svc_collection(call->mongo, "bookings", "bookings");

    field_errors_init(&errors);
    validate_known_fields(query, params, &errors);
    validate_query_int(query, "page", 1, 1, VALIDATE_PAGE_MAX, &errors, &page);
    validate_query_int(query, "per_page", 10, 1, 100, &errors, &per_page);
    if (bson_iter_init_find(&it, query, "status")) {
        const char *s = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
        if (strcmp(s, "confirmed") != 0 && strcmp(s, "cancelled") != 0)
            field_errors_add(&errors, "status", "must be \"confirmed\" or \"cancelled\"");
        else
            BSON_APPEND_UTF8(filter, "status", s);
    } else {
        bson_t ne;
        BSON_APPEND_DOCUMENT_BEGIN(filter, "status", &ne);
        BSON_APPEND_UTF8(&ne, "$ne", "pending");
        bson_append_document_end(filter, &ne);
    }
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    svc_list_page(call, bookings, NULL, filter, "created_at", -1, page, per_page, bookings_render);
done:
    field_errors_destroy(&errors);
    svc_collection_close(bookings);
}

void
bookings_mine(svc_call_t *call)
{
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_INT64(&filter, "guest_id", call->req->auth_sub);
    bookings_reply_page(call, &filter);
    bson_destroy(&filter);
}

void
bookings_for_property(svc_call_t *call)
{
    field_errors_t errors;
    int64_t property, owner;
    field_errors_init(&errors);
    if (!validate_id(&call->req->params, "id", &errors, &property)) {
        svc_fail_fields(call, &errors);
    } else if (bookings_property_owner(call, property, &owner)) {
        if (owner != call->req->auth_sub) {
            svc_fail(call, 403, "forbidden", "a property's bookings are seen by its owner only");
        } else {
            bson_t filter = BSON_INITIALIZER;
            BSON_APPEND_INT64(&filter, "property_id", property);
            bookings_reply_page(call, &filter);
            bson_destroy(&filter);
        }
    }
    field_errors_destroy(&errors);
}
