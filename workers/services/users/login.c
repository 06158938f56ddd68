/*
 * users.login: a password for a token. A wrong password and an unknown
 * username cost the same Argon2id work and get the same 401, so the two
 * cannot be told apart; and the one Argon2id hash every password is stored
 * as (users_hash_password).
 */
#include "users.h"
#include "config.h"
#include "log.h"
#include "text.h"
#include "token.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

bool
users_hash_password(const char *password, char hash[crypto_pwhash_STRBYTES])
{
    return crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
}

/* Verifies a password against a dummy hash, so that an unknown username
 * costs as much time as a wrong password and the two cannot be told apart. */
static void
users_burn_verify(const char *password)
{
    static char dummy[crypto_pwhash_STRBYTES];
    static bool ready;
    if (!ready) {
        users_hash_password("roost-dummy-password", dummy);
        ready = true;
    }
    volatile int ignored = crypto_pwhash_str_verify(dummy, password, strlen(password));
    (void)ignored;
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
    /* Accounts made through the classic API have no password and cannot log in. */
    bool has_hash = found && bson_iter_init_find(&it, &doc, "password_hash") && BSON_ITER_HOLDS_UTF8(&it);
    if (!has_hash) {
        users_burn_verify(password);
        svc_fail(call, 401, "invalid_credentials", "the username or the password is wrong");
        goto done;
    }
    if (crypto_pwhash_str_verify(bson_iter_utf8(&it, NULL), password, strlen(password)) != 0) {
        svc_fail(call, 401, "invalid_credentials", "the username or the password is wrong");
        goto done;
    }
    bson_iter_init_find(&it, &doc, "_id");
    const token_config_t *cfg = token_config();
    char *token = token_issue(cfg, bson_iter_as_int64(&it), (int64_t)time(NULL));
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
    mongoc_collection_destroy(users);
}
