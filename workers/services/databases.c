/* The table of services with data and their migrations (databases.h):
 * adding a service that keeps data is one row. */
#include "services/databases.h"
#include "services/bookings/bookings.h"
#include "services/listings/listings.h"
#include "services/places/places.h"
#include "services/properties/properties.h"
#include "services/users/users.h"

#include <string.h>

const svc_database_t svc_databases[] = {
    {"users", users_migrations},       {"properties", properties_migrations}, {"places", places_migrations},
    {"listings", listings_migrations}, {"bookings", bookings_migrations},     {NULL, NULL},
};

const svc_migration_t *
svc_migrations_of(const char *service)
{
    for (const svc_database_t *d = svc_databases; d->service != NULL; d++)
        if (strcmp(d->service, service) == 0)
            return d->migrations;
    return NULL;
}
