/* Stays: availability and bookings of properties -> bookings service ops. */
#include "routes.h"

const route_t routes_bookings[] = {
    {"GET", "/api/v1/properties/{id}/availability", "bookings.availability", ROUTE_BODY_NONE, 0},
    {"POST", "/api/v1/properties/{id}/bookings", "bookings.create", ROUTE_BODY_JSON, 0},
    {"GET", "/api/v1/properties/{id}/bookings", "bookings.for_property", ROUTE_BODY_NONE, ROUTE_PAGINATED},
    {"GET", "/api/v1/bookings/{id}", "bookings.get", ROUTE_BODY_NONE, 0},
    {"POST", "/api/v1/bookings/{id}/cancel", "bookings.cancel", ROUTE_BODY_NONE, 0},
    {"GET", "/api/v1/users/me/bookings", "bookings.mine", ROUTE_BODY_NONE, ROUTE_PAGINATED},
    {NULL},
};
