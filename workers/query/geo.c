/* The map parameters of a list, checked and written as MongoDB geo operators (geo.h). */
#include "query/geo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double v[3];
} geo_vec_t;

static geo_vec_t
geo_unit(geo_point_t p)
{
    double lo = p.lon * M_PI / 180, la = p.lat * M_PI / 180;
    return (geo_vec_t){{cos(la) * cos(lo), cos(la) * sin(lo), sin(la)}};
}

static double
geo_dot(geo_vec_t a, geo_vec_t b)
{
    return a.v[0] * b.v[0] + a.v[1] * b.v[1] + a.v[2] * b.v[2];
}

static geo_vec_t
geo_cross(geo_vec_t a, geo_vec_t b)
{
    return (geo_vec_t){
        {a.v[1] * b.v[2] - a.v[2] * b.v[1], a.v[2] * b.v[0] - a.v[0] * b.v[2], a.v[0] * b.v[1] - a.v[1] * b.v[0]}};
}

static geo_vec_t
geo_normal(geo_vec_t a)
{
    double n = sqrt(geo_dot(a, a));
    return (geo_vec_t){{a.v[0] / n, a.v[1] / n, a.v[2] / n}};
}

double
geo_distance_m(geo_point_t a, geo_point_t b)
{
    double p1 = a.lat * M_PI / 180, p2 = b.lat * M_PI / 180;
    double dp = p2 - p1, dl = (b.lon - a.lon) * M_PI / 180;
    double h = sin(dp / 2) * sin(dp / 2) + cos(p1) * cos(p2) * sin(dl / 2) * sin(dl / 2);
    return 2 * asin(sqrt(fmin(1, h))) * GEO_EARTH_RADIUS_M;
}

/* The `n` numbers of a separated list ("1,2" or "1 2"): false when there are more or fewer. */
static bool
geo_numbers(const char *s, char sep, double *out, int n)
{
    for (int i = 0; i < n; i++) {
        const char *end = strchr(s, sep);
        if ((i < n - 1) != (end != NULL))
            return false;
        size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
        if (!validate_decimal(s, len, &out[i]))
            return false;
        s += len + 1;
    }
    return true;
}

static bool
geo_in_range(geo_point_t p)
{
    return fabs(p.lat) <= 90 && fabs(p.lon) <= 180;
}

/* A query parameter's string, or NULL when absent; a non-string is an error. */
static const char *
geo_param(const bson_t *query, const char *key, field_errors_t *e)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, query, key))
        return NULL;
    if (!BSON_ITER_HOLDS_UTF8(&it)) {
        field_errors_add(e, key, "must be a string");
        return NULL;
    }
    return bson_iter_utf8(&it, NULL);
}

static void
geo_parse_near(const bson_t *query, field_errors_t *e, geo_area_t *out)
{
    const char *near = geo_param(query, "near", e), *radius = geo_param(query, "radius_m", e);
    double ll[2];
    if (near != NULL) {
        if (!geo_numbers(near, ',', ll, 2))
            field_errors_add(e, "near", "must be LAT,LON: two decimal numbers, e.g. near=48.8566,2.3522");
        else if (!geo_in_range((geo_point_t){ll[1], ll[0]}))
            field_errors_add(e, "near", "must be a latitude in [-90, 90] and a longitude in [-180, 180]");
        else
            out->near = true, out->centre = (geo_point_t){ll[1], ll[0]};
    }
    if (radius != NULL) {
        if (!validate_decimal(radius, strlen(radius), &out->radius_m) || !(out->radius_m > 0) ||
            out->radius_m > GEO_RADIUS_MAX_M)
            field_errors_add(e, "radius_m", "must be a number of metres greater than 0 and at most %.0f",
                             GEO_RADIUS_MAX_M);
        else if (near == NULL)
            field_errors_add(e, "radius_m", "needs near: the centre of the circle");
    } else if (near != NULL) {
        field_errors_add(e, "radius_m", "is required with near: the circle's radius in metres, at most %.0f",
                         GEO_RADIUS_MAX_M);
        out->near = false;
    }
    if (out->near && (radius == NULL || !(out->radius_m > 0) || out->radius_m > GEO_RADIUS_MAX_M))
        out->near = false;
}

/* The bbox as a ring: its parallels drawn every GEO_BBOX_STEP_DEG at most. */
static void
geo_bbox_ring(double west, double south, double east, double north, geo_ring_t *r)
{
    double width = east >= west ? east - west : east + 360 - west;
    int steps = (int)ceil(width / GEO_BBOX_STEP_DEG);
    if (steps < 1)
        steps = 1;
    r->n = 0;
    for (int i = 0; i <= steps; i++) { /* along the south edge, west to east */
        double lon = west + width * i / steps;
        r->at[r->n++] = (geo_point_t){lon > 180 ? lon - 360 : lon, south};
    }
    for (int i = steps; i >= 0; i--) { /* back along the north edge */
        double lon = west + width * i / steps;
        r->at[r->n++] = (geo_point_t){lon > 180 ? lon - 360 : lon, north};
    }
    r->at[r->n++] = r->at[0];
}

static void
geo_parse_bbox(const bson_t *query, field_errors_t *e, geo_area_t *out)
{
    const char *bbox = geo_param(query, "bbox", e);
    double b[4];
    if (bbox == NULL)
        return;
    if (!geo_numbers(bbox, ',', b, 4)) {
        field_errors_add(e, "bbox", "must be WEST,SOUTH,EAST,NORTH: four decimal numbers (GeoJSON order)");
        return;
    }
    double width = b[2] >= b[0] ? b[2] - b[0] : b[2] + 360 - b[0];
    if (fabs(b[0]) > 180 || fabs(b[2]) > 180 || fabs(b[1]) > 90 || fabs(b[3]) > 90)
        field_errors_add(e, "bbox", "longitudes must be in [-180, 180] and latitudes in [-90, 90]");
    else if (b[1] >= b[3])
        field_errors_add(e, "bbox", "SOUTH must be less than NORTH");
    else if (width <= 0 || width >= 180)
        field_errors_add(e, "bbox",
                         "must be more than 0 and less than 180 degrees wide (WEST greater than EAST crosses the "
                         "antimeridian)");
    else if (fabs(b[1]) == 90 || fabs(b[3]) == 90)
        field_errors_add(e, "bbox", "cannot reach a pole: use near with radius_m there");
    else {
        geo_bbox_ring(b[0], b[1], b[2], b[3], &out->box);
        char why[160];
        if (!geo_ring_check(&out->box, why, sizeof(why)))
            field_errors_add(e, "bbox", "%s", why);
        else
            out->bbox = true;
    }
}

/* One polygon position, "LON LAT": two numbers between spaces (more than
 * one, and around them, allowed), copied into `pos` to be read. */
static bool
geo_position(const char *s, size_t len, char *pos, double *ll)
{
    while (len > 0 && *s == ' ')
        s++, len--;
    while (len > 0 && s[len - 1] == ' ')
        len--;
    memcpy(pos, s, len);
    pos[len] = '\0';
    char *gap = strchr(pos, ' ');
    if (gap == NULL)
        return false;
    size_t lon_len = (size_t)(gap - pos);
    while (*gap == ' ')
        gap++;
    return validate_decimal(pos, lon_len, &ll[0]) && validate_decimal(gap, strlen(gap), &ll[1]);
}

static void
geo_parse_polygon(const bson_t *query, field_errors_t *e, geo_area_t *out)
{
    const char *polygon = geo_param(query, "polygon", e);
    if (polygon == NULL)
        return;
    geo_ring_t *r = &out->ring;
    r->n = 0;
    for (const char *s = polygon;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);
        char pos[80];
        double ll[2];
        if (r->n > GEO_POLYGON_MAX_VERTICES) {
            field_errors_add(e, "polygon", "may have at most %d vertices (%d positions with the closing one)",
                             GEO_POLYGON_MAX_VERTICES, GEO_POLYGON_MAX_VERTICES + 1);
            return;
        }
        if (len >= sizeof(pos) || !geo_position(s, len, pos, ll)) {
            field_errors_add(e, "polygon",
                             "position %d must be 'LON LAT': two decimal numbers separated by a space, "
                             "positions separated by commas",
                             r->n + 1);
            return;
        }
        r->at[r->n++] = (geo_point_t){ll[0], ll[1]};
        if (comma == NULL)
            break;
        s = comma + 1;
    }
    char why[160];
    if (!geo_ring_check(r, why, sizeof(why)))
        field_errors_add(e, "polygon", "%s", why);
    else
        out->polygon = true;
}

bool
geo_area_parse(const bson_t *query, field_errors_t *e, geo_area_t *out)
{
    uint32_t before = e->count;
    memset(out, 0, sizeof(*out));
    geo_parse_near(query, e, out);
    geo_parse_bbox(query, e, out);
    geo_parse_polygon(query, e, out);
    return e->count == before;
}

void
geo_point_store(bson_t *doc, const char *key, const bson_t *latlon)
{
    bson_iter_t lat, lon;
    bson_t point, coords;
    if (!bson_iter_init_find(&lat, latlon, "lat") || !BSON_ITER_HOLDS_NUMBER(&lat) ||
        !bson_iter_init_find(&lon, latlon, "lon") || !BSON_ITER_HOLDS_NUMBER(&lon))
        return;
    BSON_APPEND_DOCUMENT_BEGIN(doc, key, &point);
    BSON_APPEND_UTF8(&point, "type", "Point");
    BSON_APPEND_ARRAY_BEGIN(&point, "coordinates", &coords);           /* GeoJSON order: longitude first */
    BSON_APPEND_DOUBLE(&coords, "0", bson_iter_as_double(&lon) + 0.0); /* + 0.0: no -0 stored */
    BSON_APPEND_DOUBLE(&coords, "1", bson_iter_as_double(&lat) + 0.0);
    bson_append_array_end(&point, &coords);
    bson_append_document_end(doc, &point);
}

void
geo_point_show(const bson_t *doc, const char *key, bson_t *out)
{
    bson_iter_t it, c;
    char path[64];
    double lon;
    snprintf(path, sizeof(path), "%s.coordinates", key);
    if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, path, &it) && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &c) && bson_iter_next(&c) && BSON_ITER_HOLDS_NUMBER(&c) &&
        (lon = bson_iter_as_double(&c), bson_iter_next(&c)) && BSON_ITER_HOLDS_NUMBER(&c)) {
        bson_t loc;
        BSON_APPEND_DOCUMENT_BEGIN(out, key, &loc);
        BSON_APPEND_DOUBLE(&loc, "lat", bson_iter_as_double(&c));
        BSON_APPEND_DOUBLE(&loc, "lon", lon);
        bson_append_document_end(out, &loc);
    } else {
        BSON_APPEND_NULL(out, key);
    }
}

void
geo_check_order(const geo_area_t *a, bool by_distance, int dir, field_errors_t *e)
{
    if (by_distance && dir < 0)
        field_errors_add(e, "order_by", "distance is nearest first only: order_by=distance");
    else if (by_distance && !a->near)
        field_errors_add(e, "order_by", "distance needs near (and radius_m): the point to measure from");
}

bool
geo_area_any(const geo_area_t *a)
{
    return a->near || a->bbox || a->polygon;
}

/* Planar: whether segments pq and rs meet (touching counts). */
static double
geo_orient(const double *a, const double *b, const double *c)
{
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
}

static bool
geo_on(const double *a, const double *b, const double *p)
{
    return fmin(a[0], b[0]) <= p[0] && p[0] <= fmax(a[0], b[0]) && fmin(a[1], b[1]) <= p[1] && p[1] <= fmax(a[1], b[1]);
}

static bool
geo_meet(const double *p1, const double *p2, const double *q1, const double *q2)
{
    double d1 = geo_orient(q1, q2, p1), d2 = geo_orient(q1, q2, p2);
    double d3 = geo_orient(p1, p2, q1), d4 = geo_orient(p1, p2, q2);
    if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0)))
        return true;
    return (d1 == 0 && geo_on(q1, q2, p1)) || (d2 == 0 && geo_on(q1, q2, p2)) || (d3 == 0 && geo_on(p1, p2, q1)) ||
           (d4 == 0 && geo_on(p1, p2, q2));
}

bool
geo_ring_check(const geo_ring_t *r, char *why, size_t size)
{
    int n = r->n - 1; /* vertices */
    if (r->n < 4) {
        snprintf(why, size, "needs at least 3 vertices and the first repeated last to close it (%d positions given)",
                 r->n);
        return false;
    }
    if (memcmp(&r->at[0], &r->at[n], sizeof(geo_point_t)) != 0) {
        snprintf(why, size, "is not closed: its last position must repeat the first");
        return false;
    }
    for (int i = 0; i < r->n; i++)
        if (!geo_in_range(r->at[i])) {
            snprintf(why, size, "position %d is out of range: longitude in [-180, 180], latitude in [-90, 90]", i + 1);
            return false;
        }
    /* The gnomonic projection about the vertices' mean direction maps
     * great-circle edges to straight lines: crossings are found there, as
     * on the sphere. It needs every vertex on the centre's hemisphere. */
    geo_vec_t sum = {{0, 0, 0}};
    for (int i = 0; i < n; i++) {
        geo_vec_t v = geo_unit(r->at[i]);
        for (int k = 0; k < 3; k++)
            sum.v[k] += v.v[k];
    }
    bool small = sqrt(geo_dot(sum, sum)) > 1e-9;
    geo_vec_t c = small ? geo_normal(sum) : sum;
    for (int i = 0; small && i < n; i++)
        small = geo_dot(geo_unit(r->at[i]), c) >= 1e-6;
    if (!small) {
        snprintf(why, size, "spans more than a hemisphere");
        return false;
    }
    geo_vec_t ref = fabs(c.v[2]) > 0.9 ? (geo_vec_t){{1, 0, 0}} : (geo_vec_t){{0, 0, 1}};
    geo_vec_t u = geo_normal(geo_cross(ref, c)), w = geo_cross(c, u);
    double(*plane)[2] = malloc(sizeof(double[2]) * (size_t)r->n);
    for (int i = 0; i < r->n; i++) {
        geo_vec_t v = geo_unit(r->at[i]);
        double d = geo_dot(v, c);
        plane[i][0] = geo_dot(v, u) / d;
        plane[i][1] = geo_dot(v, w) / d;
    }
    bool ok = true;
    for (int i = 0; ok && i < n; i++)
        for (int j = i + 1; ok && j < n; j++) {
            geo_vec_t a = geo_unit(r->at[i]), b = geo_unit(r->at[j]), x = geo_cross(a, b);
            if (atan2(sqrt(geo_dot(x, x)), geo_dot(a, b)) < 1e-12) { /* one point, however written (+-180, a pole) */
                snprintf(why, size, "repeats a vertex (positions %d and %d are the same point)", i + 1, j + 1);
                ok = false;
            } else if (j != i + 1 && !(i == 0 && j == n - 1) &&
                       geo_meet(plane[i], plane[i + 1], plane[j], plane[j + 1])) {
                snprintf(why, size, "intersects itself: edges %d and %d cross", i + 1, j + 1);
                ok = false;
            }
        }
    free(plane);
    return ok;
}

void
geo_ring_append(const geo_ring_t *r, const char *key, bson_t *out)
{
    bson_t rings, ring, pos;
    BSON_APPEND_ARRAY_BEGIN(out, key, &rings);
    BSON_APPEND_ARRAY_BEGIN(&rings, "0", &ring);
    for (int i = 0; i < r->n; i++) {
        char k[16];
        snprintf(k, sizeof(k), "%d", i);
        BSON_APPEND_ARRAY_BEGIN(&ring, k, &pos);
        BSON_APPEND_DOUBLE(&pos, "0", r->at[i].lon);
        BSON_APPEND_DOUBLE(&pos, "1", r->at[i].lat);
        bson_append_array_end(&ring, &pos);
    }
    bson_append_array_end(&rings, &ring);
    bson_append_array_end(out, &rings);
}

/* {path: {$geoWithin: {$geometry: Polygon}}} as element `key` of an $and. */
static void
geo_append_polygon(const geo_ring_t *r, const char *path, const char *key, bson_t *and)
{
    bson_t cond, op, within, geometry;
    BSON_APPEND_DOCUMENT_BEGIN(and, key, &cond);
    BSON_APPEND_DOCUMENT_BEGIN(&cond, path, &op);
    BSON_APPEND_DOCUMENT_BEGIN(&op, "$geoWithin", &within);
    BSON_APPEND_DOCUMENT_BEGIN(&within, "$geometry", &geometry);
    BSON_APPEND_UTF8(&geometry, "type", "Polygon");
    geo_ring_append(r, "coordinates", &geometry);
    bson_append_document_end(&within, &geometry);
    bson_append_document_end(&op, &within);
    bson_append_document_end(&cond, &op);
    bson_append_document_end(and, &cond);
}

void
geo_area_append(const geo_area_t *a, const char *path, bool skip_near, bson_t *filter)
{
    bson_t and, cond, op, within, sphere, centre;
    int n = 0;
    char key[16];
    if (!(a->near && !skip_near) && !a->bbox && !a->polygon)
        return;
    /* Under $and: two conditions on one path cannot share a document key. */
    BSON_APPEND_ARRAY_BEGIN(filter, "$and", &and);
    if (a->near && !skip_near) {
        snprintf(key, sizeof(key), "%d", n++);
        BSON_APPEND_DOCUMENT_BEGIN(&and, key, &cond);
        BSON_APPEND_DOCUMENT_BEGIN(&cond, path, &op);
        BSON_APPEND_DOCUMENT_BEGIN(&op, "$geoWithin", &within);
        BSON_APPEND_ARRAY_BEGIN(&within, "$centerSphere", &sphere);
        BSON_APPEND_ARRAY_BEGIN(&sphere, "0", &centre);
        BSON_APPEND_DOUBLE(&centre, "0", a->centre.lon);
        BSON_APPEND_DOUBLE(&centre, "1", a->centre.lat);
        bson_append_array_end(&sphere, &centre);
        BSON_APPEND_DOUBLE(&sphere, "1", a->radius_m / GEO_EARTH_RADIUS_M);
        bson_append_array_end(&within, &sphere);
        bson_append_document_end(&op, &within);
        bson_append_document_end(&cond, &op);
        bson_append_document_end(&and, &cond);
    }
    if (a->bbox) {
        snprintf(key, sizeof(key), "%d", n++);
        geo_append_polygon(&a->box, path, key, &and);
    }
    if (a->polygon) {
        snprintf(key, sizeof(key), "%d", n++);
        geo_append_polygon(&a->ring, path, key, &and);
    }
    bson_append_array_end(filter, &and);
}
