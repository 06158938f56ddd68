/* The table of services a worker serves: adding a service is one row. */
#include "service.h"
#include "sys/sys.h"
#include "users/users.h"
#include "properties/properties.h"
#include "places/places.h"
#include "listings/listings.h"
#include "bookings/bookings.h"

const svc_service_t *const svc_services[] = {
    &sys_service, &users_service, &properties_service, &places_service, &listings_service, &bookings_service, NULL,
};
