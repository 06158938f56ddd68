/* OData's geo functions (workers/query/odata/geo.c): geography literals,
 * geo.distance and geo.intersects as MongoDB's 2dsphere operators, and
 * every refusal, on the listings', properties' and RESO vocabularies. */
#include "expect.h"

#include "services/listings/listings.h"
#include "services/properties/properties.h"

static void
odata_geography_literals_parse(void **state)
{
    expect_tree("geo.distance(location, geography'POINT(2.35 48.85)') lt 2000",
                "(lt (geo.distance location geography'POINT(2.35 48.85)') 2000)");
    expect_tree("geo.intersects(location,geography'SRID=4326;POLYGON((0 0,1 0,1 1,0 0))')",
                "(geo.intersects location geography'SRID=4326;POLYGON((0 0,1 0,1 1,0 0))')");
    expect_syntax_error("geography'POINT(1 2)", 10, "never closed");
}

static void
odata_geo_functions_compile_to_2dsphere_operators(void **state)
{
    const char *near = "geo.distance(location, geography'POINT(2.35 48.85)')";
    char text[256];
    snprintf(text, sizeof(text), "%s lt 2000", near);
    expect_compiled(&properties_odata, text,
                    "{ \"location\" : { \"$geoWithin\" : { \"$centerSphere\" : [ [ 2.3500000000000000888, "
                    "48.850000000000001421 ], 0.000313573007635",
                    NULL);
    snprintf(text, sizeof(text), "2000 ge %s", near); /* mirrored */
    expect_compiled(&listings_odata, text, "{ \"property.location\" : { \"$geoWithin\" : { \"$centerSphere\"", NULL);
    expect_compiled(&listings_reso_odata, "geo.distance(Coordinates, geography'POINT(2 48)') le 500.5",
                    "\"property.location\" : { \"$geoWithin\"", NULL);
    expect_compiled(&properties_odata, "geo.intersects(location, geography'POLYGON((2 48, 2.1 48, 2.1 48.1, 2 48))')",
                    "{ \"location\" : { \"$geoWithin\" : { \"$geometry\" : { \"type\" : \"Polygon\"", NULL);
    expect_compiled(&properties_odata,
                    "geo.intersects(location, geography'POLYGON((2 48, 2.1 48, 2.1 48.1, 2 48))') eq false",
                    "{ \"$nor\" : [ { \"$and\" : [ { \"location\" : { \"$geoWithin\"", NULL);
    expect_compiled(&properties_odata, "location eq null", "{ \"location\" : { \"$eq\" : null } }", NULL);
}

static void
odata_geo_functions_refuse_what_they_cannot_mean(void **state)
{
    const odata_resource_t *p = &properties_odata;
    expect_compiled(p, "geo.distance(location, geography'POINT(2 48)') gt 10", NULL, "lt or le only");
    expect_compiled(p, "geo.distance(location, geography'POINT(2 48)') lt 100001", NULL, "at most 100000 metres");
    expect_compiled(p, "geo.distance(location, geography'POINT(2 48)') lt 0", NULL, "more than 0");
    expect_compiled(p, "geo.distance(location, geography'POINT(2 48)') lt 'far'", NULL, "a number of metres");
    expect_compiled(p, "geo.distance(location, geography'POINT(200 48)') lt 10", NULL, "longitude in [-180, 180]");
    expect_compiled(p, "geo.distance(location, geography'POINT(2)') lt 10", NULL, "LON LAT");
    expect_compiled(p, "geo.distance(location, geography'POINT(2 48) x') lt 10", NULL, "nothing more");
    expect_compiled(p, "geo.distance(location, geography'SRID=3857;POINT(2 48)') lt 10", NULL, "SRID=4326");
    expect_compiled(p, "geo.distance(location, geography'LINESTRING(2 48, 3 49)') lt 10", NULL, "POINT");
    expect_compiled(p, "geo.distance(location, 'POINT(2 48)') lt 10", NULL, "geography'…' literal");
    expect_compiled(p, "geo.distance(name, geography'POINT(2 48)') lt 10", NULL, "takes a point field");
    expect_compiled(p, "geo.distance(nowhere, geography'POINT(2 48)') lt 10", NULL, "'nowhere' is not a field");
    expect_compiled(p, "geo.distance(location, geography'POINT(2 48)')", NULL, "not a condition");
    expect_compiled(p, "geo.intersects(location, geography'POLYGON((0 0, 1 0, 1 1))')", NULL, "first repeated last");
    expect_compiled(p, "geo.intersects(location, geography'POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))')", NULL,
                    "intersects itself");
    expect_compiled(p,
                    "geo.intersects(location, geography'POLYGON((0 0, 3 0, 3 3, 0 0), (1 1, 2 1, 2 2, 1 "
                    "1))')",
                    NULL, "holes");
    expect_compiled(p, "geo.intersects(location, geography'POINT(1 1)')", NULL, "POLYGON");
    expect_compiled(p, "location eq 'x'", NULL, "location is a point");
    expect_compiled(&listings_odata, "geo.wander(location)", NULL, "geo.distance and geo.intersects");
}

static void
odata_orderby_geo_distance_is_nearest_first_alone(void **state)
{
    bson_t *query = roost_test_doc("{\"$orderby\": \"geo.distance(location, geography'POINT(2.35 48.85)') asc\"}");
    odata_query_t q;
    field_errors_t e;
    field_errors_init(&e);
    assert_true(odata_query_parse(&properties_odata, query, NULL, &q, &e));
    assert_true(q.by_distance && q.near.lon == 2.35 && q.near.lat == 48.85);
    assert_string_equal(q.near_path, "location");
    odata_query_destroy(&q);
    bson_destroy(query);
    const char *bad[] = {
        "{\"$orderby\": \"geo.distance(location, geography'POINT(2 48)') desc\"}",
        "{\"$orderby\": \"name, geo.distance(location, geography'POINT(2 48)')\"}",
        "{\"$orderby\": \"geo.distance(location, geography'POINT(2 48)'), name\"}",
        "{\"$orderby\": \"geo.distance(name, geography'POINT(2 48)')\"}",
        "{\"$orderby\": \"geo.distance(location, geography'POINT(2 48)')\", \"$search\": \"vue\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        query = roost_test_doc(bad[i]);
        uint32_t before = e.count;
        odata_query_parse(&properties_odata, query, NULL, &q, &e);
        assert_true(e.count > before);
        odata_query_destroy(&q);
        bson_destroy(query);
    }
    field_errors_destroy(&e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(odata_geography_literals_parse),
        cmocka_unit_test(odata_geo_functions_compile_to_2dsphere_operators),
        cmocka_unit_test(odata_geo_functions_refuse_what_they_cannot_mean),
        cmocka_unit_test(odata_orderby_geo_distance_is_nearest_first_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
