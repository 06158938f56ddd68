/* Property and room field rules, and the If-Match precondition. */
#include "roost_test.h"

#include "services/properties/properties.h"

static void
expect(const char *json, bool ok, const char *field)
{
    bson_t *body = roost_test_doc(json);
    field_errors_t e;
    field_errors_init(&e);
    bool got = properties_validate_new(body, &e);
    if (got != ok) {
        print_error("%s: expected %s\n", json, ok ? "valid" : "invalid");
        fail();
    }
    if (field != NULL)
        ASSERT_ERROR_FIELD(&e.list, field);
    field_errors_destroy(&e);
    bson_destroy(body);
}

#define BASE "\"name\": \"Loft\", \"type\": \"apartment\", \"city\": \"Paris\", \"address\": \"1 rue\""

static void
properties_valid_property(void **state)
{
    expect("{" BASE "}", true, NULL);
    expect("{" BASE ", \"description\": \"\", \"rooms\": [{\"name\": \"Main\", \"kind\": \"living\", \"area_m2\": 30, "
           "\"characteristics\": {\"floor\": 3, \"windows\": \"south\", \"balcony\": true, \"ceiling_m\": 2.7}}]}",
           true, NULL);
}

static void
properties_invalid_fields(void **state)
{
    expect("{\"type\": \"apartment\", \"city\": \"Paris\", \"address\": \"1\"}", false, "name");
    expect("{\"name\": \"Loft\", \"type\": \"castle\", \"city\": \"Paris\", \"address\": \"1 rue\"}", false, "type");
    expect("{\"name\": \"L\", \"type\": \"house\", \"city\": {\"$ne\": null}, \"address\": \"1\"}", false, "city");
    expect("{" BASE ", \"owner_id\": {\"$gt\": 0}}", false, "owner_id");
    expect("{" BASE ", \"rooms\": {}}", false, "rooms");
    expect("{" BASE ", \"rooms\": [5]}", false, "rooms[0]");
    expect("{" BASE ", \"rooms\": [{\"name\": \"A\", \"kind\": \"attic\", \"area_m2\": 3}]}", false, "rooms[0].kind");
    expect("{" BASE ", \"rooms\": [{\"name\": \"A\", \"kind\": \"office\", \"area_m2\": 0}]}", false,
           "rooms[0].area_m2");
    expect("{" BASE ", \"rooms\": [{\"name\": \"A\", \"kind\": \"office\", \"area_m2\": \"9\"}]}", false,
           "rooms[0].area_m2");
    expect("{" BASE ", \"rooms\": [{\"name\": \"A\", \"kind\": \"office\"}]}", false, "rooms[0].area_m2");
    expect("{" BASE ", \"rooms\": [{\"name\": \"A\", \"kind\": \"office\", \"area_m2\": 9, \"$where\": 1}]}", false,
           "rooms[0].$where");
    expect("{" BASE ", \"rooms\": [{\"name\": \"A\", \"kind\": \"office\", \"area_m2\": 9, "
           "\"characteristics\": {\"nested\": {\"a\": 1}}}]}",
           false, "rooms[0].characteristics.nested");
    expect("{" BASE ", \"rooms\": [{\"name\": \"A\", \"kind\": \"office\", \"area_m2\": 9, "
           "\"characteristics\": {\"$x\": 1}}]}",
           false, "rooms[0].characteristics.$x");
}

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
        cmocka_unit_test(properties_valid_property),
        cmocka_unit_test(properties_invalid_fields),
        cmocka_unit_test(properties_living_area_sums_rooms),
    };
    return cmocka_run_group_tests_name("/properties/fields", tests, NULL, NULL);
}
