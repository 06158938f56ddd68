/*
 * A photo upload through the ingress (POST /api/v1/properties/{id}/media,
 * docs/protocol.md "Photos"): the body is the image itself or a
 * multipart/form-data form (multipart.h); its bytes go to the properties
 * service in pieces of CFG_MEDIA_PIECE_BYTES, one in flight at a time
 * (properties.media.piece, each idempotent per request id and piece
 * number), then one properties.media.add makes the photo, and its reply
 * is the response. No message holds the whole photo.
 *
 * Debian's h2o 2.2.5 gives a handler the request body only once it has
 * read all of it: the body is buffered by h2o, in a temporary file past
 * ROOST_UPLOAD_MEMORY_BYTES (main.c sets h2o's mmap threshold), not in the
 * heap.
 */
#ifndef ROOST_UPLOAD_H
#define ROOST_UPLOAD_H

#include "envelope.h"
#include "routes.h"

#include <bson/bson.h>
#include <h2o.h>

/* Who sent the upload, as the envelope says it. */
typedef struct {
    int64_t sub;
    const char *token;
    const char *addr; /* NULL when unknown */
} upload_caller_t;

/* Media types a photo body may have (what image/jpeg, image/png and
 * image/webp parse as), and the form; for request.c's 415. */
bool upload_content_type_ok(h2o_req_t *req);

/* Starts the upload of req->entity for the matched route `m`; answers
 * every refusal itself (400, 413, 415) in the route's error shape. */
void upload_start(h2o_req_t *req, const route_match_t *m, const char *rid, const upload_caller_t *caller,
                  int64_t max_bytes);

#endif
