/* The migration runner and the worker's check (migrate.h). */
#include "migrate.h"
#include "config.h"
#include "log.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    const svc_service_t *service;
    FILE *out;
    int64_t generation; /* the lock held; 0 when none */
    int64_t lease_ms;
    int64_t held_until; /* the lease as this runner last set it (wall-clock ms) */
    int version;        /* the version being run */
    char by[128];
} migrate_runner_t;

/* Wall-clock ms (BSON dates, leases shared between hosts). */
static int64_t
migrate_now_ms(void)
{
    return svc_now_us() / 1000;
}

int
migrate_count(const svc_service_t *service)
{
    int n = 0;
    while (service->migrations != NULL && service->migrations[n].version != 0)
        n++;
    return n;
}

const svc_service_t *
migrate_find_service(const char *name)
{
    for (size_t s = 0; svc_services[s] != NULL; s++)
        if (svc_services[s]->migrations != NULL && strcmp(svc_services[s]->name, name) == 0)
            return svc_services[s];
    return NULL;
}

void
migrate_checksum(const svc_migration_t *m, char out[80])
{
    crypto_hash_sha256_state st;
    unsigned char hash[crypto_hash_sha256_BYTES];
    char line[512];
    crypto_hash_sha256_init(&st);
    int n = snprintf(line, sizeof(line), "%d\n%s\n", m->version, m->name);
    crypto_hash_sha256_update(&st, (const unsigned char *)line, (size_t)n);
    for (size_t i = 0; i < m->index_count; i++) {
        const svc_index_t *ix = &m->indexes[i];
        n = snprintf(line, sizeof(line), "index %s %s %s%s\n", ix->collection, ix->name, ix->keys,
                     ix->unique ? " unique" : "");
        crypto_hash_sha256_update(&st, (const unsigned char *)line, (size_t)n);
    }
    if (m->definition != NULL)
        crypto_hash_sha256_update(&st, (const unsigned char *)m->definition, strlen(m->definition));
    crypto_hash_sha256_final(&st, hash);
    memcpy(out, "sha256:", 7);
    sodium_bin2hex(out + 7, 80 - 7, hash, sizeof(hash));
}

static void
migrate_copy_str(const bson_t *doc, const char *key, char *out, size_t len)
{
    bson_iter_t it;
    out[0] = '\0';
    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
        snprintf(out, len, "%s", bson_iter_utf8(&it, NULL));
}

/* Reads every record of `service` into `rec` (by version, 1..MIGRATE_MAX);
 * *highest is the highest version recorded. */
static bool
migrate_load(mongoc_client_t *mongo, const svc_service_t *service, migrate_record_t *rec, int *highest,
             bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(mongo, service->name, "migrations");
    /* The versions a record can be, by _id: an index walk, not a scan
     * (workers run this every few seconds; test_scale.py watches the
     * profiler for scans). */
    bson_t *filter = BCON_NEW("_id", "{", "$gte", BCON_INT32(1), "$lte", BCON_INT32(MIGRATE_MAX), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *doc;
    bson_iter_t it;
    *highest = 0;
    for (int v = 0; v <= MIGRATE_MAX; v++)
        rec[v].present = false;
    while (mongoc_cursor_next(cursor, &doc)) {
        if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_NUMBER(&it))
            continue;
        int64_t v = bson_iter_as_int64(&it);
        if (v < 1 || v > MIGRATE_MAX)
            continue;
        migrate_record_t *r = &rec[v];
        r->present = true;
        bson_copy_to(doc, &r->doc);
        migrate_copy_str(doc, "state", r->state, sizeof(r->state));
        migrate_copy_str(doc, "direction", r->direction, sizeof(r->direction));
        migrate_copy_str(doc, "checksum", r->checksum, sizeof(r->checksum));
        if (v > *highest)
            *highest = (int)v;
    }
    bool ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    bson_destroy(filter);
    if (!ok)
        for (int v = 0; v <= MIGRATE_MAX; v++)
            if (rec[v].present)
                bson_destroy(&rec[v].doc);
    return ok;
}

static void
migrate_free(migrate_record_t *rec)
{
    for (int v = 0; v <= MIGRATE_MAX; v++)
        if (rec[v].present)
            bson_destroy(&rec[v].doc);
}

static bool
migrate_applied(const migrate_record_t *r)
{
    return r->present && strcmp(r->state, "applied") == 0;
}

/* The highest version with every version up to it applied. */
static int
migrate_at(const migrate_record_t *rec)
{
    int v = 0;
    while (v < MIGRATE_MAX && migrate_applied(&rec[v + 1]))
        v++;
    return v;
}

/* --- the lock ------------------------------------------------------------- */

/* The newest generation of the lock, if any, into `out` (initialised). */
static bool
migrate_latest_lock(mongoc_collection_t *coll, bson_t *out, bool *found, bson_error_t *error)
{
    /* Generations are numbers; anything else in the collection is not a lock
     * (a comparison with a number matches numbers only). */
    bson_t *filter = BCON_NEW("_id", "{", "$gte", BCON_INT64(0), "}");
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(-1), "}", "limit", BCON_INT64(1));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc;
    *found = mongoc_cursor_next(cursor, &doc);
    if (*found)
        bson_copy_to_excluding_noinit(doc, out, "", NULL);
    bool ok = !mongoc_cursor_error(cursor, error);
    mongoc_cursor_destroy(cursor);
    bson_destroy(opts);
    bson_destroy(filter);
    return ok;
}

static bool
migrate_lock(migrate_runner_t *r, bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(r->mongo, r->service->name, "migration_locks");
    int64_t wait_ms = cfg_int("ROOST_MIGRATE_WAIT_S", 600, 0, 86400) * 1000;
    int64_t deadline = migrate_now_ms() + wait_ms;
    bool said = false, ok = false;
    for (;;) {
        bson_t latest = BSON_INITIALIZER;
        bool found;
        bson_iter_t it;
        ok = migrate_latest_lock(coll, &latest, &found, error);
        if (!ok) {
            bson_destroy(&latest);
            break;
        }
        int64_t generation = 1, now = migrate_now_ms(), until = 0;
        bool free = true;
        char holder[128] = "";
        if (found) {
            generation = bson_iter_init_find(&it, &latest, "_id") ? bson_iter_as_int64(&it) + 1 : 1;
            until = bson_iter_init_find(&it, &latest, "expires_at") && BSON_ITER_HOLDS_DATE_TIME(&it)
                        ? bson_iter_date_time(&it)
                        : 0;
            bool released = bson_iter_init_find(&it, &latest, "released") && bson_iter_as_bool(&it);
            migrate_copy_str(&latest, "by", holder, sizeof(holder));
            free = released || until < now;
        }
        bson_destroy(&latest);
        if (!free || now >= deadline) {
            if (now >= deadline) {
                bson_set_error(error, 0, 0,
                               "%s: %s still holds the migrations of this database after %lld s "
                               "(ROOST_MIGRATE_WAIT_S); try again when it is done, or after its lease ends",
                               r->service->name, holder, (long long)(wait_ms / 1000));
                ok = false;
                break;
            }
            if (!said)
                fprintf(r->out, "%s: waiting while %s runs its migrations\n", r->service->name, holder);
            said = true;
            fflush(r->out);
            usleep(200 * 1000);
            continue;
        }
        bson_t *lock =
            BCON_NEW("_id", BCON_INT64(generation), "by", BCON_UTF8(r->by), "acquired_at", BCON_DATE_TIME(now),
                     "expires_at", BCON_DATE_TIME(now + r->lease_ms), "released", BCON_BOOL(false));
        bson_error_t insert_error;
        bool inserted = mongoc_collection_insert_one(coll, lock, NULL, NULL, &insert_error);
        bson_destroy(lock);
        if (inserted) {
            r->generation = generation;
            r->held_until = now + r->lease_ms;
            /* Old generations are read by nobody (waiters read the newest):
             * the holder keeps the last few, as a short history. */
            bson_t *old = BCON_NEW("_id", "{", "$lt", BCON_INT64(generation - 16), "}");
            bson_error_t prune_error;
            if (generation > 16 && !mongoc_collection_delete_many(coll, old, NULL, NULL, &prune_error))
                log_warn("%s: could not prune old migration locks: %s", r->service->name, prune_error.message);
            bson_destroy(old);
            break;
        }
        if (!svc_is_duplicate(&insert_error)) {
            *error = insert_error;
            ok = false;
            break;
        }
        /* Another runner took this generation first: look again. */
    }
    mongoc_collection_destroy(coll);
    return ok;
}

/* Renews the lease, after checking nobody took the database over (which
 * happens only when this runner let its lease lapse). */
static bool
migrate_renew(migrate_runner_t *r, bool release, bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(r->mongo, r->service->name, "migration_locks");
    bson_t doc = BSON_INITIALIZER;
    bson_iter_t it;
    bool found;
    int64_t latest = 0;
    bool ok = migrate_latest_lock(coll, &doc, &found, error);
    if (found && bson_iter_init_find(&it, &doc, "_id"))
        latest = bson_iter_as_int64(&it);
    bson_destroy(&doc);
    if (ok && latest != r->generation) {
        bson_set_error(error, 0, 0,
                       "%s: another runner took the migrations over (this one's lease of %lld s ran out; "
                       "ROOST_MIGRATE_LEASE_S): stopped",
                       r->service->name, (long long)(r->lease_ms / 1000));
        ok = false;
    }
    if (ok) {
        int64_t now = migrate_now_ms();
        r->held_until = release ? 0 : now + r->lease_ms;
        bson_t *sel = BCON_NEW("_id", BCON_INT64(r->generation));
        bson_t *update =
            release ? BCON_NEW("$set", "{", "released", BCON_BOOL(true), "expires_at", BCON_DATE_TIME(now), "}")
                    : BCON_NEW("$set", "{", "expires_at", BCON_DATE_TIME(now + r->lease_ms), "}");
        ok = mongoc_collection_update_one(coll, sel, update, NULL, NULL, error);
        bson_destroy(sel);
        bson_destroy(update);
    }
    mongoc_collection_destroy(coll);
    return ok;
}

/* --- records and the log -------------------------------------------------- */

static bool
migrate_log(migrate_runner_t *r, const svc_migration_t *m, const char *direction, bool done, bool resumed,
            const bson_error_t *failure)
{
    mongoc_collection_t *coll = svc_collection(r->mongo, r->service->name, "migration_log");
    bson_t *entry = BCON_NEW("version", BCON_INT32(m->version), "name", BCON_UTF8(m->name), "direction",
                             BCON_UTF8(direction), "outcome", BCON_UTF8(done ? "done" : "failed"), "at",
                             BCON_DATE_TIME(migrate_now_ms()), "by", BCON_UTF8(r->by), "resumed", BCON_BOOL(resumed));
    if (!done)
        BSON_APPEND_UTF8(entry, "error", failure->message);
    bson_error_t error;
    bool ok = mongoc_collection_insert_one(coll, entry, NULL, NULL, &error);
    if (!ok)
        log_warn("%s: could not log migration %d: %s", r->service->name, m->version, error.message);
    bson_destroy(entry);
    mongoc_collection_destroy(coll);
    return ok;
}

/* Writes the record of `m` whole (upsert), or deletes it (`record` NULL):
 * only the lock's holder writes, so it checks it still holds it first (a
 * runner paused past its lease finds it taken over and writes nothing). */
static bool
migrate_write(migrate_runner_t *r, const svc_migration_t *m, const bson_t *record, bson_error_t *error)
{
    if (!migrate_renew(r, false, error))
        return false;
    mongoc_collection_t *coll = svc_collection(r->mongo, r->service->name, "migrations");
    bson_t *sel = BCON_NEW("_id", BCON_INT32(m->version));
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
    bool ok = record != NULL ? mongoc_collection_replace_one(coll, sel, record, opts, NULL, error)
                             : mongoc_collection_delete_one(coll, sel, NULL, NULL, error);
    bson_destroy(sel);
    bson_destroy(opts);
    mongoc_collection_destroy(coll);
    return ok;
}

bool
svc_migration_holding(svc_migration_run_t *run, bson_error_t *error)
{
    migrate_runner_t *r = run->runner;
    /* A margin of a tenth of the lease: the clocks of two runners' hosts
     * and the time of one write. */
    if (migrate_now_ms() < r->held_until - r->lease_ms / 10)
        return true;
    return migrate_renew(r, false, error);
}

bool
svc_migration_save(svc_migration_run_t *run, const bson_t *progress, bson_error_t *error)
{
    migrate_runner_t *r = run->runner;
    mongoc_collection_t *coll = svc_collection(r->mongo, r->service->name, "migrations");
    bson_t *sel = BCON_NEW("_id", BCON_INT32(r->version));
    bson_t update = BSON_INITIALIZER, set;
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    BSON_APPEND_DOCUMENT(&set, "progress", progress);
    bson_append_document_end(&update, &set);
    bool ok = migrate_renew(r, false, error) && mongoc_collection_update_one(coll, sel, &update, NULL, NULL, error);
    bson_destroy(&update);
    bson_destroy(sel);
    mongoc_collection_destroy(coll);
    return ok;
}

/* --- index migrations ----------------------------------------------------- */

static int64_t
migrate_progress_step(const bson_t *progress)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, progress, "step") && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : 0;
}

static bool
migrate_indexes_up(svc_migration_run_t *run, const svc_migration_t *m, bson_error_t *error)
{
    for (int64_t i = migrate_progress_step(run->progress); i < (int64_t)m->index_count; i++) {
        if (!svc_migration_holding(run, error) ||
            !svc_ensure_indexes(run->mongo, run->service, &m->indexes[i], 1, error))
            return false;
        bson_t *progress = BCON_NEW("step", BCON_INT64(i + 1));
        bool ok = svc_migration_save(run, progress, error);
        bson_destroy(progress);
        if (!ok)
            return false;
    }
    return true;
}

/* Drops the indexes newest first; one already gone (or never made, when
 * `up` failed before it) is not an error. */
static bool
migrate_indexes_down(svc_migration_run_t *run, const svc_migration_t *m, bson_error_t *error)
{
    for (int64_t done = migrate_progress_step(run->progress); done < (int64_t)m->index_count; done++) {
        if (!svc_migration_holding(run, error))
            return false;
        const svc_index_t *ix = &m->indexes[m->index_count - 1 - done];
        mongoc_collection_t *coll = svc_collection(run->mongo, run->service, ix->collection);
        bson_t *cmd = BCON_NEW("dropIndexes", BCON_UTF8(ix->collection), "index", BCON_UTF8(ix->name));
        bson_error_t drop_error;
        bool ok = mongoc_collection_write_command_with_opts(coll, cmd, NULL, NULL, &drop_error);
        /* 26 NamespaceNotFound, 27 IndexNotFound: nothing to drop. */
        if (!ok && drop_error.code != 26 && drop_error.code != 27 && strstr(drop_error.message, "not found") == NULL) {
            *error = drop_error;
            bson_destroy(cmd);
            mongoc_collection_destroy(coll);
            return false;
        }
        bson_destroy(cmd);
        mongoc_collection_destroy(coll);
        bson_t *progress = BCON_NEW("step", BCON_INT64(done + 1));
        ok = svc_migration_save(run, progress, error);
        bson_destroy(progress);
        if (!ok)
            return false;
    }
    return true;
}

/* --- up and down ---------------------------------------------------------- */

/* Runs one step of `m` in `direction`, from `rec`'s progress when it is a
 * resumption of the same direction, and records the outcome. */
static bool
migrate_step(migrate_runner_t *r, const svc_migration_t *m, const migrate_record_t *rec, bool up, bson_error_t *error)
{
    const char *direction = up ? "up" : "down";
    char checksum[80];
    bson_iter_t it;
    bson_t progress = BSON_INITIALIZER;
    int32_t attempts = 0;
    bool resumed = false;
    int64_t started = migrate_now_ms();
    migrate_checksum(m, checksum);
    if (rec->present) {
        bool same_way = strcmp(rec->direction, direction) == 0 && strcmp(rec->state, "applied") != 0;
        if (same_way && bson_iter_init_find(&it, &rec->doc, "progress") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&it, &len, &data);
            bson_destroy(&progress);
            bson_init_static(&progress, data, len);
            resumed = !bson_empty(&progress);
        }
        if (same_way && bson_iter_init_find(&it, &rec->doc, "attempts"))
            attempts = (int32_t)bson_iter_as_int64(&it);
    }
    bson_t record = BSON_INITIALIZER;
    BSON_APPEND_INT32(&record, "_id", m->version);
    BSON_APPEND_UTF8(&record, "name", m->name);
    BSON_APPEND_UTF8(&record, "checksum", checksum);
    BSON_APPEND_UTF8(&record, "state", up ? "applying" : "reverting");
    BSON_APPEND_UTF8(&record, "direction", direction);
    BSON_APPEND_DATE_TIME(&record, "started_at", started);
    BSON_APPEND_DOCUMENT(&record, "progress", &progress);
    BSON_APPEND_INT32(&record, "attempts", attempts + 1);
    BSON_APPEND_UTF8(&record, "by", r->by);
    bool ok = migrate_write(r, m, &record, error);
    bson_destroy(&record);
    if (!ok) {
        bson_destroy(&progress);
        return false;
    }
    fprintf(r->out, "%s: %s %d %s%s …\n", r->service->name, direction, m->version, m->name,
            resumed ? " (resuming where it stopped)" : "");
    fflush(r->out);

    r->version = m->version;
    svc_migration_run_t run = {.mongo = r->mongo, .service = r->service->name, .progress = &progress, .runner = r};
    if (m->index_count > 0)
        ok = up ? migrate_indexes_up(&run, m, error) : migrate_indexes_down(&run, m, error);
    else
        ok = (up ? m->up : m->down)(&run, error);
    bson_destroy(&progress);

    double seconds = (double)(migrate_now_ms() - started) / 1000.0;
    bson_error_t record_error;
    /* A runner that lost the lock leaves the record and the log to the
     * runner that took over. */
    bool holding = migrate_renew(r, false, &record_error);
    if (holding)
        migrate_log(r, m, direction, ok, resumed, error);
    if (!ok) {
        mongoc_collection_t *coll = svc_collection(r->mongo, r->service->name, "migrations");
        bson_t *sel = BCON_NEW("_id", BCON_INT32(m->version));
        bson_t *update = BCON_NEW("$set", "{", "state", BCON_UTF8("failed"), "error", BCON_UTF8(error->message), "}");
        if (holding && !mongoc_collection_update_one(coll, sel, update, NULL, NULL, &record_error))
            log_warn("%s: could not record the failure of %d: %s", r->service->name, m->version, record_error.message);
        bson_destroy(sel);
        bson_destroy(update);
        mongoc_collection_destroy(coll);
        char message[sizeof(error->message) + 128];
        snprintf(message, sizeof(message), "%s %d %s failed after %.1f s: %s", direction, m->version, m->name, seconds,
                 error->message);
        bson_set_error(error, error->domain, error->code, "%s", message);
        return false;
    }
    if (up) {
        bson_t done = BSON_INITIALIZER;
        BSON_APPEND_INT32(&done, "_id", m->version);
        BSON_APPEND_UTF8(&done, "name", m->name);
        BSON_APPEND_UTF8(&done, "checksum", checksum);
        BSON_APPEND_UTF8(&done, "state", "applied");
        BSON_APPEND_UTF8(&done, "direction", "up");
        BSON_APPEND_DATE_TIME(&done, "applied_at", migrate_now_ms());
        BSON_APPEND_DATE_TIME(&done, "started_at", started);
        BSON_APPEND_INT32(&done, "attempts", attempts + 1);
        BSON_APPEND_UTF8(&done, "by", r->by);
        ok = migrate_write(r, m, &done, error);
        bson_destroy(&done);
    } else {
        ok = migrate_write(r, m, NULL, error);
    }
    if (ok) {
        fprintf(r->out, "%s: %s %d %s done in %.1f s\n", r->service->name, direction, m->version, m->name, seconds);
        fflush(r->out);
    }
    return ok;
}

static void
migrate_runner_init(migrate_runner_t *r, mongoc_client_t *mongo, const svc_service_t *service, FILE *out)
{
    char host[64] = "?";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    memset(r, 0, sizeof(*r));
    r->mongo = mongo;
    r->service = service;
    r->out = out;
    r->lease_ms = cfg_int("ROOST_MIGRATE_LEASE_S", 60, 1, 86400) * 1000;
    snprintf(r->by, sizeof(r->by), "%s:%d", host, (int)getpid());
}

static bool
migrate_run(mongoc_client_t *mongo, const svc_service_t *service, int target, bool up, FILE *out, bson_error_t *error)
{
    int n = migrate_count(service);
    migrate_runner_t r;
    migrate_record_t *rec = calloc(MIGRATE_MAX + 1, sizeof(*rec));
    int highest;
    bool ok = true;
    if (target < (up ? 0 : -1) || target > n) {
        bson_set_error(error, 0, 0, "%s has versions 1 to %d: there is no version %d", service->name, n, target);
        free(rec);
        return false;
    }
    migrate_runner_init(&r, mongo, service, out);
    if (!migrate_lock(&r, error)) {
        free(rec);
        return false;
    }
    if (!migrate_load(mongo, service, rec, &highest, error)) {
        ok = false;
        goto release;
    }
    if (target == -1) /* down one: below the newest version recorded */
        target = highest > 0 ? highest - 1 : 0;
    int steps = 0;
    if (up) {
        for (int v = 1; ok && v <= target; v++) {
            const svc_migration_t *m = &service->migrations[v - 1];
            char checksum[80];
            migrate_checksum(m, checksum);
            if (migrate_applied(&rec[v])) {
                if (strcmp(rec[v].checksum, checksum) != 0) {
                    bson_set_error(error, 0, 0,
                                   "%s: version %d (%s) was applied as %s, but this roostctl's version %d is %s: an "
                                   "applied migration must not change (make the change a new version)",
                                   service->name, v, m->name, rec[v].checksum, v, checksum);
                    ok = false;
                }
                continue;
            }
            ok = migrate_step(&r, m, &rec[v], true, error);
            steps++;
        }
    } else {
        for (int v = highest; ok && v > target; v--) {
            if (!rec[v].present)
                continue;
            if (v > n) {
                bson_set_error(error, 0, 0,
                               "%s: version %d is recorded but this roostctl knows versions 1 to %d only: revert it "
                               "with the roostctl that applied it",
                               service->name, v, n);
                ok = false;
                break;
            }
            ok = migrate_step(&r, &service->migrations[v - 1], &rec[v], false, error);
            steps++;
        }
    }
    if (ok && steps == 0)
        fprintf(out, "%s: nothing to do (at version %d of %d)\n", service->name, migrate_at(rec), n);
    migrate_free(rec);
release:;
    bson_error_t release_error;
    if (!migrate_renew(&r, true, &release_error))
        log_warn("%s: could not release the migrations lock: %s", service->name, release_error.message);
    free(rec);
    return ok;
}

bool
migrate_up(mongoc_client_t *mongo, const svc_service_t *service, int target, FILE *out, bson_error_t *error)
{
    return migrate_run(mongo, service, target == 0 ? migrate_count(service) : target, true, out, error);
}

bool
migrate_down(mongoc_client_t *mongo, const svc_service_t *service, int target, FILE *out, bson_error_t *error)
{
    return migrate_run(mongo, service, target, false, out, error);
}

/* --- status and the worker's check ---------------------------------------- */

static void
migrate_date(const bson_t *doc, const char *key, char *out, size_t len)
{
    bson_iter_t it;
    out[0] = '\0';
    if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_DATE_TIME(&it)) {
        time_t t = (time_t)(bson_iter_date_time(&it) / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
}

int
migrate_status(mongoc_client_t *mongo, const svc_service_t *service, FILE *out, bson_error_t *error)
{
    int n = migrate_count(service), highest;
    migrate_record_t *rec = calloc(MIGRATE_MAX + 1, sizeof(*rec));
    if (!migrate_load(mongo, service, rec, &highest, error)) {
        free(rec);
        return 2;
    }
    int at = migrate_at(rec), pending = 0, troubled = 0, changed = 0;
    int last = highest > n ? highest : n;
    for (int v = 1; v <= n; v++) {
        char checksum[80];
        migrate_checksum(&service->migrations[v - 1], checksum);
        if (!rec[v].present)
            pending++;
        else if (!migrate_applied(&rec[v]))
            troubled++;
        else if (strcmp(rec[v].checksum, checksum) != 0)
            changed++;
    }
    fprintf(out, "%s: at version %d of %d", service->name, at, n);
    if (pending == 0 && troubled == 0 && changed == 0)
        fprintf(out, ", up to date\n");
    else if (pending + troubled > 0)
        fprintf(out, "; run `roostctl migrate up %s`%s\n", service->name,
                troubled > 0 ? " (it resumes what stopped)" : "");
    else /* applied, but not as this binary defines it: workers serve, `up` refuses */
        fprintf(out, "; a version was CHANGED after it was applied: put its code back and make the change a new "
                     "version\n");
    for (int v = 1; v <= last; v++) {
        const svc_migration_t *m = v <= n ? &service->migrations[v - 1] : NULL;
        migrate_record_t *r = &rec[v];
        char name[64];
        if (m != NULL)
            snprintf(name, sizeof(name), "%s", m->name);
        else if (r->present)
            migrate_copy_str(&r->doc, "name", name, sizeof(name));
        else
            continue;
        fprintf(out, "  %3d  %-24s ", v, name);
        if (!r->present) {
            fprintf(out, "pending\n");
            continue;
        }
        char when[32], checksum[80] = "", by[128], message[512];
        migrate_copy_str(&r->doc, "by", by, sizeof(by));
        if (m != NULL)
            migrate_checksum(m, checksum);
        if (migrate_applied(r)) {
            migrate_date(&r->doc, "applied_at", when, sizeof(when));
            fprintf(out, "applied %s  %.19s", when, r->checksum);
            if (m == NULL)
                fprintf(out, "  (unknown to this roostctl)");
            else if (strcmp(r->checksum, checksum) != 0)
                fprintf(out, "  CHANGED since: this roostctl's is %.19s", checksum);
            fprintf(out, "\n");
            continue;
        }
        migrate_date(&r->doc, "started_at", when, sizeof(when));
        migrate_copy_str(&r->doc, "error", message, sizeof(message));
        bson_iter_t it;
        char progress[256] = "";
        if (bson_iter_init_find(&it, &r->doc, "progress") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            uint32_t len;
            const uint8_t *data;
            bson_t p;
            bson_iter_document(&it, &len, &data);
            if (bson_init_static(&p, data, len) && !bson_empty(&p)) {
                char *json = bson_as_relaxed_extended_json(&p, NULL);
                snprintf(progress, sizeof(progress), ", progress %s", json);
                bson_free(json);
            }
        }
        if (strcmp(r->state, "failed") == 0)
            fprintf(out, "FAILED (%s, started %s by %s%s): %s\n", r->direction, when, by, progress, message);
        else
            fprintf(out, "%s since %s by %s%s (or stopped: a re-run resumes it)\n", r->state, when, by, progress);
    }
    migrate_free(rec);
    free(rec);
    return pending == 0 && troubled == 0 && changed == 0 ? 0 : 1;
}

migrate_check_t
migrate_check(mongoc_client_t *mongo, const svc_service_t *service, char *why, size_t why_len, bson_error_t *error)
{
    int n = migrate_count(service), highest;
    migrate_record_t *rec = calloc(MIGRATE_MAX + 1, sizeof(*rec));
    if (!migrate_load(mongo, service, rec, &highest, error)) {
        free(rec);
        return MIGRATE_ERROR;
    }
    migrate_check_t result = MIGRATE_CURRENT;
    int at = migrate_at(rec);
    if (at < n) {
        const svc_migration_t *next = &service->migrations[at];
        snprintf(why, why_len,
                 "the %s database is at migration %d and this worker needs %d (next: %d %s%s): run `roostctl migrate "
                 "up %s`",
                 service->name, at, n, next->version, next->name,
                 rec[at + 1].present ? ", which stopped before it was done" : "", service->name);
        result = MIGRATE_BEHIND;
    } else {
        /* Said once per service and process: the worker checks every few seconds. */
        static const svc_service_t *warned[32];
        size_t w = 0;
        while (w < 32 && warned[w] != NULL && warned[w] != service)
            w++;
        for (int v = 1; v <= n && w < 32 && warned[w] == NULL; v++) {
            char checksum[80];
            migrate_checksum(&service->migrations[v - 1], checksum);
            if (strcmp(rec[v].checksum, checksum) != 0 && (warned[w] = service) != NULL)
                log_warn("%s: migration %d (%s) was applied as %.19s, this worker's is %.19s: see `roostctl migrate "
                         "status %s`",
                         service->name, v, service->migrations[v - 1].name, rec[v].checksum, checksum, service->name);
        }
    }
    migrate_free(rec);
    free(rec);
    return result;
}
