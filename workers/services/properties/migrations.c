/*
 * The versions of the properties database (migrate/migration.h): 1 its indexes,
 * 2 the living area of every property, backfilled, 3 its bedroom and
 * bathroom counts, 4 the search indexes, 5 every property's listing
 * snapshot marked to be sent, 6 its words, 7 the text index over them,
 * 8 the snapshots marked again to carry the words, 9 the photos' indexes.
 * `roostctl migrate up properties` applies them.
 */
#include "properties.h"
#include "query/words.h"

#include <stdio.h>

/* Every read is of live properties (deleted_at absent): each index leads
 * with deleted_at, then one filter or one order_by field, so that a page
 * and its total are index steps (docs/embedded-db.md). {deleted_at} alone
 * serves order_by=id. */
static const svc_index_t properties_indexes[] = {
    {"properties", "rid_unique", "rid", true},
    {"properties", "live_id", "deleted_at", false},
    {"properties", "live_city_key", "deleted_at,city_key", false},
    {"properties", "live_type", "deleted_at,type", false},
    {"properties", "live_owner", "deleted_at,owner_id", false},
    {"properties", "live_room_count", "deleted_at,room_count", false},
    {"properties", "live_name", "deleted_at,name", false},
    {"properties", "live_created", "deleted_at,-created_at", false},
    {"properties", "live_updated", "deleted_at,-updated_at", false},
    {"properties", "live_city", "deleted_at,city", false}, /* GET /api/v1/cities groups by it */
    {"changes", "property_version", "property_id,version", false},
};

/* What later versions index: the map (a 2dsphere index on the GeoJSON
 * point) and the properties whose listings still wait for their snapshot
 * (docs/search.md). */
static const svc_index_t properties_search_indexes[] = {
    {"properties", "location_2dsphere", "location:2dsphere", false},
    {"properties", "listings_pending", "listings_pending", false},
};

/* Keyword search (query/words.h): weighted as a portal ranks — a word of
 * the name before one of the city, the address, then the description;
 * `words` (every word, folded by Roost) is what makes the AND exact on
 * both databases. Language "none": no stemming, no stop words. */
static const svc_index_t properties_text_indexes[] = {
    {"properties", "search_text", "name:text:10,city:text:5,address:text:3,description:text:1,words:text:1", false},
};

/* Photos (media.c): a property's files and the sweep's (media.files, the
 * GridFS bucket, whose own indexes the driver makes with its first file),
 * and the pieces of uploads, by upload and by age. */
static const svc_index_t properties_media_indexes[] = {
    {"media.files", "property_media", "metadata.property_id,metadata.media_id", false},
    {"media.files", "uncommitted", "metadata.committed,uploadDate", false},
    {"media_pieces", "upload_n", "upload,n", false},
    {"media_pieces", "at", "at", false},
};

#define BACKFILL_BATCH 200

static const char *const rooms_only[] = {"rooms", NULL}; /* what the rooms' backfills read */

/* A backfill: `field` set from each property's `reads` (a NULL-terminated
 * list of the fields `set` looks at) where it is missing. */
typedef struct {
    const char *field;
    /* Appends the fields to $set for `doc`; false when its rooms are malformed. */
    bool (*set)(const bson_t *doc, bson_t *set);
    const char *const *reads;
} backfill_t;

/* One batch of backfill_up. */
typedef struct {
    const backfill_t *what;
    svc_migration_run_t *run;
    mongoc_collection_t *coll;
    bson_error_t *error;
    int64_t after; /* the last _id done */
    int seen;
    bool failed;
} backfill_batch_t;

static bool
backfill_one(const bson_t *doc, void *arg)
{
    backfill_batch_t *b = arg;
    bson_iter_t it;
    bson_t *update = bson_new(), set;
    int64_t id = bson_iter_init_find(&it, doc, "_id") ? bson_iter_as_int64(&it) : 0;
    b->seen++;
    BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
    bool made = b->what->set(doc, &set);
    bson_append_document_end(update, &set);
    if (!made) {
        bson_set_error(b->error, 0, 0,
                       "property %lld: its rooms are not a list of rooms each with a kind and a numeric area_m2; "
                       "repair it and run the migration again (it resumes here)",
                       (long long)id);
        b->failed = true;
    } else if (!svc_migration_holding(b->run, b->error)) {
        b->failed = true;
    } else {
        bson_t *sel = BCON_NEW("_id", BCON_INT64(id));
        b->failed = !svc_update(b->coll, sel, update, false, b->error);
        bson_destroy(sel);
    }
    bson_destroy(update);
    if (!b->failed)
        b->after = id;
    return !b->failed;
}

/*
 * Up: sets the backfill's fields on every property without them, in _id
 * order, 200 at a time, saving the last _id done: a run stopped halfway
 * resumes after it. A property whose rooms are malformed stops the run,
 * naming it, so that it can be repaired first; nothing is guessed.
 */
static bool
backfill_up(svc_migration_run_t *run, const backfill_t *what, bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(run->mongo, run->service, "properties");
    bson_iter_t it;
    backfill_batch_t b = {.what = what, .run = run, .coll = coll, .error = error};
    b.after = bson_iter_init_find(&it, run->progress, "after_id") ? bson_iter_as_int64(&it) : 0;
    bool ok = true, more = true;
    while (ok && more) {
        bson_t *filter =
            BCON_NEW("_id", "{", "$gt", BCON_INT64(b.after), "}", what->field, "{", "$exists", BCON_BOOL(false), "}");
        bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "limit", BCON_INT64(BACKFILL_BATCH)), proj;
        BSON_APPEND_DOCUMENT_BEGIN(opts, "projection", &proj);
        for (const char *const *f = what->reads; *f != NULL; f++)
            BSON_APPEND_INT32(&proj, *f, 1);
        bson_append_document_end(opts, &proj);
        b.seen = 0;
        bson_error_t read_error;
        ok = svc_find_each(coll, filter, opts, backfill_one, &b, &read_error) && !b.failed;
        if (!b.failed && !ok)
            *error = read_error;
        bson_destroy(filter);
        bson_destroy(opts);
        more = b.seen == BACKFILL_BATCH;
        /* What is done stays done, also when this batch stopped partway. */
        bson_error_t save_error;
        bson_t *progress = BCON_NEW("after_id", BCON_INT64(b.after));
        if (!svc_migration_save(run, progress, ok ? error : &save_error))
            ok = false;
        bson_destroy(progress);
    }
    svc_collection_close(coll);
    return ok;
}

/* Down of a backfill or a mark: unsets `fields` (NULL-terminated) everywhere; one idempotent update. */
static bool
unset_everywhere(svc_migration_run_t *run, const char *const *fields, bson_error_t *error)
{
    if (!svc_migration_holding(run, error))
        return false;
    mongoc_collection_t *coll = svc_collection(run->mongo, run->service, "properties");
    bson_t filter = BSON_INITIALIZER, *update = bson_new(), unset, any, cond;
    BSON_APPEND_ARRAY_BEGIN(&filter, "$or", &any);
    for (int i = 0; fields[i] != NULL; i++) {
        char key[16];
        snprintf(key, sizeof(key), "%d", i);
        BSON_APPEND_DOCUMENT_BEGIN(&any, key, &cond);
        BCON_APPEND(&cond, fields[i], "{", "$exists", BCON_BOOL(true), "}");
        bson_append_document_end(&any, &cond);
    }
    bson_append_array_end(&filter, &any);
    BSON_APPEND_DOCUMENT_BEGIN(update, "$unset", &unset);
    for (int i = 0; fields[i] != NULL; i++)
        BSON_APPEND_UTF8(&unset, fields[i], "");
    bson_append_document_end(update, &unset);
    bool ok = svc_update(coll, &filter, update, true, error);
    bson_destroy(&filter);
    bson_destroy(update);
    svc_collection_close(coll);
    return ok;
}

static bool
living_area_set(const bson_t *doc, bson_t *set)
{
    double area_m2;
    if (!properties_living_area(doc, &area_m2))
        return false;
    BSON_APPEND_DOUBLE(set, "living_area_m2", area_m2);
    return true;
}

static bool
living_area_up(svc_migration_run_t *run, bson_error_t *error)
{
    static const backfill_t what = {"living_area_m2", living_area_set, rooms_only};
    return backfill_up(run, &what, error);
}

static bool
living_area_down(svc_migration_run_t *run, bson_error_t *error)
{
    static const char *const fields[] = {"living_area_m2", NULL};
    return unset_everywhere(run, fields, error);
}

static bool
room_counts_set(const bson_t *doc, bson_t *set)
{
    int32_t bedrooms, bathrooms;
    if (!properties_room_counts(doc, &bedrooms, &bathrooms))
        return false;
    BSON_APPEND_INT32(set, "bedrooms", bedrooms);
    BSON_APPEND_INT32(set, "bathrooms", bathrooms);
    return true;
}

static bool
room_counts_up(svc_migration_run_t *run, bson_error_t *error)
{
    static const backfill_t what = {"bathrooms", room_counts_set, rooms_only}; /* both are set together */
    return backfill_up(run, &what, error);
}

static bool
room_counts_down(svc_migration_run_t *run, bson_error_t *error)
{
    static const char *const fields[] = {"bedrooms", "bathrooms", NULL};
    return unset_everywhere(run, fields, error);
}

static bool
words_set(const bson_t *doc, bson_t *set)
{
    words_append(set, "words", doc);
    return true;
}

static bool
words_up(svc_migration_run_t *run, bson_error_t *error)
{
    static const backfill_t what = {"words", words_set, words_fields};
    return backfill_up(run, &what, error);
}

static bool
words_down(svc_migration_run_t *run, bson_error_t *error)
{
    static const char *const fields[] = {"words", NULL};
    return unset_everywhere(run, fields, error);
}

/* Up: every live property's listings wait for its snapshot; the workers'
 * sync (properties.sync_listings) sends them, and clears each mark. One
 * idempotent update. */
static bool
listings_pending_up(svc_migration_run_t *run, bson_error_t *error)
{
    if (!svc_migration_holding(run, error))
        return false;
    mongoc_collection_t *coll = svc_collection(run->mongo, run->service, "properties");
    bson_t *filter = BCON_NEW("deleted_at", "{", "$exists", BCON_BOOL(false), "}");
    bson_t *update = BCON_NEW("$set", "{", "listings_pending", BCON_BOOL(true), "}");
    bool ok = svc_update(coll, filter, update, true, error);
    bson_destroy(filter);
    bson_destroy(update);
    svc_collection_close(coll);
    return ok;
}

static bool
listings_pending_down(svc_migration_run_t *run, bson_error_t *error)
{
    static const char *const fields[] = {"listings_pending", NULL};
    return unset_everywhere(run, fields, error);
}

const svc_migration_t properties_migrations[] = {
    SVC_MIGRATION_INDEXES(1, "indexes", properties_indexes),
    {.version = 2,
     .name = "living_area",
     .up = living_area_up,
     .down = living_area_down,
     .definition = "up: set properties.living_area_m2 = sum(rooms[].area_m2) where missing, by _id, 200 a batch, "
                   "stopping at a property with malformed rooms; down: unset properties.living_area_m2"},
    {.version = 3,
     .name = "room_counts",
     .up = room_counts_up,
     .down = room_counts_down,
     .definition = "up: set properties.bedrooms and bathrooms = the count of rooms[] of that kind where missing, by "
                   "_id, 200 a batch, stopping at a property with malformed rooms; down: unset them"},
    SVC_MIGRATION_INDEXES(4, "search_indexes", properties_search_indexes),
    {.version = 5,
     .name = "listings_snapshot",
     .up = listings_pending_up,
     .down = listings_pending_down,
     .definition = "up: set properties.listings_pending = true on every live property, so that the workers send "
                   "each one's snapshot to its listings; down: unset properties.listings_pending"},
    {.version = 6,
     .name = "words",
     .up = words_up,
     .down = words_down,
     .definition = "up: set properties.words = the distinct folded words of name, description, address and city "
                   "(text_words) where missing, by _id, 200 a batch; down: unset properties.words"},
    SVC_MIGRATION_INDEXES(7, "text_index", properties_text_indexes),
    {.version = 8,
     .name = "listings_snapshot_words",
     .up = listings_pending_up,
     .down = listings_pending_down,
     .definition = "up: set properties.listings_pending = true on every live property again, so that each "
                   "listing's snapshot gets the property's words (snapshot format 2); down: unset "
                   "properties.listings_pending"},
    SVC_MIGRATION_INDEXES(9, "media_indexes", properties_media_indexes),
    {0},
};
