/* Cross-origin decisions (ingress/cors.c): the allow-list, origins and preflight headers. */
#include "roost_test.h"

#include "cors.h"

#define S_(s) (s), sizeof(s) - 1

static void
cors_allow_list(void **state)
{
    cors_config_t c;
    const char *bad = NULL;
    assert_true(cors_parse("https://app.example, http://localhost:5173", &c, &bad));
    assert_true(c.enabled);
    assert_true(cors_origin_allowed(&c, S_("https://app.example")));
    assert_true(cors_origin_allowed(&c, S_("HTTPS://APP.EXAMPLE")));
    assert_true(cors_origin_allowed(&c, S_("http://localhost:5173")));
    assert_false(cors_origin_allowed(&c, S_("https://evil.example")));
    assert_false(cors_origin_allowed(&c, S_("https://app.example.evil")));
    assert_false(cors_origin_allowed(&c, S_("null")));
    cors_free(&c);
    assert_true(cors_parse("*", &c, &bad));
    assert_true(c.any && cors_origin_allowed(&c, S_("https://any.example")));
    cors_free(&c);
    assert_true(cors_parse("", &c, &bad));
    assert_false(c.enabled);
    assert_false(cors_origin_allowed(&c, S_("https://app.example")));
    assert_false(cors_parse("https://app.example/path", &c, &bad));
    assert_false(cors_parse("https://ok.example, app.example", &c, &bad));
    assert_string_equal(bad, "app.example");
    assert_true(cors_headers_allowed(S_("authorization, content-type")));
    assert_true(cors_headers_allowed(S_("If-Match,X-Request-Id")));
    assert_false(cors_headers_allowed(S_("authorization, x-evil")));
    /* What a browser OData client on an allowed origin sends to /reso/odata. */
    assert_true(cors_headers_allowed(S_("odata-version,odata-maxversion,prefer,if-none-match")));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cors_allow_list),
    };
    return cmocka_run_group_tests_name("/ingress/cors", tests, NULL, NULL);
}
