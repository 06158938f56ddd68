/*
 * The worker pool: a broker and a supervisor in one process.
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
 *
 * The supervisor half starts ROOST_WORKERS children of this same binary
 * and restarts any that exits.
 */
#include "client.h"
#include "config.h"
#include "transport.h"
#include "envelope.h"
#include "log.h"
#include "metrics.h"
#include "worker.h"

#include <errno.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX_JOBS 1024
#define POOL_HEADER_MAX 256

enum job_state { JOB_FREE, JOB_TO_WORKER, JOB_FROM_WORKER, JOB_TO_CLIENT };

typedef struct pool_job {
    nng_ctx ctx; /* on the worker-side REQ socket */
    nng_aio *aio;
    enum job_state state;
    uint8_t header[POOL_HEADER_MAX]; /* the client's backtrace, to route the reply */
    size_t header_len;
    char rid[ENVELOPE_RID_MAX + 1];
    struct timespec received; /* when the client's request came */
    struct pool_job *next_free;
} pool_job_t;

static struct {
    nng_socket front;   /* raw REP, clients dial it */
    client_req_t *back; /* REQ, workers dial it */
    nng_aio *recv_aio;
    int timeout_ms;
    pthread_mutex_t lock;
    pool_job_t *free_jobs;
    int busy;      /* jobs in flight, under lock */
    bool stopping; /* SIGTERM: take no new request, under lock */
    pool_job_t jobs[POOL_MAX_JOBS];
} pool;

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
enum pool_outcome { POOL_ANSWERED, POOL_NO_WORKERS, POOL_OVERLOADED, POOL_TIMEOUT, POOL_OUTCOMES };
static struct {
    atomic_int waiting;
    metrics_series_t *wait, *outcomes[POOL_OUTCOMES];
} pool_metrics;

static double
pool_queue_depth(void)
{
    return atomic_load(&pool_metrics.waiting);
}

static double
pool_in_flight(void)
{
    pthread_mutex_lock(&pool.lock);
    int busy = pool.busy;
    pthread_mutex_unlock(&pool.lock);
    return busy;
}

static double
pool_workers_connected(void)
{
    return pool.back != NULL ? client_req_pipes(pool.back) : 0;
}

static void
pool_metrics_init(void)
{
    metrics_gauge_fn("roost_broker_queue_depth", "Requests waiting for a worker to take them.", pool_queue_depth);
    metrics_gauge_fn("roost_broker_requests_in_flight", "Requests received and not yet answered.", pool_in_flight);
    metrics_gauge_fn("roost_broker_workers_connected", "Worker pipes connected to this broker.",
                     pool_workers_connected);
    pool_metrics.wait = metrics_series(metrics_histogram("roost_broker_wait_seconds",
                                                         "Time from a request's arrival to a worker taking it.", NULL,
                                                         metrics_seconds_buckets, metrics_seconds_buckets_count),
                                       NULL);
    metrics_family_t *outcomes = metrics_counter(
        "roost_broker_requests_total",
        "Requests by outcome: answered (by a worker), no_workers and overloaded (503), timeout (504).", "outcome");
    static const char *const names[POOL_OUTCOMES] = {"answered", "no_workers", "overloaded", "timeout"};
    for (int i = 0; i < POOL_OUTCOMES; i++)
        pool_metrics.outcomes[i] = metrics_series(outcomes, (const char *const[]){names[i]});
}

/* The end of one request through the broker: counted, and logged at debug
 * level with its request id (joins the ingress's and the worker's lines). */
static void
pool_done(const pool_job_t *job, enum pool_outcome outcome, int status)
{
    metrics_add(pool_metrics.outcomes[outcome], 1);
    log_request(LOG_DEBUG, job->rid, NULL, status, metrics_seconds_since(&job->received), "through the broker");
}

static void
pool_rid_of(nng_msg *msg, char *out)
{
    envelope_peek_rid(nng_msg_body(msg), nng_msg_len(msg), out);
}

/* Replaces the body of `msg` (which keeps its routing header) with an
 * error reply and sends it to the client without waiting. */
static void
pool_answer_error(nng_msg *msg, const char *rid, int status, const char *code, const char *message)
{
    bson_t reply;
    envelope_reply_error(&reply, rid, status, code, message, NULL);
    nng_msg_clear(msg);
    if (nng_msg_append(msg, bson_get_data(&reply), reply.len) != 0 ||
        nng_sendmsg(pool.front, msg, NNG_FLAG_NONBLOCK) != 0)
        nng_msg_free(msg);
    bson_destroy(&reply);
}

static void
pool_release(pool_job_t *job)
{
    pthread_mutex_lock(&pool.lock);
    job->state = JOB_FREE;
    job->next_free = pool.free_jobs;
    pool.free_jobs = job;
    pool.busy--;
    pthread_mutex_unlock(&pool.lock);
}

static void
pool_job_cb(void *arg)
{
    pool_job_t *job = arg;
    int rv = nng_aio_result(job->aio);
    nng_msg *msg;

    switch (job->state) {
    case JOB_TO_WORKER:
        atomic_fetch_sub(&pool_metrics.waiting, 1);
        if (rv == 0)
            metrics_observe(pool_metrics.wait, metrics_seconds_since(&job->received));
        if (rv != 0) {
            msg = nng_aio_get_msg(job->aio);
            if (rv == NNG_ECLOSED) {
                nng_msg_free(msg);
                pool_release(job);
                return;
            }
            nng_msg_header_clear(msg);
            nng_msg_header_append(msg, job->header, job->header_len);
            pool_done(job, POOL_NO_WORKERS, 503);
            pool_answer_error(msg, job->rid, 503, "no_workers", "no worker took the request in time");
            pool_release(job);
            return;
        }
        job->state = JOB_FROM_WORKER;
        nng_aio_set_timeout(job->aio, pool.timeout_ms);
        nng_ctx_recv(job->ctx, job->aio);
        return;
    case JOB_FROM_WORKER:
        if (rv != 0) {
            if (rv != NNG_ECLOSED) {
                nng_msg *err;
                pool_done(job, POOL_TIMEOUT, 504);
                if (nng_msg_alloc(&err, 0) == 0) {
                    nng_msg_header_append(err, job->header, job->header_len);
                    pool_answer_error(err, job->rid, 504, "timeout", "no worker answered in time");
                }
            }
            pool_release(job);
            return;
        }
        msg = nng_aio_get_msg(job->aio);
        pool_done(job, POOL_ANSWERED, 0);
        nng_msg_header_clear(msg);
        nng_msg_header_append(msg, job->header, job->header_len);
        job->state = JOB_TO_CLIENT;
        nng_aio_set_timeout(job->aio, pool.timeout_ms);
        nng_aio_set_msg(job->aio, msg);
        nng_send_aio(pool.front, job->aio);
        return;
    case JOB_TO_CLIENT:
        if (rv != 0)
            nng_msg_free(nng_aio_get_msg(job->aio));
        pool_release(job);
        return;
    case JOB_FREE:
        return;
    }
}

static void
pool_recv_cb(void *arg)
{
    int rv = nng_aio_result(pool.recv_aio);
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return; /* closing, or stopping: take no more */
    if (rv == 0) {
        nng_msg *msg = nng_aio_get_msg(pool.recv_aio);
        char rid[ENVELOPE_RID_MAX + 1];
        pool_rid_of(msg, rid);
        pthread_mutex_lock(&pool.lock);
        pool_job_t *job = pool.free_jobs;
        if (job != NULL) {
            pool.free_jobs = job->next_free;
            pool.busy++;
        }
        pthread_mutex_unlock(&pool.lock);

        if (job == NULL) {
            metrics_add(pool_metrics.outcomes[POOL_OVERLOADED], 1);
            pool_answer_error(msg, rid, 503, "overloaded", "the worker pool is at capacity; retry later");
        } else if (client_req_pipes(pool.back) == 0) {
            memcpy(job->rid, rid, sizeof(rid));
            clock_gettime(CLOCK_MONOTONIC, &job->received);
            pool_done(job, POOL_NO_WORKERS, 503);
            pool_release(job);
            pool_answer_error(msg, rid, 503, "no_workers", "no worker is connected to the pool");
        } else if (nng_msg_header_len(msg) > POOL_HEADER_MAX) {
            pool_release(job);
            nng_msg_free(msg); /* more hops than any sane topology: drop */
        } else {
            job->header_len = nng_msg_header_len(msg);
            memcpy(job->header, nng_msg_header(msg), job->header_len);
            memcpy(job->rid, rid, sizeof(rid));
            clock_gettime(CLOCK_MONOTONIC, &job->received);
            nng_msg_header_clear(msg);
            atomic_fetch_add(&pool_metrics.waiting, 1);
            job->state = JOB_TO_WORKER;
            nng_aio_set_timeout(job->aio, pool.timeout_ms);
            nng_aio_set_msg(job->aio, msg);
            nng_ctx_send(job->ctx, job->aio);
        }
    }
    pthread_mutex_lock(&pool.lock);
    bool stopping = pool.stopping;
    pthread_mutex_unlock(&pool.lock);
    if (!stopping)
        nng_recv_aio(pool.front, pool.recv_aio);
}

/* The workers' side: a REQ socket workers dial, one context per job. */
static int
pool_open_back(const char *back_url)
{
    int rv;
    pthread_mutex_init(&pool.lock, NULL);
    bson_error_t error;
    if ((pool.back = client_req_open(back_url, true, &error)) == NULL) {
        log_error("workers' side: %s", error.message);
        return NNG_EADDRINUSE;
    }
    for (int i = POOL_MAX_JOBS - 1; i >= 0; i--) {
        pool_job_t *job = &pool.jobs[i];
        if ((rv = client_req_context(pool.back, &job->ctx)) != 0 ||
            (rv = nng_aio_alloc(&job->aio, pool_job_cb, job)) != 0)
            return rv;
        job->next_free = pool.free_jobs;
        pool.free_jobs = job;
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
static int
pool_open_front(const char *front_url)
{
    int rv;
    int wait_ms = (int)cfg_int("ROOST_BROKER_WAIT_MS", 5000, 0, 600000);
    for (int waited = 0; waited < wait_ms && client_req_pipes(pool.back) == 0; waited += 10)
        usleep(10 * 1000);
    if ((rv = nng_rep0_open_raw(&pool.front)) != 0)
        return rv;
    /* A client that sends more than any request can hold is dropped
     * unread (config.h); the broker's memory stays bounded. */
    nng_setopt_size(pool.front, NNG_OPT_RECVMAXSZ, (size_t)cfg_max_message_bytes());
    bson_error_t error;
    if ((rv = transport_listen(pool.front, front_url, &error)) != 0) {
        log_error("clients' side: %s", error.message);
        return rv;
    }
    if ((rv = nng_aio_alloc(&pool.recv_aio, pool_recv_cb, NULL)) != 0)
        return rv;
    nng_recv_aio(pool.front, pool.recv_aio);
    return 0;
}

typedef struct {
    pid_t pid;
    struct timespec started;
    struct timespec restart_at; /* when a crashed child may be started again */
} pool_child_t;

static double
pool_seconds(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/*
 * Starts one worker: this same binary, run by its real path so that ps,
 * top and pgrep show "roost-worker" (a program run as /proc/self/exe is
 * named "exe"), with the services it serves on its command line
 * ("roost-worker users").
 */
static pid_t
pool_spawn(const sigset_t *unblock, const char *exe, const char *services, int index)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* Each worker serves its metrics on the port after the broker's,
         * in order: ROOST_METRICS_PORT + 1 + its index. */
        int port = (int)cfg_int("ROOST_METRICS_PORT", 0, 0, 65535);
        if (port > 0) {
            char value[16];
            snprintf(value, sizeof(value), "%d", port + 1 + index);
            setenv("ROOST_METRICS_PORT", value, 1);
        }
        /* A worker must not outlive its supervisor, even one killed by SIGKILL. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        sigprocmask(SIG_UNBLOCK, unblock, NULL);
        char *const argv[] = {"roost-worker", (char *)services, NULL};
        execv(exe, argv);
        execv("/proc/self/exe", argv); /* the binary was replaced meanwhile: its old image still runs */
        _exit(127);
    }
    return pid;
}

int
pool_run(int count)
{
    const char *front = cfg_str("ROOST_POOL_URL", CFG_DEFAULT_POOL_URL);
    const char *back = cfg_str("ROOST_WORKER_URL", CFG_DEFAULT_WORKER_URL);
    const char *services = cfg_str("ROOST_SERVICES", "all");
    pool_child_t *children = NULL; /* once the broker is up */
    char exe[4096];
    ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    sigset_t sigs;
    int rv;

    if (exe_len <= 0 || (size_t)exe_len >= sizeof(exe) - 1) {
        log_error("cannot find this program's own path in /proc/self/exe");
        return 1;
    }
    exe[exe_len] = '\0';
    prctl(PR_SET_NAME, "roost-pool"); /* ps, top and pgrep tell the broker from its workers */

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGCHLD);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    if (!worker_select_services())
        return 2; /* the children would fail the same way, again and again */
    pool.timeout_ms = (int)cfg_int("ROOST_REQUEST_TIMEOUT_MS", CFG_DEFAULT_TIMEOUT_MS, 100, 600000);
    /* The workers serve their metrics on the ports after the broker's. */
    int metrics_port = (int)cfg_int("ROOST_METRICS_PORT", 0, 0, 65535);
    if (metrics_port > 0 && metrics_port + count > 65535) {
        log_error("ROOST_METRICS_PORT=%d leaves no port for %d workers' metrics (the ports after it, up to 65535)",
                  metrics_port, count);
        return 2;
    }
    metrics_const_label("service", services);
    pool_metrics_init();
    if (!metrics_serve())
        return 1;
    if ((rv = pool_open_back(back)) != 0) {
        log_error("pool broker failed to start: %s", nng_strerror(rv));
        return 1;
    }
    /* The children dial every broker of the pool (ROOST_POOL_WORKER_URLS,
     * a comma list), else this one. */
    setenv("ROOST_WORKER_URL", cfg_str("ROOST_POOL_WORKER_URLS", back), 1);
    if ((children = calloc((size_t)(count > 0 ? count : 1), sizeof(*children))) == NULL) {
        log_error("out of memory");
        return 1;
    }
    for (int i = 0; i < count; i++) {
        children[i].pid = pool_spawn(&sigs, exe, services, i);
        clock_gettime(CLOCK_MONOTONIC, &children[i].started);
    }
    if ((rv = pool_open_front(front)) != 0) {
        log_error("pool broker failed to start: %s", nng_strerror(rv));
        free(children);
        return 1;
    }
    if (count > 0)
        log_info("pool of %d workers: clients dial %s, workers dial %s", count, front, back);
    else
        log_info("broker: clients dial %s, workers dial %s", front, back);

    for (;;) {
        struct timespec tick = {0, 200 * 1000 * 1000}, now;
        siginfo_t info;
        int sig = sigtimedwait(&sigs, &info, &tick);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
            break;
        if (sig == SIGCHLD) {
            pid_t pid;
            int status;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                for (int i = 0; i < count; i++) {
                    if (children[i].pid != pid)
                        continue;
                    children[i].pid = 0;
                    /* A child that dies at once is likely to again: back off a second. */
                    children[i].restart_at = now;
                    if (pool_seconds(&children[i].started, &now) < 2.0)
                        children[i].restart_at.tv_sec += 1;
                    log_warn("worker %d exited (%s %d); restarting", (int)pid,
                             WIFSIGNALED(status) ? "signal" : "status",
                             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                }
            }
        }
        for (int i = 0; i < count; i++) {
            if (children[i].pid == 0 && pool_seconds(&children[i].restart_at, &now) >= 0) {
                children[i].pid = pool_spawn(&sigs, exe, services, i);
                children[i].started = now;
            }
        }
    }

    /* Gracefully: take no new request, finish those in flight (each is
     * bounded by its deadline), then stop the workers. Requests still
     * queued at the front are re-sent by their clients' REQ sockets to
     * another broker when this one's pipes close. */
    log_info("pool stopping: finishing the requests in flight");
    pthread_mutex_lock(&pool.lock);
    pool.stopping = true;
    pthread_mutex_unlock(&pool.lock);
    nng_aio_cancel(pool.recv_aio);
    for (int waited = 0; waited < pool.timeout_ms + 1000; waited += 20) {
        pthread_mutex_lock(&pool.lock);
        int busy = pool.busy;
        pthread_mutex_unlock(&pool.lock);
        if (busy == 0)
            break;
        usleep(20 * 1000);
    }
    log_info("pool stopping: terminating workers");
    /* What is left is bounded (5 s for the workers, then closing the
     * sockets): a stop still under way 7 s from here is stuck — once seen
     * in a broker after this line, cause unknown — and SIGALRM ends the
     * process rather than let it hold its ports, so that its supervisor
     * starts another. */
    alarm(7);
    for (int i = 0; i < count; i++)
        if (children[i].pid > 0)
            kill(children[i].pid, SIGTERM);
    for (int waited = 0; waited < 50; waited++) {
        int alive = 0;
        for (int i = 0; i < count; i++) {
            if (children[i].pid > 0 && waitpid(children[i].pid, NULL, WNOHANG) == children[i].pid)
                children[i].pid = 0;
            alive += children[i].pid > 0;
        }
        if (alive == 0)
            break;
        usleep(100 * 1000);
    }
    for (int i = 0; i < count; i++)
        if (children[i].pid > 0) {
            kill(children[i].pid, SIGKILL);
            waitpid(children[i].pid, NULL, 0);
        }
    metrics_serve_stop();
    nng_close(pool.front);
    client_req_close(pool.back);
    free(children);
    return 0;
}
