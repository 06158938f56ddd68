/*
 * The optimistic edit of one stored document, written once for every
 * service: load it, check it exists (404), that the caller owns it (403),
 * whether this request already made its change (a re-delivery: the
 * document's last_rid is the request's key, and the answer is the same as
 * the first), that it is not a tombstone (404) and that the client's
 * If-Match still holds (412); then build the change, commit it only on the
 * version read, and when another writer made that version first, back off
 * a little (svc_backoff) and start again from theirs, up to
 * SVC_EDIT_ATTEMPTS rounds (then 409). A client's If-Match is checked on
 * every round against what the change replaces.
 *
 * The database steps are a table (svc_edit_store_t) so that unit tests
 * can drive the loop through races without a database.
 */
#ifndef ROOST_SDK_EDIT_H
#define ROOST_SDK_EDIT_H

#include "sdk/reply.h"
#include "sdk/service.h"

/* Each round of a race has one winner: enough rounds for many writers of one document. */
#define SVC_EDIT_ATTEMPTS 64

typedef enum {
    SVC_EDIT_MADE,     /* this call made the change */
    SVC_EDIT_REPLAYED, /* an earlier delivery of this request had made it */
    SVC_EDIT_REFUSED,  /* answered with an error: nothing changed */
} svc_edit_outcome_t;

struct svc_edit;

/* How the loop reads and writes; svc_edit_mongo is the database's. */
typedef struct {
    /* Document `edit->id` into `out` (initialised on entry). False (error
     * set) only when the database failed. */
    bool (*load)(svc_call_t *call, const struct svc_edit *edit, bson_t *out, bool *found, bson_error_t *error);
    /* Makes `update` the document's version `version + 1`: 1 when this
     * call did, 0 when another writer made that version first, -1 on a
     * database error (error set). `made` (initialised, empty) may be given
     * the new document, so that the reply need not read it back. */
    int (*commit)(svc_call_t *call, const struct svc_edit *edit, int64_t version, const bson_t *update, bson_t *made,
                  bson_error_t *error);
} svc_edit_store_t;

/* The database's steps: load by _id from edit->service/edit->collection;
 * commit by svc_update_at_version, with edit->commit_filter's conditions,
 * or by edit->commit when the service has its own. */
extern const svc_edit_store_t svc_edit_mongo;

typedef struct svc_edit {
    const char *service, *collection; /* where the document lives */
    int64_t id;                       /* its _id, validated by the caller */
    const char *noun;                 /* "property": "no property has id 3" */
    const char *owner_field;          /* the owner's user id: "owner_id" ("_id" for a user) */
    const char *forbidden;            /* the 403's message */
    bool no_content;                  /* a made change answers 204 without reading the document back */
    /* Extra conditions of the commit (svc_update_at_version), or NULL. */
    const bson_t *commit_filter;
    /* Builds the change of `current` (at `version`, round `attempt` from 0)
     * into `update` (initialised). False when it has answered (a 4xx):
     * nothing is written. */
    bool (*change)(svc_call_t *call, const bson_t *current, int64_t version, int attempt, bson_t *update, void *arg);
    /* The service's own commit (same contract as svc_edit_store_t.commit), or NULL. */
    int (*commit)(svc_call_t *call, const struct svc_edit *edit, int64_t version, const bson_t *update, bson_t *made,
                  bson_error_t *error);
    /* Answers a commit's database error (NULL: svc_fail_db), e.g. a unique index's 409. */
    void (*commit_failed)(svc_call_t *call, const bson_error_t *error, void *arg);
    /* How the document after the change is answered (as a re-delivery is
     * too): rendered so, with `status` (0: 200), unless no_content. */
    svc_render_fn render;
    int status;
    /* Called once at the end with the outcome (may be NULL): undo what a
     * refused change claimed, forget caches after a made one. */
    void (*finish)(svc_call_t *call, svc_edit_outcome_t outcome, void *arg);
    void *arg;
    const svc_edit_store_t *store; /* NULL: svc_edit_mongo */
} svc_edit_t;

/* Runs the edit to its answer (the call is replied to); returns the outcome. */
svc_edit_outcome_t svc_edit(svc_call_t *call, const svc_edit_t *edit);

#endif
