/* Matching requests against the routing table; pure code, unit-tested. */
#include "routes.h"

#include <stdbool.h>
#include <string.h>

static const route_t *const routes_tables[] = {routes_ops,     routes_users,    routes_properties,
                                               routes_places,  routes_listings, routes_bookings,
                                               routes_classic, routes_reso,     NULL};

/* Matches `path` against `pattern`, filling the captured parameters. */
static int
routes_match_path(const char *pattern, const char *path, size_t path_len, route_match_t *m)
{
    const char *p = pattern, *s = path, *end = path + path_len;
    m->nparams = 0;
    while (*p != '\0') {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            const char *seg_end = memchr(s, '/', (size_t)(end - s));
            if (seg_end == NULL)
                seg_end = end;
            if (seg_end == s || m->nparams == ROUTE_MAX_PARAMS)
                return 0;
            m->params[m->nparams].name = p + 1;
            m->params[m->nparams].name_len = (size_t)(close - p - 1);
            m->params[m->nparams].value = s;
            m->params[m->nparams].value_len = (size_t)(seg_end - s);
            m->nparams++;
            p = close + 1;
            s = seg_end;
        } else {
            if (s == end || *s != *p)
                return 0;
            p++;
            s++;
        }
    }
    return s == end;
}

route_result_t
routes_match(const char *method, size_t method_len, const char *path, size_t path_len, route_match_t *m)
{
    bool is_head = method_len == 4 && memcmp(method, "HEAD", 4) == 0;
    bool path_known = false;
    size_t allow_len = 0;

    memset(m, 0, sizeof(*m));
    for (const route_t *const *t = routes_tables; *t != NULL; t++) {
        for (const route_t *r = *t; r->method != NULL; r++) {
            route_match_t candidate;
            if ((r->flags & ROUTE_BULK) || !routes_match_path(r->pattern, path, path_len, &candidate))
                continue;
            size_t rl = strlen(r->method);
            if ((rl == method_len && memcmp(r->method, method, rl) == 0) ||
                (is_head && strcmp(r->method, "GET") == 0)) {
                *m = candidate;
                m->route = r;
                return ROUTE_FOUND;
            }
            path_known = true;
            m->path_flags |= r->flags;
            if (strstr(m->allow, r->method) == NULL && allow_len + rl + 2 < sizeof(m->allow)) {
                if (allow_len > 0) {
                    memcpy(m->allow + allow_len, ", ", 2);
                    allow_len += 2;
                }
                memcpy(m->allow + allow_len, r->method, rl + 1);
                allow_len += rl;
            }
        }
    }
    return path_known ? ROUTE_BAD_METHOD : ROUTE_NOT_FOUND;
}

bool
routes_odata_path(const char *path, size_t len)
{
    static const char root[] = "/reso/odata";
    size_t n = sizeof(root) - 1;
    return len >= n && memcmp(path, root, n) == 0 && (len == n || path[n] == '/' || path[n] == '(' || path[n] == '?');
}

const route_t *
routes_bulk(const route_t *route)
{
    for (const route_t *const *t = routes_tables; *t != NULL; t++)
        for (const route_t *r = *t; r->method != NULL; r++)
            if ((r->flags & ROUTE_BULK) && strcmp(r->method, route->method) == 0 &&
                strcmp(r->pattern, route->pattern) == 0)
                return r;
    return NULL;
}

void
routes_each(void (*fn)(const route_t *route, void *arg), void *arg)
{
    for (const route_t *const *t = routes_tables; *t != NULL; t++)
        for (const route_t *r = *t; r->method != NULL; r++)
            fn(r, arg);
}
