/*
 * users.login: a password for a token; users.logout and users.logout_all
 * revoke tokens. A wrong password and an unknown username cost the same
 * Argon2id work and get the same 401, so the two cannot be told apart.
 * Every password check holds a hash slot and counts against the failed-
 * login limits (guard.c) before it runs.
 */
#include "users.h"
#include "sdk/auth.h"
#include "config.h"
#include "log.h"
#include "text.h"
#include "token.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <time.h>

bool
users_hash_password(const char *password, char hash[crypto_pwhash_STRBYTES])
{
    return crypto_pwhash_str_alg(hash, password, strlen(password), USERS_HASH_OPSLIMIT, USERS_HASH_MEMLIMIT,
                                 crypto_pwhash_ALG_ARGON2ID13) == 0;
}

static char users_dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t users_dummy_once = PTHREAD_ONCE_INIT;

static void
users_make_dummy(void)
{
    users_hash_password("roost-dummy-password", users_dummy_hash);
}

/* Verifies a password against a dummy hash, so that an unknown username
 * costs as much time as a wrong password and the two cannot be told apart. */
static void
users_burn_verify(const char *password)
{
    pthread_once(&users_dummy_once, users_make_dummy);
    volatile int ignored = crypto_pwhash_str_verify(users_dummy_hash, password, strlen(password));
    (void)ignored;
}

/* A hash made with older parameters (64 MiB before the hardening) is
 * replaced by one at today's once its password is known to be right. */
static void
users_rehash_if_old(svc_call_t *call, mongoc_collection_t *users, int64_t id, const char *stored, const char *password)
{
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_needs_rehash(stored, USERS_HASH_OPSLIMIT, USERS_HASH_MEMLIMIT) == 0 ||
        !users_hash_password(password, hash))
        return;
    bson_t *filter = BCON_NEW("_id", BCON_INT64(id), "password_hash", BCON_UTF8(stored));
    bson_t *update = BCON_NEW("$set", "{", "password_hash", BCON_UTF8(hash), "}");
    bson_error_t error;
    if (!svc_update(users, filter, update, false, &error))
        log_warn("rid=%s could not store a rehashed password: %s", call->req->rid, error.message);
    bson_destroy(update);
    bson_destroy(filter);
}

void
users_login(svc_call_t *call)
{
    static const char *const fields[] = {"username", "password", NULL};
    const envelope_request_t *req = call->req;
    field_errors_t errors;
    bson_iter_t it;
    bson_error_t error;
    const char *username = NULL, *password = NULL;
    char *username_key = NULL;
    bson_t doc = BSON_INITIALIZER, body = BSON_INITIALIZER;
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");
    envelope_rate_limit_t limit = {0}; /* policy NULL: no limit applies */
    users_check_t check;

    field_errors_init(&errors);
    validate_known_fields(&req->body, fields, &errors);
    if (!bson_iter_init_find(&it, &req->body, "username"))
        field_errors_add(&errors, "username", "is required");
    else
        validate_text(&it, &errors, "username", 1, 64, &username);
    if (!bson_iter_init_find(&it, &req->body, "password"))
        field_errors_add(&errors, "password", "is required");
    else
        users_check_given_password(&it, &errors, "password", &password);
    if (errors.count > 0) {
        svc_fail_fields(call, &errors);
        goto done;
    }
    username_key = text_key(username, strlen(username));
    bson_t *filter = BCON_NEW("username_key", BCON_UTF8(username_key));
    bool found;
    bool ok = svc_find_one(users, filter, &doc, &found, &error);
    bson_destroy(filter);
    if (!ok) {
        svc_fail_db(call, &error);
        goto done;
    }
    /* Counted, and refused past the quota, before any hashing: a flood of
     * guesses costs a counter update each. */
    int allowed = users_password_check_begin(call, username_key, &check, &limit, &error);
    if (allowed < 0) {
        svc_fail_db(call, &error);
        goto done;
    }
    if (allowed == 0) {
        users_fail_too_many(call, &limit);
        goto done;
    }
    if (!users_hash_slot_take(true)) {
        users_password_check_end(call, &check, true); /* no check ran: nothing to count */
        users_fail_hash_busy(call);
        goto done;
    }
    /* Accounts made through the classic API have no password and cannot log in. */
    bool has_hash = found && bson_iter_init_find(&it, &doc, "password_hash") && BSON_ITER_HOLDS_UTF8(&it);
    bool good = false;
    if (!has_hash)
        users_burn_verify(password);
    else
        good = crypto_pwhash_str_verify(bson_iter_utf8(&it, NULL), password, strlen(password)) == 0;
    if (good) {
        bson_iter_t id;
        bson_iter_init_find(&id, &doc, "_id");
        users_rehash_if_old(call, users, bson_iter_as_int64(&id), bson_iter_utf8(&it, NULL), password);
    }
    users_hash_slot_give();
    users_password_check_end(call, &check, good);
    if (!good) {
        svc_fail(call, 401, "invalid_credentials", "the username or the password is wrong");
        if (limit.policy != NULL)
            svc_rate_limit(call, &limit);
        goto done;
    }
    int64_t gen = bson_iter_init_find(&it, &doc, "token_gen") && BSON_ITER_HOLDS_INT(&it) ? bson_iter_as_int64(&it) : 0;
    bson_iter_init_find(&it, &doc, "_id");
    const token_config_t *cfg = token_config();
    char *token = token_issue(cfg, bson_iter_as_int64(&it), gen, (int64_t)time(NULL));
    if (token == NULL) {
        svc_fail(call, 500, "internal", "the token could not be signed");
        goto done;
    }
    BSON_APPEND_UTF8(&body, "access_token", token);
    BSON_APPEND_UTF8(&body, "token_type", "Bearer");
    BSON_APPEND_INT64(&body, "expires_in", cfg->ttl_seconds);
    free(token);
    svc_reply(call, 200, &body);
done:
    free(username_key);
    field_errors_destroy(&errors);
    bson_destroy(&doc);
    bson_destroy(&body);
    svc_collection_close(users);
}

/* Applies `update` to the caller's user record and answers 204. */
static void
users_revoke(svc_call_t *call, const bson_t *update)
{
    bson_error_t error;
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");
    bson_t *filter = BCON_NEW("_id", BCON_INT64(call->req->auth_sub));
    if (!svc_update(users, filter, update, false, &error))
        svc_fail_db(call, &error);
    else
        svc_reply(call, 204, NULL);
    svc_auth_forget(call->req->auth_sub);
    bson_destroy(filter);
    svc_collection_close(users);
}

void
users_logout_all(svc_call_t *call)
{
    bson_t *update = BCON_NEW("$inc", "{", "token_gen", BCON_INT64(1), "}");
    users_revoke(call, update);
    bson_destroy(update);
}

void
users_logout(svc_call_t *call)
{
    bson_error_t error;
    bson_t doc = BSON_INITIALIZER;
    bson_iter_t it, list;
    bool found;

    if (!call->has_token) {
        svc_fail(call, 400, "no_token",
                 "logout ends the bearer token the request carries (auth.token), and it has none");
        return;
    }
    mongoc_collection_t *users = svc_collection(call->mongo, "users", "users");
    int64_t now = (int64_t)time(NULL);
    /* Revoked ids of tokens that have expired anyway are dropped first. */
    bson_t *filter = BCON_NEW("_id", BCON_INT64(call->req->auth_sub));
    bson_t *prune = BCON_NEW("$pull", "{", "revoked_tokens", "{", "exp", "{", "$lte", BCON_INT64(now), "}", "}", "}");
    bool ok = svc_update(users, filter, prune, false, &error) && svc_find_one(users, filter, &doc, &found, &error);
    bson_destroy(prune);
    bson_destroy(filter);
    svc_collection_close(users);
    if (!ok) {
        svc_fail_db(call, &error);
        bson_destroy(&doc);
        return;
    }
    size_t kept = 0;
    if (bson_iter_init_find(&it, &doc, "revoked_tokens") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &list))
        while (bson_iter_next(&list))
            kept++;
    bson_destroy(&doc);
    bson_t *update;
    /* A full list, or a token from before tokens had ids, cannot be ended
     * alone: every token of the user is ended instead. */
    if (kept >= SVC_AUTH_REVOKED_MAX || call->token.jti[0] == '\0')
        update = BCON_NEW("$inc", "{", "token_gen", BCON_INT64(1), "}");
    else
        update = BCON_NEW("$push", "{", "revoked_tokens", "{", "jti", BCON_UTF8(call->token.jti), "exp",
                          BCON_INT64(call->token.exp), "}", "}");
    users_revoke(call, update);
    bson_destroy(update);
}
