/* JSON at the HTTP edge: what parses, what is refused before libbson sees
 * it, and how int64 values are rendered back. */
#include "roost_test.h"

#include "json.h"

static bool
parses(const char *text, size_t len)
{
    bson_t doc;
    bson_error_t error;
    if (!json_to_bson(text, len, &doc, &error))
        return false;
    bson_destroy(&doc);
    return true;
}

#define PARSES(s) parses((s), sizeof(s) - 1)
#define S_(s) (s), sizeof(s) - 1

static void
json_accepts_an_object(void **state)
{
    bson_t doc;
    bson_error_t error;
    bson_iter_t it;
    const char text[] = " {\"name\": \"Ada\", \"n\": 3, \"big\": 9007199254740993, \"ok\": true} ";
    assert_true(json_to_bson(text, sizeof(text) - 1, &doc, &error));
    assert_true(bson_iter_init_find(&it, &doc, "big"));
    assert_int_equal(bson_iter_as_int64(&it), 9007199254740993LL);
    bson_destroy(&doc);
    assert_true(PARSES("{}"));
    assert_true(PARSES("{\"s\": \"caf\xc3\xa9 \\u00e9\"}"));
}

static void
json_refuses_what_is_not_one_utf8_object(void **state)
{
    assert_false(PARSES(""));
    assert_false(PARSES("   \n\t "));
    assert_false(PARSES("[1, 2]"));
    assert_false(PARSES("\"text\""));
    assert_false(PARSES("42"));
    assert_false(PARSES("{\"a\": 1"));
    assert_false(PARSES("{\"a\": 1} trailing"));
    assert_false(PARSES("{'a': 1}"));
    assert_false(PARSES("{\"a\": \"\xff\"}"));     /* not UTF-8 */
    assert_false(PARSES("{\"a\": \"\xc3\"}"));     /* truncated sequence */
    assert_false(parses("{\"a\": \"x\0y\"}", 13)); /* a raw NUL byte */
}

static void
json_limits_nesting(void **state)
{
    char text[256];
    size_t n = 0;
    for (int depth = 31; depth <= 33; depth++) {
        n = 0;
        for (int i = 0; i < depth; i++)
            n += (size_t)snprintf(text + n, sizeof(text) - n, "{\"a\":");
        text[n++] = '1';
        for (int i = 0; i < depth; i++)
            text[n++] = '}';
        assert_int_equal(parses(text, n), depth <= JSON_MAX_DEPTH);
    }
}

static void
json_brackets_inside_strings_do_not_nest(void **state)
{
    char text[512] = "{\"a\": \"";
    size_t n = strlen(text);
    for (int i = 0; i < 100; i++)
        text[n++] = '{';
    memcpy(text + n, "\\\"[\"}", 6);
    assert_true(parses(text, strlen(text)));
}

static void
json_renders_int64_plainly(void **state)
{
    bson_t doc = BSON_INITIALIZER;
    size_t len;
    BSON_APPEND_INT64(&doc, "created_at", 1795356245372433LL);
    char *json = json_from_bson(&doc, &len);
    assert_non_null(strstr(json, "1795356245372433"));
    assert_null(strstr(json, "$numberLong"));
    bson_free(json);
    bson_destroy(&doc);
}

static char *
render(const char *json)
{
    bson_t *doc = roost_test_doc(json);
    size_t len;
    char *out = json_from_bson(doc, &len);
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    bson_destroy(doc);
    return out;
}

static void
json_renders_compactly_with_shortest_doubles(void **state)
{
    char *out = render("{\"id\": 1, \"name\": \"x\", \"a\": [1, {\"b\": null}]}");
    assert_string_equal(out, "{\"id\":1,\"name\":\"x\",\"a\":[1,{\"b\":null}]}");
    bson_free(out);
    static const struct {
        double d;
        const char *text;
    } doubles[] = {{4.3, "4.3"},
                   {0.1, "0.1"},
                   {1e21, "1e+21"},
                   {-2.5, "-2.5"},
                   {30.0, "30"},
                   {1.0 / 3.0, "0.3333333333333333"},
                   {5e-324, "5e-324"},
                   {1.7976931348623157e308, "1.7976931348623157e+308"},
                   {1e-7, "1e-7"},
                   {1.5e-7, "1.5e-7"},
                   {1e-6, "0.000001"},
                   {123456789012345680000.0, "1.2345678901234568e+20"},
                   {0.0, "0"},
                   {-0.0, "-0"},
                   {100.25, "100.25"},
                   {2.5e20, "2.5e+20"},
                   {-5.3e19, "-5.3e+19"},
                   {9e18, "9000000000000000000"}};
    for (size_t i = 0; i < sizeof(doubles) / sizeof(doubles[0]); i++) {
        char text[32];
        json_double(doubles[i].d, text);
        assert_string_equal(text, doubles[i].text);
        assert_true(strtod(text, NULL) == doubles[i].d);
    }
}

static void
json_escapes_strings_and_refuses_bad_utf8(void **state)
{
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "s", "q\"b\\n\n\x01\xc3\xa9");
    size_t len;
    char *out = json_from_bson(&doc, &len);
    assert_string_equal(out, "{\"s\":\"q\\\"b\\\\n\\n\\u0001\xc3\xa9\"}");
    bson_free(out);
    bson_destroy(&doc);
    bson_init(&doc);
    BSON_APPEND_UTF8(&doc, "cut", "\xc3"); /* half a character */
    assert_null(json_from_bson(&doc, &len));
    bson_destroy(&doc);
    bson_init(&doc);
    BSON_APPEND_DOUBLE(&doc, "nan", 0.0 / 0.0);
    out = json_from_bson(&doc, &len);
    assert_string_equal(out, "{\"nan\":null}");
    bson_free(out);
    bson_destroy(&doc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_accepts_an_object),
        cmocka_unit_test(json_refuses_what_is_not_one_utf8_object),
        cmocka_unit_test(json_limits_nesting),
        cmocka_unit_test(json_brackets_inside_strings_do_not_nest),
        cmocka_unit_test(json_renders_int64_plainly),
        cmocka_unit_test(json_renders_compactly_with_shortest_doubles),
        cmocka_unit_test(json_escapes_strings_and_refuses_bad_utf8),
    };
    return cmocka_run_group_tests_name("/json", tests, NULL, NULL);
}
