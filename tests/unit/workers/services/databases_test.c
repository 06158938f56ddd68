/* The databases table (services/databases.c): every service's migrations
 * are well formed, and found by the service's name. */
#include "roost_test.h"

#include "services/databases.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Every table: versions 1..n in order, snake_case names, each version
 * either indexes or both steps with a definition, no index name twice in
 * one collection of a service. */
static void
databases_migration_tables_are_well_formed(void **state)
{
    int services = 0;
    for (const svc_database_t *d = svc_databases; d->service != NULL; d++) {
        services++;
        assert_ptr_equal(svc_migrations_of(d->service), d->migrations);
        int n = 0;
        for (const svc_migration_t *m = d->migrations; m->version != 0; m++) {
            n++;
            assert_int_equal(m->version, n);
            assert_non_null(m->name);
            for (const char *c = m->name; *c; c++)
                assert_true(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '_');
            bool indexes = m->indexes != NULL && m->index_count > 0;
            bool steps = m->up != NULL && m->down != NULL && m->definition != NULL;
            assert_true(indexes != steps);
            for (size_t i = 0; i < m->index_count; i++)
                for (const svc_migration_t *o = d->migrations; o->version != 0; o++)
                    for (size_t j = 0; j < o->index_count; j++)
                        if (!(o == m && j == i))
                            assert_false(strcmp(m->indexes[i].collection, o->indexes[j].collection) == 0 &&
                                         strcmp(m->indexes[i].name, o->indexes[j].name) == 0);
        }
        assert_true(n >= 1); /* the first is its indexes */
        assert_non_null(d->migrations[0].indexes);
    }
    assert_int_equal(services, 5);
    assert_null(svc_migrations_of("sys")); /* keeps no data */
    assert_null(svc_migrations_of("nosuch"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(databases_migration_tables_are_well_formed),
    };
    return cmocka_run_group_tests_name("/services/databases", tests, NULL, NULL);
}
