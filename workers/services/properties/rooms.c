/*
 * Room changes of a property: add, update, delete. Each is a change that
 * runs through properties_edit (edit.c), so rooms get the same owner,
 * precondition, version and idempotency rules as the property itself.
 */
#include "properties.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

static bool
properties_change_room_add(svc_call_t *call, const bson_t *current, bson_t *changes, void *arg)
{
    field_errors_t errors;
    bson_iter_t it, r;
    bson_t rooms;
    uint32_t n = 0;

    field_errors_init(&errors);
    if (!properties_check_room(&call->req->body, true, "", &errors)) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return false;
    }
    if (properties_int(current, "room_count") >= PROPERTIES_MAX_ROOMS) {
        field_errors_add(&errors, "rooms", "a property may hold at most %d rooms", PROPERTIES_MAX_ROOMS);
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return false;
    }
    field_errors_destroy(&errors);
    int64_t room_id = properties_int(current, "next_room_id");
    bson_init(changes);
    BSON_APPEND_ARRAY_BEGIN(changes, "rooms", &rooms);
    if (bson_iter_init_find(&it, current, "rooms") && bson_iter_recurse(&it, &r)) {
        while (bson_iter_next(&r)) {
            char key[16];
            snprintf(key, sizeof(key), "%u", n++);
            bson_append_iter(&rooms, key, -1, &r);
        }
    }
    properties_append_room(&rooms, n, room_id, &call->req->body);
    bson_append_array_end(changes, &rooms);
    BSON_APPEND_INT32(changes, "room_count", (int32_t)(n + 1));
    BSON_APPEND_INT64(changes, "next_room_id", room_id + 1);
    properties_append_derived(changes);
    return true;
}

/* Rewrites the rooms array with the room `room_id` merged with `patch`
 * (RFC 7396, characteristics included), or removed when patch is NULL. */
static bool
properties_change_room(svc_call_t *call, const bson_t *current, bson_t *changes, const bson_t *patch)
{
    field_errors_t errors;
    bson_iter_t it, r;
    int64_t room_id;
    bool hit = false;
    bson_t rooms;
    uint32_t n = 0;

    field_errors_init(&errors);
    validate_id(&call->req->params, "room_id", &errors, &room_id);
    if (patch != NULL)
        properties_check_room(patch, false, "", &errors);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return false;
    }
    field_errors_destroy(&errors);
    bson_init(changes);
    BSON_APPEND_ARRAY_BEGIN(changes, "rooms", &rooms);
    if (bson_iter_init_find(&it, current, "rooms") && bson_iter_recurse(&it, &r)) {
        while (bson_iter_next(&r)) {
            bson_t room;
            char key[16];
            properties_view(&r, &room);
            if (properties_int(&room, "id") != room_id) {
                snprintf(key, sizeof(key), "%u", n++);
                bson_append_iter(&rooms, key, -1, &r);
                continue;
            }
            hit = true;
            if (patch == NULL)
                continue;
            bson_t merged, chars;
            bson_iter_t f, c;
            snprintf(key, sizeof(key), "%u", n++);
            BSON_APPEND_DOCUMENT_BEGIN(&rooms, key, &merged);
            BSON_APPEND_INT64(&merged, "id", room_id);
            BSON_APPEND_UTF8(&merged, "name", properties_str(bson_has_field(patch, "name") ? patch : &room, "name"));
            BSON_APPEND_UTF8(&merged, "kind", properties_str(bson_has_field(patch, "kind") ? patch : &room, "kind"));
            bson_iter_init_find(&f, bson_has_field(patch, "area_m2") ? patch : &room, "area_m2");
            BSON_APPEND_DOUBLE(&merged, "area_m2", bson_iter_as_double(&f));
            BSON_APPEND_DOCUMENT_BEGIN(&merged, "characteristics", &chars);
            bson_t patch_chars = BSON_INITIALIZER;
            if (bson_iter_init_find(&f, patch, "characteristics"))
                properties_view(&f, &patch_chars);
            if (bson_iter_init_find(&f, &room, "characteristics") && bson_iter_recurse(&f, &c))
                while (bson_iter_next(&c))
                    if (!bson_has_field(&patch_chars, bson_iter_key(&c)))
                        bson_append_iter(&chars, bson_iter_key(&c), -1, &c);
            if (bson_iter_init(&c, &patch_chars))
                while (bson_iter_next(&c))
                    if (!BSON_ITER_HOLDS_NULL(&c))
                        bson_append_iter(&chars, bson_iter_key(&c), -1, &c);
            bson_append_document_end(&merged, &chars);
            bson_append_document_end(&rooms, &merged);
        }
    }
    bson_append_array_end(changes, &rooms);
    if (!hit) {
        bson_destroy(changes);
        svc_fail(call, 404, "room_not_found", "the property has no room with id %lld", (long long)room_id);
        return false;
    }
    BSON_APPEND_INT32(changes, "room_count", (int32_t)n);
    properties_append_derived(changes);
    return true;
}

static bool
properties_change_room_update(svc_call_t *call, const bson_t *current, bson_t *changes, void *arg)
{
    return properties_change_room(call, current, changes, &call->req->body);
}

static bool
properties_change_room_delete(svc_call_t *call, const bson_t *current, bson_t *changes, void *arg)
{
    return properties_change_room(call, current, changes, NULL);
}

void
properties_room_add(svc_call_t *call)
{
    properties_edit(call, 201, properties_change_room_add, NULL);
}

void
properties_room_update(svc_call_t *call)
{
    properties_edit(call, 200, properties_change_room_update, NULL);
}

void
properties_room_delete(svc_call_t *call)
{
    properties_edit(call, 200, properties_change_room_delete, NULL);
}
