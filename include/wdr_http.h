/* wdr_http: the only module that calls libcurl.
 *
 * One wdr_http_t wraps one reused easy handle (keep-alive) and is used by one
 * thread at a time. Response bodies are captured up to WDR_HTTP_BODY_MAX;
 * a longer body aborts the transfer. */
#ifndef WDR_HTTP_H
#define WDR_HTTP_H

#include "wdr_buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WDR_HTTP_BODY_MAX (1024 * 1024)

typedef struct {
  const char *url;
  char *const *headers; /* "Name: value" lines */
  size_t headers_num;
  const char *body;
  size_t body_len;
  /* Never put on the wire twice. libcurl quietly sends a request again on a
   * fresh connection when a reused one dies before any answer byte, after
   * the server may have read (and acted on) it. Fine for a read; for an
   * action that is not idempotent (a rerun) that is a second rerun, so such
   * requests set once: curl's resend is refused, and the caller sees a
   * network error with request_sent (ambiguous: read the run first). */
  bool once;
} wdr_http_request_t;

typedef enum {
  WDR_HTTP_DONE,     /* an HTTP answer arrived (any status) */
  WDR_HTTP_NETWORK,  /* no answer: DNS, connect, TLS, timeout, reset */
  WDR_HTTP_TOO_LARGE /* the body was longer than WDR_HTTP_BODY_MAX */
} wdr_http_outcome_t;

typedef struct {
  wdr_http_outcome_t outcome;
  bool request_sent;   /* some request bytes left: the server may have acted */
  long status;         /* HTTP status, 0 without an answer */
  double seconds;      /* total time of the transfer */
  int64_t server_time; /* the answer's Date header, epoch s; 0: none */
  char error[256];     /* what went wrong, for logs; "" on DONE */
  wdr_buf_t body;
} wdr_http_response_t;

/* The seam between the API client and the network: tests pass their own
 * post function. post fills resp (already initialised) and returns 0, or -1
 * when it could not even try (out of memory). */
typedef struct {
  int (*post)(void *ctx, const wdr_http_request_t *req,
              wdr_http_response_t *resp);
  void *ctx;
} wdr_transport_t;

void wdr_http_response_init(wdr_http_response_t *resp);
void wdr_http_response_free(wdr_http_response_t *resp);

typedef struct {
  const char *ca_cert; /* NULL: the system bundle */
  bool verify_peer;
  long timeout_ms;
  const char *user_agent;
} wdr_http_options_t;

typedef struct wdr_http_s wdr_http_t;

/* Call wdr_http_global_init once while the process is single-threaded
 * (collectd's init callback), and wdr_http_global_cleanup at shutdown. */
int wdr_http_global_init(void) __attribute__((warn_unused_result));
void wdr_http_global_cleanup(void);

/* wdr_http_create copies opt; returns NULL on failure. */
wdr_http_t *wdr_http_create(const wdr_http_options_t *opt);
void wdr_http_destroy(wdr_http_t *h);

/* wdr_http_post matches wdr_transport_t.post with ctx = a wdr_http_t. */
int wdr_http_post(void *h, const wdr_http_request_t *req,
                  wdr_http_response_t *resp);

/* wdr_http_get: GET url with none of our headers (the CVM metadata
 * service), the answer into resp (already initialised) as wdr_http_post
 * does. A handle used for GETs is best kept for them: the next post sets
 * its options again anyway. Returns 0. */
int wdr_http_get(wdr_http_t *h, const char *url, wdr_http_response_t *resp);

/* A transport backed by its own wdr_http_t, for one thread: open takes a
 * const wdr_http_options_t * as ctx and returns NULL on failure; close
 * frees both (NULL is fine). They match wdr_runtime_cfg_t's transport
 * hooks. */
wdr_transport_t *wdr_http_transport_open(void *options);
void wdr_http_transport_close(void *options, wdr_transport_t *t);

#endif
