/*
 * Keeping listings' snapshots of their property in step (docs/search.md).
 *
 * Every committed change of a property marks it listings_pending (edit.c).
 * Right after the change, before its reply, the worker asks the listings
 * service to sync the property (listings.sync_property: it reads the
 * property back from this service and rewrites the snapshots older than
 * it). The mark stays: properties.tick, which every properties
 * worker runs each second (runtime/tick.c), syncs each marked property
 * once more when its change is older than any request can be (the request
 * deadline and a second), then clears the mark unless a newer change came.
 * That second sync is what a failed or lost first one needs, and it also
 * reaches a listing whose create read the property just before the change
 * and stored its snapshot just after the first sync. Syncs are idempotent
 * and versioned, so twice is harmless and late is never backwards.
 */
#include "properties.h"
#include "clock.h"
#include "config.h"
#include "log.h"

#include <string.h>

#define SYNC_BATCH 50

/* Clears the mark of property `id` if it is still at `version`. */
static bool
properties_sync_done(mongoc_client_t *mongo, int64_t id, int64_t version, bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(mongo, "properties", "properties");
    bson_t *filter = BCON_NEW("_id", BCON_INT64(id), "version", "{", "$lte", BCON_INT64(version), "}");
    bson_t *update = BCON_NEW("$unset", "{", "listings_pending", BCON_UTF8(""), "}");
    bool ok = svc_update(coll, filter, update, false, error);
    bson_destroy(filter);
    bson_destroy(update);
    svc_collection_close(coll);
    return ok;
}

bool
properties_sync_listings(svc_call_t *call, int64_t id, bool clear)
{
    svc_call_t quiet; /* an ask that fails must not become the client's answer */
    bson_t reply;
    bson_iter_t it;
    bson_error_t error;
    bool ok = false;
    svc_call_quiet(call, &quiet);
    int status = svc_ask_id(&quiet, "listings.sync_property", id, &reply);
    if (status == 200 && bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "body.version", &it)) {
        ok = !clear || properties_sync_done(call->mongo, id, bson_iter_as_int64(&it), &error);
        if (!ok)
            log_warn("rid=%s property %lld: synced, but its mark stays: %s", call->req->rid, (long long)id,
                     error.message);
    } else {
        log_warn("rid=%s property %lld: its listings were not synced now (%d); a sweep sends it later", call->req->rid,
                 (long long)id, status);
    }
    bson_destroy(&reply);
    svc_call_quiet_end(&quiet);
    return ok;
}

/* What one sweep collects: the ids of marked properties. */
typedef struct {
    int64_t ids[SYNC_BATCH];
    int n;
} sync_batch_t;

static bool
sync_collect(const bson_t *doc, void *arg)
{
    sync_batch_t *b = arg;
    bson_iter_t it;
    if (b->n < SYNC_BATCH && bson_iter_init_find(&it, doc, "_id"))
        b->ids[b->n++] = bson_iter_as_int64(&it);
    return b->n < SYNC_BATCH;
}

/* Syncs up to 50 marked properties whose change is older than a request
 * can be, and clears their marks; false when it replied a database error. */
static bool
properties_sync_sweep(svc_call_t *call, int *synced, int *failed)
{
    mongoc_collection_t *coll = svc_collection(call->mongo, "properties", "properties");
    bson_error_t error;
    sync_batch_t b = {.n = 0};
    int64_t before = clock_realtime_us() - (cfg_request_timeout_ms() + 1000) * 1000;
    bson_t *filter = BCON_NEW("listings_pending", BCON_BOOL(true), "updated_at", "{", "$lt", BCON_INT64(before), "}");
    bson_t *opts = BCON_NEW("limit", BCON_INT64(SYNC_BATCH), "projection", "{", "_id", BCON_INT32(1), "}");
    bool read = svc_find_each(coll, filter, opts, sync_collect, &b, &error);
    bson_destroy(filter);
    bson_destroy(opts);
    svc_collection_close(coll);
    if (!read) {
        svc_fail_db(call, &error);
        return false;
    }
    for (int i = 0; i < b.n; i++)
        *synced += properties_sync_listings(call, b.ids[i], true);
    *failed = b.n - *synced;
    return true;
}

/* properties.tick, every second on every properties worker: the sweep of
 * listings' snapshots, and of what unfinished uploads left (media_edit.c).
 * 200 {synced, failed, media_removed}. */
void
properties_tick(svc_call_t *call)
{
    int synced = 0, failed = 0;
    if (!properties_sync_sweep(call, &synced, &failed))
        return;
    int removed = properties_media_sweep(call);
    bson_t *body =
        BCON_NEW("synced", BCON_INT32(synced), "failed", BCON_INT32(failed), "media_removed", BCON_INT32(removed));
    svc_reply(call, 200, body);
    bson_destroy(body);
}
