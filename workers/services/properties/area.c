/* What a property's fields say about it — from its rooms, its living area
 * and its bedroom and bathroom counts, kept with every rooms write (edit.c,
 * rooms.c); from its texts, its words (query/words.h), kept with every
 * write — backfilled by migrations 2, 3 and 6 (migrations.c), so it lives
 * apart from the handlers for roostctl to link. */
#include "properties.h"
#include "query/words.h"

#include <math.h>
#include <string.h>

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

bool
properties_room_counts(const bson_t *doc, int32_t *bedrooms, int32_t *bathrooms)
{
    bson_iter_t it, r, f;
    *bedrooms = *bathrooms = 0;
    if (!bson_iter_init_find(&it, doc, "rooms"))
        return true;
    if (!BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &r))
        return false;
    while (bson_iter_next(&r)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&r) || !bson_iter_recurse(&r, &f) || !bson_iter_find(&f, "kind") ||
            !BSON_ITER_HOLDS_UTF8(&f))
            return false;
        const char *kind = bson_iter_utf8(&f, NULL);
        *bedrooms += strcmp(kind, "bedroom") == 0;
        *bathrooms += strcmp(kind, "bathroom") == 0;
    }
    return true;
}

void
properties_append_derived(bson_t *changes)
{
    double area_m2;
    int32_t bedrooms, bathrooms;
    if (properties_living_area(changes, &area_m2))
        BSON_APPEND_DOUBLE(changes, "living_area_m2", area_m2);
    if (properties_room_counts(changes, &bedrooms, &bathrooms)) {
        BSON_APPEND_INT32(changes, "bedrooms", bedrooms);
        BSON_APPEND_INT32(changes, "bathrooms", bathrooms);
    }
}

void
properties_append_words(bson_t *doc)
{
    bson_t words = BSON_INITIALIZER;
    words_append(&words, "words", doc); /* read from doc, so appended after */
    bson_concat(doc, &words);
    bson_destroy(&words);
}
