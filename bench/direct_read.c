/*
 * direct_read: the "direct C" baseline of bench/run.sh.
 *
 * Reads one document by _id straight from MongoDB with mongo-c-driver, from
 * THREADS concurrent threads for SECONDS seconds, with no HTTP and no nng in
 * between. It sends the query the users service sends for GET
 * /api/v1/users/{id} (find {_id: <int64>} with limit 1 on <db>.users), so
 * the difference between this row and the "user by id" row is the cost of
 * the ingress, nng and the worker.
 *
 *   direct_read URI DB ID THREADS SECONDS [COLLECTION]
 *
 * Every thread holds one client of a mongoc_client_pool_t (max size =
 * THREADS) for the whole run and loops: find, read the document, stop
 * timing. Each request's latency is recorded (no sampling); percentiles are
 * nearest-rank over all of them. Prints one line on stdout:
 *
 *   direct_read rps=<req/s> p50_ms=<ms> p99_ms=<ms> count=<n> errors=<n> threads=<n> seconds=<s>
 *
 * `errors` counts failed queries and reads that did not find the document;
 * they are not in `count` nor in the latencies. Exit status: 0 if at least
 * one read succeeded and none failed, 1 otherwise, 2 on bad arguments.
 */
#include <mongoc/mongoc.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    mongoc_client_pool_t *pool;
    const char *db;
    const char *coll;
    int64_t id;
    uint64_t deadline_ns;
    pthread_barrier_t *start;
    uint64_t *lat_ns; /* latencies of successful reads */
    size_t n, cap;
    uint64_t errors;
    char first_error[sizeof(((bson_error_t *)0)->message)];
} worker_t;

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
record(worker_t *w, uint64_t ns)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 65536;
        uint64_t *p = realloc(w->lat_ns, cap * sizeof(*p));
        if (p == NULL) {
            fprintf(stderr, "direct_read: out of memory\n");
            exit(1);
        }
        w->lat_ns = p;
        w->cap = cap;
    }
    w->lat_ns[w->n++] = ns;
}

static void *
run(void *arg)
{
    worker_t *w = arg;
    mongoc_client_t *client = mongoc_client_pool_pop(w->pool);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, w->db, w->coll);
    bson_t opts = BSON_INITIALIZER;
    BSON_APPEND_INT64(&opts, "limit", 1);

    pthread_barrier_wait(w->start);
    for (;;) {
        uint64_t t0 = now_ns();
        if (t0 >= w->deadline_ns)
            break;
        bson_t filter = BSON_INITIALIZER;
        BSON_APPEND_INT64(&filter, "_id", w->id);
        const bson_t *doc;
        bson_error_t error;
        mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
        bool found = mongoc_cursor_next(cursor, &doc);
        bool failed = mongoc_cursor_error(cursor, &error);
        mongoc_cursor_destroy(cursor);
        bson_destroy(&filter);
        uint64_t t1 = now_ns();
        if (found && !failed) {
            record(w, t1 - t0);
        } else {
            if (w->errors++ == 0)
                snprintf(w->first_error, sizeof(w->first_error), "%s", failed ? error.message : "document not found");
        }
    }

    bson_destroy(&opts);
    mongoc_collection_destroy(coll);
    mongoc_client_pool_push(w->pool, client);
    return NULL;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static double
percentile_ms(const uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    size_t rank = (size_t)((p / 100.0) * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1e6;
}

static long
parse_long(const char *s, const char *what, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "direct_read: %s must be an integer in [%ld, %ld], not '%s'\n", what, min, max, s);
        exit(2);
    }
    return v;
}

int
main(int argc, char **argv)
{
    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: %s URI DB ID THREADS SECONDS [COLLECTION]\n", argv[0]);
        return 2;
    }
    const char *uri_str = argv[1], *db = argv[2];
    int64_t id = parse_long(argv[3], "ID", 1, INT64_MAX);
    int threads = (int)parse_long(argv[4], "THREADS", 1, 4096);
    long seconds = parse_long(argv[5], "SECONDS", 1, 86400);
    const char *coll = argc == 7 ? argv[6] : "users";

    mongoc_init();
    bson_error_t error;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_str, &error);
    if (uri == NULL) {
        fprintf(stderr, "direct_read: bad URI: %s\n", error.message);
        return 2;
    }
    if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 5000);
    mongoc_client_pool_t *pool = mongoc_client_pool_new(uri);
    mongoc_uri_destroy(uri);
    if (pool == NULL) {
        fprintf(stderr, "direct_read: cannot create the client pool\n");
        return 1;
    }
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_pool_set_appname(pool, "roost-bench-direct");
    mongoc_client_pool_max_size(pool, (uint32_t)threads);

    /* One read up front: fail early and clearly if the user is not there. */
    {
        mongoc_client_t *c = mongoc_client_pool_pop(pool);
        mongoc_collection_t *cl = mongoc_client_get_collection(c, db, coll);
        bson_t *filter = BCON_NEW("_id", BCON_INT64(id));
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(cl, filter, NULL, NULL);
        const bson_t *doc;
        bool found = mongoc_cursor_next(cur, &doc);
        bool failed = mongoc_cursor_error(cur, &error);
        mongoc_cursor_destroy(cur);
        bson_destroy(filter);
        mongoc_collection_destroy(cl);
        mongoc_client_pool_push(pool, c);
        if (!found || failed) {
            fprintf(stderr, "direct_read: %s.%s {_id: %" PRId64 "}: %s\n", db, coll, id,
                    failed ? error.message : "not found");
            mongoc_client_pool_destroy(pool);
            mongoc_cleanup();
            return 1;
        }
    }

    worker_t *w = calloc((size_t)threads, sizeof(*w));
    pthread_t *tid = calloc((size_t)threads, sizeof(*tid));
    pthread_barrier_t start;
    if (w == NULL || tid == NULL || pthread_barrier_init(&start, NULL, (unsigned)threads + 1) != 0) {
        fprintf(stderr, "direct_read: out of memory\n");
        return 1;
    }
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){.pool = pool, .db = db, .coll = coll, .id = id, .start = &start};
        if (pthread_create(&tid[i], NULL, run, &w[i]) != 0) {
            fprintf(stderr, "direct_read: cannot start thread %d\n", i);
            return 1;
        }
    }
    /* The deadline is set before the barrier releases the threads; they read it after. */
    uint64_t t_start = now_ns();
    for (int i = 0; i < threads; i++)
        w[i].deadline_ns = t_start + (uint64_t)seconds * 1000000000u;
    pthread_barrier_wait(&start);
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    double elapsed = (double)(now_ns() - t_start) / 1e9;

    size_t total = 0;
    uint64_t errors = 0;
    const char *first_error = NULL;
    for (int i = 0; i < threads; i++) {
        total += w[i].n;
        errors += w[i].errors;
        if (first_error == NULL && w[i].errors > 0)
            first_error = w[i].first_error;
    }
    uint64_t *all = malloc((total ? total : 1) * sizeof(*all));
    if (all == NULL) {
        fprintf(stderr, "direct_read: out of memory\n");
        return 1;
    }
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat_ns, w[i].n * sizeof(*all));
        k += w[i].n;
        free(w[i].lat_ns);
    }
    qsort(all, total, sizeof(*all), cmp_u64);

    if (first_error != NULL)
        fprintf(stderr, "direct_read: %" PRIu64 " failed reads, the first: %s\n", errors, first_error);
    printf("direct_read rps=%.1f p50_ms=%.3f p99_ms=%.3f count=%zu errors=%" PRIu64 " threads=%d seconds=%.2f\n",
           (double)total / elapsed, percentile_ms(all, total, 50.0), percentile_ms(all, total, 99.0), total, errors,
           threads, elapsed);
    fflush(stdout);

    free(all);
    free(w);
    free(tid);
    pthread_barrier_destroy(&start);
    mongoc_client_pool_destroy(pool);
    mongoc_cleanup();
    return total > 0 && errors == 0 ? 0 : 1;
}
