/* REST resources /api/v1/properties (with rooms and photos), /media and /api/v1/cities -> properties service ops. */
#include "routes.h"

const route_t routes_properties[] = {
    {"POST", "/api/v1/properties", "properties.create", ROUTE_BODY_JSON, ROUTE_LOCATION | ROUTE_ETAG},
    {"POST", "/api/v1/properties", "properties.create_many", ROUTE_BODY_JSON,
     ROUTE_BULK}, /* a JSON array: 207, one result each */
    {"GET", "/api/v1/properties", "properties.list", ROUTE_BODY_NONE, ROUTE_PAGINATED},
    {"GET", "/api/v1/properties/{id}", "properties.get", ROUTE_BODY_NONE, ROUTE_ETAG},
    {"PATCH", "/api/v1/properties/{id}", "properties.update", ROUTE_BODY_JSON, ROUTE_ETAG},
    {"DELETE", "/api/v1/properties/{id}", "properties.delete", ROUTE_BODY_NONE, ROUTE_FORGETS_MEDIA},
    {"POST", "/api/v1/properties/{id}/rooms", "properties.rooms.add", ROUTE_BODY_JSON, ROUTE_ETAG},
    {"PATCH", "/api/v1/properties/{id}/rooms/{room_id}", "properties.rooms.update", ROUTE_BODY_JSON, ROUTE_ETAG},
    {"DELETE", "/api/v1/properties/{id}/rooms/{room_id}", "properties.rooms.delete", ROUTE_BODY_NONE, ROUTE_ETAG},
    {"POST", "/api/v1/properties/{id}/media", "properties.media.add", ROUTE_BODY_MEDIA, ROUTE_LOCATION},
    {"GET", "/api/v1/properties/{id}/media", "properties.media.list", ROUTE_BODY_NONE, 0},
    {"GET", "/api/v1/properties/{id}/media/{mid}", "properties.media.get", ROUTE_BODY_NONE, 0},
    {"PATCH", "/api/v1/properties/{id}/media/{mid}", "properties.media.update", ROUTE_BODY_JSON, 0},
    {"DELETE", "/api/v1/properties/{id}/media/{mid}", "properties.media.delete", ROUTE_BODY_NONE, ROUTE_FORGETS_MEDIA},
    {"GET", "/media/{mid}", "properties.media.read", ROUTE_BODY_NONE, ROUTE_MEDIA},
    {"GET", "/api/v1/cities", "properties.cities", ROUTE_BODY_NONE, 0},
    {NULL},
};
