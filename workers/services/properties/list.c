/*
 * properties.list: a page of live properties, filtered by city, type,
 * owner, room count, where they are on the map (query/geo.h) and their
 * words (query/words.h), ordered by a field, by distance or by relevance;
 * or a window of the OData options, whose vocabulary is here too.
 */
#include "properties.h"
#include "query/geo.h"
#include "query/words.h"
#include "sdk/list.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

/* The OData vocabulary of a property (docs/query.md): its public fields. */
static const odata_field_t properties_odata_fields[] = {
    {"id", "_id", ODATA_INT, ODATA_ALL},
    {"name", "name", ODATA_STRING, ODATA_ALL},
    {"description", "description", ODATA_STRING, ODATA_FILTER | ODATA_SELECT},
    {"type", "type", ODATA_STRING, ODATA_ALL, properties_types},
    {"city", "city", ODATA_STRING, ODATA_ALL},
    {"address", "address", ODATA_STRING, ODATA_ALL},
    {"room_count", "room_count", ODATA_INT, ODATA_ALL},
    {"living_area_m2", "living_area_m2", ODATA_NUMBER, ODATA_ALL},
    {"bedrooms", "bedrooms", ODATA_INT, ODATA_ALL},
    {"bathrooms", "bathrooms", ODATA_INT, ODATA_ALL},
    {"owner_id", "owner_id", ODATA_INT, ODATA_ALL},
    {"created_at", "created_at", ODATA_TIME, ODATA_ALL},
    {"updated_at", "updated_at", ODATA_TIME, ODATA_ALL},
    {"rooms", "rooms", ODATA_STRING, ODATA_SELECT},
    {"location", "location", ODATA_GEO, ODATA_FILTER | ODATA_SELECT}, /* geo.distance, geo.intersects */
    {"version", "version", ODATA_INT, ODATA_SELECT},
    /* Shown from the stored photos (properties_render_photos). */
    {"photos", "photos", ODATA_STRING, ODATA_SELECT},
    {"photos_count", "photos", ODATA_INT, ODATA_SELECT},
    {"cover_url", "photos", ODATA_STRING, ODATA_SELECT},
};

const odata_resource_t properties_odata = {
    .fields = properties_odata_fields,
    .count = sizeof(properties_odata_fields) / sizeof(properties_odata_fields[0]),
    .id_name = "id",
    .top_default = PROPERTIES_PER_PAGE_DEFAULT,
    .top_max = PROPERTIES_PER_PAGE_MAX,
    .skip_max = 100000,
    .search_path = "words",
};

void
properties_list(svc_call_t *call)
{
    static const char *const params[] = {"page",     "per_page",  "order_by",  "city", "type",
                                         "owner_id", "min_rooms", "max_rooms", "near", "radius_m",
                                         "bbox",     "polygon",   "q",         NULL};
    static const validate_order_t orders[] = {{"id", "_id"},
                                              {"name", "name"},
                                              {"city", "city_key"},
                                              {"created_at", "created_at"},
                                              {"updated_at", "updated_at"},
                                              {"room_count", "room_count"},
                                              {"distance", ""},
                                              {"relevance", SVC_SCORE_FIELD}};
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    int64_t page, per_page, min_rooms, max_rooms, owner_id = 0;
    bson_iter_t it;
    bson_t filter = BSON_INITIALIZER, cond;
    mongoc_collection_t *coll = svc_collection(call->mongo, "properties", "properties");
    const char *sort_field, *s;
    int sort_dir;
    geo_area_t area;

    field_errors_init(&errors);
    svc_filter_live(&filter);
    if (odata_requested(query)) { /* $filter, $top, …: docs/query.md */
        bson_t *by_id = BCON_NEW("_id", BCON_INT32(1));
        svc_odata_list(call, &properties_odata, coll, &filter, by_id, properties_render);
        bson_destroy(by_id);
        goto done;
    }
    validate_known_fields(query, params, &errors);
    validate_query_int(query, "page", 1, 1, VALIDATE_PAGE_MAX, &errors, &page);
    validate_query_int(query, "per_page", PROPERTIES_PER_PAGE_DEFAULT, 1, PROPERTIES_PER_PAGE_MAX, &errors, &per_page);
    validate_query_range(query, "min_rooms", "max_rooms", 0, PROPERTIES_MAX_ROOMS, &errors, &min_rooms, &max_rooms);
    if (bson_has_field(query, "owner_id"))
        validate_id(query, "owner_id", &errors, &owner_id);
    validate_order_by(query, orders, sizeof(orders) / sizeof(orders[0]), &errors, &sort_field, &sort_dir);
    bool searched = bson_has_field(query, "q");
    if (searched && !bson_has_field(query, "order_by"))
        sort_field = SVC_SCORE_FIELD; /* best matches first */
    words_filter(query, "q", "words", &errors, &filter);
    if (bson_iter_init_find(&it, query, "city") && validate_text(&it, &errors, "city", 1, 100, &s)) {
        char *key = text_key(s, strlen(s));
        BSON_APPEND_UTF8(&filter, "city_key", key);
        free(key);
    }
    if (bson_iter_init_find(&it, query, "type") && validate_text(&it, &errors, "type", 1, 32, &s)) {
        bool known = false;
        for (const char *const *t = properties_types; *t; t++)
            known = known || strcmp(*t, s) == 0;
        if (!known)
            field_errors_add(&errors, "type", "is not a property type (see the documented list)");
        BSON_APPEND_UTF8(&filter, "type", s);
    }
    if (owner_id > 0)
        BSON_APPEND_INT64(&filter, "owner_id", owner_id);
    if (bson_has_field(query, "min_rooms") || bson_has_field(query, "max_rooms")) {
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "room_count", &cond);
        BSON_APPEND_INT64(&cond, "$gte", min_rooms);
        BSON_APPEND_INT64(&cond, "$lte", max_rooms);
        bson_append_document_end(&filter, &cond);
    }
    geo_area_parse(query, &errors, &area);
    geo_check_order(&area, sort_field[0] == '\0', sort_dir, &errors);
    words_check_order(searched, strcmp(sort_field, SVC_SCORE_FIELD) == 0, sort_field[0] == '\0', sort_dir, &errors);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    svc_list_area(call, coll, &filter, &area, "location", sort_field, sort_dir, page, per_page, properties_render);
done:
    field_errors_destroy(&errors);
    bson_destroy(&filter);
    svc_collection_close(coll);
}
