/*
 * The worker's direct listener: the ingress's hot path into a worker, with
 * no broker and no nng thread between them. It speaks nng's SP REP
 * protocol over TCP (shared/sp.h), so any REQ socket may dial it too, and
 * serves next to the REP socket that dials the brokers (internal callers'
 * front door), on the same handler code (answer.h).
 *
 * One I/O thread on epoll reads whole messages and queues them; handler
 * threads take them in order, answer, and write the reply to the
 * connection themselves (through the I/O thread only when the socket
 * cannot take it all at once). A request costs one hand-off, not nng's
 * several.
 */
#ifndef ROOST_RUNTIME_DIRECT_H
#define ROOST_RUNTIME_DIRECT_H

#include <stdbool.h>

/* Listens on `url` ("tcp://host:port") and starts the I/O thread and
 * `handlers` handler threads. False (logged) when it cannot listen. */
bool direct_start(const char *url, int handlers);

/* A stop's first step: closes the listener and reads no more requests;
 * those already read are still answered. No-op when not started. */
void direct_stop_reading(void);

/* Answers every request already read, writes the replies out (within
 * `deadline_ms`), closes the connections and joins every thread. */
void direct_finish(int deadline_ms);

/* How many handler threads are answering a request now. */
int direct_busy(void);

#endif
