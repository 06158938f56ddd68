/* The RESO Web API (docs/reso.md), read only, in the OData JSON format: the
 * service document and $metadata (answered by the ingress: reso-metadata.xml
 * is compiled in) and the Property entity set (listings.reso). */
#include "routes.h"

const route_t routes_reso[] = {
    {"GET", "/reso/odata", "reso.service", ROUTE_BODY_NONE, ROUTE_LOCAL | ROUTE_ODATA},
    {"GET", "/reso/odata/$metadata", "reso.metadata", ROUTE_BODY_NONE, ROUTE_LOCAL | ROUTE_ODATA},
    {"GET", "/reso/odata/Property", "listings.reso", ROUTE_BODY_NONE, ROUTE_ODATA},
    {NULL},
};
