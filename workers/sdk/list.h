/*
 * The list recipes, written once: a classic page (page, per_page, a total)
 * and a list op answered with the OData system query options (odata.h):
 * what GET /api/v1/listings and /api/v1/properties do when the request
 * holds any $option, over HTTP or nng alike.
 *
 * OData reply:
 * 200 {items: [rendered, cut by $select], skip, top, total (only
 * with $count=true)}. Errors, each 400 validation_failed naming the option:
 * a bad option; a legacy parameter (page, per_page, order_by, a filter
 * parameter) beside an $option ("cannot be combined"); and 400
 * query_too_costly when the database gives up after ROOST_QUERY_MAX_TIME_MS
 * (maxTimeMS, default 2000) — what bounds a filter on fields no index
 * serves (docs/query.md).
 */
#ifndef ROOST_SDK_LIST_H
#define ROOST_SDK_LIST_H

#include "query/geo.h"
#include "query/odata.h"
#include "query/words.h"
#include "service.h"

/* Replies 200 {items, page, per_page, total} with page `page` of `coll`'s
 * documents matching `filter`, ordered by `sort_field` in `dir` (then _id),
 * each rendered; the total counts `counted` (NULL: `filter`), a filter
 * that may walk an index where `filter` would not. When `filter` holds a
 * $text, each document gets its score (SVC_SCORE_FIELD, also a sort_field). */
void svc_list_page(svc_call_t *call, mongoc_collection_t *coll, const bson_t *counted, const bson_t *filter,
                   const char *sort_field, int dir, int64_t page, int64_t per_page, svc_render_fn render);

/* The field $geoNear writes each document's distance into, in metres: no
 * stored document has it, and render functions append it rounded. */
#define SVC_DISTANCE_FIELD "distance_m"

/* The field a keyword search's page gets each document's text score in
 * ({$meta: "textScore"}, query/words.h), and the sort_field of
 * svc_list_page that orders by it, best first. */
#define SVC_SCORE_FIELD WORDS_SCORE_FIELD

/* Appends what a search adds to a document, as a list item shows it:
 * distance_m rounded to the metre, and score as the database gave it (a
 * ranking, small or large: rounding could make two different ones equal). */
void svc_render_search(const bson_t *doc, bson_t *out);

/* Replies page `page` of the documents of `coll` that `filter` matches
 * within `radius_m` of (lon, lat) on the GeoJSON Point at `path` (a
 * 2dsphere index), nearest first, ties by _id, through $geoNear; the total
 * counts `counted` (the filter with the same circle as a $geoWithin). */
void svc_list_near(svc_call_t *call, mongoc_collection_t *coll, const bson_t *filter, const bson_t *counted,
                   const char *path, double lon, double lat, double radius_m, int64_t page, int64_t per_page,
                   svc_render_fn render);

/* The usual list page of `filter` (which this narrows) within `area` on
 * the GeoJSON Point at `path`: nearest first through svc_list_near when
 * `sort_field` is "" (order_by=distance, checked by geo_check_order),
 * else ordered by `sort_field` in `dir` (svc_list_page). */
void svc_list_area(svc_call_t *call, mongoc_collection_t *coll, bson_t *filter, const geo_area_t *area,
                   const char *path, const char *sort_field, int dir, int64_t page, int64_t per_page,
                   svc_render_fn render);

/* The window an OData query asks of `coll` (`filter`: the resource's
 * conditions and $filter's): the total when $count=true (else -1), and
 * $top documents from $skip in $orderby's order into `docs` (a BSON array,
 * initialised on entry), with one more looked for when `more` is not NULL
 * (*more: whether a next page exists). False (error set) when the database
 * failed or gave up (svc_is_time_limit). */
bool svc_odata_read(mongoc_collection_t *coll, const odata_query_t *q, const bson_t *filter, bson_t *docs,
                    int64_t *total, bool *more, bson_error_t *error);

/* Answers `call` from `collection` with the $options of its query:
 * `base` (the resource's own conditions, e.g. live documents only) ANDed
 * with $filter, ordered by $orderby or `default_sort`. */
void svc_odata_list(svc_call_t *call, const odata_resource_t *res, mongoc_collection_t *collection, const bson_t *base,
                    const bson_t *default_sort, svc_render_fn render);

/* The database's time limit of one list read, in ms (maxTimeMS). */
int64_t svc_query_max_time_ms(void);

/* Whether `error` is the database giving up at maxTimeMS (code 50). */
bool svc_is_time_limit(const bson_error_t *error);

/* Fails a list read: 400 query_too_costly at the time limit, else as
 * svc_fail_db. */
void svc_fail_read(svc_call_t *call, const bson_error_t *error);

#endif
