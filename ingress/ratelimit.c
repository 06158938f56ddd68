/* Fixed-window rate limits for writes (ratelimit.h). */
#include "ratelimit.h"
#include "config.h"
#include "log.h"
#include "respond.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <time.h>
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How far a key's slot may be from its hash before the table counts as full. */
#define RATELIMIT_PROBES 64

typedef struct {
    char key[RATELIMIT_KEY_MAX + 1];
    int64_t window_start; /* a slot is free while its key is "" */
    int64_t hits;
} ratelimit_slot_t;

struct ratelimit {
    pthread_mutex_t lock;
    char policy[32];
    int64_t quota, window;
    size_t capacity;
    bool warned_full;
    ratelimit_slot_t *slots;
};

ratelimit_t *
ratelimit_new(const char *policy, int64_t quota, int64_t window, size_t capacity)
{
    ratelimit_t *l = calloc(1, sizeof(*l));
    if (l == NULL || (l->slots = calloc(capacity, sizeof(*l->slots))) == NULL) {
        free(l);
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    snprintf(l->policy, sizeof(l->policy), "%s", policy);
    l->quota = quota;
    l->window = window;
    l->capacity = capacity;
    return l;
}

void
ratelimit_free(ratelimit_t *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l->slots);
    free(l);
}

/* FNV-1a: the keys are short and chosen by clients only in part. */
static uint64_t
ratelimit_hash(const char *key)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

bool
ratelimit_take(ratelimit_t *l, const char *key, int64_t now, envelope_rate_limit_t *state)
{
    return ratelimit_take_n(l, key, now, 1, state);
}

bool
ratelimit_take_n(ratelimit_t *l, const char *key, int64_t now, int64_t n, envelope_rate_limit_t *state)
{
    char k[RATELIMIT_KEY_MAX + 1];
    snprintf(k, sizeof(k), "%s", key);
    int64_t start = now - now % l->window;
    bool allowed = true;
    ratelimit_slot_t *slot = NULL, *reusable = NULL;

    pthread_mutex_lock(&l->lock);
    uint64_t h = ratelimit_hash(k);
    for (size_t i = 0; i < RATELIMIT_PROBES && i < l->capacity; i++) {
        ratelimit_slot_t *s = &l->slots[(h + i) % l->capacity];
        bool live = s->key[0] != '\0' && s->window_start == start;
        if (live && strcmp(s->key, k) == 0) {
            slot = s;
            break;
        }
        if (!live && reusable == NULL)
            reusable = s; /* free, or its window is over: its count no longer matters */
        if (s->key[0] == '\0')
            break; /* the key was never placed beyond a free slot */
    }
    if (slot == NULL && reusable != NULL) {
        slot = reusable;
        memcpy(slot->key, k, sizeof(k));
        slot->window_start = start;
        slot->hits = 0;
    }
    state->policy = l->policy;
    state->quota = l->quota;
    state->window = l->window;
    state->reset = start + l->window - now;
    if (slot == NULL) {
        if (!l->warned_full)
            log_warn("rate limit '%s': %zu keys are live; new ones pass uncounted", l->policy, l->capacity);
        l->warned_full = true;
        state->remaining = l->quota;
    } else if (slot->hits + n > l->quota) {
        allowed = false;
        state->remaining = l->quota - slot->hits;
    } else {
        slot->hits += n;
        state->remaining = l->quota - slot->hits;
    }
    pthread_mutex_unlock(&l->lock);
    return allowed;
}

bool
ratelimit_header_values(const envelope_rate_limit_t *states, size_t n, char *policy, size_t policy_size, char *limit,
                        size_t limit_size)
{
    size_t used = 0, least = 0;
    if (n == 0 || policy_size == 0)
        return false;
    policy[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(policy + used, policy_size - used, "%s\"%s\";q=%lld;w=%lld", i ? ", " : "", states[i].policy,
                         (long long)states[i].quota, (long long)states[i].window);
        if (w < 0 || (size_t)w >= policy_size - used)
            return false;
        used += (size_t)w;
        if (states[i].remaining < states[least].remaining)
            least = i;
    }
    int w = snprintf(limit, limit_size, "\"%s\";r=%lld;t=%lld", states[least].policy,
                     (long long)states[least].remaining, (long long)states[least].reset);
    return w >= 0 && (size_t)w < limit_size;
}

static ratelimit_config_t ratelimit_cfg;
static pthread_once_t ratelimit_once = PTHREAD_ONCE_INIT;

static void
ratelimit_load(void)
{
    int64_t window = cfg_int("ROOST_WRITE_LIMIT_WINDOW_SECONDS", 60, 1, 86400);
    int64_t per_user = cfg_int("ROOST_WRITE_LIMIT_PER_USER", 1200, 0, INT32_MAX);
    int64_t per_address = cfg_int("ROOST_WRITE_LIMIT_PER_ADDRESS", 6000, 0, INT32_MAX);
    size_t capacity = (size_t)cfg_int("ROOST_WRITE_LIMIT_KEYS", 65536, 64, 1 << 24);
    if (per_user > 0)
        ratelimit_cfg.per_user = ratelimit_new("user", per_user, window, capacity);
    if (per_address > 0)
        ratelimit_cfg.per_address = ratelimit_new("address", per_address, window, capacity);
}

const ratelimit_config_t *
ratelimit_config(void)
{
    pthread_once(&ratelimit_once, ratelimit_load);
    return &ratelimit_cfg;
}

/* Parses an IPv4 or IPv6 address into 16 bytes (IPv4 as ::ffff:a.b.c.d). */
static bool
ratelimit_parse_ip(const char *ip, unsigned char out[16])
{
    struct in_addr v4;
    if (inet_pton(AF_INET, ip, &v4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, ip, out) == 1;
}

static bool
ratelimit_is_v4(const unsigned char a[16])
{
    static const unsigned char prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, 12) == 0;
}

bool
ratelimit_client_key(const char *ip, char out[ENVELOPE_ADDR_MAX + 1])
{
    unsigned char a[16];
    char text[INET6_ADDRSTRLEN];
    if (!ratelimit_parse_ip(ip, a))
        return false;
    if (ratelimit_is_v4(a))
        return inet_ntop(AF_INET, a + 12, out, ENVELOPE_ADDR_MAX + 1) != NULL;
    memset(a + 8, 0, 8);
    if (inet_ntop(AF_INET6, a, text, sizeof(text)) == NULL)
        return false;
    snprintf(out, ENVELOPE_ADDR_MAX + 1, "%s/64", text);
    return true;
}

bool
ratelimit_in_cidrs(const char *ip, const char *cidrs)
{
    unsigned char a[16], net[16];
    if (cidrs == NULL || !ratelimit_parse_ip(ip, a))
        return false;
    for (const char *p = cidrs; *p != '\0';) {
        size_t len = strcspn(p, ",");
        char one[INET6_ADDRSTRLEN + 8];
        if (len > 0 && len < sizeof(one)) {
            memcpy(one, p, len);
            one[len] = '\0';
            char *slash = strchr(one, '/');
            long bits = -1;
            if (slash != NULL) {
                *slash = '\0';
                char *end;
                bits = strtol(slash + 1, &end, 10);
                if (*end != '\0' || slash[1] == '\0')
                    bits = -2;
            }
            if (bits != -2 && ratelimit_parse_ip(one, net)) {
                /* An IPv4 prefix counts from the mapped address's 96 bits. */
                long total = bits < 0 ? 128 : ratelimit_is_v4(net) && strchr(one, ':') == NULL ? 96 + bits : bits;
                if (total >= 0 && total <= 128) {
                    bool match = true;
                    for (long b = 0; b < total && match; b++)
                        match = ((a[b / 8] ^ net[b / 8]) & (0x80 >> (b % 8))) == 0;
                    if (match)
                        return true;
                }
            }
        }
        p += len + (p[len] == ',');
    }
    return false;
}

static ratelimit_proxy_t ratelimit_proxy_cfg;
static pthread_once_t ratelimit_proxy_once = PTHREAD_ONCE_INIT;

static void
ratelimit_proxy_load(void)
{
    /* h2o keeps header names in lower case. */
    static char header[128];
    const char *name = cfg_str("ROOST_CLIENT_ADDRESS_HEADER", NULL);
    if (name != NULL && strlen(name) < sizeof(header)) {
        for (size_t i = 0; name[i] != '\0'; i++)
            header[i] = (char)tolower((unsigned char)name[i]);
        ratelimit_proxy_cfg.header = header;
    }
    ratelimit_proxy_cfg.trusted = cfg_str("ROOST_TRUSTED_PROXIES", NULL);
    if (ratelimit_proxy_cfg.header != NULL && ratelimit_proxy_cfg.trusted == NULL)
        log_warn("ROOST_CLIENT_ADDRESS_HEADER is set but ROOST_TRUSTED_PROXIES is not: the header is ignored");
}

const ratelimit_proxy_t *
ratelimit_proxy(void)
{
    pthread_once(&ratelimit_proxy_once, ratelimit_proxy_load);
    return &ratelimit_proxy_cfg;
}

/*
 * The address the client is counted under (ratelimit_client_key): the TCP
 * peer's, or, when the peer is a trusted proxy (ratelimit_proxy), the last
 * entry of the configured header, which that proxy appended. "" when
 * neither says.
 */
void
ratelimit_client_address(h2o_req_t *req, char out[ENVELOPE_ADDR_MAX + 1])
{
    struct sockaddr_storage sa;
    char host[NI_MAXHOST];
    out[0] = '\0';
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&sa);
    if (len == 0)
        return;
    size_t n = h2o_socket_getnumerichost((struct sockaddr *)&sa, len, host);
    if (n == SIZE_MAX)
        return;
    host[n] = '\0';
    const ratelimit_proxy_t *proxy = ratelimit_proxy();
    if (proxy->header != NULL && ratelimit_in_cidrs(host, proxy->trusted)) {
        ssize_t i = -1, last = -1;
        while ((i = h2o_find_header_by_str(&req->headers, proxy->header, strlen(proxy->header), i)) >= 0)
            last = i;
        if (last >= 0) {
            h2o_iovec_t v = req->headers.entries[last].value;
            size_t start = v.len;
            while (start > 0 && v.base[start - 1] != ',')
                start--;
            while (start < v.len && v.base[start] == ' ')
                start++;
            size_t end = v.len;
            while (end > start && v.base[end - 1] == ' ')
                end--;
            char forwarded[INET6_ADDRSTRLEN];
            if (end - start < sizeof(forwarded)) {
                memcpy(forwarded, v.base + start, end - start);
                forwarded[end - start] = '\0';
                if (ratelimit_client_key(forwarded, out))
                    return;
            }
        }
    }
    if (!ratelimit_client_key(host, out))
        out[0] = '\0';
}

/*
 * The write limits: a POST, PUT, PATCH or DELETE of a route without
 * ROUTE_NO_WRITE_LIMIT counts against its user's quota and its address's, `writes` times
 * (a bulk create counts each of its items). Sets the
 * RateLimit headers; on refusal answers 429 with Retry-After and returns
 * false.
 */
bool
ratelimit_allow_writes(h2o_req_t *req, const route_t *route, const char *rid, int64_t sub, const char *addr,
                       int64_t writes)
{
    const ratelimit_config_t *cfg = ratelimit_config();
    envelope_rate_limit_t states[2];
    size_t n = 0;
    char key[RATELIMIT_KEY_MAX + 1];
    bool allowed = true;
    int64_t now = (int64_t)time(NULL);

    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
        h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")) || (route->flags & ROUTE_NO_WRITE_LIMIT))
        return true;
    /* A request that counts more writes than a whole window allows can
     * never pass, however long it waits: a 400 that says so, without
     * Retry-After (a 429 would have the client retry in vain). */
    const ratelimit_t *applies[2] = {sub > 0 ? cfg->per_user : NULL, addr[0] != '\0' ? cfg->per_address : NULL};
    for (size_t i = 0; i < 2; i++)
        if (applies[i] != NULL && writes > applies[i]->quota) {
            char *detail = bson_strdup_printf("this request counts %lld writes, more than the %lld a %s may make in "
                                              "%lld s (ROOST_WRITE_LIMIT_*): it can never pass; send fewer items",
                                              (long long)writes, (long long)applies[i]->quota,
                                              i == 0 ? "user" : "client address", (long long)applies[i]->window);
            respond_error(req, route->flags, rid, 400, "over_write_quota", detail, NULL);
            bson_free(detail);
            return false;
        }
    if (cfg->per_user != NULL && sub > 0) {
        snprintf(key, sizeof(key), "u:%lld", (long long)sub);
        allowed = ratelimit_take_n(cfg->per_user, key, now, writes, &states[n++]);
    }
    /* A write the user's quota refuses is not counted against the address's. */
    if (allowed && cfg->per_address != NULL && addr[0] != '\0') {
        snprintf(key, sizeof(key), "a:%s", addr);
        allowed = ratelimit_take_n(cfg->per_address, key, now, writes, &states[n++]);
    }
    respond_rate_limit(req, states, n);
    if (allowed)
        return true;
    int64_t wait = 0;
    for (size_t i = 0; i < n; i++)
        if (states[i].remaining < writes && states[i].reset > wait)
            wait = states[i].reset;
    char seconds[24];
    int len = snprintf(seconds, sizeof(seconds), "%lld", (long long)(wait > 0 ? wait : 1));
    respond_header(req, H2O_TOKEN_RETRY_AFTER, seconds, (size_t)len);
    respond_error(req, route->flags, rid, 429, "rate_limited",
                  "too many writes; wait for the time in Retry-After (ROOST_WRITE_LIMIT_* sets the quotas)", NULL);
    return false;
}
