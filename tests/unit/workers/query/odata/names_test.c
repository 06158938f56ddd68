/* A resource's vocabulary (workers/query/odata/names.c): fields found by
 * name and use only, and messages that list what may be used instead. */
#include "expect.h"

#include "query/odata/internal.h"

static const odata_field_t names_fields[] = {
    {"price", "price", ODATA_INT, ODATA_FILTER | ODATA_ORDER},
    {"name", "name", ODATA_STRING, ODATA_SELECT},
    {"id", "_id", ODATA_KEY, ODATA_ALL},
};
static const odata_resource_t names_res = {names_fields, 3, "id", 10, 100, 1000};

static void
odata_fields_are_found_by_use(void **state)
{
    assert_ptr_equal(odata_find_field(&names_res, "price", ODATA_FILTER), &names_fields[0]);
    assert_ptr_equal(odata_find_field(&names_res, "price", ODATA_ORDER), &names_fields[0]);
    assert_null(odata_find_field(&names_res, "price", ODATA_SELECT));
    assert_null(odata_find_field(&names_res, "Price", ODATA_FILTER)); /* names are case-sensitive */
    assert_ptr_equal(odata_find_field(&names_res, "id", ODATA_SELECT), &names_fields[2]);
    assert_null(odata_find_field(&names_res, "nosuch", ODATA_ALL));
}

static void
odata_unknown_fields_list_the_known(void **state)
{
    odata_node_t n = {.kind = ODATA_NAME, .text = "secret", .pos = 3};
    odata_error_t err = {0};
    assert_false(odata_unknown_field(&names_res, &n, ODATA_FILTER, &err));
    assert_int_equal(err.pos, 3);
    assert_string_equal(err.message, "'secret' is not a field that can be filtered on here; the fields are: price, id");
    assert_false(odata_unknown_field(&names_res, &n, ODATA_SELECT, &err));
    assert_non_null(strstr(err.message, "selected here; the fields are: name, id"));
    assert_false(odata_unknown_field(&names_res, &n, ODATA_ORDER, &err));
    assert_non_null(strstr(err.message, "ordered by"));
    assert_string_equal(odata_field_type_name(&names_fields[2]), "a key ('12')");
    odata_node_t lit = {.kind = ODATA_LIT, .lit = ODATA_LIT_DATETIME};
    assert_string_equal(odata_lit_type_name(&lit), "a date-time");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(odata_fields_are_found_by_use),
        cmocka_unit_test(odata_unknown_fields_list_the_known),
    };
    return cmocka_run_group_tests_name("/query/odata/names", tests, NULL, NULL);
}
