/* A property's words and the filter of a keyword search (words.h). */
#include "words.h"
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const words_fields[] = {"name", "description", "address", "city", NULL};

/* The distinct words of a list, in order: a small open-addressed set of
 * pointers into the caller's text_words buffers. */
typedef struct {
    const char **slots;
    size_t size, count;
} words_set_t;

static bool
words_set_add(words_set_t *set, const char *w)
{
    if (set->count * 2 >= set->size) {
        words_set_t bigger = {calloc(set->size ? set->size * 2 : 64, sizeof(char *)), set->size ? set->size * 2 : 64,
                              0};
        if (bigger.slots == NULL)
            return false;
        for (size_t i = 0; i < set->size; i++)
            if (set->slots[i] != NULL)
                words_set_add(&bigger, set->slots[i]);
        free(set->slots);
        *set = bigger;
    }
    size_t h = 5381;
    for (const char *p = w; *p; p++)
        h = h * 33 + (unsigned char)*p;
    for (size_t i = h % set->size;; i = (i + 1) % set->size) {
        if (set->slots[i] == NULL) {
            set->slots[i] = w;
            set->count++;
            return true;
        }
        if (strcmp(set->slots[i], w) == 0)
            return false;
    }
}

/* Appends each new word of `words` (a text_words list) to `array`. */
static void
words_add_list(words_set_t *set, const char *words, bson_t *array)
{
    for (const char *w = words; *w; w += strlen(w) + 1) {
        if (words_set_add(set, w)) {
            char key[24];
            snprintf(key, sizeof(key), "%zu", set->count - 1);
            BSON_APPEND_UTF8(array, key, w);
        }
    }
}

void
words_append(bson_t *doc, const char *key, const bson_t *src)
{
    char *lists[8] = {NULL};
    words_set_t set = {0};
    bson_t array;
    bson_iter_t it;
    BSON_APPEND_ARRAY_BEGIN(doc, key, &array);
    for (size_t f = 0; words_fields[f] != NULL && f < 8; f++) {
        uint32_t len;
        if (!bson_iter_init_find(&it, src, words_fields[f]) || !BSON_ITER_HOLDS_UTF8(&it))
            continue;
        const char *s = bson_iter_utf8(&it, &len);
        lists[f] = text_words(s, len);
        if (lists[f] != NULL)
            words_add_list(&set, lists[f], &array);
    }
    bson_append_array_end(doc, &array);
    for (size_t f = 0; f < 8; f++)
        free(lists[f]);
    free(set.slots);
}

void
words_check_order(bool searched, bool by_relevance, bool by_distance, int dir, field_errors_t *e)
{
    if (by_relevance && !searched)
        field_errors_add(e, "order_by", "relevance needs q: the words to rank by");
    else if (by_relevance && dir < 0)
        field_errors_add(e, "order_by", "relevance is best first only: order_by=relevance");
    else if (searched && by_distance)
        field_errors_add(e, "order_by",
                         "distance cannot be combined with q: order by relevance (the default with q) or a field, "
                         "and narrow by near and radius_m");
}

bool
words_odata_search(const char *text, const char *path, field_errors_t *e, bson_t *filter)
{
    char *words = bson_strdup(text);
    bool ok = true;
    for (char *p = words; *p; p++)
        if (*p == '"' || *p == '(' || *p == ')')
            *p = ' ';
    /* The operators are upper-case words standing alone. */
    for (char *p = words; ok && *p;) {
        size_t n = strcspn(p, " ");
        if ((n == 2 && strncmp(p, "OR", 2) == 0) || (n == 3 && strncmp(p, "NOT", 3) == 0)) {
            field_errors_add(e, "$search", "%.*s is not supported: every word is required (AND)", (int)n, p);
            ok = false;
        } else if (n == 3 && strncmp(p, "AND", 3) == 0) {
            memset(p, ' ', 3);
        }
        p += n + (p[n] == ' ');
    }
    bson_t *query = BCON_NEW("$search", BCON_UTF8(words));
    ok = ok && words_filter(query, "$search", path, e, filter);
    bson_destroy(query);
    bson_free(words);
    return ok;
}

bool
words_filter(const bson_t *query, const char *param, const char *path, field_errors_t *e, bson_t *filter)
{
    bson_iter_t it;
    const char *q;
    if (!bson_iter_init_find(&it, query, param))
        return false;
    if (!validate_text(&it, e, param, 1, WORDS_Q_MAX_CHARS, &q))
        return false;
    char *words = text_words(q, strlen(q));
    words_set_t set = {0};
    bson_t all = BSON_INITIALIZER;
    bool ok = false;
    if (words == NULL) {
        field_errors_add(e, param, "is not valid UTF-8");
        goto done;
    }
    words_add_list(&set, words, &all);
    if (set.count == 0) {
        field_errors_add(e, param, "has no words to search for (letters or digits)");
    } else if (set.count > WORDS_Q_MAX_WORDS) {
        field_errors_add(e, param, "has %zu different words; at most %d are searched for", set.count,
                         WORDS_Q_MAX_WORDS);
    } else {
        bson_string_t *search = bson_string_new(NULL);
        bson_iter_t w;
        bson_t text, cond;
        bson_iter_init(&w, &all);
        while (bson_iter_next(&w))
            bson_string_append_printf(search, "%s%s", search->len ? " " : "", bson_iter_utf8(&w, NULL));
        BSON_APPEND_DOCUMENT_BEGIN(filter, "$text", &text);
        BSON_APPEND_UTF8(&text, "$search", search->str);
        bson_append_document_end(filter, &text);
        BSON_APPEND_DOCUMENT_BEGIN(filter, path, &cond);
        BSON_APPEND_ARRAY(&cond, "$all", &all);
        bson_append_document_end(filter, &cond);
        bson_string_free(search, true);
        ok = true;
    }
done:
    free(words);
    free(set.slots);
    bson_destroy(&all);
    return ok;
}
