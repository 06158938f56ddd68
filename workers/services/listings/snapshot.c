/*
 * A listing's snapshot of its property: the fields a search filters on
 * (name, type, city, bedrooms, bathrooms, living_area_m2, location) and
 * its photos (photos, cover_url, photos_count), kept
 * on the listing so that a search is one indexed read of listings, never a
 * join with properties (docs/search.md gives the design and its failure
 * cases).
 *
 * The snapshot is always taken from the properties service's own answer
 * (properties.get), never from what a caller sends, and it is written only
 * over an older one: property_version (the property's version, INT64_MAX
 * once the property is gone) only grows, so syncs that arrive late or
 * twice change nothing; at the same version, property_format
 * (LISTINGS_SNAPSHOT_FORMAT) only grows, so a new field reaches listings
 * whose property has not changed since.
 */
#include "listings.h"
#include "query/words.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

/* The version a listing records for a property that no longer exists:
 * above every real one, so that no late sync brings its snapshot back. */
#define LISTINGS_PROPERTY_GONE INT64_MAX

void
listings_snapshot(const bson_t *property, bson_t *out)
{
    static const char *const copied[] = {"name",         "type",           "city",   "bedrooms",
                                         "bathrooms",    "living_area_m2", "photos", "cover_url",
                                         "photos_count", "updated_at",     NULL};
    bson_iter_t it;
    bson_init(out);
    for (const char *const *f = copied; *f != NULL; f++)
        if (bson_iter_init_find(&it, property, *f))
            bson_append_iter(out, *f, -1, &it);
    if (bson_iter_init_find(&it, property, "city") && BSON_ITER_HOLDS_UTF8(&it)) {
        uint32_t len;
        const char *city = bson_iter_utf8(&it, &len);
        char *key = text_key(city, len);
        if (key != NULL)
            BSON_APPEND_UTF8(out, "city_key", key);
        free(key);
    }
    if (bson_iter_init_find(&it, property, "location") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t len;
        const uint8_t *data;
        bson_t latlon;
        bson_iter_document(&it, &len, &data);
        bson_init_static(&latlon, data, len);
        geo_point_store(out, "location", &latlon);
    }
    words_append(out, "words", property);
}

void
listings_append_snapshot(bson_t *doc, const bson_t *property, int64_t version)
{
    if (property != NULL) {
        bson_t snap;
        listings_snapshot(property, &snap);
        BSON_APPEND_DOCUMENT(doc, "property", &snap);
        bson_destroy(&snap);
    }
    BSON_APPEND_INT64(doc, "property_version", version);
    BSON_APPEND_INT32(doc, "property_format", LISTINGS_SNAPSHOT_FORMAT);
}

void
listings_render_snapshot(const bson_t *doc, bson_t *out)
{
    static const char *const shown[] = {"name", "type", "city", "bedrooms", "bathrooms", "living_area_m2", NULL};
    bson_iter_t it;
    bson_t snap, view;
    uint32_t len;
    const uint8_t *data;
    if (!bson_iter_init_find(&it, doc, "property") || !BSON_ITER_HOLDS_DOCUMENT(&it))
        return;
    bson_iter_document(&it, &len, &data);
    bson_init_static(&view, data, len);
    BSON_APPEND_DOCUMENT_BEGIN(out, "property", &snap);
    for (const char *const *f = shown; *f != NULL; f++)
        if (bson_iter_init_find(&it, &view, *f))
            bson_append_iter(&snap, *f, -1, &it);
    geo_point_show(&view, "location", &snap);
    bson_append_document_end(out, &snap);
    /* The photos are the listing's own face (issue 24): at its top level,
     * as on a property, from the property's latest version. A snapshot
     * taken before photos existed is of a property that had none. */
    bson_t none;
    if (bson_iter_init_find(&it, &view, "photos")) {
        bson_append_iter(out, "photos", -1, &it);
    } else {
        BSON_APPEND_ARRAY_BEGIN(out, "photos", &none);
        bson_append_array_end(out, &none);
    }
    if (bson_iter_init_find(&it, &view, "cover_url"))
        bson_append_iter(out, "cover_url", -1, &it);
    else
        BSON_APPEND_NULL(out, "cover_url");
    if (bson_iter_init_find(&it, &view, "photos_count"))
        bson_append_iter(out, "photos_count", -1, &it);
    else
        BSON_APPEND_INT32(out, "photos_count", 0);
}

bool
listings_apply_snapshot(mongoc_client_t *mongo, int64_t property_id, const bson_t *property, int64_t version,
                        bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(mongo, "listings", "listings");
    bson_t *filter = BCON_NEW("property_id", BCON_INT64(property_id), "$or", "[", "{", "property_version", "{", "$lt",
                              BCON_INT64(version), "}", "}", "{", "property_version", "{", "$exists", BCON_BOOL(false),
                              "}", "}", "{", "property_version", BCON_INT64(version), "property_format", "{", "$not",
                              "{", "$gte", BCON_INT32(LISTINGS_SNAPSHOT_FORMAT), "}", "}", "}", "]");
    svc_filter_live(filter);
    bson_t *update = bson_new(), set;
    BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
    listings_append_snapshot(&set, property, version);
    bson_append_document_end(update, &set);
    if (property == NULL)
        BCON_APPEND(update, "$unset", "{", "property", BCON_UTF8(""), "}");
    bool ok = svc_update(coll, filter, update, true, error);
    bson_destroy(filter);
    bson_destroy(update);
    svc_collection_close(coll);
    return ok;
}

int
listings_read_property(svc_call_t *call, int64_t id, bson_t *property, int64_t *version)
{
    bson_t reply;
    bson_iter_t it;
    bson_init(property);
    int status = svc_ask_id(call, "properties.get", id, &reply);
    if (status == 200 && bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "body", &it) &&
        BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&it, &len, &data);
        bson_t body;
        bson_init_static(&body, data, len);
        bson_concat(property, &body);
        *version = bson_iter_init_find(&it, property, "version") ? bson_iter_as_int64(&it) : 0;
    } else if (status == 404) {
        *version = LISTINGS_PROPERTY_GONE;
    } else if (status >= 0) {
        svc_fail_asked(call, "properties.get", status);
        status = -1;
    }
    bson_destroy(&reply);
    return status;
}

bool
listings_sync_property(svc_call_t *call, int64_t id, int64_t *version)
{
    bson_t property;
    bson_error_t error;
    int status = listings_read_property(call, id, &property, version);
    bool ok = status == 200 || status == 404;
    if (ok && !listings_apply_snapshot(call->mongo, id, status == 200 ? &property : NULL, *version, &error)) {
        svc_fail_db(call, &error);
        ok = false;
    }
    bson_destroy(&property);
    return ok;
}

/* listings.sync_property {params: {id}}: brings the snapshot of property
 * `id` on its listings up to the property as it is now. Idempotent, safe
 * to send any number of times, by anyone: what it writes comes from the
 * properties service. 200 {property_id, version}. */
void
listings_sync_op(svc_call_t *call)
{
    field_errors_t errors;
    int64_t id, version;
    field_errors_init(&errors);
    if (!validate_id(&call->req->params, "id", &errors, &id)) {
        svc_fail_fields(call, &errors);
    } else if (listings_sync_property(call, id, &version)) {
        bson_t *body = BCON_NEW("property_id", BCON_INT64(id), "version", BCON_INT64(version));
        svc_reply(call, 200, body);
        bson_destroy(body);
    }
    field_errors_destroy(&errors);
}
