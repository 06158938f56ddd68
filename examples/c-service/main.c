/*
 * city-report: a small internal service of the kind Roost's client library
 * is for. It skips HTTP and asks the properties pool over nng for the live
 * properties per city (properties.cities), then for each city's newest
 * property (properties.list), and prints one line a city:
 *
 *     <count>\t<city>\t<newest property's name>
 *
 * Built against the installed library only: find_package(Roost) and
 * Roost::client (CMakeLists.txt here), or pkg-config's "roost".
 *
 *     city-report tcp://127.0.0.1:7100 [TIMEOUT_MS]
 *
 * Exit status: 0 when every answer was 200, 1 when one was not, 2 when the
 * pool could not be asked.
 */
#include <roost/roost.h>

#include <stdio.h>
#include <stdlib.h>

/* The reply's status, with its body in *body (a view into `reply`). */
static int
reply_status(const bson_t *reply, bson_t *body)
{
    bson_iter_t it;
    int status = bson_iter_init_find(&it, reply, "status") ? (int)bson_iter_as_int64(&it) : 0;
    uint32_t len;
    const uint8_t *data;
    bson_init(body);
    if (bson_iter_init_find(&it, reply, "body") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        bson_iter_document(&it, &len, &data);
        bson_init_static(body, data, len);
    }
    return status;
}

/* The name of the newest live property in `city`, or "-". */
static int
newest_in(roost_client_t *client, const char *city, char *name, size_t size)
{
    bson_t *request = BCON_NEW("query", "{", "city", BCON_UTF8(city), "per_page", BCON_UTF8("1"), "order_by",
                               BCON_UTF8("-created_at"), "}");
    bson_t reply, body;
    bson_error_t error;
    bson_iter_t it;
    snprintf(name, size, "-");
    bool ok = roost_client_call(client, "properties.list", request, &reply, &error);
    bson_destroy(request);
    if (!ok) {
        fprintf(stderr, "city-report: properties.list: %s\n", error.message);
        return 0;
    }
    int status = reply_status(&reply, &body);
    if (status == 200 && bson_iter_init(&it, &body) && bson_iter_find_descendant(&it, "items.0.name", &it) &&
        BSON_ITER_HOLDS_UTF8(&it))
        snprintf(name, size, "%s", bson_iter_utf8(&it, NULL));
    bson_destroy(&reply);
    return status;
}

int
main(int argc, char **argv)
{
    bson_error_t error;
    bson_t reply, body;
    bson_iter_t it, items;
    if (argc < 2) {
        fprintf(stderr, "usage: city-report POOL_URL [TIMEOUT_MS]\n");
        return 2;
    }
    roost_client_t *client = roost_client_open(argv[1], argc > 2 ? atoi(argv[2]) : 5000, &error);
    if (client == NULL || !roost_client_call(client, "properties.cities", NULL, &reply, &error)) {
        fprintf(stderr, "city-report: %s\n", error.message);
        roost_client_close(client);
        return 2;
    }
    int exit_status = reply_status(&reply, &body) == 200 ? 0 : 1;
    if (exit_status == 0 && bson_iter_init_find(&it, &body, "items") && bson_iter_recurse(&it, &items)) {
        while (bson_iter_next(&items)) {
            bson_iter_t city, count;
            char name[256];
            if (!bson_iter_recurse(&items, &city) || !bson_iter_find(&city, "city"))
                continue;
            const char *city_name = bson_iter_utf8(&city, NULL);
            bson_iter_recurse(&items, &count);
            bson_iter_find(&count, "count");
            if (newest_in(client, city_name, name, sizeof(name)) != 200)
                exit_status = 1;
            printf("%lld\t%s\t%s\n", (long long)bson_iter_as_int64(&count), city_name, name);
        }
    }
    bson_destroy(&reply);
    roost_client_close(client);
    return exit_status;
}
