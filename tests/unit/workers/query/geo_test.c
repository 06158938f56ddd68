/* The map parameters (query/geo.h): what each accepts, what it refuses and why, and the filters it writes. */
#include "roost_test.h"

#include "query/geo.h"

#include <math.h>
#include <string.h>

/* Parses `json` (a query of strings); returns the number of errors, the first one's field in `field`. */
static uint32_t
parse(const char *json, geo_area_t *a, char *field, size_t size)
{
    bson_t *q = roost_test_doc(json);
    field_errors_t e;
    bson_iter_t it;
    field_errors_init(&e);
    geo_area_parse(q, &e, a);
    field[0] = '\0';
    if (e.count > 0 && bson_iter_init(&it, &e.list) && bson_iter_find_descendant(&it, "0.field", &it))
        snprintf(field, size, "%s", bson_iter_utf8(&it, NULL));
    uint32_t n = e.count;
    field_errors_destroy(&e);
    bson_destroy(q);
    return n;
}

static void
geo_accepts_each_area(void **state)
{
    geo_area_t a;
    char field[32];
    assert_int_equal(parse("{\"near\": \"48.8566,2.3522\", \"radius_m\": \"2000\"}", &a, field, sizeof(field)), 0);
    assert_true(a.near && !a.bbox && !a.polygon);
    assert_true(a.centre.lat == 48.8566 && a.centre.lon == 2.3522 && a.radius_m == 2000);
    assert_int_equal(parse("{\"bbox\": \"2.2,48.8,2.4,48.9\"}", &a, field, sizeof(field)), 0);
    assert_true(a.bbox && a.box.n == 5); /* narrower than a degree: the four corners, closed */
    assert_int_equal(parse("{\"polygon\": \"2 48,2.1 48,2.1 48.1,2 48\"}", &a, field, sizeof(field)), 0);
    assert_true(a.polygon && a.ring.n == 4);
    assert_int_equal(parse("{\"polygon\": \" 2 48,  2.1 48 ,2.1  48.1,2 48\"}", &a, field, sizeof(field)), 0);
    assert_true(a.polygon && a.ring.n == 4 && a.ring.at[2].lat == 48.1);
    assert_int_equal(parse("{}", &a, field, sizeof(field)), 0);
    assert_false(geo_area_any(&a));
}

static void
geo_a_bbox_across_the_antimeridian_is_one_ring(void **state)
{
    geo_area_t a;
    char field[32];
    assert_int_equal(parse("{\"bbox\": \"179.5,-17,-179.5,-16\"}", &a, field, sizeof(field)), 0);
    assert_true(a.bbox);
    /* One degree wide: one step along each parallel, through +-180. */
    assert_int_equal(a.box.n, 5);
    assert_true(a.box.at[0].lon == 179.5 && a.box.at[1].lon == -179.5);
    /* Five degrees wide: a vertex every degree, closed. */
    assert_int_equal(parse("{\"bbox\": \"10,40,15,45\"}", &a, field, sizeof(field)), 0);
    assert_int_equal(a.box.n, 2 * 6 + 1);
    assert_true(memcmp(&a.box.at[0], &a.box.at[a.box.n - 1], sizeof(geo_point_t)) == 0);
}

static void
geo_refuses_naming_the_parameter(void **state)
{
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"near\": \"48.8,2.3\", \"radius_m\": \"100001\"}", "radius_m"},
        {"{\"near\": \"48.8,2.3\", \"radius_m\": \"-1\"}", "radius_m"},
        {"{\"near\": \"48.8,2.3\", \"radius_m\": \"inf\"}", "radius_m"},
        {"{\"radius_m\": \"10\"}", "radius_m"},
        {"{\"near\": \"48.8,2.3\"}", "radius_m"},
        {"{\"near\": \"48.8;2.3\", \"radius_m\": \"1\"}", "near"},
        {"{\"near\": \"-90.5,0\", \"radius_m\": \"1\"}", "near"},
        {"{\"near\": \"1,2,\", \"radius_m\": \"1\"}", "near"},
        {"{\"near\": \"nan,2\", \"radius_m\": \"1\"}", "near"},
        {"{\"bbox\": \"1,2,3\"}", "bbox"},
        {"{\"bbox\": \"1,2,3,4,5\"}", "bbox"},
        {"{\"bbox\": \"1,5,3,4\"}", "bbox"},
        {"{\"bbox\": \"1,4,1,5\"}", "bbox"},
        {"{\"bbox\": \"-90,0,90,1\"}", "bbox"},
        {"{\"bbox\": \"0,89,1,90\"}", "bbox"},
        {"{\"bbox\": \"0,0,181,1\"}", "bbox"},
        {"{\"polygon\": \"0 0,1 1\"}", "polygon"},
        {"{\"polygon\": \"0 0,1 0,0 0\"}", "polygon"},
        {"{\"polygon\": \"0 0,1 0,1 1,0 1\"}", "polygon"},
        {"{\"polygon\": \"0 0,1 1,1 0,0 1,0 0\"}", "polygon"},
        {"{\"polygon\": \"0 0,1 0,1 1,1 0,0 0\"}", "polygon"},
        {"{\"polygon\": \"0 0,1 0,1 91,0 0\"}", "polygon"},
        {"{\"polygon\": \"0 0;1 0;1 1;0 0\"}", "polygon"},
        {"{\"polygon\": \"0 0,120 0,-120 0,0 0\"}", "polygon"},
        {"{\"near\": 5}", "near"},
        {"{\"bbox\": \"180,-1,-180,1\"}", "bbox"},
        {"{\"polygon\": \"170 0,180 0,-180 0,170 5,170 0\"}", "polygon"},
        {"{\"polygon\": \"0 80,0 90,90 90,90 80,0 80\"}", "polygon"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        geo_area_t a;
        char field[32];
        uint32_t n = parse(bad[i].json, &a, field, sizeof(field));
        if (n == 0 || strcmp(field, bad[i].field) != 0)
            fail_msg("%s: %u errors, the first on '%s', not '%s'", bad[i].json, n, field, bad[i].field);
    }
}

static void
geo_polygons_up_to_a_hundred_vertices(void **state)
{
    char json[8192];
    for (int n = 100; n <= 101; n++) {
        size_t len = (size_t)snprintf(json, sizeof(json), "{\"polygon\": \"");
        for (int k = 0; k <= n; k++)
            len += (size_t)snprintf(json + len, sizeof(json) - len, "%s%.6f %.6f", k ? "," : "",
                                    cos(2 * M_PI * (k % n) / n), sin(2 * M_PI * (k % n) / n));
        snprintf(json + len, sizeof(json) - len, "\"}");
        geo_area_t a;
        char field[32];
        assert_int_equal(parse(json, &a, field, sizeof(field)), n == 100 ? 0 : 1);
    }
}

static void
geo_writes_mongodb_operators(void **state)
{
    geo_area_t a;
    char field[32];
    bson_t filter = BSON_INITIALIZER;
    assert_int_equal(
        parse("{\"near\": \"10,20\", \"radius_m\": \"6378.1\", \"bbox\": \"19,9,21,11\"}", &a, field, sizeof(field)),
        0);
    geo_area_append(&a, "property.location", false, &filter);
    char *json = bson_as_relaxed_extended_json(&filter, NULL);
    assert_non_null(strstr(json, "\"$centerSphere\" : [ [ 20.0, 10.0 ], 0.001"));
    assert_non_null(strstr(json, "\"type\" : \"Polygon\""));
    bson_free(json);
    bson_reinit(&filter);
    geo_area_append(&a, "location", true, &filter); /* the circle left to $geoNear */
    json = bson_as_relaxed_extended_json(&filter, NULL);
    assert_null(strstr(json, "$centerSphere"));
    bson_free(json);
    bson_destroy(&filter);
    /* A quarter of the equator. */
    assert_true(fabs(geo_distance_m((geo_point_t){0, 0}, (geo_point_t){90, 0}) - M_PI / 2 * GEO_EARTH_RADIUS_M) < 1e-6);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(geo_accepts_each_area),
        cmocka_unit_test(geo_a_bbox_across_the_antimeridian_is_one_ring),
        cmocka_unit_test(geo_refuses_naming_the_parameter),
        cmocka_unit_test(geo_polygons_up_to_a_hundred_vertices),
        cmocka_unit_test(geo_writes_mongodb_operators),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
