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

/* Letters, digits and private-use characters: what words are made of
 * (SQLite's unicode61 tokenizer, which the embedded database searches
 * with, keeps the same classes). */
static bool
text_word_char(utf8proc_int32_t cp)
{
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_CO:
        return true;
    default:
        return false;
    }
}

char *
text_words(const char *s, size_t len)
{
    /* COMPAT too: "²" is "2", "ﬁ" is "fi", full-width letters are letters. */
    char *folded =
        text_map(s, len, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK);
    if (folded == NULL)
        return NULL;
    size_t n = strlen(folded), o = 0;
    char *out = malloc(n + 2); /* each word at most its bytes plus one NUL; the final NUL */
    if (out == NULL) {
        free(folded);
        return NULL;
    }
    bool in_word = false;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t step = utf8proc_iterate((const utf8proc_uint8_t *)folded + i, (utf8proc_ssize_t)(n - i), &cp);
        if (step <= 0)
            break; /* cannot happen: utf8proc_map's output is valid UTF-8 */
        if (text_word_char(cp)) {
            memcpy(out + o, folded + i, (size_t)step);
            o += (size_t)step;
            in_word = true;
        } else if (in_word) {
            out[o++] = '\0';
            in_word = false;
        }
        i += (size_t)step;
    }
    if (in_word)
        out[o++] = '\0';
    out[o] = '\0';
    free(folded);
    return out;
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
