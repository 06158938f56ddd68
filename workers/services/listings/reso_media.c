/*
 * listings.reso_media: the RESO Web API's Media resource (docs/reso.md),
 * read only: one entity per photo of each live listing's property, by the
 * RESO Data Dictionary's names, ordered by ResourceRecordKey (the
 * listing's ListingKey) then Order. It reads the photos from the listings'
 * own snapshots of their properties (snapshot.c), so a page is one read of
 * listings, never a join.
 *
 *   MediaKey               the photo's id
 *   ResourceRecordKey      the listing's ListingKey
 *   ResourceName           'Property'
 *   MediaURL               /media/{id}
 *   MediaCategory          'Photo'
 *   Order, ImageWidth, ImageHeight
 *   ModificationTimestamp  the property's last change (a photo changes only with it)
 */
#include "listings.h"
#include "sdk/list.h"

#include <stdio.h>
#include <string.h>

static const odata_field_t media_fields[] = {
    {"MediaKey", "", ODATA_STRING, ODATA_SELECT},
    {"ResourceRecordKey", "_id", ODATA_KEY, ODATA_FILTER | ODATA_SELECT},
    {"ResourceName", "", ODATA_STRING, ODATA_SELECT},
    {"MediaURL", "", ODATA_STRING, ODATA_SELECT},
    {"MediaCategory", "", ODATA_STRING, ODATA_SELECT},
    {"Order", "", ODATA_INT, ODATA_SELECT},
    {"ImageWidth", "", ODATA_INT, ODATA_SELECT},
    {"ImageHeight", "", ODATA_INT, ODATA_SELECT},
    {"ModificationTimestamp", "", ODATA_TIME, ODATA_SELECT},
};

static const odata_resource_t media_odata = {
    .fields = media_fields,
    .count = sizeof(media_fields) / sizeof(media_fields[0]),
    .id_name = "MediaKey",
    .top_default = 20,
    .top_max = 100,
    .skip_max = 100000,
};

/* The page being cut from the listings' photos, in order. */
typedef struct {
    const odata_query_t *q;
    int64_t seen; /* photos passed so far */
    bson_t *value;
    uint32_t n;
    bool more;
} media_page_t;

static bool
media_page_listing(const bson_t *doc, void *arg)
{
    media_page_t *p = arg;
    bson_iter_t it, photos, f;
    bson_t view, entity, out;
    char key[24], when[40], index[16];
    snprintf(key, sizeof(key), "%lld", (long long)(bson_iter_init_find(&it, doc, "_id") ? bson_iter_as_int64(&it) : 0));
    bson_iter_t at;
    listings_iso_time(bson_iter_init(&at, doc) && bson_iter_find_descendant(&at, "property.updated_at", &at)
                          ? bson_iter_as_int64(&at)
                          : 0,
                      when);
    if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, "property.photos", &it) ||
        !bson_iter_recurse(&it, &photos))
        return true;
    while (bson_iter_next(&photos)) {
        if (p->seen++ < p->q->skip)
            continue;
        if ((int64_t)p->n == p->q->top) {
            p->more = p->q->top > 0; /* $top=0 asks for none, and no next page */
            return false;
        }
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&photos, &len, &data);
        bson_init_static(&view, data, len);
        bson_init(&entity);
        if (bson_iter_init_find(&f, &view, "id"))
            bson_append_iter(&entity, "MediaKey", -1, &f);
        BSON_APPEND_UTF8(&entity, "ResourceRecordKey", key);
        BSON_APPEND_UTF8(&entity, "ResourceName", "Property");
        if (bson_iter_init_find(&f, &view, "url"))
            bson_append_iter(&entity, "MediaURL", -1, &f);
        BSON_APPEND_UTF8(&entity, "MediaCategory", "Photo");
        static const char *const numbers[][2] = {
            {"order", "Order"}, {"width", "ImageWidth"}, {"height", "ImageHeight"}};
        for (size_t i = 0; i < 3; i++)
            if (bson_iter_init_find(&f, &view, numbers[i][0]))
                BSON_APPEND_INT64(&entity, numbers[i][1], bson_iter_as_int64(&f));
        BSON_APPEND_UTF8(&entity, "ModificationTimestamp", when);
        odata_select(&media_odata, p->q, &entity, &out);
        snprintf(index, sizeof(index), "%u", p->n++);
        BSON_APPEND_DOCUMENT(p->value, index, &out);
        bson_destroy(&out);
        bson_destroy(&entity);
    }
    return true;
}

static bool
media_total_one(const bson_t *doc, void *arg)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "n") && BSON_ITER_HOLDS_NUMBER(&it))
        *(int64_t *)arg = bson_iter_as_int64(&it);
    return true;
}

/* How many photos the listings `filter` matches have: $count. */
static bool
media_total(mongoc_collection_t *coll, const bson_t *filter, int64_t *total, bson_error_t *error)
{
    bson_t *pipeline = BCON_NEW("pipeline", "[", "{", "$match", BCON_DOCUMENT(filter), "}", "{", "$group", "{", "_id",
                                BCON_NULL, "n", "{", "$sum", BCON_UTF8("$property.photos_count"), "}", "}", "}", "]");
    *total = 0;
    bool ok = svc_aggregate_each(coll, pipeline, NULL, media_total_one, total, error);
    bson_destroy(pipeline);
    return ok;
}

void
listings_reso_media(svc_call_t *call)
{
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    odata_query_t q;
    bson_error_t error;
    bson_t filter = BSON_INITIALIZER;
    bson_t *by_key = BCON_NEW("_id", BCON_INT32(1));
    mongoc_collection_t *coll = svc_collection(call->mongo, "listings", "listings");

    field_errors_init(&errors);
    odata_refuse_plain(query, "unknown option: the options are $filter, $select, $top, $skip and $count", &errors);
    if (bson_has_field(query, "$orderby"))
        field_errors_add(&errors, "$orderby", "Media comes in one order: by ResourceRecordKey, then Order");
    if (!odata_query_parse(&media_odata, query, by_key, &q, &errors) || errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    svc_filter_live(&filter);
    bson_concat(&filter, &q.filter);
    BCON_APPEND(&filter, "property.photos_count", "{", "$gt", BCON_INT32(0), "}");
    int64_t total = -1;
    if (q.count && !media_total(coll, &filter, &total, &error)) {
        svc_fail_read(call, &error);
        goto done;
    }
    bson_t body = BSON_INITIALIZER, value;
    BSON_APPEND_UTF8(&body, "@odata.context", "$metadata#Media");
    if (q.count)
        BSON_APPEND_INT64(&body, "@odata.count", total);
    BSON_APPEND_ARRAY_BEGIN(&body, "value", &value);
    media_page_t p = {.q = &q, .value = &value};
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "projection", "{", "_id", BCON_INT32(1),
                            "property.photos", BCON_INT32(1), "property.updated_at", BCON_INT32(1), "}", "maxTimeMS",
                            BCON_INT64(svc_query_max_time_ms()));
    bool ok = svc_find_each(coll, &filter, opts, media_page_listing, &p, &error);
    bson_destroy(opts);
    bson_append_array_end(&body, &value);
    if (!ok) {
        svc_fail_read(call, &error);
    } else {
        if (p.more) {
            char *next = listings_reso_next_link("Media", query, q.top, q.skip + q.top);
            BSON_APPEND_UTF8(&body, "@odata.nextLink", next);
            bson_free(next);
        }
        svc_reply(call, 200, &body);
    }
    bson_destroy(&body);
done:
    odata_query_destroy(&q);
    field_errors_destroy(&errors);
    bson_destroy(&filter);
    bson_destroy(by_key);
    svc_collection_close(coll);
}
