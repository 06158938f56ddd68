/*
 * The versions of the properties database (migrate/migration.h): 1 its indexes,
 * 2 the living area of every property, backfilled. `roostctl migrate up
 * properties` applies them.
 */
#include "properties.h"

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

#define LIVING_AREA_BATCH 200

/* One batch of living_area_up. */
typedef struct {
    svc_migration_run_t *run;
    mongoc_collection_t *coll;
    bson_error_t *error;
    int64_t after; /* the last _id done */
    int seen;
    bool failed;
} living_area_batch_t;

static bool
living_area_one(const bson_t *doc, void *arg)
{
    living_area_batch_t *b = arg;
    bson_iter_t it;
    double area_m2;
    int64_t id = bson_iter_init_find(&it, doc, "_id") ? bson_iter_as_int64(&it) : 0;
    b->seen++;
    if (!properties_living_area(doc, &area_m2)) {
        bson_set_error(b->error, 0, 0,
                       "property %lld: its rooms are not a list of rooms each with a numeric area_m2; "
                       "repair it and run the migration again (it resumes here)",
                       (long long)id);
        b->failed = true;
        return false;
    }
    if (!svc_migration_holding(b->run, b->error)) {
        b->failed = true;
        return false;
    }
    bson_t *sel = BCON_NEW("_id", BCON_INT64(id));
    bson_t *update = BCON_NEW("$set", "{", "living_area_m2", BCON_DOUBLE(area_m2), "}");
    b->failed = !svc_update(b->coll, sel, update, false, b->error);
    bson_destroy(sel);
    bson_destroy(update);
    if (!b->failed)
        b->after = id;
    return !b->failed;
}

/*
 * Up: sets living_area_m2 (the sum of rooms[].area_m2) on every property
 * without it, in _id order, 200 at a time, saving the last _id done: a run
 * stopped halfway resumes after it. A property whose rooms are not
 * documents with a numeric area_m2 stops the run, naming it, so that it
 * can be repaired first; nothing is guessed.
 */
static bool
living_area_up(svc_migration_run_t *run, bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(run->mongo, run->service, "properties");
    bson_iter_t it;
    living_area_batch_t b = {.run = run, .coll = coll, .error = error};
    b.after = bson_iter_init_find(&it, run->progress, "after_id") ? bson_iter_as_int64(&it) : 0;
    bool ok = true, more = true;
    while (ok && more) {
        bson_t *filter = BCON_NEW("_id", "{", "$gt", BCON_INT64(b.after), "}", "living_area_m2", "{", "$exists",
                                  BCON_BOOL(false), "}");
        bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "limit", BCON_INT64(LIVING_AREA_BATCH),
                                "projection", "{", "rooms", BCON_INT32(1), "}");
        b.seen = 0;
        bson_error_t read_error;
        ok = svc_find_each(coll, filter, opts, living_area_one, &b, &read_error) && !b.failed;
        if (!b.failed && !ok)
            *error = read_error;
        bson_destroy(filter);
        bson_destroy(opts);
        more = b.seen == LIVING_AREA_BATCH;
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

/* Down: removes living_area_m2 from every property; one idempotent update. */
static bool
living_area_down(svc_migration_run_t *run, bson_error_t *error)
{
    if (!svc_migration_holding(run, error))
        return false;
    mongoc_collection_t *coll = svc_collection(run->mongo, run->service, "properties");
    bson_t *filter = BCON_NEW("living_area_m2", "{", "$exists", BCON_BOOL(true), "}");
    bson_t *update = BCON_NEW("$unset", "{", "living_area_m2", BCON_UTF8(""), "}");
    bool ok = svc_update(coll, filter, update, true, error);
    bson_destroy(filter);
    bson_destroy(update);
    svc_collection_close(coll);
    return ok;
}

const svc_migration_t properties_migrations[] = {
    SVC_MIGRATION_INDEXES(1, "indexes", properties_indexes),
    {.version = 2,
     .name = "living_area",
     .up = living_area_up,
     .down = living_area_down,
     .definition = "up: set properties.living_area_m2 = sum(rooms[].area_m2) where missing, by _id, 200 a batch, "
                   "stopping at a property with malformed rooms; down: unset properties.living_area_m2"},
    {0},
};
