#include "wdr_http.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct wdr_http_s {
  CURL *curl;
  char *ca_cert;
  char *user_agent;
  bool verify_peer;
  long timeout_ms;
  char errbuf[CURL_ERROR_SIZE];
};

/* The request body for a request sent `once`: read through a callback, so
 * that curl must ask (seek) before sending it a second time, and is told
 * no. */
typedef struct {
  const char *data;
  size_t len;
  size_t sent;
} upload_t;

typedef struct {
  wdr_buf_t *body;
  bool too_large;
  int64_t *server_time; /* the response's Date header, parsed */
} sink_t;

/* Only the Date header is kept: the server's clock, for when ours is off
 * (AuthFailure.SignatureExpire). libcurl parses the date. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg) {
  sink_t *sink = arg;
  size_t n = size * nmemb;
  static const char name[] = "date:";
  if (n > sizeof(name) - 1 && n < 128 &&
      strncasecmp(data, name, sizeof(name) - 1) == 0) {
    char value[128];
    memcpy(value, data + sizeof(name) - 1, n - (sizeof(name) - 1));
    value[n - (sizeof(name) - 1)] = '\0';
    time_t t = curl_getdate(value, NULL);
    *sink->server_time = t > 0 ? (int64_t)t : 0;
  }
  return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
  sink_t *sink = arg;
  size_t n = size * nmemb;
  if (wdr_buf_append(sink->body, data, n) != 0) {
    sink->too_large = true;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  return n;
}

static size_t on_upload(char *dest, size_t size, size_t nmemb, void *arg) {
  upload_t *up = arg;
  size_t n = size * nmemb;
  if (n > up->len - up->sent)
    n = up->len - up->sent;
  memcpy(dest, up->data + up->sent, n);
  up->sent += n;
  return n;
}

/* curl seeks only to send the body again (its resend on a fresh connection,
 * see wdr_http.h). */
static int refuse_rewind(void *arg, curl_off_t offset, int origin) {
  (void)arg;
  (void)offset;
  (void)origin;
  return CURL_SEEKFUNC_FAIL;
}

int wdr_http_global_init(void) {
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void wdr_http_global_cleanup(void) { curl_global_cleanup(); }

void wdr_http_response_init(wdr_http_response_t *resp) {
  memset(resp, 0, sizeof(*resp));
  wdr_buf_init(&resp->body, WDR_HTTP_BODY_MAX);
}

void wdr_http_response_free(wdr_http_response_t *resp) {
  wdr_buf_free(&resp->body, false);
}

wdr_http_t *wdr_http_create(const wdr_http_options_t *opt) {
  wdr_http_t *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  h->verify_peer = opt->verify_peer;
  h->timeout_ms = opt->timeout_ms;
  if ((opt->ca_cert != NULL && (h->ca_cert = strdup(opt->ca_cert)) == NULL) ||
      (h->user_agent = strdup(opt->user_agent ? opt->user_agent : "")) ==
          NULL ||
      (h->curl = curl_easy_init()) == NULL) {
    wdr_http_destroy(h);
    return NULL;
  }
  return h;
}

void wdr_http_destroy(wdr_http_t *h) {
  if (h == NULL)
    return;
  if (h->curl != NULL)
    curl_easy_cleanup(h->curl);
  free(h->ca_cert);
  free(h->user_agent);
  free(h);
}

/* Options are set again on every request: curl_easy_reset is not used, so
 * the connection cache of the handle survives and connections are reused. */
#define SET(opt, val)                                                          \
  if (rc == CURLE_OK)                                                          \
  rc = curl_easy_setopt(h->curl, opt, val)

/* What every request sets, POST or GET. */
static CURLcode set_common(wdr_http_t *h, const char *url, sink_t *sink) {
  CURLcode rc = CURLE_OK;
  SET(CURLOPT_URL, url);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_NOSIGNAL, 1L); /* we run on threads: no SIGALRM for DNS */
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_USERAGENT, h->user_agent);
  SET(CURLOPT_TIMEOUT_MS, h->timeout_ms);
  SET(CURLOPT_CONNECTTIMEOUT_MS, h->timeout_ms);
  SET(CURLOPT_SSL_VERIFYPEER, h->verify_peer ? 1L : 0L);
  SET(CURLOPT_SSL_VERIFYHOST, h->verify_peer ? 2L : 0L);
  if (h->ca_cert != NULL)
    SET(CURLOPT_CAINFO, h->ca_cert);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, sink);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, sink);
  SET(CURLOPT_ERRORBUFFER, h->errbuf);
  return rc;
}

static CURLcode set_options(wdr_http_t *h, const wdr_http_request_t *req,
                            struct curl_slist *headers, sink_t *sink,
                            upload_t *up) {
  CURLcode rc = set_common(h, req->url, sink);
  SET(CURLOPT_POST, 1L);
  /* Without POSTFIELDS curl reads the body through READFUNCTION; with them
   * it could resend the body on its own. */
  SET(CURLOPT_POSTFIELDS, req->once ? NULL : req->body);
  SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
  SET(CURLOPT_READFUNCTION, req->once ? on_upload : NULL);
  SET(CURLOPT_READDATA, req->once ? up : NULL);
  SET(CURLOPT_SEEKFUNCTION, req->once ? refuse_rewind : NULL);
  SET(CURLOPT_HTTPHEADER, headers);
  return rc;
}

/* Fills resp from what curl_easy_perform returned (rc). */
static void outcome(wdr_http_t *h, CURLcode rc, const sink_t *sink, bool once,
                    wdr_http_response_t *resp) {
  long request_size = 0; /* CURLINFO_REQUEST_SIZE is a long */
  curl_easy_getinfo(h->curl, CURLINFO_REQUEST_SIZE, &request_size);
  curl_easy_getinfo(h->curl, CURLINFO_TOTAL_TIME, &resp->seconds);
  resp->request_sent = request_size > 0;
  if (rc == CURLE_OK) {
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->outcome = WDR_HTTP_DONE;
  } else if (sink->too_large) {
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    resp->outcome = WDR_HTTP_TOO_LARGE;
    snprintf(resp->error, sizeof(resp->error),
             "response body is larger than %d bytes", WDR_HTTP_BODY_MAX);
  } else {
    resp->outcome = WDR_HTTP_NETWORK;
    /* The refused rewind is ours (refuse_rewind): say what happened, not
     * curl's "seek callback returned error". */
    if (rc == CURLE_SEND_FAIL_REWIND && once)
      snprintf(resp->error, sizeof(resp->error), "%s",
               "the connection closed after the request was sent, without "
               "an answer (not sent again)");
    else
      snprintf(resp->error, sizeof(resp->error), "%s",
               h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(rc));
  }
}

int wdr_http_post(void *ctx, const wdr_http_request_t *req,
                  wdr_http_response_t *resp) {
  wdr_http_t *h = ctx;
  struct curl_slist *headers = NULL;
  sink_t sink = {.body = &resp->body, .server_time = &resp->server_time};
  upload_t up = {.data = req->body, .len = req->body_len};
  int status = -1;

  wdr_buf_reset(&resp->body);
  resp->server_time = 0;
  h->errbuf[0] = '\0';
  for (size_t i = 0; i < req->headers_num; i++) {
    struct curl_slist *n = curl_slist_append(headers, req->headers[i]);
    if (n == NULL)
      goto cleanup;
    headers = n;
  }
  /* We sign exactly what we send: drop the headers curl would add. */
  static const char *const suppressed[] = {"Accept:", "Expect:"};
  for (size_t i = 0; i < sizeof(suppressed) / sizeof(suppressed[0]); i++) {
    struct curl_slist *n = curl_slist_append(headers, suppressed[i]);
    if (n == NULL)
      goto cleanup;
    headers = n;
  }

  CURLcode rc = set_options(h, req, headers, &sink, &up);
  if (rc == CURLE_OK)
    rc = curl_easy_perform(h->curl);

  outcome(h, rc, &sink, req->once, resp);
  status = 0;
cleanup:
  /* The handle keeps pointers to these: detach them before they go. */
  curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, NULL);
  curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, NULL);
  curl_easy_setopt(h->curl, CURLOPT_READDATA, NULL);
  /* curl_slist_append copied every line, X-TC-Token (a credential)
   * included: wipe the copies before curl frees them. */
  for (struct curl_slist *n = headers; n != NULL; n = n->next)
    explicit_bzero(n->data, strlen(n->data));
  curl_slist_free_all(headers);
  return status;
}

wdr_transport_t *wdr_http_transport_open(void *options) {
  wdr_transport_t *t = malloc(sizeof(*t));
  wdr_http_t *h = wdr_http_create(options);
  if (t == NULL || h == NULL) {
    free(t);
    wdr_http_destroy(h);
    return NULL;
  }
  *t = (wdr_transport_t){.post = wdr_http_post, .ctx = h};
  return t;
}

void wdr_http_transport_close(void *options, wdr_transport_t *t) {
  (void)options;
  if (t == NULL)
    return;
  wdr_http_destroy(t->ctx);
  free(t);
}

int wdr_http_get(wdr_http_t *h, const char *url, wdr_http_response_t *resp) {
  sink_t sink = {.body = &resp->body, .server_time = &resp->server_time};
  wdr_buf_reset(&resp->body);
  resp->server_time = 0;
  h->errbuf[0] = '\0';
  CURLcode rc = set_common(h, url, &sink);
  SET(CURLOPT_HTTPGET, 1L);
  SET(CURLOPT_HTTPHEADER, NULL);
  if (rc == CURLE_OK)
    rc = curl_easy_perform(h->curl);
  outcome(h, rc, &sink, false, resp);
  curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, NULL);
  curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, NULL);
  return 0;
}

#undef SET
