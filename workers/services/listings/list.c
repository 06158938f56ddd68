/*
 * listings.list: live listings newest first, filtered by lister, type,
 * price range and city (the city's property ids, asked of the properties
 * service: listings do not keep the city themselves).
 */
#include "listings.h"
#include "sdk/list.h"

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
};

const odata_resource_t listings_odata = {
    .fields = listings_odata_fields,
    .count = sizeof(listings_odata_fields) / sizeof(listings_odata_fields[0]),
    .id_name = "id",
    .top_default = 10,
    .top_max = 100,
    .skip_max = 100000,
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

void
listings_list(svc_call_t *call)
{
    static const char *const params[] = {"page",      "per_page",  "user_id", "listing_type",
                                         "min_price", "max_price", "city",    NULL};
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    int64_t page, per_page, user_id = 0, min_price, max_price;
    bson_iter_t it;
    const char *s;
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
    validate_query_range(query, "min_price", "max_price", 1, LISTINGS_PRICE_MAX, &errors, &min_price, &max_price);
    if (bson_has_field(query, "user_id") && validate_id(query, "user_id", &errors, &user_id))
        BSON_APPEND_INT64(&filter, "user_id", user_id);
    if (bson_iter_init_find(&it, query, "listing_type")) {
        if (!BSON_ITER_HOLDS_UTF8(&it) ||
            (strcmp(s = bson_iter_utf8(&it, NULL), "rent") != 0 && strcmp(s, "sale") != 0))
            field_errors_add(&errors, "listing_type", "must be \"rent\" or \"sale\"");
        else
            BSON_APPEND_UTF8(&filter, "listing_type", s);
    }
    if (bson_has_field(query, "min_price") || bson_has_field(query, "max_price")) {
        bson_t cond;
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "price", &cond);
        BSON_APPEND_INT64(&cond, "$gte", min_price);
        BSON_APPEND_INT64(&cond, "$lte", max_price);
        bson_append_document_end(&filter, &cond);
    }
    if (bson_iter_init_find(&it, query, "city") && validate_text(&it, &errors, "city", 1, 100, &s) &&
        errors.count == 0 && !listings_filter_properties(call, "city", s, "city", &filter))
        goto done;
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    svc_filter_live(&filter);
    svc_list_page(call, coll, NULL, &filter, "created_at", -1, page, per_page, listings_render);
done:
    field_errors_destroy(&errors);
    bson_destroy(&filter);
    svc_collection_close(coll);
}
