/* Places service handlers (to be written). */
#include "places.h"

static const svc_op_t places_ops[] = {
    {NULL, NULL},
};

const svc_service_t places_service = {.name = "places", .ops = places_ops, .prepare = NULL};
