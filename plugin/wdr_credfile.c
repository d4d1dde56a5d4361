#include "wdr_credfile.h"
#include "wdr_cred.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int wdr_credfile_read(const char *path, size_t max, char **text, size_t *len) {
  FILE *fh = fopen(path, "r");
  if (fh == NULL)
    return errno;
  char *buf = malloc(max + 2);
  int rc = buf == NULL ? ENOMEM : 0;
  size_t n = 0;
  if (rc == 0) {
    errno = 0;
    n = fread(buf, 1, max + 1, fh);
    rc = ferror(fh) ? (errno != 0 ? errno : EIO) : n > max ? EFBIG : 0;
  }
  fclose(fh);
  if (rc != 0) {
    if (buf != NULL) {
      explicit_bzero(buf, n);
      free(buf);
    }
    return rc;
  }
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return 0;
}

wdr_credfile_stamp_t wdr_credfile_stamp(const char *path) {
  struct stat st;
  wdr_credfile_stamp_t s = {.exists = false};
  if (stat(path, &st) != 0)
    return s;
  s.exists = true;
  s.dev = (uint64_t)st.st_dev;
  s.ino = (uint64_t)st.st_ino;
  s.size = (uint64_t)st.st_size;
  s.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  s.ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
  return s;
}

static bool same(const wdr_credfile_stamp_t *a, const wdr_credfile_stamp_t *b) {
  return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
         a->size == b->size && a->mtime_ns == b->mtime_ns &&
         a->ctime_ns == b->ctime_ns;
}

int wdr_credfile_watch_init(wdr_credfile_watch_t *w, const char *path,
                            const char *section) {
  memset(w, 0, sizeof(*w));
  w->path = strdup(path);
  w->section = strdup(section);
  if (w->path == NULL || w->section == NULL) {
    wdr_credfile_watch_free(w);
    return -1;
  }
  w->seen = wdr_credfile_stamp(path);
  return 0;
}

void wdr_credfile_watch_free(wdr_credfile_watch_t *w) {
  free(w->path);
  free(w->section);
  w->path = w->section = NULL;
}

/* A value with white space or control characters would sign here and fail
 * at the server. */
wdr_credfile_outcome_t wdr_credfile_reload(wdr_credfile_watch_t *w,
                                           wdr_credstore_t *store, char *err,
                                           size_t err_size) {
  wdr_credfile_stamp_t now = wdr_credfile_stamp(w->path);
  if (same(&now, &w->seen))
    return WDR_CREDFILE_UNCHANGED;
  w->seen = now;
  char *text = NULL, *id = NULL, *key = NULL, *token = NULL;
  size_t len = 0;
  wdr_credfile_outcome_t out = WDR_CREDFILE_FAILED;
  int rc = wdr_credfile_read(w->path, WDR_CREDFILE_MAX, &text, &len);
  if (rc != 0) {
    snprintf(err, err_size, "profile file \"%s\" cannot be read: %s", w->path,
             rc == EFBIG ? "larger than 1 MiB" : strerror(rc));
    return out;
  }
  char why[256];
  wdr_cred_status_t st = wdr_cred_from_profile(text, len, w->section, &id, &key,
                                               &token, why, sizeof(why));
  if (st == WDR_CRED_NONE)
    snprintf(err, err_size, "profile file \"%s\" has no section [%s] any more",
             w->path, w->section);
  else if (st == WDR_CRED_BAD)
    snprintf(err, err_size, "profile file \"%s\": %s", w->path, why);
  else if (!wdr_cred_value_ok(id) || !wdr_cred_value_ok(key) ||
           !wdr_cred_value_ok(token))
    snprintf(err, err_size,
             "profile file \"%s\", section [%s]: a value contains white space "
             "or control characters",
             w->path, w->section);
  else if (wdr_credstore_set(store, id, key, token, 0) != 0)
    snprintf(err, err_size,
             "profile file \"%s\", section [%s]: a value is too long", w->path,
             w->section);
  else
    out = WDR_CREDFILE_RELOADED;
  explicit_bzero(text, len);
  free(text);
  char *secrets[] = {id, key, token};
  for (size_t i = 0; i < 3; i++)
    if (secrets[i] != NULL) {
      explicit_bzero(secrets[i], strlen(secrets[i]));
      free(secrets[i]);
    }
  return out;
}
