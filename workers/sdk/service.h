/*
 * What a service handler sees: the parsed request, a MongoDB client taken
 * from the worker's pool for the length of the call, and helpers to
 * reply. Each service lives in its own folder (workers/services/<name>/)
 * and exports one svc_service_t; runtime/services.c lists them.
 */
#ifndef ROOST_SERVICE_H
#define ROOST_SERVICE_H

#include "envelope.h"
#include "token.h"
#include "query/validate.h"

#include <mongoc/mongoc.h>

typedef struct {
    const envelope_request_t *req;
    /* What writes store to recognise a repeat of this request: its rid and
     * its fingerprint (svc_request_fingerprint), "rid:fingerprint". */
    char key[ENVELOPE_RID_MAX + 34];
    mongoc_client_t *mongo; /* borrowed from the worker's pool; NULL for an op marked SVC_NO_DATABASE */
    /* The caller's bearer token, verified and checked against its user's
     * record by the runtime (auth.h), when the request carried one. */
    bool has_token;
    token_claims_t token;
    bson_t reply; /* the reply envelope, set by one svc_reply* call */
    bool replied;
} svc_call_t;

typedef void (*svc_handler_fn)(svc_call_t *call);

/* Who may call an op. The runtime enforces it before the handler runs, for
 * every caller (HTTP through the ingress, or nng directly): this table is
 * the one place that says it. */
typedef enum {
    SVC_AUTH_NONE,     /* anyone; auth.sub, when present, is the caller */
    SVC_AUTH_REQUIRED, /* an authenticated user: auth.sub > 0, else 401 unauthorized */
} svc_auth_t;

/* An op that never touches the database (sys.ping): served while the
 * database is down, with no client taken from the pool. */
#define SVC_NO_DATABASE 0x1

typedef struct {
    const char *op;
    svc_handler_fn handler;
    svc_auth_t auth;
    unsigned flags;
} svc_op_t;

typedef struct {
    const char *name;    /* also the database name, after ROOST_DB_PREFIX */
    const svc_op_t *ops; /* terminated by {NULL, NULL} */
    /* An op of `ops` each worker serving the service runs on itself every
     * second (runtime/tick.h), or NULL. */
    const char *tick_op;
    /* Its database's migrations are in services/databases.c: a worker
     * serves the service's ops only once every one of them is applied. */
} svc_service_t;

/* What a handler calls: replies, the store, the edit loop, ids, other
 * services, validation. */
#include "ask.h"
#include "edit.h"
#include "ids.h"
#include "migrate/migration.h"
#include "reply.h"
#include "store.h"

#endif
