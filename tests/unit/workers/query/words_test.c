/* Keyword search (query/words.h): the words a property keeps, folded, and the filter q writes or the error it gives. */
#include "roost_test.h"

#include "query/words.h"
#include "text.h"

#include <stdlib.h>
#include <string.h>

/* The words of `s` joined by '|'. */
static void
words_of(const char *s, char *out, size_t size)
{
    char *w = text_words(s, strlen(s));
    assert_non_null(w);
    out[0] = '\0';
    for (const char *p = w; *p; p += strlen(p) + 1) {
        if (out[0] != '\0')
            strncat(out, "|", size - strlen(out) - 1);
        strncat(out, p, size - strlen(out) - 1);
    }
    free(w);
}

static void
words_fold_case_accents_and_eszett(void **state)
{
    char out[256];
    words_of("Terrasse, VUE mer!", out, sizeof(out));
    assert_string_equal(out, "terrasse|vue|mer");
    words_of("Été à l'Hôtel-Dieu", out, sizeof(out));
    assert_string_equal(out, "ete|a|l|hotel|dieu");
    words_of("Große Straße", out, sizeof(out));
    assert_string_equal(out, "grosse|strasse");
    words_of("e\xcc\x81t\xc3\xa9 3 pièces 42m\xc2\xb2", out, sizeof(out)); /* "é" decomposed; m² */
    assert_string_equal(out, "ete|3|pieces|42m2");
    words_of("  ---  ", out, sizeof(out));
    assert_string_equal(out, "");
    assert_null(text_words("\xff", 1));
}

static void
words_keeps_each_word_once(void **state)
{
    bson_t *src = roost_test_doc("{\"name\": \"Vue mer\", \"description\": \"Belle VUE, calme\", \"address\": \"1 rue "
                                 "de la Mer\", \"city\": \"Sète\", \"type\": \"apartment\"}");
    bson_t doc = BSON_INITIALIZER;
    words_append(&doc, "words", src);
    char *json = bson_as_relaxed_extended_json(&doc, NULL);
    assert_string_equal(json, "{ \"words\" : [ \"vue\", \"mer\", \"belle\", \"calme\", \"1\", \"rue\", \"de\", \"la\", "
                              "\"sete\" ] }");
    bson_free(json);
    bson_destroy(&doc);
    bson_destroy(src);
    /* More words than the set starts with: it grows. */
    bson_string_t *many = bson_string_new("{\"description\": \"");
    for (int i = 0; i < 300; i++)
        bson_string_append_printf(many, "w%d w%d ", i, i / 2);
    bson_string_append(many, "\"}");
    src = roost_test_doc(many->str);
    bson_init(&doc);
    words_append(&doc, "words", src);
    bson_iter_t it, a;
    assert_true(bson_iter_init_find(&it, &doc, "words") && bson_iter_recurse(&it, &a));
    int n = 0;
    while (bson_iter_next(&a))
        n++;
    assert_int_equal(n, 300);
    bson_destroy(&doc);
    bson_destroy(src);
    bson_string_free(many, true);
}

/* Runs words_filter on `json`; returns the errors, the first message in `message`. */
static uint32_t
filter(const char *json, bson_t *out, char *message, size_t size)
{
    bson_t *q = roost_test_doc(json);
    field_errors_t e;
    bson_iter_t it;
    field_errors_init(&e);
    bson_init(out);
    words_filter(q, "q", "property.words", &e, out);
    message[0] = '\0';
    if (e.count > 0 && bson_iter_init(&it, &e.list) && bson_iter_find_descendant(&it, "0.message", &it))
        snprintf(message, size, "%s", bson_iter_utf8(&it, NULL));
    if (e.count > 0 && bson_iter_init(&it, &e.list) && bson_iter_find_descendant(&it, "0.field", &it))
        assert_string_equal(bson_iter_utf8(&it, NULL), "q");
    uint32_t n = e.count;
    field_errors_destroy(&e);
    bson_destroy(q);
    return n;
}

static void
words_filter_ands_the_words(void **state)
{
    bson_t f;
    char message[160];
    assert_int_equal(filter("{\"q\": \"Terrasse  vue terrasse\"}", &f, message, sizeof(message)), 0);
    char *json = bson_as_relaxed_extended_json(&f, NULL);
    assert_string_equal(json, "{ \"$text\" : { \"$search\" : \"terrasse vue\" }, \"property.words\" : { \"$all\" : [ "
                              "\"terrasse\", \"vue\" ] } }");
    bson_free(json);
    bson_destroy(&f);
    assert_int_equal(filter("{}", &f, message, sizeof(message)), 0);
    assert_true(bson_empty(&f));
    bson_destroy(&f);
}

static void
words_filter_refuses_naming_q(void **state)
{
    bson_t f;
    char message[160];
    assert_int_equal(filter("{\"q\": \"\"}", &f, message, sizeof(message)), 1);
    bson_destroy(&f);
    assert_int_equal(filter("{\"q\": \"!!! ---\"}", &f, message, sizeof(message)), 1);
    assert_non_null(strstr(message, "no words"));
    assert_true(bson_empty(&f));
    bson_destroy(&f);
    char big[WORDS_Q_MAX_CHARS + 32];
    snprintf(big, sizeof(big), "{\"q\": \"%0*d\"}", WORDS_Q_MAX_CHARS + 1, 0);
    assert_int_equal(filter(big, &f, message, sizeof(message)), 1);
    bson_destroy(&f);
    snprintf(big, sizeof(big), "{\"q\": \"%0*d\"}", WORDS_Q_MAX_CHARS, 0);
    assert_int_equal(filter(big, &f, message, sizeof(message)), 0);
    bson_destroy(&f);
    assert_int_equal(filter("{\"q\": \"a b c d e f g h i j k l m n o p q r s t u\"}", &f, message, sizeof(message)), 1);
    assert_non_null(strstr(message, "at most 20"));
    bson_destroy(&f);
    assert_int_equal(filter("{\"q\": \"a b c d e f g h i j k l m n o p q r s t a\"}", &f, message, sizeof(message)), 0);
    bson_destroy(&f);
}

static void
words_odata_search_takes_words_phrases_and_and(void **state)
{
    field_errors_t e;
    bson_t f = BSON_INITIALIZER;
    field_errors_init(&e);
    assert_true(words_odata_search("\"Vue mer\" AND (terrasse)", "words", &e, &f));
    char *json = bson_as_relaxed_extended_json(&f, NULL);
    assert_non_null(strstr(json, "\"$search\" : \"vue mer terrasse\""));
    bson_free(json);
    bson_reinit(&f);
    assert_false(words_odata_search("vue OR mer", "words", &e, &f));
    assert_false(words_odata_search("NOT mer", "words", &e, &f));
    assert_false(words_odata_search("AND", "words", &e, &f)); /* no word left */
    assert_true(bson_empty(&f));
    assert_int_equal(e.count, 3);
    assert_true(words_odata_search("and or not", "words", &e, &f)); /* lower case: words */
    field_errors_destroy(&e);
    bson_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(words_fold_case_accents_and_eszett),
        cmocka_unit_test(words_keeps_each_word_once),
        cmocka_unit_test(words_filter_ands_the_words),
        cmocka_unit_test(words_filter_refuses_naming_q),
        cmocka_unit_test(words_odata_search_takes_words_phrases_and_and),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
