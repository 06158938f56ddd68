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
    while (i < len && ((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') ||
                       strchr("-._~+/", v[i]) != NULL) && v[i] != '\0')
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

/*
 * Walks `#entity-tag` (RFC 9110 §8.8.3, lists per §5.6.1, empty elements
 * allowed) and reports whether a tag matches `version`, strongly or weakly.
 * Returns -1 when the list is malformed.
 */
static int
http_etag_list_matches(const char *v, size_t len, int64_t version, bool weak_comparison)
{
    char want[24];
    int want_len = snprintf(want, sizeof(want), "%lld", (long long)version);
    size_t i = 0;
    bool match = false, any = false;
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
            return -1;
        size_t open = ++i;
        while (i < len && v[i] != '"') {
            unsigned char c = (unsigned char)v[i];
            if (!(c == 0x21 || (c >= 0x23 && c <= 0x7E) || c >= 0x80))
                return -1; /* etagc */
            i++;
        }
        if (i == len)
            return -1;
        size_t tag_len = i - open;
        i++; /* the closing quote */
        while (i < len && http_ows(v[i]))
            i++;
        if (i < len && v[i] != ',')
            return -1;
        any = true;
        if ((!weak || weak_comparison) && version > 0 && tag_len == (size_t)want_len &&
            memcmp(v + open, want, tag_len) == 0)
            match = true;
    }
    return any ? match : -1;
}

static http_precondition_t
http_precondition(const char *v, size_t len, int64_t version, bool if_match)
{
    http_trim(&v, &len);
    if (len == 1 && v[0] == '*')
        return (version > 0) == if_match ? HTTP_PRECONDITION_TRUE : HTTP_PRECONDITION_FALSE;
    int m = http_etag_list_matches(v, len, version, !if_match);
    if (m < 0)
        return HTTP_PRECONDITION_MALFORMED;
    return (m == 1) == if_match ? HTTP_PRECONDITION_TRUE : HTTP_PRECONDITION_FALSE;
}

http_precondition_t
http_if_match(const char *value, size_t len, int64_t version)
{
    return http_precondition(value, len, version, true);
}

http_precondition_t
http_if_none_match(const char *value, size_t len, int64_t version)
{
    return http_precondition(value, len, version, false);
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
