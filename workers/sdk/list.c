/* The list recipes (list.h). */
#include "list.h"
#include "config.h"
#include "log.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int64_t
svc_query_max_time_ms(void)
{
    return cfg_int("ROOST_QUERY_MAX_TIME_MS", 2000, 10, 600000);
}

bool
svc_is_time_limit(const bson_error_t *error)
{
    return error->code == 50 || strstr(error->message, "MaxTimeMSExpired") != NULL ||
           strstr(error->message, "exceeded time limit") != NULL;
}

void
svc_fail_read(svc_call_t *call, const bson_error_t *error)
{
    if (svc_is_time_limit(error))
        svc_fail(call, 400, "query_too_costly",
                 "the database gave up on this query after %lld ms: add a condition on an indexed field "
                 "(docs/query.md lists them)",
                 (long long)svc_query_max_time_ms());
    else
        svc_fail_db(call, error);
}

void
svc_render_search(const bson_t *doc, bson_t *out)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, SVC_DISTANCE_FIELD) && BSON_ITER_HOLDS_NUMBER(&it))
        BSON_APPEND_INT64(out, "distance_m", llround(bson_iter_as_double(&it)));
    if (bson_iter_init_find(&it, doc, SVC_SCORE_FIELD) && BSON_ITER_HOLDS_NUMBER(&it))
        BSON_APPEND_DOUBLE(out, SVC_SCORE_FIELD, bson_iter_as_double(&it));
}

/* Adds the projection of each document's text score to find options. */
static void
svc_project_score(bson_t *opts)
{
    BCON_APPEND(opts, "projection", "{", SVC_SCORE_FIELD, "{", "$meta", BCON_UTF8("textScore"), "}", "}");
}

/* {pipeline: [$geoNear, $skip, $limit]}: the documents of `filter`
 * nearest first from (lon, lat) on the point at `path` (within max_m
 * metres when max_m > 0), each with its distance in SVC_DISTANCE_FIELD. */
static bson_t *
svc_near_pipeline(const bson_t *filter, const char *path, double lon, double lat, double max_m, int64_t skip,
                  int64_t limit)
{
    bson_t geonear = BSON_INITIALIZER;
    BCON_APPEND(&geonear, "near", "{", "type", BCON_UTF8("Point"), "coordinates", "[", BCON_DOUBLE(lon),
                BCON_DOUBLE(lat), "]", "}", "distanceField", BCON_UTF8(SVC_DISTANCE_FIELD), "query",
                BCON_DOCUMENT(filter), "key", BCON_UTF8(path), "spherical", BCON_BOOL(true));
    if (max_m > 0)
        BSON_APPEND_DOUBLE(&geonear, "maxDistance", max_m);
    bson_t *pipeline = BCON_NEW("pipeline", "[", "{", "$geoNear", BCON_DOCUMENT(&geonear), "}", "{", "$skip",
                                BCON_INT64(skip), "}", "{", "$limit", BCON_INT64(limit), "}", "]");
    bson_destroy(&geonear);
    return pipeline;
}

/* The find options of a page: svc_page_opts, and with a $text in `filter`
 * the score projected, and sorted by when sort_field is SVC_SCORE_FIELD. */
static bson_t *
svc_list_opts(const bson_t *filter, const char *sort_field, int dir, int64_t page, int64_t per_page)
{
    if (!bson_has_field(filter, "$text"))
        return svc_page_opts(sort_field, dir, page, per_page);
    bool by_score = strcmp(sort_field, SVC_SCORE_FIELD) == 0;
    bson_t *base = svc_page_opts(by_score ? "_id" : sort_field, by_score ? 1 : dir, page, per_page);
    bson_t *opts = bson_new();
    bson_iter_t it;
    bson_iter_init(&it, base);
    while (bson_iter_next(&it)) {
        if (by_score && strcmp(bson_iter_key(&it), "sort") == 0)
            BCON_APPEND(opts, "sort", "{", SVC_SCORE_FIELD, "{", "$meta", BCON_UTF8("textScore"), "}", "_id",
                        BCON_INT32(1), "}");
        else
            bson_append_iter(opts, bson_iter_key(&it), -1, &it);
    }
    svc_project_score(opts);
    bson_destroy(base);
    return opts;
}

void
svc_list_page(svc_call_t *call, mongoc_collection_t *coll, const bson_t *counted, const bson_t *filter,
              const char *sort_field, int dir, int64_t page, int64_t per_page, svc_render_fn render)
{
    bson_error_t error;
    int64_t total;
    if (!svc_count(coll, counted != NULL ? counted : filter, NULL, &total, &error)) {
        svc_fail_db(call, &error);
        return;
    }
    bson_t *opts = svc_list_opts(filter, sort_field, dir, page, per_page);
    svc_page_t paging = {.items_key = "items", .page = page, .per_page = per_page, .total = total};
    svc_reply_page(call, coll, filter, opts, render, &paging);
    bson_destroy(opts);
}

void
svc_list_near(svc_call_t *call, mongoc_collection_t *coll, const bson_t *filter, const bson_t *counted,
              const char *path, double lon, double lat, double radius_m, int64_t page, int64_t per_page,
              svc_render_fn render)
{
    bson_error_t error;
    int64_t total;
    bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(svc_query_max_time_ms()));
    if (!svc_count(coll, counted, opts, &total, &error)) {
        svc_fail_read(call, &error);
        bson_destroy(opts);
        return;
    }
    bson_t *pipeline = svc_near_pipeline(filter, path, lon, lat, radius_m, (page - 1) * per_page, per_page);
    svc_page_t paging = {
        .items_key = "items", .page = page, .per_page = per_page, .total = total, .pipeline = pipeline};
    svc_reply_page(call, coll, filter, opts, render, &paging);
    bson_destroy(pipeline);
    bson_destroy(opts);
}

void
svc_list_area(svc_call_t *call, mongoc_collection_t *coll, bson_t *filter, const geo_area_t *area, const char *path,
              const char *sort_field, int dir, int64_t page, int64_t per_page, svc_render_fn render)
{
    if (sort_field[0] != '\0') {
        geo_area_append(area, path, false, filter);
        svc_list_page(call, coll, NULL, filter, sort_field, dir, page, per_page, render);
        return;
    }
    /* The total counts the circle as a $geoWithin; the page leaves it to $geoNear. */
    bson_t counted = BSON_INITIALIZER;
    bson_concat(&counted, filter);
    geo_area_append(area, path, false, &counted);
    geo_area_append(area, path, true, filter);
    svc_list_near(call, coll, filter, &counted, path, area->centre.lon, area->centre.lat, area->radius_m, page,
                  per_page, render);
    bson_destroy(&counted);
}

/* What svc_odata_read collects. */
typedef struct {
    bson_t *docs;
    int64_t top;
    uint32_t n;
    bool *more;
} svc_odata_window_t;

static bool
svc_odata_window_doc(const bson_t *doc, void *arg)
{
    svc_odata_window_t *w = arg;
    if ((int64_t)w->n == w->top) { /* the one past the page */
        *w->more = true;
        return false;
    }
    char key[16];
    snprintf(key, sizeof(key), "%u", w->n++);
    BSON_APPEND_DOCUMENT(w->docs, key, doc);
    return true;
}

bool
svc_odata_read(mongoc_collection_t *coll, const odata_query_t *q, const bson_t *filter, bson_t *docs, int64_t *total,
               bool *more, bson_error_t *error)
{
    bool ok = true, ignored;
    *total = -1;
    if (q->count) {
        bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(svc_query_max_time_ms()));
        ok = svc_count(coll, filter, opts, total, error);
        bson_destroy(opts);
    }
    svc_odata_window_t w = {.docs = docs, .top = q->top, .more = more != NULL ? more : &ignored};
    *w.more = false;
    if (ok && q->top > 0 && q->by_distance) { /* $orderby=geo.distance(…): nearest first */
        bson_t *pipeline =
            svc_near_pipeline(filter, q->near_path, q->near.lon, q->near.lat, 0, q->skip, q->top + (more != NULL));
        bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(svc_query_max_time_ms()));
        ok = svc_aggregate_each(coll, pipeline, opts, svc_odata_window_doc, &w, error);
        bson_destroy(pipeline);
        bson_destroy(opts);
    } else if (ok && q->top > 0) {
        bson_t *opts = BCON_NEW("maxTimeMS", BCON_INT64(svc_query_max_time_ms()), "skip", BCON_INT64(q->skip), "limit",
                                BCON_INT64(q->top + (more != NULL)));
        BSON_APPEND_DOCUMENT(opts, "sort", &q->sort);
        if (bson_has_field(filter, "$text")) /* a $search: each item's score */
            svc_project_score(opts);
        ok = svc_find_each(coll, filter, opts, svc_odata_window_doc, &w, error);
        bson_destroy(opts);
    }
    return ok;
}

void
svc_odata_list(svc_call_t *call, const odata_resource_t *res, mongoc_collection_t *collection, const bson_t *base,
               const bson_t *default_sort, svc_render_fn render)
{
    const bson_t *query = &call->req->query;
    field_errors_t errors;
    odata_query_t q;
    bson_error_t error;
    bson_t filter = BSON_INITIALIZER, docs = BSON_INITIALIZER;
    bson_iter_t it;

    field_errors_init(&errors);
    /* One style per request: a page of the legacy parameters and an
     * OData window cannot both apply. */
    odata_refuse_plain(query,
                       "cannot be combined with the OData options ($filter, $select, $orderby, $top, $skip, $count): "
                       "use one style per request",
                       &errors);
    bool ok = odata_query_parse(res, query, default_sort, &q, &errors) && errors.count == 0;
    if (!ok) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    bson_concat(&filter, base);
    bson_concat(&filter, &q.filter);
    int64_t total;
    if (!svc_odata_read(collection, &q, &filter, &docs, &total, NULL, &error)) {
        svc_fail_read(call, &error);
        goto done;
    }
    /* A window whose items would pass what a reply may carry ends before
     * the first that does not fit, and says so by its smaller top: the
     * next window is still $skip=skip+top (docs/query.md). */
    bson_t body = BSON_INITIALIZER, items;
    svc_page_items_t p;
    BSON_APPEND_ARRAY_BEGIN(&body, "items", &items);
    svc_page_items_init(&p, &items);
    bson_iter_init(&it, &docs);
    while (p.refused == 0 && bson_iter_next(&it)) {
        uint32_t len;
        const uint8_t *data;
        bson_t doc, rendered, out;
        bson_iter_document(&it, &len, &data);
        bson_init_static(&doc, data, len);
        render(&doc, &rendered);
        odata_select(res, &q, &rendered, &out);
        svc_page_add(&p, &out);
        bson_destroy(&out);
        bson_destroy(&rendered);
    }
    bson_append_array_end(&body, &items);
    BSON_APPEND_INT64(&body, "skip", q.skip);
    BSON_APPEND_INT64(&body, "top", p.refused > 0 ? (int64_t)p.n : q.top);
    if (total >= 0)
        BSON_APPEND_INT64(&body, "total", total);
    if (p.refused > 0 && p.n == 0) {
        svc_fail_too_large(call, svc_page_bytes(&p));
    } else {
        if (p.refused > 0)
            log_info("rid=%s op=%s window of $top=%lld answered with %u items: the items pass what a reply may "
                     "carry",
                     call->req->rid, call->req->op, (long long)q.top, p.n);
        svc_reply(call, 200, &body);
    }
    bson_destroy(&body);
done:
    odata_query_destroy(&q);
    field_errors_destroy(&errors);
    bson_destroy(&filter);
    bson_destroy(&docs);
}
