/* The services table (runtime/services.c): its migration tables, and the
 * selection of the services a process serves (ROOST_SERVICES). */
#include "roost_test.h"

#include "runtime/services.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Every table: versions 1..n in order, snake_case names, each version
 * either indexes or both steps with a definition, no index name twice in
 * one collection of a service. */
static void
services_migration_tables_are_well_formed(void **state)
{
    int services = 0;
    for (size_t s = 0; svc_services[s] != NULL; s++) {
        const svc_service_t *service = svc_services[s];
        if (service->migrations == NULL)
            continue;
        services++;
        assert_ptr_equal(services_with_data(service->name), service);
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
    assert_null(services_with_data("sys")); /* keeps no data */
    assert_null(services_with_data("nosuch"));
}

/* ROOST_SERVICES picks the services whose ops are found; sys always. */
static void
services_select_follows_roost_services(void **state)
{
    size_t s = 99;
    unsetenv("ROOST_SERVICES");
    assert_true(services_select());
    assert_non_null(services_find_op("users.get", &s));
    assert_string_equal(svc_services[s]->name, "users");
    assert_non_null(services_find_op("sys.ping", &s));
    assert_null(services_find_op("users.nosuch", &s));
    setenv("ROOST_SERVICES", "places,listings", 1);
    assert_true(services_select());
    assert_null(services_find_op("users.get", &s));
    assert_non_null(services_find_op("sys.health", &s));
    assert_non_null(services_find_op("places.get", &s));
    setenv("ROOST_SERVICES", "places,nosuch", 1);
    assert_false(services_select());
    unsetenv("ROOST_SERVICES");
}

int
main(void)
{
    setenv("ROOST_LOG_LEVEL", "error", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(services_migration_tables_are_well_formed),
        cmocka_unit_test(services_select_follows_roost_services),
    };
    return cmocka_run_group_tests_name("/runtime/services", tests, NULL, NULL);
}
