/*
 * Listings service: the main API's ops (create, get, update, delete; list
 * is list.c), the op table, and what the classic contract shares with them.
 */
#include "clock.h"
#include "listings.h"
#include "sdk/bulk.h"
#include "sdk/list.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void
listings_render(const bson_t *doc, bson_t *out)
{
    static const char *const fields[] = {"user_id",    "property_id", "listing_type", "price", "created_at",
                                         "updated_at", NULL};
    svc_render_fields(doc, fields, out);
    BSON_APPEND_INT64(out, "version", svc_version(doc));
    listings_render_snapshot(doc, out);
    svc_render_search(doc, out);
}

void
listings_render_classic(const bson_t *doc, bson_t *out)
{
    static const char *const fields[] = {"user_id", "listing_type", "price", "created_at", "updated_at", NULL};
    svc_render_fields(doc, fields, out);
}

bool
listings_insert(svc_call_t *call, const listings_new_t *l, bson_t *stored, bson_error_t *error)
{
    return listings_insert_with(call, l, NULL, 0, stored, error);
}

bool
listings_insert_with(svc_call_t *call, const listings_new_t *l, const bson_t *property, int64_t property_version,
                     bson_t *stored, bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(call->mongo, "listings", "listings");
    bson_t doc = BSON_INITIALIZER;

    int64_t now = clock_realtime_us();
    BSON_APPEND_INT64(&doc, "user_id", l->user_id);
    if (l->property_id > 0)
        BSON_APPEND_INT64(&doc, "property_id", l->property_id);
    BSON_APPEND_UTF8(&doc, "listing_type", l->listing_type);
    BSON_APPEND_INT64(&doc, "price", l->price);
    if (property != NULL)
        listings_append_snapshot(&doc, property, property_version);
    BSON_APPEND_INT64(&doc, "version", 1);
    BSON_APPEND_INT64(&doc, "created_at", now);
    BSON_APPEND_INT64(&doc, "updated_at", now);
    BSON_APPEND_UTF8(&doc, "rid", call->key);
    BSON_APPEND_UTF8(&doc, "last_rid", call->key);
    /* rid is the listings' only unique index besides _id, so no other conflict can happen. */
    svc_insert_t inserted = svc_insert_next(coll, &doc, call->key, stored, error);
    if (inserted == SVC_INSERT_CONFLICT)
        bson_set_error(error, 1, 1, "a listing collided on an unexpected unique index");
    bson_destroy(&doc);
    svc_collection_close(coll);
    if (inserted == SVC_INSERT_FAILED || inserted == SVC_INSERT_CONFLICT) {
        bson_destroy(stored);
        return false;
    }
    return true;
}

int
listings_user_exists(svc_call_t *call, int64_t user_id)
{
    bson_t reply;
    int status = svc_ask_id(call, "users.get", user_id, &reply);
    if (status < 0)
        return -1;
    bson_destroy(&reply);
    if (status == 200 || status == 404)
        return status == 200;
    svc_fail_asked(call, "users.get", status);
    return -1;
}

/*
 * Checks that property `id` exists and belongs to `owner`, reading it into
 * `property` (initialised always) with its version; replies itself and
 * returns false when it does not (400 / 403) or cannot be checked.
 */
static bool
listings_check_property(svc_call_t *call, int64_t id, int64_t owner, bson_t *property, int64_t *version)
{
    bson_iter_t it;
    field_errors_t errors;
    int status = listings_read_property(call, id, property, version);
    if (status < 0)
        return false;
    bool ok = false;
    field_errors_init(&errors);
    if (status == 404) {
        field_errors_add(&errors, "property_id", "no property has id %lld", (long long)id);
        svc_fail_fields(call, &errors);
    } else if (!bson_iter_init_find(&it, property, "owner_id") || bson_iter_as_int64(&it) != owner) {
        svc_fail(call, 403, "forbidden", "property %lld belongs to another user", (long long)id);
    } else {
        ok = true;
    }
    field_errors_destroy(&errors);
    return ok;
}

static void
listings_create(svc_call_t *call)
{
    const envelope_request_t *req = call->req;
    field_errors_t errors;
    listings_new_t l;
    bson_error_t error;
    bson_t stored, out, property = BSON_INITIALIZER;
    int64_t property_version = 0;

    field_errors_init(&errors);
    if (!listings_check_main(&req->body, false, &errors, &l)) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    l.user_id = req->auth_sub;
    if (l.property_id > 0) {
        /* A property the lister owns proves the lister exists (users are
         * never deleted): one question to another service, not two. */
        bson_destroy(&property);
        if (!listings_check_property(call, l.property_id, l.user_id, &property, &property_version))
            goto done;
    } else {
        int exists = listings_user_exists(call, l.user_id);
        if (exists < 0)
            goto done;
        if (exists == 0) {
            svc_fail(call, 404, "not_found", "no user has id %lld", (long long)l.user_id);
            goto done;
        }
    }
    if (!listings_insert_with(call, &l, l.property_id > 0 ? &property : NULL, property_version, &stored, &error)) {
        svc_fail_db(call, &error);
        goto done;
    }
    /* A property change whose sync ran between the read above and the
     * insert did not see this listing: the properties workers sync every
     * change once more when it is older than any request (sync.c). */
    listings_render(&stored, &out);
    svc_reply(call, 201, &out);
    bson_destroy(&out);
    bson_destroy(&stored);
done:
    bson_destroy(&property);
    field_errors_destroy(&errors);
}

/* Loads the live listing params.id; replies itself (400/404/db) on failure. */
static bool
listings_load(svc_call_t *call, mongoc_collection_t *coll, int64_t *id, bson_t *doc)
{
    field_errors_t errors;
    bson_error_t error;
    bool found = false, ok;
    field_errors_init(&errors);
    if (!validate_id(&call->req->params, "id", &errors, id)) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return false;
    }
    field_errors_destroy(&errors);
    bson_t *filter = BCON_NEW("_id", BCON_INT64(*id));
    ok = svc_find_one(coll, filter, doc, &found, &error);
    bson_destroy(filter);
    if (!ok) {
        svc_fail_db(call, &error);
        return false;
    }
    if (!found || bson_has_field(doc, "deleted_at")) {
        svc_fail(call, 404, "not_found", "no listing has id %lld", (long long)*id);
        return false;
    }
    return true;
}

static void
listings_get(svc_call_t *call)
{
    mongoc_collection_t *coll = svc_collection(call->mongo, "listings", "listings");
    bson_t doc = BSON_INITIALIZER, out;
    int64_t id;
    if (listings_load(call, coll, &id, &doc)) {
        listings_render(&doc, &out);
        svc_reply(call, 200, &out);
        bson_destroy(&out);
    }
    bson_destroy(&doc);
    svc_collection_close(coll);
}

/* What listings_change hands the edit loop: the checked body, whether it
 * deletes, and the new property (read on the first round) with its version. */
typedef struct {
    listings_new_t l;
    bool delete;
    bson_t property;
    int64_t property_version;
} listings_change_t;

/* The $set (and $unset) of a PATCH or DELETE; a new property_id is checked
 * to be the caller's once, on the first round. */
static bool
listings_change_update(svc_call_t *call, const bson_t *current, int64_t version, int attempt, bson_t *update, void *arg)
{
    listings_change_t *c = arg;
    const listings_new_t *l = &c->l;
    if (attempt == 0 && l->property_id > 0) {
        bson_destroy(&c->property);
        if (!listings_check_property(call, l->property_id, call->req->auth_sub, &c->property, &c->property_version))
            return false;
    }
    int64_t now = clock_realtime_us();
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
    if (c->delete)
        BSON_APPEND_INT64(&set, "deleted_at", now);
    if (l->listing_type != NULL)
        BSON_APPEND_UTF8(&set, "listing_type", l->listing_type);
    if (l->price > 0)
        BSON_APPEND_INT64(&set, "price", l->price);
    if (l->property_id > 0) {
        BSON_APPEND_INT64(&set, "property_id", l->property_id);
        listings_append_snapshot(&set, &c->property, c->property_version);
    }
    BSON_APPEND_INT64(&set, "version", version + 1);
    BSON_APPEND_INT64(&set, "updated_at", now);
    BSON_APPEND_UTF8(&set, "last_rid", call->key);
    bson_append_document_end(update, &set);
    if (l->property_id < 0) {
        bson_t unset;
        BSON_APPEND_DOCUMENT_BEGIN(update, "$unset", &unset);
        BSON_APPEND_UTF8(&unset, "property_id", "");
        BSON_APPEND_UTF8(&unset, "property", "");
        BSON_APPEND_UTF8(&unset, "property_version", "");
        BSON_APPEND_UTF8(&unset, "property_format", "");
        bson_append_document_end(update, &unset);
    }
    return true;
}

/*
 * Owner-only PATCH (merge-patch) and DELETE (a tombstone), through the
 * sdk's edit loop (sdk/edit.h): each bumps the listing's version (its
 * ETag) by an update conditioned on the version it read, so If-Match is
 * checked against exactly what the change replaces.
 */
static void
listings_change(svc_call_t *call, bool delete)
{
    const envelope_request_t *req = call->req;
    field_errors_t errors;
    listings_change_t c = {.delete = delete, .property = BSON_INITIALIZER};
    int64_t id = 0;

    field_errors_init(&errors);
    if ((!delete &&!listings_check_main(&req->body, true, &errors, &c.l)) ||
        !validate_id(&req->params, "id", &errors, &id)) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return;
    }
    field_errors_destroy(&errors);
    bson_t *mine = BCON_NEW("user_id", BCON_INT64(req->auth_sub));
    svc_filter_live(mine);
    svc_edit_t edit = {.service = "listings",
                       .collection = "listings",
                       .id = id,
                       .noun = "listing",
                       .owner_field = "user_id",
                       .forbidden = "only the user who listed it may change this listing",
                       .no_content = delete,
                       .commit_filter = mine,
                       .change = listings_change_update,
                       .render = listings_render,
                       .arg = &c};
    svc_edit(call, &edit);
    bson_destroy(mine);
    bson_destroy(&c.property);
}

static void
listings_update(svc_call_t *call)
{
    listings_change(call, false);
}

static void
listings_delete(svc_call_t *call)
{
    listings_change(call, true);
}

/* A JSON array POSTed to /api/v1/listings: each item as listings.create (bulk.h). */
static void
listings_create_many(svc_call_t *call)
{
    svc_create_many(call, "listings.create", listings_create);
}

static const svc_op_t listings_ops[] = {
    {"listings.create", listings_create, SVC_AUTH_REQUIRED},
    {"listings.create_many", listings_create_many, SVC_AUTH_REQUIRED},
    {"listings.reso", listings_reso},
    {"listings.reso_media", listings_reso_media},
    {"listings.get", listings_get},
    {"listings.update", listings_update, SVC_AUTH_REQUIRED},
    {"listings.delete", listings_delete, SVC_AUTH_REQUIRED},
    {"listings.list", listings_list},
    {"listings.facets", listings_facets},
    {"listings.classic_list", listings_classic_list},
    {"listings.classic_create", listings_classic_create},
    {"listings.public_list", listings_public_list},
    {"listings.public_create", listings_classic_create},
    {"listings.sync_property", listings_sync_op},
    {NULL, NULL},
};

const svc_service_t listings_service = {.name = "listings", .ops = listings_ops};
