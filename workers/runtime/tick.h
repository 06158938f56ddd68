/*
 * The services' ticks: an op a service names in svc_service_t.tick_op is
 * run by each worker that serves it, once a second, in process, through
 * the same checks as any request (worker_answer): what keeps work that a
 * request could not finish moving (the properties' listing snapshots).
 */
#ifndef ROOST_RUNTIME_TICK_H
#define ROOST_RUNTIME_TICK_H

/* Starts the tick thread when a served service has a tick op. */
void tick_start(void);
/* Stops it, waiting for a tick under way; safe when none was started. */
void tick_stop(void);

#endif
