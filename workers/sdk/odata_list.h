/*
 * A list op answered with the OData system query options (odata.h): what
 * GET /api/v1/listings and /api/v1/properties do when the request holds
 * any $option, over HTTP or nng alike.
 *
 * Reply: 200 {items: [rendered, cut by $select], skip, top, total (only
 * with $count=true)}. Errors, each 400 validation_failed naming the option:
 * a bad option; a legacy parameter (page, per_page, order_by, a filter
 * parameter) beside an $option ("cannot be combined"); and 400
 * query_too_costly when the database gives up after ROOST_QUERY_MAX_TIME_MS
 * (maxTimeMS, default 2000) — what bounds a filter on fields no index
 * serves (docs/query.md).
 */
#ifndef ROOST_SDK_ODATA_LIST_H
#define ROOST_SDK_ODATA_LIST_H

#include "odata.h"
#include "service.h"

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
