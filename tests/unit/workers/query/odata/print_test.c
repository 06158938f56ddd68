/* A $filter tree as text again (workers/query/odata/print.c): the
 * canonical S-expression, and OData text that parses back to the same
 * tree, with joined fields named by their path. */
#include "expect.h"

static const odata_field_t print_fields[] = {
    {"price", "price", ODATA_INT, ODATA_ALL},
    {"name", "name", ODATA_STRING, ODATA_ALL},
    {"created_at", "created_at", ODATA_TIME, ODATA_ALL},
    {"City", "city", ODATA_STRING, ODATA_FILTER | ODATA_JOINED},
};
static const odata_resource_t print_res = {print_fields, 4, "id", 10, 100, 1000};

/* `text` printed, then parsed again, gives the tree it came from. */
static void
expect_round_trip(const char *text)
{
    odata_error_t err;
    odata_node_t *a = odata_parse(text, strlen(text), &err);
    assert_non_null(a);
    char *printed = odata_print(&print_res, a);
    odata_node_t *b = odata_parse(printed, strlen(printed), &err);
    if (b == NULL) {
        print_error("%s printed as %s, which does not parse: %s\n", text, printed, err.message);
        fail();
    }
    char *sa = odata_sexpr(a), *sb = odata_sexpr(b);
    if (strcmp(sa, sb) != 0) {
        print_error("%s printed as %s:\n  %s\n  %s\n", text, printed, sa, sb);
        fail();
    }
    bson_free(sa);
    bson_free(sb);
    bson_free(printed);
    odata_free(a);
    odata_free(b);
}

static void
odata_print_parses_back(void **state)
{
    expect_round_trip("price lt 1000");
    expect_round_trip("price gt 1 and price lt 5 and name eq 'it''s'");
    expect_round_trip("(price eq 1 or price eq 2) and not (name eq 'x')");
    expect_round_trip("price in (1, 2, 3)");
    expect_round_trip("contains(tolower(name), 'a.b')");
    expect_round_trip("created_at ge 2026-01-31");
    expect_round_trip("created_at lt 2026-01-31T10:00:05.25Z");
    expect_round_trip("price eq null or price eq -1.5");
}

static void
odata_print_names_joined_fields_by_path(void **state)
{
    odata_error_t err;
    const char *text = "City eq 'Paris' and price lt 5";
    odata_node_t *root = odata_parse(text, strlen(text), &err);
    assert_non_null(root);
    char *printed = odata_print(&print_res, root);
    assert_string_equal(printed, "(city eq 'Paris' and price lt 5)");
    bson_free(printed);
    char *s = odata_sexpr(root);
    assert_string_equal(s, "(and (eq City 'Paris') (lt price 5))");
    bson_free(s);
    odata_free(root);
}

/* Decimals print in the shortest form that reads back as the same number. */
static void
odata_print_writes_short_decimals(void **state)
{
    odata_error_t err;
    const char *text = "price gt 0.3 and price lt 2e-1 and price ne 5.0 and price ne 1.5e300";
    odata_node_t *root = odata_parse(text, strlen(text), &err);
    assert_non_null(root);
    char *printed = odata_print(&print_res, root);
    assert_string_equal(printed, "(price gt 0.3 and price lt 0.2 and price ne 5.0 and price ne 1.5e+300)");
    bson_free(printed);
    odata_free(root);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(odata_print_parses_back),
        cmocka_unit_test(odata_print_names_joined_fields_by_path),
        cmocka_unit_test(odata_print_writes_short_decimals),
    };
    return cmocka_run_group_tests_name("/query/odata/print", tests, NULL, NULL);
}
