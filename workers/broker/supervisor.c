/*
 * The pool's supervisor: `roost-worker --pool N` runs the broker and N
 * workers, children of this same binary, and starts again any that exits;
 * `--broker` runs the broker alone (N = 0), for pools whose workers run
 * apart and dial every broker (make run, Kubernetes).
 */
#include "broker/supervisor.h"
#include "broker/broker.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "sp.h"

#include <nng/nng.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    struct timespec started;
    struct timespec restart_at; /* when a crashed child may be started again */
} supervisor_child_t;

/*
 * In a child: each worker listens for the ingress on a port of its own,
 * ROOST_SERVE_URL's port + its index, so the ingress's list of the pool's
 * workers (ROOST_WORKERS_URL) is that port counted up ROOST_WORKERS times.
 */
static void
supervisor_serve_url(int index)
{
    const char *url = cfg_str("ROOST_SERVE_URL", "");
    bool tls;
    char host[256], port[16], value[300];
    if (url[0] == '\0' || !sp_url_parse(url, &tls, host, sizeof(host), port, sizeof(port)))
        return; /* the worker itself refuses a bad one, with its reason */
    snprintf(value, sizeof(value), "%s://%s%s%s:%d", tls ? "tls+tcp" : "tcp", strchr(host, ':') ? "[" : "", host,
             strchr(host, ':') ? "]" : "", atoi(port) + index);
    setenv("ROOST_SERVE_URL", value, 1);
}

/*
 * Starts one worker: this same binary, run by its real path so that ps,
 * top and pgrep show "roost-worker" (a program run as /proc/self/exe is
 * named "exe"), with the services it serves on its command line
 * ("roost-worker users").
 */
static pid_t
supervisor_spawn(const sigset_t *unblock, const char *exe, const char *services, int index)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* Each worker serves its metrics on the port after the broker's,
         * in order: ROOST_METRICS_PORT + 1 + its index. */
        int port = cfg_metrics_port();
        if (port > 0) {
            char value[16];
            snprintf(value, sizeof(value), "%d", port + 1 + index);
            setenv("ROOST_METRICS_PORT", value, 1);
        }
        supervisor_serve_url(index);
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

/* Restarts the children that exited (SIGCHLD) once their pause is over,
 * until a stop signal. */
static void
supervisor_watch(supervisor_child_t *children, int count, sigset_t *sigs, const char *exe, const char *services)
{
    for (;;) {
        struct timespec tick = {0, 200 * 1000 * 1000}, now;
        siginfo_t info;
        int sig = sigtimedwait(sigs, &info, &tick);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP)
            return;
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
                    if (clock_seconds_between(&children[i].started, &now) < 2.0)
                        children[i].restart_at.tv_sec += 1;
                    log_warn("worker %d exited (%s %d); restarting", (int)pid,
                             WIFSIGNALED(status) ? "signal" : "status",
                             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                }
            }
        }
        for (int i = 0; i < count; i++) {
            if (children[i].pid == 0 && clock_seconds_between(&children[i].restart_at, &now) >= 0) {
                children[i].pid = supervisor_spawn(sigs, exe, services, i);
                children[i].started = now;
            }
        }
    }
}

/* SIGTERM to every child, SIGKILL to those still there after 5 s. */
static void
supervisor_stop_children(supervisor_child_t *children, int count)
{
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
}

/* The broker's sockets and metrics, and the first children, started in
 * the order that lets the workers connect before clients are taken. */
static int
supervisor_start(supervisor_child_t *children, int count, sigset_t *sigs, const char *exe, const char *services)
{
    const char *front = cfg_str("ROOST_POOL_URL", CFG_DEFAULT_POOL_URL);
    const char *back = cfg_str("ROOST_WORKER_URL", CFG_DEFAULT_WORKER_URL);
    int rv;
    metrics_const_label("service", services);
    broker_metrics_init();
    if (!metrics_serve())
        return 1;
    if ((rv = broker_open_back(back)) != 0) {
        log_error("pool broker failed to start: %s", nng_strerror(rv));
        return 1;
    }
    /* The children dial every broker of the pool (ROOST_POOL_WORKER_URLS,
     * a comma list), else this one. */
    setenv("ROOST_WORKER_URL", cfg_str("ROOST_POOL_WORKER_URLS", back), 1);
    for (int i = 0; i < count; i++) {
        children[i].pid = supervisor_spawn(sigs, exe, services, i);
        clock_gettime(CLOCK_MONOTONIC, &children[i].started);
    }
    if ((rv = broker_open_front(front)) != 0) {
        log_error("pool broker failed to start: %s", nng_strerror(rv));
        return 1;
    }
    if (count > 0)
        log_info("pool of %d workers: clients dial %s, workers dial %s", count, front, back);
    else
        log_info("broker: clients dial %s, workers dial %s", front, back);
    return 0;
}

int
supervisor_run(int count)
{
    const char *services = cfg_str("ROOST_SERVICES", "all");
    char exe[4096];
    ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    sigset_t sigs;

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

    /* The workers serve their metrics on the ports after the broker's. */
    int metrics_port = cfg_metrics_port();
    if (metrics_port > 0 && metrics_port + count > 65535) {
        log_error("ROOST_METRICS_PORT=%d leaves no port for %d workers' metrics (the ports after it, up to 65535)",
                  metrics_port, count);
        return 2;
    }
    supervisor_child_t *children = calloc((size_t)(count > 0 ? count : 1), sizeof(*children));
    if (children == NULL) {
        log_error("out of memory");
        return 1;
    }
    if (supervisor_start(children, count, &sigs, exe, services) != 0) {
        free(children);
        return 1;
    }
    supervisor_watch(children, count, &sigs, exe, services);

    /* Gracefully: take no new request, finish those in flight (each is
     * bounded by its deadline), then stop the workers. Requests still
     * queued at the front are re-sent by their clients' REQ sockets to
     * another broker when this one's pipes close. */
    log_info("pool stopping: finishing the requests in flight");
    broker_drain();
    log_info("pool stopping: terminating workers");
    /* What is left is bounded (5 s for the workers, then closing the
     * sockets): a stop still under way 7 s from here is stuck — once seen
     * in a broker after this line, cause unknown — and SIGALRM ends the
     * process rather than let it hold its ports, so that its supervisor
     * starts another. */
    alarm(7);
    supervisor_stop_children(children, count);
    metrics_serve_stop();
    broker_close();
    free(children);
    return 0;
}
