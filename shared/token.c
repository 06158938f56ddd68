/* HS256 JWT issue and verification over libjwt. */
#include "token.h"
#include "config.h"
#include "log.h"

#include <errno.h>
#include <jwt.h>
#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_DEV_SECRET "roost-development-secret-do-not-use-in-production"
#define TOKEN_MIN_SECRET 32

static token_config_t token_cfg;
static pthread_once_t token_once = PTHREAD_ONCE_INIT;

static void
token_load(void)
{
    const char *secret = cfg_str("ROOST_JWT_SECRET", NULL);
    bool dev = strcmp(cfg_str("ROOST_ENV", "dev"), "dev") == 0;
    if (secret == NULL) {
        if (!dev) {
            fprintf(stderr, "roost: ROOST_JWT_SECRET is required when ROOST_ENV is not \"dev\"\n");
            exit(2);
        }
        log_warn("ROOST_JWT_SECRET is not set: using the public development secret (ROOST_ENV=dev)");
        secret = TOKEN_DEV_SECRET;
    } else if (strlen(secret) < TOKEN_MIN_SECRET && !dev) {
        fprintf(stderr, "roost: ROOST_JWT_SECRET must have at least %d characters\n", TOKEN_MIN_SECRET);
        exit(2);
    }
    token_cfg.key = (const unsigned char *)secret;
    token_cfg.key_len = strlen(secret);
    token_cfg.ttl_seconds = cfg_int("ROOST_JWT_TTL_SECONDS", 3600, 1, 30 * 24 * 3600);
}

const token_config_t *
token_config(void)
{
    pthread_once(&token_once, token_load);
    return &token_cfg;
}

char *
token_issue(const token_config_t *cfg, int64_t sub, int64_t gen, int64_t now)
{
    jwt_t *jwt = NULL;
    char subject[24], jti[33], *out = NULL;

    snprintf(subject, sizeof(subject), "%lld", (long long)sub);
    /* Unique, not secret: the token's signature already guards it. */
    for (int i = 0; i < 4; i++)
        snprintf(jti + i * 8, 9, "%08x", nng_random());
    if (jwt_new(&jwt) != 0)
        return NULL;
    if (jwt_add_grant(jwt, "sub", subject) == 0 && jwt_add_grant(jwt, "jti", jti) == 0 &&
        jwt_add_grant_int(jwt, "gen", (long)gen) == 0 && jwt_add_grant_int(jwt, "iat", (long)now) == 0 &&
        jwt_add_grant_int(jwt, "exp", (long)(now + cfg->ttl_seconds)) == 0 &&
        jwt_set_alg(jwt, JWT_ALG_HS256, cfg->key, (int)cfg->key_len) == 0)
        out = jwt_encode_str(jwt);
    jwt_free(jwt);
    return out;
}

token_status_t
token_verify(const token_config_t *cfg, const char *token, int64_t now, token_claims_t *out)
{
    jwt_t *jwt = NULL;
    token_status_t status = TOKEN_OK;

    /* Three base64url parts, or it is not worth handing to the parser. */
    const char *dot1 = strchr(token, '.'), *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (strlen(token) > TOKEN_MAX || dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL || dot2[1] == '\0')
        return TOKEN_MALFORMED;
    /* libjwt checks the signature when given the key; a token it cannot
     * parse and one whose signature is wrong look the same from here. */
    if (jwt_decode(&jwt, token, cfg->key, (int)cfg->key_len) != 0)
        return TOKEN_BAD_SIGNATURE;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256) {
        status = TOKEN_MALFORMED; /* "alg": "none" and friends are never accepted */
        goto done;
    }

    errno = 0;
    long exp = jwt_get_grant_int(jwt, "exp");
    if (errno != 0 || exp <= now) {
        status = TOKEN_EXPIRED;
        goto done;
    }
    /* Digits only, no sign, no spaces, no leading zero, no overflow: a
     * subject names exactly one user id or none. */
    const char *subject = jwt_get_grant(jwt, "sub");
    size_t len = subject != NULL ? strlen(subject) : 0;
    bool digits = len > 0 && len <= 19 && subject[0] != '0';
    for (size_t i = 0; digits && i < len; i++)
        digits = subject[i] >= '0' && subject[i] <= '9';
    errno = 0;
    long long id = digits ? strtoll(subject, NULL, 10) : 0;
    if (!digits || errno != 0 || id <= 0) {
        status = TOKEN_NO_SUBJECT;
        goto done;
    }
    /* gen: absent in tokens issued before generations existed, which
     * then count as generation 0. */
    errno = 0;
    long gen = jwt_get_grant_int(jwt, "gen");
    if (errno == ENOENT)
        gen = 0;
    else if (errno != 0 || gen < 0) {
        status = TOKEN_MALFORMED;
        goto done;
    }
    const char *jti = jwt_get_grant(jwt, "jti");
    memset(out, 0, sizeof(*out));
    out->sub = id;
    out->gen = gen;
    out->exp = exp;
    if (jti != NULL && strlen(jti) < sizeof(out->jti))
        strcpy(out->jti, jti);
done:
    jwt_free(jwt);
    return status;
}

const char *
token_status_message(token_status_t status)
{
    switch (status) {
    case TOKEN_OK:
        return "ok";
    case TOKEN_MALFORMED:
        return "the bearer token is malformed";
    case TOKEN_BAD_SIGNATURE:
        return "the bearer token is not one this service signed";
    case TOKEN_EXPIRED:
        return "the bearer token has expired";
    case TOKEN_NO_SUBJECT:
        return "the bearer token names no user";
    }
    return "invalid token";
}
