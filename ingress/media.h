/*
 * GET and HEAD /media/{id}: a photo's bytes (media_cache.h first, else
 * read from the properties service in reads of CFG_MEDIA_READ_BYTES and
 * kept), with the headers an immutable file deserves: ETag (its sha256),
 * Cache-Control immutable for a year, Accept-Ranges and one byte range
 * (206, 416), If-None-Match (304). `?w=160|320|640|1280` asks for a copy
 * that wide, WebP when the Accept header names image/webp, JPEG otherwise
 * (Vary: Accept).
 */
#ifndef ROOST_MEDIA_H
#define ROOST_MEDIA_H

#include "routes.h"

#include <bson/bson.h>
#include <h2o.h>

/* Answers the request; `query` is its parsed query string. */
void media_answer(h2o_req_t *req, const route_match_t *m, const char *rid, const bson_t *query);

#endif
