/*
 * Helpers shared by Roost's cmocka unit tests: a test runs by its path
 * name, and two assertions cover what most tests check — the status of a
 * reply envelope, and that a list of field errors names a field.
 */
#ifndef ROOST_TEST_H
#define ROOST_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <bson/bson.h>
#include <string.h>

/* The integer "status" of a reply envelope. */
#define ASSERT_STATUS(reply, expected)                                                                                 \
    do {                                                                                                               \
        bson_iter_t status_it_;                                                                                        \
        assert_true(bson_iter_init_find(&status_it_, (reply), "status"));                                              \
        assert_int_equal(bson_iter_as_int64(&status_it_), (expected));                                                 \
    } while (0)

/* A BSON array of {field, message} holds an entry for `name`. */
static inline int
roost_test_has_field(const bson_t *list, const char *name)
{
    bson_iter_t it, f;
    if (!bson_iter_init(&it, list))
        return 0;
    while (bson_iter_next(&it))
        if (bson_iter_recurse(&it, &f) && bson_iter_find(&f, "field") && strcmp(bson_iter_utf8(&f, NULL), name) == 0)
            return 1;
    return 0;
}

#define ASSERT_ERROR_FIELD(list, name)                                                                                 \
    do {                                                                                                               \
        if (!roost_test_has_field((list), (name))) {                                                                   \
            char *json_ = bson_as_relaxed_extended_json((list), NULL);                                                 \
            print_error("no error for field '%s' in %s\n", (name), json_);                                             \
            bson_free(json_);                                                                                          \
            fail();                                                                                                    \
        }                                                                                                              \
    } while (0)

/* A document from JSON text, for test inputs. */
static inline bson_t *
roost_test_doc(const char *json)
{
    bson_error_t error;
    bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, &error);
    if (doc == NULL) {
        print_error("bad test JSON %s: %s\n", json, error.message);
        fail();
    }
    return doc;
}

#endif
