/*
 * listings.list: live listings, newest first or by price, distance or
 * relevance, filtered by lister, listing type, price, and the property's
 * own fields from the snapshot each listing keeps (snapshot.c): city,
 * type, bedrooms, bathrooms, living area, where it is on the map
 * (query/geo.h) and its words (query/words.h).
 */
#include "listings.h"
#include "query/words.h"
#include "sdk/list.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const listings_types[] = {"rent", "sale", NULL};

/* The OData vocabulary of a listing (docs/query.md): its public fields. */
static const odata_field_t listings_odata_fields[] = {
    {"id", "_id", ODATA_INT, ODATA_ALL},
    {"user_id", "user_id", ODATA_INT, ODATA_ALL},
    {"property_id", "property_id", ODATA_INT, ODATA_ALL},
    {"listing_type", "listing_type", ODATA_STRING, ODATA_ALL, listings_types},
    {"price", "price", ODATA_INT, ODATA_ALL},
    {"created_at", "created_at", ODATA_TIME, ODATA_ALL},
    {"updated_at", "updated_at", ODATA_TIME, ODATA_ALL},
    {"version", "version", ODATA_INT, ODATA_SELECT},
    /* The property's fields, from the listing's snapshot (snapshot.c);
     * $select of any of them gives the whole snapshot, "property". */
    {"city", "property.city", ODATA_STRING, ODATA_ALL, NULL, "property"},
    {"type", "property.type", ODATA_STRING, ODATA_ALL, listings_property_types, "property"},
    {"bedrooms", "property.bedrooms", ODATA_INT, ODATA_ALL, NULL, "property"},
    {"bathrooms", "property.bathrooms", ODATA_INT, ODATA_ALL, NULL, "property"},
    {"living_area_m2", "property.living_area_m2", ODATA_NUMBER, ODATA_ALL, NULL, "property"},
    {"location", "property.location", ODATA_GEO, ODATA_FILTER | ODATA_SELECT, NULL, "property"},
};

const odata_resource_t listings_odata = {
    .fields = listings_odata_fields,
    .count = sizeof(listings_odata_fields) / sizeof(listings_odata_fields[0]),
    .id_name = "id",
    .top_default = 10,
    .top_max = 100,
    .skip_max = 100000,
    .search_path = "property.words",
};

bool
listings_filter_properties(svc_call_t *call, const char *key, const char *value, const char *field, bson_t *filter)
{
    bson_t reply, cond, in;
    bson_iter_t it, ids;
    field_errors_t errors;
    bson_t *request = BCON_NEW("query", "{", key, BCON_UTF8(value), "}");
    int status = svc_ask(call, "properties.ids", request, &reply);
    bson_destroy(request);
    field_errors_init(&errors);
    if (status == 400) { /* the properties service's own words (a value it refuses, a costly filter), on `field` */
        const char *code = "validation_failed", *message = "the property conditions are refused";
        if (bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "error.fields", &it) &&
            bson_iter_recurse(&it, &ids)) {
            while (bson_iter_next(&ids)) {
                bson_iter_t m;
                if (bson_iter_recurse(&ids, &m) && bson_iter_find(&m, "message") && BSON_ITER_HOLDS_UTF8(&m)) {
                    /* Its positions are in the text sent to it, not the client's: left out. */
                    const char *message = bson_iter_utf8(&m, NULL);
                    if (strncmp(message, "at character ", 13) == 0 && strstr(message, ": ") != NULL)
                        message = strstr(message, ": ") + 2;
                    field_errors_add(&errors, field, "the property conditions: %s", message);
                }
            }
        }
        if (errors.count == 0) {
            if (bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "error.code", &it))
                code = bson_iter_utf8(&it, NULL);
            if (bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "error.message", &it))
                message = bson_iter_utf8(&it, NULL);
            svc_fail(call, 400, code, "%s", message);
        }
    } else if (status >= 0 && status != 200) {
        svc_fail_asked(call, "properties.ids", status);
    } else if (status == 200 && bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "body.more", &it) &&
               bson_iter_as_bool(&it)) {
        field_errors_add(&errors, field, "matches more than %d properties, more than a listing filter takes: narrow it",
                         LISTINGS_CITY_MAX);
    } else if (status == 200) {
        BSON_APPEND_DOCUMENT_BEGIN(filter, "property_id", &cond);
        BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &in);
        if (bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "body.ids", &it) &&
            bson_iter_recurse(&it, &ids)) {
            uint32_t n = 0;
            while (bson_iter_next(&ids)) {
                char k[16];
                snprintf(k, sizeof(k), "%u", n++);
                BSON_APPEND_INT64(&in, k, bson_iter_as_int64(&ids));
            }
        }
        bson_append_array_end(&cond, &in);
        bson_append_document_end(filter, &cond);
    }
    if (errors.count > 0)
        svc_fail_fields(call, &errors);
    field_errors_destroy(&errors);
    bson_destroy(&reply);
    return status == 200 && call->replied == false;
}

/* Appends {path: {$in: [...]}} from a comma list of `set`'s members (a
 * repeated parameter arrives joined by commas). */
static void
listings_filter_in(const bson_t *query, const char *key, const char *path, const char *const *set, field_errors_t *e,
                   bson_t *filter)
{
    bson_iter_t it;
    bson_t cond, in;
    const char *s;
    uint32_t n = 0;
    if (!bson_iter_init_find(&it, query, key) || !validate_text(&it, e, key, 1, 500, &s))
        return;
    BSON_APPEND_DOCUMENT_BEGIN(filter, path, &cond);
    BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &in);
    for (const char *p = s;;) {
        size_t len = strcspn(p, ",");
        const char *const *m = set;
        while (*m != NULL && (strlen(*m) != len || strncmp(*m, p, len) != 0))
            m++;
        if (*m == NULL) {
            field_errors_add(e, key, "'%.*s' is not one of the values (a comma list of them is allowed)",
                             (int)(len > 40 ? 40 : len), p);
        } else {
            char k[16];
            snprintf(k, sizeof(k), "%u", n++);
            BSON_APPEND_UTF8(&in, k, *m);
        }
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    bson_append_array_end(&cond, &in);
    bson_append_document_end(filter, &cond);
}

/* Appends {path: {$gte: lo, $lte: hi}} when either bound was asked. */
static void
listings_filter_range(const bson_t *query, const char *lo_key, const char *hi_key, const char *path, double lo,
                      double hi, bool integer, bson_t *filter)
{
    bson_t cond;
    if (!bson_has_field(query, lo_key) && (hi_key == NULL || !bson_has_field(query, hi_key)))
        return;
    BSON_APPEND_DOCUMENT_BEGIN(filter, path, &cond);
    if (bson_has_field(query, lo_key)) {
        if (integer)
            BSON_APPEND_INT64(&cond, "$gte", (int64_t)lo);
        else
            BSON_APPEND_DOUBLE(&cond, "$gte", lo);
    }
    if (hi_key != NULL && bson_has_field(query, hi_key)) {
        if (integer)
            BSON_APPEND_INT64(&cond, "$lte", (int64_t)hi);
        else
            BSON_APPEND_DOUBLE(&cond, "$lte", hi);
    }
    bson_append_document_end(filter, &cond);
}

bool
listings_search_filter(svc_call_t *call, field_errors_t *errors, bson_t *filter, geo_area_t *area)
{
    const bson_t *query = &call->req->query;
    int64_t user_id = 0, min_price, max_price, lo, hi;
    double min_area, max_area;
    bson_iter_t it;
    const char *s;

    validate_query_range(query, "min_price", "max_price", 1, LISTINGS_PRICE_MAX, errors, &min_price, &max_price);
    if (bson_has_field(query, "user_id") && validate_id(query, "user_id", errors, &user_id))
        BSON_APPEND_INT64(filter, "user_id", user_id);
    listings_filter_in(query, "listing_type", "listing_type", listings_types, errors, filter);
    listings_filter_range(query, "min_price", "max_price", "price", (double)min_price, (double)max_price, true, filter);
    /* The property's fields, from the snapshot each listing keeps of it. */
    if (bson_iter_init_find(&it, query, "city") && validate_text(&it, errors, "city", 1, 100, &s)) {
        char *key = text_key(s, strlen(s));
        BSON_APPEND_UTF8(filter, "property.city_key", key);
        free(key);
    }
    listings_filter_in(query, "type", "property.type", listings_property_types, errors, filter);
    if (validate_query_range(query, "min_bedrooms", "max_bedrooms", 0, LISTINGS_ROOMS_MAX, errors, &lo, &hi))
        listings_filter_range(query, "min_bedrooms", "max_bedrooms", "property.bedrooms", (double)lo, (double)hi, true,
                              filter);
    if (validate_query_range(query, "min_bathrooms", "max_bathrooms", 0, LISTINGS_ROOMS_MAX, errors, &lo, &hi))
        listings_filter_range(query, "min_bathrooms", "max_bathrooms", "property.bathrooms", (double)lo, (double)hi,
                              true, filter);
    if (validate_query_number_range(query, "min_area_m2", "max_area_m2", 0, LISTINGS_AREA_MAX, errors, &min_area,
                                    &max_area))
        listings_filter_range(query, "min_area_m2", "max_area_m2", "property.living_area_m2", min_area, max_area, false,
                              filter);
    geo_area_parse(query, errors, area);
    words_filter(query, "q", "property.words", errors, filter);
    return errors->count == 0;
}

void
listings_list(svc_call_t *call)
{
    static const char *const params[] = {
        "page", "per_page",     "user_id",      "listing_type",  "min_price",     "max_price",   "city",
        "type", "min_bedrooms", "max_bedrooms", "min_bathrooms", "max_bathrooms", "min_area_m2", "max_area_m2",
        "near", "radius_m",     "bbox",         "polygon",       "order_by",      "q",           NULL};
    static const validate_order_t orders[] = {
        {"created_at", "created_at"}, {"price", "price"}, {"distance", ""}, {"relevance", SVC_SCORE_FIELD}};
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    int64_t page, per_page;
    bool searched = bson_has_field(query, "q");
    const char *sort_field = searched ? SVC_SCORE_FIELD : "created_at"; /* best matches first */
    int sort_dir = searched ? 1 : -1;
    geo_area_t area;
    bson_t filter = BSON_INITIALIZER;
    mongoc_collection_t *coll = svc_collection(call->mongo, "listings", "listings");

    if (odata_requested(query)) { /* $filter, $top, …: docs/query.md */
        bson_t *newest = BCON_NEW("created_at", BCON_INT32(-1));
        svc_filter_live(&filter);
        svc_odata_list(call, &listings_odata, coll, &filter, newest, listings_render);
        bson_destroy(newest);
        bson_destroy(&filter);
        svc_collection_close(coll);
        return;
    }

    field_errors_init(&errors);
    validate_known_fields(query, params, &errors);
    validate_query_int(query, "page", 1, 1, VALIDATE_PAGE_MAX, &errors, &page);
    validate_query_int(query, "per_page", 10, 1, 100, &errors, &per_page);
    if (bson_has_field(query, "order_by"))
        validate_order_by(query, orders, sizeof(orders) / sizeof(orders[0]), &errors, &sort_field, &sort_dir);
    listings_search_filter(call, &errors, &filter, &area);
    geo_check_order(&area, sort_field[0] == '\0', sort_dir, &errors);
    words_check_order(searched, strcmp(sort_field, SVC_SCORE_FIELD) == 0, sort_field[0] == '\0', sort_dir, &errors);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    svc_filter_live(&filter);
    svc_list_area(call, coll, &filter, &area, "property.location", sort_field, sort_dir, page, per_page,
                  listings_render);
done:
    field_errors_destroy(&errors);
    bson_destroy(&filter);
    svc_collection_close(coll);
}
