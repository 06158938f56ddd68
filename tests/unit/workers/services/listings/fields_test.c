/* Listing rules, including the classic contract's exact messages. */
#include "roost_test.h"

#include "services/listings/listings.h"
#include "services/properties/properties.h"

static bool
has_message(const bson_t *list, const char *message)
{
    bson_iter_t it, f;
    bson_iter_init(&it, list);
    while (bson_iter_next(&it))
        if (bson_iter_recurse(&it, &f) && bson_iter_find(&f, "message") &&
            strcmp(bson_iter_utf8(&f, NULL), message) == 0)
            return true;
    return false;
}

static void
listings_classic_accepts_strings_and_ints(void **state)
{
    listings_new_t l;
    field_errors_t e;
    field_errors_init(&e);
    bson_t *form = roost_test_doc("{\"user_id\": \"3\", \"listing_type\": \"rent\", \"price\": \"4500\"}");
    assert_true(listings_check_classic(form, &e, &l));
    assert_int_equal(l.user_id, 3);
    assert_int_equal(l.price, 4500);
    assert_string_equal(l.listing_type, "rent");
    bson_destroy(form);
    form = roost_test_doc("{\"user_id\": 3, \"listing_type\": \"sale\", \"price\": 9000}");
    assert_true(listings_check_classic(form, &e, &l));
    bson_destroy(form);
    field_errors_destroy(&e);
}

static void
listings_classic_messages(void **state)
{
    listings_new_t l;
    field_errors_t e;
    field_errors_init(&e);
    bson_t *form = roost_test_doc("{\"user_id\": \"x\", \"listing_type\": \"buy\", \"price\": \"cheap\"}");
    assert_false(listings_check_classic(form, &e, &l));
    assert_true(has_message(&e.list, "invalid user_id"));
    assert_true(has_message(&e.list, "invalid listing_type. Supported values: 'rent', 'sale'"));
    assert_true(has_message(&e.list, "invalid price. Must be an integer"));
    bson_destroy(form);
    field_errors_destroy(&e);
    field_errors_init(&e);
    form = roost_test_doc("{\"user_id\": \"1\", \"listing_type\": \"rent\", \"price\": \"0\"}");
    assert_false(listings_check_classic(form, &e, &l));
    assert_true(has_message(&e.list, "price must be greater than 0"));
    bson_destroy(form);
    field_errors_destroy(&e);
    field_errors_init(&e);
    form = roost_test_doc("{}");
    assert_false(listings_check_classic(form, &e, &l));
    assert_int_equal(e.count, 3);
    bson_destroy(form);
    field_errors_destroy(&e);
}

static void
listings_main_rules(void **state)
{
    listings_new_t l;
    field_errors_t e;
    field_errors_init(&e);
    bson_t *body = roost_test_doc("{\"listing_type\": \"rent\", \"price\": \"100\"}");
    assert_false(listings_check_main(body, false, &e, &l)); /* JSON wants an integer price */
    ASSERT_ERROR_FIELD(&e.list, "price");
    bson_destroy(body);
    body = roost_test_doc("{\"property_id\": null}");
    assert_true(listings_check_main(body, true, &e, &l));
    assert_int_equal(l.property_id, -1);
    bson_destroy(body);
    body = roost_test_doc("{\"property_id\": null, \"listing_type\": \"rent\", \"price\": 5}");
    assert_false(listings_check_main(body, false, &e, &l));
    ASSERT_ERROR_FIELD(&e.list, "property_id");
    bson_destroy(body);
    field_errors_destroy(&e);
}

/* RESO's PropertyType takes exactly the properties service's types. */
static void
listings_reso_types_are_the_properties_types(void **state)
{
    size_t i = 0;
    for (; properties_types[i] != NULL; i++) {
        assert_non_null(listings_property_types[i]);
        assert_string_equal(listings_property_types[i], properties_types[i]);
    }
    assert_null(listings_property_types[i]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listings_classic_accepts_strings_and_ints),
        cmocka_unit_test(listings_classic_messages),
        cmocka_unit_test(listings_main_rules),
        cmocka_unit_test(listings_reso_types_are_the_properties_types),
    };
    return cmocka_run_group_tests_name("/listings/fields", tests, NULL, NULL);
}
