/* HTTP field parsers (http.h): Bearer credentials, entity-tag lists, Accept-Encoding. */
#include "http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool
http_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* RFC 9110 §5.6.2 tchar. */
static bool
http_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Trims OWS from both ends of [*s, *s + *len). */
static void
http_trim(const char **s, size_t *len)
{
    while (*len > 0 && http_ows(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && http_ows((*s)[*len - 1]))
        (*len)--;
}

bool
http_bearer(const char *v, size_t len, const char **token, size_t *token_len)
{
    size_t i = 0;
    http_trim(&v, &len);
    while (i < len && http_tchar((unsigned char)v[i]))
        i++;
    if (i != 6 || strncasecmp(v, "Bearer", 6) != 0)
        return false;
    if (i == len || v[i] != ' ')
        return false; /* 1*SP, not a tab */
    while (i < len && v[i] == ' ')
        i++;
    size_t start = i;
    while (i < len &&
           ((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') ||
            strchr("-._~+/", v[i]) != NULL) &&
           v[i] != '\0')
        i++;
    if (i == start)
        return false;
    while (i < len && v[i] == '=')
        i++;
    if (i != len)
        return false;
    *token = v + start;
    *token_len = len - start;
    return true;
}

typedef void (*http_tag_fn)(bool weak, const char *tag, size_t tag_len, void *arg);

/*
 * Walks `#entity-tag` (RFC 9110 §8.8.3, lists per §5.6.1, empty elements
 * allowed), calling `fn` on each tag's opaque part. False when the list is
 * malformed or holds no tag.
 */
static bool
http_etag_walk(const char *v, size_t len, http_tag_fn fn, void *arg)
{
    size_t i = 0;
    bool any = false;
    while (i < len) {
        while (i < len && (http_ows(v[i]) || v[i] == ','))
            i++;
        if (i == len)
            break;
        bool weak = false;
        if (len - i >= 2 && v[i] == 'W' && v[i + 1] == '/') {
            weak = true;
            i += 2;
        }
        if (i == len || v[i] != '"')
            return false;
        size_t open = ++i;
        while (i < len && v[i] != '"') {
            unsigned char c = (unsigned char)v[i];
            if (!(c == 0x21 || (c >= 0x23 && c <= 0x7E) || c >= 0x80))
                return false; /* etagc */
            i++;
        }
        if (i == len)
            return false;
        size_t tag_len = i - open;
        i++; /* the closing quote */
        while (i < len && http_ows(v[i]))
            i++;
        if (i < len && v[i] != ',')
            return false;
        any = true;
        fn(weak, v + open, tag_len, arg);
    }
    return any;
}

/* The version a tag names, as Roost writes ETags: "3", or "3-gzip" and
 * "3-br" for its coded bodies (http.h); 0 for none ("03", "x"). */
static int64_t
http_tag_version(const char *tag, size_t len)
{
    int64_t version = 0;
    for (size_t i = 0; i < len; i++)
        if (tag[i] == '-') {
            size_t rest = len - i - 1;
            if (!((rest == 4 && memcmp(tag + i + 1, "gzip", 4) == 0) ||
                  (rest == 2 && memcmp(tag + i + 1, "br", 2) == 0)))
                return 0;
            len = i;
            break;
        }
    if (len == 0 || len > 18 || tag[0] == '0')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (tag[i] < '0' || tag[i] > '9')
            return 0;
        version = version * 10 + (tag[i] - '0');
    }
    return version;
}

typedef struct {
    int64_t version;
    bool weak_comparison, match;
    const char *tag; /* the first that matched, its quotes included */
    size_t tag_len;
} http_match_t;

static void
http_tag_matches(bool weak, const char *tag, size_t tag_len, void *arg)
{
    http_match_t *m = arg;
    if ((!weak || m->weak_comparison) && m->version > 0 && http_tag_version(tag, tag_len) == m->version && !m->match) {
        m->match = true;
        m->tag = tag - 1;
        m->tag_len = tag_len + 2;
    }
}

/* Evaluates If-Match (strongly) or If-None-Match (weakly); when a listed
 * tag matched, and `tag` is not NULL, *tag is it (quotes kept). */
static http_precondition_t
http_precondition(const char *v, size_t len, int64_t version, bool if_match, const char **tag, size_t *tag_len)
{
    http_trim(&v, &len);
    if (len == 1 && v[0] == '*')
        return (version > 0) == if_match ? HTTP_PRECONDITION_TRUE : HTTP_PRECONDITION_FALSE;
    http_match_t m = {.version = version, .weak_comparison = !if_match};
    if (!http_etag_walk(v, len, http_tag_matches, &m))
        return HTTP_PRECONDITION_MALFORMED;
    if (m.match && tag != NULL) {
        *tag = m.tag;
        *tag_len = m.tag_len;
    }
    return m.match == if_match ? HTTP_PRECONDITION_TRUE : HTTP_PRECONDITION_FALSE;
}

http_precondition_t
http_if_match(const char *value, size_t len, int64_t version)
{
    return http_precondition(value, len, version, true, NULL, NULL);
}

typedef struct {
    int64_t *out;
    size_t max, n;
    bool overflow;
} http_versions_t;

static void
http_tag_collect(bool weak, const char *tag, size_t tag_len, void *arg)
{
    http_versions_t *c = arg;
    int64_t version = weak ? 0 : http_tag_version(tag, tag_len);
    if (version <= 0)
        return; /* a weak tag never matches strongly (§13.1.1); "03" or "x" is no version */
    if (c->n == c->max)
        c->overflow = true;
    else
        c->out[c->n++] = version;
}

bool
http_if_match_versions(const char *value, size_t len, int64_t *out, size_t max, size_t *n, bool *any)
{
    http_versions_t c = {.out = out, .max = max};
    http_trim(&value, &len);
    *n = 0;
    *any = len == 1 && value[0] == '*';
    if (*any)
        return true;
    if (!http_etag_walk(value, len, http_tag_collect, &c) || c.overflow)
        return false;
    *n = c.n;
    return true;
}

http_precondition_t
http_if_none_match(const char *value, size_t len, int64_t version)
{
    return http_precondition(value, len, version, false, NULL, NULL);
}

bool
http_if_none_match_tag(const char *value, size_t len, int64_t version, const char **tag, size_t *tag_len)
{
    return http_precondition(value, len, version, false, tag, tag_len) == HTTP_PRECONDITION_FALSE;
}

/* Parses a qvalue (§12.4.2) into thousandths; -1 when malformed. */
static int
http_qvalue(const char *s, size_t len)
{
    if (len == 0 || (s[0] != '0' && s[0] != '1') || (len > 1 && s[1] != '.') || len > 5)
        return -1;
    int q = (s[0] - '0') * 1000, scale = 100;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

http_encoding_t
http_accept_encoding(const char *v, size_t len)
{
    int q_br = -1, q_gzip = -1, q_star = -1; /* -1: not listed */
    size_t i = 0;
    while (i < len) {
        while (i < len && (http_ows(v[i]) || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && http_tchar((unsigned char)v[i]))
            i++;
        size_t name_len = i - start;
        int q = 1000;
        while (i < len && http_ows(v[i]))
            i++;
        while (i < len && v[i] == ';') { /* parameters: only q means anything */
            i++;
            while (i < len && http_ows(v[i]))
                i++;
            size_t p = i;
            while (i < len && v[i] != ',' && v[i] != ';' && !http_ows(v[i]))
                i++;
            if (i - p >= 2 && (v[p] == 'q' || v[p] == 'Q') && v[p + 1] == '=')
                q = http_qvalue(v + p + 2, i - p - 2);
            while (i < len && http_ows(v[i]))
                i++;
        }
        if (i < len && v[i] != ',')
            return HTTP_ENCODING_IDENTITY; /* malformed: the safe answer */
        if (name_len == 0 || q < 0)
            continue;
        if (name_len == 2 && strncasecmp(v + start, "br", 2) == 0)
            q_br = q;
        else if ((name_len == 4 && strncasecmp(v + start, "gzip", 4) == 0) ||
                 (name_len == 6 && strncasecmp(v + start, "x-gzip", 6) == 0))
            q_gzip = q;
        else if (name_len == 1 && v[start] == '*')
            q_star = q;
    }
    if (q_br < 0)
        q_br = q_star;
    if (q_gzip < 0)
        q_gzip = q_star;
    if (q_br > 0 && q_br >= q_gzip)
        return HTTP_ENCODING_BR;
    if (q_gzip > 0)
        return HTTP_ENCODING_GZIP;
    return HTTP_ENCODING_IDENTITY;
}

bool
http_media_type_is(const char *value, size_t len, const char *const *types)
{
    http_trim(&value, &len);
    for (; *types != NULL; types++) {
        size_t n = strlen(*types);
        if (len >= n && strncasecmp(value, *types, n) == 0 && (len == n || value[n] == ';' || http_ows(value[n])))
            return true;
    }
    return false;
}

bool
http_none_match_lists(const char *v, size_t len, const char *tag)
{
    size_t tag_len = strlen(tag), i = 0;
    while (i < len) {
        while (i < len && (http_ows(v[i]) || v[i] == ','))
            i++;
        if (i < len && v[i] == '*')
            return true;
        if (i + 2 <= len && v[i] == 'W' && v[i + 1] == '/')
            i += 2;
        size_t start = i;
        if (i < len && v[i] == '"') {
            const char *close = memchr(v + i + 1, '"', len - i - 1);
            if (close == NULL)
                return false;
            i = (size_t)(close - v) + 1;
        } else {
            while (i < len && v[i] != ',')
                i++;
        }
        if (i - start == tag_len && memcmp(v + start, tag, tag_len) == 0)
            return true;
    }
    return false;
}

/* A decimal number of 1 to 19 digits at v[*i], advanced past it. */
static bool
http_range_number(const char *v, size_t len, size_t *i, uint64_t *out)
{
    size_t start = *i;
    uint64_t n = 0;
    while (*i < len && v[*i] >= '0' && v[*i] <= '9' && *i - start < 19)
        n = n * 10 + (uint64_t)(v[(*i)++] - '0');
    *out = n;
    return *i > start && !(*i < len && v[*i] >= '0' && v[*i] <= '9');
}

http_range_t
http_range(const char *v, size_t len, uint64_t size, uint64_t *first, uint64_t *last)
{
    static const char unit[] = "bytes=";
    size_t i = sizeof(unit) - 1;
    uint64_t a = 0, b = 0;
    while (len > 0 && http_ows(v[len - 1]))
        len--;
    if (len < i || strncasecmp(v, unit, i) != 0)
        return HTTP_RANGE_NONE;
    while (i < len && http_ows(v[i]))
        i++;
    if (i < len && v[i] == '-') { /* the last n bytes */
        i++;
        if (!http_range_number(v, len, &i, &b) || i != len)
            return HTTP_RANGE_NONE;
        if (b == 0 || size == 0)
            return HTTP_RANGE_UNSATISFIABLE;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return HTTP_RANGE_OK;
    }
    if (!http_range_number(v, len, &i, &a) || i == len || v[i] != '-')
        return HTTP_RANGE_NONE;
    i++;
    bool open = i == len;
    if (!open && (!http_range_number(v, len, &i, &b) || i != len))
        return HTTP_RANGE_NONE;
    if (a >= size || (!open && b < a))
        return HTTP_RANGE_UNSATISFIABLE;
    *first = a;
    *last = open || b >= size ? size - 1 : b;
    return HTTP_RANGE_OK;
}

bool
http_accepts_type(const char *v, size_t len, const char *type)
{
    size_t n = strlen(type), i = 0;
    while (i < len) {
        while (i < len && (http_ows(v[i]) || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',' && v[i] != ';' && !http_ows(v[i]))
            i++;
        bool named = i - start == n && strncasecmp(v + start, type, n) == 0;
        int q = 1000;
        while (i < len && v[i] != ',') { /* parameters: only q matters */
            while (i < len && (http_ows(v[i]) || v[i] == ';'))
                i++;
            if (i + 2 <= len && (v[i] == 'q' || v[i] == 'Q') && v[i + 1] == '=') {
                size_t qs = i + 2;
                i = qs;
                while (i < len && v[i] != ',' && v[i] != ';' && !http_ows(v[i]))
                    i++;
                q = http_qvalue(v + qs, i - qs);
            } else {
                while (i < len && v[i] != ',' && v[i] != ';')
                    i++;
            }
        }
        if (named)
            return q > 0;
    }
    return false;
}
