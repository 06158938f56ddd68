/*
 * OData's geo functions on a point field (ODATA_GEO), as MongoDB's 2dsphere
 * operators through query/geo.h, so that they mean what near/radius_m and
 * polygon mean (docs/search.md):
 *
 *   geo.distance(location, geography'POINT(LON LAT)') lt|le METRES
 *       → {$geoWithin: {$centerSphere}} (0 < METRES <= 100,000)
 *   geo.intersects(location, geography'POLYGON((LON LAT, …))')
 *       → {$geoWithin: {$geometry: Polygon}} (a point is in it)
 *   $orderby=geo.distance(location, geography'POINT(LON LAT)')
 *       → nearest first, through $geoNear (odata_orderby_geo)
 *
 * Literals are well-known text, optionally after "SRID=4326;" (WGS84, the
 * only one). Distances larger than a bound, polygons with holes and the
 * other geometry types are refused, not approximated.
 */
#include "query/geo.h"
#include "query/odata/internal.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool
odata_is_geo_call(const odata_node_t *n, const char *name)
{
    return n->kind == ODATA_CALL && strcmp(n->text, name) == 0;
}

/* The WKT of `lit` after "SRID=4326;" when it starts so, and after `type`
 * (case-insensitive) and '(' ; NULL (err set) when it is not that type. */
static const char *
wkt_body(const odata_node_t *lit, const char *type, odata_error_t *err)
{
    const char *s = lit->text;
    while (*s == ' ')
        s++;
    if (strncasecmp(s, "SRID=", 5) == 0) {
        if (strncmp(s + 5, "4326;", 5) != 0) {
            odata_cfail(err, lit, "the only spatial reference is SRID=4326 (WGS84 degrees)");
            return NULL;
        }
        s += 10;
    }
    size_t n = strlen(type);
    if (strncasecmp(s, type, n) != 0) {
        odata_cfail(err, lit, "expected geography'%s(…)'", type);
        return NULL;
    }
    for (s += n; *s == ' ';)
        s++;
    if (*s != '(') {
        odata_cfail(err, lit, "expected '(' after %s", type);
        return NULL;
    }
    return s + 1;
}

/* The field and the geography literal of a geo function's two arguments,
 * the field first. */
static bool
geo_args(const odata_resource_t *res, const odata_node_t *call, const odata_field_t **f, const odata_node_t **lit,
         odata_error_t *err)
{
    if (call->n != 2)
        return odata_cfail(err, call, "%s takes two arguments: a point field and a geography'…' literal", call->text);
    const odata_node_t *name = call->a[0], *value = call->a[1];
    if (name->kind != ODATA_NAME)
        return odata_cfail(err, name, "the first argument of %s is a point field", call->text);
    *f = odata_find_field(res, name->text, ODATA_FILTER);
    if (*f == NULL)
        return odata_unknown_field(res, name, ODATA_FILTER, err);
    if ((*f)->type != ODATA_GEO)
        return odata_cfail(err, name, "%s is %s: %s takes a point field", (*f)->name, odata_field_type_name(*f),
                           call->text);
    if (value->kind != ODATA_LIT || value->lit != ODATA_LIT_GEOGRAPHY)
        return odata_cfail(err, value, "the second argument of %s is a geography'…' literal", call->text);
    *lit = value;
    return true;
}

/* One "LON LAT" of a WKT at *s, in range; *s moves past it. */
static bool
wkt_position(const odata_node_t *lit, const char **s, geo_point_t *pt, odata_error_t *err)
{
    double v[2];
    for (int k = 0; k < 2; k++) {
        while (**s == ' ')
            (*s)++;
        size_t n = strcspn(*s, " ,)");
        if (n == 0 || !validate_decimal(*s, n, &v[k]))
            return odata_cfail(err, lit, "expected a position LON LAT of decimal degrees");
        *s += n;
    }
    while (**s == ' ')
        (*s)++;
    if (v[0] < -180 || v[0] > 180 || v[1] < -90 || v[1] > 90)
        return odata_cfail(err, lit, "a position is LON LAT, longitude in [-180, 180] and latitude in [-90, 90]");
    pt->lon = v[0];
    pt->lat = v[1];
    return true;
}

/* The point of geography'POINT(LON LAT)'. */
static bool
wkt_point(const odata_node_t *lit, geo_point_t *pt, odata_error_t *err)
{
    const char *s = wkt_body(lit, "POINT", err);
    if (s == NULL || !wkt_position(lit, &s, pt, err))
        return false;
    if (*s != ')' || s[1 + strspn(s + 1, " ")] != '\0')
        return odata_cfail(err, lit, "expected POINT(LON LAT) and nothing more");
    return true;
}

/* The one ring of geography'POLYGON((LON LAT, …))', checked as the
 * polygon parameter is (geo_ring_check). */
static bool
wkt_polygon(const odata_node_t *lit, geo_ring_t *ring, odata_error_t *err)
{
    const char *s = wkt_body(lit, "POLYGON", err);
    if (s == NULL)
        return false;
    while (*s == ' ')
        s++;
    if (*s++ != '(')
        return odata_cfail(err, lit, "expected POLYGON((LON LAT, …))");
    ring->n = 0;
    for (;;) {
        if (ring->n == GEO_POLYGON_MAX_VERTICES + 1)
            return odata_cfail(err, lit, "a polygon has at most %d vertices", GEO_POLYGON_MAX_VERTICES);
        if (!wkt_position(lit, &s, &ring->at[ring->n++], err))
            return false;
        if (*s == ',') {
            s++;
            continue;
        }
        break;
    }
    if (*s++ != ')')
        return odata_cfail(err, lit, "expected ',' or ')' in the polygon's ring");
    while (*s == ' ')
        s++;
    if (*s == ',')
        return odata_cfail(err, lit, "a polygon with holes (more than one ring) is not supported");
    if (*s != ')' || s[1 + strspn(s + 1, " ")] != '\0')
        return odata_cfail(err, lit, "expected POLYGON((LON LAT, …)) and nothing more");
    char why[160];
    if (!geo_ring_check(ring, why, sizeof(why)))
        return odata_cfail(err, lit, "the polygon %s", why);
    return true;
}

bool
odata_compile_geo_distance(const odata_resource_t *res, const odata_node_t *call, odata_op_t op,
                           const odata_node_t *value, bson_t *out, odata_error_t *err)
{
    const odata_field_t *f;
    const odata_node_t *lit;
    geo_area_t area = {.near = true};
    if (!geo_args(res, call, &f, &lit, err) || !wkt_point(lit, &area.centre, err))
        return false;
    if (op != ODATA_LT && op != ODATA_LE)
        return odata_cfail(err, call, "geo.distance is compared with lt or le only: within a distance");
    if (value->kind != ODATA_LIT || (value->lit != ODATA_LIT_INT && value->lit != ODATA_LIT_DOUBLE))
        return odata_cfail(err, value, "geo.distance is compared with a number of metres");
    area.radius_m = value->lit == ODATA_LIT_INT ? (double)value->i : value->d;
    if (!(area.radius_m > 0 && area.radius_m <= GEO_RADIUS_MAX_M))
        return odata_cfail(err, value, "a distance is more than 0 and at most %.0f metres", GEO_RADIUS_MAX_M);
    geo_area_append(&area, f->path, false, out);
    return true;
}

bool
odata_compile_geo_intersects(const odata_resource_t *res, const odata_node_t *call, bson_t *out, odata_error_t *err)
{
    const odata_field_t *f;
    const odata_node_t *lit;
    geo_area_t area = {.polygon = true};
    if (!geo_args(res, call, &f, &lit, err) || !wkt_polygon(lit, &area.ring, err))
        return false;
    geo_area_append(&area, f->path, false, out);
    return true;
}

bool
odata_orderby_geo(const odata_resource_t *res, const char *item, odata_query_t *q, field_errors_t *errors)
{
    odata_error_t err = {0};
    odata_node_t *n = odata_parse(item, strlen(item), &err);
    const odata_field_t *f;
    const odata_node_t *lit;
    bool ok = n != NULL;
    if (ok && !odata_is_geo_call(n, "geo.distance"))
        ok = odata_cfail(&err, n, "expected geo.distance(field, geography'POINT(LON LAT)'), nearest first");
    ok = ok && geo_args(res, n, &f, &lit, &err) && wkt_point(lit, &q->near, &err);
    if (ok) {
        q->near_path = f->path;
        q->by_distance = true;
    } else {
        field_errors_add(errors, "$orderby", "%s", err.message);
    }
    odata_free(n);
    return ok;
}
