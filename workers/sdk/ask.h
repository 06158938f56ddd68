/* Asking another service over nng: how services join their data, never reading another's database. */
#ifndef ROOST_SDK_ASK_H
#define ROOST_SDK_ASK_H

#include "service.h"

/*
 * Asks another service over nng: sends `op` (with the optional "params",
 * "query", "body" and "auth" of `request`, as roost_client_call takes them)
 * to that service's pool and waits at most half the request deadline.
 * Returns the reply's status, with the reply envelope in `reply`
 * (uninitialised on entry; the caller destroys it, whatever the outcome).
 * When the service cannot be asked it replies to `call` itself, 503
 * service_unavailable naming the service, and returns -1. Never reads
 * another service's database: this is how services join their data.
 */
int svc_ask(svc_call_t *call, const char *op, const bson_t *request, bson_t *reply);

/* Answers the request envelope `data` of `op` into `reply` (uninitialised
 * on entry) when this process serves `op`; false, `reply` untouched, when
 * it does not. */
typedef bool (*svc_ask_local_fn)(const char *op, const uint8_t *data, size_t len, bson_t *reply);

/* The runtime's way to answer, in process, what svc_ask asks of a service
 * this process serves (runtime/answer.c); set once, before serving. */
void svc_ask_locally(svc_ask_local_fn fn);

/* svc_ask about one id: {params: {id}}. */
int svc_ask_id(svc_call_t *call, const char *op, int64_t id, bson_t *reply);

/* Replies 502 service_failed: `op`'s service answered `status`, which the
 * asking op did not expect (the one code for that, whichever service);
 * but 503 service_unavailable (Retry-After 1) when it answered 503, its
 * database being down or behind its migrations. */
void svc_fail_asked(svc_call_t *call, const char *op, int status);

#endif
