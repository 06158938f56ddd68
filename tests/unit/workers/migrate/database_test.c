/* What a database error means (workers/migrate/database.c): a unique
 * index at work, and nothing looser. */
#include "roost_test.h"

#include "migrate/database.h"

static void
duplicates_are_told_by_code_or_words(void **state)
{
    bson_error_t e;
    bson_set_error(&e, MONGOC_ERROR_SERVER, 11000, "E11000 duplicate key error collection: x index: y");
    assert_true(svc_is_duplicate(&e));
    bson_set_error(&e, MONGOC_ERROR_SERVER, 11001, "duplicate");
    assert_true(svc_is_duplicate(&e));
    bson_set_error(&e, MONGOC_ERROR_SERVER, 1, "UNIQUE constraint failed: things.key");
    assert_true(svc_is_duplicate(&e));
    /* A refused document is not a unique index at work. */
    bson_set_error(&e, MONGOC_ERROR_SERVER, 2, "invalid key: \"x\" (duplicate keys are not allowed)");
    assert_false(svc_is_duplicate(&e));
    bson_set_error(&e, MONGOC_ERROR_STREAM, 0, "socket error");
    assert_false(svc_is_duplicate(&e));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duplicates_are_told_by_code_or_words),
    };
    return cmocka_run_group_tests_name("/migrate/database", tests, NULL, NULL);
}
