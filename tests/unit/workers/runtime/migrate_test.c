/* The services' migration tables and their checksums (runtime/migrate.h). */
#include "roost_test.h"

#include "migrate.h"

#include <ctype.h>
#include <string.h>

/* Every table: versions 1..n in order, snake_case names, each version
 * either indexes or both steps with a definition, no index name twice in
 * one collection of a service. */
static void
migrate_tables_are_well_formed(void **state)
{
    int services = 0;
    for (size_t s = 0; svc_services[s] != NULL; s++) {
        const svc_service_t *service = svc_services[s];
        if (service->migrations == NULL)
            continue;
        services++;
        assert_ptr_equal(migrate_find_service(service->name), service);
        int n = 0;
        for (const svc_migration_t *m = service->migrations; m->version != 0; m++) {
            n++;
            assert_int_equal(m->version, n);
            assert_non_null(m->name);
            for (const char *c = m->name; *c; c++)
                assert_true(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_');
            bool indexes = m->indexes != NULL && m->index_count > 0;
            bool steps = m->up != NULL && m->down != NULL && m->definition != NULL;
            assert_true(indexes != steps);
            for (size_t i = 0; i < m->index_count; i++)
                for (const svc_migration_t *o = service->migrations; o->version != 0; o++)
                    for (size_t j = 0; j < o->index_count; j++)
                        if (!(o == m && j == i))
                            assert_false(strcmp(m->indexes[i].collection, o->indexes[j].collection) == 0 &&
                                         strcmp(m->indexes[i].name, o->indexes[j].name) == 0);
        }
        assert_true(n >= 1); /* the first is its indexes */
        assert_non_null(service->migrations[0].indexes);
    }
    assert_int_equal(services, 5);
    assert_null(migrate_find_service("sys")); /* keeps no data */
    assert_null(migrate_find_service("nosuch"));
}

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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrate_tables_are_well_formed),
        cmocka_unit_test(migrate_checksum_follows_the_definition),
    };
    return cmocka_run_group_tests_name("/runtime/migrate", tests, NULL, NULL);
}
