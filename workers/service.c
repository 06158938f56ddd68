/* Helpers every service handler uses: replies, database names, ids. */
#include "service.h"
#include "config.h"
#include "log.h"
#include "pools.h"
#include "roost.h"

#include <nng/nng.h>

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Each round of a race for the next id has one winner: enough rounds for
 * every context of every worker to lose a few. */
#define SVC_INSERT_ATTEMPTS 256

mongoc_collection_t *
svc_collection(mongoc_client_t *mongo, const char *service, const char *name)
{
    char db[128];
    snprintf(db, sizeof(db), "%s%s", cfg_str("ROOST_DB_PREFIX", CFG_DEFAULT_DB_PREFIX), service);
    return mongoc_client_get_collection(mongo, db, name);
}

void
svc_reply(svc_call_t *call, int status, const bson_t *body)
{
    if (call->replied)
        bson_destroy(&call->reply);
    env_reply_ok(&call->reply, call->req->rid, status, body);
    call->replied = true;
}

void
svc_fail(svc_call_t *call, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = bson_strdupv_printf(fmt, ap); /* whole: a message is never cut */
    va_end(ap);
    if (call->replied)
        bson_destroy(&call->reply);
    env_reply_error(&call->reply, call->req->rid, status, code, message, NULL);
    call->replied = true;
    bson_free(message);
}

void
svc_fail_fields(svc_call_t *call, const ferr_t *errors)
{
    if (call->replied)
        bson_destroy(&call->reply);
    env_reply_error(&call->reply, call->req->rid, 400, "validation_failed", "the request has invalid fields",
                    &errors->list);
    call->replied = true;
}

void
svc_fail_db(svc_call_t *call, const bson_error_t *error)
{
    if (error->domain == MONGOC_ERROR_SERVER_SELECTION || error->domain == MONGOC_ERROR_STREAM) {
        log_warn("rid=%s op=%s database unavailable: %s", call->req->rid, call->req->op, error->message);
        svc_fail(call, 503, "database_unavailable", "the database cannot be reached; retry later");
        return;
    }
    log_error("rid=%s op=%s database error %u.%u: %s", call->req->rid, call->req->op, error->domain, error->code,
              error->message);
    svc_fail(call, 500, "internal", "the database failed this request");
}

bool
svc_is_duplicate(const bson_error_t *error)
{
    /* MongoDB's duplicate-key codes; FerretDB's SQLite backend reports a
     * unique violation on update as code 1 with SQLite's own words. Never a
     * looser match: "invalid key: \"x\" (duplicate keys are not allowed)"
     * is a refused document, not a unique index at work, and taking it for
     * one once sent a property create down the "repeat" path. */
    return error->code == 11000 || error->code == 11001 || error->code == 12582 ||
           strstr(error->message, "E11000 duplicate key error") != NULL ||
           strstr(error->message, "UNIQUE constraint failed") != NULL;
}

void
svc_request_fingerprint(const svc_call_t *call, char out[33])
{
    const env_request_t *req = call->req;
    unsigned char digest[16];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(digest));
    crypto_generichash_update(&st, (const unsigned char *)req->op, strlen(req->op) + 1);
    crypto_generichash_update(&st, (const unsigned char *)&req->auth_sub, sizeof(req->auth_sub));
    crypto_generichash_update(&st, bson_get_data(&req->params), req->params.len);
    crypto_generichash_update(&st, bson_get_data(&req->body), req->body.len);
    crypto_generichash_final(&st, digest, sizeof(digest));
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

bool
svc_ensure_index(mongoc_client_t *mongo, const char *service, const char *collection, const bson_t *keys,
                 const char *name, bool unique, bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(mongo, service, collection);
    bson_t cmd = BSON_INITIALIZER, indexes, index;
    BSON_APPEND_UTF8(&cmd, "createIndexes", collection);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
    BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
    BSON_APPEND_DOCUMENT(&index, "key", keys);
    BSON_APPEND_UTF8(&index, "name", name);
    if (unique)
        BSON_APPEND_BOOL(&index, "unique", true);
    bson_append_document_end(&indexes, &index);
    bson_append_array_end(&cmd, &indexes);
    bool ok = mongoc_collection_write_command_with_opts(coll, &cmd, NULL, NULL, error);
    bson_destroy(&cmd);
    mongoc_collection_destroy(coll);
    return ok;
}

bool
svc_ensure_indexes(mongoc_client_t *mongo, const char *service, const svc_index_t *indexes, size_t count,
                   bson_error_t *error)
{
    for (size_t i = 0; i < count; i++) {
        bson_t keys = BSON_INITIALIZER;
        for (const char *k = indexes[i].keys; *k != '\0';) {
            int dir = *k == '-' ? -1 : 1;
            k += *k == '-';
            size_t len = strcspn(k, ",");
            bson_append_int32(&keys, k, (int)len, dir);
            k += len + (k[len] == ',');
        }
        bool ok = svc_ensure_index(mongo, service, indexes[i].collection, &keys, indexes[i].name, indexes[i].unique,
                                   error);
        bson_destroy(&keys);
        if (!ok)
            return false;
    }
    return true;
}

bool
svc_find_one(mongoc_collection_t *coll, const bson_t *filter, bson_t *out, bool *found, bson_error_t *error)
{
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    const bson_t *doc;
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    *found = mongoc_cursor_next(cursor, &doc);
    if (*found) {
        bson_destroy(out);
        bson_copy_to(doc, out);
    }
    bool ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    return ok;
}

bson_t *
svc_page_opts(const char *field, int dir, int64_t page, int64_t per_page)
{
    bson_t *opts = bson_new(), sort;
    BSON_APPEND_DOCUMENT_BEGIN(opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, field, dir);
    if (strcmp(field, "_id") != 0)
        BSON_APPEND_INT32(&sort, "_id", dir);
    bson_append_document_end(opts, &sort);
    /* Callers bound page by V_PAGE_MAX and per_page by their caps, so this
     * cannot overflow; the check keeps it so if a caller ever forgets. */
    int64_t skip;
    if (page < 1 || per_page < 1 || __builtin_mul_overflow(page - 1, per_page, &skip))
        skip = INT64_MAX;
    BSON_APPEND_INT64(opts, "skip", skip);
    BSON_APPEND_INT64(opts, "limit", per_page);
    return opts;
}

void
svc_render_fields(const bson_t *doc, const char *const *fields, bson_t *out)
{
    bson_iter_t it;
    bson_init(out);
    if (bson_iter_init_find(&it, doc, "_id"))
        BSON_APPEND_INT64(out, "id", bson_iter_as_int64(&it));
    for (; *fields != NULL; fields++)
        if (bson_iter_init_find(&it, doc, *fields))
            bson_append_iter(out, *fields, -1, &it);
}

void
svc_reply_page(svc_call_t *call, mongoc_cursor_t *cursor, svc_render_fn render, const svc_page_t *page)
{
    bson_t body = BSON_INITIALIZER, items;
    bson_error_t error;
    const bson_t *doc;
    uint32_t i = 0;

    if (page->result)
        BSON_APPEND_BOOL(&body, "result", true);
    BSON_APPEND_ARRAY_BEGIN(&body, page->items_key, &items);
    while (mongoc_cursor_next(cursor, &doc)) {
        char key[16];
        bson_t out;
        snprintf(key, sizeof(key), "%u", i++);
        render(doc, &out);
        BSON_APPEND_DOCUMENT(&items, key, &out);
        bson_destroy(&out);
    }
    bson_append_array_end(&body, &items);
    if (page->total >= 0) {
        BSON_APPEND_INT64(&body, "page", page->page);
        BSON_APPEND_INT64(&body, "per_page", page->per_page);
        BSON_APPEND_INT64(&body, "total", page->total);
    }
    if (mongoc_cursor_error(cursor, &error))
        svc_fail_db(call, &error);
    else
        svc_reply(call, 200, &body);
    mongoc_cursor_destroy(cursor);
    bson_destroy(&body);
}

void
svc_filter_every_id(bson_t *filter)
{
    bson_t cond;
    BSON_APPEND_DOCUMENT_BEGIN(filter, "_id", &cond);
    BSON_APPEND_INT64(&cond, "$gt", 0);
    bson_append_document_end(filter, &cond);
}

int64_t
svc_version(const bson_t *doc)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, "version") && BSON_ITER_HOLDS_INT(&it) ? bson_iter_as_int64(&it) : 1;
}

int
svc_update_at_version(mongoc_collection_t *coll, int64_t id, int64_t version, const bson_t *extra,
                      const bson_t *update, bson_error_t *error)
{
    bson_t filter = BSON_INITIALIZER, result;
    bson_iter_t it;
    BSON_APPEND_INT64(&filter, "_id", id);
    if (version == 1) {
        bson_t *either = BCON_NEW("$or", "[", "{", "version", BCON_INT64(1), "}", "{", "version", "{", "$exists",
                                  BCON_BOOL(false), "}", "}", "]");
        bson_concat(&filter, either);
        bson_destroy(either);
    } else {
        BSON_APPEND_INT64(&filter, "version", version);
    }
    if (extra != NULL)
        bson_concat(&filter, extra);
    bool ok = mongoc_collection_update_one(coll, &filter, update, NULL, &result, error);
    int64_t matched = ok && bson_iter_init_find(&it, &result, "matchedCount") ? bson_iter_as_int64(&it) : 0;
    bson_destroy(&result); /* mongoc initialises the reply even when the update fails */
    bson_destroy(&filter);
    return ok ? matched > 0 : -1;
}

int64_t
svc_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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

/* One client per pool URL, opened on first use and shared by all threads. */
static pthread_mutex_t svc_clients_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const char *url;
    roost_client_t *client;
} svc_clients[16];

bool
svc_ask(const char *op, const bson_t *request, bson_t *reply, bson_error_t *error)
{
    char service[32];
    roost_client_t *client = NULL;
    size_t i;

    pools_service_of(op, service, sizeof(service));
    const char *url = pools_url(service);
    pthread_mutex_lock(&svc_clients_lock);
    for (i = 0; i < sizeof(svc_clients) / sizeof(svc_clients[0]) && svc_clients[i].url != NULL; i++)
        if (strcmp(svc_clients[i].url, url) == 0)
            client = svc_clients[i].client;
    if (client == NULL && i < sizeof(svc_clients) / sizeof(svc_clients[0])) {
        int timeout = (int)cfg_int("ROOST_REQUEST_TIMEOUT_MS", CFG_DEFAULT_TIMEOUT_MS, 100, 600000) / 2;
        client = roost_client_open(url, timeout, error);
        if (client != NULL) {
            svc_clients[i].url = url;
            svc_clients[i].client = client;
        }
    }
    pthread_mutex_unlock(&svc_clients_lock);
    if (client == NULL) {
        if (error->message[0] == '\0')
            bson_set_error(error, 1, 1, "too many pools");
        return false;
    }
    return roost_client_call(client, op, request, reply, error);
}

int
svc_ask_id(svc_call_t *call, const char *op, int64_t id, const char *unavailable, bson_t *reply)
{
    bson_error_t error;
    bson_iter_t it;
    char service[32];
    bson_t *request = BCON_NEW("params", "{", "id", BCON_INT64(id), "}");
    bool ok = svc_ask(op, request, reply, &error);
    bson_destroy(request);
    if (!ok) {
        pools_service_of(op, service, sizeof(service));
        svc_fail(call, 503, error.code == NNG_ECONNREFUSED ? unavailable : "timeout",
                 "the %s service cannot be reached: %s", service, error.message);
        return -1;
    }
    return bson_iter_init_find(&it, reply, "status") ? (int)bson_iter_as_int64(&it) : 500;
}
