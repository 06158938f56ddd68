/* Prometheus metrics and their text exposition (metrics.h). */
#include "metrics.h"
#include "config.h"
#include "log.h"

#include <arpa/inet.h>
#include <bson/bson.h>
#include <dirent.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* 1 ms to 10 s: a worker op, a wait for a worker, a whole HTTP request. */
const double metrics_seconds_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
const size_t metrics_seconds_buckets_count = sizeof(metrics_seconds_buckets) / sizeof(metrics_seconds_buckets[0]);

enum metrics_kind { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM, METRICS_GAUGE_FN };

struct metrics_series {
    const struct metrics_family *family;
    char *values[METRICS_MAX_LABELS];
    _Atomic uint64_t value;    /* a double's bits: counter, gauge; a histogram's sum */
    _Atomic uint64_t *buckets; /* histogram: observations per bucket, not cumulative; nbounds + 1 */
};

#define METRICS_SLOTS (2 * METRICS_MAX_SERIES) /* open addressing, at most half full */

struct metrics_family {
    char *name, *help;
    enum metrics_kind kind;
    char *labels[METRICS_MAX_LABELS];
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    double (*read)(void);
    pthread_mutex_t lock;
    metrics_series_t **slots; /* METRICS_SLOTS, by hash of the label values */
    metrics_series_t **order; /* in creation order, for a stable exposition */
    size_t nseries;
    metrics_family_t *next;
};

static struct {
    pthread_mutex_t lock;
    metrics_family_t *first, *last;
} metrics_registry = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL};

double
metrics_seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static char *metrics_const_name, *metrics_const_value;

void
metrics_const_label(const char *name, const char *value)
{
    metrics_const_name = bson_strdup(name);
    metrics_const_value = bson_strdup(value);
}

static double
metrics_load(_Atomic uint64_t *bits)
{
    uint64_t b = atomic_load_explicit(bits, memory_order_relaxed);
    double v;
    memcpy(&v, &b, sizeof(v));
    return v;
}

static void
metrics_add_bits(_Atomic uint64_t *bits, double v)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed), new;
    do {
        double d;
        memcpy(&d, &old, sizeof(d));
        d += v;
        memcpy(&new, &d, sizeof(new));
    } while (!atomic_compare_exchange_weak_explicit(bits, &old, new, memory_order_relaxed, memory_order_relaxed));
}

static metrics_family_t *
metrics_family_new(const char *name, const char *help, enum metrics_kind kind, const char *labels)
{
    metrics_family_t *f = bson_malloc0(sizeof(*f));
    f->name = bson_strdup(name);
    f->help = bson_strdup(help);
    f->kind = kind;
    for (const char *l = labels; l != NULL && *l != '\0' && f->nlabels < METRICS_MAX_LABELS;) {
        size_t n = strcspn(l, ",");
        f->labels[f->nlabels++] = bson_strndup(l, n);
        l += n + (l[n] == ',');
    }
    pthread_mutex_init(&f->lock, NULL);
    f->slots = bson_malloc0(METRICS_SLOTS * sizeof(*f->slots));
    f->order = bson_malloc0(METRICS_MAX_SERIES * sizeof(*f->order));
    pthread_mutex_lock(&metrics_registry.lock);
    if (metrics_registry.last != NULL)
        metrics_registry.last->next = f;
    else
        metrics_registry.first = f;
    metrics_registry.last = f;
    pthread_mutex_unlock(&metrics_registry.lock);
    return f;
}

metrics_family_t *
metrics_counter(const char *name, const char *help, const char *labels)
{
    return metrics_family_new(name, help, METRICS_COUNTER, labels);
}

metrics_family_t *
metrics_gauge(const char *name, const char *help, const char *labels)
{
    return metrics_family_new(name, help, METRICS_GAUGE, labels);
}

metrics_family_t *
metrics_histogram(const char *name, const char *help, const char *labels, const double *bounds, size_t nbounds)
{
    metrics_family_t *f = metrics_family_new(name, help, METRICS_HISTOGRAM, labels);
    f->bounds = bson_malloc(nbounds * sizeof(double));
    memcpy(f->bounds, bounds, nbounds * sizeof(double));
    f->nbounds = nbounds;
    return f;
}

void
metrics_gauge_fn(const char *name, const char *help, double (*read)(void))
{
    metrics_family_new(name, help, METRICS_GAUGE_FN, NULL)->read = read;
}

static uint32_t
metrics_hash(const char *const *values, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++)
            h = (h ^ *p) * 16777619u;
        h = (h ^ 0xff) * 16777619u;
    }
    return h;
}

metrics_series_t *
metrics_series(metrics_family_t *f, const char *const *values)
{
    static const char *const none[1] = {NULL};
    if (f == NULL)
        return NULL;
    if (values == NULL)
        values = none;
    uint32_t slot = metrics_hash(values, f->nlabels) % METRICS_SLOTS;
    metrics_series_t *s = NULL;
    pthread_mutex_lock(&f->lock);
    for (;; slot = (slot + 1) % METRICS_SLOTS) {
        s = f->slots[slot];
        if (s == NULL)
            break;
        size_t i = 0;
        while (i < f->nlabels && strcmp(s->values[i], values[i]) == 0)
            i++;
        if (i == f->nlabels)
            break;
    }
    if (s == NULL && f->nseries < METRICS_MAX_SERIES) {
        s = bson_malloc0(sizeof(*s));
        s->family = f;
        for (size_t i = 0; i < f->nlabels; i++)
            s->values[i] = bson_strdup(values[i] != NULL ? values[i] : "");
        if (f->kind == METRICS_HISTOGRAM)
            s->buckets = bson_malloc0((f->nbounds + 1) * sizeof(*s->buckets));
        f->slots[slot] = s;
        f->order[f->nseries++] = s;
    }
    pthread_mutex_unlock(&f->lock);
    return s;
}

void
metrics_add(metrics_series_t *s, double v)
{
    if (s != NULL)
        metrics_add_bits(&s->value, v);
}

void
metrics_set(metrics_series_t *s, double v)
{
    if (s == NULL)
        return;
    uint64_t b;
    memcpy(&b, &v, sizeof(b));
    atomic_store_explicit(&s->value, b, memory_order_relaxed);
}

void
metrics_observe(metrics_series_t *s, double v)
{
    if (s == NULL || s->buckets == NULL)
        return;
    size_t i = 0;
    while (i < s->family->nbounds && v > s->family->bounds[i])
        i++;
    atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
    metrics_add_bits(&s->value, v);
}

/* --- exposition ------------------------------------------------------------ */

static void
metrics_number(bson_string_t *out, double v)
{
    if (v == (double)(int64_t)v && v > -1e15 && v < 1e15)
        bson_string_append_printf(out, "%lld", (long long)v);
    else
        bson_string_append_printf(out, "%.17g", v);
}

/* A label value, escaped as the format asks: backslash, quote, newline. */
static void
metrics_escaped(bson_string_t *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            bson_string_append(out, "\\\\");
        else if (*v == '"')
            bson_string_append(out, "\\\"");
        else if (*v == '\n')
            bson_string_append(out, "\\n");
        else
            bson_string_append_c(out, *v);
    }
}

static void
metrics_labels(bson_string_t *out, const metrics_family_t *f, const metrics_series_t *s, const char *le)
{
    bool konst = metrics_const_name != NULL && strncmp(f->name, "roost_", 6) == 0;
    if (f->nlabels == 0 && le == NULL && !konst)
        return;
    bson_string_append_c(out, '{');
    const char *sep = "";
    if (konst) {
        bson_string_append_printf(out, "%s=\"", metrics_const_name);
        metrics_escaped(out, metrics_const_value);
        bson_string_append_c(out, '"');
        sep = ",";
    }
    for (size_t i = 0; i < f->nlabels; i++) {
        bson_string_append_printf(out, "%s%s=\"", sep, f->labels[i]);
        metrics_escaped(out, s->values[i]);
        bson_string_append_c(out, '"');
        sep = ",";
    }
    if (le != NULL)
        bson_string_append_printf(out, "%sle=\"%s\"", sep, le);
    bson_string_append_c(out, '}');
}

static void
metrics_render_family(bson_string_t *out, metrics_family_t *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram", "gauge"};
    bson_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, types[f->kind]);
    if (f->kind == METRICS_GAUGE_FN) {
        bson_string_append(out, f->name);
        metrics_labels(out, f, NULL, NULL);
        bson_string_append_c(out, ' ');
        metrics_number(out, f->read());
        bson_string_append_c(out, '\n');
        return;
    }
    pthread_mutex_lock(&f->lock);
    size_t n = f->nseries;
    pthread_mutex_unlock(&f->lock);
    for (size_t i = 0; i < n; i++) {
        metrics_series_t *s = f->order[i];
        if (f->kind != METRICS_HISTOGRAM) {
            bson_string_append(out, f->name);
            metrics_labels(out, f, s, NULL);
            bson_string_append_c(out, ' ');
            metrics_number(out, metrics_load(&s->value));
            bson_string_append_c(out, '\n');
            continue;
        }
        uint64_t cumulative = 0;
        char le[32];
        for (size_t b = 0; b <= f->nbounds; b++) {
            cumulative += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
            if (b < f->nbounds)
                snprintf(le, sizeof(le), "%g", f->bounds[b]);
            else
                strcpy(le, "+Inf");
            bson_string_append_printf(out, "%s_bucket", f->name);
            metrics_labels(out, f, s, le);
            bson_string_append_printf(out, " %llu\n", (unsigned long long)cumulative);
        }
        bson_string_append_printf(out, "%s_sum", f->name);
        metrics_labels(out, f, s, NULL);
        bson_string_append_c(out, ' ');
        metrics_number(out, metrics_load(&s->value));
        /* The count is the +Inf bucket's, so that the two always agree. */
        bson_string_append_printf(out, "\n%s_count", f->name);
        metrics_labels(out, f, s, NULL);
        bson_string_append_printf(out, " %llu\n", (unsigned long long)cumulative);
    }
}

/* The standard process metrics, from /proc (proc(5)). */
static void
metrics_render_process(bson_string_t *out)
{
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    buf[n] = '\0';
    unsigned long utime = 0, stime = 0, vsize = 0;
    unsigned long long start = 0;
    long rss = 0;
    const char *p = strrchr(buf, ')'); /* after the command name, which may hold anything */
    if (p != NULL)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %llu %lu %ld",
               &utime, &stime, &start, &vsize, &rss);
    double boot = 0;
    if ((f = fopen("/proc/stat", "r")) != NULL) {
        while (fgets(buf, sizeof(buf), f) != NULL)
            if (strncmp(buf, "btime ", 6) == 0)
                boot = strtod(buf + 6, NULL);
        fclose(f);
    }
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            fds += e->d_name[0] != '.';
        closedir(d);
        fds--; /* the directory's own descriptor */
    }
    struct rlimit lim = {0};
    getrlimit(RLIMIT_NOFILE, &lim);
    bson_string_append_printf(out,
                              "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
                              "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
                              "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                              "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %lld\n"
                              "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                              "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %lu\n"
                              "# HELP process_open_fds Number of open file descriptors.\n"
                              "# TYPE process_open_fds gauge\nprocess_open_fds %d\n"
                              "# HELP process_max_fds Maximum number of open file descriptors.\n"
                              "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n"
                              "# HELP process_start_time_seconds Start time of the process since unix epoch in "
                              "seconds.\n"
                              "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.2f\n",
                              (double)(utime + stime) / (double)ticks, (long long)rss * page, vsize, fds,
                              (unsigned long long)lim.rlim_cur, boot + (double)start / (double)ticks);
}

char *
metrics_render(size_t *len)
{
    bson_string_t *out = bson_string_new(NULL);
    pthread_mutex_lock(&metrics_registry.lock);
    metrics_family_t *first = metrics_registry.first;
    pthread_mutex_unlock(&metrics_registry.lock);
    for (metrics_family_t *f = first; f != NULL; f = f->next)
        metrics_render_family(out, f);
    metrics_render_process(out);
    *len = out->len;
    return bson_string_free(out, false);
}

/* --- serving, for processes without an HTTP server ------------------------------- */

static struct MHD_Daemon *metrics_daemon;

static enum MHD_Result
metrics_answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method, const char *version,
               const char *upload, size_t *upload_len, void **state)
{
    (void)cls, (void)version, (void)upload, (void)upload_len, (void)state;
    struct MHD_Response *res;
    enum MHD_Result rv;
    if (strcmp(url, "/metrics") != 0) {
        static const char missing[] = "not found: metrics are at /metrics\n";
        res = MHD_create_response_from_buffer(sizeof(missing) - 1, (void *)missing, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(res, "Content-Type", "text/plain; charset=utf-8");
        rv = MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, res);
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        static const char wrong[] = "method not allowed: use GET\n";
        res = MHD_create_response_from_buffer(sizeof(wrong) - 1, (void *)wrong, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(res, "Allow", "GET, HEAD");
        MHD_add_response_header(res, "Content-Type", "text/plain; charset=utf-8");
        rv = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, res);
    } else {
        size_t len;
        char *text = metrics_render(&len);
        res = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(res, "Content-Type", METRICS_CONTENT_TYPE);
        rv = MHD_queue_response(conn, MHD_HTTP_OK, res);
    }
    MHD_destroy_response(res);
    return rv;
}

bool
metrics_serve(void)
{
    int port = (int)cfg_int("ROOST_METRICS_PORT", 0, 0, 65535);
    if (port == 0)
        return true;
    const char *host = cfg_str("ROOST_METRICS_HOST", "127.0.0.1");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        log_error("ROOST_METRICS_HOST=%s is not an IPv4 address", host);
        return false;
    }
    /* The reason a port cannot be served, which libmicrohttpd does not give. */
    int probe = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (probe >= 0) {
        setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(probe, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
            log_error("cannot serve metrics on %s:%d: %s", host, port, strerror(errno));
            close(probe);
            return false;
        }
        close(probe);
    }
    /* Scrapers are few: a connection idle for 5 s is closed, and at most 16
     * (4 per address) are served at once, so that no client can take the
     * file descriptors the process needs for nng and MongoDB. */
    metrics_daemon =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC, (uint16_t)port, NULL, NULL, metrics_answer,
                         NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_CONNECTION_TIMEOUT,
                         (unsigned int)5, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)16,
                         MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)4, MHD_OPTION_END);
    if (metrics_daemon == NULL) {
        log_error("cannot serve metrics on %s:%d", host, port);
        return false;
    }
    log_info("metrics on http://%s:%d/metrics", host, port);
    return true;
}

void
metrics_serve_stop(void)
{
    if (metrics_daemon != NULL)
        MHD_stop_daemon(metrics_daemon);
    metrics_daemon = NULL;
}
