/*
 * roostctl migrate status [SERVICE|all]
 * roostctl migrate up [SERVICE|all] [TARGET]
 * roostctl migrate down SERVICE [TARGET]
 * roostctl migrate wait [SERVICE|all]
 *
 * Reads and changes the migrations of each service's own database
 * (ROOST_MONGODB_URI, databases named ROOST_DB_PREFIX + service), with the
 * migrations compiled into this roostctl: the runner is the workers' own
 * (workers/runtime/migrate.h). `up` applies every pending version, or up
 * to TARGET; `down` reverts the newest version, or down to TARGET (0
 * reverts them all). TARGET needs one SERVICE. `wait` returns once the
 * databases are up to date (a worker pod's init container: workers of a
 * new version start once `migrate up` has run), polling every 2 s for at
 * most ROOST_MIGRATE_WAIT_S (600).
 *
 * Exit status: status 0 when every database is up to date, 1 when one is
 * not; up and down 0 when done, 1 when a step failed or the database did
 * not answer (what was done stays done: run it again to resume); wait 0
 * when up to date, 1 when it gave up; 2 for a usage error, or when status
 * could not read the database.
 */
#include "migrations.h"
#include "config.h"
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
migrations_usage(void)
{
    fprintf(stderr, "usage: roostctl migrate status [SERVICE|all]\n"
                    "       roostctl migrate up [SERVICE|all] [TARGET]\n"
                    "       roostctl migrate down SERVICE [TARGET]\n"
                    "       roostctl migrate wait [SERVICE|all]\n"
                    "  SERVICE: one of");
    for (size_t s = 0; svc_services[s] != NULL; s++)
        if (svc_services[s]->migrations != NULL)
            fprintf(stderr, " %s", svc_services[s]->name);
    fprintf(stderr, "\n  TARGET: a version number (down: 0 reverts every version; default: the newest only)\n");
    return 2;
}

static bool
migrations_target(const char *arg, int *target)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v < 0 || v > 1000)
        return false;
    *target = (int)v;
    return true;
}

/* Polls until every selected database is up to date; says once what it
 * waits for. */
static int
migrations_wait(mongoc_client_t *mongo, const char *only)
{
    int64_t wait_s = cfg_int("ROOST_MIGRATE_WAIT_S", 600, 0, 86400);
    FILE *quiet = fopen("/dev/null", "w");
    bool said = false;
    bson_error_t error;
    for (int64_t waited = 0;; waited += 2) {
        const char *behind = NULL;
        for (size_t s = 0; svc_services[s] != NULL && behind == NULL; s++) {
            const svc_service_t *service = svc_services[s];
            if (service->migrations == NULL || (only != NULL && strcmp(only, service->name) != 0))
                continue;
            int r = migrate_status(mongo, service, quiet, &error);
            if (r != 0)
                behind = service->name;
            if (r == 2 && !said)
                fprintf(stdout, "%s: the database does not answer yet: %s\n", service->name, error.message);
            else if (r == 1 && !said)
                fprintf(stdout,
                        "%s: waiting for `roostctl migrate up %s` (run by make run, or the roost-migrate Job)\n",
                        service->name, service->name);
            said = said || r != 0;
        }
        fflush(stdout);
        if (behind == NULL) {
            fprintf(stdout, "up to date\n");
            fclose(quiet);
            return 0;
        }
        if (waited >= wait_s) {
            fprintf(stderr, "roostctl: %s is still not up to date after %lld s (ROOST_MIGRATE_WAIT_S)\n", behind,
                    (long long)wait_s);
            fclose(quiet);
            return 1;
        }
        sleep(2);
    }
}

int
roostctl_migrate(int argc, char **argv)
{
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
        fprintf(stderr, "roostctl: TARGET is a version number (0 or more) and needs one SERVICE\n");
        return 2;
    }
    if (only != NULL && migrate_find_service(only) == NULL) {
        fprintf(stderr, "roostctl: '%s' is not a service with migrations\n", only);
        return migrations_usage();
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
    for (size_t s = 0; !wait && svc_services[s] != NULL; s++) {
        const svc_service_t *service = svc_services[s];
        if (service->migrations == NULL || (only != NULL && strcmp(only, service->name) != 0))
            continue;
        if (status) {
            int r = migrate_status(mongo, service, stdout, &error);
            if (r == 2) {
                fprintf(stderr, "roostctl: %s: %s\n", service->name, error.message);
                rc = 2;
                break;
            }
            if (r > rc)
                rc = r;
            continue;
        }
        bool ok = up ? migrate_up(mongo, service, target, stdout, &error)
                     : migrate_down(mongo, service, target, stdout, &error);
        if (!ok) {
            fflush(stdout);
            fprintf(stderr, "roostctl: %s: %s\n", service->name, error.message);
            rc = 1;
            break; /* a later service may depend on this one's shape */
        }
    }
    fflush(stdout);
    mongoc_client_destroy(mongo);
    mongoc_cleanup();
    return rc;
}
