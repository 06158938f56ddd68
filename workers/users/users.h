/* The users service: accounts, stored in the database <prefix>users. */
#ifndef ROOST_USERS_H
#define ROOST_USERS_H

#include "service.h"

extern const svc_service_t users_service;

/* A validated registration; strings point into the request body. */
typedef struct {
    const char *username;
    const char *password;
    const char *first_name;
    const char *last_name;
    const char *birth_date;
    const char *email; /* NULL when not given */
} users_new_t;

/* Checks a registration body field by field; exposed for unit tests. */
bool users_validate_new(const bson_t *body, ferr_t *e, users_new_t *out);

#define USERS_PER_PAGE_DEFAULT 10
#define USERS_PER_PAGE_MAX 100

#endif
