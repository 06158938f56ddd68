/* The service's own database: collections, indexes, reads, versioned updates. */
#ifndef ROOST_SDK_STORE_H
#define ROOST_SDK_STORE_H

#include "service.h"

/* The collection `name` of `service`'s own database; caller destroys it. */
mongoc_collection_t *svc_collection(mongoc_client_t *mongo, const char *service, const char *name);

/* True when `error` is a duplicate-key violation of a unique index. */
bool svc_is_duplicate(const bson_error_t *error);

/*
 * An index a service needs. `keys` lists its fields in order, comma
 * separated, a leading '-' for descending: "deleted_at,-created_at" is
 * {deleted_at: 1, created_at: -1}.
 */
typedef struct svc_index {
    const char *collection;
    const char *name;
    const char *keys;
    bool unique;
} svc_index_t;

/* svc_ensure_index for each of `count` indexes of `service`; stops at the first failure. */
bool svc_ensure_indexes(mongoc_client_t *mongo, const char *service, const svc_index_t *indexes, size_t count,
                        bson_error_t *error);

/*
 * Finds the one document matching `filter`. `out` must be initialised on
 * entry; it is replaced by the document when *found. False (error set)
 * only when the database failed.
 */
bool svc_find_one(mongoc_collection_t *coll, const bson_t *filter, bson_t *out, bool *found, bson_error_t *error);

/*
 * Find options for one page: sorted by `field` in `dir` (1 or -1), then by
 * _id the same way so pages never overlap or skip, `per_page` documents
 * from page `page` (1-based). The caller destroys the result.
 */
bson_t *svc_page_opts(const char *field, int dir, int64_t page, int64_t per_page);

/*
 * Appends {_id: {$gt: 0}} to a filter: every document of Roost's own
 * collections (ids are positive), written as a range on _id so that the
 * total of a list without filters walks the _id index; MongoDB answers
 * the count of an empty filter with a collection scan.
 */
void svc_filter_every_id(bson_t *filter);

/*
 * Whether a change may apply to a document at `version`: true when the
 * request sets no precondition, or lists that version in expect_version
 * (the ingress's reading of If-Match, RFC 9110 §13.1.1). Otherwise the
 * caller answers 412 precondition_failed.
 */
bool svc_expected(const envelope_request_t *req, int64_t version);

/* A document's version (its ETag): 1 for one stored before versions existed. */
int64_t svc_version(const bson_t *doc);

/*
 * Applies `update` to document `id` of `coll` only while it is still at
 * `version` (a document with no version field counts as version 1): the
 * update conditioned on what the caller read, so that two writers never
 * overwrite each other silently. `extra` (may be NULL) adds conditions.
 * Returns 1 when applied, 0 when another change came first (read again),
 * -1 on a database error.
 */
int svc_update_at_version(mongoc_collection_t *coll, int64_t id, int64_t version, const bson_t *extra,
                          const bson_t *update, bson_error_t *error);

/* Sleeps 1 to attempt + 2 ms, at random, so that writers who lost a race
 * do not meet again at once. */
void svc_backoff(int attempt);

/* Microseconds since the epoch, UTC. */
int64_t svc_now_us(void);

#endif
