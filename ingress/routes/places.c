/* REST resource /api/v1/places -> places service ops. */
#include "routes.h"

const route_t routes_places[] = {
    {"POST", "/api/v1/places", "places.create", ROUTE_BODY_JSON, ROUTE_LOCATION},
    {"GET", "/api/v1/places", "places.list", ROUTE_BODY_NONE, ROUTE_PAGINATED},
    {"GET", "/api/v1/places/{id}", "places.get", ROUTE_BODY_NONE, 0},
    {NULL},
};
