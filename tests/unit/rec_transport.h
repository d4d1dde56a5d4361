/* A recording fake of the network for the unit tests: a wdr_transport_t
 * whose post keeps a copy of every request (URL, header lines, body) and
 * answers from a script, one canned answer per API action.
 *
 *   static const rec_answer_t script[] = {
 *       {.action = "GetOpsAsyncJob", .body = "{...}"},   HTTP 200
 *       {.action = NULL, .status = 503},                 any other action
 *   };
 *   rec_transport_t rec;
 *   rec_init(&rec, script, 2);
 *   wdr_transport_t t = rec_transport(&rec);
 *   ...
 *   rec_request_t req;
 *   rec_get(&rec, 0, &req);  rec_header(&req, "X-TC-Action")
 *   rec_free(&rec);
 *
 * post may run on several worker threads at once: a mutex guards the
 * records, and it never calls a cmocka assert (they longjmp, which must
 * only happen on the main thread); the test asserts on what it recorded. */
#ifndef WDR_REC_TRANSPORT_H
#define WDR_REC_TRANSPORT_H

#include "testutil.h"

#include "wdr_http.h"

#include <pthread.h>
#include <stdbool.h>

#define REC_REQUESTS_MAX 64 /* requests kept; later ones are only counted */
#define REC_HEADERS_MAX 12

typedef struct {
  char url[256];
  char headers[REC_HEADERS_MAX][512];
  size_t headers_num;
  char body[8192];
  bool cut; /* something did not fit above: the test fails on it */
} rec_request_t;

/* How to answer a request for action. */
typedef struct {
  const char *action; /* X-TC-Action; NULL matches any action */
  long status;        /* 0 means 200 */
  const char *body;   /* NULL: an empty body */
  wdr_http_outcome_t outcome;
  bool not_sent; /* a NETWORK outcome that provably never left */
} rec_answer_t;

typedef struct {
  pthread_mutex_t lock;
  rec_request_t *reqs; /* REC_REQUESTS_MAX of them */
  size_t num;          /* requests seen, kept or not */
  size_t unscripted;   /* requests no script entry matched (answered 599) */
  const rec_answer_t *script;
  size_t script_num;
  int post_result; /* non-zero: post "could not even try" */
} rec_transport_t;

static inline void rec_init(rec_transport_t *r, const rec_answer_t *script,
                            size_t script_num) {
  memset(r, 0, sizeof(*r));
  pthread_mutex_init(&r->lock, NULL);
  r->reqs = calloc(REC_REQUESTS_MAX, sizeof(*r->reqs));
  assert_non_null(r->reqs);
  r->script = script;
  r->script_num = script_num;
}

static inline void rec_free(rec_transport_t *r) {
  free(r->reqs);
  r->reqs = NULL;
  pthread_mutex_destroy(&r->lock);
}

/* The value of header name in req ("Name: value"), or NULL. */
static inline const char *rec_header(const rec_request_t *req,
                                     const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < req->headers_num; i++)
    if (strncmp(req->headers[i], name, n) == 0 && req->headers[i][n] == ':' &&
        req->headers[i][n + 1] == ' ')
      return req->headers[i] + n + 2;
  return NULL;
}

static inline void rec_copy(char *dst, size_t size, const char *src, size_t len,
                            bool *cut) {
  if (len >= size) {
    *cut = true;
    len = size - 1;
  }
  memcpy(dst, src, len);
  dst[len] = '\0';
}

static inline int rec_post(void *ctx, const wdr_http_request_t *req,
                           wdr_http_response_t *resp) {
  rec_transport_t *r = ctx;
  rec_request_t *q = NULL;
  pthread_mutex_lock(&r->lock);
  if (r->num < REC_REQUESTS_MAX)
    q = &r->reqs[r->num];
  r->num++;
  if (q != NULL) {
    rec_copy(q->url, sizeof(q->url), req->url, strlen(req->url), &q->cut);
    q->headers_num = req->headers_num;
    if (q->headers_num > REC_HEADERS_MAX) {
      q->cut = true;
      q->headers_num = REC_HEADERS_MAX;
    }
    for (size_t i = 0; i < q->headers_num; i++)
      rec_copy(q->headers[i], sizeof(q->headers[i]), req->headers[i],
               strlen(req->headers[i]), &q->cut);
    rec_copy(q->body, sizeof(q->body), req->body, req->body_len, &q->cut);
  }
  /* The action is looked up in the request itself, kept or not. */
  const char *action = "";
  for (size_t i = 0; i < req->headers_num; i++)
    if (strncmp(req->headers[i], "X-TC-Action: ", 13) == 0)
      action = req->headers[i] + 13;
  const rec_answer_t *a = NULL;
  for (size_t i = 0; i < r->script_num && a == NULL; i++)
    if (r->script[i].action == NULL || strcmp(r->script[i].action, action) == 0)
      a = &r->script[i];
  if (a == NULL)
    r->unscripted++;
  int result = r->post_result;
  pthread_mutex_unlock(&r->lock);
  if (result != 0)
    return result;
  if (a == NULL) { /* a status nobody scripts, so that it shows */
    resp->outcome = WDR_HTTP_DONE;
    resp->request_sent = true;
    resp->status = 599;
    return 0;
  }
  resp->outcome = a->outcome;
  resp->request_sent = !a->not_sent;
  resp->seconds = 0.125;
  if (a->outcome == WDR_HTTP_NETWORK) {
    snprintf(resp->error, sizeof(resp->error), "%s", "Connection refused");
    return 0;
  }
  resp->status = a->status != 0 ? a->status : 200;
  if (a->body != NULL && wdr_buf_append_str(&resp->body, a->body) != 0)
    return -1;
  return 0;
}

static inline wdr_transport_t rec_transport(rec_transport_t *r) {
  return (wdr_transport_t){.post = rec_post, .ctx = r};
}

/* Requests seen so far (any thread). */
static inline size_t rec_count(rec_transport_t *r) {
  pthread_mutex_lock(&r->lock);
  size_t n = r->num;
  pthread_mutex_unlock(&r->lock);
  return n;
}

/* Copies request i (0-based, in the order they came) into out; fails the
 * test when it was not kept whole. Main thread only. */
static inline void rec_get(rec_transport_t *r, size_t i, rec_request_t *out) {
  pthread_mutex_lock(&r->lock);
  bool kept = i < r->num && i < REC_REQUESTS_MAX;
  if (kept)
    *out = r->reqs[i];
  pthread_mutex_unlock(&r->lock);
  if (!kept)
    fail_msg("request %zu was not recorded", i);
  if (out->cut)
    fail_msg("request %zu did not fit the recorder", i);
}

#endif
