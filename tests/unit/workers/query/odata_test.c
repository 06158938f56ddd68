/* The $filter parser and compiler, and the other system query options
 * (workers/query/odata/): the OData ABNF's tricky cases, every error with
 * its position, the limits, and what a filter compiles to. */
#include "roost_test.h"

#include "services/listings/listings.h"
#include "query/odata.h"
#include "services/properties/properties.h"

#include <stdio.h>

static void
expect_tree(const char *text, const char *want)
{
    odata_error_t err;
    odata_node_t *root = odata_parse(text, strlen(text), &err);
    if (root == NULL) {
        print_error("%s: parse error at %zu: %s\n", text, err.pos, err.message);
        fail();
    }
    char *got = odata_sexpr(root);
    if (strcmp(got, want) != 0) {
        print_error("%s:\n  got  %s\n  want %s\n", text, got, want);
        fail();
    }
    bson_free(got);
    odata_free(root);
}

/* A parse error at character `pos` whose message holds `words`. */
static void
expect_syntax_error(const char *text, size_t pos, const char *words)
{
    odata_error_t err;
    odata_node_t *root = odata_parse(text, strlen(text), &err);
    if (root != NULL || err.pos != pos || strstr(err.message, words) == NULL) {
        print_error("%s: want an error at %zu with \"%s\", got %s at %zu: %s\n", text, pos, words,
                    root ? "a tree" : "an error", err.pos, err.message);
        fail();
    }
    odata_free(root);
}

/* Compiles on `res`: the filter's JSON holds `json` (or the compile error holds `error_words`). */
static void
expect_compiled(const odata_resource_t *res, const char *text, const char *json, const char *error_words)
{
    odata_error_t err;
    odata_node_t *root = odata_parse(text, strlen(text), &err);
    if (root == NULL) {
        print_error("%s: parse error %s\n", text, err.message);
        fail();
    }
    bson_t out = BSON_INITIALIZER;
    bool ok = odata_compile(res, root, &out, &err);
    char *got = bson_as_relaxed_extended_json(&out, NULL);
    if (json != NULL && (!ok || strstr(got, json) == NULL)) {
        print_error("%s:\n  got  %s (%s)\n  want %s\n", text, got, ok ? "ok" : err.message, json);
        fail();
    }
    if (error_words != NULL && (ok || strstr(err.message, error_words) == NULL)) {
        print_error("%s: want an error with \"%s\", got %s\n", text, error_words, ok ? got : err.message);
        fail();
    }
    bson_free(got);
    bson_destroy(&out);
    odata_free(root);
}

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

static void
odata_syntax_errors(void **state)
{
    expect_syntax_error("", 1, "empty");
    expect_syntax_error("price eq", 9, "expected a field, a literal");
    expect_syntax_error("price eq 'abc", 10, "never closed");
    expect_syntax_error("price ~ 5", 7, "unexpected character '~'");
    expect_syntax_error("price eq 5 5", 12, "expected and, or, a comparison or the end");
    expect_syntax_error("(price eq 5", 12, "expected ')' to close the '(' at character 1");
    expect_syntax_error("price eq 5)", 11, "found ')'");
    expect_syntax_error("price eq - 5", 10, "unexpected character '-'");
    expect_syntax_error("price eq 1.", 12, "digit after the decimal point");
    expect_syntax_error("price eq 1e", 12, "exponent");
    expect_syntax_error("price eq 12abc", 12, "end of the number");
    expect_syntax_error("price eq 99999999999999999999", 10, "out of range");
    expect_syntax_error("d eq 2026-02-30", 6, "real month and day");
    expect_syntax_error("d eq 2026-13-01", 6, "real month and day");
    expect_syntax_error("d eq 2026-01-01T25:00Z", 6, "date-time");
    expect_syntax_error("d eq 2026-01-01T10:00", 22, "Z or an offset");
    expect_syntax_error("price in 1", 10, "expected '(' and a list");
    expect_syntax_error("price in (a)", 11, "expected a literal in the list");
    expect_syntax_error("price in (1,)", 13, "expected a literal in the list");
    expect_syntax_error("contains(name 'x')", 15, "expected ',' or ')'");
    expect_syntax_error("and eq 1", 1, "found 'and'");
    expect_syntax_error("price eq 5 and", 15, "found the end of the filter");
    expect_syntax_error("né eq 1", 2, "unexpected character 'é'");
    /* Operator words stand between spaces (ABNF RWS). */
    expect_syntax_error("price eq 5 and(user_id eq 6)", 15, "expected a space after 'and'");
    expect_syntax_error("(price eq 5)and (user_id eq 6)", 13, "expected a space before 'and'");
    expect_syntax_error("not(price eq 5)", 4, "expected a space after 'not'");
    expect_syntax_error("name eq 'x'or name eq 'y'", 12, "expected a space before 'or'");
    expect_syntax_error("price in(1)", 9, "expected a space after 'in'");
    expect_syntax_error("name eq 'x' €", 13, "unexpected character '€'");
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
    /* The length is in characters: 1500 two-byte characters pass. */
    at = (size_t)snprintf(buf, sizeof(buf), "name eq '");
    for (int i = 0; i < 1500 && at + 3 < sizeof(buf); i++)
        at += (size_t)snprintf(buf + at, sizeof(buf) - at, "\xc3\xa9");
    snprintf(buf + at, sizeof(buf) - at, "'");
    root = odata_parse(buf, strlen(buf), &err);
    assert_non_null(root);
    odata_free(root);
    /* Not UTF-8, or a NUL inside. */
    assert_null(odata_parse("name eq '\xff'", 12, &err));
    assert_null(odata_parse("name eq '\0'", 11, &err));
}

static void
odata_compiles_by_whitelist(void **state)
{
    expect_compiled(&listings_odata, "price lt 1000", "{ \"price\" : { \"$lt\" : 1000 } }", NULL);
    expect_compiled(&listings_odata, "5 lt price", "{ \"price\" : { \"$gt\" : 5 } }", NULL);
    expect_compiled(&listings_odata, "id eq 7", "{ \"_id\" : { \"$eq\" : 7 } }", NULL);
    expect_compiled(&listings_odata, "listing_type in ('rent', 'sale')",
                    "{ \"listing_type\" : { \"$in\" : [ \"rent\", \"sale\" ] } }", NULL);
    expect_compiled(&listings_odata, "listing_type eq 'lease'", NULL, "listing_type is one of 'rent', 'sale'");
    expect_compiled(&listings_odata, "price eq 'abc'", NULL, "price is an integer, and the value is a string");
    expect_compiled(&listings_odata, "password_hash eq 'x'", NULL, "'password_hash' is not a field");
    expect_compiled(&listings_odata, "version eq 1", NULL, "'version' is not a field that can be filtered on");
    expect_compiled(&listings_odata, "price eq user_id", NULL, "compared with a literal only");
    expect_compiled(&listings_odata, "not price eq 5", NULL, "a comparison needs a field on one side");
    expect_compiled(&listings_odata, "price", NULL, "not a condition by itself");
    expect_compiled(&listings_odata, "substringof('a', name)", NULL, "unknown function 'substringof'");
    expect_compiled(&listings_odata, "contains(price, '1')", NULL, "price is an integer: contains takes a string");
    expect_compiled(&listings_odata, "price gt null", NULL, "null can only be compared with eq or ne");
    expect_compiled(&listings_odata, "price eq null", "{ \"price\" : { \"$eq\" : null } }", NULL);
    expect_compiled(&listings_odata, "created_at ge 2026-01-31T00:00:00Z",
                    "{ \"created_at\" : { \"$gte\" : 1769817600000000 } }", NULL);
    expect_compiled(&listings_odata, "created_at ge 2026-01-31", "{ \"$gte\" : 1769817600000000 }", NULL);
    expect_compiled(&listings_odata, "not (price eq 5)", "{ \"$nor\" : [ { \"price\" : { \"$eq\" : 5 } } ] }", NULL);
    expect_compiled(&listings_odata, "price eq 1 or price eq 2 or price eq 3",
                    "{ \"$or\" : [ { \"price\" : { \"$eq\" : 1 } }, { \"price\" : { \"$eq\" : 2 } }, { \"price\" : "
                    "{ \"$eq\" : 3 } } ] }",
                    NULL);
    expect_compiled(&listings_odata, "false", "{ \"_id\" : { \"$in\" : [  ] } }", NULL);
    /* Client text is only ever a value: escaped inside a regular expression. */
    expect_compiled(&properties_odata, "name eq '$where'", "{ \"name\" : { \"$eq\" : \"$where\" } }", NULL);
    expect_compiled(&properties_odata, "contains(name, 'a.b*(c)')",
                    "{ \"name\" : { \"$regex\" : \"a\\\\.b\\\\*\\\\(c\\\\)\", \"$options\" : \"\" } }", NULL);
    expect_compiled(&properties_odata, "startswith(city, '^x$')",
                    "{ \"city\" : { \"$regex\" : \"^\\\\^x\\\\$\", \"$options\" : \"\" } }", NULL);
    expect_compiled(&properties_odata, "endswith(tolower(city), 'is')",
                    "{ \"city\" : { \"$regex\" : \"is$\", \"$options\" : \"i\" } }", NULL);
    expect_compiled(&properties_odata, "tolower(city) eq 'paris'",
                    "{ \"city\" : { \"$regex\" : \"^paris$\", \"$options\" : \"i\" } }", NULL);
    expect_compiled(&properties_odata, "tolower(city) eq 'Paris'", "{ \"_id\" : { \"$in\" : [  ] } }", NULL);
    expect_compiled(&properties_odata, "tolower(city) ne 'paris'", "\"$not\" : { \"$regex\" : \"^paris$\"", NULL);
    expect_compiled(&properties_odata, "tolower(city) gt 'a'", NULL, "eq or ne only");
    expect_compiled(&properties_odata, "tolower(room_count) eq '1'", NULL, "tolower and toupper take a string");
    expect_compiled(&properties_odata, "living_area_m2 ge 20.5", "{ \"living_area_m2\" : { \"$gte\" : 20.5 } }", NULL);
    expect_compiled(&properties_odata, "type eq 'castle'", NULL, "type is one of");
}

static void
expect_options(const char *json, bool ok, const char *field, const char *words)
{
    bson_t *query = roost_test_doc(json);
    field_errors_t e;
    odata_query_t q;
    bson_t *newest = BCON_NEW("created_at", BCON_INT32(-1));
    field_errors_init(&e);
    bool got = odata_query_parse(&listings_odata, query, newest, &q, &e);
    if (got != ok) {
        char *list = bson_as_relaxed_extended_json(&e.list, NULL);
        print_error("%s: expected %s, got %s\n", json, ok ? "valid" : "invalid", list);
        bson_free(list);
        fail();
    }
    if (field != NULL) {
        ASSERT_ERROR_FIELD(&e.list, field);
        char *list = bson_as_relaxed_extended_json(&e.list, NULL);
        if (strstr(list, words) == NULL) {
            print_error("%s: want \"%s\" in %s\n", json, words, list);
            fail();
        }
        bson_free(list);
    }
    odata_query_destroy(&q);
    field_errors_destroy(&e);
    bson_destroy(newest);
    bson_destroy(query);
}

static void
odata_options(void **state)
{
    expect_options("{\"$top\": \"5\", \"$skip\": \"10\", \"$count\": \"true\"}", true, NULL, NULL);
    expect_options("{\"$top\": 5}", true, NULL, NULL); /* a direct caller's integer */
    expect_options("{\"$top\": \"101\"}", false, "$top", "from 0 to 100");
    expect_options("{\"$top\": \"-1\"}", false, "$top", "from 0 to 100");
    expect_options("{\"$top\": \"1x\"}", false, "$top", "integer");
    expect_options("{\"$skip\": \"100001\"}", false, "$skip", "from 0 to 100000");
    expect_options("{\"$count\": \"yes\"}", false, "$count", "true or false");
    expect_options("{\"$select\": \"price, listing_type\"}", true, NULL, NULL);
    expect_options("{\"$select\": \"price,secret\"}", false, "$select", "'secret' is not a field that can be selected");
    expect_options("{\"$select\": \"price,\"}", false, "$select", "empty item");
    expect_options("{\"$orderby\": \"price desc, created_at\"}", true, NULL, NULL);
    expect_options("{\"$orderby\": \"price sideways\"}", false, "$orderby", "expected asc or desc");
    expect_options("{\"$orderby\": \"price,price desc\"}", false, "$orderby", "twice");
    expect_options("{\"$orderby\": \"version\"}", false, "$orderby", "can be ordered by");
    expect_options("{\"$expand\": \"property\"}", false, "$expand", "does not support");
    expect_options("{\"$frobnicate\": \"1\"}", false, "$frobnicate", "unknown option");
    expect_options("{\"$filter\": \"price eq\"}", false, "$filter", "at character 9: expected a field");
    expect_options("{\"$filter\": {\"$gt\": 1}}", false, "$filter", "must be a string");

    /* The order is total: _id follows in the last key's direction. */
    bson_t *query = roost_test_doc("{\"$orderby\": \"price desc\", \"$select\": \"price\"}");
    field_errors_t e;
    odata_query_t q;
    field_errors_init(&e);
    assert_true(odata_query_parse(&listings_odata, query, NULL, &q, &e));
    char *sort = bson_as_relaxed_extended_json(&q.sort, NULL);
    assert_string_equal(sort, "{ \"price\" : -1, \"_id\" : -1 }");
    bson_free(sort);
    assert_int_equal(q.top, 10);
    /* $select keeps the id and the selected fields only. */
    bson_t *doc = roost_test_doc("{\"id\": 1, \"user_id\": 2, \"price\": 3, \"listing_type\": \"rent\"}"), out;
    odata_select(&listings_odata, &q, doc, &out);
    char *json = bson_as_relaxed_extended_json(&out, NULL);
    assert_string_equal(json, "{ \"id\" : 1, \"price\" : 3 }");
    bson_free(json);
    bson_destroy(&out);
    bson_destroy(doc);
    odata_query_destroy(&q);
    field_errors_destroy(&e);
    bson_destroy(query);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(odata_literals),
        cmocka_unit_test(odata_precedence),
        cmocka_unit_test(odata_syntax_errors),
        cmocka_unit_test(odata_limits),
        cmocka_unit_test(odata_compiles_by_whitelist),
        cmocka_unit_test(odata_options),
    };
    return cmocka_run_group_tests_name("/query/odata", tests, NULL, NULL);
}
