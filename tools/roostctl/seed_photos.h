/* roostctl seed --photos: pictures for the seeded properties (seed.c). */
#ifndef ROOST_SEED_PHOTOS_H
#define ROOST_SEED_PHOTOS_H

#include "roost/roost.h"

#include <stdbool.h>
#include <stdint.h>

/* What the photos phase needs of the seed: the properties made, by
 * position, and their owners. */
typedef struct {
    roost_client_t *client; /* the properties service's */
    uint64_t seed;
    const int64_t *properties, *owners;
    long count;
    long per_property; /* photos each */
    int jobs;
    bool quiet;
} seed_photos_t;

/* Gives each property `per_property` pictures drawn here (image.h's
 * image_generate), uploaded as any client's would be: pieces, then an add,
 * under the owner, each request id derived from the seed and the
 * positions ("seed-<seed>-photo-<i>-<k>"), so that a second run adds
 * nothing. False (said on stderr) on the first failure. */
bool seed_photos(const seed_photos_t *p);

#endif
