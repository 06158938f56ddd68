/*
 * roostctl seed: synthetic places, users, properties and listings, made
 * through the services' own ops over nng, as a trusted internal caller that
 * sets auth.sub where an op needs one.
 *
 * Deterministic: a --seed gives the same documents every time: item i of a
 * kind draws from its own generator (splitmix64 of the seed, the kind and
 * i, never rand()), and refers to earlier kinds by position, so the content
 * does not depend on which thread makes it. With --jobs 1 the ids are the
 * same too; with more jobs, items of one kind get their ids in the order
 * their requests arrive.
 *
 * Re-runnable: every request carries a request id derived from the seed and
 * its position ("seed-<seed>-user-<i>"), so sending it again is answered by
 * the service's own idempotency (same rid and same request) with what the
 * first run made, instead of making it twice.
 *
 * Fast: each kind is made by --jobs threads at once (default 16), sharing
 * one nng client per service; on a terminal a progress bar shows the rate.
 */
#include "seed.h"
#include "clock.h"
#include "seed_photos.h"
#include "seed_text.h"
#include "config.h"
#include "pools.h"
#include "roost/roost.h"

#include <pthread.h>
#include <stdarg.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* The generator of item i of a kind: independent of every other item. */
static seed_rng_t
seed_item_rng(uint64_t seed, int kind, long i)
{
    seed_rng_t r = {seed * 0x100000001B3ULL ^ ((uint64_t)kind << 56) ^ (uint64_t)i};
    seed_next(&r);
    return r;
}

static const char *const seed_first[] = {"Ana", "Rui",  "Ines",  "Joao", "Marta", "Tiago", "Sofia", "Pedro",
                                         "Lea", "Hugo", "Clara", "Omar", "Nina",  "Ivan",  "Elena", "Kofi"};
static const char *const seed_last[] = {"Silva",  "Santos", "Costa", "Martin", "Bernard", "Muller",       "Schmidt",
                                        "Garcia", "Rossi",  "Novak", "Byrne",  "Hansen",  "Papadopoulos", "Okafor"};
static const char *const seed_types[] = {"apartment", "house", "studio", "villa", "cabin", "room", "commercial"};
static const struct {
    const char *kind, *name;
} seed_rooms[] = {{"living", "Living room"}, {"bedroom", "Bedroom"}, {"kitchen", "Kitchen"},
                  {"bathroom", "Bathroom"},  {"office", "Office"},   {"balcony", "Balcony"}};
#define COUNT(a) (sizeof(a) / sizeof(a[0]))

enum { SEED_PLACE, SEED_USER, SEED_PROPERTY, SEED_LISTING, SEED_KINDS };
static const char *const seed_services[SEED_KINDS] = {"places", "users", "properties", "listings"};
static const char *const seed_ops[SEED_KINDS] = {"places.create", "users.create", "properties.create",
                                                 "listings.create"};
static const char *const seed_names[SEED_KINDS] = {"place", "user", "property", "listing"};

typedef struct seed seed_t;

/* Builds the request body of item i (and the acting user, 0 for none). */
typedef bson_t *(*seed_item_fn)(seed_t *s, long i, int64_t *sub);

struct seed {
    uint64_t seed;
    long counts[SEED_KINDS];
    int jobs;
    bool quiet, bar;
    roost_client_t *clients[SEED_KINDS];
    int64_t *ids[SEED_KINDS]; /* the id each item got, by position */
    int64_t *property_owners; /* by property position */

    /* the phase running now */
    int kind;
    seed_item_fn item;
    atomic_long next, done;
    atomic_bool failed;
    struct timespec started;
    pthread_mutex_t bar_lock;
    double last_draw;
};

/* The progress bar of the phase, with its rate; redrawn at most 10 times a second. */
static void
seed_progress(seed_t *s, bool final)
{
    if (!s->bar)
        return;
    long total = s->counts[s->kind], done = atomic_load(&s->done);
    double t = clock_seconds_since(&s->started);
    pthread_mutex_lock(&s->bar_lock);
    if (final || t - s->last_draw >= 0.1) {
        s->last_draw = t;
        int width = 30, filled = total > 0 ? (int)(width * done / total) : width;
        fprintf(stderr, "\r%-10s [%.*s%*s] %3ld%% %7ld/%ld %7.0f/s", seed_services[s->kind], filled,
                "##############################", width - filled, "", total > 0 ? 100 * done / total : 100, done, total,
                t > 0 ? (double)done / t : 0.0);
        if (final)
            fputc('\n', stderr);
    }
    pthread_mutex_unlock(&s->bar_lock);
}

/* How often one item is sent when the answer is 503 with retry_after. */
#define SEED_RETRIES 20

/* Sends item i of the phase with its deterministic rid; records the id it got. */
static bool
seed_send(seed_t *s, long i)
{
    bson_t request = BSON_INITIALIZER, auth, reply;
    bson_error_t error;
    bson_iter_t it;
    char rid[64];
    int64_t sub = 0;
    bool ok = false;

    bson_t *body = s->item(s, i, &sub);
    snprintf(rid, sizeof(rid), "seed-%llu-%s-%ld", (unsigned long long)s->seed, seed_names[s->kind], i);
    BSON_APPEND_UTF8(&request, "rid", rid);
    if (sub > 0) {
        BSON_APPEND_DOCUMENT_BEGIN(&request, "auth", &auth);
        BSON_APPEND_INT64(&auth, "sub", sub);
        bson_append_document_end(&request, &auth);
    }
    BSON_APPEND_DOCUMENT(&request, "body", body);
    bson_destroy(body);
    /* A 503 that says when to come back (a busy password check, a database
     * restarting) is sent again then, with the same rid: writes are
     * idempotent per rid. */
    bool answered = false;
    for (int attempt = 0; attempt < SEED_RETRIES; attempt++) {
        if (!(answered = roost_client_call(s->clients[s->kind], seed_ops[s->kind], &request, &reply, &error)))
            break;
        int64_t wait = -1;
        if (bson_iter_init_find(&it, &reply, "status") && bson_iter_as_int64(&it) == 503 &&
            bson_iter_init_find(&it, &reply, "retry_after") && BSON_ITER_HOLDS_INT(&it))
            wait = bson_iter_as_int64(&it);
        if (wait < 0 || attempt == SEED_RETRIES - 1)
            break;
        bson_destroy(&reply);
        usleep((useconds_t)(wait > 5 ? 5 : wait) * 1000000u / 2 + 1000);
    }
    if (!answered) {
        fprintf(stderr, "\nroostctl seed: %s %s: %s\n", seed_ops[s->kind], rid, error.message);
    } else {
        int status = bson_iter_init_find(&it, &reply, "status") ? (int)bson_iter_as_int64(&it) : 0;
        if (status / 100 == 2 && bson_iter_init(&it, &reply) && bson_iter_find_descendant(&it, "body.id", &it)) {
            s->ids[s->kind][i] = bson_iter_as_int64(&it);
            ok = true;
        } else {
            char *json = bson_as_relaxed_extended_json(&reply, NULL);
            fprintf(stderr, "\nroostctl seed: %s %s answered %s\n", seed_ops[s->kind], rid, json);
            bson_free(json);
        }
        bson_destroy(&reply);
    }
    bson_destroy(&request);
    return ok;
}

static void *
seed_worker(void *arg)
{
    seed_t *s = arg;
    for (;;) {
        long i = atomic_fetch_add(&s->next, 1);
        if (i >= s->counts[s->kind] || atomic_load(&s->failed))
            break;
        if (!seed_send(s, i)) {
            atomic_store(&s->failed, true);
            break;
        }
        atomic_fetch_add(&s->done, 1);
        seed_progress(s, false);
    }
    return NULL;
}

/* Makes every item of one kind with --jobs threads; false on the first failure. */
static bool
seed_phase(seed_t *s, int kind, seed_item_fn item)
{
    long n = s->counts[kind];
    if (n == 0)
        return true;
    s->kind = kind;
    s->item = item;
    atomic_store(&s->next, 0);
    atomic_store(&s->done, 0);
    s->last_draw = -1;
    clock_gettime(CLOCK_MONOTONIC, &s->started);
    int jobs = (long)s->jobs < n ? s->jobs : (int)n;
    pthread_t *threads = calloc((size_t)jobs, sizeof(*threads));
    for (int t = 0; t < jobs; t++)
        pthread_create(&threads[t], NULL, seed_worker, s);
    for (int t = 0; t < jobs; t++)
        pthread_join(threads[t], NULL);
    free(threads);
    seed_progress(s, true);
    double t = clock_seconds_since(&s->started);
    if (!s->quiet && !atomic_load(&s->failed))
        fprintf(stderr, "roostctl seed: %ld %s in %.1f s (%.0f/s)\n", n, seed_services[kind], t, t > 0 ? n / t : 0);
    return !atomic_load(&s->failed);
}

static bson_t *
seed_place(seed_t *s, long i, int64_t *sub)
{
    char name[96];
    size_t c = (size_t)i % SEED_CITIES;
    if (i < (long)SEED_CITIES)
        snprintf(name, sizeof(name), "%s", seed_cities[c].city);
    else
        snprintf(name, sizeof(name), "%s %ld", seed_cities[c].city, i / (long)SEED_CITIES + 1);
    *sub = 1; /* places.create needs an authenticated caller; the seed acts as user 1 */
    return BCON_NEW("name", BCON_UTF8(name), "country", BCON_UTF8(seed_cities[c].country));
}

static bson_t *
seed_user(seed_t *s, long i, int64_t *sub)
{
    seed_rng_t rng = seed_item_rng(s->seed, SEED_USER, i);
    const char *first = seed_first[seed_below(&rng, COUNT(seed_first))];
    const char *last = seed_last[seed_below(&rng, COUNT(seed_last))];
    char username[64], birth[48]; /* wide enough for any int, as -Wformat-truncation wants */
    snprintf(username, sizeof(username), "%c%s%llu_%ld", first[0] | 0x20, last, (unsigned long long)s->seed, i);
    for (char *p = username; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    snprintf(birth, sizeof(birth), "%04d-%02d-%02d", 1950 + (int)seed_below(&rng, 55), 1 + (int)seed_below(&rng, 12),
             1 + (int)seed_below(&rng, 28));
    bson_t *body = BCON_NEW("username", BCON_UTF8(username), "password", BCON_UTF8("roost-seed-password"), "first_name",
                            BCON_UTF8(first), "last_name", BCON_UTF8(last), "birth_date", BCON_UTF8(birth));
    if (s->counts[SEED_PLACE] > 0)
        BSON_APPEND_INT64(body, "place_id", s->ids[SEED_PLACE][seed_below(&rng, (uint64_t)s->counts[SEED_PLACE])]);
    *sub = 0;
    return body;
}

static bson_t *
seed_property(seed_t *s, long i, int64_t *sub)
{
    seed_rng_t rng = seed_item_rng(s->seed, SEED_PROPERTY, i);
    size_t c = seed_below(&rng, SEED_CITIES);
    size_t t = seed_below(&rng, COUNT(seed_types));
    const char *type = seed_types[t];
    char name[128], address[128], description[256];
    *sub = s->ids[SEED_USER][seed_below(&rng, (uint64_t)s->counts[SEED_USER])];
    s->property_owners[i] = *sub;
    snprintf(name, sizeof(name), "%s %s in %s", seed_adjective(seed_next(&rng)), type, seed_cities[c].city);
    snprintf(address, sizeof(address), "%d %s", 1 + (int)seed_below(&rng, 200), seed_street(seed_next(&rng)));
    seed_description(seed_next(&rng), description, sizeof(description));
    bson_t *body = BCON_NEW("name", BCON_UTF8(name), "type", BCON_UTF8(type), "city", BCON_UTF8(seed_cities[c].city),
                            "address", BCON_UTF8(address), "description", BCON_UTF8(description));
    /* Within 8 km of the centre, denser near it: the radius grows as the square of a uniform draw. */
    double u = (double)seed_below(&rng, 1000000) / 1e6, bearing = (double)seed_below(&rng, 360000) / 1000.0;
    double dist_m = 8000.0 * u * u, lat = seed_cities[c].lat, lon = seed_cities[c].lon;
    lat += dist_m * cos(bearing * M_PI / 180) / 111320.0;
    lon += dist_m * sin(bearing * M_PI / 180) / (111320.0 * cos(lat * M_PI / 180));
    BCON_APPEND(body, "location", "{", "lat", BCON_DOUBLE(round(lat * 1e6) / 1e6), "lon",
                BCON_DOUBLE(round(lon * 1e6) / 1e6), "}");
    /* A home's rooms: a living room and a kitchen, bedrooms by its type,
     * one or two bathrooms, and now and then an office or a balcony. */
    static const int seed_bedrooms[] = {1, 1, 0, 3, 1, 1, 0}; /* the fewest, by seed_types */
    int bedrooms = seed_bedrooms[t] + (seed_bedrooms[t] > 0 && t != 5 ? (int)seed_below(&rng, 3 + (t == 3)) : 0);
    size_t kinds[12], nrooms = 0;
    kinds[nrooms++] = 0;
    kinds[nrooms++] = 2;
    for (int b = 0; b < bedrooms; b++)
        kinds[nrooms++] = 1;
    for (int b = 1 + (bedrooms >= 3 && seed_below(&rng, 2) == 1); b > 0; b--)
        kinds[nrooms++] = 3;
    if (seed_below(&rng, 3) == 0)
        kinds[nrooms++] = 4 + seed_below(&rng, 2);
    bson_t rooms, room, chars;
    BSON_APPEND_ARRAY_BEGIN(body, "rooms", &rooms);
    for (size_t r = 0; r < nrooms; r++) {
        char key[24];
        size_t k = kinds[r];
        snprintf(key, sizeof(key), "%zu", r);
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
    return body;
}

static bson_t *
seed_listing(seed_t *s, long i, int64_t *sub)
{
    seed_rng_t rng = seed_item_rng(s->seed, SEED_LISTING, i);
    long p = s->counts[SEED_PROPERTY] > 0 ? (long)seed_below(&rng, (uint64_t)s->counts[SEED_PROPERTY]) : -1;
    *sub = p >= 0 ? s->property_owners[p] : s->ids[SEED_USER][seed_below(&rng, (uint64_t)s->counts[SEED_USER])];
    bool rent = seed_below(&rng, 2) == 0;
    int64_t price = rent ? 400 + (int64_t)seed_below(&rng, 40) * 50 : 80000 + (int64_t)seed_below(&rng, 200) * 5000;
    bson_t *body = BCON_NEW("listing_type", BCON_UTF8(rent ? "rent" : "sale"), "price", BCON_INT64(price));
    if (p >= 0)
        BSON_APPEND_INT64(body, "property_id", s->ids[SEED_PROPERTY][p]);
    return body;
}

/* The usage, to `out`; 0 when it was asked for (stdout), 2 after a usage error. */
static int
seed_usage_to(FILE *out)
{
    fprintf(out, "usage: roostctl seed [--seed N] [--places N] [--users N] [--properties N] [--listings N] "
                 "[--photos N] [--jobs N] [--quiet]\n");
    return out == stdout ? 0 : 2;
}

static int
seed_usage(void)
{
    return seed_usage_to(stderr);
}

static bool
seed_arg(const char *value, long min, long max, long *out)
{
    char *end;
    long v = value != NULL ? strtol(value, &end, 10) : -1;
    if (value == NULL || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int
roostctl_seed(int argc, char **argv)
{
    seed_t s = {.seed = 1, .counts = {12, 40, 80, 80}, .jobs = 16};
    int status = 1;
    long seed = 1, jobs = 16, photos = 0;

    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return seed_usage_to(stdout);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "--quiet") == 0) {
            s.quiet = true;
            continue;
        } else if (strcmp(a, "--seed") == 0) {
            ok = seed_arg(v, 0, 1L << 40, &seed);
        } else if (strcmp(a, "--places") == 0) {
            ok = seed_arg(v, 0, 10000, &s.counts[SEED_PLACE]);
        } else if (strcmp(a, "--users") == 0) {
            ok = seed_arg(v, 0, 100000, &s.counts[SEED_USER]);
        } else if (strcmp(a, "--properties") == 0) {
            ok = seed_arg(v, 0, 1000000, &s.counts[SEED_PROPERTY]);
        } else if (strcmp(a, "--listings") == 0) {
            ok = seed_arg(v, 0, 1000000, &s.counts[SEED_LISTING]);
        } else if (strcmp(a, "--photos") == 0) {
            ok = seed_arg(v, 0, 10, &photos);
        } else if (strcmp(a, "--jobs") == 0) {
            ok = seed_arg(v, 1, 256, &jobs);
        } else {
            return seed_usage();
        }
        if (!ok)
            return seed_usage();
        i++;
    }
    if ((s.counts[SEED_PROPERTY] > 0 || s.counts[SEED_LISTING] > 0) && s.counts[SEED_USER] == 0) {
        fprintf(stderr, "roostctl seed: properties and listings need --users of at least 1\n");
        return 2;
    }
    s.seed = (uint64_t)seed;
    s.jobs = (int)jobs;
    s.bar = !s.quiet && isatty(STDERR_FILENO);
    pthread_mutex_init(&s.bar_lock, NULL);
    int timeout = cfg_request_timeout_ms();
    for (int k = 0; k < SEED_KINDS; k++) {
        bson_error_t error;
        if ((s.clients[k] = roost_client_open(pools_url(seed_services[k]), timeout, &error)) == NULL) {
            fprintf(stderr, "roostctl seed: %s\n", error.message);
            goto done;
        }
        s.ids[k] = calloc((size_t)s.counts[k] + 1, sizeof(int64_t));
    }
    s.property_owners = calloc((size_t)s.counts[SEED_PROPERTY] + 1, sizeof(int64_t));
    static const seed_item_fn items[SEED_KINDS] = {seed_place, seed_user, seed_property, seed_listing};
    for (int k = 0; k < SEED_KINDS; k++)
        if (!seed_phase(&s, k, items[k]))
            goto done;
    seed_photos_t pictures = {s.clients[SEED_PROPERTY],
                              s.seed,
                              s.ids[SEED_PROPERTY],
                              s.property_owners,
                              s.counts[SEED_PROPERTY],
                              photos,
                              s.jobs,
                              s.quiet};
    if (!seed_photos(&pictures))
        goto done;
    fprintf(stderr, "roostctl seed: %ld places, %ld users, %ld properties, %ld listings (seed %llu)\n",
            s.counts[SEED_PLACE], s.counts[SEED_USER], s.counts[SEED_PROPERTY], s.counts[SEED_LISTING],
            (unsigned long long)s.seed);
    status = 0;
done:
    for (int k = 0; k < SEED_KINDS; k++) {
        roost_client_close(s.clients[k]);
        free(s.ids[k]);
    }
    free(s.property_owners);
    pthread_mutex_destroy(&s.bar_lock);
    return status;
}
