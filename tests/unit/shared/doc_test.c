/* Whole-document checks: repeated keys at any depth, plain-JSON values (shared/doc.h). */
#include "roost_test.h"

#include "doc.h"

#include <math.h>
#include <stdlib.h>

static void
expect_offence(const bson_t *doc, unsigned checks, const char *path, const char *what)
{
    char *found = NULL;
    const char *said = NULL;
    assert_false(doc_check(doc, checks, NULL, &found, &said));
    assert_string_equal(found, path);
    assert_string_equal(said, what);
    free(found);
}

static void
doc_finds_repeated_keys_at_any_depth(void **state)
{
    bson_t *ok = roost_test_doc("{\"a\": 1, \"rooms\": [{\"k\": 1}, {\"k\": 2}], \"c\": {\"x\": 1, \"y\": 2}}");
    char *path = NULL;
    const char *what;
    assert_true(doc_check(ok, DOC_UNIQUE_KEYS, NULL, &path, &what));
    bson_destroy(ok);

    bson_t *top = roost_test_doc("{\"name\": 1, \"name\": 2}");
    expect_offence(top, DOC_UNIQUE_KEYS, "name", "appears more than once");
    bson_destroy(top);

    bson_t *nested =
        roost_test_doc("{\"rooms\": [{\"name\": \"a\", \"characteristics\": {\"floor\": 1, \"floor\": 2}}]}");
    expect_offence(nested, DOC_UNIQUE_KEYS, "rooms[0].characteristics.floor", "appears more than once");
    bson_destroy(nested);

    bson_t *room = roost_test_doc("{\"rooms\": [{\"k\": 1}, {\"kind\": \"office\", \"kind\": \"garage\"}]}");
    expect_offence(room, DOC_UNIQUE_KEYS, "rooms[1].kind", "appears more than once");
    bson_destroy(room);
}

static void
doc_finds_values_plain_json_cannot_hold(void **state)
{
    bson_t doc = BSON_INITIALIZER, sub;
    BSON_APPEND_UTF8(&doc, "s", "x");
    BSON_APPEND_DOCUMENT_BEGIN(&doc, "d", &sub);
    BSON_APPEND_DATE_TIME(&sub, "when", 1);
    bson_append_document_end(&doc, &sub);
    expect_offence(&doc, DOC_JSON_VALUES, "d.when", "is MongoDB extended JSON; send a plain JSON value");
    bson_destroy(&doc);

    bson_init(&doc);
    BSON_APPEND_DOUBLE(&doc, "area", NAN);
    expect_offence(&doc, DOC_JSON_VALUES, "area", "is not a finite number");
    bson_destroy(&doc);

    /* What libbson makes of extended JSON in a body. */
    bson_t *ext = roost_test_doc("{\"rooms\": [{\"area_m2\": {\"$numberDouble\": \"NaN\"}}]}");
    expect_offence(ext, DOC_JSON_VALUES, "rooms[0].area_m2", "is not a finite number");
    bson_destroy(ext);
    ext = roost_test_doc("{\"birth_date\": {\"$date\": 0}}");
    expect_offence(ext, DOC_JSON_VALUES, "birth_date", "is MongoDB extended JSON; send a plain JSON value");
    bson_destroy(ext);
    ext = roost_test_doc("{\"name\": {\"$regex\": \".*\", \"$options\": \"\"}}");
    expect_offence(ext, DOC_JSON_VALUES, "name", "is MongoDB extended JSON; send a plain JSON value");
    bson_destroy(ext);
    ext = roost_test_doc("{\"price\": {\"$numberLong\": \"5\"}, \"a\": [1, 2.5, \"x\", true, null, {}]}");
    char *path = NULL;
    const char *what;
    assert_true(doc_check(ext, DOC_JSON_VALUES, NULL, &path, &what)); /* the number 5, which plain JSON holds */
    bson_destroy(ext);
}

static void
doc_refuses_hostile_nesting(void **state)
{
    /* 200 levels: more than any caller of Roost needs, and not a stack overflow. */
    bson_t *levels[201];
    levels[200] = bson_new();
    for (int i = 199; i >= 0; i--) {
        levels[i] = bson_new();
        BSON_APPEND_DOCUMENT(levels[i], "a", levels[i + 1]);
    }
    char *path = NULL;
    const char *what = NULL;
    assert_false(doc_check(levels[0], DOC_UNIQUE_KEYS, NULL, &path, &what));
    assert_string_equal(what, "nests too deeply");
    free(path);
    for (int i = 0; i <= 200; i++)
        bson_destroy(levels[i]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(doc_finds_repeated_keys_at_any_depth),
        cmocka_unit_test(doc_finds_values_plain_json_cannot_hold),
        cmocka_unit_test(doc_refuses_hostile_nesting),
    };
    return cmocka_run_group_tests_name("/shared/doc", tests, NULL, NULL);
}
