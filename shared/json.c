/* Checked JSON -> BSON and compact BSON -> JSON (json.h). */
#include "json.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting depth of a JSON text, counted outside strings. */
static int
json_depth(const char *data, size_t len)
{
    int depth = 0, max = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

/* A 400 whose message may quote the client's text: bson_error_t holds 504
 * bytes, so a long one is cut between characters, with "…". */
static void
json_fail(bson_error_t *error, const char *message)
{
    bson_set_error(error, 1, 400, "%s", "");
    text_copy(error->message, sizeof(error->message), message);
}

bool
json_to_bson(const char *data, size_t len, bson_t *out, bson_error_t *error)
{
    size_t i = 0;

    if (!bson_utf8_validate(data, len, false)) {
        bson_set_error(error, 1, 400, "body is not valid UTF-8");
        return false;
    }
    while (i < len && strchr(" \t\r\n", data[i]) != NULL)
        i++;
    if (i == len) {
        bson_set_error(error, 1, 400, "body is empty; a JSON object is required");
        return false;
    }
    if (data[i] != '{') {
        bson_set_error(error, 1, 400, "body must be a JSON object");
        return false;
    }
    if (json_depth(data, len) > JSON_MAX_DEPTH) {
        bson_set_error(error, 1, 400, "body nests deeper than %d levels", JSON_MAX_DEPTH);
        return false;
    }
    bson_error_t perr;
    if (!bson_init_from_json(out, data, (ssize_t)len, &perr)) {
        char *message = bson_strdup_printf("body is not valid JSON: %s", perr.message);
        json_fail(error, message);
        bson_free(message);
        return false;
    }
    return true;
}

void
json_double(double d, char out[32])
{
    /* The fewest significant digits (at most 17 for a binary64) that read
     * back as the same double, then laid out as ECMAScript's
     * Number::toString does: plain digits for exponents -6 to 20, else
     * d.ddde+x. So 30.0 is "30", 4.3 is "4.3", 1e21 is "1e+21". One
     * departure: a whole number past the int64 range (2.5e20) is written
     * d.ddde+x too, since as plain digits JSON readers that keep integers
     * in 64 bits (libbson, so Roost itself) refuse it (found by
     * tests/fuzz/json_fuzz.c). */
    char sci[32];
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(sci, sizeof(sci), "%.*e", digits - 1, d);
        if (strtod(sci, NULL) == d)
            break;
    }
    snprintf(sci, sizeof(sci), "%.*e", digits - 1, d);
    /* sci is [-]d[.ddd]e[+-]xx */
    char mant[20];
    int n = 0, exp;
    const char *p = sci;
    bool negative = *p == '-';
    if (negative)
        p++;
    for (; *p != 'e'; p++)
        if (*p != '.')
            mant[n++] = *p;
    exp = atoi(p + 1);
    while (n > 1 && mant[n - 1] == '0') /* %.*e pads with zeros */
        n--;
    mant[n] = '\0';
    char *o = out;
    if (negative)
        *o++ = '-';
    bool past_int64 = exp >= n - 1 && fabs(d) >= 9223372036854775808.0;
    if (exp >= -6 && exp < 21 && !past_int64) {
        if (exp >= n - 1) { /* an integer: digits then zeros */
            memcpy(o, mant, (size_t)n);
            o += n;
            for (int i = 0; i < exp - (n - 1); i++)
                *o++ = '0';
        } else if (exp >= 0) { /* a point inside the digits */
            memcpy(o, mant, (size_t)exp + 1);
            o += exp + 1;
            *o++ = '.';
            memcpy(o, mant + exp + 1, (size_t)(n - exp - 1));
            o += n - exp - 1;
        } else { /* 0.000ddd */
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -exp - 1; i++)
                *o++ = '0';
            memcpy(o, mant, (size_t)n);
            o += n;
        }
        *o = '\0';
    } else {
        *o++ = mant[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, mant + 1, (size_t)n - 1);
            o += n - 1;
        }
        snprintf(o, 12, "e%+d", exp);
    }
}

/* A growable output buffer; bson_string_t has no append of a length. */
typedef struct {
    char *data;
    size_t len, cap;
} json_buf_t;

static void
json_put(json_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = bson_realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

#define json_puts(b, s) json_put((b), (s), strlen(s))

static void
json_string(json_buf_t *out, const char *s, uint32_t len)
{
    static const char hex[] = "0123456789abcdef";
    json_put(out, "\"", 1);
    uint32_t run = 0; /* start of the bytes not yet copied verbatim */
    for (uint32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        json_put(out, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            json_puts(out, "\\\"");
            break;
        case '\\':
            json_puts(out, "\\\\");
            break;
        case '\n':
            json_puts(out, "\\n");
            break;
        case '\r':
            json_puts(out, "\\r");
            break;
        case '\t':
            json_puts(out, "\\t");
            break;
        case '\b':
            json_puts(out, "\\b");
            break;
        case '\f':
            json_puts(out, "\\f");
            break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            json_put(out, esc, sizeof(esc));
        }
        }
    }
    json_put(out, s + run, len - run);
    json_put(out, "\"", 1);
}

/* A value plain JSON cannot hold, as libbson's relaxed extended JSON. */
static void
json_extended(json_buf_t *out, const bson_iter_t *it)
{
    bson_t tmp = BSON_INITIALIZER;
    bson_append_iter(&tmp, "v", 1, it);
    char *ext = bson_as_relaxed_extended_json(&tmp, NULL);
    /* "{ "v" : <value> }": keep the value. */
    const char *start = ext != NULL ? strchr(ext, ':') : NULL;
    if (start != NULL) {
        size_t n = strlen(start + 2);
        json_put(out, start + 2, n >= 2 ? n - 2 : 0);
    } else {
        json_puts(out, "null");
    }
    bson_free(ext);
    bson_destroy(&tmp);
}

static bool json_value(json_buf_t *out, const bson_iter_t *it);

static bool
json_container(json_buf_t *out, const bson_iter_t *parent, bool array)
{
    bson_iter_t it;
    bool first = true;
    if (!bson_iter_recurse(parent, &it))
        return false;
    json_put(out, array ? "[" : "{", 1);
    while (bson_iter_next(&it)) {
        if (!first)
            json_put(out, ",", 1);
        first = false;
        if (!array) {
            uint32_t klen = (uint32_t)strlen(bson_iter_key(&it));
            if (!bson_utf8_validate(bson_iter_key(&it), klen, false))
                return false;
            json_string(out, bson_iter_key(&it), klen);
            json_put(out, ":", 1);
        }
        if (!json_value(out, &it))
            return false;
    }
    json_put(out, array ? "]" : "}", 1);
    return true;
}

static bool
json_value(json_buf_t *out, const bson_iter_t *it)
{
    char num[32];
    switch (bson_iter_type(it)) {
    case BSON_TYPE_UTF8: {
        uint32_t len;
        const char *s = bson_iter_utf8(it, &len);
        if (!bson_utf8_validate(s, len, true))
            return false;
        json_string(out, s, len);
        return true;
    }
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
        snprintf(num, sizeof(num), "%lld", (long long)bson_iter_as_int64(it));
        json_puts(out, num);
        return true;
    case BSON_TYPE_DOUBLE: {
        double d = bson_iter_double(it);
        if (!isfinite(d)) {
            json_puts(out, "null");
            return true;
        }
        json_double(d, num);
        json_puts(out, num);
        return true;
    }
    case BSON_TYPE_BOOL:
        json_puts(out, bson_iter_bool(it) ? "true" : "false");
        return true;
    case BSON_TYPE_NULL:
    case BSON_TYPE_UNDEFINED:
        json_puts(out, "null");
        return true;
    case BSON_TYPE_DOCUMENT:
        return json_container(out, it, false);
    case BSON_TYPE_ARRAY:
        return json_container(out, it, true);
    default:
        json_extended(out, it);
        return true;
    }
}

char *
json_from_bson(const bson_t *doc, size_t *len)
{
    bson_iter_t it;
    json_buf_t out = {0};
    bool ok = bson_iter_init(&it, doc), first = true;
    json_put(&out, "{", 1);
    while (ok && bson_iter_next(&it)) {
        if (!first)
            json_put(&out, ",", 1);
        first = false;
        uint32_t klen = (uint32_t)strlen(bson_iter_key(&it));
        ok = bson_utf8_validate(bson_iter_key(&it), klen, false);
        if (ok) {
            json_string(&out, bson_iter_key(&it), klen);
            json_put(&out, ":", 1);
            ok = json_value(&out, &it);
        }
    }
    json_put(&out, "}", 1);
    if (!ok) {
        bson_free(out.data);
        return NULL;
    }
    if (len != NULL)
        *len = out.len;
    return out.data;
}
