/*
 * HTTP field syntax Roost reads, parsed exactly as the RFCs write it; pure
 * functions, unit-tested rule by rule.
 *
 *   Authorization  RFC 9110 §11.6.2 credentials, RFC 6750 §2.1 Bearer
 *   If-Match       RFC 9110 §13.1.1 (strong comparison, §8.8.3.2)
 *   If-None-Match  RFC 9110 §13.1.2 (weak comparison)
 *   Accept-Encoding RFC 9110 §12.5.3
 *
 * Roost's entity tags are versions: the ETag of version 3 is "3" (strong).
 */
#ifndef ROOST_HTTP_H
#define ROOST_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Finds the token of `Authorization: Bearer <token>`:
 *   credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *   b64token    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 * The scheme is case-insensitive (§11.1); one or more spaces separate it
 * from the token; the field value's surrounding whitespace (OWS) is ignored.
 * Returns false when the value is not a Bearer credential with one b64token.
 */
bool http_bearer(const char *value, size_t len, const char **token, size_t *token_len);

typedef enum {
    HTTP_PRECONDITION_TRUE,  /* the condition holds: go on */
    HTTP_PRECONDITION_FALSE, /* If-Match: 412; If-None-Match on GET/HEAD: 304 */
    HTTP_PRECONDITION_MALFORMED,
} http_precondition_t;

/*
 * Roost's entity tags name a document's version: "3" for its identity
 * body, "3-gzip" and "3-br" for its coded ones, since a strong validator
 * differs across content codings (RFC 9110 §8.8.3). Each names version 3
 * below: the conditions are on the resource's state, which every coding
 * of it shares (as Apache's mod_deflate compares its "-gzip" tags).
 *
 * Evaluates `If-Match: "*" / #entity-tag` against a resource at `version`
 * (version <= 0: the resource does not exist). "*" holds for any existing
 * resource; otherwise one of the listed tags must match strongly: a weak
 * tag (W/"3") never matches (§13.1.1).
 */
http_precondition_t http_if_match(const char *value, size_t len, int64_t version);

/*
 * Reads `If-Match` into what a protocol request carries instead of HTTP
 * syntax (docs/protocol.md, expect_version): *any for "*"; otherwise, in
 * out[0 .. *n), the versions its strong tags name, in Roost's ETag form
 * ("3" is version 3). Weak tags, and tags that are no such version ("03",
 * "x"), name none, since they can never match strongly (§13.1.1). False
 * when the value is malformed or names more than `max` versions.
 */
bool http_if_match_versions(const char *value, size_t len, int64_t *out, size_t max, size_t *n, bool *any);

/*
 * Evaluates `If-None-Match: "*" / #entity-tag`: FALSE when "*" and the
 * resource exists, or when a listed tag matches weakly (W/"3" and "3" both
 * match version 3) — for GET that means 304 Not Modified (§13.1.2).
 */
http_precondition_t http_if_none_match(const char *value, size_t len, int64_t version);

/* Whether If-None-Match holds `version` (a 304): http_if_none_match's
 * FALSE. *tag is then the first listed tag that matched, W/ aside but
 * quotes kept (what a 304 sends back as its ETag, the client's stored
 * coding's); for "*" it is left as it was. */
bool http_if_none_match_tag(const char *value, size_t len, int64_t version, const char **tag, size_t *tag_len);

/*
 * Whether a Content-Type value names one of the NULL-terminated `types`
 * (RFC 9110 §8.3.1: type/subtype compared case-insensitively, then OWS and
 * parameters such as charset allowed). "application/jsonx" is not
 * "application/json".
 */
bool http_media_type_is(const char *value, size_t len, const char *const *types);

/*
 * Whether If-None-Match lists `tag` (an entity-tag with its quotes, e.g.
 * "\"ab12\""), weakly compared, or is "*" (RFC 9110 §13.1.2): a 304 for
 * a GET. For resources whose tag is not a version (a photo's sha256).
 */
bool http_none_match_lists(const char *value, size_t len, const char *tag);

typedef enum { HTTP_RANGE_NONE, HTTP_RANGE_OK, HTTP_RANGE_UNSATISFIABLE } http_range_t;

/*
 * A Range header against a representation of `size` bytes (RFC 9110
 * §14.2): one byte range, "bytes=a-b", "bytes=a-" or "bytes=-n", as
 * [*first, *last]. HTTP_RANGE_UNSATISFIABLE (a 416) when it starts past
 * the end, ends before it starts ("bytes=5-2", which §14.1.1 calls
 * invalid: a client that sends it gets told rather than the whole), or is
 * a suffix of 0 bytes; HTTP_RANGE_NONE (the whole representation, 200, as
 * §14.2 lets a server do) for another unit, for several ranges, and for a
 * value that does not parse.
 */
http_range_t http_range(const char *value, size_t len, uint64_t size, uint64_t *first, uint64_t *last);

/* Whether an Accept value takes `type` ("image/webp") with a non-zero
 * qvalue, by its own name (a wildcard such as image/ * does not count:
 * a client that names WebP is one that wants it). */
bool http_accepts_type(const char *value, size_t len, const char *type);

typedef enum { HTTP_ENCODING_IDENTITY, HTTP_ENCODING_GZIP, HTTP_ENCODING_BR } http_encoding_t;

/*
 * The content coding to answer with, from an Accept-Encoding value: br or
 * gzip when the client accepts it with a non-zero qvalue (the higher
 * qvalue wins; br on a tie, as it is smaller), identity otherwise. "*"
 * stands for every coding not listed.
 */
http_encoding_t http_accept_encoding(const char *value, size_t len);

#endif
