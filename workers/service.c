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

#define SVC_ID_BLOCK 16

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
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (call->replied)
        bson_destroy(&call->reply);
    env_reply_error(&call->reply, call->req->rid, status, code, message, NULL);
    call->replied = true;
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
    /* FerretDB's SQLite backend reports a unique violation on insert as
     * 11000 but on update as code 1 with SQLite's own words. */
    return error->code == 11000 || error->code == 11001 || error->code == 12582 ||
           strstr(error->message, "UNIQUE constraint failed") != NULL ||
           strstr(error->message, "duplicate key") != NULL;
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
        BSON_APPEND_INT32(&keys, indexes[i].key1, indexes[i].dir1);
        if (indexes[i].key2 != NULL)
            BSON_APPEND_INT32(&keys, indexes[i].key2, indexes[i].dir2);
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
    BSON_APPEND_INT64(opts, "skip", (page - 1) * per_page);
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

int64_t
svc_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One block of ids per service per worker process. */
typedef struct {
    char service[32];
    int64_t next, last;
} svc_id_block_t;

static pthread_mutex_t svc_id_lock = PTHREAD_MUTEX_INITIALIZER;
static svc_id_block_t svc_id_blocks[16];

/*
 * Claims the next free block number of `service`: the highest claimed so
 * far plus one, made ours by inserting {_id: k} into "id_blocks". The
 * insert is the arbiter: FerretDB enforces unique _id atomically, while
 * its findAndModify $inc is not atomic under concurrent writers (measured:
 * 397 concurrent increments returned 27 distinct values). Losing a race
 * just means trying the next number.
 */
static bool
svc_claim_block(mongoc_client_t *mongo, const char *service, int64_t *block, bson_error_t *error)
{
    mongoc_collection_t *blocks = svc_collection(mongo, service, "id_blocks");
    bson_t empty = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(-1), "}", "limit", BCON_INT64(1));
    bool ok = false;
    const bson_t *doc;
    bson_iter_t it;

    for (int attempt = 0; attempt < 64 && !ok; attempt++) {
        int64_t top = 0;
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(blocks, &empty, opts, NULL);
        if (mongoc_cursor_next(cursor, &doc) && bson_iter_init_find(&it, doc, "_id"))
            top = bson_iter_as_int64(&it);
        bool read_failed = mongoc_cursor_error(cursor, error);
        mongoc_cursor_destroy(cursor);
        if (read_failed)
            break;
        bson_t *claim = BCON_NEW("_id", BCON_INT64(top + 1), "at", BCON_INT64(svc_now_us()));
        ok = mongoc_collection_insert_one(blocks, claim, NULL, NULL, error);
        bson_destroy(claim);
        if (ok)
            *block = top + 1;
        else if (!svc_is_duplicate(error))
            break;
    }
    if (!ok && error->code == 0)
        bson_set_error(error, 1, 1, "could not claim an id block for %s", service);
    bson_destroy(opts);
    bson_destroy(&empty);
    mongoc_collection_destroy(blocks);
    return ok;
}

bool
svc_next_id(mongoc_client_t *mongo, const char *service, int64_t *out, bson_error_t *error)
{
    svc_id_block_t *b = NULL;
    bool ok = false;

    pthread_mutex_lock(&svc_id_lock);
    for (size_t i = 0; i < sizeof(svc_id_blocks) / sizeof(svc_id_blocks[0]) && b == NULL; i++) {
        if (strcmp(svc_id_blocks[i].service, service) == 0 || svc_id_blocks[i].service[0] == '\0') {
            b = &svc_id_blocks[i];
            bson_strncpy(b->service, service, sizeof(b->service));
        }
    }
    if (b == NULL) {
        bson_set_error(error, 1, 1, "too many services for the id allocator");
        goto done;
    }
    if (b->next == 0 || b->next > b->last) {
        int64_t block;
        if (!svc_claim_block(mongo, service, &block, error))
            goto done;
        b->next = (block - 1) * SVC_ID_BLOCK + 1;
        b->last = block * SVC_ID_BLOCK;
    }
    *out = b->next++;
    ok = true;
done:
    pthread_mutex_unlock(&svc_id_lock);
    return ok;
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
