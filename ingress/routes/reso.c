/* The RESO Web API (docs/reso.md), read only, in the OData JSON format: the
 * service document and $metadata (answered by the ingress: reso-metadata.xml
 * is compiled in), the Property entity set (listings.reso) and the Media
 * entity set (listings.reso_media). */
#include "routes.h"

const route_t routes_reso[] = {
    {"GET", "/reso/odata", "reso.service", ROUTE_BODY_NONE, ROUTE_LOCAL | ROUTE_ODATA},
    {"GET", "/reso/odata/$metadata", "reso.metadata", ROUTE_BODY_NONE, ROUTE_LOCAL | ROUTE_ODATA},
    {"GET", "/reso/odata/Property", "listings.reso", ROUTE_BODY_NONE, ROUTE_ODATA},
    {"GET", "/reso/odata/Media", "listings.reso_media", ROUTE_BODY_NONE, ROUTE_ODATA},
    {NULL},
};
