/*
 * The properties service: properties with rooms, in the database
 * <prefix>properties, collection "properties".
 *
 * A property document is {_id, name, description, type, city, city_key
 * (text_key: NFC + case folded, for case-insensitive filters), address,
 * location? (a GeoJSON Point), rooms: [{id, name, kind, area_m2,
 * characteristics}], room_count, living_area_m2, bedrooms, bathrooms
 * (kept from the rooms), words (kept from the texts, query/words.h),
 * next_room_id, owner_id,
 * version, created_at, updated_at, rid (of the create, unique), last_rid
 * (of the last change), deleted_at?}. A deleted property stays as a
 * tombstone so that a retried DELETE still answers as the first did; no
 * read ever returns it.
 *
 * Every change is a whole-document replace conditioned on {_id, version}:
 * two writers never overwrite each other silently, and If-Match is checked
 * against the same version.
 */
#ifndef ROOST_PROPERTIES_H
#define ROOST_PROPERTIES_H

#include "query/odata.h"
#include "sdk/service.h"

extern const svc_service_t properties_service;

#define PROPERTIES_PER_PAGE_DEFAULT 10
#define PROPERTIES_PER_PAGE_MAX 100
#define PROPERTIES_MAX_ROOMS 100
#define PROPERTIES_MAX_CHARACTERISTICS 50

/* The documented sets; NULL-terminated. */
extern const char *const properties_types[];
extern const char *const properties_room_kinds[];

/* --- field rules (fields.c; pure, unit-tested) ----------------------------- */

/*
 * Checks the property fields present in `body` (name, description, type,
 * city, address; `required` makes name/type/city/address mandatory) and
 * reports each offender. For a merge-patch, a null is refused where the
 * field cannot be absent.
 */
bool properties_check_fields(const bson_t *body, bool required, field_errors_t *e);

/*
 * Checks one room object (name, kind, area_m2, characteristics; all but
 * characteristics required when `required`). `prefix` names the field in
 * errors, e.g. "rooms[2]" or "" for a room body.
 */
bool properties_check_room(const bson_t *room, bool required, const char *prefix, field_errors_t *e);

/* Checks `location` when present: null, or {lat in [-90, 90], lon in
 * [-180, 180]} with both and nothing else (WGS84 degrees). */
bool properties_check_location(const bson_t *body, field_errors_t *e);
/* Appends a checked body's non-null location as the stored GeoJSON Point
 * {type: "Point", coordinates: [lon, lat]} (what a 2dsphere index reads). */
void properties_append_location(bson_t *doc, const bson_t *body);

/* Checks a create body: property fields, then each room of `rooms`. */
bool properties_validate_new(const bson_t *body, field_errors_t *e);

/* --- handlers (edit.c) ----------------------------------------------------- */
/* Computes the fields a change overrides into `changes` (an uninitialised
 * document on entry), with the caller's `arg`; on a refusal it replies
 * itself and returns false. */
typedef bool (*properties_change_fn)(svc_call_t *call, const bson_t *current, bson_t *changes, void *arg);
typedef struct {
    properties_change_fn fn;
    void *arg;
} properties_change_t;

/* --- edit.c, shared with rooms.c ------------------------------------------ */

/* Runs one owner-only change of the property params.id: load, owner,
 * expect_version, `change`, commit a new version; replies `status` with the
 * property, or the refusal. */
void properties_edit(svc_call_t *call, int status, properties_change_fn change, void *arg);
/* An int64 / string field of a stored property (0 / "" when absent). */
int64_t properties_int(const bson_t *doc, const char *key);
const char *properties_str(const bson_t *doc, const char *key);
/* Appends room `room_id` as item `index` of `rooms`, from `src` (a validated room). */
void properties_append_room(bson_t *rooms, uint32_t index, int64_t room_id, const bson_t *src);
/* The document `it` holds, as a view; false when it holds none. */
bool properties_view(const bson_iter_t *it, bson_t *out);

/* The living area of a stored property (or of a change holding its new
 * rooms): the sum of its rooms' area_m2, in m² rounded to 0.01, stored as living_area_m2
 * with every write of its rooms (migration 2, migrations.c). False when
 * `doc` has rooms that are not documents each with a numeric area_m2. */
bool properties_living_area(const bson_t *doc, double *area_m2);
/* Its bedrooms and bathrooms: the rooms of each kind (area.c, migration
 * 3). False when `doc` has rooms that are not documents each with a kind. */
bool properties_room_counts(const bson_t *doc, int32_t *bedrooms, int32_t *bathrooms);
/* Appends living_area_m2, bedrooms and bathrooms as the rooms `changes`
 * holds make them: what every rooms write stores beside the rooms. */
void properties_append_derived(bson_t *changes);

/* Appends `words`: the distinct folded words of doc's name, description,
 * address and city (query/words.h), what q= searches; with every write. */
void properties_append_words(bson_t *doc);

/* --- sync.c: listings' snapshots of a property ----------------------------- */
/* Asks listings.sync_property for property `id`, then, with `clear`,
 * clears its mark; false (logged, `call` untouched) when that could not be
 * done now. */
bool properties_sync_listings(svc_call_t *call, int64_t id, bool clear);
void properties_tick(svc_call_t *call); /* properties.tick: the sweeps */

void properties_create(svc_call_t *call);
void properties_update(svc_call_t *call);
void properties_delete(svc_call_t *call);
void properties_room_add(svc_call_t *call);
void properties_room_update(svc_call_t *call);
void properties_room_delete(svc_call_t *call);

void properties_list(svc_call_t *call); /* list.c */
/* A property's OData vocabulary (list.c; odata.h). */
extern const odata_resource_t properties_odata;

/* The versions of the properties database, {0}-terminated (migrations.c). */
extern const svc_migration_t properties_migrations[];

/* --- media.c, media_edit.c, media_read.c: photos (docs/protocol.md) ------ */
/* The GridFS bucket of photos in this service's database: media.files, media.chunks. */
#define PROPERTIES_MEDIA_BUCKET "media"
#define PROPERTIES_MEDIA_ID_LEN 24
/* The id of the photo that `sub`'s request `rid` uploads to property
 * `property_id`, of bytes whose SHA-256 is `sha256` (hex): the same for
 * every delivery of that request, so that a retried upload makes one
 * photo, and another for other bytes, so that an id never names two
 * pictures (its URL is cached as immutable). 24 hex digits. */
void properties_media_id(int64_t property_id, int64_t sub, const char *rid, const char *sha256,
                         char out[PROPERTIES_MEDIA_ID_LEN + 1]);
/* An upload's key: the caller and its request id ("<sub>:<rid>"), under
 * which its pieces are kept and its photo remembers it. */
void properties_media_upload_key(const svc_call_t *call, char *out, size_t size);
/* The SHA-256 of `len` bytes, as lowercase hex: a photo's ETag, an upload's name. */
#define PROPERTIES_SHA256_HEX 64
void properties_sha256_hex(const uint8_t *bytes, size_t len, char out[PROPERTIES_SHA256_HEX + 1]);
/* params.mid: a photo id as this service makes them; false when it replied 404. */
bool properties_media_param_id(svc_call_t *call, const char **mid);
/* Marks file `mid` (a photo or a copy) committed: from now on it is served. */
bool properties_media_commit_file(svc_call_t *call, const char *mid, bson_error_t *error);
/* Property `id`, live, into `property` (initialised); false when it
 * replied 404 (or a database error). */
bool properties_load_live(svc_call_t *call, int64_t id, bson_t *property);
/* Property `id`, live and the caller's, into `property` (initialised);
 * false when it replied 404 or 403 (or a database error). */
bool properties_media_owned(svc_call_t *call, int64_t id, bson_t *property);
int properties_photo_count(const bson_t *property);
/* 409 (replied, false) when the property has as many photos as it may. */
bool properties_media_room(svc_call_t *call, const bson_t *property);
#define PROPERTIES_MEDIA_MAX_PIECES 4096
/* An upload's pieces joined, in order (media_pieces.c). */
typedef struct {
    uint8_t *bytes;
    size_t len, cap;
    int64_t next_n, max;
    bool broken, too_large;
} properties_joined_t;
/* The bytes of the caller's upload under this request id, joined from its
 * `count` pieces into `j` (bson_free j->bytes); false when it replied
 * (400: a piece is missing, 413: the whole is too large). */
bool properties_media_join(svc_call_t *call, int64_t count, properties_joined_t *j);
/* Removes the pieces of this call's upload; a failure leaves them to the sweep. */
void properties_media_forget_pieces(svc_call_t *call);
/* Photo `mid` of a stored or rendered property, as a view. */
bool properties_photo_find(const bson_t *property, const char *mid, bson_t *photo);
/* Runs `change` as an edit of the property params.id, expecting `status`:
 * returns the status it got, with the stored property as it is now in
 * `after` (uninitialised) when it is `status`; otherwise the answer
 * (the edit's refusal) is `call`'s. */
int properties_media_edit(svc_call_t *call, int status, properties_change_fn change, void *arg, bson_t *after);
/* Answers `status` with photo `mid` as `property` lists it. */
void properties_media_reply_photo(svc_call_t *call, int status, int64_t id, const bson_t *property, const char *mid);
/* A photo as served: {id, url, order, width, height, caption?}, and with
 * `full` also property_id, content_type, bytes, sha256, created_at. */
void properties_render_photo(int64_t property_id, const bson_t *photo, bool full, bson_t *out);
/* Appends a property's photos (ordered), cover_url (null without any) and photos_count. */
void properties_render_photos(const bson_t *doc, bson_t *out);
/* Removes every file of property `id`, after its delete; what fails is left to the sweep. */
void properties_media_remove_all(svc_call_t *call, int64_t id);
/* Removes the pieces and files of uploads older than
 * ROOST_MEDIA_UPLOAD_TIMEOUT_S that never became a photo; how many. */
int properties_media_sweep(svc_call_t *call);
void properties_media_piece(svc_call_t *call);
void properties_media_add(svc_call_t *call);
void properties_media_get(svc_call_t *call);
void properties_media_list(svc_call_t *call);
void properties_media_update(svc_call_t *call);
void properties_media_delete(svc_call_t *call);
void properties_media_read(svc_call_t *call);

/* --- shared (properties.c) -------------------------------------------------- */
void properties_render(const bson_t *doc, bson_t *out);

#endif
