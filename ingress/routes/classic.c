/*
 * The classic listings/users contract that existing clients speak: service
 * endpoints with form bodies, the public API with JSON bodies,
 * {"result": false, "errors": [...]} errors (ROUTE_CLASSIC), and on the
 * routes whose contract has it the success envelope {"result": true, ...}
 * (ROUTE_RESULT). The ops answer only their bodies: the contract's
 * envelopes are the ingress's (reply.c, problem.c).
 */
#include "routes.h"

const route_t routes_classic[] = {
    {"GET", "/listings", "listings.classic_list", ROUTE_BODY_NONE, ROUTE_CLASSIC | ROUTE_RESULT},
    {"POST", "/listings", "listings.classic_create", ROUTE_BODY_FORM, ROUTE_CLASSIC | ROUTE_RESULT},
    {"GET", "/users", "users.classic_list", ROUTE_BODY_NONE, ROUTE_CLASSIC | ROUTE_RESULT},
    {"POST", "/users", "users.classic_create", ROUTE_BODY_FORM, ROUTE_CLASSIC | ROUTE_RESULT},
    {"GET", "/users/{id}", "users.classic_get", ROUTE_BODY_NONE, ROUTE_CLASSIC | ROUTE_RESULT},
    {"GET", "/public-api/listings", "listings.public_list", ROUTE_BODY_NONE, ROUTE_CLASSIC | ROUTE_RESULT},
    {"POST", "/public-api/users", "users.public_create", ROUTE_BODY_JSON, ROUTE_CLASSIC},
    {"POST", "/public-api/listings", "listings.public_create", ROUTE_BODY_JSON, ROUTE_CLASSIC},
    {NULL},
};
