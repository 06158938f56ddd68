/*
 * The OData system query options of Roost's lists ($filter, $select,
 * $orderby, $top, $skip, $count), as OData 4.01 Part 1 §11.2.6 and Part 2
 * (URL Conventions) §5.1 define them, for the subset docs/query.md lists:
 *
 *   $filter   comparisons eq ne gt ge lt le; and, or, not, parentheses;
 *             FIELD in (literal, ...); contains / startswith / endswith
 *             (FIELD or tolower/toupper(FIELD), 'text'); tolower(FIELD) and
 *             toupper(FIELD) compared with a string; literals: 'strings'
 *             ('' for a quote), integers, decimals (-1.5, 2e3), true,
 *             false, null, dates (2026-01-31) and date-times
 *             (2026-01-31T10:00:00Z, offsets allowed).
 *   $select   FIELD, ... (the id always comes back)
 *   $orderby  FIELD [asc|desc], ...
 *   $top, $skip, $count=true|false
 *
 * Precedence (Part 2 §5.1.1.16): in binds tightest, then not, then the
 * comparisons, then and, then or: `not price in (1, 2)` is not (price in
 * (1, 2)), but `not price eq 5` is (not price) eq 5, a type error: write
 * `not (price eq 5)`. Comparisons do not chain (`a eq b eq c` is refused).
 * Operator words stand between spaces (ABNF RWS): `a eq 1and …`, `not(…)`
 * and `price in(1)` are refused. Leading and trailing spaces are allowed.
 *
 * Safety by construction: the text is parsed into a tree, checked against
 * a per-resource whitelist of fields (odata_field_t), and compiled to a
 * MongoDB filter whose operators all come from this file; a client's text
 * becomes only literal values, and inside a regular expression only with
 * every metacharacter escaped. Limits: ODATA_MAX_LENGTH characters,
 * ODATA_MAX_DEPTH nested parentheses/not, ODATA_MAX_TERMS conditions,
 * ODATA_MAX_IN values per `in`.
 *
 * Pure code (libbson only): unit-tested, fuzzed (tests/fuzz/odata_fuzz.c)
 * and cross-checked against odata-query (tests/integration/test_odata_parser.py).
 */
#ifndef ROOST_SDK_ODATA_H
#define ROOST_SDK_ODATA_H

#include "geo.h"
#include "validate.h"

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ODATA_MAX_LENGTH 2000
/* The longest $filter Roost writes itself from a client's of at most
 * ODATA_MAX_LENGTH characters (a RESO filter's property conditions, in the
 * properties service's names and Roost's printing of numbers: "1e9"
 * becomes "1000000000"): the client's limit applies to what the client
 * sent, and this one is only a sanity bound on Roost's rewrite. */
#define ODATA_REWRITE_MAX_LENGTH (8 * ODATA_MAX_LENGTH)
#define ODATA_MAX_DEPTH 16
#define ODATA_MAX_TERMS 32
#define ODATA_MAX_IN 100
#define ODATA_MAX_SELECT 32

/* The type of a field as clients see it. */
typedef enum {
    ODATA_INT,    /* integers (ids, prices, counts) */
    ODATA_NUMBER, /* any number (areas) */
    ODATA_STRING,
    ODATA_TIME, /* int64 microseconds since the epoch; date and date-time literals convert */
    ODATA_KEY,  /* a key written as a string of digits ('12'), stored as an int64 id */
    ODATA_GEO,  /* a GeoJSON Point under a 2dsphere index: geo.distance and geo.intersects (geo.c) */
} odata_type_t;

/* What a field may be used for. */
#define ODATA_FILTER 0x1
#define ODATA_ORDER 0x2
#define ODATA_SELECT 0x4
#define ODATA_ALL (ODATA_FILTER | ODATA_ORDER | ODATA_SELECT)
/* The field is the joined resource's (RESO's Property is a listing joined
 * with its property): `path` is its name there, and the conditions on such
 * fields go to that resource as a $filter of its own (odata_query_t.joined). */
#define ODATA_JOINED 0x8

typedef struct {
    const char *name; /* as clients write it: "price", "ListPrice" */
    const char *path; /* the stored field: "price", "_id" */
    odata_type_t type;
    unsigned use;              /* ODATA_FILTER | ODATA_ORDER | ODATA_SELECT */
    const char *const *values; /* a string field's only values (NULL-terminated), or NULL */
    const char *rendered;      /* the key in the rendered document, when not `name` */
    const char *constant;      /* every entity's value of this string field, or NULL */
} odata_field_t;

/* One resource's vocabulary and paging bounds. */
typedef struct {
    const odata_field_t *fields;
    size_t count;
    const char *id_name; /* the field that always comes back ("id", "ListingKey") */
    int64_t top_default, top_max, skip_max;
    /* The longest $filter, in characters; 0: ODATA_MAX_LENGTH. */
    size_t filter_max;
    /* The words $search looks in (query/words.h); NULL: no $search. */
    const char *search_path;
} odata_resource_t;

/* --- the syntax tree ------------------------------------------------------ */

typedef enum {
    ODATA_OR,
    ODATA_AND,
    ODATA_NOT,
    ODATA_CMP,  /* op: ODATA_EQ .. ODATA_LE; a[0] op a[1] */
    ODATA_IN,   /* a[0] in (a[1..n-1]) */
    ODATA_CALL, /* name(a[0], ...) */
    ODATA_NAME, /* a field name */
    ODATA_LIT,
} odata_kind_t;

typedef enum { ODATA_EQ, ODATA_NE, ODATA_GT, ODATA_GE, ODATA_LT, ODATA_LE } odata_op_t;

typedef enum {
    ODATA_LIT_NULL,
    ODATA_LIT_BOOL,
    ODATA_LIT_INT,
    ODATA_LIT_DOUBLE,
    ODATA_LIT_STRING,
    ODATA_LIT_DATE,      /* i: microseconds of its midnight UTC */
    ODATA_LIT_DATETIME,  /* i: microseconds since the epoch, UTC */
    ODATA_LIT_GEOGRAPHY, /* text: the well-known text, e.g. "POINT(2.35 48.85)" */
} odata_lit_t;

typedef struct odata_node {
    odata_kind_t kind;
    odata_op_t op;
    odata_lit_t lit;
    int64_t i;  /* int, bool, date, date-time */
    double d;   /* double */
    char *text; /* a string literal (unquoted), a name, a function's name */
    size_t pos; /* 1-based character position in the text */
    struct odata_node **a;
    size_t n;
} odata_node_t;

/* A parse or type error: where (1-based character position, 0: the whole
 * option) and what was expected. */
typedef struct {
    size_t pos;
    char message[256];
} odata_error_t;

/* Parses a $filter expression of at most ODATA_MAX_LENGTH characters.
 * NULL on error (err set). */
odata_node_t *odata_parse(const char *text, size_t len, odata_error_t *err);
/* The same with a limit of `max` characters. */
odata_node_t *odata_parse_max(const char *text, size_t len, size_t max, odata_error_t *err);
void odata_free(odata_node_t *node);

/* The tree as a canonical S-expression, for tests and the cross-check:
 * (and A B ...) flattened, (not A), (eq A B), (in A (B C)), (contains A B),
 * names bare, 'strings' with '' doubled, numbers, true/false/null,
 * date:YYYY-MM-DD and datetime:YYYY-MM-DDTHH:MM:SS.ffffffZ. bson_free it. */
char *odata_sexpr(const odata_node_t *node);

/* Type-checks `node` against `res` and appends its MongoDB filter to
 * `out` (an initialised document, to be ANDed with the resource's own
 * conditions). False with err set on a field not in the whitelist, a
 * function or operator not supported, or a literal of the wrong type. */
bool odata_compile(const odata_resource_t *res, const odata_node_t *node, bson_t *out, odata_error_t *err);

/* `node` as OData $filter text, each field named by its `path` when it
 * is ODATA_JOINED in `res` (by its name otherwise). bson_free it. */
char *odata_print(const odata_resource_t *res, const odata_node_t *node);

/* --- the system query options ------------------------------------------- */

typedef struct {
    bson_t filter; /* compiled $filter; empty when none */
    bson_t sort;   /* $orderby, then _id (the order is total) */
    int64_t top, skip;
    bool count;
    const odata_field_t *select[ODATA_MAX_SELECT];
    size_t select_count; /* 0: every field */
    /* The $filter's conditions on ODATA_JOINED fields, as a $filter of the
     * joined resource (its names; type-checked here), NULL when none. They
     * must be joined to the rest by a top-level and: one under or/not with
     * a local field is refused. */
    char *joined;
    /* $orderby=geo.distance(…): nearest first from `near` on the point
     * field at `near_path`, through $geoNear (sdk/list.c), alone. */
    bool by_distance;
    geo_point_t near;
    const char *near_path;
} odata_query_t;

/* Whether `query` (a request's query parameters) holds any $option. */
bool odata_requested(const bson_t *query);

/* Reads every $option of `query` (other keys are the caller's) into `out`
 * (always initialised: destroy it). `default_sort` is the order without
 * $orderby ({created_at: -1} …; _id is added). False with one field error
 * per bad option, named by its option ("$filter", …), the message giving
 * the position and what was expected. */
bool odata_query_parse(const odata_resource_t *res, const bson_t *query, const bson_t *default_sort, odata_query_t *out,
                       field_errors_t *errors);
void odata_query_destroy(odata_query_t *q);

/* Adds the field error `message` for each key of `query` that is not an
 * $option, named by the key: where only the OData options are taken. */
void odata_refuse_plain(const bson_t *query, const char *message, field_errors_t *errors);

/* The rendered document `doc` cut to the id and the $select fields (all
 * of `doc` when none), into `out` (uninitialised). */
void odata_select(const odata_resource_t *res, const odata_query_t *q, const bson_t *doc, bson_t *out);

#endif
