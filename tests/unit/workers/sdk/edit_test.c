/* The optimistic edit loop (workers/sdk/edit.c), driven through its checks
 * and through lost races by a store that lives in memory. */
#include "roost_test.h"

#include "sdk/edit.h"

#include <sodium.h>

/* The document the fake store holds, and what happens to commits. */
static struct {
    bson_t doc;
    bool found, load_fails;
    int losses;      /* commits that lose before one wins; -1: every one */
    bool commit_err; /* the commit fails with a database error */
    int loads, commits, changes, replies, finishes;
    int attempts[SVC_EDIT_ATTEMPTS + 1];
    svc_edit_outcome_t outcome;
    int64_t replied_version;
} fake;

static bool
fake_load(svc_call_t *call, const svc_edit_t *edit, bson_t *out, bool *found, bson_error_t *error)
{
    fake.loads++;
    if (fake.load_fails) {
        bson_set_error(error, 1, 1, "the database is down");
        return false;
    }
    *found = fake.found;
    if (fake.found) {
        bson_destroy(out);
        bson_copy_to(&fake.doc, out);
    }
    return true;
}

/* Each loss is another writer's version: the stored version moves on. */
static int
fake_commit(svc_call_t *call, const svc_edit_t *edit, int64_t version, const bson_t *update, bson_t *made,
            bson_error_t *error)
{
    fake.commits++;
    if (fake.commit_err) {
        bson_set_error(error, 1, 1, "write failed");
        return -1;
    }
    bson_t next = BSON_INITIALIZER;
    bson_iter_t it;
    bool lose = fake.losses != 0;
    if (fake.losses > 0)
        fake.losses--;
    bson_copy_to_excluding_noinit(&fake.doc, &next, "version", "last_rid", NULL);
    BSON_APPEND_INT64(&next, "version", version + 1);
    BSON_APPEND_UTF8(&next, "last_rid",
                     lose ? "another:writer"
                          : (bson_iter_init_find(&it, update, "last_rid") ? bson_iter_utf8(&it, NULL) : ""));
    bson_destroy(&fake.doc);
    bson_steal(&fake.doc, &next);
    return lose ? 0 : 1;
}

static const svc_edit_store_t fake_store = {fake_load, fake_commit};

static bool
fake_change(svc_call_t *call, const bson_t *current, int64_t version, int attempt, bson_t *update, void *arg)
{
    fake.attempts[fake.changes++] = attempt;
    if (arg != NULL) { /* refuses */
        svc_fail(call, 400, "validation_failed", "refused");
        return false;
    }
    BSON_APPEND_UTF8(update, "last_rid", call->key);
    return true;
}

static void
fake_render(const bson_t *doc, bson_t *out)
{
    bson_iter_t it;
    fake.replies++;
    fake.replied_version = bson_iter_init_find(&it, doc, "version") ? bson_iter_as_int64(&it) : 0;
    bson_init(out);
}

static void
fake_finish(svc_call_t *call, svc_edit_outcome_t outcome, void *arg)
{
    fake.finishes++;
    fake.outcome = outcome;
}

/* A fresh store holding {_id: 7, owner_id: 3, version: 5} and a call by user 3. */
static void
setup(envelope_request_t *req, svc_call_t *call, svc_edit_t *edit)
{
    bson_destroy(&fake.doc);
    memset(&fake, 0, sizeof(fake));
    bson_init(&fake.doc);
    BSON_APPEND_INT64(&fake.doc, "_id", 7);
    BSON_APPEND_INT64(&fake.doc, "owner_id", 3);
    BSON_APPEND_INT64(&fake.doc, "version", 5);
    fake.found = true;
    memset(req, 0, sizeof(*req));
    req->auth_sub = 3;
    memset(call, 0, sizeof(*call));
    call->req = req;
    snprintf(call->key, sizeof(call->key), "rid-1:abc");
    *edit = (svc_edit_t){.service = "things",
                         .collection = "things",
                         .id = 7,
                         .noun = "thing",
                         .owner_field = "owner_id",
                         .forbidden = "only the owner may change this thing",
                         .change = fake_change,
                         .render = fake_render,
                         .finish = fake_finish,
                         .store = &fake_store};
}

static int64_t
reply_status(svc_call_t *call)
{
    bson_iter_t it;
    int64_t status = bson_iter_init_find(&it, &call->reply, "status") ? bson_iter_as_int64(&it) : 0;
    bson_destroy(&call->reply);
    return status;
}

static void
edit_refuses_before_changing(void **state)
{
    envelope_request_t req;
    svc_call_t call;
    svc_edit_t edit;

    setup(&req, &call, &edit);
    fake.found = false;
    assert_int_equal(svc_edit(&call, &edit), SVC_EDIT_REFUSED);
    assert_int_equal(reply_status(&call), 404);

    setup(&req, &call, &edit);
    req.auth_sub = 4;
    svc_edit(&call, &edit);
    assert_int_equal(reply_status(&call), 403);

    setup(&req, &call, &edit); /* a stranger cannot tell a tombstone from nothing */
    req.auth_sub = 4;
    BSON_APPEND_INT64(&fake.doc, "deleted_at", 1);
    svc_edit(&call, &edit);
    assert_int_equal(reply_status(&call), 404);

    setup(&req, &call, &edit);
    BSON_APPEND_INT64(&fake.doc, "deleted_at", 1);
    svc_edit(&call, &edit);
    assert_int_equal(reply_status(&call), 404);

    setup(&req, &call, &edit); /* If-Match: "4" while it is at 5 */
    req.has_expect = true;
    req.nexpect = 1;
    req.expect[0] = 4;
    svc_edit(&call, &edit);
    assert_int_equal(reply_status(&call), 412);

    setup(&req, &call, &edit);
    fake.load_fails = true;
    svc_edit(&call, &edit);
    assert_int_equal(reply_status(&call), 500);

    setup(&req, &call, &edit);
    edit.arg = &edit; /* the change refuses */
    assert_int_equal(svc_edit(&call, &edit), SVC_EDIT_REFUSED);
    assert_int_equal(reply_status(&call), 400);
    assert_int_equal(fake.commits, 0);
    assert_int_equal(fake.finishes, 1);
    assert_int_equal(fake.outcome, SVC_EDIT_REFUSED);
}

/* A second delivery finds its own change and answers as the first did,
 * even on a tombstone it made. */
static void
edit_answers_a_redelivery_as_the_first(void **state)
{
    envelope_request_t req;
    svc_call_t call;
    svc_edit_t edit;

    setup(&req, &call, &edit);
    BSON_APPEND_UTF8(&fake.doc, "last_rid", "rid-1:abc");
    assert_int_equal(svc_edit(&call, &edit), SVC_EDIT_REPLAYED);
    assert_int_equal(reply_status(&call), 200);
    assert_int_equal(fake.replies, 1);
    assert_int_equal(fake.changes, 0);

    setup(&req, &call, &edit);
    edit.no_content = true;
    BSON_APPEND_UTF8(&fake.doc, "last_rid", "rid-1:abc");
    BSON_APPEND_INT64(&fake.doc, "deleted_at", 1);
    assert_int_equal(svc_edit(&call, &edit), SVC_EDIT_REPLAYED);
    assert_int_equal(reply_status(&call), 204);
}

/* Lost races: each loss reads the winner's version again and builds the
 * change anew; the made version is the one after the last loss. */
static void
edit_retries_after_a_lost_race(void **state)
{
    envelope_request_t req;
    svc_call_t call;
    svc_edit_t edit;

    setup(&req, &call, &edit);
    fake.losses = 2;
    assert_int_equal(svc_edit(&call, &edit), SVC_EDIT_MADE);
    assert_int_equal(reply_status(&call), 200);
    assert_int_equal(fake.commits, 3);
    assert_int_equal(fake.changes, 3);
    assert_int_equal(fake.attempts[0], 0);
    assert_int_equal(fake.attempts[2], 2);
    assert_int_equal(fake.loads, 4); /* three rounds, and the document read back */
    assert_int_equal(fake.replied_version, 8);
    assert_int_equal(fake.outcome, SVC_EDIT_MADE);

    /* Under If-Match, the winner's version no longer matches: 412. */
    setup(&req, &call, &edit);
    req.has_expect = true;
    req.nexpect = 1;
    req.expect[0] = 5;
    fake.losses = 1;
    assert_int_equal(svc_edit(&call, &edit), SVC_EDIT_REFUSED);
    assert_int_equal(reply_status(&call), 412);
    assert_int_equal(fake.commits, 1);
}

/* Losing every round ends in 409, after SVC_EDIT_ATTEMPTS rounds with a
 * pause between them. */
static void
edit_gives_up_with_409(void **state)
{
    envelope_request_t req;
    svc_call_t call;
    svc_edit_t edit;
    struct timespec start, end;

    setup(&req, &call, &edit);
    fake.losses = -1;
    clock_gettime(CLOCK_MONOTONIC, &start);
    assert_int_equal(svc_edit(&call, &edit), SVC_EDIT_REFUSED);
    clock_gettime(CLOCK_MONOTONIC, &end);
    assert_int_equal(reply_status(&call), 409);
    assert_int_equal(fake.commits, SVC_EDIT_ATTEMPTS);
    assert_int_equal(fake.finishes, 1);
    /* At least 1 ms of back-off after each lost round. */
    double ms = (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6;
    assert_true(ms >= SVC_EDIT_ATTEMPTS);
}

static void
commit_failed_409(svc_call_t *call, const bson_error_t *error, void *arg)
{
    svc_fail(call, 409, "taken", "%s", error->message);
}

static void
edit_passes_a_commit_error_on(void **state)
{
    envelope_request_t req;
    svc_call_t call;
    svc_edit_t edit;

    setup(&req, &call, &edit);
    fake.commit_err = true;
    svc_edit(&call, &edit);
    assert_int_equal(reply_status(&call), 500);

    setup(&req, &call, &edit);
    fake.commit_err = true;
    edit.commit_failed = commit_failed_409;
    svc_edit(&call, &edit);
    assert_int_equal(reply_status(&call), 409);
    assert_int_equal(fake.outcome, SVC_EDIT_REFUSED);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    bson_init(&fake.doc);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(edit_refuses_before_changing),   cmocka_unit_test(edit_answers_a_redelivery_as_the_first),
        cmocka_unit_test(edit_retries_after_a_lost_race), cmocka_unit_test(edit_gives_up_with_409),
        cmocka_unit_test(edit_passes_a_commit_error_on),
    };
    int failed = cmocka_run_group_tests_name("/sdk/edit", tests, NULL, NULL);
    bson_destroy(&fake.doc);
    return failed;
}
