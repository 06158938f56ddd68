/*
 * Whether each service's database has the migrations this binary needs,
 * as a worker sees it: migrate_check, remembered for a few seconds so that
 * a request does not read the records every time.
 */
#ifndef ROOST_RUNTIME_SCHEMA_H
#define ROOST_RUNTIME_SCHEMA_H

#include "migrate/migrate.h"

#include <stddef.h>

/* Whether the database of service `s` (index in svc_services) has every
 * migration this binary needs; when not, `why` says so and names the
 * command. MIGRATE_ERROR with `error` when it could not be read. */
migrate_check_t schema_check(size_t s, mongoc_client_t *mongo, char *why, size_t why_len, bson_error_t *error);

/* Readiness (sys.health): whether the database of every service (served
 * here or not: /readyz reaches one pool) has each migration the binary
 * needs. When one is behind, `why` names it and the command to run (empty
 * when all are current). False, with `error`, when a database could not be read. */
bool schema_ready(mongoc_client_t *mongo, char *why, size_t why_len, bson_error_t *error);

#endif
