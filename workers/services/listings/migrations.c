/* The versions of the listings database, oldest first (migrate/migration.h). */
#include "listings.h"

static const svc_index_t listings_indexes[] = {
    {"listings", "rid_unique", "rid", true},
    /* Every list reads live listings (deleted_at absent) newest first:
     * each filter's index leads with deleted_at and, where a filter
     * matches many listings, ends with created_at, so that a page and
     * its total are index steps (docs/embedded-db.md). */
    {"listings", "live_created", "deleted_at,-created_at", false},
    {"listings", "live_user_created", "deleted_at,user_id,-created_at", false},
    {"listings", "live_type_created", "deleted_at,listing_type,-created_at", false},
    {"listings", "live_price", "deleted_at,price", false},
    {"listings", "live_property", "deleted_at,property_id", false},
};

/* The versions of the listings database (migrate/migration.h); `roostctl migrate up listings` applies them. */
const svc_migration_t listings_migrations[] = {
    SVC_MIGRATION_INDEXES(1, "indexes", listings_indexes),
    {0},
};
