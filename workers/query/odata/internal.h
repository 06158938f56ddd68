/*
 * What the parts of the OData module share and nobody else sees: the
 * tokens and the parser's state (lex.c, parse.c), the error helpers, and
 * the field look-ups of the compiler (names.c). The public face is
 * query/odata.h.
 */
#ifndef ROOST_QUERY_ODATA_INTERNAL_H
#define ROOST_QUERY_ODATA_INTERNAL_H

#include "query/odata.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    T_END,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_NAME,
    T_STRING,
    T_INT,
    T_DOUBLE,
    T_DATE,
    T_DATETIME,
    T_GEOGRAPHY, /* geography'…': text holds the WKT */
} tok_kind_t;

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

/* The comparison operators' names, indexed by odata_op_t. */
extern const char *const odata_cmp_names[];

static inline bool
odata_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* --- geo.c: geo.distance and geo.intersects ----------------------------------- */

/* Whether `n` is a call of the function `name`. */
bool odata_is_geo_call(const odata_node_t *n, const char *name);
/* Appends the condition `call` (geo.distance) `op` `value`; false with err set. */
bool odata_compile_geo_distance(const odata_resource_t *res, const odata_node_t *call, odata_op_t op,
                                const odata_node_t *value, bson_t *out, odata_error_t *err);
/* Appends the condition geo.intersects(field, geography'POLYGON(…)'). */
bool odata_compile_geo_intersects(const odata_resource_t *res, const odata_node_t *call, bson_t *out,
                                  odata_error_t *err);
/* An $orderby item "geo.distance(field, geography'POINT(…)')" into q (by_distance). */
bool odata_orderby_geo(const odata_resource_t *res, const char *item, odata_query_t *q, field_errors_t *errors);

/* --- lex.c ---------------------------------------------------------------- */

/* The message of `err`, formatted whole then cut to its buffer between
 * two characters (text_copy): a message quoting client text is always
 * valid UTF-8. */
void odata_message(odata_error_t *err, const char *fmt, va_list ap);

/* 1-based character (code point) position of byte `at`. */
size_t odata_char_pos(const char *s, size_t at);
/* Records the first error only: later ones follow from it. */
void odata_fail_at(parser_t *p, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* How the current token reads in a message: 'text' (at most 24 characters) or "the end". */
void odata_tok_describe(const parser_t *p, char *out, size_t len);
/* Reads the next token into p->tok. */
void odata_lex(parser_t *p);
bool odata_tok_is(const parser_t *p, const char *name);
/* Whether the current token, an operator word, stands between spaces. */
bool odata_spaced(parser_t *p, bool before);
bool odata_is_keyword(const char *name);

/* --- parse.c -------------------------------------------------------------- */

void odata_node_add(odata_node_t *n, odata_node_t *child);

/* --- names.c -------------------------------------------------------------- */

/* Sets `err` (at `at`'s position, 0 without one) and returns false. */
bool odata_cfail(odata_error_t *err, const odata_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const odata_field_t *odata_find_field(const odata_resource_t *res, const char *name, unsigned use);
/* The error for a name not in the whitelist for `use`, listing the fields that are. */
bool odata_unknown_field(const odata_resource_t *res, const odata_node_t *n, unsigned use, odata_error_t *err);
const char *odata_lit_type_name(const odata_node_t *n);
const char *odata_field_type_name(const odata_field_t *f);

/* --- join.c --------------------------------------------------------------- */

/* Moves the top-level and-operands of `n` (consumed) into `local` and
 * `joined` (and trees, NULL when empty); refuses an operand that mixes both sides. */
bool odata_partition(const odata_resource_t *res, odata_node_t *n, odata_node_t **local, odata_node_t **joined,
                     odata_error_t *err);

#endif
