/* The two modes of roost-worker: one worker process, or a pool of them. */
#ifndef ROOST_WORKER_H
#define ROOST_WORKER_H

#include <bson/bson.h>
#include <nng/nng.h>

/* Reads ROOST_SERVICES into the set of services this process serves;
 * false (after logging why) when it names an unknown service. */
bool worker_select_services(void);

/*
 * Answers one request message (protocol 1.0 or 1.1, any bytes at all) into
 * `reply` (uninitialised on entry); never fails: malformed input gets an
 * error reply. What each context's thread runs; exposed for the fuzz
 * harness of every op (tests/fuzz/ops_fuzz.c).
 */
void worker_answer(const uint8_t *data, size_t len, bson_t *reply);

/* Opens the database client pool worker_answer uses (ROOST_MONGODB_URI);
 * worker_run does this itself. */
bool worker_open_database(int max_clients);

/* Serves requests until SIGTERM/SIGINT; returns the exit status. */
int worker_run(void);

/* Runs the pool: the broker clients dial, and `workers` child processes
 * that it restarts when they die. Returns the exit status. */
int pool_run(int workers);

#endif
