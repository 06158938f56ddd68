/*
 * Where on the map a list looks: the near / radius_m, bbox and polygon
 * parameters of GET /api/v1/listings and /api/v1/properties (docs/search.md),
 * checked and turned into MongoDB's own geo operators on a GeoJSON Point
 * field. Pure: unit-tested, and the same for both services.
 *
 * Geometry is MongoDB's 2dsphere geometry: WGS84 degrees, distances on a
 * sphere of 6,378,100 m, polygon edges along great circles. A polygon is
 * refused where MongoDB or the embedded database would refuse it (edges
 * that cross, a repeated vertex, more than a hemisphere), so that a
 * request the API accepts is never a database error.
 */
#ifndef ROOST_QUERY_GEO_H
#define ROOST_QUERY_GEO_H

#include "query/validate.h"

#include <bson/bson.h>
#include <stdbool.h>

#define GEO_EARTH_RADIUS_M 6378100.0
#define GEO_RADIUS_MAX_M 100000.0
#define GEO_POLYGON_MAX_VERTICES 100
/* A bbox's edges along parallels are drawn with a vertex at least every
 * this many degrees, so that the great-circle edges stay near them. */
#define GEO_BBOX_STEP_DEG 1.0
/* The most positions a ring holds: a bbox's, densified, closed. */
#define GEO_RING_MAX 368 /* 2 × (180 / GEO_BBOX_STEP_DEG + 1) + 1, and more than a polygon's 101 */

typedef struct {
    double lon, lat;
} geo_point_t;

/* A closed ring (first position repeated last), checked. */
typedef struct {
    geo_point_t at[GEO_RING_MAX];
    int n; /* positions, the closing one included */
} geo_ring_t;

/* The areas a query asked for; each present one narrows the list. */
typedef struct {
    bool near; /* near + radius_m */
    geo_point_t centre;
    double radius_m;
    bool bbox;
    geo_ring_t box; /* the bbox as a ring */
    bool polygon;
    geo_ring_t ring;
} geo_area_t;

/*
 * Reads `near=LAT,LON` with `radius_m=R` (0 < R <= 100,000), `bbox=WEST,
 * SOUTH,EAST,NORTH` (GeoJSON order; WEST > EAST crosses the antimeridian;
 * at most 180 degrees wide) and `polygon=LON LAT,LON LAT,...` (closed, 3
 * to 100 vertices, no crossing edges) from `query` (strings, as the
 * ingress sends them). Each problem is an error named by its parameter.
 * True when the query holds none or only valid ones.
 */
bool geo_area_parse(const bson_t *query, field_errors_t *e, geo_area_t *out);

/* Whether the query asked for any area. */
bool geo_area_any(const geo_area_t *a);

/* Appends under `key` the GeoJSON Point {type: "Point", coordinates:
 * [lon, lat]} (what a 2dsphere index reads) of the public {lat, lon}
 * object `latlon`; nothing when it lacks either number. */
void geo_point_store(bson_t *doc, const char *key, const bson_t *latlon);

/* Appends under `key` the public {lat, lon} of the GeoJSON Point that
 * `doc` holds at `key`, or null when it holds none. */
void geo_point_show(const bson_t *doc, const char *key, bson_t *out);

/* order_by=distance (`by_distance`, in direction `dir`) needs near and is
 * nearest first only: an error on order_by otherwise. */
void geo_check_order(const geo_area_t *a, bool by_distance, int dir, field_errors_t *e);

/* Appends one {path: {$geoWithin: ...}} per area to `filter` ($and when
 * more than one); with `skip_near` the near cap is left to a $geoNear. */
void geo_area_append(const geo_area_t *a, const char *path, bool skip_near, bson_t *filter);

/* Checks a closed ring as MongoDB would (3+ vertices, closed, in range,
 * within a hemisphere, no repeated vertex, no crossing edges); the message
 * says what is wrong. */
bool geo_ring_check(const geo_ring_t *r, char *why, size_t size);

/* Appends the ring as a GeoJSON Polygon's "coordinates" array. */
void geo_ring_append(const geo_ring_t *r, const char *key, bson_t *out);

/* The great-circle distance in metres (haversine, MongoDB's sphere). */
double geo_distance_m(geo_point_t a, geo_point_t b);

#endif
