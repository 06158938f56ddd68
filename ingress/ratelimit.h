/*
 * Rate limits the ingress keeps for writes (POST, PUT, PATCH, DELETE other
 * than the login, which the users service limits itself): a quota per
 * user (the bearer token's subject) and per client address, each counted
 * in fixed windows. The state lives in this process, shared by every loop
 * thread under one lock; with several ingress replicas each counts its own
 * share. Headers follow draft-ietf-httpapi-ratelimit-headers-10:
 *   RateLimit-Policy: "user";q=1200;w=60, "address";q=6000;w=60
 *   RateLimit: "user";r=12;t=41
 *
 * Configuration: ROOST_WRITE_LIMIT_PER_USER and ROOST_WRITE_LIMIT_PER_ADDRESS
 * (writes per window, 0 = no limit), ROOST_WRITE_LIMIT_WINDOW_SECONDS.
 */
#ifndef ROOST_RATELIMIT_H
#define ROOST_RATELIMIT_H

#include "envelope.h"
#include "routes.h"

#include <h2o.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Keys longer than this are cut: "u:" + a user id, "a:" + an address. */
#define RATELIMIT_KEY_MAX 72

typedef struct ratelimit ratelimit_t;

/* A table of at most `capacity` live keys, each allowed `quota` hits per
 * `window` seconds. When every slot holds a live key a new key is let
 * through uncounted (logged once): the table's memory stays bounded. */
ratelimit_t *ratelimit_new(const char *policy, int64_t quota, int64_t window, size_t capacity);
void ratelimit_free(ratelimit_t *l);

/*
 * Counts one hit of `key` at `now` (seconds) and says whether it is within
 * the quota; *state gets the policy, quota, window, what remains and the
 * seconds until the window resets. A refused hit is not counted.
 */
bool ratelimit_take(ratelimit_t *l, const char *key, int64_t now, envelope_rate_limit_t *state);

/* As ratelimit_take, for `n` hits at once (a bulk create's items): all
 * counted, or none when they would pass the quota. */
bool ratelimit_take_n(ratelimit_t *l, const char *key, int64_t now, int64_t n, envelope_rate_limit_t *state);

/*
 * The header values for a set of limit states (draft-ietf-httpapi-
 * ratelimit-headers-10 §3, §4): `policy` lists every state's policy;
 * `limit` names the state with the fewest remaining. Returns false when
 * a buffer is too small.
 */
bool ratelimit_header_values(const envelope_rate_limit_t *states, size_t n, char *policy, size_t policy_size,
                             char *limit, size_t limit_size);

/*
 * The address a client is counted under, from an IP address in text: an
 * IPv4 address as itself ("192.0.2.7", also when written IPv4-mapped as
 * "::ffff:192.0.2.7"), an IPv6 address as its /64 network
 * ("2001:db8:1:2::/64"), since one client commonly holds a whole /64.
 * False when `ip` is not an IP address.
 */
bool ratelimit_client_key(const char *ip, char out[ENVELOPE_ADDR_MAX + 1]);

/* Whether the IP address `ip` lies in one of `cidrs`, a comma list such as
 * "10.0.0.0/8,fd00::/8" (a bare address is a /32 or /128). */
bool ratelimit_in_cidrs(const char *ip, const char *cidrs);

/*
 * Where the client's address comes from (docs/security.md):
 * ROOST_CLIENT_ADDRESS_HEADER (e.g. X-Forwarded-For), read only from peers
 * in ROOST_TRUSTED_PROXIES, whose last entry is the address the proxy saw;
 * otherwise the TCP peer. NULL members when unset.
 */
typedef struct {
    const char *header;
    const char *trusted;
} ratelimit_proxy_t;
const ratelimit_proxy_t *ratelimit_proxy(void);

/* The ingress's write limits, from the environment; NULL members are off. */
typedef struct {
    ratelimit_t *per_user;
    ratelimit_t *per_address;
} ratelimit_config_t;

const ratelimit_config_t *ratelimit_config(void);

/*
 * The address the client is counted under (ratelimit_client_key), into
 * `out`: the TCP peer's, or, when the peer is a trusted proxy
 * (ratelimit_proxy), the last entry of the configured header, which that
 * proxy appended (X-Forwarded-For). "" when neither says.
 */
void ratelimit_client_address(h2o_req_t *req, char out[ENVELOPE_ADDR_MAX + 1]);

/*
 * Counts a write of `route` (POST, PUT, PATCH, DELETE; a route with
 * ROUTE_NO_WRITE_LIMIT is not counted) `writes` times against the quota of
 * user `sub` (0: none) and of address `addr` ("" : none), and sets the
 * RateLimit headers. On refusal answers 429 with Retry-After and returns
 * false; a request that counts more writes than a quota allows in a whole
 * window is refused with 400 over_write_quota instead (waiting cannot
 * help). On the request's loop thread.
 */
bool ratelimit_allow_writes(h2o_req_t *req, const route_t *route, const char *rid, int64_t sub, const char *addr,
                            int64_t writes);
#endif
