/* roost-worker's pool and broker modes (supervisor.c). */
#ifndef ROOST_BROKER_SUPERVISOR_H
#define ROOST_BROKER_SUPERVISOR_H

/* Runs the pool: the broker clients dial, and `workers` child processes
 * of this binary (0: the broker alone) that it restarts when they die.
 * The caller has checked ROOST_SERVICES. Returns the exit status. */
int supervisor_run(int workers);

#endif
