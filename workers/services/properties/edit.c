/*
 * Changes to properties: create, and every owner-only edit (the room
 * changes are rooms.c).
 *
 * Each edit runs through properties_edit, the sdk's edit loop (sdk/edit.h:
 * load, owner, re-delivery, If-Match, retry with back-off), committing the
 * new version by inserting it into "changes" under _id "<id>:<version>". The
 * unique _id is the arbiter: exactly one writer can make each version
 * (FerretDB's conditional updates are not atomic, its unique index is).
 * The winner then writes the document; a loser retries from the newer
 * version (where a client's If-Match no longer holds: 412), after rolling
 * the committed change forward in case its writer died before writing.
 * "changes" doubles as the property's history.
 */
#include "clock.h"
#include "properties.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t
properties_int(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : 0;
}

const char *
properties_str(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
}

/* `current` (at `version`, as the edit loop read it) with every field of
 * `changes` replacing its namesake, then the bookkeeping every change
 * makes; `key` is the request's idempotency key. */
static void
properties_apply(const bson_t *current, int64_t version, const bson_t *changes, const char *key, bson_t *next)
{
    bson_iter_t it;
    bson_init(next);
    bson_iter_init(&it, current);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (bson_has_field(changes, key) || strcmp(key, "version") == 0 || strcmp(key, "updated_at") == 0 ||
            strcmp(key, "last_rid") == 0 || strcmp(key, "listings_pending") == 0 || strcmp(key, "words") == 0)
            continue;
        bson_append_iter(next, key, -1, &it);
    }
    bson_iter_init(&it, changes);
    while (bson_iter_next(&it))
        if (!BSON_ITER_HOLDS_NULL(&it)) /* a null change removes the field (a location set to null) */
            bson_append_iter(next, bson_iter_key(&it), -1, &it);
    BSON_APPEND_INT64(next, "version", version + 1);
    BSON_APPEND_INT64(next, "updated_at", clock_realtime_us());
    BSON_APPEND_UTF8(next, "last_rid", key);
    BSON_APPEND_BOOL(next, "listings_pending", true); /* cleared once its listings have it (sync.c) */
    properties_append_words(next);
}

/*
 * Makes `next` version `version` of property `id`: 1 when this call made
 * it, 0 when another writer made that version first (then its change is
 * rolled forward into the document, in case that writer died before
 * writing it), -1 on a database error.
 */
static int
properties_commit(mongoc_collection_t *coll, mongoc_client_t *mongo, int64_t id, int64_t version, const bson_t *next,
                  bson_error_t *error)
{
    mongoc_collection_t *changes = svc_collection(mongo, "properties", "changes");
    char key[48];
    int rv = -1;
    bson_t claim = BSON_INITIALIZER;

    snprintf(key, sizeof(key), "%lld:%lld", (long long)id, (long long)version);
    BSON_APPEND_UTF8(&claim, "_id", key);
    BSON_APPEND_INT64(&claim, "property_id", id);
    BSON_APPEND_INT64(&claim, "version", version);
    BSON_APPEND_DOCUMENT(&claim, "doc", next);
    bool mine = svc_insert(changes, &claim, error);
    if (!mine && !svc_is_duplicate(error))
        goto done;
    if (!mine) {
        /* Roll the winner's change forward, never the document back to an older version. */
        bson_t *by_key = BCON_NEW("_id", BCON_UTF8(key));
        bson_t found = BSON_INITIALIZER, doc;
        bson_iter_t it;
        bool have = false;
        bool read = svc_find_one(changes, by_key, &found, &have, error);
        bson_destroy(by_key);
        if (read && (!have || !bson_iter_init_find(&it, &found, "doc") || !properties_view(&it, &doc))) {
            bson_set_error(error, 1, 1, "change %s has no document", key);
            read = false;
        }
        if (read) {
            bson_t *older = BCON_NEW("_id", BCON_INT64(id), "version", "{", "$lt", BCON_INT64(version), "}");
            rv = svc_replace(coll, older, &doc, error) ? 0 : -1;
            bson_destroy(older);
        }
        bson_destroy(&found);
        goto done;
    }
    bson_t *older = BCON_NEW("_id", BCON_INT64(id), "version", "{", "$lt", BCON_INT64(version), "}");
    rv = svc_replace(coll, older, next, error) ? 1 : -1;
    bson_destroy(older);
done:
    bson_destroy(&claim);
    svc_collection_close(changes);
    return rv;
}

/* The change as the whole next version of the document; `arg` points at
 * the op's properties_change_fn. */
static bool
properties_edit_change(svc_call_t *call, const bson_t *current, int64_t version, int attempt, bson_t *update, void *arg)
{
    const properties_change_t *change = arg;
    bson_t changes;
    if (!change->fn(call, current, &changes, change->arg))
        return false;
    bson_destroy(update);
    properties_apply(current, version, &changes, call->key, update);
    bson_destroy(&changes);
    return true;
}

static int
properties_edit_commit(svc_call_t *call, const svc_edit_t *edit, int64_t version, const bson_t *next, bson_t *made,
                       bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(call->mongo, "properties", "properties");
    int committed = properties_commit(coll, call->mongo, edit->id, version + 1, next, error);
    svc_collection_close(coll);
    if (committed == 1)
        bson_concat(made, next);
    return committed;
}

void
properties_edit(svc_call_t *call, int status, properties_change_fn fn, void *arg)
{
    properties_change_t change = {fn, arg};
    field_errors_t errors;
    int64_t id;
    field_errors_init(&errors);
    if (!validate_id(&call->req->params, "id", &errors, &id)) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return;
    }
    field_errors_destroy(&errors);
    svc_edit_t edit = {.service = "properties",
                       .collection = "properties",
                       .id = id,
                       .noun = "property",
                       .owner_field = "owner_id",
                       .forbidden = "only the owner may change this property",
                       .no_content = status == 204,
                       .change = properties_edit_change,
                       .commit = properties_edit_commit,
                       .render = properties_render,
                       .status = status,
                       .arg = &change};
    svc_edit(call, &edit);
    /* Also on a re-delivery that found the change made: its sync may be
     * what the first delivery did not get to. The mark stays for the
     * sweep's second sync (sync.c). */
    int replied = svc_replied_status(call);
    if (replied >= 200 && replied < 300)
        properties_sync_listings(call, id, false);
}

/* Appends a room document built from a valid room body. */
void
properties_append_room(bson_t *rooms, uint32_t index, int64_t room_id, const bson_t *src)
{
    char key[16];
    bson_t room, chars;
    bson_iter_t it;
    snprintf(key, sizeof(key), "%u", index);
    BSON_APPEND_DOCUMENT_BEGIN(rooms, key, &room);
    BSON_APPEND_INT64(&room, "id", room_id);
    BSON_APPEND_UTF8(&room, "name", properties_str(src, "name"));
    BSON_APPEND_UTF8(&room, "kind", properties_str(src, "kind"));
    bson_iter_init_find(&it, src, "area_m2");
    BSON_APPEND_DOUBLE(&room, "area_m2", bson_iter_as_double(&it));
    BSON_APPEND_DOCUMENT_BEGIN(&room, "characteristics", &chars);
    if (bson_iter_init_find(&it, src, "characteristics")) {
        bson_iter_t c;
        bson_iter_recurse(&it, &c);
        while (bson_iter_next(&c))
            bson_append_iter(&chars, bson_iter_key(&c), -1, &c);
    }
    bson_append_document_end(&room, &chars);
    bson_append_document_end(rooms, &room);
}

bool
properties_view(const bson_iter_t *it, bson_t *out)
{
    uint32_t len;
    const uint8_t *data;
    if (!BSON_ITER_HOLDS_DOCUMENT(it) && !BSON_ITER_HOLDS_ARRAY(it))
        return false;
    if (BSON_ITER_HOLDS_DOCUMENT(it))
        bson_iter_document(it, &len, &data);
    else
        bson_iter_array(it, &len, &data);
    return bson_init_static(out, data, len);
}

void
properties_create(svc_call_t *call)
{
    const envelope_request_t *req = call->req;
    field_errors_t errors;
    bson_error_t error;
    bson_iter_t it, r;
    char *city_key = NULL;
    bson_t doc = BSON_INITIALIZER, rooms, stored = BSON_INITIALIZER;
    mongoc_collection_t *coll = svc_collection(call->mongo, "properties", "properties");

    field_errors_init(&errors);
    if (!properties_validate_new(&req->body, &errors)) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    int64_t now = clock_realtime_us();
    const char *city = properties_str(&req->body, "city");
    city_key = text_key(city, strlen(city));
    BSON_APPEND_UTF8(&doc, "name", properties_str(&req->body, "name"));
    BSON_APPEND_UTF8(&doc, "description", properties_str(&req->body, "description"));
    BSON_APPEND_UTF8(&doc, "type", properties_str(&req->body, "type"));
    BSON_APPEND_UTF8(&doc, "city", city);
    BSON_APPEND_UTF8(&doc, "city_key", city_key);
    BSON_APPEND_UTF8(&doc, "address", properties_str(&req->body, "address"));
    properties_append_location(&doc, &req->body);
    uint32_t n = 0;
    BSON_APPEND_ARRAY_BEGIN(&doc, "rooms", &rooms);
    if (bson_iter_init_find(&it, &req->body, "rooms") && bson_iter_recurse(&it, &r)) {
        while (bson_iter_next(&r)) {
            bson_t room;
            properties_view(&r, &room);
            properties_append_room(&rooms, n, n + 1, &room);
            n++;
        }
    }
    bson_append_array_end(&doc, &rooms);
    BSON_APPEND_INT32(&doc, "room_count", (int32_t)n);
    properties_append_derived(&doc);
    properties_append_words(&doc);
    BSON_APPEND_INT64(&doc, "next_room_id", n + 1);
    BSON_APPEND_INT64(&doc, "owner_id", req->auth_sub);
    BSON_APPEND_INT64(&doc, "version", 1);
    BSON_APPEND_INT64(&doc, "created_at", now);
    BSON_APPEND_INT64(&doc, "updated_at", now);
    BSON_APPEND_UTF8(&doc, "rid", call->key);
    BSON_APPEND_UTF8(&doc, "last_rid", call->key);

    bson_destroy(&stored);
    switch (svc_insert_next(coll, &doc, call->key, &stored, &error)) {
    case SVC_INSERTED:
    case SVC_INSERT_REPEAT: /* an earlier delivery of this request created it */
    {
        bson_t out;
        properties_render(&stored, &out);
        svc_reply(call, 201, &out);
        bson_destroy(&out);
        break;
    }
    case SVC_INSERT_CONFLICT:
        svc_fail(call, 500, "internal", "a property collided on a unique index other than its id and rid");
        break;
    case SVC_INSERT_FAILED:
        svc_fail_db(call, &error);
        break;
    }
done:
    free(city_key);
    field_errors_destroy(&errors);
    bson_destroy(&doc);
    bson_destroy(&stored);
    svc_collection_close(coll);
}

static bool
properties_change_fields(svc_call_t *call, const bson_t *current, bson_t *changes, void *arg)
{
    static const char *const patchable[] = {"name", "description", "type", "city", "address", "location", NULL};
    const bson_t *body = &call->req->body;
    field_errors_t errors;
    bson_iter_t it;

    field_errors_init(&errors);
    validate_known_fields(body, patchable, &errors);
    properties_check_fields(body, false, &errors);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return false;
    }
    field_errors_destroy(&errors);
    bson_init(changes);
    bson_iter_init(&it, body);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (strcmp(key, "location") == 0) { /* null removes it (properties_apply) */
            if (BSON_ITER_HOLDS_NULL(&it))
                BSON_APPEND_NULL(changes, "location");
            else
                properties_append_location(changes, body);
            continue;
        }
        if (BSON_ITER_HOLDS_NULL(&it)) { /* only description may be null: it becomes empty */
            BSON_APPEND_UTF8(changes, key, "");
            continue;
        }
        bson_append_iter(changes, key, -1, &it);
        if (strcmp(key, "city") == 0) {
            uint32_t len;
            const char *city = bson_iter_utf8(&it, &len);
            char *city_key = text_key(city, len);
            BSON_APPEND_UTF8(changes, "city_key", city_key);
            free(city_key);
        }
    }
    return true;
}

static bool
properties_change_delete(svc_call_t *call, const bson_t *current, bson_t *changes, void *arg)
{
    bson_init(changes);
    BSON_APPEND_INT64(changes, "deleted_at", clock_realtime_us());
    return true;
}

void
properties_update(svc_call_t *call)
{
    properties_edit(call, 200, properties_change_fields, NULL);
}

void
properties_delete(svc_call_t *call)
{
    field_errors_t errors;
    int64_t id;
    properties_edit(call, 204, properties_change_delete, NULL);
    field_errors_init(&errors);
    /* A repeat too: the first delivery may have stopped before its photos. */
    if (svc_replied_status(call) == 204 && validate_id(&call->req->params, "id", &errors, &id))
        properties_media_remove_all(call, id);
    field_errors_destroy(&errors);
}
