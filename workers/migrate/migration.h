/*
 * A service's migrations: the numbered steps that bring its own database
 * to the shape its code needs (DESIGN.md §5, "roostctl migrate"). Each
 * service lists them in order in its migrations.c, and services/databases.c
 * names them by service; `roostctl migrate` applies and reverts them
 * (migrate/migrate.h) and a worker refuses the service's ops while any is
 * missing.
 *
 * A migration is either a list of indexes (up creates them in order, down
 * drops them in reverse) or a pair of steps of its own. Steps must be
 * idempotent and resumable: a step that fails halfway, or whose runner is
 * killed, is run again by the next `migrate up` (or `down`) with the
 * progress it saved last (svc_migration_save), so it continues from there.
 *
 * Once a version has been applied anywhere it never changes: its checksum
 * (SHA-256 of its number, name and indexes or `definition`) is recorded,
 * and `migrate status` reports a version whose code no longer matches.
 * A change is a new version.
 */
#ifndef ROOST_MIGRATE_MIGRATION_H
#define ROOST_MIGRATE_MIGRATION_H

#include <mongoc/mongoc.h>

/*
 * An index a service needs. `keys` lists its fields in order, comma
 * separated, a leading '-' for descending: "deleted_at,-created_at" is
 * {deleted_at: 1, created_at: -1}; "location:2dsphere" is {location:
 * "2dsphere"}; "name:text:10,words:text:1" is a text index {name: "text",
 * words: "text"} with those weights and default_language "none".
 */
typedef struct svc_index {
    const char *collection;
    const char *name;
    const char *keys;
    bool unique;
} svc_index_t;

/* One run of one step, as a step sees it. */
typedef struct {
    mongoc_client_t *mongo;
    const char *service; /* the service whose database it is */
    /* What this step saved last (empty on a fresh start): a step reads it
     * to resume. Owned by the runner. */
    const bson_t *progress;
    void *runner; /* the runner's own state */
} svc_migration_run_t;

typedef bool (*svc_migration_step_fn)(svc_migration_run_t *run, bson_error_t *error);

typedef struct svc_migration {
    int version;      /* 1, 2, 3, … in order, without gaps */
    const char *name; /* snake_case, shown by `roostctl migrate status` */
    /* An index migration … */
    const struct svc_index *indexes;
    size_t index_count;
    /* … or steps of its own, described by `definition` (hashed into the
     * checksum: say what the steps do, so that changing them shows). */
    svc_migration_step_fn up, down;
    const char *definition;
} svc_migration_t;

/* A migration creating the indexes of `array` (a static svc_index_t[]). */
#define SVC_MIGRATION_INDEXES(v, migration_name, array)                                                                \
    {                                                                                                                  \
        .version = (v), .name = (migration_name), .indexes = (array),                                                  \
        .index_count = sizeof(array) / sizeof((array)[0])                                                              \
    }

/* Whether this runner still holds the database, checked against its own
 * clock while its lease has time left, else asked of the database. A step
 * calls it before each write of its own (each document a backfill
 * changes): a runner paused past its lease (SIGSTOP, a suspended VM) must
 * not write after another took over. False (error set) when it does not. */
bool svc_migration_holding(svc_migration_run_t *run, bson_error_t *error);

/* Records `progress` as the step's own (replacing what it saved before)
 * and renews the runner's lease; a step calls it after each unit of work
 * it need not repeat. False (error set) when the database failed. */
bool svc_migration_save(svc_migration_run_t *run, const bson_t *progress, bson_error_t *error);

#endif
