/* Stays: availability and bookings of properties -> bookings service ops. */
#include "routes.h"

const route_t routes_bookings[] = {
    {"GET", "/api/v1/properties/{id}/availability", "bookings.availability", ROUTE_AUTH_NONE, ROUTE_BODY_NONE, 0},
    {"POST", "/api/v1/properties/{id}/bookings", "bookings.create", ROUTE_AUTH_REQUIRED, ROUTE_BODY_JSON, 0},
    {"GET", "/api/v1/properties/{id}/bookings", "bookings.for_property", ROUTE_AUTH_REQUIRED, ROUTE_BODY_NONE,
     ROUTE_PAGINATED},
    {"GET", "/api/v1/bookings/{id}", "bookings.get", ROUTE_AUTH_REQUIRED, ROUTE_BODY_NONE, 0},
    {"POST", "/api/v1/bookings/{id}/cancel", "bookings.cancel", ROUTE_AUTH_REQUIRED, ROUTE_BODY_NONE, 0},
    {"GET", "/api/v1/users/me/bookings", "bookings.mine", ROUTE_AUTH_REQUIRED, ROUTE_BODY_NONE, ROUTE_PAGINATED},
    {NULL},
};
