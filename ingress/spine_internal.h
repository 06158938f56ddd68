/*
 * What the two halves of the direct path share: spine.c (calls: sending,
 * queueing, deadlines, replies) and spine_conn.c (one loop's connections
 * to the workers, and finding the workers). Everything here belongs to one
 * loop and is touched only on its thread.
 */
#ifndef ROOST_SPINE_INTERNAL_H
#define ROOST_SPINE_INTERNAL_H

#include "call.h"
#include "envelope.h"
#include "routes.h"

#include <h2o.h>
#include <openssl/ssl.h>
#include <netdb.h>
#include <stdint.h>
#include <sys/socket.h>

#define SPINE_MAX_POOLS 16
#define SPINE_MAX_URLS 16
#define SPINE_GRACE_MS 1000           /* with no worker reachable, a request waits this long, as client.c's */
#define SPINE_CONNECT_TIMEOUT_MS 2000 /* a dial, handshake included */
#define SPINE_TICK_MS 50

typedef struct spine_pool spine_pool_t;
typedef struct spine_conn spine_conn_t;
typedef struct spine_loop spine_loop_t;

typedef struct {
    uint8_t *p;
    size_t len, cap;
} spine_bytes_t;

typedef struct spine_call {
    h2o_linklist_t link; /* in its connection's `sent`, or its pool's `queue` */
    h2o_timeout_entry_t deadline;
    spine_pool_t *pool;
    spine_conn_t *conn;   /* NULL while queued */
    int64_t queued_at_ms; /* when it last joined the queue */
    h2o_req_t *req;       /* NULL once the client went away, or was answered */
    bool answered;        /* its response was given (504 at the deadline): it only waits for its reply */
    struct spine_call **req_slot;
    const route_t *route;
    call_then_t then; /* call.h: who takes the reply, when not reply_render */
    char rid[ENVELOPE_RID_MAX + 1];
    size_t len;      /* of `frame` */
    uint8_t frame[]; /* as it goes on the wire: length, request id, envelope */
} spine_call_t;

enum spine_state { SPINE_DOWN, SPINE_CONNECTING, SPINE_GREETING, SPINE_READY };

struct spine_conn {
    spine_pool_t *pool;
    size_t url; /* the pool URL it was found under */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char name[80]; /* host:port, for the logs */
    h2o_socket_t *sock;
    enum spine_state state;
    bool listed; /* in its URL's latest resolution: may take new requests */
    bool warned; /* its failures to connect were logged since it last was ready */
    h2o_linklist_t sent;
    int outstanding;
    uint32_t next_id;
    int64_t retry_at_ms; /* down: when to dial again; dialing: when to give up */
    int backoff_ms;
    spine_bytes_t pending, writing; /* to write next; held by the write under way */
    spine_conn_t *next;
};

typedef struct {
    spine_pool_t *pool;
    char host[256], port[16];
    bool numeric;
    SSL_CTX *tls; /* tls+tcp://: mutual TLS (shared/tls.h); NULL for tcp:// */
    h2o_hostinfo_getaddr_req_t *resolving;
} spine_url_t;

struct spine_pool {
    size_t index; /* in spine.c's table of pools */
    spine_loop_t *loop;
    spine_conn_t *conns;
    h2o_linklist_t queue;
    spine_url_t urls[SPINE_MAX_URLS];
    size_t nurls;
    int64_t resolved_at_ms;
    bool ever_ready; /* a connection of this loop to this pool was ready once */
};

struct spine_loop {
    h2o_context_t *ctx;
    h2o_timeout_t deadline, tick, resolve;
    h2o_timeout_entry_t tick_entry, resolve_entry;
    spine_pool_t pools[SPINE_MAX_POOLS];
    size_t npools;
};

/* spine_conn.c */
void spine_pool_discover(spine_pool_t *pool);
spine_conn_t *spine_pool_pick(spine_pool_t *pool);
bool spine_pool_ready(const spine_pool_t *pool);
bool spine_pool_dialing(const spine_pool_t *pool);
void spine_conn_send(spine_conn_t *c, const uint8_t *bytes, size_t len);
void spine_conns_tick(spine_pool_t *pool, int64_t now_ms, bool *again);
void spine_tick_arm(spine_loop_t *loop);

/* spine.c */
int spine_capacity(void);
uint64_t spine_max_message(void);
void spine_dispatch(spine_pool_t *pool);
void spine_requeue(spine_pool_t *pool, h2o_linklist_t *sent);
void spine_replied(spine_conn_t *c, uint32_t id, const uint8_t *body, size_t len);
void spine_count_ready(const spine_pool_t *pool, int n); /* a connection became ready (1) or stopped being (-1) */

#endif
