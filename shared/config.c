/* Environment-based configuration shared by ingress, workers and roostctl. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

const char *
cfg_str(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return (v != NULL && v[0] != '\0') ? v : fallback;
}

int64_t
cfg_int(const char *name, int64_t fallback, int64_t min, int64_t max)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        return fallback;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max) {
        fprintf(stderr, "roost: %s=%s is not an integer in [%" PRId64 ", %" PRId64 "]\n", name, v, min, max);
        exit(2);
    }
    return n;
}

int64_t
cfg_max_message_bytes(void)
{
    return cfg_int("ROOST_MAX_MESSAGE_BYTES", CFG_DEFAULT_MAX_MESSAGE_BYTES, 64 << 10, 1 << 30);
}

int64_t
cfg_max_reply_bytes(void)
{
    int64_t max = cfg_max_message_bytes();
    return max - max / 16;
}

int
cfg_request_timeout_ms(void)
{
    return (int)cfg_int("ROOST_REQUEST_TIMEOUT_MS", CFG_DEFAULT_TIMEOUT_MS, 100, 600000);
}

int64_t
cfg_max_body_bytes(void)
{
    return cfg_int("ROOST_MAX_BODY_BYTES", 1 << 20, 1024, 64 << 20);
}

int64_t
cfg_max_media_bytes(void)
{
    return cfg_int("ROOST_MAX_MEDIA_BYTES", 20 << 20, 1024, 256 << 20);
}

int
cfg_max_media_per_property(void)
{
    return (int)cfg_int("ROOST_MAX_MEDIA_PER_PROPERTY", 50, 1, 1000);
}

int64_t
cfg_media_upload_timeout_s(void)
{
    return cfg_int("ROOST_MEDIA_UPLOAD_TIMEOUT_S", 900, 1, 86400);
}

int
cfg_metrics_port(void)
{
    return (int)cfg_int("ROOST_METRICS_PORT", 0, 0, 65535);
}
