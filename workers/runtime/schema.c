/* The worker's view of each service's migrations, cached (schema.h). */
#include "runtime/schema.h"
#include "runtime/services.h"
#include "services/databases.h"
#include "clock.h"
#include "log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

/* What each service's database was found to be (migrate_check), by index
 * in svc_services, and when: a database found current is looked at again
 * after 10 s (a `migrate down` shows), one behind after 1 s. A database
 * found current and looked at less than 10 s ago is answered without the
 * lock (every request asks); one thread looks again while the others go on
 * with what was last seen. */
static pthread_mutex_t schema_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    _Atomic int64_t checked_ms; /* clock_monotonic_ms() of the last look; 0: never */
    atomic_bool current;
    char why[384]; /* under schema_lock */
} schema_seen[32];

migrate_check_t
schema_check(size_t s, mongoc_client_t *mongo, char *why, size_t why_len, bson_error_t *error)
{
    migrate_check_t result = MIGRATE_CURRENT;
    const svc_service_t *service = svc_services[s];
    const svc_migration_t *migrations = svc_migrations_of(service->name);
    if (migrations == NULL)
        return result;
    int64_t checked = atomic_load(&schema_seen[s].checked_ms), now = clock_monotonic_ms();
    if (checked != 0 && atomic_load(&schema_seen[s].current)) {
        if (now - checked <= 10000 || pthread_mutex_trylock(&schema_lock) != 0)
            return MIGRATE_CURRENT; /* fresh, or another thread is looking again */
    } else {
        pthread_mutex_lock(&schema_lock);
    }
    checked = atomic_load(&schema_seen[s].checked_ms);
    bool never = checked == 0, current = atomic_load(&schema_seen[s].current);
    if (never || now - checked > (current ? 10000 : 1000)) {
        result = migrate_check(mongo, service->name, migrations, schema_seen[s].why, sizeof(schema_seen[s].why), error);
        if (result != MIGRATE_ERROR) {
            if (result == MIGRATE_BEHIND && (never || current))
                log_warn("%s", schema_seen[s].why);
            atomic_store(&schema_seen[s].current, result == MIGRATE_CURRENT);
            atomic_store(&schema_seen[s].checked_ms, clock_monotonic_ms());
        }
    } else {
        result = current ? MIGRATE_CURRENT : MIGRATE_BEHIND;
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
