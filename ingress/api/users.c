/* REST resource /api/v1/users -> users service ops. */
#include "routes.h"

const route_t routes_users[] = {
    {"POST", "/api/v1/users", "users.create", ROUTE_AUTH_NONE, ROUTE_BODY_JSON, ROUTE_LOCATION},
    {"GET", "/api/v1/users", "users.list", ROUTE_AUTH_NONE, ROUTE_BODY_NONE, ROUTE_PAGINATED},
    {"GET", "/api/v1/users/{id}", "users.get", ROUTE_AUTH_NONE, ROUTE_BODY_NONE, 0},
    {NULL},
};
