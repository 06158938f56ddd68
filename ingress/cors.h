/*
 * Cross-origin requests (CORS, the Fetch standard §3.2): which origins may
 * call Roost from a browser, and what a preflight may ask for: pure
 * decisions, unit-tested, and the preflight's answer (cors_preflight);
 * respond.c adds the headers of actual requests.
 *
 * ROOST_CORS_ORIGINS is a comma list of origins ("https://app.example",
 * "http://localhost:5173"), or "*" for any origin; empty (the default)
 * disables CORS: no response carries Access-Control-* headers.
 *
 * Credentials: Roost authenticates with bearer tokens in the Authorization
 * header, never cookies, so it never sends Access-Control-Allow-Credentials;
 * a browser app sends fetch(url, {headers: {Authorization: ...}}) in the
 * default credentials mode, which works with a listed origin and with "*".
 */
#ifndef ROOST_CORS_H
#define ROOST_CORS_H

#include "routes.h"

#include <h2o.h>
#include <stdbool.h>
#include <stddef.h>

/* Request headers a preflight may ask for, beyond the CORS-safelisted ones:
 * every header a documented client sends (a bearer token, JSON bodies, the
 * conditional headers, the request id, and an OData client's version and
 * preference headers). */
#define CORS_ALLOW_HEADERS                                                                                             \
    "Authorization, Content-Type, If-Match, If-None-Match, X-Request-Id, OData-Version, OData-MaxVersion, Prefer"
/* Response headers a browser app may read, beyond the safelisted ones:
 * every header a documented client reads. */
#define CORS_EXPOSE_HEADERS                                                                                            \
    "ETag, Link, Location, RateLimit, RateLimit-Policy, Retry-After, WWW-Authenticate, X-Request-Id, OData-Version"
/* How long a browser may cache a preflight answer, in seconds. */
#define CORS_MAX_AGE "600"

typedef struct {
    bool enabled; /* ROOST_CORS_ORIGINS is not empty */
    bool any;     /* "*" */
    size_t count;
    char **origins; /* lowercased "scheme://host[:port]" */
} cors_config_t;

/*
 * Parses an allow-list. Each origin is "scheme://host" with an optional
 * ":port", no path, compared case-insensitively. Returns false and points
 * *bad at the first entry that is not one (for a start-up error).
 */
bool cors_parse(const char *spec, cors_config_t *out, const char **bad);

/* Frees what cors_parse allocated. */
void cors_free(cors_config_t *c);

/* The process's configuration, from ROOST_CORS_ORIGINS; a bad value is
 * reported and the program exits, like every other setting. */
const cors_config_t *cors_config(void);

/* Whether `origin` (an Origin header value) may make cross-origin requests. */
bool cors_origin_allowed(const cors_config_t *c, const char *origin, size_t len);

/* Whether every name of an Access-Control-Request-Headers list is allowed
 * (CORS_ALLOW_HEADERS or safelisted). */
bool cors_headers_allowed(const char *list, size_t len);

/*
 * OPTIONS on a known path (RFC 9110 §9.3.7): 204 with Allow. With an Origin
 * and Access-Control-Request-Method it is a CORS preflight (Fetch §3.2.2):
 * an allowed origin asking for one of the path's methods and allowed
 * headers gets the Access-Control-Allow-* answer; any other preflight is
 * refused with a 403 that says why. On the request's loop thread.
 */
void cors_preflight(h2o_req_t *req, const char *rid, const route_match_t *m);

#endif
