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

/* The search of docs/search.md, on the snapshot of the property each
 * listing keeps: the city and the type in page order, the counts and the
 * area as ranges, and the map. */
static const svc_index_t listings_search_indexes[] = {
    {"listings", "live_city_created", "deleted_at,property.city_key,-created_at", false},
    {"listings", "live_ptype_created", "deleted_at,property.type,-created_at", false},
    {"listings", "live_bedrooms", "deleted_at,property.bedrooms", false},
    {"listings", "live_area", "deleted_at,property.living_area_m2", false},
    {"listings", "location_2dsphere", "property.location:2dsphere", false},
};

/* Keyword search on the snapshot (query/words.h): the property's name,
 * city, and every word of it, weighted as the properties' own index. */
static const svc_index_t listings_text_indexes[] = {
    {"listings", "search_text", "property.name:text:10,property.city:text:5,property.words:text:1", false},
};

/* The facets' other groups (facets.c): with these, each facet of an
 * indexed search is counted from the keys on the embedded database. */
static const svc_index_t listings_facet_indexes[] = {
    {"listings", "live_bathrooms", "deleted_at,property.bathrooms", false},
    {"listings", "live_pcity", "deleted_at,property.city", false},
};

/* The versions of the listings database (migrate/migration.h); `roostctl migrate up listings` applies them.
 * The snapshots themselves are written by the properties workers
 * (properties migrations 5 and 8 mark every property to be sent). */
const svc_migration_t listings_migrations[] = {
    SVC_MIGRATION_INDEXES(1, "indexes", listings_indexes),
    SVC_MIGRATION_INDEXES(2, "search_indexes", listings_search_indexes),
    SVC_MIGRATION_INDEXES(3, "text_index", listings_text_indexes),
    SVC_MIGRATION_INDEXES(4, "facet_indexes", listings_facet_indexes),
    {0},
};
