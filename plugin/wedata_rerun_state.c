/* wedata-rerun-state: the plugin's durable state for the operator.
 *
 *   wedata-rerun-state [-f STATEFILE] [-w WORKFLOW] [--json] list
 *   wedata-rerun-state [-f STATEFILE] [-w WORKFLOW] [--json] show RUN
 *   wedata-rerun-state [-f STATEFILE] [-w WORKFLOW] [--json] forget RUN
 *
 * This file only parses the arguments, reads and writes the files and
 * takes the lock; what is shown and how a run is forgotten is
 * wdr_statetool's. list and show never write anything and never wait for
 * the plugin: they read the snapshot, the journal and the next journal
 * without the lock, and read again when a file was replaced meanwhile
 * (wdr_statetool_consistent). forget takes the plugin's own lock
 * (wdr_state_lock: non-blocking) and keeps it until the files are
 * replaced; while collectd holds it, forget is refused.
 *
 * Exit status: 0 done; 1 an error (no state file, a state that cannot be
 * read, no such run, a run id under several workflows without -w, a
 * write that failed); 2 bad usage; 3 forget refused: the state is in use. */
#include "wdr_config.h" /* WDR_DEFAULT_STATE_FILE, WDR_DEBIAN_BASE_DIR */
#include "wdr_state.h"
#include "wdr_statetool.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "wedata-rerun-state"
#define EXIT_ERROR 1
#define EXIT_USAGE 2
#define EXIT_IN_USE 3
#define READ_TRIES 5

static const char *const default_state =
    WDR_DEBIAN_BASE_DIR "/" WDR_DEFAULT_STATE_FILE;

static void usage(FILE *to) {
  fprintf(to,
          "usage: " PROG " [-f STATEFILE] [-w WORKFLOW] [--json] list\n"
          "       " PROG " [-f STATEFILE] [-w WORKFLOW] [--json] show RUN\n"
          "       " PROG " [-f STATEFILE] [-w WORKFLOW] [--json] forget RUN\n"
          "\n"
          "  list        every run the plugin remembers: workflow, run, "
          "state,\n"
          "              attempts, last AsyncId, last error, next attempt\n"
          "  show RUN    everything the state holds about run RUN (a\n"
          "              WorkflowExecutionId)\n"
          "  forget RUN  remove run RUN from the state; refused while "
          "collectd\n"
          "              holds it (stop collectd first)\n"
          "  -f STATEFILE  the plugin's StateFile (default %s)\n"
          "  -w WORKFLOW   only runs of this workflow (list), or the run of\n"
          "                this workflow when RUN is under several\n"
          "  --json        the same as JSON\n"
          "\n"
          "exit status: 0 done, 1 error, 2 bad usage, 3 forget refused: the "
          "state is in use\n",
          default_state);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The paths of one state: the snapshot, its journal, its next journal. */
typedef struct {
  const char *path[WDR_STATETOOL_FILES];
  char journal[4096], next[4096];
} paths_t;

static int paths_init(paths_t *p, const char *state) {
  p->path[WDR_STATETOOL_SNAPSHOT] = state;
  p->path[WDR_STATETOOL_JOURNAL] = p->journal;
  p->path[WDR_STATETOOL_NEXT] = p->next;
  return snprintf(p->journal, sizeof(p->journal), "%s.journal", state) <
                     (int)sizeof(p->journal) &&
                 snprintf(p->next, sizeof(p->next), "%s.journal.next", state) <
                     (int)sizeof(p->next)
             ? 0
             : -1;
}

/* Reads the three files into buf (emptied first); id[i] says which file
 * was read. Returns 0, 1 when there is no snapshot, -1 (a message said
 * which file and why). */
static int read_files(const paths_t *p, wdr_buf_t *buf,
                      wdr_state_file_id_t *id) {
  for (int i = 0; i < WDR_STATETOOL_FILES; i++) {
    char err[256] = "";
    wdr_buf_free(&buf[i], false);
    wdr_buf_init(&buf[i], WDR_STATE_MAX);
    int rc =
        wdr_state_read_file_id(p->path[i], &buf[i], &id[i], err, sizeof(err));
    if (rc == 1 && i == WDR_STATETOOL_SNAPSHOT)
      return 1;
    if (rc < 0) {
      fprintf(stderr, PROG ": cannot read %s: %s\n", p->path[i], err);
      return -1;
    }
  }
  return 0;
}

/* Reads the files without the lock until they were one state
 * (READ_TRIES times at most, a little apart). Returns as read_files. */
static int read_consistent(const paths_t *p, wdr_buf_t *buf) {
  for (int attempt = 1;; attempt++) {
    wdr_state_file_id_t read[WDR_STATETOOL_FILES], now[WDR_STATETOOL_FILES];
    int rc = read_files(p, buf, read);
    if (rc != 0)
      return rc;
    for (int i = 0; i < WDR_STATETOOL_FILES; i++)
      wdr_state_file_id_now(p->path[i], &now[i]);
    if (wdr_statetool_consistent(read, now))
      return 0;
    if (attempt == READ_TRIES) {
      fprintf(stderr,
              PROG ": %s changed while it was read, %d times: try again\n",
              p->path[WDR_STATETOOL_SNAPSHOT], READ_TRIES);
      return -1;
    }
    nanosleep(&(struct timespec){.tv_nsec = 20000000L * attempt}, NULL);
  }
}

/* Loads what read_files read. Returns 0 or -1 (said why). */
static int load(const paths_t *p, const wdr_buf_t *buf, int64_t now,
                wdr_statetool_state_t *st) {
  const char *journals[] = {wdr_buf_str(&buf[WDR_STATETOOL_JOURNAL]),
                            wdr_buf_str(&buf[WDR_STATETOOL_NEXT])};
  const size_t lens[] = {buf[WDR_STATETOOL_JOURNAL].len,
                         buf[WDR_STATETOOL_NEXT].len};
  char err[256] = "";
  int rc = wdr_statetool_load(wdr_buf_str(&buf[WDR_STATETOOL_SNAPSHOT]),
                              buf[WDR_STATETOOL_SNAPSHOT].len, journals, lens,
                              2, now, st, err, sizeof(err));
  if (rc == 0)
    return 0;
  fprintf(stderr, PROG ": %s: %s%s\n", p->path[WDR_STATETOOL_SNAPSHOT],
          rc == -1 ? "not a state this tool can read: " : "", err);
  return -1;
}

static int write_out(const wdr_buf_t *out) {
  if (fwrite(wdr_buf_str(out), 1, out->len, stdout) != out->len ||
      fflush(stdout) != 0) {
    fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(errno));
    return EXIT_ERROR;
  }
  return 0;
}

/* The name of process pid ("collectd"), or "" when it cannot be read. */
static void process_name(long pid, char *name, size_t size) {
  char path[64];
  name[0] = '\0';
  snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
  FILE *f = pid > 0 ? fopen(path, "r") : NULL;
  if (f == NULL)
    return;
  if (fgets(name, (int)size, f) == NULL)
    name[0] = '\0';
  name[strcspn(name, "\n")] = '\0';
  fclose(f);
}

/* Runs of the new snapshot per write: one part in memory at a time, as
 * the plugin writes its snapshots. */
#define PART_RUNS 500

/* Replaces the files by those of a forget, holding the lock: the new
 * snapshot (header, then st's records a part at a time) into a temporary
 * file, synced and renamed over the snapshot; then the empty journal the
 * same way; then the next journal removed. The snapshot first: its
 * generation is above every journal's, so a crash before the journal is
 * replaced leaves journals that the next load ignores (they hold nothing
 * the new snapshot lacks), and the forgotten run, which only the old files
 * hold, never comes back. */
static int replace_files(const paths_t *p, const wdr_statetool_state_t *st,
                         const wdr_buf_t *header, const wdr_buf_t *journal) {
  char err[256] = "";
  const char *failed = p->path[WDR_STATETOOL_SNAPSHOT];
  wdr_buf_t part;
  wdr_buf_init(&part, WDR_STATE_MAX);
  size_t cursor = 0;
  bool last = false;
  int fd = wdr_state_fold_open(failed, err, sizeof(err));
  int status =
      fd >= 0 ? wdr_state_fold_write(fd, header, err, sizeof(err)) : -1;
  while (status == 0 && !last) {
    wdr_buf_reset(&part);
    if (wdr_statetool_snapshot_part(st, &cursor, PART_RUNS, &part, &last) !=
        0) {
      snprintf(err, sizeof(err), "out of memory");
      status = -1;
    } else
      status = wdr_state_fold_write(fd, &part, err, sizeof(err));
  }
  if (status == 0) {
    status = wdr_state_fold_commit(fd, failed, NULL, NULL, err, sizeof(err));
    fd = -1; /* closed either way */
  }
  if (status != 0 && fd >= 0)
    wdr_state_fold_abort(fd, failed);
  wdr_buf_free(&part, false);
  if (status == 0) {
    failed = p->path[WDR_STATETOOL_JOURNAL];
    status = wdr_state_write_file(failed, journal, err, sizeof(err));
  }
  if (status == 0 && unlink(p->path[WDR_STATETOOL_NEXT]) != 0 &&
      errno != ENOENT) {
    failed = p->path[WDR_STATETOOL_NEXT];
    snprintf(err, sizeof(err), "unlink: %s", strerror(errno));
    status = -1;
  }
  if (status != 0)
    fprintf(stderr, PROG ": cannot write %s: %s\n", failed, err);
  return status;
}

typedef struct {
  const char *state;
  const char *workflow; /* -w, or NULL */
  const char *command;
  const char *run; /* show, forget */
  bool json;
} args_t;

static int cmd_list(const args_t *a, const paths_t *p, wdr_buf_t *files,
                    wdr_buf_t *out, wdr_statetool_state_t *st) {
  int64_t now = now_ms();
  int rc = read_consistent(p, files);
  if (rc == 1)
    fprintf(stderr, PROG ": no state file %s (see -f)\n", a->state);
  if (rc != 0 || load(p, files, now, st) != 0)
    return EXIT_ERROR;
  if (wdr_statetool_list(st, a->workflow, a->json, now, out) != 0) {
    fprintf(stderr, PROG ": out of memory\n");
    return EXIT_ERROR;
  }
  return write_out(out);
}

static int cmd_show(const args_t *a, const paths_t *p, wdr_buf_t *files,
                    wdr_buf_t *out, wdr_statetool_state_t *st) {
  int64_t now = now_ms();
  char err[512] = "";
  const wdr_run_t *r = NULL;
  int rc = read_consistent(p, files);
  if (rc == 1)
    fprintf(stderr, PROG ": no state file %s (see -f)\n", a->state);
  if (rc != 0 || load(p, files, now, st) != 0)
    return EXIT_ERROR;
  if (wdr_statetool_find(st, a->run, a->workflow, &r, err, sizeof(err)) != 0) {
    fprintf(stderr, PROG ": %s: %s\n", a->state, err);
    return EXIT_ERROR;
  }
  if (wdr_statetool_show(st, r, a->json, now, out) != 0) {
    fprintf(stderr, PROG ": out of memory\n");
    return EXIT_ERROR;
  }
  return write_out(out);
}

static int cmd_forget(const args_t *a, const paths_t *p, wdr_buf_t *files,
                      wdr_buf_t *out, wdr_statetool_state_t *st) {
  char err[512] = "";
  long holder = 0;
  int status = EXIT_ERROR;
  wdr_buf_t snapshot, journal; /* the new snapshot's header; the journal */
  wdr_buf_init(&snapshot, 4096);
  wdr_buf_init(&journal, 4096);
  /* Not even the lock file is made for a state that is not there. */
  if (access(a->state, F_OK) != 0) {
    fprintf(stderr, PROG ": no state file %s (see -f)\n", a->state);
    return EXIT_ERROR;
  }
  int lock = wdr_state_lock(a->state, &holder, err, sizeof(err));
  if (lock == -2) {
    char name[64];
    process_name(holder, name, sizeof(name));
    if (holder > 0)
      fprintf(stderr,
              PROG ": %s is in use by process %ld%s%s%s: stop collectd first\n",
              a->state, holder, name[0] != '\0' ? " (" : "", name,
              name[0] != '\0' ? ")" : "");
    else
      fprintf(stderr,
              PROG ": %s is in use by another process: stop collectd first\n",
              a->state);
    return EXIT_IN_USE;
  }
  if (lock < 0) {
    fprintf(stderr, PROG ": cannot lock %s: %s\n", a->state, err);
    return EXIT_ERROR;
  }
  int64_t now = now_ms();
  const wdr_run_t *r = NULL;
  int rc = read_files(p, files, (wdr_state_file_id_t[WDR_STATETOOL_FILES]){0});
  if (rc == 1)
    fprintf(stderr, PROG ": no state file %s (see -f)\n", a->state);
  if (rc != 0 || load(p, files, now, st) != 0)
    goto cleanup;
  if (wdr_statetool_find(st, a->run, a->workflow, &r, err, sizeof(err)) != 0) {
    fprintf(stderr, PROG ": %s: %s\n", a->state, err);
    goto cleanup;
  }
  const char *wf = st->names[r->wf]; /* st's: outlives r */
  if (wdr_statetool_forget(st, r, wdr_buf_str(&files[WDR_STATETOOL_SNAPSHOT]),
                           files[WDR_STATETOOL_SNAPSHOT].len, now, &snapshot,
                           &journal) != 0) {
    fprintf(stderr, PROG ": out of memory\n");
    goto cleanup;
  }
  if (replace_files(p, st, &snapshot, &journal) != 0)
    goto cleanup;
  if (wdr_statetool_forgotten(a->run, wf, a->json, out) != 0) {
    fprintf(stderr, PROG ": out of memory\n");
    goto cleanup;
  }
  status = write_out(out);
cleanup:
  wdr_state_unlock(lock);
  wdr_buf_free(&snapshot, false);
  wdr_buf_free(&journal, false);
  return status;
}

int main(int argc, char **argv) {
  static const struct option longs[] = {{"json", no_argument, NULL, 'j'},
                                        {"help", no_argument, NULL, 'h'},
                                        {NULL, 0, NULL, 0}};
  args_t a = {.state = default_state};
  int c;
  while ((c = getopt_long(argc, argv, "f:w:h", longs, NULL)) != -1) {
    switch (c) {
    case 'f':
      a.state = optarg;
      break;
    case 'w':
      a.workflow = optarg;
      break;
    case 'j':
      a.json = true;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  int rest = argc - optind;
  a.command = rest > 0 ? argv[optind] : "";
  bool with_run =
      strcmp(a.command, "show") == 0 || strcmp(a.command, "forget") == 0;
  if (!(strcmp(a.command, "list") == 0 && rest == 1) &&
      !(with_run && rest == 2)) {
    if (rest == 0)
      fprintf(stderr, PROG ": no command\n");
    else if (!with_run && strcmp(a.command, "list") != 0)
      fprintf(stderr, PROG ": unknown command \"%s\"\n", a.command);
    else
      fprintf(stderr, PROG ": %s takes %s\n", a.command,
              with_run ? "one RUN" : "no argument");
    usage(stderr);
    return EXIT_USAGE;
  }
  a.run = with_run ? argv[optind + 1] : NULL;
  paths_t p;
  if (a.state[0] == '\0' || paths_init(&p, a.state) != 0) {
    fprintf(stderr, PROG ": -f: the path is empty or too long\n");
    return EXIT_USAGE;
  }
  wdr_buf_t files[WDR_STATETOOL_FILES], out;
  for (int i = 0; i < WDR_STATETOOL_FILES; i++)
    wdr_buf_init(&files[i], WDR_STATE_MAX);
  wdr_buf_init(&out, WDR_STATE_MAX);
  wdr_statetool_state_t st = {0};
  int status =
      strcmp(a.command, "list") == 0   ? cmd_list(&a, &p, files, &out, &st)
      : strcmp(a.command, "show") == 0 ? cmd_show(&a, &p, files, &out, &st)
                                       : cmd_forget(&a, &p, files, &out, &st);
  wdr_statetool_free(&st);
  for (int i = 0; i < WDR_STATETOOL_FILES; i++)
    wdr_buf_free(&files[i], false);
  wdr_buf_free(&out, false);
  return status;
}
