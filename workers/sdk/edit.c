/* The optimistic edit loop (edit.h). */
#include "sdk/edit.h"
#include "sdk/store.h"

#include <string.h>

static bool
edit_mongo_load(svc_call_t *call, const svc_edit_t *edit, bson_t *out, bool *found, bson_error_t *error)
{
    mongoc_collection_t *coll = svc_collection(call->mongo, edit->service, edit->collection);
    bson_t *filter = BCON_NEW("_id", BCON_INT64(edit->id));
    bool ok = svc_find_one(coll, filter, out, found, error);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    return ok;
}

static int
edit_mongo_commit(svc_call_t *call, const svc_edit_t *edit, int64_t version, const bson_t *update, bson_t *made,
                  bson_error_t *error)
{
    if (edit->commit != NULL)
        return edit->commit(call, edit, version, update, made, error);
    mongoc_collection_t *coll = svc_collection(call->mongo, edit->service, edit->collection);
    int applied = svc_update_at_version(coll, edit->id, version, edit->commit_filter, update, error);
    mongoc_collection_destroy(coll);
    return applied;
}

const svc_edit_store_t svc_edit_mongo = {edit_mongo_load, edit_mongo_commit};

static int64_t
edit_int(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : 0;
}

/* Answers with `doc`, the document after the change: 204, or rendered with the edit's status. */
static void
edit_reply(svc_call_t *call, const svc_edit_t *edit, const bson_t *doc)
{
    if (edit->no_content) {
        svc_reply(call, 204, NULL);
        return;
    }
    bson_t out;
    edit->render(doc, &out);
    svc_reply(call, edit->status != 0 ? edit->status : 200, &out);
    bson_destroy(&out);
}

/* Whether `doc` already holds this request's change. */
static bool
edit_is_replay(const svc_call_t *call, const bson_t *doc)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, "last_rid") && BSON_ITER_HOLDS_UTF8(&it) &&
           strcmp(bson_iter_utf8(&it, NULL), call->key) == 0;
}

/* The checks on the document as read, in edit.h's order. False when the
 * call is answered (or, *replayed set, when it was answered as the first
 * delivery was). */
static bool
edit_check(svc_call_t *call, const svc_edit_t *edit, const bson_t *doc, bool found, bool *replayed)
{
    *replayed = false;
    bool deleted = found && bson_has_field(doc, "deleted_at");
    if (!found || (deleted && edit_int(doc, edit->owner_field) != call->req->auth_sub)) {
        svc_fail(call, 404, "not_found", "no %s has id %lld", edit->noun, (long long)edit->id);
        return false;
    }
    if (edit_int(doc, edit->owner_field) != call->req->auth_sub) {
        svc_fail(call, 403, "forbidden", "%s", edit->forbidden);
        return false;
    }
    if (edit_is_replay(call, doc)) {
        *replayed = true;
        edit_reply(call, edit, doc);
        return false;
    }
    if (deleted) {
        svc_fail(call, 404, "not_found", "no %s has id %lld", edit->noun, (long long)edit->id);
        return false;
    }
    if (!svc_expected(call->req, svc_version(doc))) {
        svc_fail(call, 412, "precondition_failed", "the %s changed since your copy (ETag \"%lld\" now)", edit->noun,
                 (long long)svc_version(doc));
        return false;
    }
    return true;
}

/* Answers a made change: 204, the document the commit gave, or the document read back. */
static void
edit_reply_made(svc_call_t *call, const svc_edit_t *edit, const svc_edit_store_t *store, const bson_t *made)
{
    bson_t doc = BSON_INITIALIZER;
    bson_error_t error;
    bool found = false;
    if (edit->no_content || !bson_empty(made))
        edit_reply(call, edit, made);
    else if (!store->load(call, edit, &doc, &found, &error))
        svc_fail_db(call, &error);
    else if (!found)
        svc_fail(call, 404, "not_found", "no %s has id %lld", edit->noun, (long long)edit->id);
    else
        edit_reply(call, edit, &doc);
    bson_destroy(&doc);
}

/* One round: 1 made, 0 lost to another writer (go again), -1 answered. */
static int
edit_round(svc_call_t *call, const svc_edit_t *edit, const svc_edit_store_t *store, int attempt,
           svc_edit_outcome_t *outcome)
{
    bson_t doc = BSON_INITIALIZER, update = BSON_INITIALIZER, made = BSON_INITIALIZER;
    bson_error_t error;
    bool found = false, replayed;
    int result = -1;
    if (!store->load(call, edit, &doc, &found, &error)) {
        svc_fail_db(call, &error);
        goto done;
    }
    if (!edit_check(call, edit, &doc, found, &replayed)) {
        if (replayed)
            *outcome = SVC_EDIT_REPLAYED;
        goto done;
    }
    int64_t version = svc_version(&doc);
    if (!edit->change(call, &doc, version, attempt, &update, edit->arg))
        goto done;
    result = store->commit(call, edit, version, &update, &made, &error);
    if (result < 0) {
        if (edit->commit_failed != NULL)
            edit->commit_failed(call, &error, edit->arg);
        else
            svc_fail_db(call, &error);
    } else if (result == 1) {
        *outcome = SVC_EDIT_MADE;
        edit_reply_made(call, edit, store, &made);
    }
done:
    bson_destroy(&doc);
    bson_destroy(&update);
    bson_destroy(&made);
    return result;
}

svc_edit_outcome_t
svc_edit(svc_call_t *call, const svc_edit_t *edit)
{
    const svc_edit_store_t *store = edit->store != NULL ? edit->store : &svc_edit_mongo;
    svc_edit_outcome_t outcome = SVC_EDIT_REFUSED;
    int attempt = 0;
    for (; attempt < SVC_EDIT_ATTEMPTS; attempt++) {
        if (edit_round(call, edit, store, attempt, &outcome) != 0)
            break;
        /* Someone else made this version first: start again from theirs,
         * after a short random pause so that the losers spread out. */
        svc_backoff(attempt);
    }
    if (attempt == SVC_EDIT_ATTEMPTS)
        svc_fail(call, 409, "conflict", "the %s kept changing under this request; retry", edit->noun);
    if (edit->finish != NULL)
        edit->finish(call, outcome, edit->arg);
    return outcome;
}
