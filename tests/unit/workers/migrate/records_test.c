/* The checksum that pins a migration version (migrate/records.c). */
#include "roost_test.h"

#include "migrate/migrate.h"

#include <string.h>

/* The checksum covers number, name and every index field, and nothing else. */
static void
migrate_checksum_follows_the_definition(void **state)
{
    svc_index_t ix[] = {{"things", "by_key", "deleted_at,-key", false}};
    svc_migration_t m = {.version = 1, .name = "indexes", .indexes = ix, .index_count = 1};
    char a[80], b[80];
    migrate_checksum(&m, a);
    assert_int_equal(strlen(a), 7 + 64);
    assert_memory_equal(a, "sha256:", 7);
    migrate_checksum(&m, b);
    assert_string_equal(a, b);
    ix[0].unique = true;
    migrate_checksum(&m, b);
    assert_string_not_equal(a, b);
    ix[0].unique = false;
    ix[0].keys = "deleted_at,key";
    migrate_checksum(&m, b);
    assert_string_not_equal(a, b);
    ix[0].keys = "deleted_at,-key";
    m.version = 2;
    migrate_checksum(&m, b);
    assert_string_not_equal(a, b);
    m.version = 1;
    m.name = "indexes_";
    migrate_checksum(&m, b);
    assert_string_not_equal(a, b);
    m.name = "indexes";
    migrate_checksum(&m, b);
    assert_string_equal(a, b);
    svc_migration_t d = {.version = 2, .name = "backfill", .definition = "up: set x; down: unset x"};
    migrate_checksum(&d, a);
    d.definition = "up: set x = 1; down: unset x";
    migrate_checksum(&d, b);
    assert_string_not_equal(a, b);
}

/* The count of a table is its last version; a service without one has none. */
static void
migrate_count_is_the_last_version(void **state)
{
    svc_index_t ix[] = {{"things", "by_key", "key", true}};
    svc_migration_t table[] = {
        SVC_MIGRATION_INDEXES(1, "indexes", ix),
        {.version = 2, .name = "backfill", .definition = "up; down"},
        {0},
    };
    assert_int_equal(migrate_count(table), 2);
    assert_int_equal(migrate_count(table + 2), 0);
    assert_int_equal(migrate_count(NULL), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrate_checksum_follows_the_definition),
        cmocka_unit_test(migrate_count_is_the_last_version),
    };
    return cmocka_run_group_tests_name("/migrate/records", tests, NULL, NULL);
}
