/*
 * listings.reso: the RESO Web API's Property resource (docs/reso.md), read
 * only. Each Property entity is one live listing joined with its property,
 * named by the RESO Data Dictionary:
 *
 *   ListingKey             the listing id, as a string
 *   ListPrice              price
 *   StandardStatus         'Active' (every listing served is live)
 *   ListAgentKey           the lister's user id, as a string
 *   ModificationTimestamp  updated_at, ISO 8601 UTC
 *   PropertyType, City, UnparsedAddress, RoomsTotal, LivingArea
 *                          the property's type, city, address, room_count,
 *                          living_area_m2 (LivingAreaUnits 'Square Meters')
 *   BedroomsTotal          the property's rooms of kind bedroom
 *
 * The OData options are the lists' (odata.h) on these names. Conditions on
 * the property's fields go to the properties service as one $filter
 * (properties.ids: the matching ids, at most 10,000), and the page's
 * properties come from it in one request (properties.list, id in (...)):
 * never one per listing, never from its database.
 */
#include "listings.h"
#include "sdk/list.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* The RESO Data Dictionary's StandardStatus values: any may be asked for;
 * every listing Roost serves is Active. */
static const char *const reso_statuses[] = {"Active",      "Active Under Contract",
                                            "Canceled",    "Closed",
                                            "Coming Soon", "Delete",
                                            "Expired",     "Hold",
                                            "Incomplete",  "Pending",
                                            "Withdrawn",   NULL};

/* The properties service's types (properties_types): a value it would
 * refuse is refused here, in RESO's names and positions. A unit test keeps
 * the two lists equal (tests/unit/workers/services/listings/fields_test.c). */
const char *const listings_property_types[] = {"apartment",  "house", "studio", "villa", "land",
                                               "commercial", "cabin", "room",   NULL};

static const odata_field_t reso_fields[] = {
    {"ListingKey", "_id", ODATA_KEY, ODATA_ALL},
    {"ListPrice", "price", ODATA_INT, ODATA_ALL},
    {"StandardStatus", "", ODATA_STRING, ODATA_FILTER | ODATA_SELECT, reso_statuses, NULL, "Active"},
    {"ListAgentKey", "user_id", ODATA_KEY, ODATA_ALL},
    {"ModificationTimestamp", "updated_at", ODATA_TIME, ODATA_ALL},
    {"PropertyType", "type", ODATA_STRING, ODATA_FILTER | ODATA_SELECT | ODATA_JOINED, listings_property_types},
    {"City", "city", ODATA_STRING, ODATA_FILTER | ODATA_SELECT | ODATA_JOINED},
    {"UnparsedAddress", "address", ODATA_STRING, ODATA_FILTER | ODATA_SELECT | ODATA_JOINED},
    {"BedroomsTotal", "bedrooms", ODATA_INT, ODATA_FILTER | ODATA_SELECT | ODATA_JOINED},
    {"BathroomsTotalInteger", "bathrooms", ODATA_INT, ODATA_FILTER | ODATA_SELECT | ODATA_JOINED},
    {"RoomsTotal", "room_count", ODATA_INT, ODATA_FILTER | ODATA_SELECT | ODATA_JOINED},
    {"LivingArea", "living_area_m2", ODATA_NUMBER, ODATA_FILTER | ODATA_SELECT | ODATA_JOINED},
    {"LivingAreaUnits", "", ODATA_STRING, ODATA_SELECT},
    {"Latitude", "", ODATA_NUMBER, ODATA_SELECT},
    {"Longitude", "", ODATA_NUMBER, ODATA_SELECT},
    /* The point Latitude and Longitude give, for geo.distance and
     * geo.intersects: the listing's own snapshot, not a join. */
    {"Coordinates", "property.location", ODATA_GEO, ODATA_FILTER | ODATA_SELECT},
    /* The property's photos (issue 24); each is a Media entity of $expand=Media. */
    {"PhotosCount", "", ODATA_INT, ODATA_SELECT},
};

const odata_resource_t listings_reso_odata = {
    .fields = reso_fields,
    .count = sizeof(reso_fields) / sizeof(reso_fields[0]),
    .id_name = "ListingKey",
    .top_default = 20,
    .top_max = 100,
    .skip_max = 100000,
};

/* The page's properties: *props holds {items: [...]} of properties.list,
 * or stays empty when the page names none. Usually one request; more when
 * a window comes back shorter than asked because its properties (rooms
 * and all) would pass what one reply may carry (docs/protocol.md). */
static bool
reso_properties_of(svc_call_t *call, const bson_t *page, bson_t *props)
{
    bson_iter_t it, f, one;
    bson_string_t *ids = bson_string_new(NULL);
    uint32_t n = 0, got = 0;
    bson_init(props);
    if (bson_iter_init(&it, page))
        while (bson_iter_next(&it))
            if (bson_iter_recurse(&it, &f) && bson_iter_find(&f, "property_id") && BSON_ITER_HOLDS_INT(&f))
                bson_string_append_printf(ids, "%s%lld", n++ ? ", " : "", (long long)bson_iter_as_int64(&f));
    if (n == 0) {
        bson_string_free(ids, true);
        return true;
    }
    char *filter = bson_strdup_printf("id in (%s)", ids->str);
    bson_string_free(ids, true);
    bson_t items;
    BSON_APPEND_ARRAY_BEGIN(props, "items", &items);
    int status = 200;
    for (bool more = true; more && status == 200;) {
        char skip[16];
        snprintf(skip, sizeof(skip), "%u", got);
        bson_t reply,
            *request = BCON_NEW(
                "query", "{", "$filter", BCON_UTF8(filter), "$top", BCON_UTF8("100"), "$skip", BCON_UTF8(skip),
                "$select",
                BCON_UTF8("type,city,address,room_count,living_area_m2,bedrooms,bathrooms,location,photos,photos_count,"
                          "updated_at"),
                "}");
        status = svc_ask(call, "properties.list", request, &reply);
        bson_destroy(request);
        uint32_t before = got;
        more = false;
        if (status != 200) {
            if (status >= 0)
                svc_fail_asked(call, "properties.list", status);
        } else if (bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "body.items", &f) &&
                   bson_iter_recurse(&f, &one)) {
            while (bson_iter_next(&one)) {
                char key[16];
                snprintf(key, sizeof(key), "%u", got++);
                bson_append_iter(&items, key, -1, &one);
            }
            /* Cut short (top < 100): the rest follows at $skip=got. */
            more = got > before && got < n && bson_iter_init(&it, &reply) &&
                   bson_iter_find_descendant(&it, "body.top", &f) && bson_iter_as_int64(&f) < 100;
        }
        bson_destroy(&reply);
    }
    bson_append_array_end(props, &items);
    bson_free(filter);
    return status == 200;
}

/* The property with `id` in `props` ({items: [...]}), as a view; false if none. */
static bool
reso_property(const bson_t *props, int64_t id, bson_t *out)
{
    bson_iter_t it, items, f;
    if (!bson_iter_init_find(&it, props, "items") || !bson_iter_recurse(&it, &items))
        return false;
    while (bson_iter_next(&items))
        if (bson_iter_recurse(&items, &f) && bson_iter_find(&f, "id") && bson_iter_as_int64(&f) == id) {
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&items, &len, &data);
            return bson_init_static(out, data, len);
        }
    return false;
}

void
listings_iso_time(int64_t us, char out[40])
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    char buf[24];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%06lldZ", buf, (long long)(us % 1000000));
}

/* One Property entity: the listing `doc` and its property (or none). */
static void
reso_render(const bson_t *doc, const bson_t *property, bson_t *out)
{
    bson_iter_t it;
    char key[24], when[40];
    bson_init(out);
    snprintf(key, sizeof(key), "%lld", (long long)(bson_iter_init_find(&it, doc, "_id") ? bson_iter_as_int64(&it) : 0));
    BSON_APPEND_UTF8(out, "ListingKey", key);
    if (bson_iter_init_find(&it, doc, "price"))
        BSON_APPEND_INT64(out, "ListPrice", bson_iter_as_int64(&it));
    BSON_APPEND_UTF8(out, "StandardStatus", "Active");
    snprintf(key, sizeof(key), "%lld",
             (long long)(bson_iter_init_find(&it, doc, "user_id") ? bson_iter_as_int64(&it) : 0));
    BSON_APPEND_UTF8(out, "ListAgentKey", key);
    listings_iso_time(bson_iter_init_find(&it, doc, "updated_at") ? bson_iter_as_int64(&it) : 0, when);
    BSON_APPEND_UTF8(out, "ModificationTimestamp", when);
    static const char *const strings[][2] = {
        {"type", "PropertyType"}, {"city", "City"}, {"address", "UnparsedAddress"}};
    for (size_t i = 0; i < 3; i++) {
        if (property != NULL && bson_iter_init_find(&it, property, strings[i][0]) && BSON_ITER_HOLDS_UTF8(&it))
            BSON_APPEND_UTF8(out, strings[i][1], bson_iter_utf8(&it, NULL));
        else
            BSON_APPEND_NULL(out, strings[i][1]);
    }
    static const char *const counts[][2] = {{"bedrooms", "BedroomsTotal"}, {"bathrooms", "BathroomsTotalInteger"}};
    for (size_t i = 0; i < 2; i++) {
        if (property != NULL && bson_iter_init_find(&it, property, counts[i][0]))
            BSON_APPEND_INT64(out, counts[i][1], bson_iter_as_int64(&it));
        else
            BSON_APPEND_NULL(out, counts[i][1]);
    }
    if (property != NULL && bson_iter_init_find(&it, property, "room_count"))
        BSON_APPEND_INT64(out, "RoomsTotal", bson_iter_as_int64(&it));
    else
        BSON_APPEND_NULL(out, "RoomsTotal");
    if (property != NULL && bson_iter_init_find(&it, property, "living_area_m2")) {
        BSON_APPEND_DOUBLE(out, "LivingArea", bson_iter_as_double(&it));
        BSON_APPEND_UTF8(out, "LivingAreaUnits", "Square Meters");
    } else {
        BSON_APPEND_NULL(out, "LivingArea");
        BSON_APPEND_NULL(out, "LivingAreaUnits");
    }
    bson_iter_t lat, lon;
    if (property != NULL && bson_iter_init(&lat, property) && bson_iter_find_descendant(&lat, "location.lat", &lat) &&
        bson_iter_init(&lon, property) && bson_iter_find_descendant(&lon, "location.lon", &lon)) {
        BSON_APPEND_DOUBLE(out, "Latitude", bson_iter_as_double(&lat));
        BSON_APPEND_DOUBLE(out, "Longitude", bson_iter_as_double(&lon));
        /* Edm.GeographyPoint in OData JSON: a GeoJSON Point. */
        BCON_APPEND(out, "Coordinates", "{", "type", BCON_UTF8("Point"), "coordinates", "[",
                    BCON_DOUBLE(bson_iter_as_double(&lon)), BCON_DOUBLE(bson_iter_as_double(&lat)), "]", "}");
    } else {
        BSON_APPEND_NULL(out, "Latitude");
        BSON_APPEND_NULL(out, "Longitude");
        BSON_APPEND_NULL(out, "Coordinates");
    }
    if (property != NULL)
        BSON_APPEND_INT64(out, "PhotosCount",
                          bson_iter_init_find(&it, property, "photos_count") ? bson_iter_as_int64(&it) : 0);
    else
        BSON_APPEND_NULL(out, "PhotosCount");
}

/* The Media entities of a Property (`$expand=Media`): its property's
 * photos in order, by the RESO Data Dictionary's Media resource. */
static void
reso_media(const bson_t *property, const char *listing_key, bson_t *out)
{
    bson_iter_t it, photos, f;
    bson_t list, one;
    char when[40], key[16];
    uint32_t n = 0;
    bson_iter_t at;
    listings_iso_time(
        property != NULL && bson_iter_init_find(&at, property, "updated_at") ? bson_iter_as_int64(&at) : 0, when);
    BSON_APPEND_ARRAY_BEGIN(out, "Media", &list);
    if (property != NULL && bson_iter_init_find(&it, property, "photos") && bson_iter_recurse(&it, &photos))
        while (bson_iter_next(&photos)) {
            snprintf(key, sizeof(key), "%u", n++);
            BSON_APPEND_DOCUMENT_BEGIN(&list, key, &one);
            static const char *const fields[][2] = {{"id", "MediaKey"}, {"url", "MediaURL"}};
            for (size_t i = 0; i < 2; i++)
                if (bson_iter_recurse(&photos, &f) && bson_iter_find(&f, fields[i][0]))
                    bson_append_iter(&one, fields[i][1], -1, &f);
            BSON_APPEND_UTF8(&one, "ResourceRecordKey", listing_key);
            BSON_APPEND_UTF8(&one, "ResourceName", "Property");
            BSON_APPEND_UTF8(&one, "MediaCategory", "Photo");
            static const char *const numbers[][2] = {
                {"order", "Order"}, {"width", "ImageWidth"}, {"height", "ImageHeight"}};
            for (size_t i = 0; i < 3; i++)
                if (bson_iter_recurse(&photos, &f) && bson_iter_find(&f, numbers[i][0]))
                    BSON_APPEND_INT64(&one, numbers[i][1], bson_iter_as_int64(&f));
            /* A photo changes only with its property (its order, its
             * caption): the property's last change is when it last could. */
            BSON_APPEND_UTF8(&one, "ModificationTimestamp", when);
            bson_append_document_end(&list, &one);
        }
    bson_append_array_end(out, &list);
}

/* RFC 3986 percent-encoding of everything but the unreserved characters. */
static void
reso_encode(bson_string_t *out, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr("-._~", *c))
            bson_string_append_c(out, (char)*c);
        else
            bson_string_append_printf(out, "%%%02X", *c);
    }
}

char *
listings_reso_next_link(const char *set, const bson_t *query, int64_t top, int64_t skip)
{
    bson_string_t *link = bson_string_new(set);
    bson_string_append_c(link, '?');
    bson_iter_t it;
    char buf[32];
    if (bson_iter_init(&it, query))
        while (bson_iter_next(&it)) {
            const char *key = bson_iter_key(&it);
            if (strcmp(key, "$skip") == 0 || strcmp(key, "$top") == 0)
                continue;
            const char *v = BSON_ITER_HOLDS_UTF8(&it)   ? bson_iter_utf8(&it, NULL)
                            : BSON_ITER_HOLDS_BOOL(&it) ? (bson_iter_bool(&it) ? "true" : "false")
                                                        : NULL;
            if (v == NULL && BSON_ITER_HOLDS_INT(&it)) {
                snprintf(buf, sizeof(buf), "%lld", (long long)bson_iter_as_int64(&it));
                v = buf;
            }
            if (v == NULL)
                continue;
            reso_encode(link, key);
            bson_string_append_c(link, '=');
            reso_encode(link, v);
            bson_string_append_c(link, '&');
        }
    bson_string_append_printf(link, "%%24top=%lld&%%24skip=%lld", (long long)top, (long long)skip);
    return bson_string_free(link, false);
}

void
listings_reso(svc_call_t *call)
{
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    odata_query_t q;
    bson_iter_t it;
    bson_error_t error;
    bson_t filter = BSON_INITIALIZER, page = BSON_INITIALIZER, props = BSON_INITIALIZER;
    bson_t *by_key = BCON_NEW("_id", BCON_INT32(1));
    mongoc_collection_t *coll = svc_collection(call->mongo, "listings", "listings");

    field_errors_init(&errors);
    /* $expand=Media is read here; every other option is the lists'. */
    bool expand = bson_iter_init_find(&it, query, "$expand");
    if (expand && (!BSON_ITER_HOLDS_UTF8(&it) || strcmp(bson_iter_utf8(&it, NULL), "Media") != 0))
        field_errors_add(&errors, "$expand", "only Media can be expanded: $expand=Media");
    bson_t options = BSON_INITIALIZER;
    bson_copy_to_excluding_noinit(query, &options, "$expand", NULL);
    odata_refuse_plain(
        &options, "unknown option: the options are $filter, $select, $orderby, $top, $skip, $count and $expand=Media",
        &errors);
    bool ok = odata_query_parse(&listings_reso_odata, &options, by_key, &q, &errors) && errors.count == 0;
    bson_destroy(&options);
    if (!ok) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    svc_filter_live(&filter);
    bson_concat(&filter, &q.filter);
    if (q.joined != NULL && !listings_filter_properties(call, "$filter", q.joined, "$filter", &filter))
        goto done;
    /* One more than the page: whether a next page exists. */
    int64_t total;
    bool more;
    if (!svc_odata_read(coll, &q, &filter, &page, &total, &more, &error)) {
        svc_fail_read(call, &error);
        goto done;
    }
    bson_destroy(&props);
    if (!reso_properties_of(call, &page, &props))
        goto done;

    bson_t body = BSON_INITIALIZER, value;
    BSON_APPEND_UTF8(&body, "@odata.context", "$metadata#Property");
    if (total >= 0)
        BSON_APPEND_INT64(&body, "@odata.count", total);
    BSON_APPEND_ARRAY_BEGIN(&body, "value", &value);
    uint32_t i = 0;
    bson_iter_init(&it, &page);
    while (bson_iter_next(&it)) {
        uint32_t len;
        const uint8_t *data;
        bson_t doc, property, entity, out;
        bson_iter_document(&it, &len, &data);
        bson_init_static(&doc, data, len);
        bson_iter_t pid;
        bool has_property = bson_iter_init_find(&pid, &doc, "property_id") && BSON_ITER_HOLDS_INT(&pid) &&
                            reso_property(&props, bson_iter_as_int64(&pid), &property);
        reso_render(&doc, has_property ? &property : NULL, &entity);
        odata_select(&listings_reso_odata, &q, &entity, &out);
        if (expand && bson_iter_init_find(&pid, &entity, "ListingKey"))
            reso_media(has_property ? &property : NULL, bson_iter_utf8(&pid, NULL), &out);
        char key[16];
        snprintf(key, sizeof(key), "%u", i++);
        BSON_APPEND_DOCUMENT(&value, key, &out);
        bson_destroy(&out);
        bson_destroy(&entity);
    }
    bson_append_array_end(&body, &value);
    if (more) {
        char *link = listings_reso_next_link("Property", query, q.top, q.skip + q.top);
        BSON_APPEND_UTF8(&body, "@odata.nextLink", link);
        bson_free(link);
    }
    svc_reply(call, 200, &body);
    bson_destroy(&body);
done:
    odata_query_destroy(&q);
    field_errors_destroy(&errors);
    bson_destroy(&filter);
    bson_destroy(&page);
    bson_destroy(&props);
    bson_destroy(by_key);
    svc_collection_close(coll);
}
