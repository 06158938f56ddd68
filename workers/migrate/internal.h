/*
 * What the parts of the migration runner share (records.c, lease.c,
 * runner.c, status.c, check.c); the public face is migrate/migrate.h.
 */
#ifndef ROOST_MIGRATE_INTERNAL_H
#define ROOST_MIGRATE_INTERNAL_H

#include "migrate/migrate.h"

#include <stdio.h>

#define MIGRATE_MAX 64 /* versions a service may have */

/* What the database says of one version. */
typedef struct {
    bool present;
    bson_t doc;
    char state[16], direction[8], checksum[80];
} migrate_record_t;

/* A runner holding a service's database (migrate_lock). */
typedef struct {
    mongoc_client_t *mongo;
    const char *service;
    const svc_migration_t *migrations;
    FILE *out;
    int64_t generation; /* the lock held; 0 when none */
    int64_t lease_ms;
    int64_t held_until; /* the lease as this runner last set it (wall-clock ms) */
    int version;        /* the version being run */
    char by[128];
} migrate_runner_t;

/* --- records.c ------------------------------------------------------------ */

/* Wall-clock ms (BSON dates, leases shared between hosts). */
int64_t migrate_now_ms(void);
/* The string `key` of `doc` into `out` (empty when it is none). */
void migrate_copy_str(const bson_t *doc, const char *key, char *out, size_t len);
/* The date `key` of `doc` as ISO 8601 UTC into `out` (empty when it is none). */
void migrate_date(const bson_t *doc, const char *key, char *out, size_t len);
/* Reads every record of `service` into `rec` (by version, 1..MIGRATE_MAX);
 * *highest is the highest version recorded. Free with migrate_free. */
bool migrate_load(mongoc_client_t *mongo, const char *service, migrate_record_t *rec, int *highest,
                  bson_error_t *error);
void migrate_free(migrate_record_t *rec);
bool migrate_applied(const migrate_record_t *r);
/* The highest version with every version up to it applied. */
int migrate_at(const migrate_record_t *rec);

/* --- lease.c -------------------------------------------------------------- */

/* Takes the database for `r`, waiting (ROOST_MIGRATE_WAIT_S) while another holds it. */
bool migrate_lock(migrate_runner_t *r, bson_error_t *error);
/* Renews the lease (or releases it), after checking nobody took the database over. */
bool migrate_renew(migrate_runner_t *r, bool release, bson_error_t *error);
/* One entry of migration_log. */
bool migrate_log(migrate_runner_t *r, const svc_migration_t *m, const char *direction, bool done, bool resumed,
                 const bson_error_t *failure);
/* Writes the record of `m` whole, or deletes it (`record` NULL), while holding. */
bool migrate_write(migrate_runner_t *r, const svc_migration_t *m, const bson_t *record, bson_error_t *error);

#endif
