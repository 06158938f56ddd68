/* The $filter lexer (workers/query/odata/lex.c): literals as the OData ABNF
 * writes them, each lexical error at its character, and text that is not
 * UTF-8. */
#include "expect.h"

static void
odata_literals(void **state)
{
    /* A quote inside a string is doubled (ABNF SQUOTE-in-string). */
    expect_tree("name eq 'it''s'", "(eq name 'it''s')");
    expect_tree("name eq ''''", "(eq name '''')");
    expect_tree("name eq ''", "(eq name '')");
    expect_tree("name eq 'café ☕'", "(eq name 'café ☕')");
    /* Negative numbers are literals; decimals and exponents are doubles. */
    expect_tree("price gt -5", "(gt price -5)");
    expect_tree("price gt -0.5", "(gt price -0.5)");
    expect_tree("price lt 1.5e3", "(lt price 1500)");
    expect_tree("price lt 2E-1", "(lt price 0.20000000000000001)");
    expect_tree("price eq 9223372036854775807", "(eq price 9223372036854775807)");
    expect_tree("x eq true", "(eq x true)");
    expect_tree("x ne null", "(ne x null)");
    expect_tree("created_at gt 2026-01-31", "(gt created_at date:2026-01-31)");
    expect_tree("created_at gt 2024-02-29T10:00:00Z", "(gt created_at datetime:2024-02-29T10:00:00.000000Z)");
    expect_tree("created_at gt 2026-01-31T01:30:00+02:00", "(gt created_at datetime:2026-01-30T23:30:00.000000Z)");
    expect_tree("created_at gt 2026-01-31T10:00Z", "(gt created_at datetime:2026-01-31T10:00:00.000000Z)");
    expect_tree("created_at gt 2026-01-31T10:00:05.25Z", "(gt created_at datetime:2026-01-31T10:00:05.250000Z)");
    expect_tree("5 lt price", "(lt 5 price)");
}

/* A token that cannot be read, named at its character. */
static void
odata_lexical_errors(void **state)
{
    expect_syntax_error("price eq 'abc", 10, "never closed");
    expect_syntax_error("price ~ 5", 7, "unexpected character '~'");
    expect_syntax_error("price eq - 5", 10, "unexpected character '-'");
    expect_syntax_error("price eq 1.", 12, "digit after the decimal point");
    expect_syntax_error("price eq 1e", 12, "exponent");
    expect_syntax_error("price eq 12abc", 12, "end of the number");
    expect_syntax_error("price eq 99999999999999999999", 10, "out of range");
    expect_syntax_error("d eq 2026-02-30", 6, "real month and day");
    expect_syntax_error("d eq 2026-13-01", 6, "real month and day");
    expect_syntax_error("d eq 2026-01-01T25:00Z", 6, "date-time");
    expect_syntax_error("d eq 2026-01-01T10:00", 22, "Z or an offset");
    expect_syntax_error("né eq 1", 2, "unexpected character 'é'");
    expect_syntax_error("name eq 'x' €", 13, "unexpected character '€'");
}

/* The length is in characters; text that is not UTF-8, or holds a NUL, is refused. */
static void
odata_text_is_characters(void **state)
{
    char buf[ODATA_MAX_LENGTH + 64];
    odata_error_t err;
    size_t at = (size_t)snprintf(buf, sizeof(buf), "name eq '");
    for (int i = 0; i < 1500 && at + 3 < sizeof(buf); i++)
        at += (size_t)snprintf(buf + at, sizeof(buf) - at, "\xc3\xa9");
    snprintf(buf + at, sizeof(buf) - at, "'");
    odata_node_t *root = odata_parse(buf, strlen(buf), &err);
    assert_non_null(root);
    odata_free(root);
    assert_null(odata_parse("name eq '\xff'", 12, &err));
    assert_non_null(strstr(err.message, "UTF-8"));
    assert_null(odata_parse("name eq '\0'", 11, &err));
    /* A position counts characters before it, not bytes. */
    expect_syntax_error("name eq 'é' ~", 13, "unexpected character '~'");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(odata_literals),
        cmocka_unit_test(odata_lexical_errors),
        cmocka_unit_test(odata_text_is_characters),
    };
    return cmocka_run_group_tests_name("/query/odata/lex", tests, NULL, NULL);
}
