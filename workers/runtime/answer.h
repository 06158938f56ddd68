/*
 * One request message in, one reply envelope out: the checks every op
 * gets before its handler runs, whoever the caller (the ingress, roostctl,
 * another service), in the order answer.c lists them.
 */
#ifndef ROOST_RUNTIME_ANSWER_H
#define ROOST_RUNTIME_ANSWER_H

#include <bson/bson.h>
#include <stddef.h>
#include <stdint.h>

/* The answer's metric families (metrics.h); once, before serving. */
void answer_metrics_init(void);

/*
 * Answers one request message (protocol 1.0 or 1.1, any bytes at all) into
 * `reply` (uninitialised on entry); never fails: malformed input gets an
 * error reply. What each context's thread runs; exposed for the fuzz
 * harness of every op (tests/fuzz/ops_fuzz.c). Handlers borrow clients of
 * database_open's pool.
 */
void worker_answer(const uint8_t *data, size_t len, bson_t *reply);

/* A handler thread that answers request after request keeps one client of
 * the pool while `hold` (at its start), and gives it back when told not to
 * (before it ends); other callers pop and push one per request. */
void answer_hold_client(bool hold);

/* svc_ask_locally's answer (sdk/ask.h): worker_answer, when this process
 * serves `op`. */
bool answer_locally(const char *op, const uint8_t *data, size_t len, bson_t *reply);

#endif
