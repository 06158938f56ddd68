/* The versions of the users database, oldest first (migrate/migration.h). */
#include "users.h"

/* Every query users_list exposes has an index behind it. */
static const svc_index_t users_indexes[] = {
    {"users", "username_key_unique", "username_key", true},
    {"users", "rid_unique", "rid", true},
    {"users", "created_at", "-created_at", false},
    {"users", "last_name", "last_name", false},
    {"users", "place_id", "place_id", false},
};

/* The versions of the users database (migrate/migration.h); `roostctl migrate up users` applies them. */
const svc_migration_t users_migrations[] = {
    SVC_MIGRATION_INDEXES(1, "indexes", users_indexes),
    {0},
};
