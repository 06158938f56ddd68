/* A property's living area (services/properties/area.c). */
#include "roost_test.h"
#include "services/properties/properties.h"

/* living_area_m2 (migration 2): the sum of the rooms' areas, or a refusal. */
static void
properties_living_area_sums_rooms(void **state)
{
    static const struct {
        const char *json;
        bool ok;
        double area;
    } cases[] = {
        {"{}", true, 0},
        {"{\"rooms\": []}", true, 0},
        {"{\"rooms\": [{\"area_m2\": 9.5}, {\"area_m2\": 14}, {\"area_m2\": {\"$numberLong\": \"3\"}}]}", true, 26.5},
        {"{\"rooms\": [{\"area_m2\": \"large\"}]}", false, 0},
        {"{\"rooms\": [{\"name\": \"no area\"}]}", false, 0},
        {"{\"rooms\": [3]}", false, 0},
        {"{\"rooms\": [{\"area_m2\": 50.1}, {\"area_m2\": 8.8}]}", true, 58.9}, /* not 58.900000000000006 */
        {"{\"rooms\": {\"0\": {\"area_m2\": 1}}}", false, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bson_t *doc = roost_test_doc(cases[i].json);
        double area = -1;
        bool ok = properties_living_area(doc, &area);
        if (ok != cases[i].ok || (ok && area != cases[i].area)) {
            print_error("%s: got %s %g\n", cases[i].json, ok ? "true" : "false", area);
            fail();
        }
        bson_destroy(doc);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(properties_living_area_sums_rooms),
    };
    return cmocka_run_group_tests_name("/properties/area", tests, NULL, NULL);
}
