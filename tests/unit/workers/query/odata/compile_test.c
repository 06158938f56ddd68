/* The $filter compiler (workers/query/odata/compile.c): what a filter
 * becomes as a MongoDB filter, and every refusal of the whitelist and the
 * types. */
#include "expect.h"

#include "services/listings/listings.h"
#include "services/properties/properties.h"

static void
odata_compiles_by_whitelist(void **state)
{
    expect_compiled(&listings_odata, "price lt 1000", "{ \"price\" : { \"$lt\" : 1000 } }", NULL);
    expect_compiled(&listings_odata, "5 lt price", "{ \"price\" : { \"$gt\" : 5 } }", NULL);
    expect_compiled(&listings_odata, "id eq 7", "{ \"_id\" : { \"$eq\" : 7 } }", NULL);
    expect_compiled(&listings_odata, "listing_type in ('rent', 'sale')",
                    "{ \"listing_type\" : { \"$in\" : [ \"rent\", \"sale\" ] } }", NULL);
    expect_compiled(&listings_odata, "listing_type eq 'lease'", NULL, "listing_type is one of 'rent', 'sale'");
    expect_compiled(&listings_odata, "price eq 'abc'", NULL, "price is an integer, and the value is a string");
    expect_compiled(&listings_odata, "password_hash eq 'x'", NULL, "'password_hash' is not a field");
    expect_compiled(&listings_odata, "version eq 1", NULL, "'version' is not a field that can be filtered on");
    expect_compiled(&listings_odata, "price eq user_id", NULL, "compared with a literal only");
    expect_compiled(&listings_odata, "not price eq 5", NULL, "a comparison needs a field on one side");
    expect_compiled(&listings_odata, "price", NULL, "not a condition by itself");
    expect_compiled(&listings_odata, "substringof('a', name)", NULL, "unknown function 'substringof'");
    expect_compiled(&listings_odata, "contains(price, '1')", NULL, "price is an integer: contains takes a string");
    expect_compiled(&listings_odata, "price gt null", NULL, "null can only be compared with eq or ne");
    expect_compiled(&listings_odata, "price eq null", "{ \"price\" : { \"$eq\" : null } }", NULL);
    expect_compiled(&listings_odata, "created_at ge 2026-01-31T00:00:00Z",
                    "{ \"created_at\" : { \"$gte\" : 1769817600000000 } }", NULL);
    expect_compiled(&listings_odata, "created_at ge 2026-01-31", "{ \"$gte\" : 1769817600000000 }", NULL);
    expect_compiled(&listings_odata, "not (price eq 5)", "{ \"$nor\" : [ { \"price\" : { \"$eq\" : 5 } } ] }", NULL);
    expect_compiled(&listings_odata, "price eq 1 or price eq 2 or price eq 3",
                    "{ \"$or\" : [ { \"price\" : { \"$eq\" : 1 } }, { \"price\" : { \"$eq\" : 2 } }, { \"price\" : "
                    "{ \"$eq\" : 3 } } ] }",
                    NULL);
    expect_compiled(&listings_odata, "false", "{ \"_id\" : { \"$in\" : [  ] } }", NULL);
    /* Client text is only ever a value: escaped inside a regular expression. */
    expect_compiled(&properties_odata, "name eq '$where'", "{ \"name\" : { \"$eq\" : \"$where\" } }", NULL);
    expect_compiled(&properties_odata, "contains(name, 'a.b*(c)')",
                    "{ \"name\" : { \"$regex\" : \"a\\\\.b\\\\*\\\\(c\\\\)\", \"$options\" : \"\" } }", NULL);
    expect_compiled(&properties_odata, "startswith(city, '^x$')",
                    "{ \"city\" : { \"$regex\" : \"^\\\\^x\\\\$\", \"$options\" : \"\" } }", NULL);
    expect_compiled(&properties_odata, "endswith(tolower(city), 'is')",
                    "{ \"city\" : { \"$regex\" : \"is$\", \"$options\" : \"i\" } }", NULL);
    expect_compiled(&properties_odata, "tolower(city) eq 'paris'",
                    "{ \"city\" : { \"$regex\" : \"^paris$\", \"$options\" : \"i\" } }", NULL);
    expect_compiled(&properties_odata, "tolower(city) eq 'Paris'", "{ \"_id\" : { \"$in\" : [  ] } }", NULL);
    expect_compiled(&properties_odata, "tolower(city) ne 'paris'", "\"$not\" : { \"$regex\" : \"^paris$\"", NULL);
    expect_compiled(&properties_odata, "tolower(city) gt 'a'", NULL, "eq or ne only");
    expect_compiled(&properties_odata, "tolower(room_count) eq '1'", NULL, "tolower and toupper take a string");
    expect_compiled(&properties_odata, "living_area_m2 ge 20.5", "{ \"living_area_m2\" : { \"$gte\" : 20.5 } }", NULL);
    expect_compiled(&properties_odata, "type eq 'castle'", NULL, "type is one of");
}

/* Keys are strings of digits compared as the numbers they are, whatever their zeros or length. */
static void
odata_keys_are_numbers(void **state)
{
    static const odata_field_t key_fields[] = {{"ListingKey", "_id", ODATA_KEY, ODATA_ALL}};
    static const odata_resource_t keys = {key_fields, 1, "ListingKey", 10, 100, 1000};
    expect_compiled(&keys, "ListingKey eq '12'", "{ \"_id\" : { \"$eq\" : 12 } }", NULL);
    expect_compiled(&keys, "ListingKey eq '012'", "{ \"_id\" : { \"$eq\" : 12 } }", NULL);
    expect_compiled(&keys, "ListingKey eq '0000000000000000000000000012'", "{ \"_id\" : { \"$eq\" : 12 } }", NULL);
    expect_compiled(&keys, "ListingKey eq '000'", "{ \"_id\" : { \"$eq\" : 0 } }", NULL);
    expect_compiled(&keys, "ListingKey le '9223372036854775807'", "{ \"$lte\" : 9223372036854775807 }", NULL);
    expect_compiled(&keys, "ListingKey gt '99999999999999999999999'", "{ \"_id\" : { \"$gt\" : 9.99", NULL);
    expect_compiled(&keys, "ListingKey in ('1', '0002')", "{ \"$in\" : [ 1, 2 ] }", NULL);
    expect_compiled(&keys, "ListingKey eq '1a'", NULL, "a string of digits");
    expect_compiled(&keys, "ListingKey eq ''", NULL, "a string of digits");
    expect_compiled(&keys, "ListingKey eq 12", NULL, "ListingKey is a key ('12')");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(odata_compiles_by_whitelist),
        cmocka_unit_test(odata_keys_are_numbers),
    };
    return cmocka_run_group_tests_name("/query/odata/compile", tests, NULL, NULL);
}
