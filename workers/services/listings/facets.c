/*
 * listings.facets: how many listings of a search have each type, bedroom
 * count, listing type, … and fall in each price band — what a search page
 * shows beside its results ("Apartments (312)") in one request. The
 * search parameters are the list's own (listings_search_filter); each
 * facet is one $group over them (the embedded database answers a $group
 * on an indexed field from the index), each price band one count.
 *
 * Reply: 200 {total, facets: {<field>: [{value, count}, ...],
 * price_band: [{from, to, count}, ...]}}. Each facet has its
 * FACETS_VALUES_MAX most frequent values, ordered by count, most first,
 * then by value; bedroom and bathroom counts by value. A listing without a
 * property counts under the value null.
 */
#include "listings.h"
#include "sdk/list.h"

#include <stdio.h>
#include <string.h>

/* The price bands, in the listing's currency unit: [from, to), the last
 * open-ended. Rents and sale prices share one scale. */
static const int64_t facets_price_bands[] = {0, 500, 1000, 2000, 5000, 100000, 250000, 500000, 1000000};
#define FACETS_BANDS (sizeof(facets_price_bands) / sizeof(facets_price_bands[0]))
/* The values a facet answers at most: the most frequent (a city facet of
 * a whole country would otherwise be a page of its own). */
#define FACETS_VALUES_MAX 100

typedef struct {
    const char *name; /* as asked in fields= and answered */
    const char *path; /* in the stored listing */
    bool by_value;    /* ordered by value (counts), not by how many */
} facets_field_t;

static const facets_field_t facets_fields[] = {
    {"type", "property.type", false},        {"listing_type", "listing_type", false},
    {"bedrooms", "property.bedrooms", true}, {"bathrooms", "property.bathrooms", true},
    {"city", "property.city", false},        {"price_band", NULL, true},
};
#define FACETS_FIELDS (sizeof(facets_fields) / sizeof(facets_fields[0]))

/* One group of a facet, as the database answered it. */
typedef struct {
    bson_value_t value;
    int64_t count;
} facets_group_t;

typedef struct {
    facets_group_t groups[FACETS_VALUES_MAX];
    size_t n;
} facets_groups_t;

static bool
facets_collect(const bson_t *doc, void *arg)
{
    facets_groups_t *g = arg;
    bson_iter_t it;
    if (g->n == sizeof(g->groups) / sizeof(g->groups[0]))
        return false;
    facets_group_t *x = &g->groups[g->n];
    if (bson_iter_init_find(&it, doc, "_id"))
        bson_value_copy(bson_iter_value(&it), &x->value);
    else
        x->value.value_type = BSON_TYPE_NULL;
    x->count = bson_iter_init_find(&it, doc, "count") ? bson_iter_as_int64(&it) : 0;
    g->n++;
    return true;
}

static int
facets_compare_values(const bson_value_t *a, const bson_value_t *b)
{
    bool na = a->value_type == BSON_TYPE_NULL, nb = b->value_type == BSON_TYPE_NULL;
    if (na || nb)
        return na - nb; /* null last */
    if (a->value_type == BSON_TYPE_UTF8 && b->value_type == BSON_TYPE_UTF8)
        return strcmp(a->value.v_utf8.str, b->value.v_utf8.str);
    int64_t x = a->value_type == BSON_TYPE_INT32 ? a->value.v_int32 : a->value.v_int64;
    int64_t y = b->value_type == BSON_TYPE_INT32 ? b->value.v_int32 : b->value.v_int64;
    return (x > y) - (x < y);
}

static int
facets_by_count(const void *a, const void *b)
{
    const facets_group_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return facets_compare_values(&x->value, &y->value);
}

static int
facets_by_value(const void *a, const void *b)
{
    const facets_group_t *x = a, *y = b;
    return facets_compare_values(&x->value, &y->value);
}

/* Appends the facet `f` of `filter`'s listings as an array under its name. */
static bool
facets_group(mongoc_collection_t *coll, const facets_field_t *f, const bson_t *filter, bson_t *out, bson_error_t *error)
{
    char by[64];
    snprintf(by, sizeof(by), "$%s", f->path);
    /* The database picks the most frequent values: the sort and limit are
     * the pipeline's, never a cut of whatever came first. */
    bson_t *pipeline =
        BCON_NEW("pipeline", "[", "{", "$match", BCON_DOCUMENT(filter), "}", "{", "$group", "{", "_id", BCON_UTF8(by),
                 "count", "{", "$sum", BCON_INT32(1), "}", "}", "}", "{", "$sort", "{", "count", BCON_INT32(-1), "_id",
                 BCON_INT32(1), "}", "}", "{", "$limit", BCON_INT32(FACETS_VALUES_MAX), "}", "]");
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(svc_query_max_time_ms()));
    facets_groups_t *g = bson_malloc0(sizeof(*g));
    bool ok = svc_aggregate_each(coll, pipeline, opts, facets_collect, g, error);
    if (ok) {
        qsort(g->groups, g->n, sizeof(g->groups[0]), f->by_value ? facets_by_value : facets_by_count);
        bson_t list, item;
        BSON_APPEND_ARRAY_BEGIN(out, f->name, &list);
        for (size_t i = 0; i < g->n; i++) {
            char key[24];
            snprintf(key, sizeof(key), "%zu", i);
            BSON_APPEND_DOCUMENT_BEGIN(&list, key, &item);
            BSON_APPEND_VALUE(&item, "value", &g->groups[i].value);
            BSON_APPEND_INT64(&item, "count", g->groups[i].count);
            bson_append_document_end(&list, &item);
        }
        bson_append_array_end(out, &list);
    }
    for (size_t i = 0; i < g->n; i++)
        bson_value_destroy(&g->groups[i].value);
    bson_free(g);
    bson_destroy(pipeline);
    bson_destroy(opts);
    return ok;
}

/* Appends price_band: one count per band of `filter`'s listings. */
static bool
facets_price(mongoc_collection_t *coll, const bson_t *filter, bson_t *out, bson_error_t *error)
{
    bson_t list, item;
    bool ok = true;
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(svc_query_max_time_ms()));
    BSON_APPEND_ARRAY_BEGIN(out, "price_band", &list);
    for (size_t b = 0; ok && b < FACETS_BANDS; b++) {
        bool last = b + 1 == FACETS_BANDS;
        bson_t band = BSON_INITIALIZER, cond;
        int64_t n = 0;
        bson_concat(&band, filter);
        /* Under $and: the filter may hold a price range of its own. */
        BSON_APPEND_ARRAY_BEGIN(&band, "$and", &cond);
        BCON_APPEND(&cond, "0", "{", "price", "{", "$gte", BCON_INT64(facets_price_bands[b]), "}", "}");
        if (!last)
            BCON_APPEND(&cond, "1", "{", "price", "{", "$lt", BCON_INT64(facets_price_bands[b + 1]), "}", "}");
        bson_append_array_end(&band, &cond);
        ok = svc_count(coll, &band, opts, &n, error);
        char key[24];
        snprintf(key, sizeof(key), "%zu", b);
        BSON_APPEND_DOCUMENT_BEGIN(&list, key, &item);
        BSON_APPEND_INT64(&item, "from", facets_price_bands[b]);
        if (last)
            BSON_APPEND_NULL(&item, "to");
        else
            BSON_APPEND_INT64(&item, "to", facets_price_bands[b + 1]);
        BSON_APPEND_INT64(&item, "count", n);
        bson_append_document_end(&list, &item);
        bson_destroy(&band);
    }
    bson_append_array_end(out, &list);
    bson_destroy(opts);
    return ok;
}

/* Which facets `fields` asks for (a comma list; absent: all), into `want`. */
static void
facets_wanted(const bson_t *query, bool want[FACETS_FIELDS], field_errors_t *errors)
{
    bson_iter_t it;
    const char *s;
    if (!bson_iter_init_find(&it, query, "fields")) {
        for (size_t f = 0; f < FACETS_FIELDS; f++)
            want[f] = true;
        return;
    }
    memset(want, 0, sizeof(bool) * FACETS_FIELDS);
    if (!validate_text(&it, errors, "fields", 1, 200, &s))
        return;
    for (const char *p = s;;) {
        size_t len = strcspn(p, ","), f = 0;
        while (f < FACETS_FIELDS && (strlen(facets_fields[f].name) != len || strncmp(facets_fields[f].name, p, len)))
            f++;
        if (f == FACETS_FIELDS)
            field_errors_add(errors, "fields",
                             "'%.*s' is not a facet: type, listing_type, bedrooms, bathrooms, city, price_band",
                             (int)(len > 40 ? 40 : len), p);
        else
            want[f] = true;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
}

void
listings_facets(svc_call_t *call)
{
    static const char *const params[] = {
        "fields",      "user_id",      "listing_type", "min_price",     "max_price",     "city",
        "type",        "min_bedrooms", "max_bedrooms", "min_bathrooms", "max_bathrooms", "min_area_m2",
        "max_area_m2", "near",         "radius_m",     "bbox",          "polygon",       "q",
        NULL};
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    bson_error_t error;
    bool want[FACETS_FIELDS];
    geo_area_t area;
    bson_t filter = BSON_INITIALIZER, body = BSON_INITIALIZER, facets;
    mongoc_collection_t *coll = svc_collection(call->mongo, "listings", "listings");
    int64_t total = 0;

    field_errors_init(&errors);
    validate_known_fields(query, params, &errors);
    facets_wanted(query, want, &errors);
    if (!listings_search_filter(call, &errors, &filter, &area) || errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    svc_filter_live(&filter);
    geo_area_append(&area, "property.location", false, &filter);
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(svc_query_max_time_ms()));
    bool ok = svc_count(coll, &filter, opts, &total, &error);
    bson_destroy(opts);
    BSON_APPEND_INT64(&body, "total", total);
    BSON_APPEND_DOCUMENT_BEGIN(&body, "facets", &facets);
    for (size_t f = 0; ok && f < FACETS_FIELDS; f++)
        if (want[f])
            ok = facets_fields[f].path != NULL ? facets_group(coll, &facets_fields[f], &filter, &facets, &error)
                                               : facets_price(coll, &filter, &facets, &error);
    bson_append_document_end(&body, &facets);
    if (ok)
        svc_reply(call, 200, &body);
    else
        svc_fail_read(call, &error);
done:
    field_errors_destroy(&errors);
    bson_destroy(&filter);
    bson_destroy(&body);
    svc_collection_close(coll);
}
