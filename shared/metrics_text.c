/* The Prometheus text exposition format (0.0.4) of every family and of
 * the process itself (/proc): what metrics_render returns. */
#include "metrics.h"
#include "metrics_internal.h"

#include <bson/bson.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

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
