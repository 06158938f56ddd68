/* The places service: named places (unique name) with a country, in the
 * database <prefix>places. Its people come from the users service over nng. */
#ifndef ROOST_PLACES_H
#define ROOST_PLACES_H

#include "service.h"

extern const svc_service_t places_service;

#endif
