/*
 * The classic listings/users contract that existing clients speak: service
 * endpoints with form bodies, the public API with JSON bodies, and
 * {"result": false, "errors": [...]} errors (ROUTE_CLASSIC).
 */
#include "routes.h"

const route_t routes_classic[] = {
    {"GET", "/listings", "listings.classic_list", ROUTE_BODY_NONE, ROUTE_CLASSIC},
    {"POST", "/listings", "listings.classic_create", ROUTE_BODY_FORM, ROUTE_CLASSIC},
    {"GET", "/users", "users.classic_list", ROUTE_BODY_NONE, ROUTE_CLASSIC},
    {"POST", "/users", "users.classic_create", ROUTE_BODY_FORM, ROUTE_CLASSIC},
    {"GET", "/users/{id}", "users.classic_get", ROUTE_BODY_NONE, ROUTE_CLASSIC},
    {"GET", "/public-api/listings", "listings.public_list", ROUTE_BODY_NONE, ROUTE_CLASSIC},
    {"POST", "/public-api/users", "users.public_create", ROUTE_BODY_JSON, ROUTE_CLASSIC},
    {"POST", "/public-api/listings", "listings.public_create", ROUTE_BODY_JSON, ROUTE_CLASSIC},
    {NULL},
};
