/*
 * One worker process: a REP socket that dials every broker of its pool,
 * ROOST_WORKER_CONCURRENCY contexts each served by its own thread, and a
 * pooled MongoDB client. Handlers block on MongoDB, so each context has a
 * thread rather than sharing nng's callback threads, which must not block.
 */
#include "runtime/serve.h"
#include "runtime/answer.h"
#include "runtime/breaker.h"
#include "runtime/database.h"
#include "runtime/direct.h"
#include "runtime/services.h"
#include "runtime/tick.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "token.h"
#include "transport.h"

#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    nng_socket sock;
    pthread_t tid;
    nng_aio *_Atomic recv; /* its receive, which a stop cancels; NULL until made */
} worker_thread_t;

/* Set on SIGTERM: each context finishes the request it holds, answers it,
 * and takes no other; an idle one's receive is cancelled. */
static atomic_bool worker_stopping;
static atomic_int worker_busy;                          /* nng contexts answering a request now */
static int worker_deadline_ms = CFG_DEFAULT_TIMEOUT_MS; /* ROOST_REQUEST_TIMEOUT_MS */

/* Waits for a reply sent earlier on `send` (if any) to leave; frees it if
 * it could not. */
static void
worker_sent(nng_aio *send, bool *pending)
{
    if (!*pending)
        return;
    nng_aio_wait(send);
    int rv = nng_aio_result(send);
    if (rv != 0) {
        log_warn("a reply was not sent: %s (its client gets a timeout)", nng_strerror(rv));
        nng_msg_free(nng_aio_get_msg(send)); /* still ours when the send failed */
    }
    *pending = false;
}

static void *
worker_serve(void *arg)
{
    worker_thread_t *t = arg;
    nng_ctx ctx;
    nng_aio *aio, *send = NULL;
    bool sending = false;

    if (nng_ctx_open(&ctx, t->sock) != 0 || nng_aio_alloc(&aio, NULL, NULL) != 0 ||
        nng_aio_alloc(&send, NULL, NULL) != 0) {
        log_error("cannot open an nng context");
        return NULL;
    }
    atomic_store(&t->recv, aio);
    answer_hold_client(true);
    /* An idle context waits without a timeout: one that woke every so
     * often to look for a stop cost every worker a timer thread's wake-ups
     * (bench/profile.sh); a stop cancels the receive instead. */
    while (!atomic_load(&worker_stopping)) {
        nng_ctx_recv(ctx, aio);
        nng_aio_wait(aio);
        int rv = nng_aio_result(aio);
        if (rv == NNG_ECLOSED)
            break;
        if (rv != 0)
            continue; /* cancelled: look at worker_stopping again */
        nng_msg *msg = nng_aio_get_msg(aio);
        bson_t reply;
        atomic_fetch_add(&worker_busy, 1);
        worker_answer(nng_msg_body(msg), nng_msg_len(msg), &reply);
        atomic_fetch_sub(&worker_busy, 1);
        nng_msg_clear(msg);
        if (nng_msg_append(msg, bson_get_data(&reply), reply.len) != 0) {
            nng_msg_free(msg);
            bson_destroy(&reply);
            continue;
        }
        bson_destroy(&reply);
        /* The reply goes out on its own aio and the context waits for the
         * next request at once: when the pipe is busy sending, waiting for
         * this send would cost the thread one more sleep and wake-up per
         * request (bench/spine.py). A REP context may receive while its
         * last reply is still queued; it only may not send twice. Past the
         * request's deadline nobody waits for the reply: a send never holds
         * the context longer (a stop waits for it). */
        worker_sent(send, &sending);
        nng_aio_set_timeout(send, worker_deadline_ms);
        nng_aio_set_msg(send, msg);
        nng_ctx_send(ctx, send);
        sending = true;
    }
    worker_sent(send, &sending);
    answer_hold_client(false);
    nng_aio_free(send); /* `aio` is freed once joined: a stop may still cancel it */
    nng_ctx_close(ctx);
    return NULL;
}

/* The REP socket, dialing every broker of the pool
 * (ROOST_WORKER_URL: "tcp://a:7101,tcp://b:7101"). */
static bool
worker_open_socket(nng_socket *sock, const char *url)
{
    bson_error_t why;
    int rv;
    if ((rv = nng_rep0_open(sock)) != 0) {
        log_error("cannot open REP socket: %s", nng_strerror(rv));
        return false;
    }
    transport_defaults(*sock);
    if (transport_attach_all(*sock, url, false, &why) != 0) {
        log_error("ROOST_WORKER_URL=%s: %s", url, why.message);
        nng_close(*sock);
        return false;
    }
    return true;
}

/* Serves on `sock` with `concurrency` contexts until SIGTERM or SIGINT
 * (`stop`), then finishes what the contexts hold. */
static void
worker_serve_until_stopped(nng_socket sock, const char *url, int concurrency, sigset_t *stop)
{
    worker_thread_t *threads = calloc((size_t)concurrency, sizeof(*threads));
    int sig;
    if (threads == NULL) {
        log_error("out of memory");
        return;
    }
    for (int i = 0; i < concurrency; i++) {
        threads[i].sock = sock;
        pthread_create(&threads[i].tid, NULL, worker_serve, &threads[i]);
    }
    log_info("worker serving %s with %d contexts", url, concurrency);
    sigwait(stop, &sig);
    /* Gracefully: the requests held are answered; those the socket has not
     * handed to a context yet are re-sent by the broker to another worker
     * when this one's pipe closes. */
    log_info("worker stopping on signal %d: finishing the requests it holds", sig);
    direct_stop_reading(); /* the ingress re-sends what it sent here and this worker did not read */
    atomic_store(&worker_stopping, true);
    /* A stop is bounded: every request held is answered within its
     * deadline, so a stop still under way two seconds past it is stuck
     * somewhere, and SIGALRM ends the process rather than let it hold its
     * pod or its slot. */
    alarm((unsigned)(worker_deadline_ms / 1000 + 3));
    for (int i = 0; i < concurrency; i++) {
        nng_aio *recv;
        /* Cancelled until it ends: a context between two receives when it
         * is first cancelled starts another, which the next round cancels. */
        while (pthread_tryjoin_np(threads[i].tid, NULL) != 0) {
            if ((recv = atomic_load(&threads[i].recv)) != NULL)
                nng_aio_cancel(recv);
            usleep(10 * 1000);
        }
        nng_aio_free(atomic_load(&threads[i].recv));
    }
    direct_finish(worker_deadline_ms);
    free(threads);
}

/* roost_worker_busy_contexts: what the autoscaler weighs (docs/deploy.md). */
static double
worker_busy_now(void)
{
    return atomic_load(&worker_busy) + direct_busy();
}

int
worker_run(void)
{
    int concurrency = (int)cfg_int("ROOST_WORKER_CONCURRENCY", 16, 1, 1024);
    const char *url = cfg_str("ROOST_WORKER_URL", CFG_DEFAULT_WORKER_URL);
    nng_socket sock;
    sigset_t stop;
    int status = 1;

    worker_deadline_ms = cfg_request_timeout_ms();
    /* Block the stop signals before any thread exists, then wait for them here. */
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    token_config(); /* refuses to start without a secret outside development */
    if (!services_select())
        return 2;
    /* Two clients per context: its own, and one for an ask it answers in
     * process (sdk/ask.c, one deep at most); twice that with the direct
     * listener, whose handlers are as many again. */
    const char *serve_url = cfg_str("ROOST_SERVE_URL", "");
    if (!database_open((serve_url[0] != '\0' ? 4 : 2) * concurrency))
        goto done;
    svc_ask_locally(answer_locally);
    metrics_const_label("service", cfg_str("ROOST_SERVICES", "all"));
    answer_metrics_init();
    metrics_gauge_fn("roost_worker_busy_contexts",
                     "Requests this worker is answering now, from the ingress and from its brokers.", worker_busy_now);
    /* Without its metrics a worker still serves: a port that cannot be
     * served is reported (metrics.c), and the worker goes on, rather than
     * exit and be restarted by its pool again and again. */
    if (!metrics_serve())
        log_warn("serving without metrics");
    if (!breaker_start(cfg_str("ROOST_MONGODB_URI", CFG_DEFAULT_MONGODB_URI))) {
        log_error("cannot start the database probe");
        goto done_metrics;
    }
    if (serve_url[0] != '\0' && !direct_start(serve_url, concurrency))
        goto done_breaker;
    if (worker_open_socket(&sock, url)) {
        tick_start();
        worker_serve_until_stopped(sock, url, concurrency, &stop);
        tick_stop();
        nng_close(sock);
        status = 0;
    } else {
        direct_finish(worker_deadline_ms);
    }
done_breaker:
    breaker_stop();
done_metrics:
    metrics_serve_stop();
done:
    database_close();
    return status;
}
