/* Minimal leveled logger, text or JSON (log.h); one write(2) per line so
 * lines from threads never interleave. */
#include "log.h"
#include "config.h"
#include "text.h"

#include <bson/bson.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *log_component = "roost";
static enum log_level log_threshold = LOG_INFO;
static const char *const log_names[] = {"debug", "info", "warn", "error"};
static bool log_json;

void
log_init(const char *component)
{
    log_component = component;
    const char *lvl = cfg_str("ROOST_LOG_LEVEL", "info");
    for (int i = 0; i < 4; i++)
        if (strcasecmp(lvl, log_names[i]) == 0)
            log_threshold = (enum log_level)i;
    log_json = strcasecmp(cfg_str("ROOST_LOG_FORMAT", "text"), "json") == 0;
}

int
log_enabled(enum log_level level)
{
    return level >= log_threshold;
}

/* Appends `text` (valid UTF-8: text_valid) to line[*n] as a JSON string's
 * contents, escaped by libbson. */
static void
log_json_string(char *line, int *n, int cap, const char *text)
{
    char *escaped = bson_utf8_escape_for_json(text, (ssize_t)strlen(text));
    if (escaped == NULL)
        escaped = bson_strdup("(not UTF-8)");
    *n += snprintf(line + *n, (size_t)(cap - *n), "%s", escaped);
    if (*n > cap)
        *n = cap;
    bson_free(escaped);
}

static void
log_line(enum log_level level, const char *rid, const char *op, int status, double seconds, const char *fmt, va_list ap)
{
    char line[8192], msg[1024];
    const int cap = (int)sizeof(line) - 2;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* Whatever the message quotes (a path, a client's text, cut at a byte
     * count) becomes valid UTF-8, and in text lines one line: a byte that
     * is not UTF-8 becomes U+FFFD, a line break a space. A request id is
     * printed only as the characters ids are made of. */
    char *valid = text_valid(msg);
    if (valid != NULL) {
        bson_strncpy(msg, valid, sizeof(msg));
        free(valid);
    }
    if (!log_json)
        for (char *c = msg; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
    char id[72];
    if (rid != NULL) {
        size_t i = 0;
        for (; rid[i] != '\0' && i < sizeof(id) - 1; i++)
            id[i] = isalnum((unsigned char)rid[i]) || strchr("._:-", rid[i]) != NULL ? rid[i] : '?';
        id[i] = '\0';
        rid = id;
    }
    int n = snprintf(line, sizeof(line),
                     log_json ? "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\","
                                "\"process\":\"%s\",\"pid\":%d"
                              : "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%d] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, log_names[level], log_component, (int)getpid());
    if (log_json) {
        if (rid != NULL) {
            n += snprintf(line + n, (size_t)(cap - n), ",\"rid\":\"");
            log_json_string(line, &n, cap, rid);
            n += snprintf(line + n, (size_t)(cap - n), "\"");
        }
        if (op != NULL && n < cap) {
            size_t service = strcspn(op, ".");
            n += snprintf(line + n, (size_t)(cap - n), ",\"service\":\"%.*s\",\"op\":\"", (int)service, op);
            log_json_string(line, &n, cap, op);
            n += snprintf(line + n, (size_t)(cap - n), "\"");
        }
        if (status > 0 && n < cap)
            n += snprintf(line + n, (size_t)(cap - n), ",\"status\":%d", status);
        if (seconds >= 0 && n < cap)
            n += snprintf(line + n, (size_t)(cap - n), ",\"duration_ms\":%.3f", seconds * 1000);
        if (n < cap)
            n += snprintf(line + n, (size_t)(cap - n), ",\"msg\":\"");
        if (n < cap)
            log_json_string(line, &n, cap - 2, msg);
        if (n < cap)
            n += snprintf(line + n, (size_t)(cap - n), "\"}");
    } else {
        if (rid != NULL && n < cap)
            n += snprintf(line + n, (size_t)(cap - n), "rid=%s ", rid);
        if (op != NULL && n < cap)
            n += snprintf(line + n, (size_t)(cap - n), "op=%s ", op);
        if (status > 0 && n < cap)
            n += snprintf(line + n, (size_t)(cap - n), "status=%d ", status);
        if (seconds >= 0 && n < cap)
            n += snprintf(line + n, (size_t)(cap - n), "duration_ms=%.3f ", seconds * 1000);
        if (n < cap)
            n += snprintf(line + n, (size_t)(cap - n), "%s", msg);
    }
    if (n > cap)
        n = cap;
    line[n++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, NULL, NULL, 0, -1, fmt, ap);
    va_end(ap);
}

void
log_request(enum log_level level, const char *rid, const char *op, int status, double seconds, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, rid, op, status, seconds, fmt, ap);
    va_end(ap);
}
