/* Minimal leveled logger; one write(2) per line so lines from threads never interleave. */
#include "log.h"
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *log_component = "roost";
static enum log_level log_threshold = LOG_INFO;
static const char *const log_names[] = {"debug", "info", "warn", "error"};

void
log_init(const char *component)
{
    log_component = component;
    const char *lvl = cfg_str("ROOST_LOG_LEVEL", "info");
    for (int i = 0; i < 4; i++)
        if (strcasecmp(lvl, log_names[i]) == 0)
            log_threshold = (enum log_level)i;
}

int
log_enabled(enum log_level level)
{
    return level >= log_threshold;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%d] ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     log_names[level], log_component, (int)getpid());
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
}
