/* The services table (runtime/services.c): that it agrees with the
 * databases table, and the selection of the services a process serves
 * (ROOST_SERVICES). */
#include "roost_test.h"

#include "runtime/services.h"
#include "services/databases.h"

#include <stdlib.h>
#include <string.h>

/* Every database of the migrations table is a service's that a worker
 * serves, and a worker's service that keeps no data has no row. */
static void
services_with_data_are_services(void **state)
{
    for (const svc_database_t *d = svc_databases; d->service != NULL; d++) {
        bool found = false;
        for (size_t s = 0; svc_services[s] != NULL; s++)
            found |= strcmp(svc_services[s]->name, d->service) == 0;
        assert_true(found);
    }
    assert_null(svc_migrations_of("sys"));
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
        cmocka_unit_test(services_with_data_are_services),
        cmocka_unit_test(services_select_follows_roost_services),
    };
    return cmocka_run_group_tests_name("/runtime/services", tests, NULL, NULL);
}
