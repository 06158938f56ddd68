/* Service -> pool URL resolution from the environment. */
#include "pools.h"
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

void
pools_service_of(const char *op, char *out, size_t size)
{
    size_t i = 0;
    for (; op[i] != '\0' && op[i] != '.' && i + 1 < size; i++)
        out[i] = op[i];
    out[i] = '\0';
}

/* The variable `prefix` + `service` in capitals, or else `general`, or else `fallback`. */
static const char *
pools_env(const char *prefix, const char *general, const char *service, const char *fallback)
{
    char name[64];
    size_t n = (size_t)snprintf(name, sizeof(name), "%s", prefix);
    for (size_t i = 0; service[i] != '\0' && n + 1 < sizeof(name); i++)
        name[n++] = (char)toupper((unsigned char)service[i]);
    name[n] = '\0';
    return cfg_str(name, cfg_str(general, fallback));
}

const char *
pools_url(const char *service)
{
    return pools_env("ROOST_POOL_URL_", "ROOST_POOL_URL", service, CFG_DEFAULT_POOL_URL);
}

const char *
pools_workers_url(const char *service)
{
    return pools_env("ROOST_WORKERS_URL_", "ROOST_WORKERS_URL", service, "");
}
