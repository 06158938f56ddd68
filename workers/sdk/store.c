/* The service's own database: names, indexes, reads, versioned updates, time. */
#include "service.h"
#include "config.h"
#include "log.h"

#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

mongoc_collection_t *
svc_collection(mongoc_client_t *mongo, const char *service, const char *name)
{
    char db[128];
    snprintf(db, sizeof(db), "%s%s", cfg_str("ROOST_DB_PREFIX", CFG_DEFAULT_DB_PREFIX), service);
    return mongoc_client_get_collection(mongo, db, name);
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

/*
 * Creates one index on `service`.`collection` if it is missing, one index
 * per command: FerretDB 1.24 dropped the connection when a createIndexes
 * listing several indexes found them all present already, and other stores
 * may do the same.
 */
static bool
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
        bool ok =
            svc_ensure_index(mongo, service, indexes[i].collection, &keys, indexes[i].name, indexes[i].unique, error);
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
    /* Callers bound page by VALIDATE_PAGE_MAX and per_page by their caps, so this
     * cannot overflow; the check keeps it so if a caller ever forgets. */
    int64_t skip;
    if (page < 1 || per_page < 1 || __builtin_mul_overflow(page - 1, per_page, &skip))
        skip = INT64_MAX;
    BSON_APPEND_INT64(opts, "skip", skip);
    BSON_APPEND_INT64(opts, "limit", per_page);
    return opts;
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
svc_update_at_version(mongoc_collection_t *coll, int64_t id, int64_t version, const bson_t *extra, const bson_t *update,
                      bson_error_t *error)
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

void
svc_backoff(int attempt)
{
    usleep(1000 * (1 + randombytes_uniform(2 + (uint32_t)(attempt > 0 ? attempt : 0))));
}

bool
svc_expected(const envelope_request_t *req, int64_t version)
{
    for (size_t i = 0; req->has_expect && i < req->nexpect; i++)
        if (req->expect[i] == version)
            return true;
    return !req->has_expect;
}
