/*
 * A worker's reply envelope as the HTTP response: the status, the body as
 * compact JSON, and what the route adds from the reply (ETag from
 * body.version with 304 for a matching If-None-Match, Link from a page's
 * page/per_page/total, Location from a created body.id, the readiness
 * probe's own body).
 */
#ifndef ROOST_REPLY_H
#define ROOST_REPLY_H

#include "routes.h"

#include <h2o.h>
#include <stdint.h>

/* Sends the response to `req` for the reply envelope in `data`; a reply
 * that is not a valid envelope, or not UTF-8, is a 502. */
void reply_render(h2o_req_t *req, const route_t *route, const char *rid, const uint8_t *data, size_t len);

#endif
