/* users.by_place: the people of some places, for the places service (to be written). */
#include "users.h"

void
users_by_place(svc_call_t *call)
{
    svc_fail(call, 501, "not_implemented", "users.by_place is not written yet");
}
