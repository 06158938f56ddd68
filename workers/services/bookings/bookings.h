/*
 * The bookings service: stays at properties, in the database
 * <prefix>bookings.
 *
 * "bookings" holds {_id, property_id, owner_id (of the property, when
 * booked), guest_id, check_in, check_out (YYYY-MM-DD; check_out is the day
 * of departure), nights, status ("pending" while its nights are being
 * taken, "confirmed", "cancelled"), created_at, updated_at, cancelled_at?,
 * rid}. "nights" holds one document per booked night, whose _id is
 * "<property_id>:<YYYY-MM-DD>": the unique _id is what makes a double
 * booking impossible, whatever the number of workers and requests.
 */
#ifndef ROOST_BOOKINGS_H
#define ROOST_BOOKINGS_H

#include "sdk/service.h"

extern const svc_service_t bookings_service;
/* The versions of the bookings database, {0}-terminated (migrations.c). */
extern const svc_migration_t bookings_migrations[];

#define BOOKINGS_MAX_NIGHTS 365

/* --- shared by the handlers (bookings.c, read.c) ------------------------------ */

/* An int64 field of a stored booking (0 when absent). */
int64_t bookings_int(const bson_t *doc, const char *key);
/* The public shape of a booking. */
void bookings_render(const bson_t *doc, bson_t *out);
/* Asks the properties service for property `id`'s owner; replies itself
 * and returns false when it cannot (404, 503, 502). */
bool bookings_property_owner(svc_call_t *call, int64_t id, int64_t *owner);
/* Calls `fn` with each night of `property` held in [from, to), but
 * booking `except`'s, in date order. */
bool bookings_nights_each(mongoc_collection_t *nights, int64_t property, int64_t from, int64_t to, int64_t except,
                          svc_each_fn fn, void *arg, bson_error_t *error);

void bookings_availability(svc_call_t *call);
void bookings_mine(svc_call_t *call);
void bookings_for_property(svc_call_t *call);

/* --- dates (dates.c; pure, unit-tested) --------------------------------------- */

/* Days since 1970-01-01 of a real date written YYYY-MM-DD, or INT64_MIN. */
int64_t bookings_day(const char *date);

/* The YYYY-MM-DD of a day number. */
void bookings_date(int64_t day, char out[11]);

/*
 * Checks a stay {check_in, check_out}: real dates, check_out after
 * check_in, at most BOOKINGS_MAX_NIGHTS nights, check_in not before
 * `today` (a day number). Sets the day numbers of both.
 */
bool bookings_check_stay(const bson_t *body, int64_t today, field_errors_t *e, int64_t *in, int64_t *out);

#endif
