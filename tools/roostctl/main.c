/*
 * roostctl: operator's command line.
 *   roostctl call OP [JSON]   one request to OP's pool, its reply printed (call.c)
 *   roostctl seed …           fill the database through the API (seed.h)
 *   roostctl migrate …        the services' database migrations (migrate.c)
 */
#include "call.h"
#include "config.h"
#include "migrate.h"
#include "seed.h"

#include <stdio.h>
#include <string.h>

static int
usage(void)
{
    fprintf(stderr,
            "usage: roostctl call OP [JSON]\n"
            "       roostctl migrate status|up|down [SERVICE|all] [TARGET]\n"
            "       roostctl seed [--seed N] [--places N] [--users N] [--properties N] [--listings N] [--jobs N] "
            "[--quiet]\n"
            "  JSON: {\"params\": {...}, \"query\": {...}, \"body\": {...}, \"auth\": {\"sub\": ID}, "
            "\"expect_version\": [3]}\n"
            "  the pool is ROOST_POOL_URL_<SERVICE>, else ROOST_POOL_URL (default %s)\n",
            CFG_DEFAULT_POOL_URL);
    return 2;
}

int
main(int argc, char **argv)
{
    if (argc >= 3 && argc <= 4 && strcmp(argv[1], "call") == 0)
        return roostctl_call(argv[2], argc == 4 ? argv[3] : NULL);
    if (argc >= 2 && strcmp(argv[1], "migrate") == 0)
        return roostctl_migrate(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "seed") == 0)
        return roostctl_seed(argc - 1, argv + 1);
    return usage();
}
