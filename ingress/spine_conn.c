/*
 * One loop's connections to the workers of its direct pools
 * (spine_internal.h): dialing on h2o's sockets, the SP handshake, writes
 * gathered while one is under way, replies read off the socket, and the
 * workers found by resolving each pool URL every second.
 */
#include "spine_internal.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "sp.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

static bool
spine_bytes_append(spine_bytes_t *b, const uint8_t *bytes, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL)
            return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, bytes, len);
    b->len += len;
    return true;
}

static void spine_conn_down(spine_conn_t *c, const char *why);

/* Closes the connection's socket; a callback h2o still runs for it finds
 * no connection and does nothing. */
static void
spine_conn_close_socket(spine_conn_t *c)
{
    if (c->sock == NULL)
        return;
    c->sock->data = NULL;
    h2o_socket_close(c->sock);
    c->sock = NULL;
}

/* The connection an h2o callback is for, when it is to go on: none when
 * its socket was closed meanwhile, none (and brought down) on an error. */
static spine_conn_t *
spine_callback_conn(h2o_socket_t *sock, const char *err)
{
    spine_conn_t *c = sock->data;
    if (c != NULL && err != NULL) {
        spine_conn_down(c, err);
        return NULL;
    }
    return c;
}

static void
spine_on_written(h2o_socket_t *sock, const char *err)
{
    spine_conn_t *c = sock->data;
    if (c != NULL)
        c->writing.len = 0;
    if ((c = spine_callback_conn(sock, err)) == NULL)
        return;
    if (c->pending.len > 0) {
        spine_bytes_t t = c->writing;
        c->writing = c->pending;
        c->pending = t;
        h2o_iovec_t buf = h2o_iovec_init(c->writing.p, c->writing.len);
        h2o_socket_write(c->sock, &buf, 1, spine_on_written);
    }
}

/* Writes at once when no write is under way; else with the next one. */
void
spine_conn_send(spine_conn_t *c, const uint8_t *bytes, size_t len)
{
    bool idle = c->writing.len == 0; /* no write under way: this one starts */
    if (idle && c->pool->urls[c->url].tls == NULL) {
        /* Plain TCP with nothing waiting: straight to the socket, which
         * almost always takes a request whole, sparing h2o's write (its
         * deferred callback, its epoll changes) on every request. What the
         * socket does not take, h2o writes; an error is left for h2o's
         * write to report. */
        ssize_t sent = send(h2o_socket_get_fd(c->sock), bytes, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent == (ssize_t)len)
            return;
        if (sent > 0) {
            bytes += sent;
            len -= (size_t)sent;
        }
    }
    if (!spine_bytes_append(idle ? &c->writing : &c->pending, bytes, len)) {
        spine_conn_down(c, "out of memory");
        return;
    }
    if (idle) {
        h2o_iovec_t buf = h2o_iovec_init(c->writing.p, c->writing.len);
        h2o_socket_write(c->sock, &buf, 1, spine_on_written);
    }
}

static void
spine_conn_free(spine_conn_t *c)
{
    if (c->state == SPINE_READY)
        spine_count_ready(c->pool, -1);
    spine_conn_close_socket(c);
    for (spine_conn_t **p = &c->pool->conns; *p != NULL; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    free(c->pending.p);
    free(c->writing.p);
    free(c);
}

/* The connection is lost: what it carried is sent again elsewhere, and it
 * is dialed again after a pause that grows while it keeps failing. */
static void
spine_conn_down(spine_conn_t *c, const char *why)
{
    spine_pool_t *pool = c->pool;
    if (c->state == SPINE_READY)
        log_warn("worker %s: connection lost (%s); %d request(s) sent again elsewhere", c->name, why, c->outstanding);
    else if (!c->warned)
        log_warn("worker %s: cannot connect (%s); trying again, quietly, until it works", c->name, why);
    c->warned = c->state != SPINE_READY;
    spine_conn_close_socket(c);
    if (c->state == SPINE_READY)
        spine_count_ready(pool, -1);
    c->state = SPINE_DOWN;
    c->pending.len = c->writing.len = 0;
    c->outstanding = 0;
    c->retry_at_ms = clock_monotonic_ms() + c->backoff_ms;
    c->backoff_ms = c->backoff_ms * 2 > 1000 ? 1000 : c->backoff_ms * 2;
    spine_requeue(pool, &c->sent); /* one no longer listed is freed by the tick, never under a caller's feet */
    spine_tick_arm(pool->loop);
    if (clock_monotonic_ms() - pool->resolved_at_ms >= 200)
        spine_pool_discover(pool); /* the worker may have moved */
    spine_dispatch(pool);
}

/* Reads the peer's handshake, then replies; false once the connection is down. */
static bool
spine_take_input(spine_conn_t *c)
{
    h2o_socket_t *sock = c->sock;
    if (c->state == SPINE_GREETING) {
        if (sock->input->size < SP_HANDSHAKE_LEN)
            return true;
        if (!sp_handshake_is((const uint8_t *)sock->input->bytes, SP_PROTO_REP)) {
            spine_conn_down(c, "the peer is not an SP REP socket");
            return false;
        }
        h2o_buffer_consume(&sock->input, SP_HANDSHAKE_LEN);
        c->state = SPINE_READY;
        c->pool->ever_ready = true;
        spine_count_ready(c->pool, 1);
        c->backoff_ms = 50;
        log_info("worker %s: connected", c->name);
        spine_dispatch(c->pool);
    }
    for (;;) {
        const uint8_t *in = (const uint8_t *)sock->input->bytes;
        int64_t size = sp_frame_size(in, sock->input->size, spine_max_message());
        uint32_t id;
        if (size < 0) {
            spine_conn_down(c, "a reply larger than ROOST_MAX_MESSAGE_BYTES");
            return false;
        }
        if (size == 0)
            return true;
        const uint8_t *msg = in + SP_FRAME_HEADER_LEN;
        size_t len = (size_t)size - SP_FRAME_HEADER_LEN;
        if (sp_backtrace_len(msg, len) == 4 && sp_reply_id(msg, len, &id))
            spine_replied(c, id, msg + 4, len - 4); /* renders from the input buffer: consumed after */
        if (c->sock != sock)
            return false; /* a reply's handling brought it down */
        h2o_buffer_consume(&sock->input, (size_t)size);
    }
}

static void
spine_on_read(h2o_socket_t *sock, const char *err)
{
    spine_conn_t *c = sock->data;
    /* The replies read before the end (a stopping worker's last ones, then
     * its FIN) are answers: only what is still unanswered goes elsewhere. */
    if (c != NULL && err != NULL && c->state == SPINE_READY && !spine_take_input(c))
        return; /* brought down while reading */
    if ((c = spine_callback_conn(sock, err)) == NULL)
        return;
    if (spine_take_input(c) && !c->listed && c->outstanding == 0)
        spine_conn_free(c); /* a worker no longer listed, drained */
}

/* Connected (over TLS when asked): the SP handshake. */
static void
spine_on_secured(h2o_socket_t *sock, const char *err)
{
    spine_conn_t *c = spine_callback_conn(sock, err);
    if (c == NULL)
        return;
    c->state = SPINE_GREETING;
    uint8_t hello[SP_HANDSHAKE_LEN];
    sp_handshake(hello, SP_PROTO_REQ);
    spine_conn_send(c, hello, sizeof(hello));
    if (c->sock != NULL)
        h2o_socket_read_start(c->sock, spine_on_read);
}

static void
spine_on_connect(h2o_socket_t *sock, const char *err)
{
    spine_conn_t *c = spine_callback_conn(sock, err);
    if (c == NULL)
        return;
    sp_socket_options(h2o_socket_get_fd(sock));
    spine_url_t *url = &c->pool->urls[c->url];
    if (url->tls != NULL)
        h2o_socket_ssl_handshake(sock, url->tls, cfg_str("ROOST_TLS_SERVER_NAME", url->host), spine_on_secured);
    else
        spine_on_secured(sock, NULL);
}

static void
spine_conn_dial(spine_conn_t *c)
{
    c->state = SPINE_CONNECTING;
    c->retry_at_ms = clock_monotonic_ms() + SPINE_CONNECT_TIMEOUT_MS;
    c->sock = h2o_socket_connect(c->pool->loop->ctx->loop, (struct sockaddr *)&c->addr, c->addrlen, spine_on_connect);
    if (c->sock == NULL) {
        spine_conn_down(c, "cannot open a socket");
        return;
    }
    c->sock->data = c;
    spine_tick_arm(c->pool->loop);
}

/* Dials what is due, gives up dials that take too long; `again` when a
 * connection is not ready yet (the tick is still needed). */
void
spine_conns_tick(spine_pool_t *pool, int64_t now_ms, bool *again)
{
    spine_conn_t *next;
    for (spine_conn_t *c = pool->conns; c != NULL; c = next) {
        next = c->next;
        if (c->state == SPINE_READY)
            continue;
        if (c->state == SPINE_DOWN && !c->listed) {
            spine_conn_free(c);
            continue;
        }
        if (c->state == SPINE_DOWN && now_ms >= c->retry_at_ms)
            spine_conn_dial(c);
        else if (c->state != SPINE_DOWN && now_ms >= c->retry_at_ms)
            spine_conn_down(c, "no handshake in time");
        *again = true;
    }
}

spine_conn_t *
spine_pool_pick(spine_pool_t *pool)
{
    spine_conn_t *best = NULL;
    for (spine_conn_t *c = pool->conns; c != NULL; c = c->next)
        if (c->state == SPINE_READY && c->listed && c->outstanding < spine_capacity() &&
            (best == NULL || c->outstanding < best->outstanding))
            best = c;
    return best;
}

bool
spine_pool_ready(const spine_pool_t *pool)
{
    for (const spine_conn_t *c = pool->conns; c != NULL; c = c->next)
        if (c->state == SPINE_READY && c->listed)
            return true;
    return false;
}

bool
spine_pool_dialing(const spine_pool_t *pool)
{
    for (const spine_conn_t *c = pool->conns; c != NULL; c = c->next)
        if (c->listed && (c->state == SPINE_CONNECTING || c->state == SPINE_GREETING))
            return true;
    return false;
}

/* The addresses URL `u` resolved to now: new ones are dialed, those gone
 * take no new request and go once they have answered what they hold. */
static void
spine_pool_found(spine_pool_t *pool, size_t u, const struct addrinfo *res)
{
    spine_conn_t *next;
    for (spine_conn_t *c = pool->conns; c != NULL; c = c->next)
        if (c->url == u)
            c->listed = false;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        spine_conn_t *c = pool->conns;
        while (c != NULL &&
               !(c->url == u && c->addrlen == ai->ai_addrlen && memcmp(&c->addr, ai->ai_addr, c->addrlen) == 0))
            c = c->next;
        if (c != NULL) {
            c->listed = true;
            continue;
        }
        if (ai->ai_addrlen > sizeof(c->addr) || (c = calloc(1, sizeof(*c))) == NULL)
            continue;
        *c = (spine_conn_t){.pool = pool,
                            .url = u,
                            .addrlen = ai->ai_addrlen,
                            .listed = true,
                            .backoff_ms = 50,
                            .next_id = (uint32_t)rand()};
        memcpy(&c->addr, ai->ai_addr, ai->ai_addrlen);
        char host[INET6_ADDRSTRLEN] = "?";
        const void *a = ai->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                                                  : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
        inet_ntop(ai->ai_family, a, host, sizeof(host));
        snprintf(c->name, sizeof(c->name), "%s:%s", host, pool->urls[u].port);
        h2o_linklist_init_anchor(&c->sent);
        c->next = pool->conns;
        pool->conns = c;
        spine_conn_dial(c);
    }
    for (spine_conn_t *c = pool->conns; c != NULL; c = next) {
        next = c->next;
        if (c->url == u && !c->listed && (c->state != SPINE_READY || c->outstanding == 0))
            spine_conn_free(c);
    }
}

static void
spine_on_resolved(h2o_hostinfo_getaddr_req_t *req, const char *errstr, struct addrinfo *res, void *arg)
{
    spine_url_t *url = arg;
    url->resolving = NULL;
    if (errstr == NULL)
        spine_pool_found(url->pool, (size_t)(url - url->pool->urls), res);
    else if (strcmp(errstr, gai_strerror(EAI_NONAME)) == 0)
        spine_pool_found(url->pool, (size_t)(url - url->pool->urls), NULL); /* no worker is ready */
    else
        log_debug("resolving %s: %s (the workers known stay)", url->host, errstr);
}

void
spine_pool_discover(spine_pool_t *pool)
{
    pool->resolved_at_ms = clock_monotonic_ms();
    for (size_t u = 0; u < pool->nurls; u++) {
        spine_url_t *url = &pool->urls[u];
        if (url->numeric) {
            struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV}, *res;
            if (getaddrinfo(url->host, url->port, &hints, &res) == 0) {
                spine_pool_found(pool, u, res);
                freeaddrinfo(res);
            }
        } else if (url->resolving == NULL) {
            url->resolving = h2o_hostinfo_getaddr(&pool->loop->ctx->receivers.hostinfo_getaddr,
                                                  h2o_iovec_init(url->host, strlen(url->host)),
                                                  h2o_iovec_init(url->port, strlen(url->port)), AF_UNSPEC, SOCK_STREAM,
                                                  IPPROTO_TCP, AI_ADDRCONFIG | AI_NUMERICSERV, spine_on_resolved, url);
        }
    }
}
