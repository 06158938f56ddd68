/*
 * Account handlers of the users service: register, edit a profile (log in
 * is login.c).
 *
 * Writes are idempotent per request id, because nng may deliver a request
 * twice (a worker died before replying): a second delivery of a register
 * finds the user the first one made instead of failing "username taken",
 * and a second delivery of an edit writes the same values again.
 */
#include "clock.h"
#include "users.h"
#include "sdk/auth.h"
#include "text.h"
#include "token.h"

#include <sodium.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

/*
 * Asks the places service whether place `id` exists. Replies itself and
 * returns false when it does not (400 on place_id) or cannot be asked (503).
 */
static bool
users_place_exists(svc_call_t *call, int64_t id)
{
    bson_t reply;
    int status = svc_ask_id(call, "places.get", id, &reply);
    if (status < 0)
        return false;
    bson_destroy(&reply);
    if (status == 200)
        return true;
    if (status == 404) {
        field_errors_t errors;
        field_errors_init(&errors);
        field_errors_add(&errors, "place_id", "no place has id %lld", (long long)id);
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
    } else {
        svc_fail_asked(call, "places.get", status);
    }
    return false;
}

/* The stored document of a new user. */
static void
users_new_doc(svc_call_t *call, const users_new_t *u, const char *username_key, const char *hash, bson_t *doc)
{
    int64_t now = clock_realtime_us();
    char *name = bson_strdup_printf("%s %s", u->first_name, u->last_name);
    BSON_APPEND_UTF8(doc, "username", u->username);
    BSON_APPEND_UTF8(doc, "username_key", username_key);
    if (u->email != NULL)
        BSON_APPEND_UTF8(doc, "email", u->email);
    BSON_APPEND_UTF8(doc, "password_hash", hash);
    BSON_APPEND_UTF8(doc, "first_name", u->first_name);
    BSON_APPEND_UTF8(doc, "last_name", u->last_name);
    BSON_APPEND_UTF8(doc, "name", name);
    BSON_APPEND_UTF8(doc, "birth_date", u->birth_date);
    if (u->place_id > 0)
        BSON_APPEND_INT64(doc, "place_id", u->place_id);
    BSON_APPEND_INT64(doc, "version", 1);
    BSON_APPEND_INT64(doc, "created_at", now);
    BSON_APPEND_INT64(doc, "updated_at", now);
    BSON_APPEND_UTF8(doc, "rid", call->key);
    bson_free(name);
}

void
users_create(svc_call_t *call)
{
    const envelope_request_t *req = call->req;
    field_errors_t errors;
    users_new_t u;
    bson_error_t error;
    char hash[crypto_pwhash_STRBYTES], *username_key = NULL, *email_key = NULL;
    bson_t doc = BSON_INITIALIZER, stored = BSON_INITIALIZER, out = BSON_INITIALIZER;
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");
    bool email_claimed = false;

    field_errors_init(&errors);
    if (!users_validate_new(&req->body, &errors, &u)) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    /* A repeat of a create that was stored (same rid and request: the key)
     * is answered from the stored user before the Argon2id hash, which
     * would cost tens of ms and 19 MiB for nothing: re-running a seed, or nng
     * re-sending after a worker died, stays cheap. */
    bool repeat;
    if (!svc_find_stored(users, call->key, &stored, &repeat, &error)) {
        svc_fail_db(call, &error);
        goto done;
    }
    if (repeat) {
        users_render(&stored, &out);
        svc_reply(call, 201, &out);
        goto done;
    }
    if (u.place_id > 0 && !users_place_exists(call, u.place_id))
        goto done;
    username_key = text_key(u.username, strlen(u.username));
    if (u.email != NULL) {
        email_key = text_key(u.email, strlen(u.email));
        int claim = users_claim_email(call->mongo, email_key, call->key, &error);
        if (claim == 409) {
            svc_fail(call, 409, "email_taken", "the email address is already registered");
            goto done;
        }
        if (claim < 0) {
            svc_fail_db(call, &error);
            goto done;
        }
        email_claimed = true;
    }
    if (!users_hash_slot_take(false)) {
        users_fail_hash_busy(call);
        goto release;
    }
    bool hashed = users_hash_password(u.password, hash);
    users_hash_slot_give();
    if (!hashed) {
        svc_fail(call, 503, "overloaded", "not enough memory to hash the password; retry later");
        svc_retry_after(call, 1);
        goto release;
    }
    users_new_doc(call, &u, username_key, hash, &doc);

    bson_destroy(&stored);
    switch (svc_insert_next(users, &doc, call->key, &stored, &error)) {
    case SVC_INSERTED:
    case SVC_INSERT_REPEAT: /* an earlier delivery of this request registered the user */
        users_render(&stored, &out);
        svc_reply(call, 201, &out);
        goto done;
    case SVC_INSERT_CONFLICT: /* username_key is the users' other unique index */
        svc_fail(call, 409, "username_taken", "the username '%s' is already taken", u.username);
        break;
    case SVC_INSERT_FAILED:
        svc_fail_db(call, &error);
        break;
    }
release:
    if (email_claimed)
        users_release_email(call->mongo, email_key, call->key);
done:
    free(username_key);
    free(email_key);
    field_errors_destroy(&errors);
    bson_destroy(&doc);
    bson_destroy(&stored);
    bson_destroy(&out);
    svc_collection_close(users);
}

/* A profile PATCH as read from its body (RFC 7396 merge-patch): a field
 * present is set, a field set to null is removed (only the optional email
 * and place_id may be), a field absent is left alone. */
typedef struct {
    const char *first, *last, *birth, *email, *username, *password, *current;
    bool email_null, place_null, has_place;
    int64_t place_id;
    /* Kept across the edit's rounds. */
    char *new_email_key, *old_email_key, *username_key;
    char hash[crypto_pwhash_STRBYTES];
    bool claimed; /* new_email_key is claimed by this request */
} users_patch_t;

/* Reads and checks the body into `p`; false with every field error. */
static bool
users_patch_read(const bson_t *body, users_patch_t *p, field_errors_t *errors)
{
    static const char *const fields[] = {"first_name", "last_name", "birth_date",       "email", "place_id",
                                         "username",   "password",  "current_password", NULL};
    bson_iter_t it;
    validate_known_fields(body, fields, errors);
    if (bson_iter_init_find(&it, body, "first_name"))
        users_check_name(&it, errors, "first_name", &p->first);
    if (bson_iter_init_find(&it, body, "last_name"))
        users_check_name(&it, errors, "last_name", &p->last);
    if (bson_iter_init_find(&it, body, "birth_date"))
        users_check_birth_date(&it, errors, &p->birth);
    if (bson_iter_init_find(&it, body, "username"))
        users_check_username(&it, errors, &p->username);
    if (bson_iter_init_find(&it, body, "email")) {
        if (BSON_ITER_HOLDS_NULL(&it))
            p->email_null = true;
        else
            users_check_email(&it, errors, &p->email);
    }
    if (bson_iter_init_find(&it, body, "place_id")) {
        if (BSON_ITER_HOLDS_NULL(&it))
            p->place_null = true;
        else if (!BSON_ITER_HOLDS_INT(&it) || bson_iter_as_int64(&it) <= 0)
            field_errors_add(errors, "place_id", "must be a positive integer place id, or null");
        else {
            p->has_place = true;
            p->place_id = bson_iter_as_int64(&it);
        }
    }
    if (bson_iter_init_find(&it, body, "password")) {
        users_check_password(&it, errors, "password", &p->password);
        if (!bson_iter_init_find(&it, body, "current_password"))
            field_errors_add(errors, "current_password", "is required to change the password");
        else
            users_check_given_password(&it, errors, "current_password", &p->current);
    } else if (bson_iter_init_find(&it, body, "current_password")) {
        field_errors_add(errors, "current_password", "is only used together with password");
    }
    return errors->count == 0;
}

/* current_password against the stored hash, a password guess like a
 * login's (it counts against the same failed-login quotas), and the new
 * password hashed into p->hash. False when the call is answered. */
static bool
users_patch_password(svc_call_t *call, const bson_t *doc, users_patch_t *p)
{
    bson_iter_t it;
    bson_error_t error;
    const char *stored_hash =
        bson_iter_init_find(&it, doc, "password_hash") && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : NULL;
    const char *key =
        bson_iter_init_find(&it, doc, "username_key") && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
    users_check_t check;
    envelope_rate_limit_t limit;
    int allowed = stored_hash != NULL ? users_password_check_begin(call, key, &check, &limit, &error) : 1;
    if (allowed <= 0) {
        if (allowed < 0)
            svc_fail_db(call, &error);
        else
            users_fail_too_many(call, &limit);
        return false;
    }
    if (!users_hash_slot_take(false)) {
        if (stored_hash != NULL)
            users_password_check_end(call, &check, true);
        users_fail_hash_busy(call);
        return false;
    }
    bool matches = stored_hash == NULL || crypto_pwhash_str_verify(stored_hash, p->current, strlen(p->current)) == 0;
    bool hashed = matches && users_hash_password(p->password, p->hash);
    users_hash_slot_give();
    if (stored_hash != NULL)
        users_password_check_end(call, &check, matches);
    if (!matches) {
        field_errors_t errors;
        field_errors_init(&errors);
        field_errors_add(&errors, "current_password", "does not match the current password");
        svc_fail_fields(call, &errors);
        field_errors_destroy(&errors);
        return false;
    }
    if (!hashed) {
        svc_fail(call, 503, "overloaded", "not enough memory to hash the password; retry later");
        svc_retry_after(call, 1);
        return false;
    }
    return true;
}

/* The update's $set of the changed fields, and the bookkeeping. */
static void
users_patch_set(svc_call_t *call, const bson_t *doc, int64_t version, const users_patch_t *p, bson_t *update)
{
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(update, "$set", &set);
    if (p->first != NULL)
        BSON_APPEND_UTF8(&set, "first_name", p->first);
    if (p->last != NULL)
        BSON_APPEND_UTF8(&set, "last_name", p->last);
    if (p->first != NULL || p->last != NULL) {
        bson_iter_t fi, li;
        const char *f = p->first, *l = p->last;
        if (f == NULL && bson_iter_init_find(&fi, doc, "first_name"))
            f = bson_iter_utf8(&fi, NULL);
        if (l == NULL && bson_iter_init_find(&li, doc, "last_name"))
            l = bson_iter_utf8(&li, NULL);
        char *name = bson_strdup_printf("%s %s", f ? f : "", l ? l : "");
        BSON_APPEND_UTF8(&set, "name", name);
        bson_free(name);
    }
    if (p->birth != NULL)
        BSON_APPEND_UTF8(&set, "birth_date", p->birth);
    if (p->email != NULL)
        BSON_APPEND_UTF8(&set, "email", p->email);
    if (p->has_place)
        BSON_APPEND_INT64(&set, "place_id", p->place_id);
    if (p->username != NULL) {
        BSON_APPEND_UTF8(&set, "username", p->username);
        BSON_APPEND_UTF8(&set, "username_key", p->username_key);
    }
    if (p->password != NULL)
        BSON_APPEND_UTF8(&set, "password_hash", p->hash);
    BSON_APPEND_INT64(&set, "version", version + 1);
    BSON_APPEND_INT64(&set, "updated_at", clock_realtime_us());
    BSON_APPEND_UTF8(&set, "last_rid", call->key);
    bson_append_document_end(update, &set);
}

/* The edit loop's change (sdk/edit.h): the password check on the first
 * round, the new email claimed once, then the update. */
static bool
users_patch_change(svc_call_t *call, const bson_t *doc, int64_t version, int attempt, bson_t *update, void *arg)
{
    users_patch_t *p = arg;
    bson_iter_t it;
    bson_error_t error;
    if (attempt == 0 && p->password != NULL && !users_patch_password(call, doc, p))
        return false;
    free(p->old_email_key);
    p->old_email_key = NULL;
    if (bson_iter_init_find(&it, doc, "email") && BSON_ITER_HOLDS_UTF8(&it))
        p->old_email_key = text_key(bson_iter_utf8(&it, NULL), strlen(bson_iter_utf8(&it, NULL)));
    if (!p->claimed && p->new_email_key != NULL &&
        (p->old_email_key == NULL || strcmp(p->new_email_key, p->old_email_key) != 0)) {
        int claim = users_claim_email(call->mongo, p->new_email_key, call->key, &error);
        if (claim != 0) {
            if (claim == 409)
                svc_fail(call, 409, "email_taken", "the email address is already registered");
            else
                svc_fail_db(call, &error);
            return false;
        }
        p->claimed = true;
    }
    users_patch_set(call, doc, version, p, update);
    /* A new password ends every token issued before it (auth.h). */
    if (p->password != NULL) {
        bson_t inc;
        BSON_APPEND_DOCUMENT_BEGIN(update, "$inc", &inc);
        BSON_APPEND_INT64(&inc, "token_gen", 1);
        bson_append_document_end(update, &inc);
    }
    if (p->email_null || p->place_null) {
        bson_t unset;
        BSON_APPEND_DOCUMENT_BEGIN(update, "$unset", &unset);
        if (p->email_null)
            BSON_APPEND_UTF8(&unset, "email", "");
        if (p->place_null)
            BSON_APPEND_UTF8(&unset, "place_id", "");
        bson_append_document_end(update, &unset);
    }
    return true;
}

static void
users_patch_commit_failed(svc_call_t *call, const bson_error_t *error, void *arg)
{
    const users_patch_t *p = arg;
    if (svc_is_duplicate(error))
        svc_fail(call, 409, "username_taken", "the username '%s' is already taken", p->username ? p->username : "");
    else
        svc_fail_db(call, error);
}

/* After the loop: a refused change gives back the email it claimed; a made
 * one ends the cached token generation (a new password) and frees the old
 * address once the profile no longer holds it. */
static void
users_patch_finish(svc_call_t *call, svc_edit_outcome_t outcome, void *arg)
{
    users_patch_t *p = arg;
    if (outcome == SVC_EDIT_REFUSED && p->claimed)
        users_release_email(call->mongo, p->new_email_key, call->key);
    if (outcome != SVC_EDIT_MADE)
        return;
    if (p->password != NULL)
        svc_auth_forget(call->req->auth_sub);
    if (p->old_email_key != NULL &&
        (p->email_null || (p->new_email_key != NULL && strcmp(p->new_email_key, p->old_email_key) != 0)))
        users_release_email(call->mongo, p->old_email_key, NULL);
}

/*
 * PATCH with JSON merge-patch semantics (RFC 7396); only the user themself
 * may edit. Through the sdk's edit loop (sdk/edit.h): every change bumps
 * `version` (the user's ETag) by an update conditioned on the version it
 * read, so If-Match is checked against exactly what the change replaces.
 */
void
users_update(svc_call_t *call)
{
    const envelope_request_t *req = call->req;
    field_errors_t errors;
    int64_t id = 0;
    users_patch_t p = {0};

    field_errors_init(&errors);
    if (!validate_id(&req->params, "id", &errors, &id)) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    if (req->auth_sub != id) {
        svc_fail(call, 403, "forbidden", "a user may edit only their own profile");
        goto done;
    }
    if (!users_patch_read(&req->body, &p, &errors)) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    if (p.has_place && !users_place_exists(call, p.place_id))
        goto done;
    if (p.username != NULL)
        p.username_key = text_key(p.username, strlen(p.username));
    if (p.email != NULL)
        p.new_email_key = text_key(p.email, strlen(p.email));
    svc_edit_t edit = {.service = "users",
                       .collection = "users",
                       .id = id,
                       .noun = "user",
                       .owner_field = "_id",
                       .forbidden = "a user may edit only their own profile",
                       .change = users_patch_change,
                       .commit_failed = users_patch_commit_failed,
                       .render = users_render,
                       .finish = users_patch_finish,
                       .arg = &p};
    svc_edit(call, &edit);
done:
    free(p.new_email_key);
    free(p.old_email_key);
    free(p.username_key);
    field_errors_destroy(&errors);
}
