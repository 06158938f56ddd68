/* The CORS allow-list and preflight checks (cors.h). */
#include "cors.h"
#include "config.h"
#include "respond.h"

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

/* Whether the `n` bytes at `name` are one of the names of `names` ("A, B, C"), in any case. */
static bool
cors_name_listed(const char *names, const char *name, size_t n)
{
    for (const char *s = names; *s != '\0';) {
        size_t k = strcspn(s, ",");
        if (k == n && strncasecmp(s, name, n) == 0)
            return true;
        s += k;
        while (*s == ',' || *s == ' ')
            s++;
    }
    return false;
}

bool
cors_headers_allowed(const char *list, size_t len)
{
    /* CORS_ALLOW_HEADERS states the list; these are safelisted (Fetch §2.2.2). */
    static const char *const lists[] = {CORS_ALLOW_HEADERS, "Accept, Accept-Language, Content-Language", NULL};
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
        for (const char *const *l = lists; *l != NULL && !known; l++)
            known = cors_name_listed(*l, list + start, n);
        if (!known)
            return false;
    }
    return true;
}

/*
 * OPTIONS on a known path (RFC 9110 §9.3.7): 204 with Allow. With an Origin
 * and Access-Control-Request-Method it is a CORS preflight (Fetch §3.2.2):
 * an allowed origin asking for one of the path's methods and allowed
 * headers gets the Access-Control-Allow-* answer; any other preflight is
 * refused with a 403 that says why.
 */
void
cors_preflight(h2o_req_t *req, const char *rid, const route_match_t *m)
{
    char *allow = bson_strdup_printf("%s, OPTIONS", m->allow);
    ssize_t o = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    ssize_t rm = h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-method"), -1);
    unsigned classic = route_error_shape(m->path_flags);

    respond_header(req, H2O_TOKEN_ALLOW, allow, strlen(allow));
    if (o < 0 || rm < 0) {
        respond_empty(req, 204, rid);
        goto done;
    }
    const cors_config_t *cors = cors_config();
    h2o_iovec_t origin = req->headers.entries[o].value, method = req->headers.entries[rm].value;
    if (!cors_origin_allowed(cors, origin.base, origin.len)) {
        respond_error(req, classic, rid, 403, "origin_not_allowed",
                      cors->enabled ? "this origin may not call Roost from a browser (ROOST_CORS_ORIGINS)"
                                    : "cross-origin requests are off: set ROOST_CORS_ORIGINS to allow an origin",
                      NULL);
        goto done;
    }
    route_match_t probe;
    size_t path_len = route_path_len(req->path.len, req->query_at);
    if (routes_match(method.base, method.len, req->path.base, path_len, &probe) != ROUTE_FOUND) {
        char *detail = bson_strdup_printf("this path accepts %s", m->allow);
        respond_error(req, classic, rid, 403, "method_not_allowed", detail, NULL);
        bson_free(detail);
        goto done;
    }
    ssize_t rh = h2o_find_header_by_str(&req->headers, H2O_STRLIT("access-control-request-headers"), -1);
    if (rh >= 0 && !cors_headers_allowed(req->headers.entries[rh].value.base, req->headers.entries[rh].value.len)) {
        respond_error(req, classic, rid, 403, "header_not_allowed",
                      "a browser may send only these request headers: " CORS_ALLOW_HEADERS, NULL);
        goto done;
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-methods"), 0, NULL, allow,
                          strlen(allow));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-allow-headers"), 0, NULL,
                          H2O_STRLIT(CORS_ALLOW_HEADERS));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("access-control-max-age"), 0, NULL,
                          H2O_STRLIT(CORS_MAX_AGE));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL,
                   H2O_STRLIT("Access-Control-Request-Method, Access-Control-Request-Headers"));
    respond_empty(req, 204, rid); /* adds Access-Control-Allow-Origin and Vary: Origin */
done:
    bson_free(allow);
}
