/*
 * roost-worker: `roost-worker` is one worker process; `roost-worker --pool N`
 * (or ROOST_WORKERS=N with --pool) runs the pool broker and N workers.
 */
#include "config.h"
#include "log.h"
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
    if (argc >= 2) {
        fprintf(stderr, "usage: roost-worker [--pool N]\n");
        return 2;
    }
    log_init("worker");
    return worker_run();
}
