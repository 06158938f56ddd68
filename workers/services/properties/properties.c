/*
 * Properties service: the op table, the reads (get, cities, ids) and the
 * public shape of a property. The list is list.c, changes edit.c, field
 * rules fields.c.
 */
#include "properties.h"
#include "query/geo.h"
#include "sdk/bulk.h"
#include "sdk/list.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
properties_render(const bson_t *doc, bson_t *out)
{
    static const char *const head[] = {"name", "description", "type", "city", "address", "rooms", "room_count", NULL};
    static const char *const tail[] = {"owner_id", "version", "created_at", "updated_at", NULL};
    bson_iter_t it;
    double area_m2;
    int32_t bedrooms, bathrooms;
    svc_render_fields(doc, head, out);
    /* From the rooms themselves, not the stored copies that queries use: a
     * property written by a worker older than migrations 2 and 3 shows right. */
    if (properties_living_area(doc, &area_m2))
        BSON_APPEND_DOUBLE(out, "living_area_m2", area_m2);
    if (properties_room_counts(doc, &bedrooms, &bathrooms)) {
        BSON_APPEND_INT32(out, "bedrooms", bedrooms);
        BSON_APPEND_INT32(out, "bathrooms", bathrooms);
    }
    geo_point_show(doc, "location", out);
    properties_render_photos(doc, out);
    for (const char *const *f = tail; *f != NULL; f++)
        if (bson_iter_init_find(&it, doc, *f))
            bson_append_iter(out, *f, -1, &it);
    svc_render_search(doc, out);
}

static void
properties_get(svc_call_t *call)
{
    field_errors_t errors;
    int64_t id;
    bson_error_t error;
    mongoc_collection_t *coll = svc_collection(call->mongo, "properties", "properties");

    field_errors_init(&errors);
    if (!validate_id(&call->req->params, "id", &errors, &id)) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    bson_t *filter = BCON_NEW("_id", BCON_INT64(id));
    svc_filter_live(filter);
    bson_t doc = BSON_INITIALIZER;
    bool found;
    if (!svc_find_one(coll, filter, &doc, &found, &error)) {
        svc_fail_db(call, &error);
    } else if (!found) {
        svc_fail(call, 404, "not_found", "no property has id %lld", (long long)id);
    } else {
        bson_t out;
        properties_render(&doc, &out);
        svc_reply(call, 200, &out);
        bson_destroy(&out);
    }
    bson_destroy(&doc);
    bson_destroy(filter);
done:
    field_errors_destroy(&errors);
    svc_collection_close(coll);
}

/*
 * The cities that have properties, with counts, most properties first.
 * Grouped by exact spelling in the database ($first/$max are not in
 * FerretDB 1.24), then folded here by key (text.h: NFC + full case
 * folding), each city named by its most common spelling. Names and keys are
 * kept whole: a city is never cut to fit a buffer.
 */
typedef struct {
    char *key, *name;
    int64_t count, name_count;
} properties_city_t;

static int
properties_city_order(const void *a, const void *b)
{
    const properties_city_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->key, y->key);
}

/* The cities seen so far, by key, each with its most common spelling. */
typedef struct {
    properties_city_t *cities;
    size_t n, cap;
} properties_cities_t;

static bool
properties_city_group(const bson_t *doc, void *arg)
{
    properties_cities_t *c = arg;
    bson_iter_t it;
    uint32_t len;
    if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it))
        return true;
    const char *name = bson_iter_utf8(&it, &len);
    bson_iter_init_find(&it, doc, "count");
    int64_t count = bson_iter_as_int64(&it);
    char *key = text_key(name, len);
    if (key == NULL)
        return true;
    size_t i = 0;
    while (i < c->n && strcmp(c->cities[i].key, key) != 0)
        i++;
    if (i == c->n) {
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 64;
            c->cities = bson_realloc(c->cities, c->cap * sizeof(*c->cities));
        }
        c->cities[c->n++] = (properties_city_t){.key = key};
        key = NULL;
    }
    free(key);
    c->cities[i].count += count;
    /* The most common spelling; among as common ones, the first in byte
     * order: MongoDB does not order $group's output, so "first seen"
     * would name a city differently from one read to the next. */
    if (count > c->cities[i].name_count || (count == c->cities[i].name_count && strcmp(name, c->cities[i].name) < 0)) {
        bson_free(c->cities[i].name);
        c->cities[i].name = bson_strndup(name, len);
        c->cities[i].name_count = count;
    }
    return true;
}

static void
properties_cities(svc_call_t *call)
{
    static const char *const params[] = {NULL};
    field_errors_t errors;
    bson_error_t error;
    mongoc_collection_t *coll = svc_collection(call->mongo, "properties", "properties");
    properties_city_t *cities = NULL;
    size_t n = 0;

    field_errors_init(&errors);
    if (!validate_known_fields(&call->req->query, params, &errors)) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    bson_t live = BSON_INITIALIZER;
    svc_filter_live(&live);
    bson_t *pipeline = BCON_NEW("pipeline", "[", "{", "$match", BCON_DOCUMENT(&live), "}", "{", "$group", "{", "_id",
                                BCON_UTF8("$city"), "count", "{", "$sum", BCON_INT32(1), "}", "}", "}", "]");
    bson_destroy(&live);
    properties_cities_t c = {0};
    bool ok = svc_aggregate_each(coll, pipeline, NULL, properties_city_group, &c, &error);
    cities = c.cities;
    n = c.n;
    if (!ok) {
        svc_fail_db(call, &error);
    } else {
        bson_t body = BSON_INITIALIZER, items;
        if (n > 0)
            qsort(cities, n, sizeof(*cities), properties_city_order);
        BSON_APPEND_ARRAY_BEGIN(&body, "items", &items);
        for (size_t i = 0; i < n; i++) {
            char k[24];
            bson_t item;
            snprintf(k, sizeof(k), "%zu", i);
            BSON_APPEND_DOCUMENT_BEGIN(&items, k, &item);
            BSON_APPEND_UTF8(&item, "city", cities[i].name);
            BSON_APPEND_INT64(&item, "count", cities[i].count);
            bson_append_document_end(&items, &item);
        }
        bson_append_array_end(&body, &items);
        svc_reply(call, 200, &body);
        bson_destroy(&body);
    }
    bson_destroy(pipeline);
done:
    for (size_t i = 0; i < n; i++) {
        free(cities[i].key);
        bson_free(cities[i].name);
    }
    bson_free(cities);
    field_errors_destroy(&errors);
    svc_collection_close(coll);
}

/*
 * The ids of the live properties in a city (case-insensitive), at most
 * PROPERTIES_IDS_MAX, for services that filter their own documents by the city
 * of a property (listings) without reading this database. The reply's
 * "more" says the city has more than that, so that no caller takes a cut
 * list for the whole.
 */
#define PROPERTIES_IDS_MAX 10000

/* The ids found so far, and whether there are more than PROPERTIES_IDS_MAX. */
typedef struct {
    bson_t *ids;
    uint32_t n;
    bool more;
} properties_ids_t;

static bool
properties_ids_one(const bson_t *doc, void *arg)
{
    properties_ids_t *found = arg;
    bson_iter_t it;
    char k[16];
    if (found->n == PROPERTIES_IDS_MAX) {
        found->more = true;
        return false;
    }
    snprintf(k, sizeof(k), "%u", found->n++);
    if (bson_iter_init_find(&it, doc, "_id"))
        BSON_APPEND_INT64(found->ids, k, bson_iter_as_int64(&it));
    return true;
}

static void
properties_ids(svc_call_t *call)
{
    field_errors_t errors;
    bson_iter_t it;
    bson_error_t error;
    const char *city = NULL;
    const bson_t *query = &call->req->query;
    odata_query_t q;
    bson_t *filter = bson_new();
    svc_filter_live(filter);

    field_errors_init(&errors);
    /* Either a city (listings' ?city=) or an OData $filter (RESO's
     * conditions on the property: listings/reso.c), never both. */
    bool odata = odata_requested(query);
    /* The $filter here is Roost's own rewrite of a client's, already held
     * to the client's limit: only a sanity bound applies (odata.h). */
    odata_resource_t rewritten = properties_odata;
    rewritten.filter_max = ODATA_REWRITE_MAX_LENGTH;
    bool parsed = odata_query_parse(&rewritten, query, NULL, &q, &errors);
    if (odata) {
        static const char *const none[] = {NULL};
        bson_t rest = BSON_INITIALIZER;
        bson_copy_to_excluding_noinit(query, &rest, "$filter", NULL);
        validate_known_fields(&rest, none, &errors);
        bson_destroy(&rest);
        if (!bson_has_field(query, "$filter"))
            field_errors_add(&errors, "$filter", "is required with OData options here");
        if (parsed)
            bson_concat(filter, &q.filter);
    } else {
        static const char *const params[] = {"city", NULL};
        validate_known_fields(query, params, &errors);
        if (!bson_iter_init_find(&it, query, "city"))
            field_errors_add(&errors, "city", "is required");
        else
            validate_text(&it, &errors, "city", 1, 100, &city);
    }
    odata_query_destroy(&q);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        bson_destroy(filter);
        return;
    }
    field_errors_destroy(&errors);
    if (city != NULL) {
        char *key = text_key(city, strlen(city));
        BSON_APPEND_UTF8(filter, "city_key", key);
        free(key);
    }
    mongoc_collection_t *coll = svc_collection(call->mongo, "properties", "properties");
    bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "limit", BCON_INT64(PROPERTIES_IDS_MAX + 1),
                            "maxTimeMS", BCON_INT64(svc_query_max_time_ms()));
    bson_t body = BSON_INITIALIZER, ids;
    BSON_APPEND_ARRAY_BEGIN(&body, "ids", &ids);
    properties_ids_t found = {.ids = &ids};
    bool ok = svc_find_each(coll, filter, opts, properties_ids_one, &found, &error);
    bson_append_array_end(&body, &ids);
    BSON_APPEND_BOOL(&body, "more", found.more);
    if (!ok && svc_is_time_limit(&error))
        svc_fail(call, 400, "query_too_costly",
                 "the database gave up on these property conditions after %lld ms: add one on an indexed field",
                 (long long)svc_query_max_time_ms());
    else if (!ok)
        svc_fail_db(call, &error);
    else
        svc_reply(call, 200, &body);
    bson_destroy(&body);
    bson_destroy(opts);
    bson_destroy(filter);
    svc_collection_close(coll);
}

/* A JSON array POSTed to /api/v1/properties: each item as properties.create (bulk.h). */
static void
properties_create_many(svc_call_t *call)
{
    svc_create_many(call, "properties.create", properties_create);
}

static const svc_op_t properties_ops[] = {
    {"properties.create", properties_create, SVC_AUTH_REQUIRED},
    {"properties.create_many", properties_create_many, SVC_AUTH_REQUIRED},
    {"properties.get", properties_get},
    {"properties.list", properties_list},
    {"properties.update", properties_update, SVC_AUTH_REQUIRED},
    {"properties.delete", properties_delete, SVC_AUTH_REQUIRED},
    {"properties.cities", properties_cities},
    {"properties.ids", properties_ids},
    {"properties.rooms.add", properties_room_add, SVC_AUTH_REQUIRED},
    {"properties.rooms.update", properties_room_update, SVC_AUTH_REQUIRED},
    {"properties.rooms.delete", properties_room_delete, SVC_AUTH_REQUIRED},
    {"properties.media.piece", properties_media_piece, SVC_AUTH_REQUIRED},
    {"properties.media.add", properties_media_add, SVC_AUTH_REQUIRED},
    {"properties.media.list", properties_media_list},
    {"properties.media.get", properties_media_get},
    {"properties.media.update", properties_media_update, SVC_AUTH_REQUIRED},
    {"properties.media.delete", properties_media_delete, SVC_AUTH_REQUIRED},
    {"properties.media.read", properties_media_read},
    {"properties.tick", properties_tick},
    {NULL, NULL},
};

const svc_service_t properties_service = {.name = "properties", .ops = properties_ops, .tick_op = "properties.tick"};
