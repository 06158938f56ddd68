/*
 * Keyword search (docs/search.md): what a property's words are, and what
 * `q=` asks of them. Pure libbson, unit-tested.
 *
 * A property's words are the distinct folded words (text_words: case and
 * accents folded, "ß" = "ss") of its name, description, address and city,
 * stored beside them as `words`: the exact AND of every word asked is
 * {words: {$all: [...]}}, which reads the same on MongoDB and on the
 * embedded database, whatever each one's text index folds. The text index
 * (weights below) finds the candidates and ranks them: `$text` is an OR
 * of the words, so both go in the filter.
 */
#ifndef ROOST_QUERY_WORDS_H
#define ROOST_QUERY_WORDS_H

#include "validate.h"

/* The fields a property's words come from, NULL-terminated. */
extern const char *const words_fields[];

#define WORDS_Q_MAX_CHARS 200 /* q's length, in characters */
/* The field a search's items carry their text score in ({$meta: "textScore"}). */
#define WORDS_SCORE_FIELD "score"
#define WORDS_Q_MAX_WORDS 20 /* distinct words in q */

/* Appends `key`: [the distinct words of `src`'s words_fields strings, in
 * order of first appearance] to `doc`. */
void words_append(bson_t *doc, const char *key, const bson_t *src);

/* The order_by rules of a search with or without words: relevance needs
 * them and is best first only; distance ($geoNear) cannot be combined
 * with them (MongoDB refuses $text beside $geoNear). */
void words_check_order(bool searched, bool by_relevance, bool by_distance, int dir, field_errors_t *e);

/*
 * When `query` holds `param` (q): checks it (1..WORDS_Q_MAX_CHARS
 * characters, at least one word, at most WORDS_Q_MAX_WORDS distinct ones;
 * each failure a field error naming `param`) and appends {$text: {$search:
 * "w1 w2 …"}, <path>: {$all: ["w1", "w2", …]}} to `filter`. Returns
 * whether a valid search was appended.
 */
bool words_filter(const bson_t *query, const char *param, const char *path, field_errors_t *e, bson_t *filter);

/*
 * OData's $search (`text`, the option's value) as words_filter's search:
 * words and "phrases" (searched as their words), joined by spaces or AND,
 * in parentheses or not; every one must be there. OR and NOT are refused
 * (a field error on "$search"), not approximated. Returns whether a valid
 * search was appended to `filter`.
 */
bool words_odata_search(const char *text, const char *path, field_errors_t *e, bson_t *filter);

#endif
