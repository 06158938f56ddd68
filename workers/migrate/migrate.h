/*
 * The migration runner (`roostctl migrate`) and the check a worker makes
 * before serving a service (migrate/migration.h says what a migration is).
 * A service is named by its name (its database is ROOST_DB_PREFIX + name)
 * and its migrations, in order, ending with {0}.
 *
 * Each service's database holds:
 *   migrations       one record per version applied or under way:
 *                    {_id: version, name, checksum: "sha256:<hex>",
 *                     state: "applied" | "applying" | "failed" | "reverting",
 *                     applied_at: date (when applied), started_at: date,
 *                     progress: {...} (the step's own), error: string,
 *                     attempts: int, by: "host:pid"}
 *                    A reverted version's record is deleted.
 *   migration_locks  who runs migrations now: {_id: generation, by, token,
 *                    expires_at: date, released: bool}. A runner holds the
 *                    database by inserting the next generation: the unique
 *                    _id decides between concurrent runners (no update
 *                    decides a race: the embedded database's conditional
 *                    updates are not atomic). A generation is free once
 *                    released or past expires_at (its runner died); the
 *                    holder renews it at every saved step
 *                    (ROOST_MIGRATE_LEASE_S, default 60).
 *   migration_log    one entry per step run: {version, name, direction:
 *                    "up" | "down", outcome: "done" | "failed", error, at,
 *                    by, resumed: bool}.
 *
 * Hosts that run migrations must agree on the time within the lease.
 */
#ifndef ROOST_MIGRATE_H
#define ROOST_MIGRATE_H

#include "migrate/migration.h"

#include <stdio.h>

/* "sha256:<64 hex>" of what defines `m`: its version, name, and each
 * index's collection, name, keys and uniqueness, or its definition. */
void migrate_checksum(const svc_migration_t *m, char out[80]);

/* How many versions `migrations` has (its last version's number). */
int migrate_count(const svc_migration_t *migrations);

/* Prints `service`'s versions and their state to `out`. Returns 0 when the
 * database has every version applied, unchanged; 1 when some are pending,
 * failed, under way or changed since applied; 2 when the database failed
 * (error set). */
int migrate_status(mongoc_client_t *mongo, const char *service, const svc_migration_t *migrations, FILE *out,
                   bson_error_t *error);

/* Applies `service`'s pending versions up to `target` (0: the last) in
 * order, resuming one left failed or under way, and waits (at most
 * ROOST_MIGRATE_WAIT_S, default 600) while another runner holds the
 * database. Prints each step to `out`. False (error set) on any failure:
 * what was applied stays applied, the failed version keeps its progress. */
bool migrate_up(mongoc_client_t *mongo, const char *service, const svc_migration_t *migrations, int target, FILE *out,
                bson_error_t *error);

/* Reverts `service`'s versions above `target` (>= 0; -1: the newest one
 * only), applied or left halfway, newest first, as migrate_up does the
 * other way. */
bool migrate_down(mongoc_client_t *mongo, const char *service, const svc_migration_t *migrations, int target, FILE *out,
                  bson_error_t *error);

typedef enum {
    MIGRATE_CURRENT, /* every version this binary knows is applied */
    MIGRATE_BEHIND,  /* some are not: `why` names the command to run */
    MIGRATE_ERROR,   /* the database failed: error set */
} migrate_check_t;

/* What a worker asks before serving `service`: whether its database has
 * every version this binary knows applied. A version applied with another
 * checksum counts as applied (logged once): `migrate status` reports it. */
migrate_check_t migrate_check(mongoc_client_t *mongo, const char *service, const svc_migration_t *migrations, char *why,
                              size_t why_len, bson_error_t *error);

#endif
