/* The versions of the places database, oldest first (migrate/migration.h). */
#include "places.h"

static const svc_index_t places_indexes[] = {
    {"places", "name_key_unique", "name_key", true},
};

/* The versions of the places database (migrate/migration.h); `roostctl migrate up places` applies them. */
const svc_migration_t places_migrations[] = {
    SVC_MIGRATION_INDEXES(1, "indexes", places_indexes),
    {0},
};
