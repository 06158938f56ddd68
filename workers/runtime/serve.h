/* roost-worker's worker mode: one process serving its pool's requests. */
#ifndef ROOST_RUNTIME_SERVE_H
#define ROOST_RUNTIME_SERVE_H

/* Serves requests until SIGTERM/SIGINT, then finishes those it holds;
 * returns the exit status. */
int worker_run(void);

#endif
