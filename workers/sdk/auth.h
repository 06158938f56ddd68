/*
 * Who is calling: the bearer token a request carries (auth.token), checked
 * by the worker runtime for every op and every caller, HTTP or direct nng.
 *
 * A token is good when its signature and expiry verify (shared/token.h)
 * and, in the users service's record of its user, its generation ("gen")
 * is the user's current token_gen and its jti is not among the user's
 * revoked_tokens. A password change and POST /api/v1/auth/logout-all raise
 * token_gen; POST /api/v1/auth/logout adds the token's jti. What this
 * process read of a user is reused for at most SVC_AUTH_CACHE_MS, so a
 * revocation reaches every worker within that time (the bar: 1 s);
 * a token of a newer generation than the one remembered has the user read
 * again, so a token issued after a revocation is never refused for it.
 */
#ifndef ROOST_SDK_AUTH_H
#define ROOST_SDK_AUTH_H

#include "token.h"

#include <mongoc/mongoc.h>

#define SVC_AUTH_CACHE_MS 500
/* The most revoked token ids one logout lets a user record hold; past
 * it, logout raises the generation instead (every token of the user ends).
 * A reader keeps twice as many, so that logouts racing past the count
 * (it is read, then pushed to) are still seen. */
#define SVC_AUTH_REVOKED_MAX 32
#define SVC_AUTH_REVOKED_READ (2 * SVC_AUTH_REVOKED_MAX)

typedef enum {
    SVC_AUTH_GOOD,
    SVC_AUTH_REVOKED, /* an earlier generation, a revoked jti, or no such user */
    SVC_AUTH_DB_ERROR,
} svc_auth_status_t;

/* Checks a verified token's claims against its user's record. */
svc_auth_status_t svc_auth_check(mongoc_client_t *mongo, const token_claims_t *claims, bson_error_t *error);

/* Forgets what this process read of `sub`, after changing it. */
void svc_auth_forget(int64_t sub);

#endif
