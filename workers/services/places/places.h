/* The places service: named places (unique name) with a country, in the
 * database <prefix>places. Its people come from the users service over nng. */
#ifndef ROOST_PLACES_H
#define ROOST_PLACES_H

#include "sdk/service.h"

extern const svc_service_t places_service;
/* The versions of the places database, {0}-terminated (migrations.c). */
extern const svc_migration_t places_migrations[];

#endif
