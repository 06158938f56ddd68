/*
 * roostctl seed: synthetic places, users, properties and listings, made
 * through the services' own ops over nng, as a trusted internal caller that
 * sets auth.sub where an op needs one.
 *
 * Deterministic: a --seed gives the same data every time (splitmix64, never
 * rand()). Re-runnable: every request carries a request id derived from the
 * seed and its position ("seed-<seed>-user-<i>"), so sending it again is
 * answered by the service's own idempotency (same rid and same request) with
 * what the first run made, instead of making it twice.
 */
#include "seed.h"
#include "config.h"
#include "pools.h"
#include "roost.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    uint64_t state;
} seed_rng_t;

static uint64_t
seed_next(seed_rng_t *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t
seed_below(seed_rng_t *r, uint64_t n)
{
    return seed_next(r) % n;
}

static const struct {
    const char *city, *country;
} seed_cities[] = {
    {"Lisbon", "Portugal"}, {"Porto", "Portugal"},   {"Faro", "Portugal"},   {"Paris", "France"},
    {"Lyon", "France"},     {"Berlin", "Germany"},   {"Hamburg", "Germany"}, {"Madrid", "Spain"},
    {"Seville", "Spain"},   {"Rome", "Italy"},       {"Milan", "Italy"},     {"Vienna", "Austria"},
    {"Prague", "Czechia"},  {"Dublin", "Ireland"},   {"Oslo", "Norway"},     {"Athens", "Greece"},
};
#define SEED_CITIES (sizeof(seed_cities) / sizeof(seed_cities[0]))
static const char *const seed_first[] = {"Ana", "Rui", "Ines", "Joao", "Marta", "Tiago", "Sofia", "Pedro",
                                         "Lea", "Hugo", "Clara", "Omar", "Nina", "Ivan", "Elena", "Kofi"};
static const char *const seed_last[] = {"Silva", "Santos", "Costa", "Martin", "Bernard", "Muller", "Schmidt",
                                        "Garcia", "Rossi", "Novak", "Byrne", "Hansen", "Papadopoulos", "Okafor"};
static const char *const seed_types[] = {"apartment", "house", "studio", "villa", "cabin", "room", "commercial"};
static const char *const seed_adjectives[] = {"Sunny", "Quiet", "Bright", "Cosy", "Spacious", "Charming", "Modern",
                                              "Old-town", "Riverside", "Garden"};
static const char *const seed_streets[] = {"Main Street", "Rua Augusta", "Avenue des Arts", "Lindenallee",
                                           "Calle Mayor", "Via Roma", "Harbour Road", "Station Square"};
static const struct {
    const char *kind, *name;
} seed_rooms[] = {{"living", "Living room"}, {"bedroom", "Bedroom"}, {"kitchen", "Kitchen"},
                  {"bathroom", "Bathroom"},  {"office", "Office"},   {"balcony", "Balcony"}};
#define COUNT(a) (sizeof(a) / sizeof(a[0]))

typedef struct {
    uint64_t seed;
    long places, users, properties, listings;
    bool quiet, bar;
    long done, total;
    roost_client_t *clients[4]; /* places, users, properties, listings */
} seed_t;

static void
seed_progress(seed_t *s, const char *what)
{
    s->done++;
    if (!s->bar)
        return;
    int width = 30, filled = s->total > 0 ? (int)(width * s->done / s->total) : width;
    fprintf(stderr, "\r[%.*s%*s] %3ld%% %-10s", filled, "##############################", width - filled, "",
            s->total > 0 ? 100 * s->done / s->total : 100, what);
    if (s->done == s->total)
        fputc('\n', stderr);
}

/* Sends one op with a deterministic rid; the reply body's "id" in *id. */
static bool
seed_call(seed_t *s, int client, const char *op, const char *kind, long index, int64_t sub, bson_t *body,
          int64_t *id)
{
    bson_t request = BSON_INITIALIZER, auth, reply;
    bson_error_t error;
    bson_iter_t it;
    char rid[64];
    bool ok = false;

    snprintf(rid, sizeof(rid), "seed-%llu-%s-%ld", (unsigned long long)s->seed, kind, index);
    BSON_APPEND_UTF8(&request, "rid", rid);
    if (sub > 0) {
        BSON_APPEND_DOCUMENT_BEGIN(&request, "auth", &auth);
        BSON_APPEND_INT64(&auth, "sub", sub);
        bson_append_document_end(&request, &auth);
    }
    BSON_APPEND_DOCUMENT(&request, "body", body);
    if (!roost_client_call(s->clients[client], op, &request, &reply, &error)) {
        fprintf(stderr, "\nroostctl seed: %s %s: %s\n", op, rid, error.message);
    } else {
        int status = bson_iter_init_find(&it, &reply, "status") ? (int)bson_iter_as_int64(&it) : 0;
        if (status / 100 == 2 && bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "body.id", &it)) {
            *id = bson_iter_as_int64(&it);
            ok = true;
        } else {
            char *json = bson_as_relaxed_extended_json(&reply, NULL);
            fprintf(stderr, "\nroostctl seed: %s %s answered %s\n", op, rid, json);
            bson_free(json);
        }
        bson_destroy(&reply);
    }
    bson_destroy(&request);
    return ok;
}

static int
seed_usage(void)
{
    fprintf(stderr, "usage: roostctl seed [--seed N] [--places N] [--users N] [--properties N] [--listings N] "
                    "[--quiet]\n");
    return 2;
}

static bool
seed_arg(const char *value, long max, long *out)
{
    char *end;
    long v = value != NULL ? strtol(value, &end, 10) : -1;
    if (value == NULL || *end != '\0' || v < 0 || v > max)
        return false;
    *out = v;
    return true;
}

int
roostctl_seed(int argc, char **argv)
{
    static const char *const services[] = {"places", "users", "properties", "listings"};
    seed_t s = {.seed = 1, .places = 12, .users = 40, .properties = 80, .listings = 80};
    int64_t *place_ids = NULL, *user_ids = NULL, *property_ids = NULL, *property_owners = NULL;
    int status = 1;
    long seed = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "--quiet") == 0) {
            s.quiet = true;
            continue;
        } else if (strcmp(a, "--seed") == 0) {
            ok = seed_arg(v, 1L << 40, &seed);
        } else if (strcmp(a, "--places") == 0) {
            ok = seed_arg(v, 10000, &s.places);
        } else if (strcmp(a, "--users") == 0) {
            ok = seed_arg(v, 100000, &s.users);
        } else if (strcmp(a, "--properties") == 0) {
            ok = seed_arg(v, 1000000, &s.properties);
        } else if (strcmp(a, "--listings") == 0) {
            ok = seed_arg(v, 1000000, &s.listings);
        } else {
            return seed_usage();
        }
        if (!ok)
            return seed_usage();
        i++;
    }
    if ((s.properties > 0 || s.listings > 0) && s.users == 0) {
        fprintf(stderr, "roostctl seed: properties and listings need --users of at least 1\n");
        return 2;
    }
    s.seed = (uint64_t)seed;
    s.bar = !s.quiet && isatty(STDERR_FILENO);
    s.total = s.places + s.users + s.properties + s.listings;
    int timeout = (int)cfg_int("ROOST_REQUEST_TIMEOUT_MS", CFG_DEFAULT_TIMEOUT_MS, 100, 600000);
    for (int c = 0; c < 4; c++) {
        bson_error_t error;
        if ((s.clients[c] = roost_client_open(pools_url(services[c]), timeout, &error)) == NULL) {
            fprintf(stderr, "roostctl seed: %s\n", error.message);
            goto done;
        }
    }
    seed_rng_t rng = {s.seed};
    place_ids = calloc((size_t)s.places + 1, sizeof(int64_t));
    user_ids = calloc((size_t)s.users + 1, sizeof(int64_t));
    property_ids = calloc((size_t)s.properties + 1, sizeof(int64_t));
    property_owners = calloc((size_t)s.properties + 1, sizeof(int64_t));

    for (long i = 0; i < s.places; i++) {
        char name[96];
        size_t c = (size_t)i % SEED_CITIES;
        if (i < (long)SEED_CITIES)
            snprintf(name, sizeof(name), "%s", seed_cities[c].city);
        else
            snprintf(name, sizeof(name), "%s %ld", seed_cities[c].city, i / (long)SEED_CITIES + 1);
        bson_t *body = BCON_NEW("name", BCON_UTF8(name), "country", BCON_UTF8(seed_cities[c].country));
        bool ok = seed_call(&s, 0, "places.create", "place", i, 1, body, &place_ids[i]);
        bson_destroy(body);
        if (!ok)
            goto done;
        seed_progress(&s, "places");
    }
    for (long i = 0; i < s.users; i++) {
        const char *first = seed_first[seed_below(&rng, COUNT(seed_first))];
        const char *last = seed_last[seed_below(&rng, COUNT(seed_last))];
        char username[64], birth[48]; /* wide enough for any int, as -Wformat-truncation wants */
        snprintf(username, sizeof(username), "%c%s%llu_%ld", first[0] | 0x20, last, (unsigned long long)s.seed, i);
        for (char *p = username; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        snprintf(birth, sizeof(birth), "%04d-%02d-%02d", 1950 + (int)seed_below(&rng, 55), 1 + (int)seed_below(&rng, 12),
                 1 + (int)seed_below(&rng, 28));
        bson_t *body = BCON_NEW("username", BCON_UTF8(username), "password", BCON_UTF8("roost-seed-password"),
                                "first_name", BCON_UTF8(first), "last_name", BCON_UTF8(last), "birth_date",
                                BCON_UTF8(birth));
        if (s.places > 0)
            BSON_APPEND_INT64(body, "place_id", place_ids[seed_below(&rng, (uint64_t)s.places)]);
        bool ok = seed_call(&s, 1, "users.create", "user", i, 0, body, &user_ids[i]);
        bson_destroy(body);
        if (!ok)
            goto done;
        seed_progress(&s, "users");
    }
    for (long i = 0; i < s.properties; i++) {
        size_t c = seed_below(&rng, SEED_CITIES);
        const char *type = seed_types[seed_below(&rng, COUNT(seed_types))];
        char name[128], address[128];
        int64_t owner = user_ids[seed_below(&rng, (uint64_t)s.users)];
        snprintf(name, sizeof(name), "%s %s in %s", seed_adjectives[seed_below(&rng, COUNT(seed_adjectives))], type,
                 seed_cities[c].city);
        snprintf(address, sizeof(address), "%d %s", 1 + (int)seed_below(&rng, 200),
                 seed_streets[seed_below(&rng, COUNT(seed_streets))]);
        bson_t *body = BCON_NEW("name", BCON_UTF8(name), "type", BCON_UTF8(type), "city",
                                BCON_UTF8(seed_cities[c].city), "address", BCON_UTF8(address), "description",
                                BCON_UTF8("A seeded property, made by roostctl seed."));
        bson_t rooms, room, chars;
        int nrooms = 1 + (int)seed_below(&rng, 6);
        BSON_APPEND_ARRAY_BEGIN(body, "rooms", &rooms);
        for (int r = 0; r < nrooms; r++) {
            char key[16];
            size_t k = r == 0 ? 0 : seed_below(&rng, COUNT(seed_rooms));
            snprintf(key, sizeof(key), "%d", r);
            BSON_APPEND_DOCUMENT_BEGIN(&rooms, key, &room);
            BSON_APPEND_UTF8(&room, "name", seed_rooms[k].name);
            BSON_APPEND_UTF8(&room, "kind", seed_rooms[k].kind);
            BSON_APPEND_DOUBLE(&room, "area_m2", 4.0 + (double)seed_below(&rng, 400) / 10.0);
            BSON_APPEND_DOCUMENT_BEGIN(&room, "characteristics", &chars);
            BSON_APPEND_INT32(&chars, "floor", (int32_t)seed_below(&rng, 8));
            BSON_APPEND_INT32(&chars, "windows", (int32_t)seed_below(&rng, 4));
            BSON_APPEND_BOOL(&chars, "furnished", seed_below(&rng, 2) == 1);
            bson_append_document_end(&room, &chars);
            bson_append_document_end(&rooms, &room);
        }
        bson_append_array_end(body, &rooms);
        property_owners[i] = owner;
        bool ok = seed_call(&s, 2, "properties.create", "property", i, owner, body, &property_ids[i]);
        bson_destroy(body);
        if (!ok)
            goto done;
        seed_progress(&s, "properties");
    }
    for (long i = 0; i < s.listings; i++) {
        long p = s.properties > 0 ? (long)seed_below(&rng, (uint64_t)s.properties) : -1;
        int64_t lister = p >= 0 ? property_owners[p] : user_ids[seed_below(&rng, (uint64_t)s.users)];
        bool rent = seed_below(&rng, 2) == 0;
        int64_t price = rent ? 400 + (int64_t)seed_below(&rng, 40) * 50 : 80000 + (int64_t)seed_below(&rng, 200) * 5000;
        bson_t *body = BCON_NEW("listing_type", BCON_UTF8(rent ? "rent" : "sale"), "price", BCON_INT64(price));
        if (p >= 0)
            BSON_APPEND_INT64(body, "property_id", property_ids[p]);
        int64_t id;
        bool ok = seed_call(&s, 3, "listings.create", "listing", i, lister, body, &id);
        bson_destroy(body);
        if (!ok)
            goto done;
        seed_progress(&s, "listings");
    }
    fprintf(stderr, "roostctl seed: %ld places, %ld users, %ld properties, %ld listings (seed %llu)\n", s.places,
            s.users, s.properties, s.listings, (unsigned long long)s.seed);
    status = 0;
done:
    for (int c = 0; c < 4; c++)
        roost_client_close(s.clients[c]);
    free(place_ids);
    free(user_ids);
    free(property_ids);
    free(property_owners);
    return status;
}
