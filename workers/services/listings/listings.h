/*
 * The listings service: offers to rent or sell, in the database
 * <prefix>listings, collection "listings".
 *
 * A listing document is {_id, user_id, property_id?, listing_type ("rent"
 * or "sale"), price (int > 0), property? (the snapshot of its property's
 * searchable fields, snapshot.c), property_version?, version, created_at,
 * updated_at, rid (of the create, unique), last_rid, deleted_at?}. A
 * deleted listing stays as a tombstone so that a re-delivered DELETE
 * answers as the first did; no read returns it. Users and properties are
 * checked by asking their services over nng.
 */
#ifndef ROOST_LISTINGS_H
#define ROOST_LISTINGS_H

#include "query/geo.h"
#include "query/odata.h"

#include "sdk/service.h"

extern const svc_service_t listings_service;
/* The versions of the listings database, {0}-terminated (migrations.c). */
extern const svc_migration_t listings_migrations[];

#define LISTINGS_PRICE_MAX 1000000000000LL
/* The most properties a city filter covers: properties.ids answers at most this many. */
#define LISTINGS_CITY_MAX 10000
/* The bounds of the bedroom/bathroom and living-area filters: a property's own. */
#define LISTINGS_ROOMS_MAX 100
#define LISTINGS_AREA_MAX 10000000

typedef struct {
    int64_t user_id;
    int64_t property_id; /* 0: none */
    const char *listing_type;
    int64_t price;
} listings_new_t;

/* --- rules (fields.c; pure, unit-tested) ----------------------------------- */

/*
 * The classic contract's {user_id, listing_type, price}: values may be
 * strings (form bodies) or integers (JSON), and the messages are the
 * contract's own ("invalid user_id", "invalid listing_type. Supported
 * values: 'rent', 'sale'", "invalid price. Must be an integer", "price must
 * be greater than 0").
 */
bool listings_check_classic(const bson_t *body, field_errors_t *e, listings_new_t *out);

/* The main API's body {listing_type, price, property_id?}; with `patch`,
 * every field is optional and property_id may be null (out->property_id -1). */
bool listings_check_main(const bson_t *body, bool patch, field_errors_t *e, listings_new_t *out);

/* --- shared by the handlers (listings.c) -------------------------------------- */

void listings_render(const bson_t *doc, bson_t *out); /* the main API's shape */
void listings_render_classic(const bson_t *doc,
                             bson_t *out); /* {id, user_id, listing_type, price, created_at, updated_at} */

/* Inserts a listing for this request, or finds the one an earlier delivery
 * of the same request inserted; `stored` (uninitialised) gets the document. */
bool listings_insert(svc_call_t *call, const listings_new_t *l, bson_t *stored, bson_error_t *error);
/* listings_insert with the snapshot of `property` (as properties.get
 * renders it, at `property_version`) when not NULL. */
bool listings_insert_with(svc_call_t *call, const listings_new_t *l, const bson_t *property, int64_t property_version,
                          bson_t *stored, bson_error_t *error);

/*
 * Asks the users service whether `user_id` exists: 1 yes, 0 no. On -1 it
 * has replied itself (503 when the users pool cannot be reached).
 */
int listings_user_exists(svc_call_t *call, int64_t user_id);

/* --- the property snapshot (snapshot.c) --------------------------------------- */

/* The snapshot stored on a listing, from a property as properties.get
 * renders it: {name, type, city, city_key, bedrooms, bathrooms,
 * living_area_m2, location? (a GeoJSON Point), words (query/words.h)}.
 * `out` is uninitialised. */
void listings_snapshot(const bson_t *property, bson_t *out);
/* Appends the snapshot of `property` (NULL: none, the property is gone)
 * with its property_version `version` and property_format: what a
 * listing stores of its property. */
void listings_append_snapshot(bson_t *doc, const bson_t *property, int64_t version);
/* Appends a stored listing's snapshot in its public shape, as "property"
 * (location as {lat, lon} or null); nothing when it has none. */
void listings_render_snapshot(const bson_t *doc, bson_t *out);
/* What a snapshot holds, numbered: 2 added words. A snapshot of the same
 * property version but an older format is rewritten too. */
#define LISTINGS_SNAPSHOT_FORMAT 2

/* Writes the snapshot of `property` (NULL: the property is gone) at
 * `version` on every live listing of property_id whose snapshot is older
 * (or of the same version and an older format). */
bool listings_apply_snapshot(mongoc_client_t *mongo, int64_t property_id, const bson_t *property, int64_t version,
                             bson_error_t *error);
/* Asks properties.get `id` into `property` (initialised always) and its
 * version: 200, 404 (*version INT64_MAX: gone), or -1 when it replied to
 * `call` itself. */
int listings_read_property(svc_call_t *call, int64_t id, bson_t *property, int64_t *version);
/* Reads property `id` and applies it to its listings; false when it
 * replied to `call` itself. */
bool listings_sync_property(svc_call_t *call, int64_t id, int64_t *version);
void listings_sync_op(svc_call_t *call); /* listings.sync_property */

/* --- the classic contract (classic.c) ----------------------------------------- */
void listings_list(svc_call_t *call); /* list.c */
/* The search parameters of a listing list (docs/search.md), checked into
 * `filter` (initialised) and `area` (the map, for the caller to append:
 * a search by distance reads it through $geoNear); errors named by the
 * parameter. Shared by the list and its facets. */
bool listings_search_filter(svc_call_t *call, field_errors_t *errors, bson_t *filter, geo_area_t *area);
void listings_facets(svc_call_t *call); /* facets.c */
/* Adds property_id $in (the live properties whose `key` — "city", or
 * "$filter" in the properties' own names — is `value`), asked of the
 * properties service in one request (properties.ids, at most 10,000). When
 * it cannot, replies to `call` itself (errors named `field`, the client's
 * name for the condition) and returns false. */
bool listings_filter_properties(svc_call_t *call, const char *key, const char *value, const char *field,
                                bson_t *filter);
/* A listing's OData vocabulary (list.c; odata.h). */
extern const odata_resource_t listings_odata;
/* The RESO Web API's Property (reso.c): a listing joined with its property. */
extern const odata_resource_t listings_reso_odata;
extern const char *const listings_property_types[];
void listings_reso(svc_call_t *call);
/* The RESO Web API's Media (reso_media.c): each photo of each live listing's property. */
void listings_reso_media(svc_call_t *call);
/* A time in µs as RESO writes it: ISO 8601 UTC with microseconds. */
void listings_iso_time(int64_t us, char out[40]);
/* "<set>?<the request's options, $top and $skip as given>", relative to
 * the service root: a RESO page's @odata.nextLink. bson_free it. */
char *listings_reso_next_link(const char *set, const bson_t *query, int64_t top, int64_t skip);
void listings_classic_list(svc_call_t *call);
/* The classic and the public API's create: one op body, {"listing"}. */
void listings_classic_create(svc_call_t *call);
void listings_public_list(svc_call_t *call);

#endif
