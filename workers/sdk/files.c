/* A service's GridFS buckets (files.h). */
#include "sdk/files.h"
#include "clock.h"
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The bucket `name` of `service`'s database; NULL (error set) on failure. */
static mongoc_gridfs_bucket_t *
svc_bucket(mongoc_client_t *mongo, const char *service, const char *name, bson_error_t *error)
{
    mongoc_database_t *db = svc_database(mongo, service);
    bson_t *opts = BCON_NEW("bucketName", BCON_UTF8(name));
    mongoc_gridfs_bucket_t *bucket = mongoc_gridfs_bucket_new(db, opts, NULL, error);
    bson_destroy(opts);
    mongoc_database_destroy(db); /* the bucket keeps its own copies */
    return bucket;
}

/* Writes the file through the driver's upload stream; false (error set) on failure, its chunks removed. */
static bool
svc_file_write(mongoc_gridfs_bucket_t *bucket, const char *id, const uint8_t *data, size_t len, const bson_t *metadata,
               bson_error_t *error)
{
    bson_value_t file_id = {.value_type = BSON_TYPE_UTF8};
    file_id.value.v_utf8.str = (char *)id;
    file_id.value.v_utf8.len = (uint32_t)strlen(id);
    bson_t opts = BSON_INITIALIZER;
    if (metadata != NULL)
        BSON_APPEND_DOCUMENT(&opts, "metadata", metadata);
    bool ok = false;
    mongoc_stream_t *stream = mongoc_gridfs_bucket_open_upload_stream_with_id(bucket, &file_id, id, &opts, error);
    if (stream != NULL) {
        ssize_t wrote = len > 0 ? mongoc_stream_write(stream, (void *)data, len, 0) : 0;
        if (wrote != (ssize_t)len) {
            mongoc_gridfs_bucket_stream_error(stream, error);
            mongoc_gridfs_bucket_abort_upload(stream); /* only this writer's: it holds the claim */
        } else if (mongoc_stream_close(stream) != 0) {
            mongoc_gridfs_bucket_stream_error(stream, error);
        } else {
            ok = true;
        }
        mongoc_stream_destroy(stream);
    }
    bson_destroy(&opts);
    return ok;
}

/*
 * Claims the right to write file `id`: a document of <bucket>.claims
 * under the same _id, whose unique index is the arbiter. A claim older than
 * twice a request's deadline is a writer that died: it is taken over, by a
 * replace conditioned on the time it had, so that one taker wins. 1: this
 * call holds it; 0: another writer does; -1: the database failed.
 */
static int
svc_file_claim(mongoc_client_t *mongo, const char *service, const char *bucket_name, const char *id,
               bson_error_t *error)
{
    char name[96];
    snprintf(name, sizeof(name), "%s.claims", bucket_name);
    mongoc_collection_t *claims = svc_collection(mongo, service, name);
    int64_t now = clock_realtime_us() / 1000; /* wall time: claims are compared across processes */
    bson_t *claim = BCON_NEW("_id", BCON_UTF8(id), "at", BCON_INT64(now));
    int held = svc_insert(claims, claim, error) ? 1 : svc_is_duplicate(error) ? 0 : -1;
    if (held == 0) {
        bson_t *stale = BCON_NEW("_id", BCON_UTF8(id), "at", "{", "$lt",
                                 BCON_INT64(now - 2 * (int64_t)cfg_request_timeout_ms()), "}");
        bson_t *update = BCON_NEW("$set", "{", "at", BCON_INT64(now), "}");
        bson_t reply;
        mongoc_find_and_modify_opts_t *opts = mongoc_find_and_modify_opts_new();
        mongoc_find_and_modify_opts_set_update(opts, update);
        if (svc_find_and_modify(claims, stale, opts, &reply, error)) {
            bson_iter_t it;
            held = bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it) ? 1 : 0;
        } else {
            held = -1;
        }
        bson_destroy(&reply);
        mongoc_find_and_modify_opts_destroy(opts);
        bson_destroy(update);
        bson_destroy(stale);
    }
    bson_destroy(claim);
    svc_collection_close(claims);
    return held;
}

static void
svc_file_unclaim(mongoc_client_t *mongo, const char *service, const char *bucket_name, const char *id)
{
    char name[96];
    snprintf(name, sizeof(name), "%s.claims", bucket_name);
    mongoc_collection_t *claims = svc_collection(mongo, service, name);
    bson_t *by_id = BCON_NEW("_id", BCON_UTF8(id));
    svc_delete(claims, by_id, false, NULL); /* a claim left behind goes stale */
    bson_destroy(by_id);
    svc_collection_close(claims);
}

svc_file_put_t
svc_file_put(mongoc_client_t *mongo, const char *service, const char *bucket_name, const char *id, const uint8_t *data,
             size_t len, const bson_t *metadata, bson_error_t *error)
{
    int held = svc_file_claim(mongo, service, bucket_name, id, error);
    if (held <= 0)
        return held == 0 ? SVC_FILE_BUSY : SVC_FILE_FAILED;
    bson_t file = BSON_INITIALIZER;
    bool found = false;
    svc_file_put_t result = SVC_FILE_FAILED;
    if (!svc_file_find(mongo, service, bucket_name, id, &file, &found, error)) {
        /* result stays FAILED */
    } else if (found) {
        result = SVC_FILE_EXISTS; /* written before: the same id is the same bytes */
    } else {
        /* Chunks without their files document are a writer's that died:
         * with the claim held, no one else is writing them. */
        mongoc_gridfs_bucket_t *bucket = svc_bucket(mongo, service, bucket_name, error);
        if (bucket != NULL && svc_file_delete(mongo, service, bucket_name, id, error) &&
            svc_file_write(bucket, id, data, len, metadata, error))
            result = SVC_FILE_WRITTEN;
        if (bucket != NULL)
            mongoc_gridfs_bucket_destroy(bucket);
    }
    bson_destroy(&file);
    svc_file_unclaim(mongo, service, bucket_name, id);
    return result;
}

bool
svc_file_wait(mongoc_client_t *mongo, const char *service, const char *bucket_name, const char *id, bson_t *out,
              bool *found, bson_error_t *error)
{
    /* A write is a few hundred ms at most; a request's deadline bounds the wait. */
    int waited = 0, limit = cfg_request_timeout_ms() / 2;
    for (;;) {
        if (!svc_file_find(mongo, service, bucket_name, id, out, found, error))
            return false;
        if (*found || waited >= limit)
            return true;
        usleep(50 * 1000);
        waited += 50;
    }
}

bool
svc_file_delete(mongoc_client_t *mongo, const char *service, const char *bucket_name, const char *id,
                bson_error_t *error)
{
    /* By the spec's two deletes rather than mongoc_gridfs_bucket_delete_by_id,
     * which fails on a file already gone, and leaves its chunks when the
     * files document went first in an earlier, interrupted delete. */
    char name[96];
    snprintf(name, sizeof(name), "%s.chunks", bucket_name);
    mongoc_collection_t *chunks = svc_collection(mongo, service, name);
    bson_t *by_file = BCON_NEW("files_id", BCON_UTF8(id));
    bool ok = svc_delete(chunks, by_file, true, error);
    bson_destroy(by_file);
    svc_collection_close(chunks);
    if (!ok)
        return false;
    snprintf(name, sizeof(name), "%s.files", bucket_name);
    mongoc_collection_t *files = svc_collection(mongo, service, name);
    bson_t *by_id = BCON_NEW("_id", BCON_UTF8(id));
    ok = svc_delete(files, by_id, false, error);
    bson_destroy(by_id);
    svc_collection_close(files);
    return ok;
}

bool
svc_file_find(mongoc_client_t *mongo, const char *service, const char *bucket_name, const char *id, bson_t *out,
              bool *found, bson_error_t *error)
{
    char name[96];
    snprintf(name, sizeof(name), "%s.files", bucket_name);
    mongoc_collection_t *files = svc_collection(mongo, service, name);
    bson_t *by_id = BCON_NEW("_id", BCON_UTF8(id));
    bool ok = svc_find_one(files, by_id, out, found, error);
    bson_destroy(by_id);
    svc_collection_close(files);
    return ok;
}

/* Where the chunks of a range go as they come. */
typedef struct {
    int64_t chunk_size, offset, want;
    uint8_t *out;
    int64_t next_n, copied;
    bool broken;
} svc_file_range_t;

static bool
svc_file_chunk(const bson_t *doc, void *arg)
{
    svc_file_range_t *r = arg;
    bson_iter_t it;
    const uint8_t *data;
    uint32_t len;
    bson_subtype_t subtype;
    if (!bson_iter_init_find(&it, doc, "n") || bson_iter_as_int64(&it) != r->next_n ||
        !bson_iter_init_find(&it, doc, "data") || !BSON_ITER_HOLDS_BINARY(&it)) {
        r->broken = true;
        return false;
    }
    bson_iter_binary(&it, &subtype, &len, &data);
    int64_t start = r->next_n * r->chunk_size; /* the chunk's first byte in the file */
    int64_t from = r->offset + r->copied - start;
    if (from < 0 || from > (int64_t)len) {
        r->broken = true;
        return false;
    }
    int64_t take = (int64_t)len - from;
    if (take > r->want - r->copied)
        take = r->want - r->copied;
    memcpy(r->out + r->copied, data + from, (size_t)take);
    r->copied += take;
    r->next_n++;
    return r->copied < r->want;
}

bool
svc_file_read(mongoc_client_t *mongo, const char *service, const char *bucket_name, const bson_t *file, int64_t offset,
              size_t len, uint8_t *out, bson_error_t *error)
{
    bson_iter_t it;
    int64_t chunk_size = bson_iter_init_find(&it, file, "chunkSize") ? bson_iter_as_int64(&it) : 0;
    if (len == 0)
        return true;
    if (chunk_size <= 0 || !bson_iter_init_find(&it, file, "_id")) {
        bson_set_error(error, MONGOC_ERROR_GRIDFS, MONGOC_ERROR_GRIDFS_CORRUPT, "a files document without chunkSize");
        return false;
    }
    char name[96];
    snprintf(name, sizeof(name), "%s.chunks", bucket_name);
    mongoc_collection_t *chunks = svc_collection(mongo, service, name);
    int64_t first = offset / chunk_size, last = (offset + (int64_t)len - 1) / chunk_size;
    bson_t filter = BSON_INITIALIZER;
    bson_append_iter(&filter, "files_id", -1, &it);
    BCON_APPEND(&filter, "n", "{", "$gte", BCON_INT64(first), "$lte", BCON_INT64(last), "}");
    bson_t *opts = BCON_NEW("sort", "{", "n", BCON_INT32(1), "}");
    svc_file_range_t r = {
        .chunk_size = chunk_size, .offset = offset, .want = (int64_t)len, .out = out, .next_n = first};
    bool ok = svc_find_each(chunks, &filter, opts, svc_file_chunk, &r, error);
    if (ok && (r.broken || r.copied != r.want)) {
        bson_set_error(error, MONGOC_ERROR_GRIDFS, MONGOC_ERROR_GRIDFS_CHUNK_MISSING,
                       "file chunks %lld to %lld are not all there", (long long)first, (long long)last);
        ok = false;
    }
    bson_destroy(opts);
    bson_destroy(&filter);
    svc_collection_close(chunks);
    return ok;
}
