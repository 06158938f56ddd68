/* The runner's hold on a service's database (the migration_locks
 * generations), and every write a holder makes: records, the log, a
 * step's saved progress. Only the holder writes, and it checks first. */
#include "migrate/internal.h"
#include "migrate/database.h"
#include "config.h"
#include "log.h"

#include <stdio.h>
#include <unistd.h>

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

bool
migrate_lock(migrate_runner_t *r, bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(r->mongo, r->service, "migration_locks");
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
                               r->service, holder, (long long)(wait_ms / 1000));
                ok = false;
                break;
            }
            if (!said)
                fprintf(r->out, "%s: waiting while %s runs its migrations\n", r->service, holder);
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
                log_warn("%s: could not prune old migration locks: %s", r->service, prune_error.message);
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
bool
migrate_renew(migrate_runner_t *r, bool release, bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(r->mongo, r->service, "migration_locks");
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
                       r->service, (long long)(r->lease_ms / 1000));
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

bool
migrate_log(migrate_runner_t *r, const svc_migration_t *m, const char *direction, bool done, bool resumed,
            const bson_error_t *failure)
{
    mongoc_collection_t *coll = svc_collection(r->mongo, r->service, "migration_log");
    bson_t *entry = BCON_NEW("version", BCON_INT32(m->version), "name", BCON_UTF8(m->name), "direction",
                             BCON_UTF8(direction), "outcome", BCON_UTF8(done ? "done" : "failed"), "at",
                             BCON_DATE_TIME(migrate_now_ms()), "by", BCON_UTF8(r->by), "resumed", BCON_BOOL(resumed));
    if (!done)
        BSON_APPEND_UTF8(entry, "error", failure->message);
    bson_error_t error;
    bool ok = mongoc_collection_insert_one(coll, entry, NULL, NULL, &error);
    if (!ok)
        log_warn("%s: could not log migration %d: %s", r->service, m->version, error.message);
    bson_destroy(entry);
    mongoc_collection_destroy(coll);
    return ok;
}

/* Writes the record of `m` whole (upsert), or deletes it (`record` NULL):
 * only the lock's holder writes, so it checks it still holds it first (a
 * runner paused past its lease finds it taken over and writes nothing). */
bool
migrate_write(migrate_runner_t *r, const svc_migration_t *m, const bson_t *record, bson_error_t *error)
{
    if (!migrate_renew(r, false, error))
        return false;
    mongoc_collection_t *coll = svc_collection(r->mongo, r->service, "migrations");
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
    mongoc_collection_t *coll = svc_collection(r->mongo, r->service, "migrations");
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
