/*
 * The worker's database: mongoc and libsodium started once, and the pool
 * of MongoDB clients (ROOST_MONGODB_URI) its handlers borrow from, set to
 * fail fast while the database is down.
 */
#ifndef ROOST_RUNTIME_DATABASE_H
#define ROOST_RUNTIME_DATABASE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

/* Starts mongoc (its log lines in ours) and libsodium, and opens the
 * client pool with at most `max_clients`. False after logging why. */
bool database_open(int max_clients);
/* The pool database_open opened. */
mongoc_client_pool_t *database_clients_pool(void);
/* Closes the pool and mongoc. */
void database_close(void);

#endif
