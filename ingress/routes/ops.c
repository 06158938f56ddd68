/* Operational routes (probes, a round trip through a worker, the contract)
 * and the pages people look at: the browse page and the API docs. */
#include "routes.h"

const route_t routes_ops[] = {
    {"GET", "/healthz", "healthz", ROUTE_BODY_NONE, ROUTE_LOCAL},
    {"GET", "/metrics", "metrics", ROUTE_BODY_NONE, ROUTE_LOCAL},
    {"GET", "/openapi.json", "openapi", ROUTE_BODY_NONE, ROUTE_LOCAL},
    {"GET", "/", "page.browse", ROUTE_BODY_NONE, ROUTE_LOCAL},
    {"GET", "/docs", "page.docs", ROUTE_BODY_NONE, ROUTE_LOCAL},
    {"GET", "/readyz", "sys.health", ROUTE_BODY_NONE, ROUTE_READINESS},
    /* ingress -> nng -> worker -> back, no database: what the pool path alone costs. */
    {"GET", "/ping", "sys.ping", ROUTE_BODY_NONE, 0},
    {NULL},
};
