/*
 * The broker between a pool's clients and its workers.
 *
 * Clients (the ingress, roostctl, internal services) dial ROOST_POOL_URL
 * with REQ sockets. Workers dial ROOST_WORKER_URL with REP sockets, so a
 * worker that starts anywhere joins by dialing, and one that leaves just
 * drops its pipe: nothing is reconfigured. Between the two the broker
 * holds a raw REP socket towards clients and a cooked REQ socket towards
 * workers, one REQ context per request in flight. Because that REQ side is
 * cooked, nng re-sends a request whose worker died (even by kill -9) to
 * another worker; the workers make writes idempotent by request id.
 *
 * This is a hand-written forwarder rather than nng_device because a device
 * drops messages under back-pressure; here a request is either forwarded,
 * answered with 503, or answered with 504 at its deadline.
 */
#include "broker/broker.h"
#include "client.h"
#include "clock.h"
#include "config.h"
#include "envelope.h"
#include "log.h"
#include "metrics.h"
#include "transport.h"

#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define BROKER_MAX_JOBS 1024
#define BROKER_HEADER_MAX 256

enum job_state { JOB_FREE, JOB_TO_WORKER, JOB_FROM_WORKER, JOB_TO_CLIENT };

typedef struct broker_job {
    nng_ctx ctx; /* on the worker-side REQ socket */
    nng_aio *aio;
    enum job_state state;
    uint8_t header[BROKER_HEADER_MAX]; /* the client's backtrace, to route the reply */
    size_t header_len;
    char rid[ENVELOPE_RID_MAX + 1];
    struct timespec received; /* when the client's request came */
    struct broker_job *next_free;
} broker_job_t;

static struct {
    nng_socket front;   /* raw REP, clients dial it */
    client_req_t *back; /* REQ, workers dial it */
    nng_aio *recv_aio;
    int timeout_ms;
    pthread_mutex_t lock;
    broker_job_t *free_jobs;
    int busy;      /* jobs in flight, under lock */
    bool stopping; /* SIGTERM: take no new request, under lock */
    broker_job_t jobs[BROKER_MAX_JOBS];
} broker;

/*
 * The broker's metrics (shared/metrics.h), served at ROOST_METRICS_PORT:
 *   roost_broker_queue_depth          requests waiting for a worker's pipe to take them
 *   roost_broker_requests_in_flight   requests received and not yet answered
 *   roost_broker_workers_connected    worker pipes connected now
 *   roost_broker_wait_seconds         histogram: from a request's arrival to a worker taking it
 *   roost_broker_requests_total{outcome}  answered, no_workers (503), overloaded (503), timeout (504)
 * nng re-sends a request whose worker's pipe closed inside its REQ socket,
 * out of the broker's sight: such a request shows as a longer wait.
 */
enum broker_outcome { BROKER_ANSWERED, BROKER_NO_WORKERS, BROKER_OVERLOADED, BROKER_TIMEOUT, BROKER_OUTCOMES };
static struct {
    atomic_int waiting;
    metrics_series_t *wait, *outcomes[BROKER_OUTCOMES];
} broker_metrics;

static double
broker_queue_depth(void)
{
    return atomic_load(&broker_metrics.waiting);
}

static double
broker_in_flight(void)
{
    pthread_mutex_lock(&broker.lock);
    int busy = broker.busy;
    pthread_mutex_unlock(&broker.lock);
    return busy;
}

static double
broker_workers_connected(void)
{
    return broker.back != NULL ? client_req_pipes(broker.back) : 0;
}

void
broker_metrics_init(void)
{
    metrics_gauge_fn("roost_broker_queue_depth", "Requests waiting for a worker to take them.", broker_queue_depth);
    metrics_gauge_fn("roost_broker_requests_in_flight", "Requests received and not yet answered.", broker_in_flight);
    metrics_gauge_fn("roost_broker_workers_connected", "Worker pipes connected to this broker.",
                     broker_workers_connected);
    broker_metrics.wait = metrics_series(metrics_histogram("roost_broker_wait_seconds",
                                                           "Time from a request's arrival to a worker taking it.", NULL,
                                                           metrics_seconds_buckets, metrics_seconds_buckets_count),
                                         NULL);
    metrics_family_t *outcomes = metrics_counter(
        "roost_broker_requests_total",
        "Requests by outcome: answered (by a worker), no_workers and overloaded (503), timeout (504).", "outcome");
    static const char *const names[BROKER_OUTCOMES] = {"answered", "no_workers", "overloaded", "timeout"};
    for (int i = 0; i < BROKER_OUTCOMES; i++)
        broker_metrics.outcomes[i] = metrics_series(outcomes, (const char *const[]){names[i]});
}

/* The end of one request through the broker: counted, and logged at debug
 * level with its request id (joins the ingress's and the worker's lines). */
static void
broker_done(const broker_job_t *job, enum broker_outcome outcome, int status)
{
    metrics_add(broker_metrics.outcomes[outcome], 1);
    log_request(LOG_DEBUG, job->rid, NULL, status, clock_seconds_since(&job->received), "through the broker");
}

static void
broker_rid_of(nng_msg *msg, char *out)
{
    envelope_peek_rid(nng_msg_body(msg), nng_msg_len(msg), out);
}

/* Replaces the body of `msg` (which keeps its routing header) with an
 * error reply and sends it to the client without waiting. */
static void
broker_answer_error(nng_msg *msg, const char *rid, int status, const char *code, const char *message)
{
    bson_t reply;
    envelope_reply_error(&reply, rid, status, code, message, NULL);
    nng_msg_clear(msg);
    if (nng_msg_append(msg, bson_get_data(&reply), reply.len) != 0 ||
        nng_sendmsg(broker.front, msg, NNG_FLAG_NONBLOCK) != 0)
        nng_msg_free(msg);
    bson_destroy(&reply);
}

static void
broker_release(broker_job_t *job)
{
    pthread_mutex_lock(&broker.lock);
    job->state = JOB_FREE;
    job->next_free = broker.free_jobs;
    broker.free_jobs = job;
    broker.busy--;
    pthread_mutex_unlock(&broker.lock);
}

static void
broker_job_cb(void *arg)
{
    broker_job_t *job = arg;
    int rv = nng_aio_result(job->aio);
    nng_msg *msg;

    switch (job->state) {
    case JOB_TO_WORKER:
        atomic_fetch_sub(&broker_metrics.waiting, 1);
        if (rv == 0)
            metrics_observe(broker_metrics.wait, clock_seconds_since(&job->received));
        if (rv != 0) {
            msg = nng_aio_get_msg(job->aio);
            if (rv == NNG_ECLOSED) {
                nng_msg_free(msg);
                broker_release(job);
                return;
            }
            nng_msg_header_clear(msg);
            nng_msg_header_append(msg, job->header, job->header_len);
            broker_done(job, BROKER_NO_WORKERS, 503);
            broker_answer_error(msg, job->rid, 503, "no_workers", "no worker took the request in time");
            broker_release(job);
            return;
        }
        job->state = JOB_FROM_WORKER;
        nng_aio_set_timeout(job->aio, broker.timeout_ms);
        nng_ctx_recv(job->ctx, job->aio);
        return;
    case JOB_FROM_WORKER:
        if (rv != 0) {
            if (rv != NNG_ECLOSED) {
                nng_msg *err;
                broker_done(job, BROKER_TIMEOUT, 504);
                if (nng_msg_alloc(&err, 0) == 0) {
                    nng_msg_header_append(err, job->header, job->header_len);
                    broker_answer_error(err, job->rid, 504, "timeout", "no worker answered in time");
                }
            }
            broker_release(job);
            return;
        }
        msg = nng_aio_get_msg(job->aio);
        broker_done(job, BROKER_ANSWERED, 0);
        nng_msg_header_clear(msg);
        nng_msg_header_append(msg, job->header, job->header_len);
        job->state = JOB_TO_CLIENT;
        nng_aio_set_timeout(job->aio, broker.timeout_ms);
        nng_aio_set_msg(job->aio, msg);
        nng_send_aio(broker.front, job->aio);
        return;
    case JOB_TO_CLIENT:
        if (rv != 0)
            nng_msg_free(nng_aio_get_msg(job->aio));
        broker_release(job);
        return;
    case JOB_FREE:
        return;
    }
}

static void
broker_recv_cb(void *arg)
{
    int rv = nng_aio_result(broker.recv_aio);
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return; /* closing, or stopping: take no more */
    if (rv == 0) {
        nng_msg *msg = nng_aio_get_msg(broker.recv_aio);
        char rid[ENVELOPE_RID_MAX + 1];
        broker_rid_of(msg, rid);
        pthread_mutex_lock(&broker.lock);
        broker_job_t *job = broker.free_jobs;
        if (job != NULL) {
            broker.free_jobs = job->next_free;
            broker.busy++;
        }
        pthread_mutex_unlock(&broker.lock);

        if (job == NULL) {
            metrics_add(broker_metrics.outcomes[BROKER_OVERLOADED], 1);
            broker_answer_error(msg, rid, 503, "overloaded", "the worker pool is at capacity; retry later");
        } else if (client_req_pipes(broker.back) == 0) {
            memcpy(job->rid, rid, sizeof(rid));
            clock_gettime(CLOCK_MONOTONIC, &job->received);
            broker_done(job, BROKER_NO_WORKERS, 503);
            broker_release(job);
            broker_answer_error(msg, rid, 503, "no_workers", "no worker is connected to the pool");
        } else if (nng_msg_header_len(msg) > BROKER_HEADER_MAX) {
            broker_release(job);
            nng_msg_free(msg); /* more hops than any sane topology: drop */
        } else {
            job->header_len = nng_msg_header_len(msg);
            memcpy(job->header, nng_msg_header(msg), job->header_len);
            memcpy(job->rid, rid, sizeof(rid));
            clock_gettime(CLOCK_MONOTONIC, &job->received);
            nng_msg_header_clear(msg);
            atomic_fetch_add(&broker_metrics.waiting, 1);
            job->state = JOB_TO_WORKER;
            nng_aio_set_timeout(job->aio, broker.timeout_ms);
            nng_aio_set_msg(job->aio, msg);
            nng_ctx_send(job->ctx, job->aio);
        }
    }
    pthread_mutex_lock(&broker.lock);
    bool stopping = broker.stopping;
    pthread_mutex_unlock(&broker.lock);
    if (!stopping)
        nng_recv_aio(broker.front, broker.recv_aio);
}

/* The workers' side: a REQ socket workers dial, one context per job. */
int
broker_open_back(const char *back_url)
{
    int rv;
    pthread_mutex_init(&broker.lock, NULL);
    broker.timeout_ms = cfg_request_timeout_ms();
    bson_error_t error;
    if ((broker.back = client_req_open(back_url, true, &error)) == NULL) {
        log_error("workers' side: %s", error.message);
        return NNG_EADDRINUSE;
    }
    for (int i = BROKER_MAX_JOBS - 1; i >= 0; i--) {
        broker_job_t *job = &broker.jobs[i];
        if ((rv = client_req_context(broker.back, &job->ctx)) != 0 ||
            (rv = nng_aio_alloc(&job->aio, broker_job_cb, job)) != 0)
            return rv;
        job->next_free = broker.free_jobs;
        broker.free_jobs = job;
    }
    return 0;
}

/*
 * The clients' side, opened once a worker is connected (or after
 * ROOST_BROKER_WAIT_MS without one): a broker that has just (re)started
 * must not answer 503 no_workers to clients that another broker of the
 * pool would have served. A pool with no worker at all still answers
 * no_workers at once after that wait.
 */
int
broker_open_front(const char *front_url)
{
    int rv;
    int wait_ms = (int)cfg_int("ROOST_BROKER_WAIT_MS", 5000, 0, 600000);
    for (int waited = 0; waited < wait_ms && client_req_pipes(broker.back) == 0; waited += 10)
        usleep(10 * 1000);
    if ((rv = nng_rep0_open_raw(&broker.front)) != 0)
        return rv;
    /* A client that sends more than any request can hold is dropped
     * unread (config.h); the broker's memory stays bounded. */
    transport_defaults(broker.front);
    bson_error_t error;
    if ((rv = transport_listen(broker.front, front_url, &error)) != 0) {
        log_error("clients' side: %s", error.message);
        return rv;
    }
    if ((rv = nng_aio_alloc(&broker.recv_aio, broker_recv_cb, NULL)) != 0)
        return rv;
    nng_recv_aio(broker.front, broker.recv_aio);
    return 0;
}

void
broker_drain(void)
{
    pthread_mutex_lock(&broker.lock);
    broker.stopping = true;
    pthread_mutex_unlock(&broker.lock);
    nng_aio_cancel(broker.recv_aio);
    for (int waited = 0; waited < broker.timeout_ms + 1000; waited += 20) {
        pthread_mutex_lock(&broker.lock);
        int busy = broker.busy;
        pthread_mutex_unlock(&broker.lock);
        if (busy == 0)
            break;
        usleep(20 * 1000);
    }
}

void
broker_close(void)
{
    nng_close(broker.front);
    client_req_close(broker.back);
}
