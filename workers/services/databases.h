/* The services that keep data, each with the migrations of its own
 * database: what `roostctl migrate` applies and what a worker checks before
 * it serves a service. Apart from the services table (runtime/services.c) so
 * that roostctl links the migrations without any handler. */
#ifndef ROOST_SERVICES_DATABASES_H
#define ROOST_SERVICES_DATABASES_H

#include "migrate/migration.h"

typedef struct {
    const char *service;               /* also the database name, after ROOST_DB_PREFIX */
    const svc_migration_t *migrations; /* in order, ending with {0} */
} svc_database_t;

/* One row per service with data, ending with {NULL, NULL}. */
extern const svc_database_t svc_databases[];

/* The migrations of `service`'s database; NULL for a service that keeps
 * no data (sys) or a name that is no service. */
const svc_migration_t *svc_migrations_of(const char *service);

#endif
