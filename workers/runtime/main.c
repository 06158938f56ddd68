/*
 * roost-worker: `roost-worker [SERVICES]` is one worker process;
 * `roost-worker --pool N [SERVICES]` (or ROOST_WORKERS=N with --pool) runs
 * the pool broker and N workers; `roost-worker --broker [SERVICES]` runs a
 * broker alone, for pools whose workers run apart and dial every broker
 * (make run, Kubernetes); `roost-worker --list-services` prints the
 * services it can serve, so that scripts can start one pool per service
 * without a list of their own. SERVICES (a comma list such as "users" or
 * "users,places", or "all") stands for ROOST_SERVICES and shows in ps.
 */
#include "broker/supervisor.h"
#include "runtime/serve.h"
#include "runtime/services.h"
#include "config.h"
#include "image.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

static int
usage(void)
{
    fprintf(stderr, "usage: roost-worker [SERVICES] | --pool N [SERVICES] | --broker [SERVICES] | --list-services\n"
                    "  SERVICES: a comma list such as users,places, or all (default: ROOST_SERVICES, else all)\n"
                    "  N: 1 to 256 workers\n");
    return 2;
}

/* SERVICES on the command line stands for ROOST_SERVICES ("all" for every service). */
static void
main_services(const char *arg)
{
    if (strcmp(arg, "all") == 0)
        unsetenv("ROOST_SERVICES");
    else
        setenv("ROOST_SERVICES", arg, 1);
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--pool") == 0) {
        int n = (int)cfg_int("ROOST_WORKERS", 2, 1, 256);
        if (argc > 4)
            return usage();
        if (argc >= 3) {
            char *end;
            long v = strtol(argv[2], &end, 10);
            if (*end != '\0' || v < 1 || v > 256)
                return usage();
            n = (int)v;
        }
        if (argc == 4)
            main_services(argv[3]);
        log_init("pool");
        /* Checked here: the children would fail the same way, again and again. */
        return services_select() ? supervisor_run(n) : 2;
    }
    if (argc >= 2 && strcmp(argv[1], "--broker") == 0) {
        if (argc > 3)
            return usage();
        if (argc == 3)
            main_services(argv[2]);
        log_init("broker");
        return services_select() ? supervisor_run(0) : 2;
    }
    if (argc == 2 && strcmp(argv[1], "--list-services") == 0) {
        for (size_t s = 0; svc_services[s] != NULL; s++)
            if (strcmp(svc_services[s]->name, "sys") != 0)
                printf("%s\n", svc_services[s]->name);
        return 0;
    }
    if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
        return usage();
    if (argc == 2)
        main_services(argv[1]);
    /* Named roost-worker in ps/top/pgrep however it was started. */
    prctl(PR_SET_NAME, "roost-worker");
    log_init("worker");
    if (!image_init(argv[0])) { /* photos (properties.media.*) are checked with libvips */
        log_error("libvips failed to start");
        return 1;
    }
    int rc = worker_run();
    image_shutdown();
    return rc;
}
