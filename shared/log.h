/*
 * One-line structured logs on stderr. The level comes from ROOST_LOG_LEVEL
 * (debug, info, warn, error); the format from ROOST_LOG_FORMAT:
 *   text (default)  "2026-11-30T12:00:00.000Z info ingress[42] message"
 *   json            one JSON object per line: time (RFC 3339, UTC, ms),
 *                   level, process, pid, msg, and for lines about one
 *                   request (log_request): rid, op, service (the op's
 *                   service), status, duration_ms.
 * The request id (rid) is the same in the ingress's, the broker's and the
 * worker's lines about one request, so they can be joined.
 */
#ifndef ROOST_LOG_H
#define ROOST_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_init(const char *component);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int log_enabled(enum log_level level);

/* A line about one request: `rid`, `op` (NULL: none), `status` (0: none)
 * and `seconds` (< 0: none) as fields, then the message. */
void log_request(enum log_level level, const char *rid, const char *op, int status, double seconds, const char *fmt,
                 ...) __attribute__((format(printf, 6, 7)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
