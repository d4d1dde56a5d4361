#include "wdr_credrole.h"
#include "wdr_http.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wdr_credrole_s {
  wdr_http_t *http;
  char *endpoint;
  bool fixed_role; /* RoleName given: never looked up */
  char role[WDR_METADATA_ROLE_MAX];
};

wdr_credrole_t *wdr_credrole_create(const char *endpoint, const char *role,
                                    long timeout_ms) {
  wdr_credrole_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return NULL;
  wdr_http_options_t opt = {.verify_peer = true,
                            .timeout_ms = timeout_ms,
                            .user_agent = "wedata_rerun/" WDR_VERSION};
  r->http = wdr_http_create(&opt);
  r->endpoint = strdup(endpoint);
  if (r->http == NULL || r->endpoint == NULL ||
      (role != NULL && strlen(role) >= sizeof(r->role))) {
    wdr_credrole_destroy(r);
    return NULL;
  }
  if (role != NULL) {
    snprintf(r->role, sizeof(r->role), "%s", role);
    r->fixed_role = true;
  }
  return r;
}

void wdr_credrole_destroy(wdr_credrole_t *r) {
  if (r == NULL)
    return;
  wdr_http_destroy(r->http);
  free(r->endpoint);
  free(r);
}

const char *wdr_credrole_role(const wdr_credrole_t *r) { return r->role; }

/* GETs url into resp; 0 for an HTTP 200, else -1 with err. */
static int get(wdr_credrole_t *r, const char *url, wdr_http_response_t *resp,
               char *err, size_t err_size) {
  wdr_http_get(r->http, url, resp);
  if (resp->outcome == WDR_HTTP_NETWORK) {
    snprintf(err, err_size, "the metadata service (%s) did not answer: %s", url,
             resp->error);
    return -1;
  }
  if (resp->outcome == WDR_HTTP_TOO_LARGE || resp->status != 200) {
    snprintf(err, err_size, "the metadata service answered %s%ld for %s",
             resp->outcome == WDR_HTTP_TOO_LARGE ? "too much, HTTP " : "HTTP ",
             resp->status, url);
    return -1;
  }
  return 0;
}

int wdr_credrole_fetch(wdr_credrole_t *r, wdr_metadata_creds_t *out, char *err,
                       size_t err_size) {
  char url[WDR_METADATA_URL_MAX], why[256];
  wdr_http_response_t resp;
  wdr_http_response_init(&resp);
  int status = -1;
  memset(out, 0, sizeof(*out));
  if (r->role[0] == '\0') {
    if (wdr_metadata_url(r->endpoint, NULL, url, sizeof(url)) != 0) {
      snprintf(err, err_size, "the metadata URL is too long");
      goto done;
    }
    if (get(r, url, &resp, err, err_size) != 0)
      goto done;
    if (wdr_metadata_parse_role(wdr_buf_str(&resp.body), resp.body.len, r->role,
                                why, sizeof(why)) != 0) {
      snprintf(err, err_size, "%s (%s)", why, url);
      goto done;
    }
  }
  if (wdr_metadata_url(r->endpoint, r->role, url, sizeof(url)) != 0) {
    snprintf(err, err_size, "the metadata URL is too long");
    goto done;
  }
  if (get(r, url, &resp, err, err_size) != 0) {
    /* A role detached or replaced: look it up again next time. */
    if (resp.status == 404 && !r->fixed_role)
      r->role[0] = '\0';
    goto done;
  }
  if (wdr_metadata_parse_creds(wdr_buf_str(&resp.body), resp.body.len, out, why,
                               sizeof(why)) != 0) {
    snprintf(err, err_size, "%s (%s)", why, url);
    goto done;
  }
  status = 0;
done:
  /* The body held the secrets. */
  if (resp.body.data != NULL)
    explicit_bzero(resp.body.data, resp.body.len);
  wdr_http_response_free(&resp);
  return status;
}
