/* The table of services a worker serves: adding a service is one row. */
#include "runtime/services.h"
#include "config.h"
#include "log.h"
#include "services/bookings/bookings.h"
#include "services/listings/listings.h"
#include "services/places/places.h"
#include "services/properties/properties.h"
#include "services/users/users.h"

#include <string.h>

const svc_service_t *const svc_services[] = {
    &sys_service, &users_service, &properties_service, &places_service, &listings_service, &bookings_service, NULL,
};

#define SERVICES_MAX 32
static bool services_served[SERVICES_MAX]; /* by index in svc_services */

bool
services_select(void)
{
    const char *list = cfg_str("ROOST_SERVICES", NULL);
    for (size_t s = 0; svc_services[s] != NULL && s < SERVICES_MAX; s++)
        services_served[s] = list == NULL || strcmp(svc_services[s]->name, "sys") == 0;
    while (list != NULL && *list) {
        const char *comma = strchr(list, ',');
        size_t len = comma ? (size_t)(comma - list) : strlen(list);
        bool known = false;
        for (size_t s = 0; svc_services[s] != NULL && s < SERVICES_MAX; s++)
            if (strlen(svc_services[s]->name) == len && strncmp(svc_services[s]->name, list, len) == 0)
                services_served[s] = known = true;
        if (!known && len > 0) {
            log_error("ROOST_SERVICES names '%.*s', which is no service", (int)len, list);
            return false;
        }
        list = comma ? comma + 1 : list + len;
    }
    return true;
}

const svc_op_t *
services_find_op(const char *op, size_t *service_index)
{
    for (size_t s = 0; svc_services[s] != NULL && s < SERVICES_MAX; s++)
        for (const svc_op_t *o = svc_services[s]->ops; o->op != NULL && services_served[s]; o++)
            if (strcmp(o->op, op) == 0) {
                *service_index = s;
                return o;
            }
    return NULL;
}
