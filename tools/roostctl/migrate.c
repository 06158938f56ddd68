/*
 * roostctl migrate status [SERVICE|all]
 * roostctl migrate up [SERVICE|all] [TARGET]
 * roostctl migrate down SERVICE [TARGET]
 * roostctl migrate wait [SERVICE|all]
 *
 * Reads and changes the migrations of each service's own database
 * (ROOST_MONGODB_URI, databases named ROOST_DB_PREFIX + service), with the
 * migrations compiled into this roostctl: the runner is the workers' own
 * (workers/migrate/migrate.h). `up` applies every pending version, or up
 * to TARGET (1 to the last); `down` reverts the newest version, or down to
 * TARGET (0 reverts them all). TARGET needs one SERVICE. `wait` returns once the
 * databases are up to date (a worker pod's init container: workers of a
 * new version start once `migrate up` has run), polling every 2 s for at
 * most ROOST_MIGRATE_WAIT_S (600).
 *
 * Exit status: status 0 when every database is up to date, 1 when one is
 * not; up and down 0 when done, 1 when a step failed or the database did
 * not answer (what was done stays done: run it again to resume); wait 0
 * when every version is applied, 1 when it gave up; 2 for a usage error
 * (a TARGET out of range too), or when status could not read the database.
 */
#include "migrate.h"
#include "config.h"
#include "migrate/migrate.h"
#include "services/databases.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The usage, to `out`; 0 when it was asked for (stdout), 2 after a usage error. */
static int
migrations_usage_to(FILE *out)
{
    fprintf(out, "usage: roostctl migrate status [SERVICE|all]\n"
                 "       roostctl migrate up [SERVICE|all] [TARGET]\n"
                 "       roostctl migrate down SERVICE [TARGET]\n"
                 "       roostctl migrate wait [SERVICE|all]\n"
                 "  SERVICE: one of");
    for (const svc_database_t *d = svc_databases; d->service != NULL; d++)
        fprintf(out, " %s", d->service);
    fprintf(out, "\n  TARGET: a version number (up: 1 to the last, default the last; down: 0 to the last, default "
                 "one below the newest; 0 reverts every version)\n");
    return out == stdout ? 0 : 2;
}

static int
migrations_usage(void)
{
    return migrations_usage_to(stderr);
}

/* A version number: digits only, 0 to 1000. */
static bool
migrations_target(const char *arg, int *target)
{
    size_t n = strlen(arg);
    if (n == 0 || n > 4 || strspn(arg, "0123456789") != n || atoi(arg) > 1000)
        return false;
    *target = atoi(arg);
    return true;
}

/* Polls until every selected database has each version applied (the
 * worker's own test: a version changed since is reported by status, and
 * served); says once what it waits for. */
static int
migrations_wait(mongoc_client_t *mongo, const char *only)
{
    int64_t wait_s = cfg_int("ROOST_MIGRATE_WAIT_S", 600, 0, 86400);
    bool said = false;
    bson_error_t error;
    for (int64_t waited = 0;; waited += 2) {
        const char *behind = NULL;
        for (const svc_database_t *d = svc_databases; d->service != NULL && behind == NULL; d++) {
            if (only != NULL && strcmp(only, d->service) != 0)
                continue;
            char why[384];
            migrate_check_t r = migrate_check(mongo, d->service, d->migrations, why, sizeof(why), &error);
            if (r != MIGRATE_CURRENT)
                behind = d->service;
            if (r == MIGRATE_ERROR && !said)
                fprintf(stdout, "%s: the database does not answer yet: %s\n", d->service, error.message);
            else if (r == MIGRATE_BEHIND && !said)
                fprintf(stdout, "%s: waiting: %s (make run, the roost-migrate Job or Compose's migrate runs it)\n",
                        d->service, why);
            said = said || r != MIGRATE_CURRENT;
        }
        fflush(stdout);
        if (behind == NULL) {
            fprintf(stdout, "up to date\n");
            return 0;
        }
        if (waited >= wait_s) {
            fprintf(stderr, "roostctl: %s is still not up to date after %lld s (ROOST_MIGRATE_WAIT_S)\n", behind,
                    (long long)wait_s);
            return 1;
        }
        sleep(2);
    }
}

int
roostctl_migrate(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return migrations_usage_to(stdout);
    if (argc < 2 || argc > 4)
        return migrations_usage();
    const char *command = argv[1];
    bool status = strcmp(command, "status") == 0, up = strcmp(command, "up") == 0, down = strcmp(command, "down") == 0,
         wait = strcmp(command, "wait") == 0;
    if (!status && !up && !down && !wait)
        return migrations_usage();
    const char *only = argc >= 3 && strcmp(argv[2], "all") != 0 ? argv[2] : NULL;
    int target = down ? -1 : 0;
    if (((status || wait) && argc > 3) || (down && only == NULL))
        return migrations_usage();
    if (argc == 4 && (only == NULL || !migrations_target(argv[3], &target))) {
        fprintf(stderr, "roostctl: TARGET is a version number and needs one SERVICE\n");
        return 2;
    }
    if (only != NULL && svc_migrations_of(only) == NULL) {
        fprintf(stderr, "roostctl: '%s' is not a service with migrations\n", only);
        return migrations_usage();
    }
    if (argc == 4) { /* up: 1 to the last version; down: 0 (none left) to the last */
        int n = migrate_count(svc_migrations_of(only));
        if (target > n || (up && target < 1)) {
            fprintf(stderr, "roostctl: %s has versions 1 to %d: %s takes a TARGET from %d to %d\n", only, n, command,
                    up ? 1 : 0, n);
            return 2;
        }
    }

    bson_error_t error;
    mongoc_init();
    mongoc_uri_t *uri = mongoc_uri_new_with_error(cfg_str("ROOST_MONGODB_URI", CFG_DEFAULT_MONGODB_URI), &error);
    if (uri == NULL) {
        fprintf(stderr, "roostctl: ROOST_MONGODB_URI is not a MongoDB URI: %s\n", error.message);
        mongoc_cleanup();
        return 2;
    }
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
    mongoc_client_t *mongo = mongoc_client_new_from_uri(uri);
    mongoc_uri_destroy(uri);
    mongoc_client_set_error_api(mongo, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_set_appname(mongo, "roostctl");

    int rc = wait ? migrations_wait(mongo, only) : 0;
    for (const svc_database_t *d = svc_databases; !wait && d->service != NULL; d++) {
        if (only != NULL && strcmp(only, d->service) != 0)
            continue;
        if (status) {
            int r = migrate_status(mongo, d->service, d->migrations, stdout, &error);
            if (r == 2) {
                fprintf(stderr, "roostctl: %s: %s\n", d->service, error.message);
                rc = 2;
                break;
            }
            if (r > rc)
                rc = r;
            continue;
        }
        bool ok = up ? migrate_up(mongo, d->service, d->migrations, target, stdout, &error)
                     : migrate_down(mongo, d->service, d->migrations, target, stdout, &error);
        if (!ok) {
            fflush(stdout);
            fprintf(stderr, "roostctl: %s: %s\n", d->service, error.message);
            rc = 1;
            break; /* a later service may depend on this one's shape */
        }
    }
    fflush(stdout);
    mongoc_client_destroy(mongo);
    mongoc_cleanup();
    return rc;
}
