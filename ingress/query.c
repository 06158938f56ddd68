/* Query-string parsing for the ingress; pure code, unit-tested. */
#include "query.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

static int
query_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool
query_decode(const char *in, size_t len, char *out, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '%') {
            if (i + 2 >= len)
                return false;
            int hi = query_hex(in[i + 1]), lo = query_hex(in[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = in[i] == '+' ? ' ' : in[i];
        }
    }
    out[o] = '\0';
    *out_len = o;
    return true;
}

/* The names a query may repeat: list filters taking several values
 * (docs/search.md), whose repeats are the comma list of their values. */
static const char *const query_repeatable[] = {"type", NULL};

static bool
query_may_repeat(const char *key)
{
    for (const char *const *r = query_repeatable; *r != NULL; r++)
        if (strcmp(*r, key) == 0)
            return true;
    return false;
}

/* `out` with `key`'s value followed by ",value": a repeated list filter. */
static void
query_join(bson_t *out, const char *key, const char *value, size_t vlen)
{
    bson_t joined = BSON_INITIALIZER;
    bson_iter_t it;
    bson_iter_init(&it, out);
    while (bson_iter_next(&it)) {
        if (strcmp(bson_iter_key(&it), key) != 0) {
            bson_append_iter(&joined, NULL, 0, &it);
            continue;
        }
        uint32_t had;
        const char *before = bson_iter_utf8(&it, &had);
        char *both = bson_strdup_printf("%.*s,%.*s", (int)had, before, (int)vlen, value);
        BSON_APPEND_UTF8(&joined, key, both);
        bson_free(both);
    }
    bson_reinit(out);
    bson_concat(out, &joined);
    bson_destroy(&joined);
}

bool
query_parse(const char *q, size_t len, bson_t *out, bson_error_t *error)
{
    const char *end = q + len;
    bool ok = false;
    char *key = bson_malloc(len + 1), *value = bson_malloc(len + 1);

    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pair_end = amp != NULL ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(pair_end - q));
        const char *key_end = eq != NULL ? eq : pair_end;
        size_t klen, vlen = 0;

        if (pair_end == q) { /* "a=1&&b=2": tolerate empty pairs */
            q = pair_end + 1;
            continue;
        }
        if (!query_decode(q, (size_t)(key_end - q), key, &klen) ||
            (eq != NULL && !query_decode(eq + 1, (size_t)(pair_end - eq - 1), value, &vlen))) {
            bson_set_error(error, 1, 400, "a malformed percent-escape");
            goto done;
        }
        if (eq == NULL)
            value[0] = '\0';
        if (klen == 0) {
            bson_set_error(error, 1, 400, "a parameter without a name");
            goto done;
        }
        if (memchr(key, '\0', klen) != NULL || memchr(value, '\0', vlen) != NULL ||
            !bson_utf8_validate(key, klen, false) || !bson_utf8_validate(value, vlen, false)) {
            bson_set_error(error, 1, 400, "a parameter that is not valid UTF-8, or that holds a NUL (%%00)");
            goto done;
        }
        bson_iter_t seen;
        if (bson_iter_init_find(&seen, out, key) && query_may_repeat(key)) {
            query_join(out, key, value, vlen);
            q = pair_end + 1;
            continue;
        }
        if (bson_iter_init_find(&seen, out, key)) {
            char *name = text_excerpt(key, 64);
            bson_set_error(error, 1, 400, "parameter '%s' given more than once", name);
            free(name);
            goto done;
        }
        bson_append_utf8(out, key, (int)klen, value, (int)vlen);
        q = pair_end + 1;
    }
    ok = true;
done:
    bson_free(key);
    bson_free(value);
    return ok;
}
