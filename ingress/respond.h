/*
 * Every response the ingress sends: the request id, RFC 8288 Link headers,
 * CORS headers, content coding, and errors in the route's shape (their
 * bodies are problem.h's; h2o's own errors get them in filter.h).
 *
 * A 429 or 503 error always carries Retry-After (one second unless set).
 *
 * The Link builder is pure and unit-tested; the respond_* senders must be
 * called on the request's own loop thread.
 */
#ifndef ROOST_RESPOND_H
#define ROOST_RESPOND_H

#include "envelope.h"

#include <bson/bson.h>
#include <h2o.h>
#include <stdbool.h>

/* Whether a client's X-Request-Id may be used as the request id: 1 to
 * ENVELOPE_RID_MAX characters of A-Z a-z 0-9 - _ . */
bool respond_rid_acceptable(const char *v, size_t len);

/*
 * The RFC 8288 Link value of a page: first, prev, next, last, each the
 * request's path with its other query parameters kept as sent and page /
 * per_page set. NULL when the numbers are not a page. bson_free it.
 */
char *respond_link_value(const char *path, size_t path_len, const char *query, size_t query_len, int64_t page,
                         int64_t per_page, int64_t total);

/* The request id: the client's X-Request-Id when it sent one, else a new
 * one. False (and a new one in `out`, for the error) when the client's id
 * is not acceptable (respond_rid_acceptable): the request is then refused,
 * never run under another id, since the id is its idempotency key. */
bool respond_request_id(h2o_req_t *req, char out[ENVELOPE_RID_MAX + 1]);

/* Adds a response header, copying the value into the request's pool. */
void respond_header(h2o_req_t *req, const h2o_token_t *token, const char *value, size_t len);

/* OData-Version: 4.0 (OData Part 1 §8.1.5), on every response of the RESO routes. */
void respond_odata_version(h2o_req_t *req);

/* WWW-Authenticate: Bearer realm="roost", error="invalid_token",
 * error_description="..." (RFC 6750 §3); `description` may be NULL (no
 * error) and loses any '"' or '\\', which a quoted-string here may not hold. */
void respond_bearer_challenge(h2o_req_t *req, const char *description);

/* The CORS headers of an actual (not preflight) request, when its origin is allowed. */
void respond_cors(h2o_req_t *req);

/* Sets RateLimit-Policy and RateLimit (ratelimit.h) for these limit states. */
void respond_rate_limit(h2o_req_t *req, const envelope_rate_limit_t *states, size_t n);

/*
 * Sends `body` (copied) as the whole response with its Content-Type, the
 * X-Request-Id, CORS headers and, for a large body and a client that
 * accepts it, br or gzip content coding.
 */
void respond_body(h2o_req_t *req, int status, const char *content_type, const char *rid, const char *body, size_t len);

/* Sends `len` bytes at `data` as the body, uncopied (they must live as
 * long as the request: a photo held until its pool is freed) and never
 * content-coded (a photo is compressed already), with the request id and
 * CORS headers; a HEAD gets the headers and the length alone. */
void respond_bytes(h2o_req_t *req, int status, const char *content_type, const char *rid, const uint8_t *data,
                   size_t len);
/* A response without a body (204, 304), with the request id and CORS headers. */
void respond_empty(h2o_req_t *req, int status, const char *rid);

/* An error in the shape of the route, from its flags (`shape`): the
 * classic envelope with ROUTE_CLASSIC, an OData error object with
 * ROUTE_ODATA (problem.h), problem+json otherwise (0). `fields`
 * (a BSON array of {field, message}) may be NULL. */
void respond_error(h2o_req_t *req, unsigned shape, const char *rid, int status, const char *code, const char *detail,
                   const bson_t *fields);

/* From now on every response asks to close its connection (graceful stop). */
void respond_drain(void);

#endif
