/* Cities, names, streets and descriptions of seeded homes (seed_text.h). Some in
 * the languages of the seeded cities, accents and all, which is what
 * keyword search must fold ("terrasse vue mer", "été", "Straße"). */
#include "seed_text.h"

#include <stdio.h>

#define COUNT(a) (sizeof(a) / sizeof(a[0]))

static const char *const adjectives[] = {"Sunny",    "Quiet",  "Bright",   "Cosy",      "Spacious",
                                         "Charming", "Modern", "Old-town", "Riverside", "Garden"};
static const char *const streets[] = {"Main Street", "Rua Augusta", "Avenue des Arts", "Lindenallee",
                                      "Calle Mayor", "Via Roma",    "Harbour Road",    "Große Straße"};
static const char *const features[] = {
    "a terrace with a sea view",
    "terrasse vue mer",
    "a quiet garden",
    "a swimming pool",
    "close to the metro",
    "a renovated kitchen",
    "a parking space",
    "a lift and a concierge",
    "near the old town",
    "wooden floors",
    "a balcony facing south",
    "Altbau mit hohen Decken",
    "vista al mar",
    "piscina comunitária",
    "une cheminée",
    "fraîche en été",
};

const char *
seed_adjective(uint64_t r)
{
    return adjectives[r % COUNT(adjectives)];
}

const char *
seed_street(uint64_t r)
{
    return streets[r % COUNT(streets)];
}

void
seed_description(uint64_t r, char *out, size_t size)
{
    size_t n = COUNT(features), a = r % n, b = (a + 1 + (r >> 8) % (n - 1)) % n, c = (r >> 16) % n;
    while (c == a || c == b) /* three different ones */
        c = (c + 1) % n;
    snprintf(out, size, "A home with %s, %s and %s.", features[a], features[b], features[c]);
}

/* Each city with its centre (WGS84): seeded homes lie around it, so that
 * every map search of docs/search.md finds something on a fresh make run. */
const seed_city_t seed_cities[] = {
    {"Lisbon", "Portugal", 38.7223, -9.1393}, {"Porto", "Portugal", 41.1579, -8.6291},
    {"Faro", "Portugal", 37.0194, -7.9322},   {"Paris", "France", 48.8566, 2.3522},
    {"Lyon", "France", 45.7640, 4.8357},      {"Berlin", "Germany", 52.5200, 13.4050},
    {"Hamburg", "Germany", 53.5511, 9.9937},  {"Madrid", "Spain", 40.4168, -3.7038},
    {"Seville", "Spain", 37.3891, -5.9845},   {"Rome", "Italy", 41.9028, 12.4964},
    {"Milan", "Italy", 45.4642, 9.1900},      {"Vienna", "Austria", 48.2082, 16.3738},
    {"Prague", "Czechia", 50.0755, 14.4378},  {"Dublin", "Ireland", 53.3498, -6.2603},
    {"Oslo", "Norway", 59.9139, 10.7522},     {"Athens", "Greece", 37.9838, 23.7275},
};
const size_t SEED_CITIES = sizeof(seed_cities) / sizeof(seed_cities[0]);
