/* Dense ids decided by the unique _id index, and the key that tells a repeated request. */
#include "service.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

/* Each round of a race for the next id has one winner: enough rounds for
 * every context of every worker to lose a few. */
#define SVC_INSERT_ATTEMPTS 256

void
svc_request_fingerprint(const svc_call_t *call, char out[33])
{
    const envelope_request_t *req = call->req;
    unsigned char digest[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(digest));
    crypto_generichash_update(&st, (const unsigned char *)req->op, strlen(req->op) + 1);
    crypto_generichash_update(&st, (const unsigned char *)&req->auth_sub, sizeof(req->auth_sub));
    crypto_generichash_update(&st, bson_get_data(&req->params), req->params.len);
    crypto_generichash_update(&st, bson_get_data(&req->body), req->body.len);
    crypto_generichash_final(&st, digest, sizeof(digest));
    static const char hex[] = "0123456789abcdef"; /* every request: no printf */
    for (size_t i = 0; i < sizeof(digest); i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[2 * sizeof(digest)] = '\0';
}

/* The highest _id in `coll` (0 when it is empty): one index read. */
static bool
svc_max_id(mongoc_collection_t *coll, int64_t *max, bson_error_t *error)
{
    bson_t empty = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(-1), "}", "limit", BCON_INT64(1), "projection", "{", "_id",
                            BCON_INT32(1), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &empty, opts, NULL);
    const bson_t *doc;
    bson_iter_t it;
    *max = 0;
    if (mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_INT(&it))
        *max = bson_iter_as_int64(&it);
    bool ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    bson_destroy(&empty);
    return ok;
}

/* Whether a document with `field` = `value` exists; *found (with `out`,
 * initialised, replaced by the document) says so. */
static bool
svc_find_by(mongoc_collection_t *coll, const char *field, const bson_value_t *value, bson_t *out, bool *found,
            bson_error_t *error)
{
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_VALUE(&filter, field, value);
    bool ok = svc_find_one(coll, &filter, out, found, error);
    bson_destroy(&filter);
    return ok;
}

bool
svc_find_stored(mongoc_collection_t *coll, const char *key, bson_t *out, bool *found, bson_error_t *error)
{
    bson_value_t key_value = {.value_type = BSON_TYPE_UTF8};
    key_value.value.v_utf8.str = (char *)key;
    key_value.value.v_utf8.len = (uint32_t)strlen(key);
    return svc_find_by(coll, "rid", &key_value, out, found, error);
}

/*
 * The creates of one collection in this process go one at a time, from the
 * id after the last one this process stored: under a burst every context of
 * a worker would otherwise read the same max(_id), all but one would lose
 * the insert, read again, and lose again (a burst of n costs n^2 inserts).
 * Workers still race each other, and the unique _id index still decides.
 */
#define SVC_ID_SLOTS 32
static struct {
    char collection[64];
    int64_t next; /* 0: read max(_id) first */
    pthread_mutex_t lock;
} svc_id_slots[SVC_ID_SLOTS];
static pthread_mutex_t svc_id_slots_lock = PTHREAD_MUTEX_INITIALIZER;

static int
svc_id_slot(const char *collection)
{
    int found = -1;
    pthread_mutex_lock(&svc_id_slots_lock);
    for (int i = 0; i < SVC_ID_SLOTS && found < 0; i++) {
        if (strcmp(svc_id_slots[i].collection, collection) == 0) {
            found = i;
        } else if (svc_id_slots[i].collection[0] == '\0' && strlen(collection) < sizeof(svc_id_slots[i].collection)) {
            bson_strncpy(svc_id_slots[i].collection, collection, sizeof(svc_id_slots[i].collection));
            pthread_mutex_init(&svc_id_slots[i].lock, NULL);
            found = i;
        }
    }
    pthread_mutex_unlock(&svc_id_slots_lock);
    return found;
}

static svc_insert_t
svc_insert_from(mongoc_collection_t *coll, const bson_t *fields, const char *key, int64_t *next, bson_t *stored,
                bson_error_t *error)
{
    int64_t id = *next;
    bool retried_same_id = false;
    bson_value_t key_value = {.value_type = BSON_TYPE_UTF8};
    key_value.value.v_utf8.str = (char *)key;
    key_value.value.v_utf8.len = (uint32_t)strlen(key);

    for (int attempt = 0; attempt < SVC_INSERT_ATTEMPTS; attempt++) {
        if (id <= 0) {
            int64_t max;
            if (!svc_max_id(coll, &max, error))
                return SVC_INSERT_FAILED;
            id = max + 1;
        }
        bson_t doc = BSON_INITIALIZER;
        BSON_APPEND_INT64(&doc, "_id", id);
        bson_concat(&doc, fields);
        bool inserted = mongoc_collection_insert_one(coll, &doc, NULL, NULL, error);
        if (inserted) {
            bson_destroy(stored);
            bson_steal(stored, &doc);
            *next = id + 1;
            return SVC_INSERTED;
        }
        bson_destroy(&doc);
        if (!svc_is_duplicate(error))
            return SVC_INSERT_FAILED;
        /* MongoDB's message names the index ("... index: _id_ dup key:
         * ..."): when it is _id's, another create took the id, and nothing
         * needs reading but the top. A repeat of this request that collides
         * on the id first collides on rid at the next id. */
        if (strstr(error->message, " index: _id_ dup key") != NULL) {
            int64_t max;
            if (!svc_max_id(coll, &max, error))
                return SVC_INSERT_FAILED;
            id = max >= id ? max + 1 : id + 1;
            retried_same_id = false;
            continue;
        }
        /* Which unique index refused it? This request's key: an earlier
         * delivery made the document. The id: another create took it first,
         * go on from the top. Anything else is the caller's own uniqueness rule. */
        bool found;
        if (!svc_find_by(coll, "rid", &key_value, stored, &found, error))
            return SVC_INSERT_FAILED;
        if (found)
            return SVC_INSERT_REPEAT;
        bson_value_t id_value = {.value_type = BSON_TYPE_INT64, .value.v_int64 = id};
        bson_t taken = BSON_INITIALIZER;
        bool ok = svc_find_by(coll, "_id", &id_value, &taken, &found, error);
        bson_destroy(&taken);
        if (!ok)
            return SVC_INSERT_FAILED;
        if (found) {
            int64_t max;
            if (!svc_max_id(coll, &max, error))
                return SVC_INSERT_FAILED;
            id = max >= id ? max + 1 : id + 1;
            retried_same_id = false;
        } else if (!retried_same_id) {
            /* Neither the key nor the id holds it now: the id's holder may
             * have been deleted since (a refused booking gives its id back).
             * Try the same id once more before calling it another index. */
            retried_same_id = true;
        } else {
            return SVC_INSERT_CONFLICT;
        }
    }
    bson_set_error(error, 1, 1, "no free id after %d attempts; the collection is under a burst of creates",
                   SVC_INSERT_ATTEMPTS);
    return SVC_INSERT_FAILED;
}

svc_insert_t
svc_insert_next(mongoc_collection_t *coll, const bson_t *fields, const char *key, bson_t *stored, bson_error_t *error)
{
    bson_init(stored);
    int slot = svc_id_slot(mongoc_collection_get_name(coll));
    if (slot < 0) {
        int64_t next = 0;
        return svc_insert_from(coll, fields, key, &next, stored, error);
    }
    pthread_mutex_lock(&svc_id_slots[slot].lock);
    svc_insert_t rv = svc_insert_from(coll, fields, key, &svc_id_slots[slot].next, stored, error);
    if (rv == SVC_INSERT_FAILED)
        svc_id_slots[slot].next = 0; /* read the top again next time */
    pthread_mutex_unlock(&svc_id_slots[slot].lock);
    return rv;
}
