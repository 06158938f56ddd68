/*
 * The broker of one pool (broker.c): the raw REP socket clients dial and
 * the REQ socket workers dial, and the forwarding between them. It knows
 * nothing of the services: it depends on shared/ only.
 */
#ifndef ROOST_BROKER_H
#define ROOST_BROKER_H

/* Its metric families (roost_broker_*); once, before metrics_serve. */
void broker_metrics_init(void);

/* The workers' side: listens on `back_url` (a comma list) for workers.
 * An nng error, 0 on success. */
int broker_open_back(const char *back_url);

/* The clients' side, opened once a worker is connected (or after
 * ROOST_BROKER_WAIT_MS without one). An nng error, 0 on success. */
int broker_open_front(const char *front_url);

/* Takes no new request and waits for those in flight, each bounded by
 * its deadline (ROOST_REQUEST_TIMEOUT_MS). */
void broker_drain(void);

/* Closes both sides. */
void broker_close(void);

#endif
