/* The table of services a worker serves: adding a service is one row. */
#include "service.h"
#include "sys/sys.h"
#include "users/users.h"
#include "properties/properties.h"

const svc_service_t *const svc_services[] = {
    &sys_service,
    &users_service,
    &properties_service,
    NULL,
};
