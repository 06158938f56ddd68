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

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The usage, to `out`; 0 when it was asked for (stdout), 2 after a usage error. */
static int
usage(FILE *out)
{
    fprintf(out,
            "usage: roostctl call OP [JSON]\n"
            "       roostctl migrate status|up|down [SERVICE|all] [TARGET]\n"
            "       roostctl seed [--seed N] [--places N] [--users N] [--properties N] [--listings N] [--jobs N] "
            "[--quiet]\n"
            "  JSON: {\"params\": {...}, \"query\": {...}, \"body\": {...}, \"auth\": {\"sub\": ID}, "
            "\"expect_version\": [3]}\n"
            "  the pool is ROOST_POOL_URL_<SERVICE>, else ROOST_POOL_URL (default %s)\n",
            CFG_DEFAULT_POOL_URL);
    return out == stdout ? 0 : 2;
}

static bool
asks_for_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int
main(int argc, char **argv)
{
    /* --help anywhere is a question, not a mistake: the usage on stdout, 0.
     * migrate and seed answer it with their own. */
    bool help = false;
    for (int i = 1; i < argc; i++)
        help = help || asks_for_help(argv[i]);
    if (help && (argc < 2 || (strcmp(argv[1], "migrate") != 0 && strcmp(argv[1], "seed") != 0)))
        return usage(stdout);
    if (argc >= 3 && argc <= 4 && strcmp(argv[1], "call") == 0)
        return roostctl_call(argv[2], argc == 4 ? argv[3] : NULL);
    if (argc >= 2 && strcmp(argv[1], "migrate") == 0)
        return roostctl_migrate(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "seed") == 0)
        return roostctl_seed(argc - 1, argv + 1);
    return usage(stderr);
}
