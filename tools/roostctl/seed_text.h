/* The words of seeded homes (roostctl seed): cities, names, streets and
 * descriptions drawn from small lists, so that keyword search
 * (q=, docs/search.md) finds something on a fresh make run. */
#ifndef ROOST_SEED_TEXT_H
#define ROOST_SEED_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Each city with its centre (WGS84): seeded homes lie around it, so that
 * every map search of docs/search.md finds something on a fresh make run. */
typedef struct {
    const char *city, *country;
    double lat, lon;
} seed_city_t;
extern const seed_city_t seed_cities[];
extern const size_t SEED_CITIES;

/* Each picks by `r`, a random draw of the caller's own generator. */
const char *seed_adjective(uint64_t r);
const char *seed_street(uint64_t r);
/* Three different features of a home, joined into one sentence. */
void seed_description(uint64_t r, char *out, size_t size);

#endif
