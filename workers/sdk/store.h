/*
 * The one door to a service's own database (with migrate/database.h under
 * it): every read and write a handler makes goes through these, so that
 * what Roost asks of MongoDB is stated here and nowhere else. Each returns
 * false (error set) only when the database failed.
 */
#ifndef ROOST_SDK_STORE_H
#define ROOST_SDK_STORE_H

#include "migrate/database.h"
#include "service.h"

/*
 * Finds the one document matching `filter`. `out` must be initialised on
 * entry; it is replaced by the document when *found. False (error set)
 * only when the database failed.
 */
bool svc_find_one(mongoc_collection_t *coll, const bson_t *filter, bson_t *out, bool *found, bson_error_t *error);

/* Closes a collection handle of svc_collection. */
void svc_collection_close(mongoc_collection_t *coll);

/* How many documents match `filter` (`opts`: MongoDB's countDocuments
 * options, e.g. maxTimeMS; may be NULL) into *n. */
bool svc_count(mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts, int64_t *n, bson_error_t *error);

/* What svc_find_each calls with each document, in order; false stops. */
typedef bool (*svc_each_fn)(const bson_t *doc, void *arg);

/* Calls `fn` with each document matching `filter` (`opts`: find options:
 * sort, skip, limit, projection, maxTimeMS; may be NULL), streamed. */
bool svc_find_each(mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts, svc_each_fn fn, void *arg,
                   bson_error_t *error);

/* The same for each document an aggregation `pipeline` ({pipeline: [...]}
 * or an array) gives. */
bool svc_aggregate_each(mongoc_collection_t *coll, const bson_t *pipeline, const bson_t *opts, svc_each_fn fn,
                        void *arg, bson_error_t *error);

/* insertOne; `error` tells a unique index's refusal (svc_is_duplicate). */
bool svc_insert(mongoc_collection_t *coll, const bson_t *doc, bson_error_t *error);

/* insertMany of `n` documents; `ordered` false goes on past a duplicate. */
bool svc_insert_all(mongoc_collection_t *coll, const bson_t *const *docs, size_t n, bool ordered, bson_error_t *error);

/* updateOne (`many` false) or updateMany of the documents `selector` matches. */
bool svc_update(mongoc_collection_t *coll, const bson_t *selector, const bson_t *update, bool many,
                bson_error_t *error);

/* replaceOne of the document `selector` matches by `doc`. */
bool svc_replace(mongoc_collection_t *coll, const bson_t *selector, const bson_t *doc, bson_error_t *error);

/* deleteOne (`many` false) or deleteMany. `error` may be NULL where a
 * failure only leaves garbage that a later run removes. */
bool svc_delete(mongoc_collection_t *coll, const bson_t *selector, bool many, bson_error_t *error);

/* findAndModify with `opts` (mongoc_find_and_modify_opts_t: update,
 * upsert, new); `reply` (uninitialised) gets the server's reply. */
bool svc_find_and_modify(mongoc_collection_t *coll, const bson_t *selector, const mongoc_find_and_modify_opts_t *opts,
                         bson_t *reply, bson_error_t *error);

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

/* Appends {deleted_at: {$exists: false}}: the live documents, those no
 * DELETE has made a tombstone of. Every list of a service that keeps
 * tombstones reads through it. */
void svc_filter_live(bson_t *filter);

/*
 * Whether a change may apply to a document at `version`: true when the
 * request sets no precondition, or lists that version in expect_version
 * (the ingress's reading of If-Match, RFC 9110 §13.1.1). Otherwise the
 * caller answers 412 precondition_failed.
 */
bool svc_expected(const envelope_request_t *req, int64_t version);

/* A document's version (its ETag), whatever number type holds it (a
 * double written by hand reads as its integer): 1 for one stored before
 * versions existed. */
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

#endif
