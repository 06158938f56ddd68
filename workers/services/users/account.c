/*
 * Account handlers of the users service: register, edit a profile (log in
 * is login.c).
 *
 * Writes are idempotent per request id, because nng may deliver a request
 * twice (a worker died before replying): a second delivery of a register
 * finds the user the first one made instead of failing "username taken",
 * and a second delivery of an edit writes the same values again.
 */
#include "users.h"
#include "auth.h"
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
    int64_t now = svc_now_us();
    char *name = bson_strdup_printf("%s %s", u.first_name, u.last_name);
    BSON_APPEND_UTF8(&doc, "username", u.username);
    BSON_APPEND_UTF8(&doc, "username_key", username_key);
    if (u.email != NULL)
        BSON_APPEND_UTF8(&doc, "email", u.email);
    BSON_APPEND_UTF8(&doc, "password_hash", hash);
    BSON_APPEND_UTF8(&doc, "first_name", u.first_name);
    BSON_APPEND_UTF8(&doc, "last_name", u.last_name);
    BSON_APPEND_UTF8(&doc, "name", name);
    BSON_APPEND_UTF8(&doc, "birth_date", u.birth_date);
    if (u.place_id > 0)
        BSON_APPEND_INT64(&doc, "place_id", u.place_id);
    BSON_APPEND_INT64(&doc, "version", 1);
    BSON_APPEND_INT64(&doc, "created_at", now);
    BSON_APPEND_INT64(&doc, "updated_at", now);
    BSON_APPEND_UTF8(&doc, "rid", call->key);
    bson_free(name);

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
    mongoc_collection_destroy(users);
}

/*
 * PATCH with JSON merge-patch semantics (RFC 7396): a field present is set,
 * a field set to null is removed (only the optional email and place_id may
 * be), a field absent is left alone. Only the user themself may edit.
 *
 * Every change bumps `version` (the user's ETag) by an update conditioned
 * on the version it read, so If-Match is checked against exactly what the
 * change replaces; a writer that loses that race reads again (or answers
 * 412 when the client sent If-Match). A re-delivery of a change already made
 * (last_rid is this request's key) answers with the user as it is.
 */
void
users_update(svc_call_t *call)
{
    static const char *const fields[] = {"first_name", "last_name", "birth_date",       "email", "place_id",
                                         "username",   "password",  "current_password", NULL};
    const envelope_request_t *req = call->req;
    field_errors_t errors;
    bson_iter_t it;
    bson_error_t error;
    int64_t id = 0;
    bson_t doc = BSON_INITIALIZER, out = BSON_INITIALIZER;
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");
    const char *first = NULL, *last = NULL, *birth = NULL, *email = NULL, *username = NULL, *password = NULL,
               *current = NULL;
    bool email_null = false, place_null = false, has_place = false, claimed = false;
    int64_t place_id = 0;
    char *new_email_key = NULL, *old_email_key = NULL, *username_key = NULL, hash[crypto_pwhash_STRBYTES] = "";

    field_errors_init(&errors);
    if (!validate_id(&req->params, "id", &errors, &id)) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    if (req->auth_sub != id) {
        svc_fail(call, 403, "forbidden", "a user may edit only their own profile");
        goto done;
    }
    validate_known_fields(&req->body, fields, &errors);
    if (bson_iter_init_find(&it, &req->body, "first_name"))
        users_check_name(&it, &errors, "first_name", &first);
    if (bson_iter_init_find(&it, &req->body, "last_name"))
        users_check_name(&it, &errors, "last_name", &last);
    if (bson_iter_init_find(&it, &req->body, "birth_date"))
        users_check_birth_date(&it, &errors, &birth);
    if (bson_iter_init_find(&it, &req->body, "username"))
        users_check_username(&it, &errors, &username);
    if (bson_iter_init_find(&it, &req->body, "email")) {
        if (BSON_ITER_HOLDS_NULL(&it))
            email_null = true;
        else
            users_check_email(&it, &errors, &email);
    }
    if (bson_iter_init_find(&it, &req->body, "place_id")) {
        if (BSON_ITER_HOLDS_NULL(&it))
            place_null = true;
        else if (!BSON_ITER_HOLDS_INT(&it) || bson_iter_as_int64(&it) <= 0)
            field_errors_add(&errors, "place_id", "must be a positive integer place id, or null");
        else {
            has_place = true;
            place_id = bson_iter_as_int64(&it);
        }
    }
    if (bson_iter_init_find(&it, &req->body, "password")) {
        users_check_password(&it, &errors, "password", &password);
        if (!bson_iter_init_find(&it, &req->body, "current_password"))
            field_errors_add(&errors, "current_password", "is required to change the password");
        else
            users_check_given_password(&it, &errors, "current_password", &current);
    } else if (bson_iter_init_find(&it, &req->body, "current_password")) {
        field_errors_add(&errors, "current_password", "is only used together with password");
    }
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    if (has_place && !users_place_exists(call, place_id))
        goto done;
    if (username != NULL)
        username_key = text_key(username, strlen(username));
    if (email != NULL)
        new_email_key = text_key(email, strlen(email));

    for (int attempt = 0; attempt < USERS_EDIT_ATTEMPTS; attempt++) {
        bool found;
        bson_t *by_id = BCON_NEW("_id", BCON_INT64(id));
        bool ok = svc_find_one(users, by_id, &doc, &found, &error);
        bson_destroy(by_id);
        if (!ok) {
            svc_fail_db(call, &error);
            goto release;
        }
        if (!found) {
            svc_fail(call, 404, "not_found", "no user has id %lld", (long long)id);
            goto release;
        }
        int64_t version = svc_version(&doc);
        if (bson_iter_init_find(&it, &doc, "last_rid") && BSON_ITER_HOLDS_UTF8(&it) &&
            strcmp(bson_iter_utf8(&it, NULL), call->key) == 0) {
            users_render(&doc, &out); /* a second delivery of a change already made */
            svc_reply(call, 200, &out);
            goto done;
        }
        if (!svc_expected(req, version)) {
            svc_fail(call, 412, "precondition_failed", "the user changed since your copy (ETag \"%lld\" now)",
                     (long long)version);
            goto release;
        }
        if (attempt == 0 && password != NULL) {
            const char *stored_hash = bson_iter_init_find(&it, &doc, "password_hash") && BSON_ITER_HOLDS_UTF8(&it)
                                          ? bson_iter_utf8(&it, NULL)
                                          : NULL;
            /* current_password is a password guess like a login's: it
             * counts against the same failed-login quotas. */
            const char *key = bson_iter_init_find(&it, &doc, "username_key") && BSON_ITER_HOLDS_UTF8(&it)
                                  ? bson_iter_utf8(&it, NULL)
                                  : "";
            users_check_t check;
            envelope_rate_limit_t limit;
            int allowed = stored_hash != NULL ? users_password_check_begin(call, key, &check, &limit, &error) : 1;
            if (allowed <= 0) {
                if (allowed < 0)
                    svc_fail_db(call, &error);
                else
                    users_fail_too_many(call, &limit);
                goto release;
            }
            if (!users_hash_slot_take(false)) {
                if (stored_hash != NULL)
                    users_password_check_end(call, &check, true);
                users_fail_hash_busy(call);
                goto release;
            }
            bool matches = stored_hash == NULL || crypto_pwhash_str_verify(stored_hash, current, strlen(current)) == 0;
            bool hashed = matches && users_hash_password(password, hash);
            users_hash_slot_give();
            if (stored_hash != NULL)
                users_password_check_end(call, &check, matches);
            if (!matches) {
                field_errors_add(&errors, "current_password", "does not match the current password");
                svc_fail_fields(call, &errors);
                goto release;
            }
            if (!hashed) {
                svc_fail(call, 503, "overloaded", "not enough memory to hash the password; retry later");
                svc_retry_after(call, 1);
                goto release;
            }
        }
        free(old_email_key);
        old_email_key = NULL;
        if (bson_iter_init_find(&it, &doc, "email") && BSON_ITER_HOLDS_UTF8(&it))
            old_email_key = text_key(bson_iter_utf8(&it, NULL), strlen(bson_iter_utf8(&it, NULL)));
        if (!claimed && new_email_key != NULL && (old_email_key == NULL || strcmp(new_email_key, old_email_key) != 0)) {
            int claim = users_claim_email(call->mongo, new_email_key, call->key, &error);
            if (claim != 0) {
                if (claim == 409)
                    svc_fail(call, 409, "email_taken", "the email address is already registered");
                else
                    svc_fail_db(call, &error);
                goto release;
            }
            claimed = true;
        }

        bson_t update = BSON_INITIALIZER, set, unset;
        BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
        if (first != NULL)
            BSON_APPEND_UTF8(&set, "first_name", first);
        if (last != NULL)
            BSON_APPEND_UTF8(&set, "last_name", last);
        if (first != NULL || last != NULL) {
            bson_iter_t fi, li;
            const char *f = first, *l = last;
            if (f == NULL && bson_iter_init_find(&fi, &doc, "first_name"))
                f = bson_iter_utf8(&fi, NULL);
            if (l == NULL && bson_iter_init_find(&li, &doc, "last_name"))
                l = bson_iter_utf8(&li, NULL);
            char *name = bson_strdup_printf("%s %s", f ? f : "", l ? l : "");
            BSON_APPEND_UTF8(&set, "name", name);
            bson_free(name);
        }
        if (birth != NULL)
            BSON_APPEND_UTF8(&set, "birth_date", birth);
        if (email != NULL)
            BSON_APPEND_UTF8(&set, "email", email);
        if (has_place)
            BSON_APPEND_INT64(&set, "place_id", place_id);
        if (username != NULL) {
            BSON_APPEND_UTF8(&set, "username", username);
            BSON_APPEND_UTF8(&set, "username_key", username_key);
        }
        if (password != NULL)
            BSON_APPEND_UTF8(&set, "password_hash", hash);
        BSON_APPEND_INT64(&set, "version", version + 1);
        BSON_APPEND_INT64(&set, "updated_at", svc_now_us());
        BSON_APPEND_UTF8(&set, "last_rid", call->key);
        bson_append_document_end(&update, &set);
        /* A new password ends every token issued before it (auth.h). */
        if (password != NULL) {
            bson_t inc;
            BSON_APPEND_DOCUMENT_BEGIN(&update, "$inc", &inc);
            BSON_APPEND_INT64(&inc, "token_gen", 1);
            bson_append_document_end(&update, &inc);
        }
        if (email_null || place_null) {
            BSON_APPEND_DOCUMENT_BEGIN(&update, "$unset", &unset);
            if (email_null)
                BSON_APPEND_UTF8(&unset, "email", "");
            if (place_null)
                BSON_APPEND_UTF8(&unset, "place_id", "");
            bson_append_document_end(&update, &unset);
        }
        int applied = svc_update_at_version(users, id, version, NULL, &update, &error);
        bson_destroy(&update);
        if (applied < 0) {
            if (svc_is_duplicate(&error))
                svc_fail(call, 409, "username_taken", "the username '%s' is already taken", username ? username : "");
            else
                svc_fail_db(call, &error);
            goto release;
        }
        if (applied == 0) {
            bson_reinit(&doc);
            continue; /* another change made this version first: read it again */
        }
        if (password != NULL)
            svc_auth_forget(id);
        /* The old address is free once the profile no longer holds it. */
        if (old_email_key != NULL &&
            (email_null || (new_email_key != NULL && strcmp(new_email_key, old_email_key) != 0)))
            users_release_email(call->mongo, old_email_key, NULL);
        bson_t *by_id_again = BCON_NEW("_id", BCON_INT64(id));
        bson_reinit(&doc);
        ok = svc_find_one(users, by_id_again, &doc, &found, &error);
        bson_destroy(by_id_again);
        if (!ok)
            svc_fail_db(call, &error);
        else if (!found)
            svc_fail(call, 404, "not_found", "no user has id %lld", (long long)id);
        else {
            users_render(&doc, &out);
            svc_reply(call, 200, &out);
        }
        goto done;
    }
    svc_fail(call, 409, "conflict", "the user kept changing under this request; retry");
release:
    if (claimed)
        users_release_email(call->mongo, new_email_key, call->key);
done:
    free(new_email_key);
    free(old_email_key);
    free(username_key);
    field_errors_destroy(&errors);
    bson_destroy(&doc);
    bson_destroy(&out);
    mongoc_collection_destroy(users);
}
