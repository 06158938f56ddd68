/* REST resource /api/v1/listings -> listings service ops. */
#include "routes.h"

const route_t routes_listings[] = {
    {"POST", "/api/v1/listings", "listings.create", ROUTE_BODY_JSON, ROUTE_LOCATION | ROUTE_ETAG},
    {"POST", "/api/v1/listings", "listings.create_many", ROUTE_BODY_JSON,
     ROUTE_BULK}, /* a JSON array: 207, one result each */
    {"GET", "/api/v1/listings", "listings.list", ROUTE_BODY_NONE, ROUTE_PAGINATED},
    {"GET", "/api/v1/listings/facets", "listings.facets", ROUTE_BODY_NONE, 0},
    {"GET", "/api/v1/listings/{id}", "listings.get", ROUTE_BODY_NONE, ROUTE_ETAG},
    {"PATCH", "/api/v1/listings/{id}", "listings.update", ROUTE_BODY_JSON, ROUTE_ETAG},
    {"DELETE", "/api/v1/listings/{id}", "listings.delete", ROUTE_BODY_NONE, 0},
    {NULL},
};
