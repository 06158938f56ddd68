/* REST resources /api/v1/users and /api/v1/auth -> users service ops. */
#include "routes.h"

const route_t routes_users[] = {
    {"POST", "/api/v1/auth/token", "users.login", ROUTE_BODY_JSON, ROUTE_NO_WRITE_LIMIT},
    {"POST", "/api/v1/auth/logout", "users.logout", ROUTE_BODY_NONE, 0},
    {"POST", "/api/v1/auth/logout-all", "users.logout_all", ROUTE_BODY_NONE, 0},
    {"POST", "/api/v1/users", "users.create", ROUTE_BODY_JSON, ROUTE_LOCATION | ROUTE_ETAG},
    {"GET", "/api/v1/users", "users.list", ROUTE_BODY_NONE, ROUTE_PAGINATED},
    /* before /users/{id}: the first matching row wins */
    {"GET", "/api/v1/users/me", "users.me", ROUTE_BODY_NONE, ROUTE_ETAG},
    {"GET", "/api/v1/users/{id}", "users.get", ROUTE_BODY_NONE, ROUTE_ETAG},
    {"PATCH", "/api/v1/users/{id}", "users.update", ROUTE_BODY_JSON, ROUTE_ETAG},
    {NULL},
};
