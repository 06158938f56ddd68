/*
 * Bearer tokens: JWTs signed with HS256 (libjwt). The users service issues
 * them at login; the ingress verifies them and passes the subject to the
 * workers as auth.sub. Both read the secret from ROOST_JWT_SECRET.
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

/* A signed token for `sub`, expiring after the configured TTL; free with free(). */
char *token_issue(const token_config_t *cfg, int64_t sub, int64_t now_seconds);

/* Verifies signature, algorithm, expiry and subject of `token`. */
token_status_t token_verify(const token_config_t *cfg, const char *token, int64_t now_seconds, int64_t *sub);

const char *token_status_message(token_status_t status);

#endif
