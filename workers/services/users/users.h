/*
 * The users service: accounts, stored in the database <prefix>users.
 *
 * A user document is {_id, username, username_key (text_key: NFC + case
 * folded, unique), email?, password_hash?, first_name, last_name, name,
 * birth_date, place_id?, version, created_at, updated_at, rid, last_rid?,
 * token_gen?, revoked_tokens?: [{jti, exp}] (workers/sdk/auth.h)}. users_render decides what leaves
 * the service: never the password hash, the key or the rid.
 */
#ifndef ROOST_USERS_H
#define ROOST_USERS_H

#include "sdk/service.h"

#include <sodium.h>

extern const svc_service_t users_service;
/* The versions of the users database, {0}-terminated (migrations.c). */
extern const svc_migration_t users_migrations[];

#define USERS_PER_PAGE_DEFAULT 10
#define USERS_PER_PAGE_MAX 100
#define USERS_ID_FILTER_MAX 100

/* --- field rules (fields.c; pure, unit-tested) ---------------------------- */

/* A validated registration; strings point into the request body. */
typedef struct {
    const char *username;
    const char *password;
    const char *first_name;
    const char *last_name;
    const char *birth_date;
    const char *email; /* NULL when not given */
    int64_t place_id;  /* 0 when not given; its existence is checked with the places service */
} users_new_t;

/* Checks a registration body field by field. */
bool users_validate_new(const bson_t *body, field_errors_t *e, users_new_t *out);

/* One field each; add a precise error under `field` and return false when
 * the value breaks the rule. *out points into the iterated document. */
bool users_check_username(const bson_iter_t *it, field_errors_t *e, const char **out);
bool users_check_password(const bson_iter_t *it, field_errors_t *e, const char *field, const char **out);
/* A password given to be checked against the stored hash (log in, current_password): any length from 1. */
bool users_check_given_password(const bson_iter_t *it, field_errors_t *e, const char *field, const char **out);
bool users_check_name(const bson_iter_t *it, field_errors_t *e, const char *field, const char **out);
bool users_check_birth_date(const bson_iter_t *it, field_errors_t *e, const char **out);
bool users_check_email(const bson_iter_t *it, field_errors_t *e, const char **out);

/* --- shared by the handlers (users.c) ---------------------------------------- */

/* The public shape of a user document. */
void users_render(const bson_t *doc, bson_t *out);

/*
 * Claims an email address (lowercased) for `rid`: 0 when claimed now or
 * already by this same rid, 409 when someone else holds it, -1 on a
 * database error.
 */
int users_claim_email(mongoc_client_t *mongo, const char *email_key, const char *rid, bson_error_t *error);
/* Releases a claim: only the one `rid` made when rid is not NULL. */
void users_release_email(mongoc_client_t *mongo, const char *email_key, const char *rid);

/* --- guards of the password checks (guard.c) --------------------------------- */

/* Failed logins allowed per window: ROOST_LOGIN_LIMIT_PER_USERNAME (10),
 * ROOST_LOGIN_LIMIT_PER_ADDRESS (100), ROOST_LOGIN_LIMIT_WINDOW_SECONDS
 * (300); a quota of 0 is no limit. */
typedef struct {
    int64_t per_username, per_address, window;
} users_login_limits_t;
const users_login_limits_t *users_login_limits(void);

/* One of the worker's ROOST_PASSWORD_HASH_CONCURRENCY (default: one per
 * core) Argon2id slots, waiting at most ROOST_PASSWORD_HASH_WAIT_MS (20)
 * for a login, USERS_HASH_WRITE_WAIT_MS for a registration or a password
 * change (a burst of sign-ups is traffic to serve, and the write limits
 * bound it; a login flood is refused at once): false when none came free,
 * and the caller answers users_fail_hash_busy. A slot bounds the memory of
 * hashing (19 MiB each) and keeps hashes from holding every context. */
#define USERS_HASH_WRITE_WAIT_MS 2000
bool users_hash_slot_take(bool login);
void users_hash_slot_give(void);
/* 503 password_checks_busy with Retry-After: 1. */
void users_fail_hash_busy(svc_call_t *call);

/* The failed-login counters one password check holds (guard.c). */
typedef struct {
    size_t n; /* how many counters it holds: the username's, the address's */
    char ids[2][ENVELOPE_ADDR_MAX + 600];
    const char *kinds[2];
    int64_t quotas[2];
    int64_t window_start, now;
} users_check_t;

/*
 * Starts a password check (a login, or a password change's
 * current_password) for `username_key` from the request's client address:
 * counts it, before any hashing, against both failed-login quotas. 1: go
 * on; 0: a quota is spent, answer 429 (the attempt is not counted); -1: a
 * database error. *state is the limit to report: the one that refused,
 * else the username's, with this attempt counted as a failure. Counting
 * first makes the quota exact however many checks run at once.
 */
int users_password_check_begin(svc_call_t *call, const char *username_key, users_check_t *check,
                               envelope_rate_limit_t *state, bson_error_t *error);
/* Ends it: a right password takes its attempt back; a wrong one stays counted. */
void users_password_check_end(svc_call_t *call, const users_check_t *check, bool good);
/* 429 too_many_failed_logins with Retry-After and the limit's state. */
void users_fail_too_many(svc_call_t *call, const envelope_rate_limit_t *state);

/* --- handlers in account.c ----------------------------------------------------- */
void users_create(svc_call_t *call);
void users_login(svc_call_t *call);
/* users.logout: revokes the caller's token; users.logout_all: every token
 * of the caller (raises token_gen). Both 204. */
void users_logout(svc_call_t *call);
void users_logout_all(svc_call_t *call);
/* Argon2id (libsodium's crypto_pwhash_str) at OWASP's second listed
 * configuration: 19 MiB, 2 passes, 1 lane (docs/security.md). */
#define USERS_HASH_MEMLIMIT (19u * 1024u * 1024u)
#define USERS_HASH_OPSLIMIT 2u
/* The hash of a password, as stored; false when memory is short. The
 * caller holds a hash slot (users_hash_slot_take). */
bool users_hash_password(const char *password, char hash[crypto_pwhash_STRBYTES]);
void users_update(svc_call_t *call);

/* --- handlers in classic.c: the classic listings/users contract ---------------- */
/* The classic and the public API's create: one op body, {"user"}. */
void users_classic_create(svc_call_t *call);
void users_classic_list(svc_call_t *call);
void users_classic_get(svc_call_t *call);

/* --- handlers in people.c ------------------------------------------------------ */
void users_by_place(svc_call_t *call);

#endif
