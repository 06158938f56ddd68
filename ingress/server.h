/*
 * The HTTP server of the ingress: h2o event loops, each made and run on its
 * own thread (h2o 2.2.5 recycles socket buffers through per-thread pools
 * without locks, so a loop whose sockets were made on another thread
 * corrupts that thread's pool), all accepting on one port (SO_REUSEPORT).
 */
#ifndef ROOST_SERVER_H
#define ROOST_SERVER_H

#include <h2o.h>
#include <stdbool.h>

/*
 * Starts `threads` loops serving `config` on host:port; `on_replies` is the
 * receiver of completed calls each loop registers (call_on_replies), and
 * `on_start` runs on each loop's thread before it serves (spine_loop_start).
 * Returns once every loop listens; false (after logging why) when the
 * address cannot be used.
 */
bool server_start(h2o_globalconf_t *config, const char *host, int port, int threads,
                  h2o_multithread_receiver_cb on_replies, void (*on_start)(h2o_context_t *ctx));

/* Stops accepting connections (graceful stop): the listening sockets are
 * shut down; connections already open go on. */
void server_stop_accepting(void);

/* The receiver of completed calls of the loop that owns `req`. */
h2o_multithread_receiver_t *server_replies_of(h2o_req_t *req);

#endif
