/*
 * What a service handler sees: the parsed request, a MongoDB client taken
 * from the worker's pool for the length of the call, and helpers to
 * reply. Each service lives in its own folder and exports one svc_service_t;
 * services.c lists them.
 */
#ifndef ROOST_SERVICE_H
#define ROOST_SERVICE_H

#include "envelope.h"
#include "validate.h"

#include <mongoc/mongoc.h>

typedef struct {
    const env_request_t *req;
    /* What writes store to recognise a repeat of this request: its rid and
     * its fingerprint (svc_request_fingerprint), "rid:fingerprint". */
    char key[ENV_RID_MAX + 34];
    mongoc_client_t *mongo; /* borrowed from the worker's pool */
    bson_t reply;           /* the reply envelope, set by one svc_reply* call */
    bool replied;
} svc_call_t;

typedef void (*svc_handler_fn)(svc_call_t *call);

typedef struct {
    const char *op;
    svc_handler_fn handler;
} svc_op_t;

typedef struct {
    const char *name;   /* also the database name, after ROOST_DB_PREFIX */
    const svc_op_t *ops; /* terminated by {NULL, NULL} */
    /* Creates indexes and anything else the service needs in its database;
     * idempotent, run once per worker before the service's first call. */
    bool (*prepare)(mongoc_client_t *mongo, bson_error_t *error);
} svc_service_t;

/* The services this worker serves (services.c). */
extern const svc_service_t *const svc_services[];

/* The collection `name` of `service`'s own database; caller destroys it. */
mongoc_collection_t *svc_collection(mongoc_client_t *mongo, const char *service, const char *name);

void svc_reply(svc_call_t *call, int status, const bson_t *body);
void svc_fail(svc_call_t *call, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 400 validation_failed with every collected field error. */
void svc_fail_fields(svc_call_t *call, const ferr_t *errors);
/* 503 when the database cannot be reached, 500 otherwise; logs the cause. */
void svc_fail_db(svc_call_t *call, const bson_error_t *error);

/* True when `error` is a duplicate-key violation of a unique index. */
bool svc_is_duplicate(const bson_error_t *error);

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

/*
 * Creates one index on `service`.`collection` if it is missing. One index
 * per command on purpose: FerretDB 1.24 drops the connection when a
 * createIndexes listing several indexes finds them all present already.
 */
bool svc_ensure_index(mongoc_client_t *mongo, const char *service, const char *collection, const bson_t *keys,
                      const char *name, bool unique, bson_error_t *error);

/*
 * Asks another service over nng: sends `op` (with the optional "params",
 * "query", "body" of `request`) to that service's pool and waits at most
 * half the request deadline. On success `reply` (uninitialised on entry)
 * holds the reply envelope, whatever its status. Never reads another
 * service's database: this is how services join their data.
 */
bool svc_ask(const char *op, const bson_t *request, bson_t *reply, bson_error_t *error);

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

/* Renders a stored document into its public shape (out uninitialised on entry). */
typedef void (*svc_render_fn)(const bson_t *doc, bson_t *out);

/* The usual public shape: "id" from _id, then each of the NULL-terminated
 * `fields` the document has, in that order. */
void svc_render_fields(const bson_t *doc, const char *const *fields, bson_t *out);

/* What a list reply holds besides its items. */
typedef struct {
    const char *items_key; /* "items", or the classic contract's "users" / "listings" */
    bool result;           /* the classic contract's leading "result": true */
    int64_t page, per_page, total; /* appended after the items when total >= 0 */
} svc_page_t;

/*
 * Replies 200 with every document of `cursor` rendered under
 * page->items_key, or the database's error. Destroys the cursor.
 */
void svc_reply_page(svc_call_t *call, mongoc_cursor_t *cursor, svc_render_fn render, const svc_page_t *page);

/*
 * An index a service needs. `keys` lists its fields in order, comma
 * separated, a leading '-' for descending: "deleted_at,-created_at" is
 * {deleted_at: 1, created_at: -1}.
 */
typedef struct {
    const char *collection;
    const char *name;
    const char *keys;
    bool unique;
} svc_index_t;

/* svc_ensure_index for each of `count` indexes of `service`; stops at the first failure. */
bool svc_ensure_indexes(mongoc_client_t *mongo, const char *service, const svc_index_t *indexes, size_t count,
                        bson_error_t *error);

/*
 * Asks another service's `op` about one id ({params: {id}}) with svc_ask.
 * Returns the reply's status, with the envelope in `reply` (uninitialised
 * on entry; the caller destroys it), or -1 after replying 503 itself
 * (code `unavailable`, or "timeout") when that service cannot be reached.
 */
int svc_ask_id(svc_call_t *call, const char *op, int64_t id, const char *unavailable, bson_t *reply);

/*
 * Appends {_id: {$gt: 0}} to a filter: every document of Roost's own
 * collections (ids are positive), written as a range on _id so that the
 * total of a list without filters walks the _id index; MongoDB answers
 * the count of an empty filter with a collection scan.
 */
void svc_filter_every_id(bson_t *filter);

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

/* Microseconds since the epoch, UTC. */
int64_t svc_now_us(void);

#endif
