#include "wdr_credstore.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct wdr_credstore_s {
  pthread_mutex_t lock;
  wdr_cred_snapshot_t now; /* guarded by lock */
};

static bool fits(const char *v, size_t size, bool may_be_empty) {
  if (v == NULL)
    return may_be_empty;
  size_t n = strnlen(v, size);
  return n < size && (may_be_empty || n > 0);
}

static int put(wdr_cred_snapshot_t *to, const char *id, const char *key,
               const char *token) {
  if (!fits(id, sizeof(to->secret_id), false) ||
      !fits(key, sizeof(to->secret_key), false) ||
      !fits(token, sizeof(to->token), true))
    return -1;
  wdr_cred_snapshot_wipe(to);
  strcpy(to->secret_id, id);
  strcpy(to->secret_key, key);
  strcpy(to->token, token != NULL ? token : "");
  return 0;
}

wdr_credstore_t *wdr_credstore_create(const char *id, const char *key,
                                      const char *token) {
  wdr_credstore_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  bool empty = id == NULL && key == NULL && token == NULL;
  if (!empty && put(&s->now, id, key, token) != 0) {
    free(s);
    return NULL;
  }
  s->now.version = empty ? 0 : 1;
  pthread_mutex_init(&s->lock, NULL);
  return s;
}

int wdr_credstore_set(wdr_credstore_t *s, const char *id, const char *key,
                      const char *token, int64_t expires_at) {
  pthread_mutex_lock(&s->lock);
  uint64_t version = s->now.version;
  int rc = put(&s->now, id, key, token);
  s->now.version = rc == 0 ? version + 1 : version;
  if (rc == 0)
    s->now.expires_at = expires_at;
  pthread_mutex_unlock(&s->lock);
  return rc;
}

void wdr_credstore_get(wdr_credstore_t *s, wdr_cred_snapshot_t *out) {
  pthread_mutex_lock(&s->lock);
  /* Only the bytes in use, so that a request does not copy 8 KiB. */
  strcpy(out->secret_id, s->now.secret_id);
  strcpy(out->secret_key, s->now.secret_key);
  strcpy(out->token, s->now.token);
  out->version = s->now.version;
  out->expires_at = s->now.expires_at;
  pthread_mutex_unlock(&s->lock);
}

int64_t wdr_credstore_expires_at(wdr_credstore_t *s) {
  pthread_mutex_lock(&s->lock);
  int64_t at = s->now.expires_at;
  pthread_mutex_unlock(&s->lock);
  return at;
}

void wdr_cred_snapshot_wipe(wdr_cred_snapshot_t *snap) {
  explicit_bzero(snap->secret_key, sizeof(snap->secret_key));
  explicit_bzero(snap->token, sizeof(snap->token));
  explicit_bzero(snap->secret_id, sizeof(snap->secret_id));
}

void wdr_credstore_destroy(wdr_credstore_t *s) {
  if (s == NULL)
    return;
  wdr_cred_snapshot_wipe(&s->now);
  pthread_mutex_destroy(&s->lock);
  free(s);
}
