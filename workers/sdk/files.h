/*
 * The door to a service's GridFS buckets (mongoc_gridfs_bucket_*): files
 * written and removed whole through the driver's bucket API, so that they
 * are GridFS files on any MongoDB (and the embedded database), and read
 * back by byte range from their chunks, which the GridFS spec lays out as
 * {files_id, n, data} of the file's chunkSize each: a range costs the
 * chunks it covers, not the file.
 *
 * A file's id is a string the caller chooses: a repeated write of the same
 * id finds the file there.
 */
#ifndef ROOST_SDK_FILES_H
#define ROOST_SDK_FILES_H

#include "sdk/service.h"

typedef enum {
    SVC_FILE_WRITTEN, /* this call wrote it */
    SVC_FILE_EXISTS,  /* it was there: written before under the same id */
    SVC_FILE_BUSY,    /* another writer is writing it now (svc_file_wait) */
    SVC_FILE_FAILED,  /* the database failed: error set */
} svc_file_put_t;

/* Writes `len` bytes as file `id` of `bucket` with `metadata` (may be
 * NULL), unless it is there. One writer at a time: a claim on the id
 * (<bucket>.claims) comes first, so that two writers of one id never
 * abort each other's chunks; a writer that died leaves a claim another
 * takes over once it is stale, and chunks without a files document, which
 * the next writer removes. */
svc_file_put_t svc_file_put(mongoc_client_t *mongo, const char *service, const char *bucket, const char *id,
                            const uint8_t *data, size_t len, const bson_t *metadata, bson_error_t *error);

/* svc_file_find, waiting up to half a request's deadline for a file that
 * another writer is writing (SVC_FILE_BUSY). */
bool svc_file_wait(mongoc_client_t *mongo, const char *service, const char *bucket, const char *id, bson_t *out,
                   bool *found, bson_error_t *error);

/* Removes file `id` and its chunks; a file that is not there is not an error. */
bool svc_file_delete(mongoc_client_t *mongo, const char *service, const char *bucket, const char *id,
                     bson_error_t *error);

/* The files document of `id` ({_id, length, chunkSize, uploadDate,
 * metadata}) into `out` (initialised on entry) when *found. */
bool svc_file_find(mongoc_client_t *mongo, const char *service, const char *bucket, const char *id, bson_t *out,
                   bool *found, bson_error_t *error);

/* Bytes [offset, offset + len) of file `id`, whose files document is
 * `file` (svc_file_find), into `out`. False (error set) when the database
 * failed or the chunks are not all there. */
bool svc_file_read(mongoc_client_t *mongo, const char *service, const char *bucket, const bson_t *file, int64_t offset,
                   size_t len, uint8_t *out, bson_error_t *error);

#endif
