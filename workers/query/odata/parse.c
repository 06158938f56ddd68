/* The $filter parser: recursive descent over the tokens into a tree, with
 * OData's precedence and Roost's limits on length, depth and terms. */
#include "query/odata/internal.h"

#include <stdio.h>
#include <string.h>

static odata_node_t *
node_new(parser_t *p, odata_kind_t kind, size_t at)
{
    odata_node_t *n = bson_malloc0(sizeof(*n));
    n->kind = kind;
    n->pos = odata_char_pos(p->s, at);
    return n;
}

void
odata_node_add(odata_node_t *n, odata_node_t *child)
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
        odata_fail_at(p, at, "more than %d conditions in one filter", ODATA_MAX_TERMS);
        return false;
    }
    return true;
}

static bool
enter(parser_t *p, size_t at)
{
    if (++p->depth > ODATA_MAX_DEPTH) {
        odata_fail_at(p, at, "nested more than %d deep", ODATA_MAX_DEPTH);
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
    case T_GEOGRAPHY:
        n->lit = p->tok.kind == T_STRING ? ODATA_LIT_STRING : ODATA_LIT_GEOGRAPHY;
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
        if (odata_tok_is(p, "true") || odata_tok_is(p, "false")) {
            n->lit = ODATA_LIT_BOOL;
            n->i = odata_tok_is(p, "true");
            break;
        }
        if (odata_tok_is(p, "null")) {
            n->lit = ODATA_LIT_NULL;
            break;
        }
        /* fall through */
    default:
        odata_free(n);
        return NULL;
    }
    odata_lex(p);
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
        odata_lex(p);
        odata_node_t *inner = parse_or(p);
        if (inner == NULL)
            return NULL;
        if (p->tok.kind != T_RPAREN) {
            odata_tok_describe(p, found, sizeof(found));
            odata_fail_at(p, p->tok.start, "expected ')' to close the '(' at character %zu, found %s",
                          odata_char_pos(p->s, at), found);
            odata_free(inner);
            return NULL;
        }
        p->depth--;
        odata_lex(p);
        return inner;
    }
    odata_node_t *lit = parse_literal(p);
    if (lit != NULL || p->failed)
        return lit;
    if (p->tok.kind == T_NAME && !odata_is_keyword(p->tok.text)) {
        odata_node_t *n = node_new(p, ODATA_NAME, at);
        n->text = p->tok.text;
        p->tok.text = NULL;
        odata_lex(p);
        if (p->tok.kind != T_LPAREN)
            return n;
        /* A function call: name(arg, ...). */
        n->kind = ODATA_CALL;
        if (!count_term(p, at) || !enter(p, at)) {
            odata_free(n);
            return NULL;
        }
        odata_lex(p);
        if (p->tok.kind != T_RPAREN) {
            for (;;) {
                odata_node_t *arg = parse_or(p);
                if (arg == NULL) {
                    odata_free(n);
                    return NULL;
                }
                odata_node_add(n, arg);
                if (p->tok.kind != T_COMMA)
                    break;
                odata_lex(p);
            }
        }
        if (p->tok.kind != T_RPAREN) {
            odata_tok_describe(p, found, sizeof(found));
            odata_fail_at(p, p->tok.start, "expected ',' or ')' in the arguments of %s, found %s", n->text, found);
            odata_free(n);
            return NULL;
        }
        p->depth--;
        odata_lex(p);
        return n;
    }
    odata_tok_describe(p, found, sizeof(found));
    odata_fail_at(p, at, "expected a field, a literal, a function or '(', found %s", found);
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
    if (odata_tok_is(p, "in")) {
        char found[64];
        odata_node_t *n = node_new(p, ODATA_IN, at);
        odata_node_add(n, left);
        if (!odata_spaced(p, true) || !count_term(p, at)) {
            odata_free(n);
            return NULL;
        }
        odata_lex(p);
        if (p->tok.kind != T_LPAREN) {
            odata_tok_describe(p, found, sizeof(found));
            odata_fail_at(p, p->tok.start, "expected '(' and a list of literals after in, found %s", found);
            odata_free(n);
            return NULL;
        }
        odata_lex(p);
        for (;;) {
            odata_node_t *v = parse_literal(p);
            if (v == NULL) {
                odata_tok_describe(p, found, sizeof(found));
                odata_fail_at(p, p->tok.start, "expected a literal in the list of in, found %s", found);
                odata_free(n);
                return NULL;
            }
            odata_node_add(n, v);
            if (n->n - 1 > ODATA_MAX_IN) {
                odata_fail_at(p, v->pos - 1, "more than %d values in one in list", ODATA_MAX_IN);
                odata_free(n);
                return NULL;
            }
            if (p->tok.kind != T_COMMA)
                break;
            odata_lex(p);
        }
        if (p->tok.kind != T_RPAREN) {
            odata_tok_describe(p, found, sizeof(found));
            odata_fail_at(p, p->tok.start, "expected ',' or ')' in the list of in, found %s", found);
            odata_free(n);
            return NULL;
        }
        odata_lex(p);
        return n;
    }
    return left;
}

static odata_node_t *
parse_unary(parser_t *p)
{
    if (odata_tok_is(p, "not")) {
        size_t at = p->tok.start;
        if (!odata_spaced(p, false) || !enter(p, at))
            return NULL;
        odata_lex(p);
        odata_node_t *operand = parse_unary(p);
        if (operand == NULL)
            return NULL;
        p->depth--;
        odata_node_t *n = node_new(p, ODATA_NOT, at);
        odata_node_add(n, operand);
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
        if (!odata_tok_is(p, odata_cmp_names[op]))
            continue;
        if (!odata_spaced(p, true) || !count_term(p, at)) {
            odata_free(left);
            return NULL;
        }
        odata_lex(p);
        odata_node_t *right = parse_unary(p);
        if (right == NULL) {
            odata_free(left);
            return NULL;
        }
        odata_node_t *n = node_new(p, ODATA_CMP, at);
        n->op = (odata_op_t)op;
        odata_node_add(n, left);
        odata_node_add(n, right);
        return n;
    }
    return left;
}

static odata_node_t *
parse_binary(parser_t *p, const char *word, odata_kind_t kind, odata_node_t *(*operand)(parser_t *))
{
    odata_node_t *left = operand(p);
    while (left != NULL && odata_tok_is(p, word)) {
        size_t at = p->tok.start;
        if (!odata_spaced(p, true)) {
            odata_free(left);
            return NULL;
        }
        if (++p->junctions > 2 * ODATA_MAX_TERMS) {
            odata_fail_at(p, at, "more than %d and/or in one filter", 2 * ODATA_MAX_TERMS);
            odata_free(left);
            return NULL;
        }
        odata_lex(p);
        odata_node_t *right = operand(p);
        if (right == NULL) {
            odata_free(left);
            return NULL;
        }
        odata_node_t *n = node_new(p, kind, at);
        odata_node_add(n, left);
        odata_node_add(n, right);
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
    return odata_parse_max(text, len, ODATA_MAX_LENGTH, err);
}

odata_node_t *
odata_parse_max(const char *text, size_t len, size_t max, odata_error_t *err)
{
    parser_t p = {.s = text, .len = len, .err = err};
    memset(err, 0, sizeof(*err));
    if (memchr(text, '\0', len) != NULL || !bson_utf8_validate(text, len, false)) {
        snprintf(err->message, sizeof(err->message), "not valid UTF-8 text, or it holds a NUL");
        return NULL;
    }
    if (len > 4 * max || odata_char_pos(text, len) - 1 > max) { /* characters, not bytes */
        err->pos = 0;
        snprintf(err->message, sizeof(err->message), "longer than %zu characters", max);
        return NULL;
    }
    odata_lex(&p);
    if (p.tok.kind == T_END && !p.failed) {
        snprintf(err->message, sizeof(err->message), "empty: expected a condition such as price lt 1000");
        err->pos = 1;
        bson_free(p.tok.text);
        return NULL;
    }
    odata_node_t *root = parse_or(&p);
    if (root != NULL && !p.failed && p.tok.kind != T_END) {
        char found[64];
        odata_tok_describe(&p, found, sizeof(found));
        odata_fail_at(&p, p.tok.start, "expected and, or, a comparison or the end, found %s", found);
    }
    bson_free(p.tok.text);
    if (p.failed) {
        odata_free(root);
        return NULL;
    }
    return root;
}
