/* Dense ids and idempotent creates: what a write stores to know a repeat of its request. */
#ifndef ROOST_SDK_IDS_H
#define ROOST_SDK_IDS_H

#include "service.h"

/*
 * A fingerprint (32 hex characters) of what this request asks: op, caller,
 * params and body. The rid may come from a client's X-Request-Id, so a rid
 * alone must never identify a request: two deliveries of one request share
 * rid and fingerprint, while another request that reuses the rid (by
 * mistake, or another user replaying it) does not, and is not treated as a
 * repeat.
 */
void svc_request_fingerprint(const svc_call_t *call, char out[33]);

typedef enum {
    SVC_INSERT_FAILED = -1, /* the database failed: `error` says why */
    SVC_INSERTED,           /* stored now */
    SVC_INSERT_REPEAT,      /* an earlier delivery of this request stored it */
    SVC_INSERT_CONFLICT,    /* another unique index of the collection refused it */
} svc_insert_t;

/*
 * The document an earlier delivery of this request stored in `coll` (the
 * one whose "rid" is `key`), for a create that would rather not redo costly
 * work before svc_insert_next finds the repeat itself. `out` must be
 * initialised; *found says whether there is one. False: the database failed.
 */
bool svc_find_stored(mongoc_collection_t *coll, const char *key, bson_t *out, bool *found, bson_error_t *error);

/*
 * Stores a new document under the next id of its collection: ids run 1, 2,
 * 3 ... in creation order, across every worker and restart, with no gap
 * but where a create failed after its insert (a refused booking).
 *
 * The insert itself decides every race: the document goes in with _id =
 * 1 + the highest _id, and the unique _id index refuses all but one of the
 * creates that try the same id; each loser tries the next (a store's
 * findAndModify $inc need not be atomic under concurrency, FerretDB's was
 * not; unique indexes always are). Each process starts from the id after
 * its own last create. `fields` are the fields after _id, and must include
 * "rid": `key` under a unique index, so that a collision on it means this
 * request was delivered before. `stored` (uninitialised on entry, initialised always)
 * receives the document stored now or by the earlier delivery.
 */
svc_insert_t svc_insert_next(mongoc_collection_t *coll, const bson_t *fields, const char *key, bson_t *stored,
                             bson_error_t *error);

#endif
