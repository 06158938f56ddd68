/* The errors h2o makes by itself (413, broken framing, 404 of a static
 * file, 417), given Roost's shapes and request id (filter.h). */
#include "filter.h"
#include "envelope.h"
#include "problem.h"
#include "respond.h"
#include "routes.h"

#include <string.h>

typedef struct {
    h2o_ostream_t super;
    h2o_iovec_t body; /* in the request's pool */
} filter_rewrite_t;

/* Replaces h2o's plain-text body with ours; h2o_send_inline sends it whole. */
static void
filter_rewrite_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    filter_rewrite_t *r = (filter_rewrite_t *)self;
    bool head = h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"));
    if (h2o_send_state_is_in_progress(state)) {
        h2o_ostream_send_next(self, req, NULL, 0, state);
        return;
    }
    h2o_ostream_send_next(self, req, head ? NULL : &r->body, head ? 0 : 1, state);
}

static void (*filter_start_hook)(h2o_req_t *req);

void
filter_on_response_start(void (*hook)(h2o_req_t *req))
{
    filter_start_hook = hook;
}

static void
filter_on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    /* Every response Roost makes carries its request id; one without it is h2o's own. */
    if (req->res.status >= 400 && h2o_find_header_by_str(&req->res.headers, H2O_STRLIT("x-request-id"), -1) < 0) {
        char rid[ENVELOPE_RID_MAX + 1];
        route_match_t m;
        int status = req->res.status;
        size_t path_len = route_path_len(req->input.path.len, req->input.query_at);
        /* The shape of the route the request was for, whoever made the
         * error: h2o's 413 under /reso/odata is an OData error object too. */
        unsigned shape = 0;
        if (req->input.path.base != NULL) {
            route_result_t found =
                routes_match(req->input.method.base, req->input.method.len, req->input.path.base, path_len, &m);
            shape = found == ROUTE_FOUND                                ? route_error_shape(m.route->flags)
                    : found == ROUTE_BAD_METHOD                         ? route_error_shape(m.path_flags)
                    : routes_odata_path(req->input.path.base, path_len) ? ROUTE_ODATA
                                                                        : 0;
        }
        const char *code = status == 413 ? "body_too_large" : status == 404 ? "not_found" : "bad_request";
        char *detail = status == 413   ? problem_body_too_large()
                       : status == 404 ? bson_strdup("no such file")
                       : status == 417 ? bson_strdup("the only expectation this server meets is 100-continue")
                                       : bson_strdup("the request is not valid HTTP/1.1 (broken framing)");
        envelope_new_rid(rid);
        size_t len;
        char *body = problem_render(shape, status, code, detail, NULL, rid, &len);
        bson_free(detail);
        filter_rewrite_t *r = (filter_rewrite_t *)h2o_add_ostream(req, sizeof(*r), slot);
        r->super.do_send = filter_rewrite_send;
        r->body = h2o_strdup(&req->pool, body, len);
        bson_free(body);
        ssize_t ct;
        while ((ct = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1)) >= 0)
            h2o_delete_header(&req->res.headers, ct);
        const char *type = problem_content_type(shape);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
        if (shape & ROUTE_ODATA)
            respond_odata_version(req);
        h2o_iovec_t id = h2o_strdup(&req->pool, rid, strlen(rid));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, id.base, id.len);
        respond_cors(req);
        req->res.reason = problem_reason(status);
        req->res.content_length = len;
        slot = &r->super.next;
    }
    if (filter_start_hook != NULL)
        filter_start_hook(req);
    h2o_setup_next_ostream(req, slot);
}

void
filter_register(h2o_pathconf_t *pathconf)
{
    h2o_filter_t *filter = h2o_create_filter(pathconf, sizeof(*filter));
    filter->on_setup_ostream = filter_on_setup_ostream;
}
