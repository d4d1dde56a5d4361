/* wdr_http against a small HTTP/1.1 server on a thread of this process
 * (plain HTTP on 127.0.0.1, an ephemeral port): what reaches the wire, and
 * which outcome each kind of answer, or its absence, gives. The server is
 * scripted per test and records every request it reads. */
#include "testutil.h"

#include "wdr_http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONNS_MAX 4
#define SEEN_MAX 4
#define HEADERS_MAX 32
/* The largest request a test sends is a little over 1 MiB. */
#define REQUEST_MAX (WDR_HTTP_BODY_MAX + 64 * 1024)
/* No single wait of the server, nor a client's timeout in a test that
 * expects an answer, outlasts this, so a failing test cannot hang. */
#define WAIT_MS 2000
/* With nothing at all to do for this long the test is gone: the server
 * thread ends by itself. */
#define IDLE_MS 5000

typedef enum {
  ANSWER_200,     /* 200 with answer_body */
  ANSWER_500,     /* 500 with answer_body */
  ANSWER_HANG_UP, /* close the connection without a word */
  ANSWER_LATE,    /* say nothing until the client gives up */
} answer_t;

typedef struct {
  char *line; /* the request line */
  char *headers[HEADERS_MAX];
  size_t headers_num;
  bool headers_dropped; /* more than HEADERS_MAX came */
  char *body;
  size_t body_len;
} seen_t;

typedef struct {
  int fd; /* -1: free */
  char *buf;
  size_t len;
} conn_t;

typedef struct {
  int listen_fd;
  int wake[2]; /* a byte here ends the server thread */
  int port;
  pthread_t thread;
  bool started;
  conn_t conns[CONNS_MAX]; /* the server thread's alone */
  pthread_mutex_t lock;    /* guards everything below */
  answer_t answer;
  const char *answer_body;
  size_t answer_len;
  bool close_after;         /* answer with Connection: close, then close */
  const char *extra_header; /* a whole header line with CRLF, or NULL */
  int accepts;
  size_t seen_num; /* may exceed SEEN_MAX; only the first are kept */
  seen_t seen[SEEN_MAX];
} server_t;

/* A response body of WDR_HTTP_BODY_MAX + 1 bytes, NULs included. */
static char *g_big;

/* --- the server ----------------------------------------------------------- */

/* cmocka's asserts must not run on the server thread (they longjmp into the
 * test's stack), so running out of memory there ends the program. */
static void *need(void *p) {
  if (p == NULL) {
    fprintf(stderr, "test server: out of memory\n");
    abort();
  }
  return p;
}

static void conn_close(conn_t *c) {
  if (c->fd >= 0)
    close(c->fd);
  free(c->buf);
  *c = (conn_t){.fd = -1};
}

/* Polls fd for events, and the wake pipe; false on wake, timeout or error. */
static bool wait_for(server_t *s, int fd, short events) {
  struct pollfd p[2] = {{.fd = s->wake[0], .events = POLLIN},
                        {.fd = fd, .events = events}};
  for (;;) {
    int rc = poll(p, 2, WAIT_MS);
    if (rc < 0 && errno == EINTR)
      continue;
    return rc > 0 && p[0].revents == 0;
  }
}

static bool send_all(server_t *s, int fd, const char *p, size_t len) {
  while (len > 0) {
    if (!wait_for(s, fd, POLLOUT))
      return false;
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
      continue;
    if (n <= 0)
      return false; /* the client hung up (too large an answer) */
    p += n;
    len -= (size_t)n;
  }
  return true;
}

static void record(server_t *s, const char *head, size_t head_len,
                   const char *body, size_t body_len) {
  seen_t r = {.body = need(malloc(body_len + 1)), .body_len = body_len};
  memcpy(r.body, body, body_len);
  r.body[body_len] = '\0';
  const char *end = head + head_len - 2; /* the blank line's CRLF */
  for (const char *p = head; p < end;) {
    const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
    char *line = need(strndup(p, (size_t)(eol - p)));
    if (r.line == NULL)
      r.line = line;
    else if (r.headers_num < HEADERS_MAX)
      r.headers[r.headers_num++] = line;
    else {
      r.headers_dropped = true;
      free(line);
    }
    p = eol + 2;
  }
  pthread_mutex_lock(&s->lock);
  bool kept = s->seen_num < SEEN_MAX;
  if (kept)
    s->seen[s->seen_num] = r;
  s->seen_num++;
  pthread_mutex_unlock(&s->lock);
  if (!kept) {
    free(r.line);
    for (size_t i = 0; i < r.headers_num; i++)
      free(r.headers[i]);
    free(r.body);
  }
}

/* A request without Content-Length has no body: curl always sends one. */
static size_t content_length(const char *head, size_t head_len) {
  static const char name[] = "\r\nContent-Length:";
  for (const char *p = head; p + sizeof(name) - 1 < head + head_len; p++)
    if (strncasecmp(p, name, sizeof(name) - 1) == 0)
      return strtoul(p + sizeof(name) - 1, NULL, 10);
  return 0;
}

/* Answers one request as scripted; false when the connection must go. */
static bool answer(server_t *s, conn_t *c) {
  pthread_mutex_lock(&s->lock);
  answer_t a = s->answer;
  const char *body = s->answer_body;
  size_t len = s->answer_len;
  bool close_after = s->close_after;
  const char *extra = s->extra_header != NULL ? s->extra_header : "";
  pthread_mutex_unlock(&s->lock);
  if (a == ANSWER_HANG_UP)
    return false;
  if (a == ANSWER_LATE) {
    /* Only the client's hang-up (or WAIT_MS) ends the silence. */
    char byte;
    if (wait_for(s, c->fd, POLLIN))
      (void)!recv(c->fd, &byte, 1, 0);
    return false;
  }
  char head[320];
  snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s%s\r\n",
           a == ANSWER_500 ? "500 Internal Server Error" : "200 OK", len,
           close_after ? "Connection: close\r\n" : "", extra);
  return send_all(s, c->fd, head, strlen(head)) &&
         send_all(s, c->fd, body, len) && !close_after;
}

/* Reads what the client sent and answers every complete request in it. */
static void serve(server_t *s, conn_t *c) {
  char chunk[64 * 1024];
  ssize_t got = recv(c->fd, chunk, sizeof(chunk), MSG_DONTWAIT);
  if (got < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (got <= 0 || c->len + (size_t)got > REQUEST_MAX) {
    conn_close(c);
    return;
  }
  c->buf = need(realloc(c->buf, c->len + (size_t)got));
  memcpy(c->buf + c->len, chunk, (size_t)got);
  c->len += (size_t)got;
  for (;;) {
    char *blank = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (blank == NULL)
      return;
    size_t head_len = (size_t)(blank - c->buf) + 4;
    size_t body_len = content_length(c->buf, head_len);
    if (body_len > REQUEST_MAX) {
      conn_close(c);
      return;
    }
    if (c->len < head_len + body_len)
      return;
    record(s, c->buf, head_len, c->buf + head_len, body_len);
    c->len -= head_len + body_len;
    memmove(c->buf, c->buf + head_len + body_len, c->len);
    if (!answer(s, c)) {
      conn_close(c);
      return;
    }
  }
}

static void *server_main(void *arg) {
  server_t *s = arg;
  for (;;) {
    struct pollfd p[2 + CONNS_MAX] = {{.fd = s->wake[0], .events = POLLIN},
                                      {.fd = s->listen_fd, .events = POLLIN}};
    for (size_t i = 0; i < CONNS_MAX; i++)
      p[2 + i] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
    int rc = poll(p, 2 + CONNS_MAX, IDLE_MS);
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc <= 0 || p[0].revents != 0)
      break;
    if (p[1].revents & POLLIN) {
      int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
      if (fd >= 0) {
        pthread_mutex_lock(&s->lock);
        s->accepts++;
        pthread_mutex_unlock(&s->lock);
        size_t i = 0;
        while (i < CONNS_MAX && s->conns[i].fd >= 0)
          i++;
        if (i < CONNS_MAX)
          s->conns[i].fd = fd;
        else
          close(fd);
      }
    }
    for (size_t i = 0; i < CONNS_MAX; i++)
      if (s->conns[i].fd >= 0 && p[2 + i].revents != 0)
        serve(s, &s->conns[i]);
  }
  for (size_t i = 0; i < CONNS_MAX; i++)
    conn_close(&s->conns[i]);
  return NULL;
}

/* A socket bound to 127.0.0.1 on an ephemeral port; its port in *port. */
static int bound_socket(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t a_len = sizeof(a);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &a_len), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

static void server_start(server_t *s) {
  *s = (server_t){.listen_fd = -1, .wake = {-1, -1}};
  for (size_t i = 0; i < CONNS_MAX; i++)
    s->conns[i].fd = -1;
  assert_int_equal(pthread_mutex_init(&s->lock, NULL), 0);
  s->listen_fd = bound_socket(&s->port);
  assert_int_equal(listen(s->listen_fd, 8), 0);
  assert_int_equal(pipe2(s->wake, O_CLOEXEC), 0);
  assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
  s->started = true;
}

static void server_stop(server_t *s) {
  if (s->started) {
    (void)!write(s->wake[1], "x", 1);
    pthread_join(s->thread, NULL);
  }
  if (s->listen_fd >= 0)
    close(s->listen_fd);
  for (int i = 0; i < 2; i++)
    if (s->wake[i] >= 0)
      close(s->wake[i]);
  for (size_t i = 0; i < s->seen_num && i < SEEN_MAX; i++) {
    seen_t *r = &s->seen[i];
    free(r->line);
    for (size_t j = 0; j < r->headers_num; j++)
      free(r->headers[j]);
    free(r->body);
  }
  pthread_mutex_destroy(&s->lock);
}

static void script(server_t *s, answer_t a, const char *body, size_t len,
                   bool close_after) {
  pthread_mutex_lock(&s->lock);
  s->answer = a;
  s->answer_body = body;
  s->answer_len = len;
  s->close_after = close_after;
  pthread_mutex_unlock(&s->lock);
}

static void script_header(server_t *s, const char *line) {
  pthread_mutex_lock(&s->lock);
  s->extra_header = line;
  pthread_mutex_unlock(&s->lock);
}

static int accepts(server_t *s) {
  pthread_mutex_lock(&s->lock);
  int n = s->accepts;
  pthread_mutex_unlock(&s->lock);
  return n;
}

static size_t seen_num(server_t *s) {
  pthread_mutex_lock(&s->lock);
  size_t n = s->seen_num;
  pthread_mutex_unlock(&s->lock);
  return n;
}

/* --- fixture -------------------------------------------------------------- */

typedef struct {
  server_t srv;
  char url[64];
  wdr_http_t *h;
  wdr_transport_t *t;
  wdr_http_response_t resp;
  int refuse_fd;
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  *state = f;
  f->refuse_fd = -1;
  wdr_http_response_init(&f->resp);
  server_start(&f->srv);
  snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/", f->srv.port);
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  wdr_http_destroy(f->h);
  wdr_http_transport_close(NULL, f->t);
  wdr_http_response_free(&f->resp);
  server_stop(&f->srv);
  if (f->refuse_fd >= 0)
    close(f->refuse_fd);
  free(f);
  return 0;
}

static wdr_http_t *client(fixture_t *f, const char *user_agent,
                          long timeout_ms) {
  wdr_http_options_t opt = {
      .verify_peer = true, .timeout_ms = timeout_ms, .user_agent = user_agent};
  f->h = wdr_http_create(&opt);
  assert_non_null(f->h);
  return f->h;
}

/* Posts on h into a fresh f->resp, as the API client does for each call. */
static void post(fixture_t *f, void *h, char *const *headers,
                 size_t headers_num, const char *body, size_t body_len) {
  wdr_http_response_free(&f->resp);
  wdr_http_response_init(&f->resp);
  wdr_http_request_t req = {.url = f->url,
                            .headers = headers,
                            .headers_num = headers_num,
                            .body = body,
                            .body_len = body_len};
  assert_int_equal(wdr_http_post(h, &req, &f->resp), 0);
}

static void assert_done(const wdr_http_response_t *r, long status,
                        const char *body, size_t body_len) {
  assert_int_equal(r->outcome, WDR_HTTP_DONE);
  assert_int_equal(r->status, status);
  assert_true(r->request_sent);
  assert_string_equal(r->error, "");
  assert_false(r->body.failed);
  assert_int_equal(r->body.len, body_len);
  if (body_len > 0)
    assert_memory_equal(r->body.data, body, body_len);
  assert_true(r->seconds > 0.0 && r->seconds < WAIT_MS / 1000.0);
}

/* Request i as the server read it: POST /, our headers verbatim and in our
 * order, and besides them only what curl must add (Host unless we gave one,
 * User-Agent unless it is empty, Content-Length). An Accept or Expect would
 * be outside what was signed. Without a Content-Type of ours curl sends its
 * form one: harmless only because the API client always gives (and signs)
 * its own. */
static void assert_request(fixture_t *f, size_t i, char *const *ours,
                           size_t ours_num, const char *user_agent,
                           const char *body, size_t body_len) {
  assert_true(i < seen_num(&f->srv) && i < SEEN_MAX);
  const seen_t *r = &f->srv.seen[i];
  assert_string_equal(r->line, "POST / HTTP/1.1");
  assert_false(r->headers_dropped);

  char host[64], ua[256], length[64];
  snprintf(host, sizeof(host), "Host: 127.0.0.1:%d", f->srv.port);
  snprintf(ua, sizeof(ua), "User-Agent: %s", user_agent ? user_agent : "");
  snprintf(length, sizeof(length), "Content-Length: %zu", body_len);
  static const char form[] = "Content-Type: application/x-www-form-urlencoded";
  bool want_host = true, want_form = true;
  for (size_t j = 0; j < ours_num; j++) {
    if (strncasecmp(ours[j], "Host:", 5) == 0)
      want_host = false;
    if (strncasecmp(ours[j], "Content-Type:", 13) == 0)
      want_form = false;
  }
  bool want_ua = user_agent != NULL && user_agent[0] != '\0';
  bool had_host = false, had_ua = false, had_length = false, had_form = false;
  size_t next = 0;
  for (size_t j = 0; j < r->headers_num; j++) {
    const char *h = r->headers[j];
    if (next < ours_num && strcmp(h, ours[next]) == 0)
      next++;
    else if (want_host && !had_host && strcmp(h, host) == 0)
      had_host = true;
    else if (want_ua && !had_ua && strcmp(h, ua) == 0)
      had_ua = true;
    else if (!had_length && strcmp(h, length) == 0)
      had_length = true;
    else if (want_form && !had_form && strcmp(h, form) == 0)
      had_form = true;
    else
      fail_msg("request %zu: unexpected header \"%s\"", i, h);
  }
  assert_int_equal(next, ours_num);
  assert_int_equal(had_host, want_host);
  assert_int_equal(had_ua, want_ua);
  assert_true(had_length);
  assert_int_equal(had_form, want_form);
  assert_int_equal(r->body_len, body_len);
  if (body_len > 0)
    assert_memory_equal(r->body, body, body_len);
}

/* What the API client sends, Host included. */
static char *const g_api_headers[] = {
    "Host: wedata.tencentcloudapi.com",
    "Content-Type: application/json; charset=utf-8",
    "X-TC-Action: RunRerunScheduleInstances",
    "X-TC-Version: 2021-08-20",
    "X-TC-Timestamp: 1700000000",
    "X-TC-Region: ap-guangzhou",
    "Authorization: TC3-HMAC-SHA256 Credential=AKID/2023-11-14/wedata/"
    "tc3_request, SignedHeaders=content-type;host, Signature=0123abcd",
};
#define API_HEADERS_NUM (sizeof(g_api_headers) / sizeof(g_api_headers[0]))

static const char g_request[] = "{\"ProjectId\":\"1001\",\"Instances\":[]}";
static const char g_answer[] = "{\"Response\":{\"RequestId\":\"r-1\"}}";
#define LEN(s) (sizeof(s) - 1)

/* --- tests ---------------------------------------------------------------- */

static void test_post_200(void **state) {
  fixture_t *f = *state;
  /* The options are copied: the caller's strings may go after create. */
  char user_agent[] = "wedata_rerun/0.1.0 collectd";
  client(f, user_agent, WAIT_MS);
  memset(user_agent, 'x', sizeof(user_agent) - 1);

  script(&f->srv, ANSWER_200, g_answer, LEN(g_answer), false);
  post(f, f->h, g_api_headers, API_HEADERS_NUM, g_request, LEN(g_request));
  assert_done(&f->resp, 200, g_answer, LEN(g_answer));
  /* NUL-terminated for yajl. */
  assert_string_equal(wdr_buf_str(&f->resp.body), g_answer);

  assert_int_equal(accepts(&f->srv), 1);
  assert_int_equal(seen_num(&f->srv), 1);
  assert_request(f, 0, g_api_headers, API_HEADERS_NUM,
                 "wedata_rerun/0.1.0 collectd", g_request, LEN(g_request));
}

/* Any status is an answer: the caller decides what a 500 means. */
static void test_post_500(void **state) {
  fixture_t *f = *state;
  client(f, "ua", WAIT_MS);
  script(&f->srv, ANSWER_500, "oops", 4, false);
  post(f, f->h, g_api_headers, API_HEADERS_NUM, g_request, LEN(g_request));
  assert_done(&f->resp, 500, "oops", 4);
  assert_int_equal(seen_num(&f->srv), 1);
}

/* Without our Host, curl's names the server; a NULL or empty User-Agent
 * sends none; an empty body is a Content-Length of 0; without our
 * Content-Type curl's form one goes (see assert_request). */
static void test_curl_headers(void **state) {
  fixture_t *f = *state;
  char *const headers[] = {"X-One: 1", "X-Two: two words"};
  client(f, NULL, WAIT_MS);
  script(&f->srv, ANSWER_200, "ok", 2, false);
  post(f, f->h, headers, 2, "", 0);
  assert_done(&f->resp, 200, "ok", 2);
  assert_request(f, 0, headers, 2, NULL, "", 0);

  wdr_http_destroy(f->h);
  client(f, "", WAIT_MS);
  post(f, f->h, NULL, 0, "{}", 2);
  assert_done(&f->resp, 200, "ok", 2);
  assert_request(f, 1, NULL, 0, "", "{}", 2);
}

/* Bodies are bytes, NULs included; above 1 MiB curl would add
 * "Expect: 100-continue" (and wait up to a second for a 100) unless told
 * not to. */
static void test_large_binary_request(void **state) {
  fixture_t *f = *state;
  client(f, "ua", WAIT_MS);
  script(&f->srv, ANSWER_200, "ok", 2, false);
  post(f, f->h, g_api_headers, API_HEADERS_NUM, g_big, WDR_HTTP_BODY_MAX + 1);
  assert_done(&f->resp, 200, "ok", 2);
  assert_request(f, 0, g_api_headers, API_HEADERS_NUM, "ua", g_big,
                 WDR_HTTP_BODY_MAX + 1);
}

static void test_body_at_max(void **state) {
  fixture_t *f = *state;
  client(f, "ua", WAIT_MS);
  script(&f->srv, ANSWER_200, g_big, WDR_HTTP_BODY_MAX, false);
  post(f, f->h, NULL, 0, g_request, LEN(g_request));
  assert_done(&f->resp, 200, g_big, WDR_HTTP_BODY_MAX);
}

static void test_body_too_large(void **state) {
  fixture_t *f = *state;
  client(f, "ua", WAIT_MS);
  script(&f->srv, ANSWER_200, g_big, WDR_HTTP_BODY_MAX + 1, false);
  post(f, f->h, NULL, 0, g_request, LEN(g_request));
  assert_int_equal(f->resp.outcome, WDR_HTTP_TOO_LARGE);
  assert_int_equal(f->resp.status, 200);
  assert_true(f->resp.request_sent);
  assert_string_equal(f->resp.error,
                      "response body is larger than 1048576 bytes");
  assert_int_equal(f->resp.body.len, 0);
  assert_string_equal(wdr_buf_str(&f->resp.body), "");

  /* The handle is still good; the aborted connection is not reused. */
  script(&f->srv, ANSWER_200, "ok", 2, false);
  post(f, f->h, NULL, 0, g_request, LEN(g_request));
  assert_done(&f->resp, 200, "ok", 2);
  assert_int_equal(accepts(&f->srv), 2);
}

/* The request left, so the server may have acted on it. */
static void test_hang_up(void **state) {
  fixture_t *f = *state;
  client(f, "ua", WAIT_MS);
  script(&f->srv, ANSWER_HANG_UP, NULL, 0, false);
  post(f, f->h, g_api_headers, API_HEADERS_NUM, g_request, LEN(g_request));
  assert_int_equal(f->resp.outcome, WDR_HTTP_NETWORK);
  assert_true(f->resp.request_sent);
  assert_int_equal(f->resp.status, 0);
  assert_string_equal(f->resp.error, "Empty reply from server");
  assert_int_equal(f->resp.body.len, 0);
  /* Once: a fresh connection that dies is not retried by curl. */
  assert_int_equal(seen_num(&f->srv), 1);
  assert_request(f, 0, g_api_headers, API_HEADERS_NUM, "ua", g_request,
                 LEN(g_request));

  script(&f->srv, ANSWER_200, "ok", 2, false);
  post(f, f->h, NULL, 0, g_request, LEN(g_request));
  assert_done(&f->resp, 200, "ok", 2);
}

static void post_once(fixture_t *f, bool once) {
  wdr_http_response_free(&f->resp);
  wdr_http_response_init(&f->resp);
  wdr_http_request_t req = {.url = f->url,
                            .headers = g_api_headers,
                            .headers_num = API_HEADERS_NUM,
                            .body = g_request,
                            .body_len = LEN(g_request),
                            .once = once};
  assert_int_equal(wdr_http_post(f->h, &req, &f->resp), 0);
}

/* A kept-alive connection that dies after the server read the request:
 * curl sends it again on a fresh connection by itself (the server then
 * read it twice) unless the request is `once`. For a rerun, that second
 * copy was a second rerun. */
static void test_hang_up_on_reused_connection(void **state) {
  fixture_t *f = *state;
  client(f, "ua", WAIT_MS);
  for (int once = 1; once >= 0; once--) {
    script(&f->srv, ANSWER_200, "ok", 2, false);
    post_once(f, once);
    assert_done(&f->resp, 200, "ok", 2);
    size_t seen = seen_num(&f->srv);
    int accepted = accepts(&f->srv);

    script(&f->srv, ANSWER_HANG_UP, NULL, 0, false);
    post_once(f, once);
    assert_int_equal(f->resp.outcome, WDR_HTTP_NETWORK);
    assert_true(f->resp.request_sent);
    assert_int_equal(f->resp.status, 0);
    if (once) {
      /* curl may open the fresh connection, but sends nothing on it. */
      assert_int_equal(seen_num(&f->srv), seen + 1);
      assert_string_equal(f->resp.error,
                          "the connection closed after the request was sent, "
                          "without an answer (not sent again)");
      assert_request(f, seen, g_api_headers, API_HEADERS_NUM, "ua", g_request,
                     LEN(g_request));
    } else {
      assert_int_equal(seen_num(&f->srv), seen + 2);
      assert_int_equal(accepts(&f->srv), accepted + 1);
      assert_string_equal(f->resp.error, "Empty reply from server");
    }
  }
}

/* The metadata service is read with GET: no body, none of our headers; and
 * a POST on the same handle afterwards is a POST again. */
static void test_get_then_post(void **state) {
  fixture_t *f = *state;
  client(f, "ua", WAIT_MS);
  char url[128];
  snprintf(url, sizeof(url), "%slatest/meta-data/role", f->url);
  script(&f->srv, ANSWER_200, "role-a", 6, false);
  wdr_http_response_free(&f->resp);
  wdr_http_response_init(&f->resp);
  assert_int_equal(wdr_http_get(f->h, url, &f->resp), 0);
  assert_done(&f->resp, 200, "role-a", 6);
  assert_int_equal(seen_num(&f->srv), 1);
  assert_string_equal(f->srv.seen[0].line,
                      "GET /latest/meta-data/role HTTP/1.1");
  assert_int_equal(f->srv.seen[0].body_len, 0);

  script(&f->srv, ANSWER_200, "ok", 2, false);
  post(f, f->h, g_api_headers, API_HEADERS_NUM, g_request, LEN(g_request));
  assert_done(&f->resp, 200, "ok", 2);
  assert_request(f, 1, g_api_headers, API_HEADERS_NUM, "ua", g_request,
                 LEN(g_request));
}

static void test_timeout(void **state) {
  fixture_t *f = *state;
  client(f, "ua", 200);
  script(&f->srv, ANSWER_LATE, NULL, 0, false);
  post(f, f->h, NULL, 0, g_request, LEN(g_request));
  assert_int_equal(f->resp.outcome, WDR_HTTP_NETWORK);
  assert_true(f->resp.request_sent);
  assert_int_equal(f->resp.status, 0);
  /* curl counts the milliseconds its own way: 199 happens. */
  int ms = 0, end = 0;
  sscanf(f->resp.error,
         "Operation timed out after %d milliseconds with 0 bytes received%n",
         &ms, &end);
  if (end == 0 || f->resp.error[end] != '\0' || ms < 190 || ms >= 1000)
    fail_msg("error \"%s\"", f->resp.error);
  assert_true(f->resp.seconds >= 0.19 && f->resp.seconds < 1.0);
  assert_int_equal(seen_num(&f->srv), 1);

  script(&f->srv, ANSWER_200, "ok", 2, false);
  post(f, f->h, NULL, 0, g_request, LEN(g_request));
  assert_done(&f->resp, 200, "ok", 2);
}

/* Nothing left: a rerun may safely be tried again. */
static void test_refused(void **state) {
  fixture_t *f = *state;
  /* Bound but not listening: connecting is refused, and the port cannot be
   * taken by anyone else meanwhile. */
  int port;
  f->refuse_fd = bound_socket(&port);
  snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/", port);
  client(f, "ua", WAIT_MS);
  post(f, f->h, g_api_headers, API_HEADERS_NUM, g_request, LEN(g_request));
  assert_int_equal(f->resp.outcome, WDR_HTTP_NETWORK);
  assert_false(f->resp.request_sent);
  assert_int_equal(f->resp.status, 0);
  char where[64];
  snprintf(where, sizeof(where), "Failed to connect to 127.0.0.1 port %d",
           port);
  assert_non_null(strstr(f->resp.error, where));
  assert_int_equal(f->resp.body.len, 0);
  assert_true(f->resp.seconds < 1.0);
  assert_int_equal(accepts(&f->srv), 0);
}

static void test_keep_alive(void **state) {
  fixture_t *f = *state;
  client(f, "ua", WAIT_MS);
  script(&f->srv, ANSWER_200, "one", 3, false);
  post(f, f->h, g_api_headers, API_HEADERS_NUM, g_request, LEN(g_request));
  assert_done(&f->resp, 200, "one", 3);
  script(&f->srv, ANSWER_500, "two", 3, false);
  post(f, f->h, g_api_headers + 1, 2, "{\"n\":2}", 7);
  assert_done(&f->resp, 500, "two", 3);

  assert_int_equal(accepts(&f->srv), 1);
  assert_int_equal(seen_num(&f->srv), 2);
  assert_request(f, 0, g_api_headers, API_HEADERS_NUM, "ua", g_request,
                 LEN(g_request));
  /* Nothing of the first request's headers lingers on the handle. */
  assert_request(f, 1, g_api_headers + 1, 2, "ua", "{\"n\":2}", 7);
}

/* The other side of test_keep_alive: the accept count does see a second
 * connection when there is one. */
static void test_connection_close(void **state) {
  fixture_t *f = *state;
  client(f, "ua", WAIT_MS);
  script(&f->srv, ANSWER_200, "one", 3, true);
  post(f, f->h, NULL, 0, g_request, LEN(g_request));
  assert_done(&f->resp, 200, "one", 3);
  post(f, f->h, NULL, 0, g_request, LEN(g_request));
  assert_done(&f->resp, 200, "one", 3);
  assert_int_equal(accepts(&f->srv), 2);
  assert_int_equal(seen_num(&f->srv), 2);
}

static void test_transport(void **state) {
  fixture_t *f = *state;
  char user_agent[] = "transport-ua";
  wdr_http_options_t opt = {.timeout_ms = WAIT_MS, .user_agent = user_agent};
  f->t = wdr_http_transport_open(&opt);
  assert_non_null(f->t);
  assert_ptr_equal(f->t->post, wdr_http_post);
  assert_non_null(f->t->ctx);
  memset(user_agent, 'x', sizeof(user_agent) - 1);
  memset(&opt, 0, sizeof(opt));

  script(&f->srv, ANSWER_200, g_answer, LEN(g_answer), false);
  wdr_http_request_t req = {.url = f->url,
                            .headers = g_api_headers,
                            .headers_num = API_HEADERS_NUM,
                            .body = g_request,
                            .body_len = LEN(g_request)};
  assert_int_equal(f->t->post(f->t->ctx, &req, &f->resp), 0);
  assert_done(&f->resp, 200, g_answer, LEN(g_answer));
  assert_request(f, 0, g_api_headers, API_HEADERS_NUM, "transport-ua",
                 g_request, LEN(g_request));

  wdr_http_transport_close(&opt, f->t);
  f->t = NULL;
  wdr_http_transport_close(&opt, NULL);
}

/* libcurl's memory goes through these (curl_global_init_mem), so that a
 * test can see what a block held when curl freed it. */
static const char *g_watch; /* text looked for at the start of freed blocks */
static size_t g_freed_with_watch;

static void *t_malloc(size_t n) { return malloc(n); }
static void *t_calloc(size_t n, size_t size) { return calloc(n, size); }
static void *t_realloc(void *p, size_t n) { return realloc(p, n); }
static char *t_strdup(const char *s) { return strdup(s); }
static void t_free(void *p) {
  if (p != NULL && g_watch != NULL &&
      malloc_usable_size(p) >= strlen(g_watch) &&
      memcmp(p, g_watch, strlen(g_watch)) == 0)
    g_freed_with_watch++;
  free(p);
}

static int group_setup(void **state) {
  (void)state;
  g_big = malloc(WDR_HTTP_BODY_MAX + 1);
  if (g_big == NULL)
    return -1;
  for (size_t i = 0; i <= WDR_HTTP_BODY_MAX; i++)
    g_big[i] = (char)(i * 131 + (i >> 12));
  /* First: wdr_http_global_init's curl_global_init then only counts. */
  if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, t_malloc, t_free, t_realloc,
                           t_strdup, t_calloc) != CURLE_OK)
    return -1;
  return wdr_http_global_init();
}

static int group_teardown(void **state) {
  (void)state;
  wdr_http_global_cleanup();
  curl_global_cleanup(); /* group_setup's own init */
  free(g_big);
  return 0;
}

/* The answer's Date header is the server's clock (for a host whose clock
 * is off); none, or one that is not a date, gives 0. */
static void test_server_date(void **state) {
  fixture_t *f = *state;
  client(f, "ua", WAIT_MS);
  script(&f->srv, ANSWER_200, g_answer, LEN(g_answer), false);
  script_header(&f->srv, "Date: Wed, 02 Dec 2026 10:00:00 GMT\r\n");
  post(f, f->h, g_api_headers, API_HEADERS_NUM, g_request, LEN(g_request));
  assert_done(&f->resp, 200, g_answer, LEN(g_answer));
  assert_int_equal(f->resp.server_time, 1796205600);
  script_header(&f->srv, "dAtE:Wed, 02 Dec 2026 10:10:00 GMT\r\n");
  post(f, f->h, g_api_headers, API_HEADERS_NUM, g_request, LEN(g_request));
  assert_int_equal(f->resp.server_time, 1796205600 + 600);
  script_header(&f->srv, "Date: yesterday-ish\r\n");
  post(f, f->h, g_api_headers, API_HEADERS_NUM, g_request, LEN(g_request));
  assert_int_equal(f->resp.server_time, 0);
  script_header(&f->srv, "X-Date: Wed, 02 Dec 2026 10:00:00 GMT\r\n");
  post(f, f->h, g_api_headers, API_HEADERS_NUM, g_request, LEN(g_request));
  assert_int_equal(f->resp.server_time, 0);
  script_header(&f->srv, NULL);
  post(f, f->h, g_api_headers, API_HEADERS_NUM, g_request, LEN(g_request));
  assert_int_equal(f->resp.server_time, 0);
}

/* The header lines are copied into a curl_slist for each request; X-TC-Token
 * is a credential, so the copies are wiped before curl frees them: no
 * block that curl frees begins with the line. (libcurl's own text of the
 * whole request is out of reach: it frees it unwiped.) */
static void test_header_copies_wiped(void **state) {
  fixture_t *f = *state;
  char *const headers[] = {"X-One: 1", "X-TC-Token: tok-secret-http-1"};
  client(f, "ua", WAIT_MS);
  script(&f->srv, ANSWER_200, "ok", 2, false);
  g_watch = "X-TC-Token: tok-secret-http-1";
  g_freed_with_watch = 0;
  post(f, f->h, headers, 2, "{}", 2);
  g_watch = NULL;
  assert_done(&f->resp, 200, "ok", 2);
  assert_request(f, 0, headers, 2, "ua", "{}", 2);
  assert_int_equal(g_freed_with_watch, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_post_200),
      T(test_post_500),
      T(test_curl_headers),
      T(test_large_binary_request),
      T(test_body_at_max),
      T(test_body_too_large),
      T(test_hang_up),
      T(test_hang_up_on_reused_connection),
      T(test_timeout),
      T(test_refused),
      T(test_keep_alive),
      T(test_connection_close),
      T(test_transport),
      T(test_server_date),
      T(test_header_copies_wiped),
      T(test_get_then_post),
  };
  return cmocka_run_group_tests_name("wdr_http", tests, group_setup,
                                     group_teardown);
}
