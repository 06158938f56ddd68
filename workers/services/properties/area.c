/* A property's living area, the sum of its rooms' areas: kept with every
 * rooms write (fields.c, rooms.c) and backfilled by migration 2
 * (migrations.c), so it lives apart from the handlers for roostctl to link. */
#include "properties.h"

#include <math.h>

bool
properties_living_area(const bson_t *doc, double *area_m2)
{
    bson_iter_t it, r, f;
    *area_m2 = 0;
    if (!bson_iter_init_find(&it, doc, "rooms"))
        return true;
    if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &r))
        return false;
    while (bson_iter_next(&r)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&r) || !bson_iter_recurse(&r, &f) || !bson_iter_find(&f, "area_m2") ||
            !BSON_ITER_HOLDS_NUMBER(&f))
            return false;
        *area_m2 += bson_iter_as_double(&f);
    }
    /* To the cm² (RESO's LivingArea has Scale 2): no 58.900000000000006 from summing binary doubles. */
    *area_m2 = round(*area_m2 * 100.0) / 100.0;
    return true;
}
