/* The worker's view of each service's migrations, cached (schema.h). */
#include "runtime/schema.h"
#include "runtime/services.h"
#include "services/databases.h"
#include "clock.h"
#include "log.h"

#include <pthread.h>
#include <stdio.h>

/* What each service's database was found to be (migrate_check), by index
 * in svc_services, and when: a database found current is looked at again
 * after 10 s (a `migrate down` shows), one behind after 1 s. */
static pthread_mutex_t schema_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool current;
    struct timespec checked;
    char why[384];
} schema_seen[32];

migrate_check_t
schema_check(size_t s, mongoc_client_t *mongo, char *why, size_t why_len, bson_error_t *error)
{
    migrate_check_t result = MIGRATE_CURRENT;
    const svc_service_t *service = svc_services[s];
    const svc_migration_t *migrations = svc_migrations_of(service->name);
    if (migrations == NULL)
        return result;
    pthread_mutex_lock(&schema_lock);
    double age = clock_seconds_since(&schema_seen[s].checked);
    bool never = schema_seen[s].checked.tv_sec == 0 && schema_seen[s].checked.tv_nsec == 0;
    if (never || age > (schema_seen[s].current ? 10.0 : 1.0)) {
        result = migrate_check(mongo, service->name, migrations, schema_seen[s].why, sizeof(schema_seen[s].why), error);
        if (result != MIGRATE_ERROR) {
            if (result == MIGRATE_BEHIND && (never || schema_seen[s].current))
                log_warn("%s", schema_seen[s].why);
            schema_seen[s].current = result == MIGRATE_CURRENT;
            clock_gettime(CLOCK_MONOTONIC, &schema_seen[s].checked);
        }
    } else {
        result = schema_seen[s].current ? MIGRATE_CURRENT : MIGRATE_BEHIND;
    }
    if (result == MIGRATE_BEHIND)
        snprintf(why, why_len, "%s", schema_seen[s].why);
    pthread_mutex_unlock(&schema_lock);
    return result;
}

bool
schema_ready(mongoc_client_t *mongo, char *why, size_t why_len, bson_error_t *error)
{
    /* Every service, not only those served here: /readyz reaches one pool
     * and must tell about the whole platform's databases. */
    for (size_t s = 0; svc_services[s] != NULL; s++) {
        migrate_check_t c = schema_check(s, mongo, why, why_len, error);
        if (c == MIGRATE_ERROR)
            return false;
        if (c == MIGRATE_BEHIND)
            return true;
    }
    why[0] = '\0';
    return true;
}
