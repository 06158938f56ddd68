/* Bearer tokens: issued tokens verify; expired, tampered, foreign, and
 * odd-subject tokens do not. */
#include "roost_test.h"

#include "token.h"

#define SECRET "a-test-secret-that-is-long-enough-1234"
static const token_config_t cfg = {(const unsigned char *)SECRET, sizeof(SECRET) - 1, 3600};
static const token_config_t other = {(const unsigned char *)"another-secret-entirely-0123456789", 34, 3600};

static void
token_issued_verifies(void **state)
{
    token_claims_t sub;
    char *t = token_issue(&cfg, 42, 0, 1000000);
    assert_non_null(t);
    assert_int_equal(token_verify(&cfg, t, 1000000 + 10, &sub), TOKEN_OK);
    assert_int_equal(sub.sub, 42);
    free(t);
}

static void
token_expires(void **state)
{
    token_claims_t sub;
    char *t = token_issue(&cfg, 42, 0, 1000000);
    assert_int_equal(token_verify(&cfg, t, 1000000 + 3600, &sub), TOKEN_EXPIRED);
    free(t);
}

static void
token_tampered_or_foreign_is_refused(void **state)
{
    token_claims_t sub;
    char *t = token_issue(&cfg, 42, 0, 1000000);
    char *dot = strchr(t, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A'; /* one character of the payload */
    assert_int_not_equal(token_verify(&cfg, t, 1000001, &sub), TOKEN_OK);
    free(t);
    t = token_issue(&other, 42, 0, 1000000);
    assert_int_equal(token_verify(&cfg, t, 1000001, &sub), TOKEN_BAD_SIGNATURE);
    free(t);
}

static void
token_malformed_is_refused(void **state)
{
    token_claims_t sub;
    static const char *const bad[] = {"", "abc", "a.b", "a.b.c.d", "a.b.", "....",
                                      /* alg none, sub 1, no signature */
                                      "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiZXhwIjo5OTk5OTk5OTk5fQ."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_not_equal(token_verify(&cfg, bad[i], 1000000, &sub), TOKEN_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_issued_verifies),
        cmocka_unit_test(token_expires),
        cmocka_unit_test(token_tampered_or_foreign_is_refused),
        cmocka_unit_test(token_malformed_is_refused),
    };
    return cmocka_run_group_tests_name("/token", tests, NULL, NULL);
}
