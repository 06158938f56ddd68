/* `roostctl call`: see call.c. */
#ifndef ROOST_TOOLS_CALL_H
#define ROOST_TOOLS_CALL_H

/* Sends `op` with the request `json` (NULL: none). Exit status: 0 for a
 * 2xx reply, 1 for any other reply, 2 when no reply. */
int roostctl_call(const char *op, const char *json);

#endif
