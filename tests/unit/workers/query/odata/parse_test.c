/* The $filter parser (workers/query/odata/parse.c): OData's precedence,
 * each grammar error at its character, and the limits on depth, terms, in
 * lists and length. */
#include "expect.h"

static void
odata_precedence(void **state)
{
    /* and binds tighter than or; both associate left (printed flattened). */
    expect_tree("a eq 1 or b eq 2 and c eq 3", "(or (eq a 1) (and (eq b 2) (eq c 3)))");
    expect_tree("a eq 1 and b eq 2 or c eq 3", "(or (and (eq a 1) (eq b 2)) (eq c 3))");
    expect_tree("(a eq 1 or b eq 2) and c eq 3", "(and (or (eq a 1) (eq b 2)) (eq c 3))");
    expect_tree("a eq 1 and b eq 2 and c eq 3", "(and (eq a 1) (eq b 2) (eq c 3))");
    expect_tree("a eq 1 and (b eq 2 and c eq 3)", "(and (eq a 1) (eq b 2) (eq c 3))");
    /* not binds tighter than a comparison, and applies to one operand... */
    expect_tree("not a eq 1", "(eq (not a) 1)");
    expect_tree("not (a eq 1) and b eq 2", "(and (not (eq a 1)) (eq b 2))");
    expect_tree("not not contains(name,'x')", "(not (not (contains name 'x')))");
    /* ...but in binds tighter still (Part 2 §5.1.1.16). */
    expect_tree("not price in (1, 2,3)", "(not (in price (1 2 3)))");
    expect_tree("price in ('a')", "(in price ('a'))");
    expect_tree("contains(tolower(name), 'x')", "(contains (tolower name) 'x')");
    expect_tree("  ( ( price  eq 5 ) )  ", "(eq price 5)");
    expect_tree("true", "true");
}

/* What the grammar refuses, named at its character. */
static void
odata_grammar_errors(void **state)
{
    expect_syntax_error("", 1, "empty");
    expect_syntax_error("price eq", 9, "expected a field, a literal");
    expect_syntax_error("price eq 5 5", 12, "expected and, or, a comparison or the end");
    expect_syntax_error("(price eq 5", 12, "expected ')' to close the '(' at character 1");
    expect_syntax_error("price eq 5)", 11, "found ')'");
    expect_syntax_error("price in 1", 10, "expected '(' and a list");
    expect_syntax_error("price in (a)", 11, "expected a literal in the list");
    expect_syntax_error("price in (1,)", 13, "expected a literal in the list");
    expect_syntax_error("contains(name 'x')", 15, "expected ',' or ')'");
    expect_syntax_error("and eq 1", 1, "found 'and'");
    expect_syntax_error("price eq 5 and", 15, "found the end of the filter");
    expect_syntax_error("price eq 5 and(user_id eq 6)", 15, "expected a space after 'and'");
    expect_syntax_error("(price eq 5)and (user_id eq 6)", 13, "expected a space before 'and'");
    expect_syntax_error("not(price eq 5)", 4, "expected a space after 'not'");
    expect_syntax_error("name eq 'x'or name eq 'y'", 12, "expected a space before 'or'");
    expect_syntax_error("price in(1)", 9, "expected a space after 'in'");
}

static void
odata_limits(void **state)
{
    char buf[ODATA_MAX_LENGTH + 64];
    /* Depth: 16 parentheses pass, 17 do not. */
    snprintf(buf, sizeof(buf), "%.*sa eq 1%.*s", 16, "((((((((((((((((((((", 16, "))))))))))))))))))))");
    expect_tree(buf, "(eq a 1)");
    snprintf(buf, sizeof(buf), "%.*sa eq 1%.*s", 17, "((((((((((((((((((((", 17, "))))))))))))))))))))");
    expect_syntax_error(buf, 17, "nested more than 16 deep");
    /* Terms: 32 conditions pass, 33 do not. */
    size_t at = 0;
    for (int i = 0; i < 33; i++)
        at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%sa eq %d", i ? " or " : "", i);
    odata_error_t err;
    odata_node_t *root = odata_parse(buf, at, &err);
    assert_null(root);
    assert_non_null(strstr(err.message, "more than 32 conditions"));
    buf[at - strlen(" or a eq 32")] = '\0';
    root = odata_parse(buf, strlen(buf), &err);
    assert_non_null(root);
    odata_free(root);
    /* in: 100 values pass, 101 do not. */
    at = (size_t)snprintf(buf, sizeof(buf), "price in (");
    for (int i = 0; i < 101; i++)
        at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s%d", i ? "," : "", i);
    snprintf(buf + at, sizeof(buf) - at, ")");
    root = odata_parse(buf, strlen(buf), &err);
    assert_null(root);
    assert_non_null(strstr(err.message, "more than 100 values"));
    /* Length. */
    memset(buf, ' ', ODATA_MAX_LENGTH + 1);
    memcpy(buf, "a eq 1", 6);
    root = odata_parse(buf, ODATA_MAX_LENGTH + 1, &err);
    assert_null(root);
    assert_int_equal(err.pos, 0);
    assert_non_null(strstr(err.message, "longer than 2000"));
    root = odata_parse(buf, ODATA_MAX_LENGTH, &err);
    assert_non_null(root);
    odata_free(root);
    /* A limit of its own: Roost's rewrite of a client's filter. */
    root = odata_parse_max(buf, ODATA_MAX_LENGTH + 1, ODATA_MAX_LENGTH + 1, &err);
    assert_non_null(root);
    odata_free(root);
    assert_null(odata_parse_max(buf, 11, 10, &err));
    assert_non_null(strstr(err.message, "longer than 10 characters"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(odata_precedence),
        cmocka_unit_test(odata_grammar_errors),
        cmocka_unit_test(odata_limits),
    };
    return cmocka_run_group_tests_name("/query/odata/parse", tests, NULL, NULL);
}
