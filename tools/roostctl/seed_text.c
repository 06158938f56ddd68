/* Names, streets and descriptions of seeded homes (seed_text.h). Some in
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
