/* The OData query options: a recursive-descent parser, a canonical printer
 * and a whitelist compiler to MongoDB filters (odata.h). */
#include "odata.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- tokens ----------------------------------------------------------------- */

typedef enum { T_END, T_LPAREN, T_RPAREN, T_COMMA, T_NAME, T_STRING, T_INT, T_DOUBLE, T_DATE, T_DATETIME } tok_kind_t;

typedef struct {
    tok_kind_t kind;
    size_t start, end; /* bytes of the token in the text */
    char *text;        /* T_NAME, T_STRING (unquoted, '' undoubled) */
    bool space_before; /* whitespace precedes it */
    int64_t i;
    double d;
} tok_t;

typedef struct {
    const char *s;
    size_t len, at; /* `at`: the next byte to read */
    tok_t tok;      /* the current token */
    int depth, terms, junctions;
    odata_error_t *err;
    bool failed;
} parser_t;

/* 1-based character (code point) position of byte `at`. */
static size_t
char_pos(const char *s, size_t at)
{
    size_t n = 1;
    for (size_t i = 0; i < at; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static void fail_at(parser_t *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
fail_at(parser_t *p, size_t at, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    p->err->pos = char_pos(p->s, at);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
    va_end(ap);
}

/* How the current token reads in a message: 'text' (at most 24 characters) or "the end". */
static void
tok_describe(const parser_t *p, char *out, size_t len)
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

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int
digits(const char *s, size_t len, size_t at, size_t n)
{
    int v = 0;
    for (size_t k = 0; k < n; k++) {
        if (at + k >= len || !is_digit(s[at + k]))
            return -1;
        v = v * 10 + (s[at + k] - '0');
    }
    return v;
}

static int
days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
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
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) {
        fail_at(p, at, "expected a date YYYY-MM-DD with a real month and day");
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
                while (f < len && is_digit(s[f])) {
                    frac_us += (s[f] - '0') * (int64_t)scale;
                    scale /= 10;
                    f++;
                }
                if (f == i + 1 || f - i - 1 > 12) {
                    fail_at(p, i, "expected 1 to 12 digits of a fraction of a second");
                    return;
                }
                i = f;
            }
        }
        if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) {
            fail_at(p, at, "expected a date-time YYYY-MM-DDTHH:MM[:SS[.fff]] then Z or an offset (+01:00)");
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
                fail_at(p, i, "expected an offset +HH:MM or -HH:MM");
                return;
            }
            offset_s = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
            i += 6;
        } else {
            fail_at(p, i, "expected Z or an offset (+01:00) after the time");
            return;
        }
    }
    if (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':' || s[i] == '.')) {
        fail_at(p, i, "expected the end of the date, found '%c'", s[i]);
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
    while (i < p->len && is_digit(s[i]))
        i++;
    if (i < p->len && s[i] == '.') {
        is_double = true;
        i++;
        if (i >= p->len || !is_digit(s[i])) {
            fail_at(p, i, "expected a digit after the decimal point");
            return;
        }
        while (i < p->len && is_digit(s[i]))
            i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        is_double = true;
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= p->len || !is_digit(s[i])) {
            fail_at(p, i, "expected the digits of an exponent");
            return;
        }
        while (i < p->len && is_digit(s[i]))
            i++;
    }
    if (i < p->len && (isalpha((unsigned char)s[i]) || s[i] == '_')) {
        fail_at(p, i, "expected the end of the number, found '%c'", s[i]);
        return;
    }
    char buf[64];
    if (i - start >= sizeof(buf)) {
        fail_at(p, start, "a number of more than %zu characters", sizeof(buf) - 1);
        return;
    }
    memcpy(buf, s + start, i - start);
    buf[i - start] = '\0';
    errno = 0;
    if (is_double) {
        p->tok.kind = T_DOUBLE;
        p->tok.d = strtod(buf, NULL);
        if (errno != 0 || !isfinite(p->tok.d)) {
            fail_at(p, start, "the number %s is out of range", buf);
            return;
        }
    } else {
        p->tok.kind = T_INT;
        p->tok.i = strtoll(buf, NULL, 10);
        if (errno != 0) {
            fail_at(p, start, "the integer %s is out of range (64 bits)", buf);
            return;
        }
    }
    p->at = i;
}

/* Reads the next token into p->tok. */
static void
lex(parser_t *p)
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
                fail_at(p, p->at, "a string that is never closed (a quote inside one is written '')");
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
    } else if (is_digit(c) && p->at + 4 < p->len && digits(s, p->len, p->at, 4) >= 0 && s[p->at + 4] == '-') {
        lex_date(p);
    } else if (is_digit(c) || (c == '-' && p->at + 1 < p->len && is_digit(s[p->at + 1]))) {
        lex_number(p);
    } else if (isalpha((unsigned char)c) || c == '_') {
        size_t i = p->at;
        while (i < p->len && (isalnum((unsigned char)s[i]) || s[i] == '_'))
            i++;
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
        fail_at(p, p->at, "unexpected character '%s'", what);
        p->tok.kind = T_END;
    }
    if (p->failed)
        p->tok.kind = T_END;
    p->tok.end = p->at;
}

static bool
tok_is(const parser_t *p, const char *name)
{
    return p->tok.kind == T_NAME && strcmp(p->tok.text, name) == 0;
}

/* An operator word is written between spaces (ABNF: RWS "and" RWS, and
 * "not" RWS): `a eq 1and b eq 2` or `not(a eq 1)` are refused, as
 * odata-query refuses them. Checks the current token, an operator. */
static bool
spaced(parser_t *p, bool before)
{
    size_t after = p->tok.end;
    if (before && !p->tok.space_before) {
        fail_at(p, p->tok.start, "expected a space before '%s'", p->tok.text);
        return false;
    }
    /* At the very end, what follows is missing altogether: the next token says so. */
    if (after < p->len && p->s[after] != ' ' && p->s[after] != '\t') {
        fail_at(p, after, "expected a space after '%s'", p->tok.text);
        return false;
    }
    return true;
}

static const char *const keywords[] = {"and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", NULL};
static const char *const cmp_names[] = {"eq", "ne", "gt", "ge", "lt", "le"};

static bool
is_keyword(const char *name)
{
    for (const char *const *k = keywords; *k; k++)
        if (strcmp(*k, name) == 0)
            return true;
    return false;
}

/* --- the tree ------------------------------------------------------------------ */

static odata_node_t *
node_new(parser_t *p, odata_kind_t kind, size_t at)
{
    odata_node_t *n = bson_malloc0(sizeof(*n));
    n->kind = kind;
    n->pos = char_pos(p->s, at);
    return n;
}

static void
node_add(odata_node_t *n, odata_node_t *child)
{
    n->a = bson_realloc(n->a, (n->n + 1) * sizeof(*n->a));
    n->a[n->n++] = child;
}

void
odata_free(odata_node_t *node)
{
    if (node == NULL)
        return;
    for (size_t i = 0; i < node->n; i++)
        odata_free(node->a[i]);
    bson_free(node->a);
    bson_free(node->text);
    bson_free(node);
}

static odata_node_t *parse_or(parser_t *p);

static bool
count_term(parser_t *p, size_t at)
{
    if (++p->terms > ODATA_MAX_TERMS) {
        fail_at(p, at, "more than %d conditions in one filter", ODATA_MAX_TERMS);
        return false;
    }
    return true;
}

static bool
enter(parser_t *p, size_t at)
{
    if (++p->depth > ODATA_MAX_DEPTH) {
        fail_at(p, at, "nested more than %d deep", ODATA_MAX_DEPTH);
        return false;
    }
    return true;
}

/* A literal token (or true/false/null) as a node; NULL if the token is none. */
static odata_node_t *
parse_literal(parser_t *p)
{
    odata_node_t *n = node_new(p, ODATA_LIT, p->tok.start);
    switch (p->tok.kind) {
    case T_STRING:
        n->lit = ODATA_LIT_STRING;
        n->text = p->tok.text;
        p->tok.text = NULL;
        break;
    case T_INT:
        n->lit = ODATA_LIT_INT;
        n->i = p->tok.i;
        break;
    case T_DOUBLE:
        n->lit = ODATA_LIT_DOUBLE;
        n->d = p->tok.d;
        break;
    case T_DATE:
    case T_DATETIME:
        n->lit = p->tok.kind == T_DATE ? ODATA_LIT_DATE : ODATA_LIT_DATETIME;
        n->i = p->tok.i;
        break;
    case T_NAME:
        if (tok_is(p, "true") || tok_is(p, "false")) {
            n->lit = ODATA_LIT_BOOL;
            n->i = tok_is(p, "true");
            break;
        }
        if (tok_is(p, "null")) {
            n->lit = ODATA_LIT_NULL;
            break;
        }
        /* fall through */
    default:
        odata_free(n);
        return NULL;
    }
    lex(p);
    return n;
}

static odata_node_t *
parse_primary(parser_t *p)
{
    char found[64];
    size_t at = p->tok.start;
    if (p->tok.kind == T_LPAREN) {
        if (!enter(p, at))
            return NULL;
        lex(p);
        odata_node_t *inner = parse_or(p);
        if (inner == NULL)
            return NULL;
        if (p->tok.kind != T_RPAREN) {
            tok_describe(p, found, sizeof(found));
            fail_at(p, p->tok.start, "expected ')' to close the '(' at character %zu, found %s", char_pos(p->s, at),
                    found);
            odata_free(inner);
            return NULL;
        }
        p->depth--;
        lex(p);
        return inner;
    }
    odata_node_t *lit = parse_literal(p);
    if (lit != NULL || p->failed)
        return lit;
    if (p->tok.kind == T_NAME && !is_keyword(p->tok.text)) {
        odata_node_t *n = node_new(p, ODATA_NAME, at);
        n->text = p->tok.text;
        p->tok.text = NULL;
        lex(p);
        if (p->tok.kind != T_LPAREN)
            return n;
        /* A function call: name(arg, ...). */
        n->kind = ODATA_CALL;
        if (!count_term(p, at) || !enter(p, at)) {
            odata_free(n);
            return NULL;
        }
        lex(p);
        if (p->tok.kind != T_RPAREN) {
            for (;;) {
                odata_node_t *arg = parse_or(p);
                if (arg == NULL) {
                    odata_free(n);
                    return NULL;
                }
                node_add(n, arg);
                if (p->tok.kind != T_COMMA)
                    break;
                lex(p);
            }
        }
        if (p->tok.kind != T_RPAREN) {
            tok_describe(p, found, sizeof(found));
            fail_at(p, p->tok.start, "expected ',' or ')' in the arguments of %s, found %s", n->text, found);
            odata_free(n);
            return NULL;
        }
        p->depth--;
        lex(p);
        return n;
    }
    tok_describe(p, found, sizeof(found));
    fail_at(p, at, "expected a field, a literal, a function or '(', found %s", found);
    return NULL;
}

/* primary [in (literal, ...)]: in binds tighter than not (Part 2 §5.1.1.16). */
static odata_node_t *
parse_member(parser_t *p)
{
    odata_node_t *left = parse_primary(p);
    if (left == NULL)
        return NULL;
    size_t at = p->tok.start;
    if (tok_is(p, "in")) {
        char found[64];
        odata_node_t *n = node_new(p, ODATA_IN, at);
        node_add(n, left);
        if (!spaced(p, true) || !count_term(p, at)) {
            odata_free(n);
            return NULL;
        }
        lex(p);
        if (p->tok.kind != T_LPAREN) {
            tok_describe(p, found, sizeof(found));
            fail_at(p, p->tok.start, "expected '(' and a list of literals after in, found %s", found);
            odata_free(n);
            return NULL;
        }
        lex(p);
        for (;;) {
            odata_node_t *v = parse_literal(p);
            if (v == NULL) {
                tok_describe(p, found, sizeof(found));
                fail_at(p, p->tok.start, "expected a literal in the list of in, found %s", found);
                odata_free(n);
                return NULL;
            }
            node_add(n, v);
            if (n->n - 1 > ODATA_MAX_IN) {
                fail_at(p, v->pos - 1, "more than %d values in one in list", ODATA_MAX_IN);
                odata_free(n);
                return NULL;
            }
            if (p->tok.kind != T_COMMA)
                break;
            lex(p);
        }
        if (p->tok.kind != T_RPAREN) {
            tok_describe(p, found, sizeof(found));
            fail_at(p, p->tok.start, "expected ',' or ')' in the list of in, found %s", found);
            odata_free(n);
            return NULL;
        }
        lex(p);
        return n;
    }
    return left;
}

static odata_node_t *
parse_unary(parser_t *p)
{
    if (tok_is(p, "not")) {
        size_t at = p->tok.start;
        if (!spaced(p, false) || !enter(p, at))
            return NULL;
        lex(p);
        odata_node_t *operand = parse_unary(p);
        if (operand == NULL)
            return NULL;
        p->depth--;
        odata_node_t *n = node_new(p, ODATA_NOT, at);
        node_add(n, operand);
        return n;
    }
    return parse_member(p);
}

static odata_node_t *
parse_cmp(parser_t *p)
{
    odata_node_t *left = parse_unary(p);
    if (left == NULL)
        return NULL;
    size_t at = p->tok.start;
    for (int op = 0; op < 6; op++) {
        if (!tok_is(p, cmp_names[op]))
            continue;
        if (!spaced(p, true) || !count_term(p, at)) {
            odata_free(left);
            return NULL;
        }
        lex(p);
        odata_node_t *right = parse_unary(p);
        if (right == NULL) {
            odata_free(left);
            return NULL;
        }
        odata_node_t *n = node_new(p, ODATA_CMP, at);
        n->op = (odata_op_t)op;
        node_add(n, left);
        node_add(n, right);
        return n;
    }
    return left;
}

static odata_node_t *
parse_binary(parser_t *p, const char *word, odata_kind_t kind, odata_node_t *(*operand)(parser_t *))
{
    odata_node_t *left = operand(p);
    while (left != NULL && tok_is(p, word)) {
        size_t at = p->tok.start;
        if (!spaced(p, true)) {
            odata_free(left);
            return NULL;
        }
        if (++p->junctions > 2 * ODATA_MAX_TERMS) {
            fail_at(p, at, "more than %d and/or in one filter", 2 * ODATA_MAX_TERMS);
            odata_free(left);
            return NULL;
        }
        lex(p);
        odata_node_t *right = operand(p);
        if (right == NULL) {
            odata_free(left);
            return NULL;
        }
        odata_node_t *n = node_new(p, kind, at);
        node_add(n, left);
        node_add(n, right);
        left = n;
    }
    return left;
}

static odata_node_t *
parse_and(parser_t *p)
{
    return parse_binary(p, "and", ODATA_AND, parse_cmp);
}

static odata_node_t *
parse_or(parser_t *p)
{
    return parse_binary(p, "or", ODATA_OR, parse_and);
}

odata_node_t *
odata_parse(const char *text, size_t len, odata_error_t *err)
{
    parser_t p = {.s = text, .len = len, .err = err};
    memset(err, 0, sizeof(*err));
    if (memchr(text, '\0', len) != NULL || !bson_utf8_validate(text, len, false)) {
        snprintf(err->message, sizeof(err->message), "not valid UTF-8 text, or it holds a NUL");
        return NULL;
    }
    if (len > 4 * ODATA_MAX_LENGTH || char_pos(text, len) - 1 > ODATA_MAX_LENGTH) { /* characters, not bytes */
        err->pos = 0;
        snprintf(err->message, sizeof(err->message), "longer than %d characters", ODATA_MAX_LENGTH);
        return NULL;
    }
    lex(&p);
    if (p.tok.kind == T_END && !p.failed) {
        snprintf(err->message, sizeof(err->message), "empty: expected a condition such as price lt 1000");
        err->pos = 1;
        bson_free(p.tok.text);
        return NULL;
    }
    odata_node_t *root = parse_or(&p);
    if (root != NULL && !p.failed && p.tok.kind != T_END) {
        char found[64];
        tok_describe(&p, found, sizeof(found));
        fail_at(&p, p.tok.start, "expected and, or, a comparison or the end, found %s", found);
    }
    bson_free(p.tok.text);
    if (p.failed) {
        odata_free(root);
        return NULL;
    }
    return root;
}

/* --- the canonical printer ---------------------------------------------------- */

static void
sexpr_lit(bson_string_t *out, const odata_node_t *n)
{
    switch (n->lit) {
    case ODATA_LIT_NULL:
        bson_string_append(out, "null");
        break;
    case ODATA_LIT_BOOL:
        bson_string_append(out, n->i ? "true" : "false");
        break;
    case ODATA_LIT_INT:
        bson_string_append_printf(out, "%lld", (long long)n->i);
        break;
    case ODATA_LIT_DOUBLE:
        bson_string_append_printf(out, "%.17g", n->d);
        break;
    case ODATA_LIT_STRING:
        bson_string_append_c(out, '\'');
        for (const char *c = n->text; *c; c++) {
            if (*c == '\'')
                bson_string_append_c(out, '\'');
            bson_string_append_c(out, *c);
        }
        bson_string_append_c(out, '\'');
        break;
    case ODATA_LIT_DATE:
    case ODATA_LIT_DATETIME: {
        time_t t = (time_t)(n->i >= 0 ? n->i / 1000000 : (n->i - 999999) / 1000000);
        int64_t us = n->i - (int64_t)t * 1000000;
        struct tm tm;
        char buf[40];
        gmtime_r(&t, &tm);
        if (n->lit == ODATA_LIT_DATE) {
            strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
            bson_string_append_printf(out, "date:%s", buf);
        } else {
            strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
            bson_string_append_printf(out, "datetime:%s.%06lldZ", buf, (long long)us);
        }
        break;
    }
    }
}

static void
sexpr(bson_string_t *out, const odata_node_t *n)
{
    static const char *const kinds[] = {"or", "and", "not"};
    switch (n->kind) {
    case ODATA_OR:
    case ODATA_AND: {
        /* Flattened: (and a b c) for a and b and c, however grouped. */
        bson_string_append_printf(out, "(%s", kinds[n->kind]);
        const odata_node_t *stack[ODATA_MAX_TERMS * 4 + 8];
        size_t top = 0;
        stack[top++] = n;
        /* Walk the same-kind subtree left to right. */
        const odata_node_t *order[ODATA_MAX_TERMS * 4 + 8];
        size_t count = 0;
        while (top > 0) {
            const odata_node_t *x = stack[--top];
            if (x->kind == n->kind) {
                for (size_t i = x->n; i > 0; i--)
                    if (top < sizeof(stack) / sizeof(stack[0]))
                        stack[top++] = x->a[i - 1];
            } else if (count < sizeof(order) / sizeof(order[0])) {
                order[count++] = x;
            }
        }
        for (size_t i = 0; i < count; i++) {
            bson_string_append_c(out, ' ');
            sexpr(out, order[i]);
        }
        bson_string_append_c(out, ')');
        break;
    }
    case ODATA_NOT:
        bson_string_append(out, "(not ");
        sexpr(out, n->a[0]);
        bson_string_append_c(out, ')');
        break;
    case ODATA_CMP:
        bson_string_append_printf(out, "(%s ", cmp_names[n->op]);
        sexpr(out, n->a[0]);
        bson_string_append_c(out, ' ');
        sexpr(out, n->a[1]);
        bson_string_append_c(out, ')');
        break;
    case ODATA_IN:
        bson_string_append(out, "(in ");
        sexpr(out, n->a[0]);
        bson_string_append(out, " (");
        for (size_t i = 1; i < n->n; i++) {
            if (i > 1)
                bson_string_append_c(out, ' ');
            sexpr(out, n->a[i]);
        }
        bson_string_append(out, "))");
        break;
    case ODATA_CALL:
        bson_string_append_printf(out, "(%s", n->text);
        for (size_t i = 0; i < n->n; i++) {
            bson_string_append_c(out, ' ');
            sexpr(out, n->a[i]);
        }
        bson_string_append_c(out, ')');
        break;
    case ODATA_NAME:
        bson_string_append(out, n->text);
        break;
    case ODATA_LIT:
        sexpr_lit(out, n);
        break;
    }
}

char *
odata_sexpr(const odata_node_t *node)
{
    bson_string_t *out = bson_string_new(NULL);
    sexpr(out, node);
    return bson_string_free(out, false);
}

/* --- the compiler ---------------------------------------------------------------- */

static bool cfail(odata_error_t *err, const odata_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool
cfail(odata_error_t *err, const odata_node_t *at, const char *fmt, ...)
{
    err->pos = at != NULL ? at->pos : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return false;
}

static const odata_field_t *
find_field(const odata_resource_t *res, const char *name, unsigned use)
{
    for (size_t i = 0; i < res->count; i++)
        if (strcmp(res->fields[i].name, name) == 0 && (res->fields[i].use & use))
            return &res->fields[i];
    return NULL;
}

/* "price, listing_type, …": the fields usable for `use`, for a message. */
static void
field_names(const odata_resource_t *res, unsigned use, char *out, size_t len)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < res->count && at < len; i++)
        if (res->fields[i].use & use)
            at += (size_t)snprintf(out + at, len - at, "%s%s", at ? ", " : "", res->fields[i].name);
}

static bool
unknown_field(const odata_resource_t *res, const odata_node_t *n, unsigned use, odata_error_t *err)
{
    char names[160];
    field_names(res, use, names, sizeof(names));
    return cfail(err, n, "'%.64s' is not a field that can be %s here; the fields are: %s", n->text,
                 use == ODATA_ORDER    ? "ordered by"
                 : use == ODATA_SELECT ? "selected"
                                       : "filtered on",
                 names);
}

static const char *
lit_type_name(const odata_node_t *n)
{
    static const char *const names[] = {"null",     "a boolean", "an integer", "a decimal number",
                                        "a string", "a date",    "a date-time"};
    return names[n->lit];
}

static const char *
field_type_name(const odata_field_t *f)
{
    static const char *const names[] = {"an integer", "a number", "a string", "a time", "a key ('12')"};
    return names[f->type];
}

/* Appends the literal `v` as field `f`'s value under `key`, checked. */
static bool
append_value(bson_t *out, const char *key, const odata_field_t *f, const odata_node_t *v, bool ordering,
             odata_error_t *err)
{
    if (v->kind != ODATA_LIT)
        return cfail(err, v, "%s is compared with a literal only (a number, 'text', a date, null)", f->name);
    if (v->lit == ODATA_LIT_NULL) {
        if (ordering)
            return cfail(err, v, "null can only be compared with eq or ne");
        return BSON_APPEND_NULL(out, key);
    }
    bool ok = false;
    switch (f->type) {
    case ODATA_INT:
    case ODATA_NUMBER:
        if (v->lit == ODATA_LIT_INT)
            ok = BSON_APPEND_INT64(out, key, v->i);
        else if (v->lit == ODATA_LIT_DOUBLE)
            ok = BSON_APPEND_DOUBLE(out, key, v->d);
        break;
    case ODATA_STRING:
        if (v->lit == ODATA_LIT_STRING) {
            if (f->values != NULL && !ordering) {
                bool known = false;
                for (const char *const *s = f->values; *s; s++)
                    known = known || strcmp(*s, v->text) == 0;
                if (!known) {
                    char list[160];
                    size_t at = 0;
                    for (const char *const *s = f->values; *s && at < sizeof(list); s++)
                        at += (size_t)snprintf(list + at, sizeof(list) - at, "%s'%s'", at ? ", " : "", *s);
                    return cfail(err, v, "%s is one of %s", f->name, list);
                }
            }
            ok = BSON_APPEND_UTF8(out, key, v->text);
        }
        break;
    case ODATA_TIME:
        if (v->lit == ODATA_LIT_INT || v->lit == ODATA_LIT_DATE || v->lit == ODATA_LIT_DATETIME)
            ok = BSON_APPEND_INT64(out, key, v->i);
        break;
    case ODATA_KEY:
        if (v->lit == ODATA_LIT_STRING) {
            size_t n = strlen(v->text);
            if (n == 0 || n > 18 || strspn(v->text, "0123456789") != n)
                return cfail(err, v, "%s is a key: a string of digits, as '12'", f->name);
            ok = BSON_APPEND_INT64(out, key, strtoll(v->text, NULL, 10));
        }
        break;
    }
    if (!ok)
        return cfail(err, v, "%s is %s, and %s is %s", f->name, field_type_name(f),
                     v->lit == ODATA_LIT_STRING ? "the value" : "the value", lit_type_name(v));
    return true;
}

/* A field operand: a name, or tolower/toupper of one (*fold set). */
static const odata_field_t *
field_operand(const odata_resource_t *res, const odata_node_t *n, int *fold, odata_error_t *err)
{
    *fold = 0;
    if (n->kind == ODATA_CALL && (strcmp(n->text, "tolower") == 0 || strcmp(n->text, "toupper") == 0)) {
        if (n->n != 1) {
            cfail(err, n, "%s takes one argument", n->text);
            return NULL;
        }
        *fold = n->text[2] == 'l' ? 1 : 2;
        n = n->a[0];
        if (n->kind != ODATA_NAME) {
            cfail(err, n, "tolower and toupper take a field");
            return NULL;
        }
    }
    if (n->kind != ODATA_NAME)
        return NULL;
    const odata_field_t *f = find_field(res, n->text, ODATA_FILTER);
    if (f == NULL) {
        unknown_field(res, n, ODATA_FILTER, err);
        return NULL;
    }
    if (*fold && f->constant != NULL) {
        cfail(err, n, "%s is compared with eq, ne or in only", f->name);
        return NULL;
    }
    if (*fold && f->type != ODATA_STRING) {
        cfail(err, n, "%s is %s: tolower and toupper take a string field", f->name, field_type_name(f));
        return NULL;
    }
    return f;
}

/* `text` with every regular-expression metacharacter escaped. */
static void
regex_escape(bson_string_t *out, const char *text)
{
    for (const char *c = text; *c; c++) {
        if (strchr("\\^$.|?*+()[]{}", *c) != NULL)
            bson_string_append_c(out, '\\');
        bson_string_append_c(out, *c);
    }
}

/* Whether `text` is already in the case `fold` asks (1 lower, 2 upper), in ASCII. */
static bool
folded(const char *text, int fold)
{
    for (const char *c = text; *c; c++)
        if ((fold == 1 && isupper((unsigned char)*c)) || (fold == 2 && islower((unsigned char)*c)))
            return false;
    return true;
}

/* A condition every entity meets (a field's constant value matched). */
static void
append_always(bson_t *out)
{
    bson_t cond;
    BSON_APPEND_DOCUMENT_BEGIN(out, "_id", &cond);
    BSON_APPEND_BOOL(&cond, "$exists", true);
    bson_append_document_end(out, &cond);
}

static void
append_never(bson_t *out)
{
    bson_t cond, in;
    BSON_APPEND_DOCUMENT_BEGIN(out, "_id", &cond);
    BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &in);
    bson_append_array_end(&cond, &in);
    bson_append_document_end(out, &cond);
}

/* {path: {$regex: prefix + escaped + suffix, $options: i?}} (negated with $not). */
static void
append_regex(bson_t *out, const odata_field_t *f, const char *prefix, const char *text, const char *suffix, int fold,
             bool negate)
{
    bson_string_t *re = bson_string_new(prefix);
    regex_escape(re, text);
    bson_string_append(re, suffix);
    bson_t cond, inner;
    BSON_APPEND_DOCUMENT_BEGIN(out, f->path, &cond);
    if (negate) {
        BSON_APPEND_DOCUMENT_BEGIN(&cond, "$not", &inner);
        BSON_APPEND_UTF8(&inner, "$regex", re->str);
        BSON_APPEND_UTF8(&inner, "$options", fold ? "i" : "");
        bson_append_document_end(&cond, &inner);
    } else {
        BSON_APPEND_UTF8(&cond, "$regex", re->str);
        BSON_APPEND_UTF8(&cond, "$options", fold ? "i" : "");
    }
    bson_append_document_end(out, &cond);
    bson_string_free(re, true);
}

static bool compile_bool(const odata_resource_t *res, const odata_node_t *n, bson_t *out, odata_error_t *err);

static bool
compile_cmp(const odata_resource_t *res, const odata_node_t *n, bson_t *out, odata_error_t *err)
{
    static const char *const mongo_ops[] = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"};
    static const odata_op_t mirrored[] = {ODATA_EQ, ODATA_NE, ODATA_LT, ODATA_LE, ODATA_GT, ODATA_GE};
    const odata_node_t *left = n->a[0], *right = n->a[1];
    odata_op_t op = n->op;
    int fold;
    if (left->kind == ODATA_LIT && right->kind != ODATA_LIT) { /* 5 lt price is price gt 5 */
        const odata_node_t *t = left;
        left = right;
        right = t;
        op = mirrored[op];
    }
    const odata_field_t *f = field_operand(res, left, &fold, err);
    if (f == NULL) {
        if (err->message[0] == '\0')
            cfail(err, left, "a comparison needs a field on one side and a literal on the other");
        return false;
    }
    if (right->kind != ODATA_LIT)
        return cfail(err, right,
                     "%s is compared with a literal only (a number, 'text', a date, null), not with a "
                     "field or an expression",
                     f->name);
    if (fold) {
        if (op != ODATA_EQ && op != ODATA_NE)
            return cfail(err, n, "tolower and toupper are compared with eq or ne only");
        if (right->lit != ODATA_LIT_STRING)
            return cfail(err, right, "%s(%s) is a string, and the value is %s", left->text, f->name,
                         lit_type_name(right));
        if (!folded(right->text, fold)) { /* tolower(x) eq 'Paris' never holds */
            if (op == ODATA_EQ)
                append_never(out);
            return true;
        }
        append_regex(out, f, "^", right->text, "$", fold, op == ODATA_NE);
        return true;
    }
    if (f->constant != NULL) { /* the same for every entity: decided here */
        bson_t probe = BSON_INITIALIZER;
        bool ok = append_value(&probe, "v", f, right, op != ODATA_EQ && op != ODATA_NE, err);
        bson_destroy(&probe);
        if (!ok)
            return false;
        if (op != ODATA_EQ && op != ODATA_NE)
            return cfail(err, n, "%s is compared with eq or ne only", f->name);
        bool same = right->lit == ODATA_LIT_STRING && strcmp(right->text, f->constant) == 0;
        if (same == (op == ODATA_EQ))
            append_always(out);
        else
            append_never(out);
        return true;
    }
    bson_t cond;
    BSON_APPEND_DOCUMENT_BEGIN(out, f->path, &cond);
    bool ok = append_value(&cond, mongo_ops[op], f, right, op != ODATA_EQ && op != ODATA_NE, err);
    bson_append_document_end(out, &cond);
    return ok;
}

static bool
compile_in(const odata_resource_t *res, const odata_node_t *n, bson_t *out, odata_error_t *err)
{
    int fold;
    const odata_field_t *f = field_operand(res, n->a[0], &fold, err);
    if (f == NULL) {
        if (err->message[0] == '\0')
            cfail(err, n->a[0], "in takes a field on its left");
        return false;
    }
    if (fold)
        return cfail(err, n->a[0], "in takes a plain field, not tolower or toupper");
    if (f->constant != NULL) {
        bool hit = false;
        for (size_t i = 1; i < n->n; i++) {
            bson_t probe = BSON_INITIALIZER;
            bool ok = append_value(&probe, "v", f, n->a[i], false, err);
            bson_destroy(&probe);
            if (!ok)
                return false;
            hit = hit || (n->a[i]->lit == ODATA_LIT_STRING && strcmp(n->a[i]->text, f->constant) == 0);
        }
        if (hit)
            append_always(out);
        else
            append_never(out);
        return true;
    }
    bson_t cond, list;
    bool ok = true;
    BSON_APPEND_DOCUMENT_BEGIN(out, f->path, &cond);
    BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &list);
    for (size_t i = 1; i < n->n && ok; i++) {
        char key[24];
        snprintf(key, sizeof(key), "%zu", i - 1);
        ok = append_value(&list, key, f, n->a[i], false, err);
    }
    bson_append_array_end(&cond, &list);
    bson_append_document_end(out, &cond);
    return ok;
}

static bool
compile_call(const odata_resource_t *res, const odata_node_t *n, bson_t *out, odata_error_t *err)
{
    bool contains = strcmp(n->text, "contains") == 0, starts = strcmp(n->text, "startswith") == 0,
         ends = strcmp(n->text, "endswith") == 0;
    if (!contains && !starts && !ends) {
        if (strcmp(n->text, "tolower") == 0 || strcmp(n->text, "toupper") == 0)
            return cfail(err, n, "%s gives a string, not a condition: compare it, as in %s(city) eq 'paris'", n->text,
                         n->text);
        return cfail(err, n,
                     "unknown function '%.64s': the functions are contains, startswith, endswith, tolower and toupper",
                     n->text);
    }
    if (n->n != 2)
        return cfail(err, n, "%s takes two arguments: a string field and a 'string'", n->text);
    int fold;
    const odata_field_t *f = field_operand(res, n->a[0], &fold, err);
    if (f == NULL) {
        if (err->message[0] == '\0')
            cfail(err, n->a[0], "the first argument of %s is a string field", n->text);
        return false;
    }
    if (f->type != ODATA_STRING)
        return cfail(err, n->a[0], "%s is %s: %s takes a string field", f->name, field_type_name(f), n->text);
    if (f->constant != NULL)
        return cfail(err, n->a[0], "%s is compared with eq, ne or in only", f->name);
    const odata_node_t *v = n->a[1];
    if (v->kind != ODATA_LIT || v->lit != ODATA_LIT_STRING)
        return cfail(err, v, "the second argument of %s is a 'string'", n->text);
    if (fold && !folded(v->text, fold)) {
        append_never(out);
        return true;
    }
    append_regex(out, f, starts ? "^" : "", v->text, ends ? "$" : "", fold, false);
    return true;
}

/* Appends {$and|$or: [each operand]} for an and/or subtree, flattened. */
static bool
compile_junction(const odata_resource_t *res, const odata_node_t *n, bson_t *list, uint32_t *count, odata_error_t *err)
{
    for (size_t i = 0; i < n->n; i++) {
        const odata_node_t *x = n->a[i];
        if (x->kind == n->kind) {
            if (!compile_junction(res, x, list, count, err))
                return false;
            continue;
        }
        char key[16];
        bson_t item;
        snprintf(key, sizeof(key), "%u", (*count)++);
        BSON_APPEND_DOCUMENT_BEGIN(list, key, &item);
        bool ok = compile_bool(res, x, &item, err);
        bson_append_document_end(list, &item);
        if (!ok)
            return false;
    }
    return true;
}

/* Appends the conditions of the boolean expression `n` to `out`. */
static bool
compile_bool(const odata_resource_t *res, const odata_node_t *n, bson_t *out, odata_error_t *err)
{
    switch (n->kind) {
    case ODATA_OR:
    case ODATA_AND: {
        bson_t list;
        uint32_t count = 0;
        BSON_APPEND_ARRAY_BEGIN(out, n->kind == ODATA_OR ? "$or" : "$and", &list);
        bool ok = compile_junction(res, n, &list, &count, err);
        bson_append_array_end(out, &list);
        return ok;
    }
    case ODATA_NOT: {
        bson_t list, item;
        BSON_APPEND_ARRAY_BEGIN(out, "$nor", &list);
        BSON_APPEND_DOCUMENT_BEGIN(&list, "0", &item);
        bool ok = compile_bool(res, n->a[0], &item, err);
        bson_append_document_end(&list, &item);
        bson_append_array_end(out, &list);
        return ok;
    }
    case ODATA_CMP:
        return compile_cmp(res, n, out, err);
    case ODATA_IN:
        return compile_in(res, n, out, err);
    case ODATA_CALL:
        return compile_call(res, n, out, err);
    case ODATA_LIT:
        if (n->lit == ODATA_LIT_BOOL) {
            if (!n->i)
                append_never(out);
            return true;
        }
        return cfail(err, n, "%s is not a condition", lit_type_name(n));
    case ODATA_NAME:
        if (find_field(res, n->text, ODATA_FILTER) == NULL)
            return unknown_field(res, n, ODATA_FILTER, err);
        return cfail(err, n, "%s is not a condition by itself: compare it, as in %s eq …", n->text, n->text);
    }
    return cfail(err, n, "not a condition");
}

bool
odata_compile(const odata_resource_t *res, const odata_node_t *node, bson_t *out, odata_error_t *err)
{
    bson_t list, item;
    memset(err, 0, sizeof(*err));
    BSON_APPEND_ARRAY_BEGIN(out, "$and", &list);
    BSON_APPEND_DOCUMENT_BEGIN(&list, "0", &item);
    bool ok = compile_bool(res, node, &item, err);
    bson_append_document_end(&list, &item);
    bson_append_array_end(out, &list);
    return ok;
}

/* --- printing back, and splitting off the joined resource's part ------------- */

static void print_node(bson_string_t *out, const odata_resource_t *res, const odata_node_t *n);

static void
print_junction(bson_string_t *out, const odata_resource_t *res, const odata_node_t *n, odata_kind_t kind)
{
    for (size_t i = 0; i < n->n; i++) {
        if (i > 0)
            bson_string_append(out, kind == ODATA_OR ? " or " : " and ");
        if (n->a[i]->kind == kind)
            print_junction(out, res, n->a[i], kind);
        else
            print_node(out, res, n->a[i]);
    }
}

static void
print_node(bson_string_t *out, const odata_resource_t *res, const odata_node_t *n)
{
    switch (n->kind) {
    case ODATA_OR:
    case ODATA_AND:
        /* One pair of parentheses for a whole chain of the same junction:
         * however long, it nests one level (ODATA_MAX_DEPTH). */
        bson_string_append_c(out, '(');
        print_junction(out, res, n, n->kind);
        bson_string_append_c(out, ')');
        break;
    case ODATA_NOT:
        bson_string_append(out, "not (");
        print_node(out, res, n->a[0]);
        bson_string_append_c(out, ')');
        break;
    case ODATA_CMP:
        print_node(out, res, n->a[0]);
        bson_string_append_printf(out, " %s ", cmp_names[n->op]);
        print_node(out, res, n->a[1]);
        break;
    case ODATA_IN:
        print_node(out, res, n->a[0]);
        bson_string_append(out, " in (");
        for (size_t i = 1; i < n->n; i++) {
            if (i > 1)
                bson_string_append(out, ", ");
            print_node(out, res, n->a[i]);
        }
        bson_string_append_c(out, ')');
        break;
    case ODATA_CALL:
        bson_string_append_printf(out, "%s(", n->text);
        for (size_t i = 0; i < n->n; i++) {
            if (i > 0)
                bson_string_append(out, ", ");
            print_node(out, res, n->a[i]);
        }
        bson_string_append_c(out, ')');
        break;
    case ODATA_NAME: {
        const odata_field_t *f = find_field(res, n->text, ODATA_FILTER);
        bson_string_append(out, f != NULL && (f->use & ODATA_JOINED) ? f->path : n->text);
        break;
    }
    case ODATA_LIT:
        if (n->lit == ODATA_LIT_DATE || n->lit == ODATA_LIT_DATETIME) {
            /* The canonical form without its "date:" / "datetime:" tag is OData's. */
            bson_string_t *tmp = bson_string_new(NULL);
            sexpr_lit(tmp, n);
            bson_string_append(out, strchr(tmp->str, ':') + 1);
            bson_string_free(tmp, true);
        } else {
            sexpr_lit(out, n);
        }
        break;
    }
}

char *
odata_print(const odata_resource_t *res, const odata_node_t *node)
{
    bson_string_t *out = bson_string_new(NULL);
    print_node(out, res, node);
    return bson_string_free(out, false);
}

/* Which sides' fields `n` names: local (bit 1), joined (bit 2). */
static unsigned
node_sides(const odata_resource_t *res, const odata_node_t *n, const char **joined_name)
{
    unsigned sides = 0;
    if (n->kind == ODATA_NAME) {
        const odata_field_t *f = find_field(res, n->text, ODATA_FILTER);
        if (f != NULL && (f->use & ODATA_JOINED)) {
            *joined_name = f->name;
            return 2;
        }
        return f != NULL ? 1 : 0;
    }
    for (size_t i = 0; i < n->n; i++)
        sides |= node_sides(res, n->a[i], joined_name);
    return sides;
}

/* Moves the top-level and-operands of `n` into `local` and `joined` (and
 * trees, NULL when empty); refuses an operand that mixes both sides. */
static bool
partition(const odata_resource_t *res, odata_node_t *n, odata_node_t **local, odata_node_t **joined, odata_error_t *err)
{
    if (n->kind == ODATA_AND) {
        bool ok = partition(res, n->a[0], local, joined, err) && partition(res, n->a[1], local, joined, err);
        n->a[0] = n->a[1] = NULL;
        n->n = 0;
        odata_free(n);
        return ok;
    }
    const char *name = "";
    unsigned sides = node_sides(res, n, &name);
    if (sides == 3) {
        odata_free(n);
        return cfail(err, NULL,
                     "%s names a field of the property (%s) and one of the listing under or, not or a function: "
                     "combine such conditions with and only",
                     "a condition", name);
    }
    odata_node_t **into = sides == 2 ? joined : local;
    if (*into == NULL) {
        *into = n;
    } else {
        odata_node_t *both = bson_malloc0(sizeof(*both));
        both->kind = ODATA_AND;
        both->pos = (*into)->pos;
        node_add(both, *into);
        node_add(both, n);
        *into = both;
    }
    return true;
}

/* --- the system query options ------------------------------------------------- */

static const char *const unsupported[] = {"$expand",    "$search",     "$format", "$apply",
                                          "$compute",   "$index",      "$levels", "$schemaversion",
                                          "$skiptoken", "$deltatoken", "$id",     NULL};

bool
odata_requested(const bson_t *query)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, query))
        return false;
    while (bson_iter_next(&it))
        if (bson_iter_key(&it)[0] == '$')
            return true;
    return false;
}

/* An option's value as text (the ingress passes strings; a direct caller
 * may pass a number or a boolean). */
static const char *
option_text(const bson_iter_t *it, char *buf, size_t len)
{
    if (BSON_ITER_HOLDS_UTF8(it))
        return bson_iter_utf8(it, NULL);
    if (BSON_ITER_HOLDS_INT(it)) {
        snprintf(buf, len, "%lld", (long long)bson_iter_as_int64(it));
        return buf;
    }
    if (BSON_ITER_HOLDS_BOOL(it))
        return bson_iter_bool(it) ? "true" : "false";
    return NULL;
}

static bool
option_int(const char *text, int64_t max, int64_t *out)
{
    char *end;
    if (text == NULL || *text == '\0' || !is_digit(*text))
        return false;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0 || v > max)
        return false;
    *out = v;
    return true;
}

/* The next comma-separated item of *s, trimmed, into item; false at the end. */
static bool
next_item(const char **s, char *item, size_t len, bool *too_long)
{
    while (**s == ' ')
        (*s)++;
    if (**s == '\0')
        return false;
    const char *comma = strchr(*s, ',');
    size_t n = comma ? (size_t)(comma - *s) : strlen(*s);
    size_t trimmed = n;
    while (trimmed > 0 && (*s)[trimmed - 1] == ' ')
        trimmed--;
    *too_long = trimmed >= len;
    snprintf(item, len, "%.*s", (int)(trimmed < len ? trimmed : len - 1), *s);
    *s += n + (comma != NULL);
    if (comma != NULL && **s == '\0')
        item[0] = '\0', *too_long = false; /* a trailing comma: an empty item */
    return true;
}

static void
select_parse(const odata_resource_t *res, const char *text, odata_query_t *q, field_errors_t *errors)
{
    char item[80];
    bool too_long;
    const char *s = text;
    if (*text == '\0') {
        field_errors_add(errors, "$select", "is empty: expected field names separated by commas");
        return;
    }
    while (next_item(&s, item, sizeof(item), &too_long)) {
        if (strcmp(item, "*") == 0) {
            q->select_count = 0;
            return;
        }
        odata_node_t probe = {.text = item};
        odata_error_t err = {0};
        const odata_field_t *f = item[0] && !too_long ? find_field(res, item, ODATA_SELECT) : NULL;
        if (f == NULL) {
            if (item[0] == '\0')
                field_errors_add(errors, "$select", "has an empty item: expected field names separated by commas");
            else {
                unknown_field(res, &probe, ODATA_SELECT, &err);
                field_errors_add(errors, "$select", "%s", err.message);
            }
            return;
        }
        bool seen = false;
        for (size_t i = 0; i < q->select_count; i++)
            seen = seen || q->select[i] == f;
        if (!seen && q->select_count < ODATA_MAX_SELECT)
            q->select[q->select_count++] = f;
    }
}

static void
orderby_parse(const odata_resource_t *res, const char *text, odata_query_t *q, field_errors_t *errors)
{
    char item[96];
    bool too_long;
    const char *s = text;
    int keys = 0, last_dir = 1;
    bool has_id = false;
    if (*text == '\0') {
        field_errors_add(errors, "$orderby", "is empty: expected fields, each optionally followed by asc or desc");
        return;
    }
    while (next_item(&s, item, sizeof(item), &too_long)) {
        char name[80] = "", dir[8] = "", extra[8] = "";
        int n = sscanf(item, "%79s %7s %7s", name, dir, extra);
        int d = 1;
        if (n >= 2 && strcmp(dir, "desc") == 0)
            d = -1;
        else if (n >= 2 && strcmp(dir, "asc") != 0) {
            field_errors_add(errors, "$orderby", "'%.40s' is followed by '%.7s': expected asc or desc", name, dir);
            return;
        }
        if (n < 1 || n > 2 || too_long) {
            field_errors_add(errors, "$orderby", "'%.60s': expected a field, optionally followed by asc or desc", item);
            return;
        }
        odata_node_t probe = {.text = name};
        odata_error_t err = {0};
        const odata_field_t *f = find_field(res, name, ODATA_ORDER);
        if (f == NULL) {
            unknown_field(res, &probe, ODATA_ORDER, &err);
            field_errors_add(errors, "$orderby", "%s", err.message);
            return;
        }
        if (bson_has_field(&q->sort, f->path)) {
            field_errors_add(errors, "$orderby", "orders by %s twice", f->name);
            return;
        }
        if (++keys > 4) {
            field_errors_add(errors, "$orderby", "orders by more than 4 fields");
            return;
        }
        BSON_APPEND_INT32(&q->sort, f->path, d);
        last_dir = d;
        has_id = has_id || strcmp(f->path, "_id") == 0;
    }
    if (!has_id) /* a total order: pages neither overlap nor skip */
        BSON_APPEND_INT32(&q->sort, "_id", last_dir);
}

bool
odata_query_parse(const odata_resource_t *res, const bson_t *query, const bson_t *default_sort, odata_query_t *out,
                  field_errors_t *errors)
{
    bson_iter_t it;
    uint32_t before = errors->count;
    char buf[32];
    bool ordered = false;
    memset(out, 0, sizeof(*out));
    bson_init(&out->filter);
    bson_init(&out->sort);
    out->top = res->top_default;
    bson_iter_init(&it, query);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (key[0] != '$')
            continue;
        const char *text = option_text(&it, buf, sizeof(buf));
        if (text == NULL) {
            field_errors_add(errors, key, "must be a string");
            continue;
        }
        if (strcmp(key, "$filter") == 0) {
            odata_error_t err;
            odata_node_t *root = odata_parse(text, strlen(text), &err), *local = NULL, *joined = NULL;
            bool ok = root != NULL;
            bool has_joined = false;
            for (size_t i = 0; i < res->count; i++)
                has_joined = has_joined || (res->fields[i].use & ODATA_JOINED);
            if (ok && has_joined) {
                /* Type-check the whole first, then split it. */
                bson_t whole = BSON_INITIALIZER;
                ok = odata_compile(res, root, &whole, &err);
                bson_destroy(&whole);
                if (ok)
                    ok = partition(res, root, &local, &joined, &err);
                else
                    odata_free(root);
                root = NULL;
                if (ok && local != NULL)
                    ok = odata_compile(res, local, &out->filter, &err);
                if (ok && joined != NULL)
                    out->joined = odata_print(res, joined);
            } else if (ok) {
                ok = odata_compile(res, root, &out->filter, &err);
            }
            if (!ok) {
                if (err.pos > 0)
                    field_errors_add(errors, "$filter", "at character %zu: %s", err.pos, err.message);
                else
                    field_errors_add(errors, "$filter", "%s", err.message);
            }
            odata_free(root);
            odata_free(local);
            odata_free(joined);
        } else if (strcmp(key, "$select") == 0) {
            select_parse(res, text, out, errors);
        } else if (strcmp(key, "$orderby") == 0) {
            orderby_parse(res, text, out, errors);
            ordered = true;
        } else if (strcmp(key, "$top") == 0) {
            if (!option_int(text, res->top_max, &out->top))
                field_errors_add(errors, "$top", "must be an integer from 0 to %lld", (long long)res->top_max);
        } else if (strcmp(key, "$skip") == 0) {
            if (!option_int(text, res->skip_max, &out->skip))
                field_errors_add(errors, "$skip", "must be an integer from 0 to %lld", (long long)res->skip_max);
        } else if (strcmp(key, "$count") == 0) {
            if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0)
                field_errors_add(errors, "$count", "must be true or false");
            out->count = strcmp(text, "true") == 0;
        } else {
            bool known = false;
            for (const char *const *u = unsupported; *u; u++)
                known = known || strcmp(*u, key) == 0;
            char name[72];
            snprintf(name, sizeof(name), "%.64s", key);
            if (known)
                field_errors_add(errors, name, "is an OData option Roost does not support (docs/query.md)");
            else
                field_errors_add(errors, name,
                                 "unknown option: the options are $filter, $select, $orderby, $top, $skip and $count");
        }
    }
    if (!ordered) {
        bson_iter_t d;
        int last_dir = 1;
        bool has_id = false;
        if (default_sort != NULL && bson_iter_init(&d, default_sort))
            while (bson_iter_next(&d)) {
                last_dir = (int)bson_iter_as_int64(&d);
                has_id = has_id || strcmp(bson_iter_key(&d), "_id") == 0;
                BSON_APPEND_INT32(&out->sort, bson_iter_key(&d), last_dir);
            }
        if (!has_id)
            BSON_APPEND_INT32(&out->sort, "_id", last_dir);
    }
    return errors->count == before;
}

void
odata_refuse_plain(const bson_t *query, const char *message, field_errors_t *errors)
{
    bson_iter_t it;
    if (bson_iter_init(&it, query))
        while (bson_iter_next(&it))
            if (bson_iter_key(&it)[0] != '$') {
                char name[72];
                snprintf(name, sizeof(name), "%.64s", bson_iter_key(&it));
                field_errors_add(errors, name, "%s", message);
            }
}

void
odata_query_destroy(odata_query_t *q)
{
    bson_destroy(&q->filter);
    bson_destroy(&q->sort);
    bson_free(q->joined);
}

void
odata_select(const odata_resource_t *res, const odata_query_t *q, const bson_t *doc, bson_t *out)
{
    bson_iter_t it;
    bson_init(out);
    bson_iter_init(&it, doc);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        bool keep = q->select_count == 0 || strcmp(key, res->id_name) == 0;
        for (size_t i = 0; i < q->select_count && !keep; i++) {
            const odata_field_t *f = q->select[i];
            keep = strcmp(f->rendered != NULL ? f->rendered : f->name, key) == 0;
        }
        if (keep)
            bson_append_iter(out, key, -1, &it);
    }
}
