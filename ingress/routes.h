/*
 * The ingress routing table: method + path pattern -> nng op, with what
 * the route needs (auth, body kind) and how its reply is rendered. Each
 * REST resource lists its rows in its own file under routes/; routes.c joins
 * them. Adding a route is adding a row.
 */
#ifndef ROOST_ROUTES_H
#define ROOST_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ROUTE_BODY_MEDIA: a photo, the image itself or a multipart/form-data
 * form, sent on in pieces (upload.h), up to ROOST_MAX_MEDIA_BYTES. */
typedef enum { ROUTE_BODY_NONE, ROUTE_BODY_JSON, ROUTE_BODY_FORM, ROUTE_BODY_MEDIA } route_body_t;

#define ROUTE_PAGINATED 0x1 /* a 200 reply carries page/per_page/total: add a Link header */
#define ROUTE_LOCATION 0x2  /* a 201 reply's body.id names the new resource under this path */
#define ROUTE_LOCAL 0x4     /* answered by the ingress itself, no op is sent */
#define ROUTE_READINESS 0x8 /* renders the op's outcome as a readiness probe */
#define ROUTE_ETAG 0x10     /* a 2xx reply's body.version becomes the ETag header */
#define ROUTE_CLASSIC 0x20  /* the classic contract: errors are {"result": false, "errors": [...]} */
#define ROUTE_RESULT 0x40   /* the classic contract's success envelope: {"result": true, ...the op's body} */
/* The array-body twin of the row with the same method and pattern: chosen,
 * instead of it, when the JSON body is an array (sent as {items: [...]});
 * never matched by method and path alone (routes_bulk). */
#define ROUTE_BULK 0x80
/* The OData JSON format (the RESO Web API): errors are OData error objects
 * {"error": {"code", "message", "details"}}, and responses carry
 * OData-Version: 4.0. */
#define ROUTE_ODATA 0x100
/* A write the ingress does not count against the write limits: the login,
 * which the users service limits itself (per username and address). */
#define ROUTE_NO_WRITE_LIMIT 0x200
/* A photo's bytes, answered by media.h from its cache or from reads of the op. */
#define ROUTE_MEDIA 0x400
/* A delete that ends photo params.mid, or property params.id's photos:
 * the ingress's cache forgets them first. */
#define ROUTE_FORGETS_MEDIA 0x800

/* The error shape a route's flags state: ROUTE_CLASSIC, ROUTE_ODATA or 0
 * (problem+json); problem.h renders each. */
static inline unsigned
route_error_shape(unsigned flags)
{
    return flags & (ROUTE_CLASSIC | ROUTE_ODATA);
}

/* The length of a request target's path, without its query (`query_at`:
 * where '?' is, SIZE_MAX when there is none: h2o's convention). */
static inline size_t
route_path_len(size_t target_len, size_t query_at)
{
    return query_at != SIZE_MAX ? query_at : target_len;
}

typedef struct {
    const char *method;
    const char *pattern; /* "/api/v1/users/{id}": a {name} captures one segment */
    const char *op;      /* nng op, or a local name for ROUTE_LOCAL */
    route_body_t body;
    unsigned flags;
} route_t;

#define ROUTE_MAX_PARAMS 4

typedef struct {
    const route_t *route;
    size_t nparams;
    struct {
        const char *name; /* points into the pattern */
        size_t name_len;
        const char *value; /* points into the path */
        size_t value_len;
    } params[ROUTE_MAX_PARAMS];
    char allow[64];      /* on ROUTE_BAD_METHOD: the methods the path accepts */
    unsigned path_flags; /* on ROUTE_BAD_METHOD: the flags of the path's routes, e.g. ROUTE_CLASSIC */
} route_match_t;

typedef enum { ROUTE_FOUND, ROUTE_NOT_FOUND, ROUTE_BAD_METHOD } route_result_t;

/* Whether `path` lies under the RESO Web API's root (/reso/odata): its
 * unknown routes answer in the OData shape too. */
bool routes_odata_path(const char *path, size_t len);

/* The ROUTE_BULK twin of `route`, or NULL when it takes no array body. */
const route_t *routes_bulk(const route_t *route);

/* Finds the route for a request. HEAD matches GET routes. */
route_result_t routes_match(const char *method, size_t method_len, const char *path, size_t path_len, route_match_t *m);

/* Every route, for tests and docs: calls `fn` once per row. */
void routes_each(void (*fn)(const route_t *route, void *arg), void *arg);

/* The resources' rows (one file per resource in routes/), each terminated by a row with method NULL. */
extern const route_t routes_ops[];
extern const route_t routes_users[];
extern const route_t routes_properties[];
extern const route_t routes_places[];
extern const route_t routes_listings[];
extern const route_t routes_classic[];
extern const route_t routes_bookings[];
extern const route_t routes_reso[];

#endif
