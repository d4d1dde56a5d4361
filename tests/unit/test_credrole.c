/* The CVM role fetcher against a small metadata service on a thread of this
 * process (plain HTTP on 127.0.0.1): which URLs it asks, when it looks the
 * role up (once; again after the service stops knowing it; never with
 * RoleName), and what it says when the service fails. */
#include "testutil.h"

#include "wdr_credrole.h"
#include "wdr_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#define PATHS_MAX 16
#define ROLE_URL "/latest/meta-data/cam/security-credentials/"

static const char *CREDS =
    "{\"TmpSecretId\":\"AKIDtmp\",\"TmpSecretKey\":\"tmpkey\",\"ExpiredTime\":"
    "1764670000,\"Token\":\"tmptoken\",\"Code\":\"Success\"}";

typedef struct {
  int fd, port;
  pthread_t thread;
  pthread_mutex_t lock;
  bool role_known; /* else the role's URL answers 404 */
  const char *creds_body;
  char paths[PATHS_MAX][128]; /* every path asked, in order */
  int asked;
} service_t;

/* One request per connection (the fetcher's handle reuses what it may; a
 * "Connection: close" answer tells it not to). */
static void serve(service_t *s, int c) {
  char req[2048];
  ssize_t n = recv(c, req, sizeof(req) - 1, 0);
  if (n <= 0)
    return;
  req[n] = '\0';
  char path[128] = "";
  sscanf(req, "GET %127s", path);
  pthread_mutex_lock(&s->lock);
  if (s->asked < PATHS_MAX)
    snprintf(s->paths[s->asked], sizeof(s->paths[0]), "%s", path);
  s->asked++;
  int status = 404;
  const char *body = "no such path";
  if (strcmp(path, ROLE_URL) == 0) {
    status = 200;
    body = "wedata-role\n";
  } else if (strcmp(path, ROLE_URL "wedata-role") == 0 && s->role_known) {
    status = 200;
    body = s->creds_body;
  } else if (strcmp(path, ROLE_URL "fixed-role") == 0) {
    status = 200;
    body = s->creds_body;
  }
  pthread_mutex_unlock(&s->lock);
  char head[256];
  int len = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, strlen(body));
  (void)!send(c, head, (size_t)len, MSG_NOSIGNAL);
  (void)!send(c, body, strlen(body), MSG_NOSIGNAL);
}

static void *service_main(void *arg) {
  service_t *s = arg;
  for (;;) {
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
      return NULL; /* the listening socket was shut down */
    serve(s, c);
    close(c);
  }
}

static void service_start(service_t *s) {
  memset(s, 0, sizeof(*s));
  pthread_mutex_init(&s->lock, NULL);
  s->role_known = true;
  s->creds_body = CREDS;
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s->fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof(a);
  assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(s->fd, 8), 0);
  assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &alen), 0);
  s->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&s->thread, NULL, service_main, s), 0);
}

static void service_stop(service_t *s) {
  shutdown(s->fd, SHUT_RDWR);
  pthread_join(s->thread, NULL);
  close(s->fd);
  pthread_mutex_destroy(&s->lock);
}

static void script(service_t *s, bool role_known, const char *creds_body) {
  pthread_mutex_lock(&s->lock);
  s->role_known = role_known;
  s->creds_body = creds_body;
  pthread_mutex_unlock(&s->lock);
}

static int asked(service_t *s) {
  pthread_mutex_lock(&s->lock);
  int n = s->asked;
  pthread_mutex_unlock(&s->lock);
  return n;
}

static void test_role_looked_up_once_and_again_when_gone(void **state) {
  (void)state;
  assert_int_equal(wdr_http_global_init(), 0);
  service_t s;
  service_start(&s);
  char endpoint[64], err[512];
  snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", s.port);
  wdr_credrole_t *r = wdr_credrole_create(endpoint, NULL, 2000);
  assert_non_null(r);
  assert_string_equal(wdr_credrole_role(r), "");

  wdr_metadata_creds_t c;
  assert_int_equal(wdr_credrole_fetch(r, &c, err, sizeof(err)), 0);
  assert_string_equal(c.secret_id, "AKIDtmp");
  assert_string_equal(c.token, "tmptoken");
  assert_int_equal(c.expires_at, 1764670000);
  wdr_metadata_creds_free(&c);
  assert_string_equal(wdr_credrole_role(r), "wedata-role");
  assert_int_equal(asked(&s), 2);
  assert_string_equal(s.paths[0], ROLE_URL);
  assert_string_equal(s.paths[1], ROLE_URL "wedata-role");

  /* Known now: one request. */
  assert_int_equal(wdr_credrole_fetch(r, &c, err, sizeof(err)), 0);
  wdr_metadata_creds_free(&c);
  assert_int_equal(asked(&s), 3);

  /* The role is gone (detached, replaced): an error naming the URL, and
   * the next fetch asks for the role again. */
  script(&s, false, CREDS);
  assert_int_equal(wdr_credrole_fetch(r, &c, err, sizeof(err)), -1);
  char want[256];
  snprintf(want, sizeof(want),
           "the metadata service answered HTTP 404 for %s" ROLE_URL
           "wedata-role",
           endpoint);
  assert_string_equal(err, want);
  assert_null(c.secret_id);
  assert_string_equal(wdr_credrole_role(r), "");
  script(&s, true, CREDS);
  assert_int_equal(wdr_credrole_fetch(r, &c, err, sizeof(err)), 0);
  wdr_metadata_creds_free(&c);
  assert_int_equal(asked(&s), 6);
  assert_string_equal(s.paths[4], ROLE_URL);

  /* A broken answer: the parser's reason, with the URL; no secret. */
  script(&s, true, "{\"TmpSecretId\":\"AKIDtmp\",\"TmpSecretKey\":\"tmpkey\"}");
  assert_int_equal(wdr_credrole_fetch(r, &c, err, sizeof(err)), -1);
  assert_non_null(strstr(err, "have no usable Token"));
  assert_non_null(strstr(err, ROLE_URL "wedata-role"));
  assert_null(strstr(err, "tmpkey"));
  wdr_credrole_destroy(r);

  /* RoleName given: never looked up, not even after a 404. */
  script(&s, true, CREDS);
  r = wdr_credrole_create(endpoint, "fixed-role", 2000);
  int before = asked(&s);
  assert_int_equal(wdr_credrole_fetch(r, &c, err, sizeof(err)), 0);
  wdr_metadata_creds_free(&c);
  assert_int_equal(asked(&s), before + 1);
  assert_string_equal(s.paths[before], ROLE_URL "fixed-role");
  wdr_credrole_destroy(r);
  service_stop(&s);

  /* Nothing listens any more. */
  r = wdr_credrole_create(endpoint, NULL, 2000);
  assert_int_equal(wdr_credrole_fetch(r, &c, err, sizeof(err)), -1);
  snprintf(want, sizeof(want),
           "the metadata service (%s" ROLE_URL ") did not answer: ", endpoint);
  assert_memory_equal(err, want, strlen(want));
  wdr_credrole_destroy(r);
  wdr_credrole_destroy(NULL);
  wdr_http_global_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_role_looked_up_once_and_again_when_gone),
  };
  return cmocka_run_group_tests_name("wdr_credrole", tests, NULL, NULL);
}
