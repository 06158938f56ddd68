/* Operational routes: liveness and readiness probes. */
#include "routes.h"

const route_t routes_ops[] = {
    {"GET", "/healthz", "healthz", ROUTE_AUTH_NONE, ROUTE_BODY_NONE, ROUTE_LOCAL},
    {"GET", "/readyz", "sys.health", ROUTE_AUTH_NONE, ROUTE_BODY_NONE, ROUTE_READINESS},
    {NULL},
};
