/* wdr_credfile: the credential files on disk (the profile file of the
 * credential chain): reading one with a bound, and taking a changed one
 * into the credential store while collectd runs.
 *
 * Disk only (stat, open, read); the text is judged by wdr_cred. Not
 * thread-safe per watch: one thread (collectd's read callback) calls
 * wdr_credfile_reload on a watch. Errors name the file and what is wrong,
 * never a value. */
#ifndef WDR_CREDFILE_H
#define WDR_CREDFILE_H

#include "wdr_credstore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WDR_CREDFILE_MAX (1024 * 1024)

/* wdr_credfile_read reads at most max bytes of path into *text (a NUL
 * after them; the caller wipes and frees it). Returns 0, or an errno value
 * (EFBIG: larger than max). */
int wdr_credfile_read(const char *path, size_t max, char **text, size_t *len);

/* What identifies one version of a file: a change of any field (or the file
 * appearing or going) is a change. */
typedef struct {
  bool exists;
  uint64_t dev, ino, size;
  int64_t mtime_ns, ctime_ns;
} wdr_credfile_stamp_t;

/* wdr_credfile_stamp: the file's stamp now (exists false when stat fails). */
wdr_credfile_stamp_t wdr_credfile_stamp(const char *path);

typedef struct {
  char *path;    /* owned */
  char *section; /* owned */
  wdr_credfile_stamp_t seen;
} wdr_credfile_watch_t;

/* wdr_credfile_watch_init: watch path's section, as it is now (the version
 * the credentials were read from). Returns 0 or -1 (no memory). */
int wdr_credfile_watch_init(wdr_credfile_watch_t *w, const char *path,
                            const char *section);
void wdr_credfile_watch_free(wdr_credfile_watch_t *w);

typedef enum {
  WDR_CREDFILE_UNCHANGED,
  WDR_CREDFILE_RELOADED, /* the store holds the file's new credentials */
  WDR_CREDFILE_FAILED    /* err says why; the store keeps the old ones */
} wdr_credfile_outcome_t;

/* wdr_credfile_reload: when the watched file changed since the last call,
 * reads it and puts its section's credentials into store. A file that is
 * gone, unreadable or broken is FAILED once per version of it (the next
 * change is looked at again). */
wdr_credfile_outcome_t wdr_credfile_reload(wdr_credfile_watch_t *w,
                                           wdr_credstore_t *store, char *err,
                                           size_t err_size);

#endif
