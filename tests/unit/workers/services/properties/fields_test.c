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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(properties_valid_property),
        cmocka_unit_test(properties_invalid_fields),
    };
    return cmocka_run_group_tests_name("/properties/fields", tests, NULL, NULL);
}
