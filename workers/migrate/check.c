/* What a worker asks before serving a service: is its database at the
 * version this binary needs? */
#include "migrate/internal.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

migrate_check_t
migrate_check(mongoc_client_t *mongo, const char *service, const svc_migration_t *migrations, char *why, size_t why_len,
              bson_error_t *error)
{
    int n = migrate_count(migrations), highest;
    migrate_record_t *rec = calloc(MIGRATE_MAX + 1, sizeof(*rec));
    if (!migrate_load(mongo, service, rec, &highest, error)) {
        free(rec);
        return MIGRATE_ERROR;
    }
    migrate_check_t result = MIGRATE_CURRENT;
    int at = migrate_at(rec);
    if (at < n) {
        const svc_migration_t *next = &migrations[at];
        snprintf(why, why_len,
                 "the %s database is at migration %d and this worker needs %d (next: %d %s%s): run `roostctl migrate "
                 "up %s`",
                 service, at, n, next->version, next->name,
                 rec[at + 1].present ? ", which stopped before it was done" : "", service);
        result = MIGRATE_BEHIND;
    } else {
        /* Said once per service and process: the worker checks every few seconds. */
        static const svc_migration_t *warned[32];
        size_t w = 0;
        while (w < 32 && warned[w] != NULL && warned[w] != migrations)
            w++;
        for (int v = 1; v <= n && w < 32 && warned[w] == NULL; v++) {
            char checksum[80];
            migrate_checksum(&migrations[v - 1], checksum);
            if (strcmp(rec[v].checksum, checksum) != 0 && (warned[w] = migrations) != NULL)
                log_warn("%s: migration %d (%s) was applied as %.19s, this worker's is %.19s: see `roostctl migrate "
                         "status %s`",
                         service, v, migrations[v - 1].name, rec[v].checksum, checksum, service);
        }
    }
    migrate_free(rec);
    free(rec);
    return result;
}
