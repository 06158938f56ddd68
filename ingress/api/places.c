/* REST resource /api/v1/places -> places service ops (to be written). */
#include "routes.h"

const route_t routes_places[] = {
    {NULL},
};
