/* Fuzz: the request headers Roost reads itself (shared/http.c): If-Match,
 * If-None-Match, Authorization and the bearer token it carries (JWT
 * decoding, shared/token.c), Content-Type, Accept-Encoding. */
#include "fuzz.h"
#include "http.h"
#include "token.h"

#include <stdlib.h>

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("ROOST_ENV", "dev", 1);
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *v = (const char *)data;
    int64_t versions[32];
    size_t n;
    bool any;
    http_if_match_versions(v, size, versions, 32, &n, &any);
    http_if_match(v, size, 7);
    http_if_none_match(v, size, 7);
    static const char *const types[] = {"application/json", "application/merge-patch+json", NULL};
    http_media_type_is(v, size, types);
    http_accept_encoding(v, size);
    const char *token;
    size_t token_len;
    if (http_bearer(v, size, &token, &token_len) && token_len <= TOKEN_MAX) {
        char *copy = fuzz_cstr((const uint8_t *)token, token_len);
        token_claims_t claims;
        token_verify(token_config(), copy, 1700000000, &claims);
        free(copy);
    }
    char *whole = fuzz_cstr(data, size); /* the input as a token by itself */
    token_claims_t claims;
    token_verify(token_config(), whole, 1700000000, &claims);
    free(whole);
    return 0;
}
