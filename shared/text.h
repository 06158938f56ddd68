/*
 * Unicode text rules shared by every Roost program, on utf8proc (a
 * maintained Unicode library: normalisation and case folding tables that
 * follow the Unicode standard, not per-byte tolower).
 *
 * - A "character" is a Unicode code point of the text in Normalization
 *   Form C (NFC, UAX #15), so "é" counts once whether it was sent
 *   precomposed or as "e" + U+0301.
 * - A "key" is what case-insensitive comparisons compare: NFC, then full
 *   Unicode case folding (Unicode 15 CaseFolding.txt, status C+F: "ß" folds
 *   to "ss"). Two texts are equal case-insensitively when their keys are
 *   equal byte for byte. A key is never shortened: a key used for equality
 *   is never a prefix of the text.
 *
 * Nothing here cuts a string silently: text_excerpt and text_copy, the
 * functions that shorten, cut between characters and say so with "…".
 */
#ifndef ROOST_TEXT_H
#define ROOST_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The case-insensitive key of `s` (`len` bytes, UTF-8): NFC + full case
 * folding. Returns a NUL-terminated string the caller frees with free(),
 * or NULL when `s` is not valid UTF-8 or memory runs out.
 */
char *text_key(const char *s, size_t len);

/*
 * The words of `s` (`len` bytes, UTF-8) as keyword search compares them:
 * the key (above) with every mark removed (categories Mn, Mc, Me: "é" is
 * "e") and compatibility forms mapped (NFKC: "²" is "2"), cut at every character that is not a letter, a digit or a
 * private-use character. Returns the words in order, repeats kept, each
 * ended by '\0', the last followed by one more '\0' (so "" has none);
 * free() it. NULL when `s` is not valid UTF-8 or memory runs out.
 */
char *text_words(const char *s, size_t len);

/* The number of characters (NFC code points) of `s`, or -1 when `s` is
 * not valid UTF-8. */
long text_chars(const char *s, size_t len);

/* `s` itself when it has at most `max` characters; otherwise its first
 * `max` characters (cut between two code points) followed by "…".
 * For echoing client text in error messages. Free with free(). */
char *text_excerpt(const char *s, size_t max);

/* Copies `src` into `dst` (`size` bytes, at least 4): whole when it fits,
 * otherwise cut between two characters and ended with "…" — for the
 * fixed-size message of a bson_error_t. */
void text_copy(char *dst, size_t size, const char *src);

/* A copy of `s` in which every byte that is not part of valid UTF-8 is
 * replaced by U+FFFD; free() it. */
char *text_valid(const char *s);

#endif
