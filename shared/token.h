/*
 * Bearer tokens: JWTs signed with HS256 (libjwt). The users service issues
 * them at login; the ingress verifies them and passes them on to the
 * workers as auth.token, where the worker runtime verifies them again and
 * checks them against the user's token generation and revoked ids. Both
 * read the secret from ROOST_JWT_SECRET.
 */
#ifndef ROOST_TOKEN_H
#define ROOST_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    TOKEN_OK = 0,
    TOKEN_MALFORMED,     /* not three dot-separated parts, or not HS256 */
    TOKEN_BAD_SIGNATURE, /* unparseable, or its signature does not verify */
    TOKEN_EXPIRED,
    TOKEN_NO_SUBJECT, /* no positive integer "sub" */
} token_status_t;

typedef struct {
    const unsigned char *key;
    size_t key_len;
    int64_t ttl_seconds;
} token_config_t;

/*
 * Reads ROOST_JWT_SECRET and ROOST_JWT_TTL_SECONDS. Outside development
 * (ROOST_ENV set to anything but "dev") a missing or short secret is fatal:
 * the program reports it and exits. In development a fixed, public secret
 * is used, with a warning, so that `make run` works with no set-up.
 */
const token_config_t *token_config(void);

/* What a verified token says. */
typedef struct {
    int64_t sub; /* the user id */
    /* The user's token generation when it was issued ("gen"; 0 when
     * absent): raising the user's generation (a password change, logout
     * from everywhere) revokes every token issued before. */
    int64_t gen;
    char jti[33]; /* its id (RFC 7519 §4.1.7), "" when absent: what logout revokes */
    int64_t exp;  /* when it expires, in seconds since the epoch */
} token_claims_t;

/* The longest token verified, in bytes: longer than any issued (~220). */
#define TOKEN_MAX 4096

/* A signed token for `sub` at generation `gen`, with a fresh random jti,
 * expiring after the configured TTL; free with free(). */
char *token_issue(const token_config_t *cfg, int64_t sub, int64_t gen, int64_t now_seconds);

/* Verifies signature, algorithm, expiry and subject of `token` and reads
 * its claims into *out (on TOKEN_OK only). Whether its generation and jti
 * are still good is the worker's to decide (workers/sdk/auth.h). */
token_status_t token_verify(const token_config_t *cfg, const char *token, int64_t now_seconds, token_claims_t *out);

const char *token_status_message(token_status_t status);

#endif
