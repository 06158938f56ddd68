/*
 * What the OData tests beside this file expect of a filter: its tree, its
 * syntax error, what it compiles to, and what the system query options
 * make of a query.
 */
#ifndef ROOST_TEST_ODATA_EXPECT_H
#define ROOST_TEST_ODATA_EXPECT_H

#include "roost_test.h"

#include "query/odata.h"

#include <stdio.h>

static inline void
expect_tree(const char *text, const char *want)
{
    odata_error_t err;
    odata_node_t *root = odata_parse(text, strlen(text), &err);
    if (root == NULL) {
        print_error("%s: parse error at %zu: %s\n", text, err.pos, err.message);
        fail();
    }
    char *got = odata_sexpr(root);
    if (strcmp(got, want) != 0) {
        print_error("%s:\n  got  %s\n  want %s\n", text, got, want);
        fail();
    }
    bson_free(got);
    odata_free(root);
}

/* A parse error at character `pos` whose message holds `words`. */
static inline void
expect_syntax_error(const char *text, size_t pos, const char *words)
{
    odata_error_t err;
    odata_node_t *root = odata_parse(text, strlen(text), &err);
    if (root != NULL || err.pos != pos || strstr(err.message, words) == NULL) {
        print_error("%s: want an error at %zu with \"%s\", got %s at %zu: %s\n", text, pos, words,
                    root ? "a tree" : "an error", err.pos, err.message);
        fail();
    }
    odata_free(root);
}

/* Compiles on `res`: the filter's JSON holds `json` (or the compile error holds `error_words`). */
static inline void
expect_compiled(const odata_resource_t *res, const char *text, const char *json, const char *error_words)
{
    odata_error_t err;
    odata_node_t *root = odata_parse(text, strlen(text), &err);
    if (root == NULL) {
        print_error("%s: parse error %s\n", text, err.message);
        fail();
    }
    bson_t out = BSON_INITIALIZER;
    bool ok = odata_compile(res, root, &out, &err);
    char *got = bson_as_relaxed_extended_json(&out, NULL);
    if (json != NULL && (!ok || strstr(got, json) == NULL)) {
        print_error("%s:\n  got  %s (%s)\n  want %s\n", text, got, ok ? "ok" : err.message, json);
        fail();
    }
    if (error_words != NULL && (ok || strstr(err.message, error_words) == NULL)) {
        print_error("%s: want an error with \"%s\", got %s\n", text, error_words, ok ? got : err.message);
        fail();
    }
    bson_free(got);
    bson_destroy(&out);
    odata_free(root);
}

static inline void
expect_options(const odata_resource_t *res, const char *json, bool ok, const char *field, const char *words)
{
    bson_t *query = roost_test_doc(json);
    field_errors_t e;
    odata_query_t q;
    bson_t *newest = BCON_NEW("created_at", BCON_INT32(-1));
    field_errors_init(&e);
    bool got = odata_query_parse(res, query, newest, &q, &e);
    if (got != ok) {
        char *list = bson_as_relaxed_extended_json(&e.list, NULL);
        print_error("%s: expected %s, got %s\n", json, ok ? "valid" : "invalid", list);
        bson_free(list);
        fail();
    }
    if (field != NULL) {
        ASSERT_ERROR_FIELD(&e.list, field);
        char *list = bson_as_relaxed_extended_json(&e.list, NULL);
        if (strstr(list, words) == NULL) {
            print_error("%s: want \"%s\" in %s\n", json, words, list);
            fail();
        }
        bson_free(list);
    }
    odata_query_destroy(&q);
    field_errors_destroy(&e);
    bson_destroy(newest);
    bson_destroy(query);
}

#endif
