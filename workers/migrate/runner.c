/* `roostctl migrate up` and `down`: each version's step run under the
 * lease, resumed from its saved progress, its outcome recorded. */
#include "migrate/internal.h"
#include "migrate/database.h"
#include "config.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    fprintf(r->out, "%s: %s %d %s%s …\n", r->service, direction, m->version, m->name,
            resumed ? " (resuming where it stopped)" : "");
    fflush(r->out);

    r->version = m->version;
    svc_migration_run_t run = {.mongo = r->mongo, .service = r->service, .progress = &progress, .runner = r};
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
        mongoc_collection_t *coll = svc_collection(r->mongo, r->service, "migrations");
        bson_t *sel = BCON_NEW("_id", BCON_INT32(m->version));
        bson_t *update = BCON_NEW("$set", "{", "state", BCON_UTF8("failed"), "error", BCON_UTF8(error->message), "}");
        if (holding && !mongoc_collection_update_one(coll, sel, update, NULL, NULL, &record_error))
            log_warn("%s: could not record the failure of %d: %s", r->service, m->version, record_error.message);
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
        fprintf(r->out, "%s: %s %d %s done in %.1f s\n", r->service, direction, m->version, m->name, seconds);
        fflush(r->out);
    }
    return ok;
}

static void
migrate_runner_init(migrate_runner_t *r, mongoc_client_t *mongo, const char *service, const svc_migration_t *migrations,
                    FILE *out)
{
    char host[64] = "?";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    memset(r, 0, sizeof(*r));
    r->mongo = mongo;
    r->service = service;
    r->migrations = migrations;
    r->out = out;
    r->lease_ms = cfg_int("ROOST_MIGRATE_LEASE_S", 60, 1, 86400) * 1000;
    snprintf(r->by, sizeof(r->by), "%s:%d", host, (int)getpid());
}

static bool
migrate_run(mongoc_client_t *mongo, const char *service, const svc_migration_t *migrations, int target, bool up,
            FILE *out, bson_error_t *error)
{
    int n = migrate_count(migrations);
    migrate_runner_t r;
    migrate_record_t *rec = calloc(MIGRATE_MAX + 1, sizeof(*rec));
    int highest;
    bool ok = true;
    if (target < (up ? 0 : -1) || target > n) {
        bson_set_error(error, 0, 0, "%s has versions 1 to %d: there is no version %d", service, n, target);
        free(rec);
        return false;
    }
    migrate_runner_init(&r, mongo, service, migrations, out);
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
            const svc_migration_t *m = &migrations[v - 1];
            char checksum[80];
            migrate_checksum(m, checksum);
            if (migrate_applied(&rec[v])) {
                if (strcmp(rec[v].checksum, checksum) != 0) {
                    bson_set_error(error, 0, 0,
                                   "%s: version %d (%s) was applied as %s, but this roostctl's version %d is %s: an "
                                   "applied migration must not change (make the change a new version)",
                                   service, v, m->name, rec[v].checksum, v, checksum);
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
                               service, v, n);
                ok = false;
                break;
            }
            ok = migrate_step(&r, &migrations[v - 1], &rec[v], false, error);
            steps++;
        }
    }
    if (ok && steps == 0)
        fprintf(out, "%s: nothing to do (at version %d of %d)\n", service, migrate_at(rec), n);
    migrate_free(rec);
release:;
    bson_error_t release_error;
    if (!migrate_renew(&r, true, &release_error))
        log_warn("%s: could not release the migrations lock: %s", service, release_error.message);
    free(rec);
    return ok;
}

bool
migrate_up(mongoc_client_t *mongo, const char *service, const svc_migration_t *migrations, int target, FILE *out,
           bson_error_t *error)
{
    return migrate_run(mongo, service, migrations, target == 0 ? migrate_count(migrations) : target, true, out, error);
}

bool
migrate_down(mongoc_client_t *mongo, const char *service, const svc_migration_t *migrations, int target, FILE *out,
             bson_error_t *error)
{
    return migrate_run(mongo, service, migrations, target, false, out, error);
}
