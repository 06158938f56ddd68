/*
 * The lowest door to a service's own database, under both the migration
 * runner and the sdk's store: a collection by service and name (the one
 * place that applies ROOST_DB_PREFIX), index creation, and which errors
 * are a unique index at work.
 */
#ifndef ROOST_MIGRATE_DATABASE_H
#define ROOST_MIGRATE_DATABASE_H

#include "migrate/migration.h"

#include <mongoc/mongoc.h>
#include <stdbool.h>

/* The collection `name` of `service`'s own database; caller destroys it. */
mongoc_collection_t *svc_collection(mongoc_client_t *mongo, const char *service, const char *name);

/* `service`'s own database (for its GridFS buckets); caller destroys it. */
mongoc_database_t *svc_database(mongoc_client_t *mongo, const char *service);

/* True when `error` is a duplicate-key violation of a unique index. */
bool svc_is_duplicate(const bson_error_t *error);

/* Creates each of `count` indexes of `service` that is missing, one
 * command each; stops at the first failure. */
bool svc_ensure_indexes(mongoc_client_t *mongo, const char *service, const svc_index_t *indexes, size_t count,
                        bson_error_t *error);

#endif
