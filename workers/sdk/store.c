/* The one door to a service's own database (store.h). */
#include "service.h"
#include "config.h"
#include "log.h"

#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * One document, as a `find` command with limit 1 and a single batch rather
 * than through a cursor: the same command on the wire, with the
 * collection's read preference and read concern, but one server selection
 * instead of the cursor's two (each copies the server's description), and
 * no cursor left to close. It is the read behind every fetch by id.
 */
bool
svc_find_one(mongoc_collection_t *coll, const bson_t *filter, bson_t *out, bool *found, bson_error_t *error)
{
    bson_t *cmd = BCON_NEW("find", BCON_UTF8(mongoc_collection_get_name(coll)), "filter", BCON_DOCUMENT(filter),
                           "limit", BCON_INT64(1), "singleBatch", BCON_BOOL(true));
    bson_t reply;
    bson_iter_t it, batch;
    *found = false;
    bool ok = mongoc_collection_read_command_with_opts(coll, cmd, mongoc_collection_get_read_prefs(coll), NULL, &reply,
                                                       error);
    if (ok && bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "cursor.firstBatch", &batch) &&
        BSON_ITER_HOLDS_ARRAY(&batch) && bson_iter_recurse(&batch, &it) && bson_iter_next(&it) &&
        BSON_ITER_HOLDS_DOCUMENT(&it)) {
        uint32_t len;
        const uint8_t *data;
        bson_t view;
        bson_iter_document(&it, &len, &data);
        if (bson_init_static(&view, data, len)) {
            bson_destroy(out);
            bson_copy_to(&view, out);
            *found = true;
        }
    }
    bson_destroy(&reply);
    bson_destroy(cmd);
    return ok;
}

void
svc_collection_close(mongoc_collection_t *coll)
{
    mongoc_collection_destroy(coll);
}

bool
svc_count(mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts, int64_t *n, bson_error_t *error)
{
    *n = mongoc_collection_count_documents(coll, filter, opts, NULL, NULL, error);
    return *n >= 0;
}

/* Calls `fn` with each document of `cursor`, then destroys it. */
static bool
svc_cursor_each(mongoc_cursor_t *cursor, svc_each_fn fn, void *arg, bson_error_t *error)
{
    const bson_t *doc;
    while (mongoc_cursor_next(cursor, &doc))
        if (!fn(doc, arg))
            break;
    bool ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
    return ok;
}

bool
svc_find_each(mongoc_collection_t *coll, const bson_t *filter, const bson_t *opts, svc_each_fn fn, void *arg,
              bson_error_t *error)
{
    return svc_cursor_each(mongoc_collection_find_with_opts(coll, filter, opts, NULL), fn, arg, error);
}

bool
svc_aggregate_each(mongoc_collection_t *coll, const bson_t *pipeline, const bson_t *opts, svc_each_fn fn, void *arg,
                   bson_error_t *error)
{
    return svc_cursor_each(mongoc_collection_aggregate(coll, MONGOC_QUERY_NONE, pipeline, opts, NULL), fn, arg, error);
}

bool
svc_insert(mongoc_collection_t *coll, const bson_t *doc, bson_error_t *error)
{
    return mongoc_collection_insert_one(coll, doc, NULL, NULL, error);
}

bool
svc_insert_all(mongoc_collection_t *coll, const bson_t *const *docs, size_t n, bool ordered, bson_error_t *error)
{
    bson_t *opts = BCON_NEW("ordered", BCON_BOOL(ordered));
    bool ok = mongoc_collection_insert_many(coll, (const bson_t **)docs, n, opts, NULL, error);
    bson_destroy(opts);
    return ok;
}

bool
svc_update(mongoc_collection_t *coll, const bson_t *selector, const bson_t *update, bool many, bson_error_t *error)
{
    return many ? mongoc_collection_update_many(coll, selector, update, NULL, NULL, error)
                : mongoc_collection_update_one(coll, selector, update, NULL, NULL, error);
}

bool
svc_replace(mongoc_collection_t *coll, const bson_t *selector, const bson_t *doc, bson_error_t *error)
{
    return mongoc_collection_replace_one(coll, selector, doc, NULL, NULL, error);
}

bool
svc_delete(mongoc_collection_t *coll, const bson_t *selector, bool many, bson_error_t *error)
{
    return many ? mongoc_collection_delete_many(coll, selector, NULL, NULL, error)
                : mongoc_collection_delete_one(coll, selector, NULL, NULL, error);
}

bool
svc_find_and_modify(mongoc_collection_t *coll, const bson_t *selector, const mongoc_find_and_modify_opts_t *opts,
                    bson_t *reply, bson_error_t *error)
{
    return mongoc_collection_find_and_modify_with_opts(coll, selector, opts, reply, error);
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

void
svc_filter_live(bson_t *filter)
{
    bson_t cond;
    BSON_APPEND_DOCUMENT_BEGIN(filter, "deleted_at", &cond);
    BSON_APPEND_BOOL(&cond, "$exists", false);
    bson_append_document_end(filter, &cond);
}

int64_t
svc_version(const bson_t *doc)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, "version") && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : 1;
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
