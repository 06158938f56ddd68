/*
 * Changes to properties: create, and every owner-only edit (the room
 * changes are rooms.c).
 *
 * Each edit runs through properties_edit: authenticate, validate, load, check
 * the owner and If-Match, compute the changed fields, then commit the new
 * version by inserting it into "changes" under _id "<id>:<version>". The
 * unique _id is the arbiter: exactly one writer can make each version
 * (FerretDB's conditional updates are not atomic, its unique index is).
 * The winner then writes the document; a loser retries from the newer
 * version (or answers 412 when the client sent If-Match), after rolling
 * the committed change forward in case its writer died before writing.
 * "changes" doubles as the property's history. A
 * document whose last_rid is this request's key (rid and fingerprint, see
 * svc_call_t) already has this change: nng delivered the request twice,
 * and the reply is the same as the first. The owner is checked before.
 */
#include "properties.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each round of a race has one winner: enough rounds for many writers of one property. */
#define PROPERTIES_EDIT_ATTEMPTS 64

static bool
properties_load(mongoc_collection_t *coll, int64_t id, bson_t *out, bool *found, bson_error_t *error)
{
    bson_t *filter = BCON_NEW("_id", BCON_INT64(id));
    bool ok = svc_find_one(coll, filter, out, found, error);
    bson_destroy(filter);
    return ok;
}

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

/* `current` with every field of `changes` replacing its namesake, then
 * the bookkeeping every change makes; `key` is the request's idempotency key. */
static void
properties_apply(const bson_t *current, const bson_t *changes, const char *key, bson_t *next)
{
    bson_iter_t it;
    int64_t version = properties_int(current, "version");
    bson_init(next);
    bson_iter_init(&it, current);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (bson_has_field(changes, key) || strcmp(key, "version") == 0 || strcmp(key, "updated_at") == 0 ||
            strcmp(key, "last_rid") == 0)
            continue;
        bson_append_iter(next, key, -1, &it);
    }
    bson_iter_init(&it, changes);
    while (bson_iter_next(&it))
        bson_append_iter(next, bson_iter_key(&it), -1, &it);
    BSON_APPEND_INT64(next, "version", version + 1);
    BSON_APPEND_INT64(next, "updated_at", svc_now_us());
    BSON_APPEND_UTF8(next, "last_rid", key);
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
    bool mine = mongoc_collection_insert_one(changes, &claim, NULL, NULL, error);
    if (!mine && !svc_is_duplicate(error))
        goto done;
    bson_t doc = BSON_INITIALIZER;
    if (!mine) {
        bson_t *by_key = BCON_NEW("_id", BCON_UTF8(key));
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(changes, by_key, NULL, NULL);
        const bson_t *found;
        bson_iter_t it;
        bool have = mongoc_cursor_next(cursor, &found) && bson_iter_init_find(&it, found, "doc") &&
                    BSON_ITER_HOLDS_DOCUMENT(&it);
        if (have) {
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&it, &len, &data);
            bson_destroy(&doc);
            bson_init_static(&doc, data, len);
        }
        bool failed = mongoc_cursor_error(cursor, error);
        bson_destroy(by_key);
        if (failed || !have) {
            mongoc_cursor_destroy(cursor);
            if (!failed)
                bson_set_error(error, 1, 1, "change %s has no document", key);
            goto done;
        }
        /* Never move the document back to an older version. */
        bson_t *older = BCON_NEW("_id", BCON_INT64(id), "version", "{", "$lt", BCON_INT64(version), "}");
        bool ok = mongoc_collection_replace_one(coll, older, &doc, NULL, NULL, error);
        bson_destroy(older);
        mongoc_cursor_destroy(cursor);
        rv = ok ? 0 : -1;
        goto done;
    }
    bson_t *older = BCON_NEW("_id", BCON_INT64(id), "version", "{", "$lt", BCON_INT64(version), "}");
    rv = mongoc_collection_replace_one(coll, older, next, NULL, NULL, error) ? 1 : -1;
    bson_destroy(older);
done:
    bson_destroy(&claim);
    mongoc_collection_destroy(changes);
    return rv;
}

static void
properties_reply_doc(svc_call_t *call, int status, const bson_t *doc)
{
    if (status == 204) {
        svc_reply(call, 204, NULL);
        return;
    }
    bson_t out;
    properties_render(doc, &out);
    svc_reply(call, status, &out);
    bson_destroy(&out);
}

void
properties_edit(svc_call_t *call, int status, properties_change_fn change)
{
    const envelope_request_t *req = call->req;
    field_errors_t errors;
    int64_t id;
    bson_error_t error;
    mongoc_collection_t *coll = svc_collection(call->mongo, "properties", "properties");

    field_errors_init(&errors);
    if (!validate_id(&req->params, "id", &errors, &id)) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    for (int attempt = 0; attempt < PROPERTIES_EDIT_ATTEMPTS; attempt++) {
        bson_t current = BSON_INITIALIZER, changes, next;
        bool found;
        if (!properties_load(coll, id, &current, &found, &error)) {
            svc_fail_db(call, &error);
            goto done;
        }
        if (!found) {
            svc_fail(call, 404, "not_found", "no property has id %lld", (long long)id);
        } else if (properties_int(&current, "owner_id") != req->auth_sub) {
            svc_fail(call, 403, "forbidden", "only the owner may change this property");
        } else if (strcmp(properties_str(&current, "last_rid"), call->key) == 0) {
            properties_reply_doc(call, status, &current); /* a second delivery of a change already made */
        } else if (bson_has_field(&current, "deleted_at")) {
            svc_fail(call, 404, "not_found", "no property has id %lld", (long long)id);
        } else if (!svc_expected(req, properties_int(&current, "version"))) {
            svc_fail(call, 412, "precondition_failed", "the property changed since your copy (ETag \"%lld\" now)",
                     (long long)properties_int(&current, "version"));
        } else if (change(call, &current, &changes)) {
            int64_t version = properties_int(&current, "version");
            properties_apply(&current, &changes, call->key, &next);
            bson_destroy(&changes);
            int committed = properties_commit(coll, call->mongo, id, version + 1, &next, &error);
            if (committed < 0) {
                svc_fail_db(call, &error);
            } else if (committed == 1) {
                properties_reply_doc(call, status, &next);
            } else if (req->has_expect) {
                svc_fail(call, 412, "precondition_failed", "the property changed while this change was made");
            } else {
                bson_destroy(&next);
                bson_destroy(&current);
                /* Someone else made this version first: start again from theirs,
                 * after a short random pause so that the losers spread out. */
                svc_backoff(attempt);
                continue;
            }
            bson_destroy(&next);
        }
        bson_destroy(&current);
        goto done;
    }
    svc_fail(call, 409, "conflict", "the property kept changing under this request; retry");
done:
    field_errors_destroy(&errors);
    mongoc_collection_destroy(coll);
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
    int64_t now = svc_now_us();
    const char *city = properties_str(&req->body, "city");
    city_key = text_key(city, strlen(city));
    BSON_APPEND_UTF8(&doc, "name", properties_str(&req->body, "name"));
    BSON_APPEND_UTF8(&doc, "description", properties_str(&req->body, "description"));
    BSON_APPEND_UTF8(&doc, "type", properties_str(&req->body, "type"));
    BSON_APPEND_UTF8(&doc, "city", city);
    BSON_APPEND_UTF8(&doc, "city_key", city_key);
    BSON_APPEND_UTF8(&doc, "address", properties_str(&req->body, "address"));
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
    double area_m2;
    properties_living_area(&doc, &area_m2); /* validated rooms: always true */
    BSON_APPEND_DOUBLE(&doc, "living_area_m2", area_m2);
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
        properties_reply_doc(call, 201, &stored);
        break;
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
    mongoc_collection_destroy(coll);
}

static bool
properties_change_fields(svc_call_t *call, const bson_t *current, bson_t *changes)
{
    static const char *const patchable[] = {"name", "description", "type", "city", "address", NULL};
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
properties_change_delete(svc_call_t *call, const bson_t *current, bson_t *changes)
{
    bson_init(changes);
    BSON_APPEND_INT64(changes, "deleted_at", svc_now_us());
    return true;
}

void
properties_update(svc_call_t *call)
{
    properties_edit(call, 200, properties_change_fields);
}

void
properties_delete(svc_call_t *call)
{
    properties_edit(call, 204, properties_change_delete);
}
