/* The two modes of roost-worker: one worker process, or a pool of them. */
#ifndef ROOST_WORKER_H
#define ROOST_WORKER_H

#include <bson/bson.h>
#include <nng/nng.h>

/* Reads ROOST_SERVICES into the set of services this process serves;
 * false (after logging why) when it names an unknown service. */
bool worker_select_services(void);

/* Serves requests until SIGTERM/SIGINT; returns the exit status. */
int worker_run(void);

/* Runs the pool: the broker clients dial, and `workers` child processes
 * that it restarts when they die. Returns the exit status. */
int pool_run(int workers);

#endif
