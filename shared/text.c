/* Unicode keys, character counts and excerpts over utf8proc (text.h). */
#include "text.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* utf8proc_map with `options` over exactly `len` bytes; NULL on any error. */
static char *
text_map(const char *s, size_t len, utf8proc_option_t options)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &out, options);
    if (n < 0)
        return NULL; /* out is left NULL by utf8proc on failure */
    return (char *)out;
}

char *
text_key(const char *s, size_t len)
{
    /* STABLE: no compatibility mappings; COMPOSE: NFC; CASEFOLD: full folding.
     * utf8proc decomposes, folds, then recomposes, so the key is NFC too. */
    return text_map(s, len, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
}

long
text_chars(const char *s, size_t len)
{
    char *nfc = text_map(s, len, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (nfc == NULL)
        return -1;
    long chars = 0;
    for (const unsigned char *p = (const unsigned char *)nfc; *p; p++)
        chars += (*p & 0xC0) != 0x80;
    free(nfc);
    return chars;
}

char *
text_excerpt(const char *s, size_t max)
{
    static const char ellipsis[] = "\xe2\x80\xa6"; /* U+2026 */
    size_t len = strlen(s), chars = 0, cut = len;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)s[i] & 0xC0) == 0x80)
            continue;
        if (chars++ == max) {
            cut = i;
            break;
        }
    }
    char *out = malloc(cut + sizeof(ellipsis));
    if (out == NULL)
        return NULL;
    memcpy(out, s, cut);
    if (cut < len)
        memcpy(out + cut, ellipsis, sizeof(ellipsis));
    else
        out[cut] = '\0';
    return out;
}

void
text_copy(char *dst, size_t size, const char *src)
{
    static const char ellipsis[] = "\xe2\x80\xa6";
    size_t len = strlen(src);
    if (len < size) {
        memcpy(dst, src, len + 1);
        return;
    }
    size_t cut = size - sizeof(ellipsis); /* room for the ellipsis and the NUL */
    while (cut > 0 && ((unsigned char)src[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(dst, src, cut);
    memcpy(dst + cut, ellipsis, sizeof(ellipsis));
}

char *
text_valid(const char *s)
{
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1), *o = out; /* each bad byte may become 3 */
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n > 0) {
            memcpy(o, s + i, (size_t)n);
            o += n;
            i += (size_t)n;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    return out;
}
