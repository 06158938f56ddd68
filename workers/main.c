/*
 * roost-worker: `roost-worker` is one worker process; `roost-worker --pool N`
 * (or ROOST_WORKERS=N with --pool) runs the pool broker and N workers;
 * `roost-worker --list-services` prints the services it can serve, so that
 * scripts can start one pool per service without a list of their own.
 */
#include "config.h"
#include "log.h"
#include "service.h"
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--pool") == 0) {
        int n = (int)cfg_int("ROOST_WORKERS", 2, 1, 256);
        if (argc >= 3) {
            char *end;
            long v = strtol(argv[2], &end, 10);
            if (*end != '\0' || v < 1 || v > 256) {
                fprintf(stderr, "usage: roost-worker [--pool N]  (1 <= N <= 256)\n");
                return 2;
            }
            n = (int)v;
        }
        log_init("pool");
        return pool_run(n);
    }
    if (argc == 2 && strcmp(argv[1], "--list-services") == 0) {
        for (size_t s = 0; svc_services[s] != NULL; s++)
            if (strcmp(svc_services[s]->name, "sys") != 0)
                printf("%s\n", svc_services[s]->name);
        return 0;
    }
    if (argc >= 2) {
        fprintf(stderr, "usage: roost-worker [--pool N | --list-services]\n");
        return 2;
    }
    log_init("worker");
    return worker_run();
}
