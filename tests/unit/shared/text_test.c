/* Unicode keys, character counts and excerpts (shared/text.h). */
#include "roost_test.h"

#include "text.h"

#include <stdlib.h>

static void
key_equal(const char *a, const char *b, bool equal)
{
    char *ka = text_key(a, strlen(a)), *kb = text_key(b, strlen(b));
    assert_non_null(ka);
    assert_non_null(kb);
    if ((strcmp(ka, kb) == 0) != equal) {
        print_error("text_key(%s) = %s, text_key(%s) = %s: expected %s\n", a, ka, b, kb, equal ? "equal" : "different");
        fail();
    }
    free(ka);
    free(kb);
}

static void
text_keys_fold_case_and_normalise(void **state)
{
    key_equal("Paris", "PARIS", true);
    key_equal("Z\xc3\xbcrich-\xc3\x89tage", "Z\xc3\x9cRICH-\xc3\x89TAGE", true);   /* Zürich-Étage, ZÜRICH-ÉTAGE */
    key_equal("Z\xc3\xbcrich-\xc3\x89tage", "z\xc3\xbcrich-\xc3\xa9tage", true);   /* zürich-étage */
    key_equal("Z\xc3\xbcrich-\xc3\x89tage", "Zu\xcc\x88rich-E\xcc\x81tage", true); /* NFD: u + U+0308 */
    key_equal("Stra\xc3\x9f"
              "e",
              "STRASSE", true); /* full folding: ß -> ss */
    key_equal("\xce\xa3\xce\x99\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3",
              "\xcf\x83\xce\xb9\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82", true); /* ΣΙΣΥΦΟΣ, σισυφος */
    key_equal("Lyon", "Lyons", false);
    key_equal("\xc3\xa9", "e", false); /* case-insensitive is not accent-insensitive */
}

static void
text_keys_are_never_cut(void **state)
{
    /* 100 x U+20AC is 300 bytes: its key is all of it, never a prefix. */
    char euros[301], mixed[301];
    for (int i = 0; i < 100; i++)
        memcpy(euros + 3 * i, "\xe2\x82\xac", 3);
    euros[300] = '\0';
    memcpy(mixed, euros, 255);
    memset(mixed + 255, 'x', 45);
    mixed[300] = '\0';
    char *a = text_key(euros, 300), *b = text_key(mixed, 300);
    assert_int_equal(strlen(a), 300);
    assert_string_not_equal(a, b);
    free(a);
    free(b);
    assert_null(text_key("\xff", 1)); /* not UTF-8: no key */
}

static void
text_counts_characters_in_nfc(void **state)
{
    assert_int_equal(text_chars("caf\xc3\xa9", 5), 4);
    assert_int_equal(text_chars("cafe\xcc\x81", 6), 4); /* e + combining acute is one character */
    assert_int_equal(text_chars("", 0), 0);
    assert_int_equal(text_chars("\xc3", 1), -1);
}

static void
text_excerpts_cut_between_characters(void **state)
{
    char *e = text_excerpt("\xc3\xa9\xc3\xa9\xc3\xa9", 2);
    assert_string_equal(e, "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
    free(e);
    e = text_excerpt("short", 10);
    assert_string_equal(e, "short");
    free(e);

    char small[8];
    text_copy(small, sizeof(small), "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"); /* 8 bytes do not fit in 8 with the NUL */
    assert_string_equal(small, "\xc3\xa9\xc3\xa9\xe2\x80\xa6");
    text_copy(small, sizeof(small), "fits");
    assert_string_equal(small, "fits");

    char *v = text_valid("a\xff"
                         "b\xc3");
    assert_string_equal(v, "a\xef\xbf\xbd"
                           "b\xef\xbf\xbd");
    free(v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_keys_fold_case_and_normalise),
        cmocka_unit_test(text_keys_are_never_cut),
        cmocka_unit_test(text_counts_characters_in_nfc),
        cmocka_unit_test(text_excerpts_cut_between_characters),
    };
    return cmocka_run_group_tests_name("/shared/text", tests, NULL, NULL);
}
