/* The $filter lexer: the text into tokens (literals checked as they are read:
 * real calendar dates, numbers in range), and the error position in characters. */
#include "query/odata/internal.h"

#include "clock.h"
#include "text.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const odata_cmp_names[] = {"eq", "ne", "gt", "ge", "lt", "le"};

/* 1-based character (code point) position of byte `at`. */
size_t
odata_char_pos(const char *s, size_t at)
{
    size_t n = 1;
    for (size_t i = 0; i < at; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

void
odata_message(odata_error_t *err, const char *fmt, va_list ap)
{
    char *whole = bson_strdupv_printf(fmt, ap);
    text_copy(err->message, sizeof(err->message), whole);
    bson_free(whole);
}

void
odata_fail_at(parser_t *p, size_t at, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    p->err->pos = odata_char_pos(p->s, at);
    va_list ap;
    va_start(ap, fmt);
    odata_message(p->err, fmt, ap);
    va_end(ap);
}

/* How the current token reads in a message: 'text' (at most 24 characters) or "the end". */
void
odata_tok_describe(const parser_t *p, char *out, size_t len)
{
    if (p->tok.kind == T_END) {
        snprintf(out, len, "the end of the filter");
        return;
    }
    size_t n = p->tok.end - p->tok.start, cut = n;
    if (cut > 24) {
        cut = 24;
        while (cut > 0 && ((unsigned char)p->s[p->tok.start + cut] & 0xC0) == 0x80)
            cut--;
    }
    snprintf(out, len, "'%.*s%s'", (int)cut, p->s + p->tok.start, cut < n ? "…" : "");
}

static int
digits(const char *s, size_t len, size_t at, size_t n)
{
    int v = 0;
    for (size_t k = 0; k < n; k++) {
        if (at + k >= len || !odata_is_digit(s[at + k]))
            return -1;
        v = v * 10 + (s[at + k] - '0');
    }
    return v;
}

/* A date or date-time literal at p->at (which starts with 4 digits and '-'). */
static void
lex_date(parser_t *p)
{
    const char *s = p->s;
    size_t at = p->at, len = p->len;
    int y = digits(s, len, at, 4), mo = -1, d = -1;
    if (at + 10 <= len && s[at + 4] == '-' && s[at + 7] == '-') {
        mo = digits(s, len, at + 5, 2);
        d = digits(s, len, at + 8, 2);
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > clock_days_in_month(y, mo)) {
        odata_fail_at(p, at, "expected a date YYYY-MM-DD with a real month and day");
        return;
    }
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d};
    size_t i = at + 10;
    int64_t frac_us = 0, offset_s = 0;
    bool datetime = i < len && s[i] == 'T';
    if (datetime) {
        int h = digits(s, len, i + 1, 2), mi = -1, sec = 0;
        if (i + 3 < len && s[i + 3] == ':')
            mi = digits(s, len, i + 4, 2);
        i += 6;
        if (mi >= 0 && i < len && s[i] == ':') {
            sec = digits(s, len, i + 1, 2);
            i += 3;
            if (sec >= 0 && i < len && s[i] == '.') {
                size_t f = i + 1, scale = 100000;
                while (f < len && odata_is_digit(s[f])) {
                    frac_us += (s[f] - '0') * (int64_t)scale;
                    scale /= 10;
                    f++;
                }
                if (f == i + 1 || f - i - 1 > 12) {
                    odata_fail_at(p, i, "expected 1 to 12 digits of a fraction of a second");
                    return;
                }
                i = f;
            }
        }
        if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) {
            odata_fail_at(p, at, "expected a date-time YYYY-MM-DDTHH:MM[:SS[.fff]] then Z or an offset (+01:00)");
            return;
        }
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec;
        if (i < len && s[i] == 'Z') {
            i++;
        } else if (i < len && (s[i] == '+' || s[i] == '-')) {
            int oh = digits(s, len, i + 1, 2), om = i + 3 < len && s[i + 3] == ':' ? digits(s, len, i + 4, 2) : -1;
            if (oh < 0 || oh > 23 || om < 0 || om > 59) {
                odata_fail_at(p, i, "expected an offset +HH:MM or -HH:MM");
                return;
            }
            offset_s = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
            i += 6;
        } else {
            odata_fail_at(p, i, "expected Z or an offset (+01:00) after the time");
            return;
        }
    }
    if (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':' || s[i] == '.')) {
        odata_fail_at(p, i, "expected the end of the date, found '%c'", s[i]);
        return;
    }
    p->tok.kind = datetime ? T_DATETIME : T_DATE;
    p->tok.i = ((int64_t)timegm(&tm) - offset_s) * 1000000 + frac_us;
    p->at = i;
}

static void
lex_number(parser_t *p)
{
    const char *s = p->s;
    size_t i = p->at + (s[p->at] == '-'), start = p->at;
    bool is_double = false;
    while (i < p->len && odata_is_digit(s[i]))
        i++;
    if (i < p->len && s[i] == '.') {
        is_double = true;
        i++;
        if (i >= p->len || !odata_is_digit(s[i])) {
            odata_fail_at(p, i, "expected a digit after the decimal point");
            return;
        }
        while (i < p->len && odata_is_digit(s[i]))
            i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        is_double = true;
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= p->len || !odata_is_digit(s[i])) {
            odata_fail_at(p, i, "expected the digits of an exponent");
            return;
        }
        while (i < p->len && odata_is_digit(s[i]))
            i++;
    }
    if (i < p->len && (isalpha((unsigned char)s[i]) || s[i] == '_')) {
        odata_fail_at(p, i, "expected the end of the number, found '%c'", s[i]);
        return;
    }
    char buf[64];
    if (i - start >= sizeof(buf)) {
        odata_fail_at(p, start, "a number of more than %zu characters", sizeof(buf) - 1);
        return;
    }
    memcpy(buf, s + start, i - start);
    buf[i - start] = '\0';
    errno = 0;
    if (is_double) {
        p->tok.kind = T_DOUBLE;
        p->tok.d = strtod(buf, NULL);
        if (errno != 0 || !isfinite(p->tok.d)) {
            odata_fail_at(p, start, "the number %s is out of range", buf);
            return;
        }
    } else {
        p->tok.kind = T_INT;
        p->tok.i = strtoll(buf, NULL, 10);
        if (errno != 0) {
            odata_fail_at(p, start, "the integer %s is out of range (64 bits)", buf);
            return;
        }
    }
    p->at = i;
}

/* Reads the next token into p->tok. */
void
odata_lex(parser_t *p)
{
    const char *s = p->s;
    bson_free(p->tok.text);
    memset(&p->tok, 0, sizeof(p->tok));
    size_t was = p->at;
    while (p->at < p->len && (s[p->at] == ' ' || s[p->at] == '\t'))
        p->at++;
    p->tok.space_before = p->at > was;
    p->tok.start = p->at;
    if (p->failed || p->at >= p->len) {
        p->tok.kind = T_END;
        p->tok.end = p->at;
        return;
    }
    char c = s[p->at];
    if (c == '(' || c == ')' || c == ',') {
        p->tok.kind = c == '(' ? T_LPAREN : c == ')' ? T_RPAREN : T_COMMA;
        p->at++;
    } else if (c == '\'') {
        bson_string_t *str = bson_string_new(NULL);
        size_t i = p->at + 1;
        for (;;) {
            if (i >= p->len) {
                bson_string_free(str, true);
                odata_fail_at(p, p->at, "a string that is never closed (a quote inside one is written '')");
                p->tok.kind = T_END;
                return;
            }
            if (s[i] == '\'') {
                if (i + 1 < p->len && s[i + 1] == '\'') {
                    bson_string_append_c(str, '\'');
                    i += 2;
                    continue;
                }
                break;
            }
            bson_string_append_c(str, s[i++]);
        }
        p->tok.kind = T_STRING;
        p->tok.text = bson_string_free(str, false);
        p->at = i + 1;
    } else if (odata_is_digit(c) && p->at + 4 < p->len && digits(s, p->len, p->at, 4) >= 0 && s[p->at + 4] == '-') {
        lex_date(p);
    } else if (odata_is_digit(c) || (c == '-' && p->at + 1 < p->len && odata_is_digit(s[p->at + 1]))) {
        lex_number(p);
    } else if (isalpha((unsigned char)c) || c == '_') {
        size_t i = p->at;
        while (i < p->len && (isalnum((unsigned char)s[i]) || s[i] == '_'))
            i++;
        /* The geo functions' namespace: geo.distance, geo.intersects. */
        if (i - p->at == 3 && strncmp(s + p->at, "geo", 3) == 0 && i + 1 < p->len && s[i] == '.' &&
            isalpha((unsigned char)s[i + 1]))
            for (i++; i < p->len && (isalnum((unsigned char)s[i]) || s[i] == '_');)
                i++;
        /* geography'SRID=4326;POINT(2.35 48.85)': a string literal of its own type. */
        if (i - p->at == 9 && strncmp(s + p->at, "geography", 9) == 0 && i < p->len && s[i] == '\'') {
            bool space_before = p->tok.space_before;
            p->at = i;
            odata_lex(p);
            if (p->tok.kind == T_STRING)
                p->tok.kind = T_GEOGRAPHY;
            p->tok.start = i - 9;
            p->tok.space_before = space_before;
            return;
        }
        p->tok.kind = T_NAME;
        /* Not bson_strndup: it reads one byte past `n` when no NUL follows. */
        p->tok.text = bson_malloc(i - p->at + 1);
        memcpy(p->tok.text, s + p->at, i - p->at);
        p->tok.text[i - p->at] = '\0';
        p->at = i;
    } else {
        char what[8];
        int n = 1;
        if ((unsigned char)c >= 0x80) /* the whole code point */
            while (p->at + n < p->len && n < 4 && ((unsigned char)s[p->at + n] & 0xC0) == 0x80)
                n++;
        snprintf(what, sizeof(what), "%.*s", n, s + p->at);
        odata_fail_at(p, p->at, "unexpected character '%s'", what);
        p->tok.kind = T_END;
    }
    if (p->failed)
        p->tok.kind = T_END;
    p->tok.end = p->at;
}

bool
odata_tok_is(const parser_t *p, const char *name)
{
    return p->tok.kind == T_NAME && strcmp(p->tok.text, name) == 0;
}

/* An operator word is written between spaces (ABNF: RWS "and" RWS, and
 * "not" RWS): `a eq 1and b eq 2` or `not(a eq 1)` are refused, as
 * odata-query refuses them. Checks the current token, an operator. */
bool
odata_spaced(parser_t *p, bool before)
{
    size_t after = p->tok.end;
    if (before && !p->tok.space_before) {
        odata_fail_at(p, p->tok.start, "expected a space before '%s'", p->tok.text);
        return false;
    }
    /* At the very end, what follows is missing altogether: the next token says so. */
    if (after < p->len && p->s[after] != ' ' && p->s[after] != '\t') {
        odata_fail_at(p, after, "expected a space after '%s'", p->tok.text);
        return false;
    }
    return true;
}

static const char *const keywords[] = {"and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", NULL};

bool
odata_is_keyword(const char *name)
{
    for (const char *const *k = keywords; *k; k++)
        if (strcmp(*k, name) == 0)
            return true;
    return false;
}
