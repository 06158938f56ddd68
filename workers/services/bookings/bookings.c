/*
 * Bookings service handlers that write: create and cancel (read.c has
 * the rest).
 *
 * No overlap, ever: a booking takes its nights by inserting one document
 * per night, _id "<property>:<date>", with an ordered insert in date order.
 * The unique _id lets one request hold a night; an ordered insert stops at
 * the first night someone else holds, and the loser deletes what it took.
 * Because every request holds a run of nights from its own first one, a
 * request can only be stopped by one that starts later: among requests
 * sharing a night, the one that reaches it first cannot be stopped, and
 * all the others are. Correctness comes from the database's unique index,
 * not from a check-then-insert race, so it holds for any number of
 * workers.
 */
#include "clock.h"
#include "bookings.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define BOOKINGS_CONFLICTS_SHOWN 10

static int64_t
bookings_today(void)
{
    return (int64_t)(time(NULL) / 86400);
}

int64_t
bookings_int(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : 0;
}

static const char *
bookings_str(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
}

void
bookings_render(const bson_t *doc, bson_t *out)
{
    static const char *const fields[] = {"property_id", "guest_id",   "check_in",   "check_out",    "nights",
                                         "status",      "created_at", "updated_at", "cancelled_at", NULL};
    svc_render_fields(doc, fields, out);
}

static void
bookings_reply_doc(svc_call_t *call, int status, const bson_t *doc)
{
    bson_t out;
    bookings_render(doc, &out);
    svc_reply(call, status, &out);
    bson_destroy(&out);
}

/*
 * Asks the properties service for property `id`: its owner in *owner.
 * Replies itself and returns false on 404, on an unreachable service, or
 * on any other answer.
 */
bool
bookings_property_owner(svc_call_t *call, int64_t id, int64_t *owner)
{
    bson_t reply;
    bson_iter_t it;
    int status = svc_ask_id(call, "properties.get", id, &reply);
    if (status < 0)
        return false;
    bool ok = false;
    if (status == 404)
        svc_fail(call, 404, "not_found", "no property has id %lld", (long long)id);
    else if (status != 200)
        svc_fail_asked(call, "properties.get", status);
    else if (bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "body.owner_id", &it))
        ok = (*owner = bson_iter_as_int64(&it)) > 0;
    else
        svc_fail(call, 502, "service_failed", "the properties service sent no owner");
    bson_destroy(&reply);
    return ok;
}

/* The booked days of `property` in [from, to), by whom, in date order. */
bool
bookings_nights_each(mongoc_collection_t *nights, int64_t property, int64_t from, int64_t to, int64_t except,
                     svc_each_fn fn, void *arg, bson_error_t *error)
{
    bson_t filter = BSON_INITIALIZER, range;
    BSON_APPEND_INT64(&filter, "property_id", property);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "day", &range);
    BSON_APPEND_INT64(&range, "$gte", from);
    BSON_APPEND_INT64(&range, "$lt", to);
    bson_append_document_end(&filter, &range);
    if (except > 0) {
        bson_t ne;
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "booking_id", &ne);
        BSON_APPEND_INT64(&ne, "$ne", except);
        bson_append_document_end(&filter, &ne);
    }
    bson_t *opts = BCON_NEW("sort", "{", "day", BCON_INT32(1), "}");
    bool ok = svc_find_each(nights, &filter, opts, fn, arg, error);
    bson_destroy(opts);
    bson_destroy(&filter);
    return ok;
}

/* The dates a conflict names: the first BOOKINGS_CONFLICTS_SHOWN, and how many. */
typedef struct {
    bson_string_t *held;
    int total;
} bookings_held_t;

static bool
bookings_held_night(const bson_t *doc, void *arg)
{
    bookings_held_t *h = arg;
    if (h->total++ < BOOKINGS_CONFLICTS_SHOWN)
        bson_string_append_printf(h->held, "%s%s", h->held->len ? ", " : "", bookings_str(doc, "date"));
    return true;
}

/* Gives back every night booking `id` holds; false when the database did
 * not say it did (the nights may still be held). */
static bool
bookings_release_nights(mongoc_collection_t *nights, int64_t id, bson_error_t *error)
{
    bson_t *mine = BCON_NEW("booking_id", BCON_INT64(id));
    bool ok = svc_delete(nights, mine, true, error);
    bson_destroy(mine);
    return ok;
}

/*
 * Takes the nights [in, out) of `property` for booking `id`. Returns 1 when
 * all are taken, 0 when some are held by another booking (then it replies
 * 409 naming the held dates), -1 after replying an error. Unless it
 * returns 1 it gives back what it took, whatever made it fail (an ordered
 * insert that fails half-way has written the nights before the failure);
 * *released says whether the database confirmed that.
 */
static int
bookings_take_nights(svc_call_t *call, mongoc_collection_t *nights, int64_t property, int64_t id, int64_t in,
                     int64_t out, bool *released)
{
    int64_t n = out - in;
    bson_t *docs[BOOKINGS_MAX_NIGHTS];
    bson_error_t error;
    char date[11], key[48];
    int rv = -1;

    for (int64_t i = 0; i < n; i++) {
        bookings_date(in + i, date);
        snprintf(key, sizeof(key), "%lld:%s", (long long)property, date);
        docs[i] = BCON_NEW("_id", BCON_UTF8(key), "property_id", BCON_INT64(property), "day", BCON_INT64(in + i),
                           "date", BCON_UTF8(date), "booking_id", BCON_INT64(id));
    }
    bool ok = svc_insert_all(nights, (const bson_t *const *)docs, (size_t)n, true, &error);
    for (int64_t i = 0; i < n; i++)
        bson_destroy(docs[i]);
    *released = false;
    if (ok)
        return 1;
    if (!svc_is_duplicate(&error)) {
        *released = bookings_release_nights(nights, id, NULL);
        svc_fail_db(call, &error);
        return -1;
    }
    /* Someone holds a night: say which, then give back what this one took. */
    bookings_held_t h = {.held = bson_string_new(NULL)};
    bool read_ok = bookings_nights_each(nights, property, in, out, id, bookings_held_night, &h, &error);
    bson_string_t *held = h.held;
    int total = h.total;
    *released = bookings_release_nights(nights, id, NULL);
    if (!read_ok) {
        svc_fail_db(call, &error);
    } else {
        svc_fail(call, 409, "booking_conflict", "the property is already booked on %s%s",
                 total ? held->str : "some of these nights", total > BOOKINGS_CONFLICTS_SHOWN ? " and more" : "");
        rv = 0;
    }
    bson_string_free(held, true);
    return rv;
}

/* A refused booking leaves nothing; but while nights may still be held for
 * it (`released` false: the database did not answer), it stays pending, so
 * that a retry of its request (same X-Request-Id) finds it and starts its
 * nights afresh. Nothing else sweeps such a booking (docs/protocol.md). */
static void
bookings_forget(mongoc_collection_t *bookings, int64_t id, bool released)
{
    if (!released)
        return;
    bson_t *by_id = BCON_NEW("_id", BCON_INT64(id));
    svc_delete(bookings, by_id, false, NULL);
    bson_destroy(by_id);
}

static void
bookings_create(svc_call_t *call)
{
    const envelope_request_t *req = call->req;
    field_errors_t errors;
    bson_error_t error;
    int64_t property, owner, in, out, id;
    char in_date[11], out_date[11];
    bson_t doc = BSON_INITIALIZER, existing = BSON_INITIALIZER;
    mongoc_collection_t *bookings = svc_collection(call->mongo, "bookings", "bookings");
    mongoc_collection_t *nights = svc_collection(call->mongo, "bookings", "nights");

    field_errors_init(&errors);
    validate_id(&req->params, "id", &errors, &property);
    bookings_check_stay(&req->body, bookings_today(), &errors, &in, &out);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    if (!bookings_property_owner(call, property, &owner))
        goto done;

    /* A repeat of this request resumes or answers as the first did. */
    bson_t *by_key = BCON_NEW("rid", BCON_UTF8(call->key));
    bool found;
    bool ok = svc_find_one(bookings, by_key, &existing, &found, &error);
    bson_destroy(by_key);
    if (!ok) {
        svc_fail_db(call, &error);
        goto done;
    }
    if (found && strcmp(bookings_str(&existing, "status"), "pending") != 0) {
        bookings_reply_doc(call, 201, &existing);
        goto done;
    }
    if (found) {
        id = bookings_int(&existing, "_id");
        if (!bookings_release_nights(nights, id, &error)) { /* start its nights afresh */
            svc_fail_db(call, &error);
            goto done;
        }
        bson_copy_to(&existing, &doc);
        bson_destroy(&existing);
        bson_init(&existing);
    } else {
        int64_t now = clock_realtime_us();
        bookings_date(in, in_date);
        bookings_date(out, out_date);
        bson_t fields = BSON_INITIALIZER;
        BSON_APPEND_INT64(&fields, "property_id", property);
        BSON_APPEND_INT64(&fields, "owner_id", owner);
        BSON_APPEND_INT64(&fields, "guest_id", req->auth_sub);
        BSON_APPEND_UTF8(&fields, "check_in", in_date);
        BSON_APPEND_UTF8(&fields, "check_out", out_date);
        BSON_APPEND_INT64(&fields, "nights", out - in);
        BSON_APPEND_UTF8(&fields, "status", "pending");
        BSON_APPEND_INT64(&fields, "created_at", now);
        BSON_APPEND_INT64(&fields, "updated_at", now);
        BSON_APPEND_UTF8(&fields, "rid", call->key);
        bson_destroy(&doc);
        svc_insert_t inserted = svc_insert_next(bookings, &fields, call->key, &doc, &error);
        bson_destroy(&fields);
        if (inserted == SVC_INSERT_FAILED || inserted == SVC_INSERT_CONFLICT) {
            if (inserted == SVC_INSERT_FAILED)
                svc_fail_db(call, &error);
            else
                svc_fail(call, 500, "internal", "a booking collided on an unexpected unique index");
            goto done;
        }
        if (inserted == SVC_INSERT_REPEAT && strcmp(bookings_str(&doc, "status"), "pending") != 0) {
            bookings_reply_doc(call, 201, &doc); /* a concurrent delivery of this request finished it */
            goto done;
        }
        id = bookings_int(&doc, "_id");
    }
    bool released;
    int taken = bookings_take_nights(call, nights, property, id, in, out, &released);
    if (taken <= 0) {
        bookings_forget(bookings, id, released);
        goto done;
    }
    bson_t *by_id = BCON_NEW("_id", BCON_INT64(id));
    bson_t *confirm =
        BCON_NEW("$set", "{", "status", BCON_UTF8("confirmed"), "updated_at", BCON_INT64(clock_realtime_us()), "}");
    ok = svc_update(bookings, by_id, confirm, false, &error);
    bson_destroy(confirm);
    if (ok)
        ok = svc_find_one(bookings, by_id, &existing, &found, &error) && found;
    bson_destroy(by_id);
    if (!ok)
        svc_fail_db(call, &error);
    else
        bookings_reply_doc(call, 201, &existing);
done:
    field_errors_destroy(&errors);
    bson_destroy(&doc);
    bson_destroy(&existing);
    svc_collection_close(bookings);
    svc_collection_close(nights);
}

/* Loads booking params.id for the guest or the owner; replies itself otherwise. */
static bool
bookings_load_visible(svc_call_t *call, mongoc_collection_t *bookings, bson_t *doc)
{
    field_errors_t errors;
    bson_error_t error;
    int64_t id;
    bool found = false;

    field_errors_init(&errors);
    if (!validate_id(&call->req->params, "id", &errors, &id)) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return false;
    }
    field_errors_destroy(&errors);
    bson_t *filter = BCON_NEW("_id", BCON_INT64(id));
    bool ok = svc_find_one(bookings, filter, doc, &found, &error);
    bson_destroy(filter);
    if (!ok) {
        svc_fail_db(call, &error);
        return false;
    }
    if (!found || strcmp(bookings_str(doc, "status"), "pending") == 0) {
        svc_fail(call, 404, "not_found", "no booking has id %lld", (long long)id);
        return false;
    }
    if (bookings_int(doc, "guest_id") != call->req->auth_sub && bookings_int(doc, "owner_id") != call->req->auth_sub) {
        svc_fail(call, 403, "forbidden", "only the guest and the property's owner may see this booking");
        return false;
    }
    return true;
}

static void
bookings_get(svc_call_t *call)
{
    mongoc_collection_t *bookings = svc_collection(call->mongo, "bookings", "bookings");
    bson_t doc = BSON_INITIALIZER;
    if (bookings_load_visible(call, bookings, &doc))
        bookings_reply_doc(call, 200, &doc);
    bson_destroy(&doc);
    svc_collection_close(bookings);
}

/* Cancels: the status first, then the nights, so a crash in between can
 * only leave nights held (safe), never a confirmed stay without its nights.
 * Cancelling a cancelled booking answers with it again and finishes the
 * release of its nights. */
static void
bookings_cancel(svc_call_t *call)
{
    mongoc_collection_t *bookings = svc_collection(call->mongo, "bookings", "bookings");
    mongoc_collection_t *nights = svc_collection(call->mongo, "bookings", "nights");
    bson_t doc = BSON_INITIALIZER, updated = BSON_INITIALIZER;
    bson_error_t error;
    bool found;

    if (!bookings_load_visible(call, bookings, &doc))
        goto done;
    int64_t id = bookings_int(&doc, "_id");
    bson_t *by_id = BCON_NEW("_id", BCON_INT64(id));
    if (strcmp(bookings_str(&doc, "status"), "confirmed") == 0) {
        int64_t now = clock_realtime_us();
        bson_t *filter = BCON_NEW("_id", BCON_INT64(id), "status", BCON_UTF8("confirmed"));
        bson_t *set = BCON_NEW("$set", "{", "status", BCON_UTF8("cancelled"), "cancelled_at", BCON_INT64(now),
                               "updated_at", BCON_INT64(now), "}");
        bool ok = svc_update(bookings, filter, set, false, &error);
        bson_destroy(filter);
        bson_destroy(set);
        if (!ok) {
            svc_fail_db(call, &error);
            bson_destroy(by_id);
            goto done;
        }
    }
    bson_t *mine = BCON_NEW("booking_id", BCON_INT64(id));
    bool ok = svc_delete(nights, mine, true, &error) && svc_find_one(bookings, by_id, &updated, &found, &error);
    bson_destroy(mine);
    bson_destroy(by_id);
    if (!ok)
        svc_fail_db(call, &error);
    else
        bookings_reply_doc(call, 200, &updated);
done:
    bson_destroy(&doc);
    bson_destroy(&updated);
    svc_collection_close(bookings);
    svc_collection_close(nights);
}

static const svc_op_t bookings_ops[] = {
    {"bookings.availability", bookings_availability},
    {"bookings.create", bookings_create, SVC_AUTH_REQUIRED},
    {"bookings.get", bookings_get, SVC_AUTH_REQUIRED},
    {"bookings.cancel", bookings_cancel, SVC_AUTH_REQUIRED},
    {"bookings.mine", bookings_mine, SVC_AUTH_REQUIRED},
    {"bookings.for_property", bookings_for_property, SVC_AUTH_REQUIRED},
    {NULL, NULL},
};

const svc_service_t bookings_service = {.name = "bookings", .ops = bookings_ops};
