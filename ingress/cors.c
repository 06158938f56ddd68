/* The CORS allow-list and preflight checks (cors.h). */
#include "cors.h"
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool
cors_space(char c)
{
    return c == ' ' || c == '\t';
}

/* "scheme://host[:port]": a scheme of letters, a host of letters, digits,
 * '-', '.' (or a bracketed IPv6 literal), a port of 1 to 5 digits. */
static bool
cors_valid_origin(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && isalpha((unsigned char)s[i]))
        i++;
    if (i == 0 || len - i < 4 || strncmp(s + i, "://", 3) != 0)
        return false;
    i += 3;
    size_t host = i;
    if (i < len && s[i] == '[') {
        while (i < len && s[i] != ']')
            i++;
        if (i == len)
            return false;
        i++;
    } else {
        while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '.'))
            i++;
    }
    if (i == host)
        return false;
    if (i < len && s[i] == ':') {
        size_t port = ++i;
        while (i < len && isdigit((unsigned char)s[i]))
            i++;
        if (i == port || i - port > 5)
            return false;
    }
    return i == len;
}

bool
cors_parse(const char *spec, cors_config_t *out, const char **bad)
{
    memset(out, 0, sizeof(*out)); /* `out` holds nothing on entry: cors_free a config before reusing it */
    if (spec == NULL)
        return true;
    const char *p = spec;
    while (*p != '\0') {
        while (cors_space(*p) || *p == ',')
            p++;
        if (*p == '\0')
            break;
        const char *start = p;
        while (*p != '\0' && *p != ',')
            p++;
        size_t len = (size_t)(p - start);
        while (len > 0 && cors_space(start[len - 1]))
            len--;
        out->enabled = true;
        if (len == 1 && start[0] == '*') {
            out->any = true;
            continue;
        }
        if (!cors_valid_origin(start, len)) {
            *bad = start;
            cors_free(out);
            return false;
        }
        char *origin = malloc(len + 1);
        for (size_t i = 0; i < len; i++)
            origin[i] = (char)tolower((unsigned char)start[i]);
        origin[len] = '\0';
        out->origins = realloc(out->origins, (out->count + 1) * sizeof(*out->origins));
        out->origins[out->count++] = origin;
    }
    return true;
}

void
cors_free(cors_config_t *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->origins[i]);
    free(c->origins);
    memset(c, 0, sizeof(*c));
}

static cors_config_t cors_cfg;
static pthread_once_t cors_once = PTHREAD_ONCE_INIT;

static void
cors_load(void)
{
    const char *bad = NULL;
    if (!cors_parse(cfg_str("ROOST_CORS_ORIGINS", NULL), &cors_cfg, &bad)) {
        fprintf(stderr, "roost: ROOST_CORS_ORIGINS holds '%s', which is not an origin such as https://app.example\n",
                bad);
        exit(2);
    }
}

const cors_config_t *
cors_config(void)
{
    pthread_once(&cors_once, cors_load);
    return &cors_cfg;
}

bool
cors_origin_allowed(const cors_config_t *c, const char *origin, size_t len)
{
    if (!c->enabled || len == 0)
        return false;
    if (c->any)
        return true;
    for (size_t i = 0; i < c->count; i++)
        if (strlen(c->origins[i]) == len && strncasecmp(c->origins[i], origin, len) == 0)
            return true;
    return false;
}

bool
cors_headers_allowed(const char *list, size_t len)
{
    static const char *const allowed[] = {"authorization",   "content-type",     "if-match",
                                          "if-none-match",   "x-request-id",     "accept",
                                          "accept-language", "content-language", NULL};
    size_t i = 0;
    while (i < len) {
        while (i < len && (cors_space(list[i]) || list[i] == ','))
            i++;
        size_t start = i;
        while (i < len && list[i] != ',' && !cors_space(list[i]))
            i++;
        size_t n = i - start;
        while (i < len && cors_space(list[i]))
            i++;
        if (i < len && list[i] != ',')
            return false; /* a name with a space inside: not a field-name */
        if (n == 0)
            continue;
        bool known = false;
        for (const char *const *a = allowed; *a != NULL && !known; a++)
            known = strlen(*a) == n && strncasecmp(*a, list + start, n) == 0;
        if (!known)
            return false;
    }
    return true;
}
