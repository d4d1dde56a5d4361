#include "wdr_table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The due lanes are heaps 0 .. WDR_TABLE_LANES - 1. */
enum { HEAP_FINISHED = WDR_TABLE_LANES, HEAPS };

/* What the table keeps about run i beside it (16 bytes: it is paid per
 * run): where it is in its heap, and which counts it is in. A run is in at
 * most one heap: due and finished exclude each other. */
typedef struct {
  int32_t pos;     /* in heap `heap`, -1 when in none */
  uint32_t seq;    /* when it entered the heap: ties go first-come */
  int32_t changed; /* its place in the changed list, -1 when not there */
  uint8_t heap;
  bool pending;
  bool awaiting;
} meta_t;

/* A removed run's key (moved out of the run), until the journal has it. */
typedef struct {
  size_t wf;
  wdr_cid_t id;
} run_key_t;

typedef struct {
  uint32_t *a; /* run indexes */
  size_t num;
} heap_t;

/* Runs live in chunks of RUN_CHUNK that never move: growing the table adds
 * a chunk instead of copying every run (at 65,536 runs a doubling copied
 * 40 MB and stalled the engine for 64 ms). */
#define RUN_CHUNK 1024

struct wdr_table_s {
  size_t wf_num;
  size_t max;
  wdr_run_t **chunks;
  size_t chunks_num;
  meta_t *meta;
  size_t num, cap;
  /* Open addressing with linear probing: run index + 1, 0 for empty. Kept
   * at most half full, so probes stay short. */
  uint32_t *slots;
  size_t slots_cap; /* a power of two */
  heap_t heap[HEAPS];
  uint32_t seq;      /* entries into a heap so far, modulo 2^32 */
  uint32_t *changed; /* run indexes settled since the last drain */
  size_t changed_num;
  run_key_t *forgotten;
  size_t forgotten_num, forgotten_cap;
  size_t pending;
  size_t *awaiting; /* per workflow */
  wdr_table_lane_fn lane_of;
  const void *lane_ctx;
};

static wdr_run_t *run_at(const wdr_table_t *t, size_t i) {
  return &t->chunks[i / RUN_CHUNK][i % RUN_CHUNK];
}

/* --- keys ---------------------------------------------------------------- */

/* FNV-1a over the run id, mixed with the workflow. */
static uint64_t key_hash(size_t wf, const char *id) {
  uint64_t h = 14695981039346656037ULL ^ (uint64_t)wf;
  for (const unsigned char *p = (const unsigned char *)id; *p != '\0'; p++)
    h = (h ^ *p) * 1099511628211ULL;
  return h ^ (h >> 29);
}

static uint64_t run_hash(const wdr_run_t *r) {
  char buf[WDR_ID_MAX];
  return key_hash(r->wf, wdr_cid_str(&r->execution_id, buf));
}

/* The slot holding run (wf, id), or the empty slot where it would go. */
static size_t slot_of(const wdr_table_t *t, size_t wf, const char *id) {
  size_t mask = t->slots_cap - 1;
  size_t i = (size_t)key_hash(wf, id) & mask;
  for (; t->slots[i] != 0; i = (i + 1) & mask) {
    const wdr_run_t *r = run_at(t, t->slots[i] - 1);
    if (r->wf == wf && wdr_cid_eq(&r->execution_id, id))
      break;
  }
  return i;
}

/* The slot holding value v (run index + 1) whose key hashes to h, or the
 * empty slot where it would go. */
static size_t slot_holding(const wdr_table_t *t, uint64_t h, uint32_t v) {
  size_t mask = t->slots_cap - 1;
  size_t i = (size_t)h & mask;
  while (t->slots[i] != 0 && t->slots[i] != v)
    i = (i + 1) & mask;
  return i;
}

static int grow_slots(wdr_table_t *t) {
  size_t cap = t->slots_cap * 2;
  uint32_t *s = calloc(cap, sizeof(*s));
  if (s == NULL)
    return -1;
  free(t->slots);
  t->slots = s;
  t->slots_cap = cap;
  for (size_t i = 0; i < t->num; i++)
    t->slots[slot_holding(t, run_hash(run_at(t, i)), (uint32_t)i + 1)] =
        (uint32_t)i + 1;
  return 0;
}

/* Empties slot i without breaking the probe chains behind it (backward
 * shift: no tombstones, so lookups never slow down with churn). */
static void slot_delete(wdr_table_t *t, size_t i) {
  size_t mask = t->slots_cap - 1;
  size_t j = i;
  for (;;) {
    t->slots[i] = 0;
    for (;;) {
      j = (j + 1) & mask;
      if (t->slots[j] == 0)
        return;
      size_t home = (size_t)run_hash(run_at(t, t->slots[j] - 1)) & mask;
      /* j's entry may move to i when its home is not in (i, j]. */
      bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (!stays)
        break;
    }
    t->slots[i] = t->slots[j];
    i = j;
  }
}

/* --- heaps --------------------------------------------------------------- */

static int64_t heap_key(const wdr_table_t *t, int h, uint32_t run) {
  const wdr_run_t *r = run_at(t, run);
  return h != HEAP_FINISHED ? r->next_at_ms : r->updated_ms;
}

/* Heap order: the key, then first come first served, so that runs due at
 * the same time leave in the order they became due. The entry counter
 * wraps; compared as serial numbers it orders any two entries less than
 * 2^31 entries apart, which ties among the runs of one table always are
 * in practice. */
static bool before(const wdr_table_t *t, int h, uint32_t a, uint32_t b) {
  int64_t ka = heap_key(t, h, a), kb = heap_key(t, h, b);
  return ka != kb ? ka < kb : (int32_t)(t->meta[a].seq - t->meta[b].seq) < 0;
}

static void heap_put(wdr_table_t *t, int h, size_t pos, uint32_t run) {
  t->heap[h].a[pos] = run;
  t->meta[run].pos = (int32_t)pos;
  t->meta[run].heap = (uint8_t)h;
}

static void sift_up(wdr_table_t *t, int h, size_t pos) {
  heap_t *hp = &t->heap[h];
  uint32_t run = hp->a[pos];
  while (pos > 0) {
    size_t parent = (pos - 1) / 2;
    if (!before(t, h, run, hp->a[parent]))
      break;
    heap_put(t, h, pos, hp->a[parent]);
    pos = parent;
  }
  heap_put(t, h, pos, run);
}

static void sift_down(wdr_table_t *t, int h, size_t pos) {
  heap_t *hp = &t->heap[h];
  uint32_t run = hp->a[pos];
  for (;;) {
    size_t child = 2 * pos + 1;
    if (child >= hp->num)
      break;
    if (child + 1 < hp->num && before(t, h, hp->a[child + 1], hp->a[child]))
      child++;
    if (!before(t, h, hp->a[child], run))
      break;
    heap_put(t, h, pos, hp->a[child]);
    pos = child;
  }
  heap_put(t, h, pos, run);
}

/* Takes run out of whichever heap it is in. */
static void heap_drop(wdr_table_t *t, uint32_t run) {
  int32_t pos = t->meta[run].pos;
  if (pos < 0)
    return;
  int h = t->meta[run].heap;
  heap_t *hp = &t->heap[h];
  t->meta[run].pos = -1;
  uint32_t last = hp->a[--hp->num];
  if ((size_t)pos == hp->num)
    return;
  heap_put(t, h, (size_t)pos, last);
  sift_up(t, h, (size_t)pos);
  sift_down(t, h, (size_t)t->meta[last].pos);
}

/* Puts run in heap h (out of the other), or re-sorts it there after its key
 * changed. */
static void heap_file(wdr_table_t *t, int h, uint32_t run) {
  if (t->meta[run].pos >= 0 && t->meta[run].heap != h)
    heap_drop(t, run);
  int32_t pos = t->meta[run].pos;
  if (pos < 0) {
    t->meta[run].seq = ++t->seq;
    pos = (int32_t)t->heap[h].num++;
    heap_put(t, h, (size_t)pos, run);
  }
  sift_up(t, h, (size_t)pos);
  sift_down(t, h, (size_t)t->meta[run].pos);
}

/* --- the table ----------------------------------------------------------- */

wdr_table_t *wdr_table_create(size_t wf_num, size_t max_runs,
                              wdr_table_lane_fn lane_of, const void *ctx) {
  if (wf_num == 0 || max_runs == 0 || max_runs > UINT32_MAX / 4)
    return NULL;
  wdr_table_t *t = calloc(1, sizeof(*t));
  if (t == NULL)
    return NULL;
  t->wf_num = wf_num;
  t->max = max_runs;
  t->lane_of = lane_of;
  t->lane_ctx = ctx;
  t->slots_cap = 64;
  t->slots = calloc(t->slots_cap, sizeof(*t->slots));
  t->awaiting = calloc(wf_num, sizeof(*t->awaiting));
  if (t->slots == NULL || t->awaiting == NULL) {
    wdr_table_destroy(t);
    return NULL;
  }
  return t;
}

void wdr_table_destroy(wdr_table_t *t) {
  if (t == NULL)
    return;
  for (size_t i = 0; i < t->num; i++)
    wdr_cid_clear(&run_at(t, i)->execution_id);
  for (size_t k = 0; k < t->forgotten_num; k++)
    wdr_cid_clear(&t->forgotten[k].id);
  for (size_t c = 0; c < t->chunks_num; c++)
    free(t->chunks[c]);
  free(t->chunks);
  free(t->meta);
  free(t->slots);
  for (int h = 0; h < HEAPS; h++)
    free(t->heap[h].a);
  free(t->awaiting);
  free(t->changed);
  free(t->forgotten);
  free(t);
}

/* The slot that holds r. Runs do not know their index (4 bytes a run),
 * so their key's probe chain is walked, comparing slots with r itself. */
static size_t slot_of_run(const wdr_table_t *t, const wdr_run_t *r) {
  size_t mask = t->slots_cap - 1;
  size_t i = (size_t)run_hash(r) & mask;
  while (t->slots[i] != 0 && run_at(t, t->slots[i] - 1) != r)
    i = (i + 1) & mask;
  return i;
}

static size_t index_of(const wdr_table_t *t, const wdr_run_t *r) {
  return t->slots[slot_of_run(t, r)] - 1;
}

wdr_run_t *wdr_table_find(const wdr_table_t *t, size_t wf, const char *id) {
  if (id == NULL)
    return NULL;
  uint32_t v = t->slots[slot_of(t, wf, id)];
  return v != 0 ? run_at(t, v - 1) : NULL;
}

/* Room for one more run in the arrays. */
static int reserve(wdr_table_t *t) {
  if (t->num < t->cap)
    return 0;
  /* A new chunk of runs; the index arrays (4-40 bytes a run) double. */
  if (t->chunks_num * RUN_CHUNK <= t->num) {
    wdr_run_t **chunks =
        realloc(t->chunks, (t->chunks_num + 1) * sizeof(*chunks));
    if (chunks == NULL)
      return -1;
    t->chunks = chunks;
    if ((t->chunks[t->chunks_num] = malloc(RUN_CHUNK * sizeof(wdr_run_t))) ==
        NULL)
      return -1;
    t->chunks_num++;
  }
  size_t cap = t->cap ? 2 * t->cap : 64;
  if (cap > t->max)
    cap = t->max;
  if (cap > t->chunks_num * RUN_CHUNK)
    cap = t->chunks_num * RUN_CHUNK;
  meta_t *meta = realloc(t->meta, cap * sizeof(*meta));
  if (meta == NULL)
    return -1;
  t->meta = meta;
  for (int h = 0; h < HEAPS; h++) {
    uint32_t *a = realloc(t->heap[h].a, cap * sizeof(*a));
    if (a == NULL)
      return -1;
    t->heap[h].a = a;
  }
  uint32_t *changed = realloc(t->changed, cap * sizeof(*changed));
  if (changed == NULL)
    return -1;
  t->changed = changed;
  t->cap = cap;
  return 0;
}

wdr_run_t *wdr_table_add(wdr_table_t *t, size_t wf, const char *id) {
  if (id == NULL || id[0] == '\0' || strlen(id) >= WDR_ID_MAX ||
      wf >= t->wf_num || t->num >= t->max ||
      wdr_table_find(t, wf, id) != NULL || reserve(t) != 0)
    return NULL;
  if (2 * (t->num + 1) > t->slots_cap && grow_slots(t) != 0)
    return NULL;
  uint32_t i = (uint32_t)t->num++;
  wdr_run_t *r = run_at(t, i);
  memset(r, 0, sizeof(*r));
  r->wf = (uint32_t)wf;
  if (wdr_cid_set(&r->execution_id, id) != 0) {
    t->num--;
    return NULL;
  }
  t->meta[i] = (meta_t){.pos = -1, .changed = -1};
  t->slots[slot_of(t, wf, id)] = i + 1;
  wdr_table_settle(t, r);
  return r;
}

static bool is_due(const wdr_run_t *r) {
  return r->state == WDR_RUN_SCHEDULED || r->state == WDR_RUN_VERIFY ||
         r->state == WDR_RUN_ASYNC || r->state == WDR_RUN_FOLLOW;
}

static bool is_finished(const wdr_run_t *r) {
  return r->state == WDR_RUN_IDLE || r->state == WDR_RUN_PERMANENT;
}

static bool is_pending(const wdr_run_t *r) {
  return r->state == WDR_RUN_SCHEDULED || r->state == WDR_RUN_VERIFY ||
         (r->state == WDR_RUN_IN_FLIGHT && r->in_flight != WDR_JOB_ASYNC &&
          r->in_flight != WDR_JOB_FOLLOW);
}

static void mark_changed(wdr_table_t *t, uint32_t i) {
  if (t->meta[i].changed >= 0)
    return;
  t->meta[i].changed = (int32_t)t->changed_num;
  t->changed[t->changed_num++] = i;
}

static void unmark_changed(wdr_table_t *t, uint32_t i) {
  int32_t pos = t->meta[i].changed;
  if (pos < 0)
    return;
  uint32_t last = t->changed[--t->changed_num];
  t->changed[pos] = last;
  t->meta[last].changed = pos;
  t->meta[i].changed = -1;
}

void wdr_table_settle(wdr_table_t *t, wdr_run_t *r) {
  uint32_t i = (uint32_t)index_of(t, r);
  meta_t *m = &t->meta[i];
  mark_changed(t, i);
  if (is_due(r)) {
    unsigned lane = t->lane_of != NULL ? t->lane_of(r, t->lane_ctx) : 0;
    heap_file(t, lane < WDR_TABLE_LANES ? (int)lane : 0, i);
  } else if (is_finished(r))
    heap_file(t, HEAP_FINISHED, i);
  else
    heap_drop(t, i);
  bool pending = is_pending(r), awaiting = wdr_run_awaits_first_send(r);
  t->pending += (size_t)pending - (size_t)m->pending;
  t->awaiting[r->wf] += (size_t)awaiting - (size_t)m->awaiting;
  m->pending = pending;
  m->awaiting = awaiting;
}

/* Moves a removed run's key into the list for the journal. A key that
 * cannot be remembered (no memory) is lost to the journal only: the next
 * snapshot, which holds no such run, forgets it anyway. */
static void remember_forgotten(wdr_table_t *t, wdr_run_t *r) {
  if (t->forgotten_num == t->forgotten_cap) {
    size_t cap = t->forgotten_cap ? 2 * t->forgotten_cap : 16;
    run_key_t *k = realloc(t->forgotten, cap * sizeof(*k));
    if (k == NULL) {
      wdr_cid_clear(&r->execution_id);
      return;
    }
    t->forgotten = k;
    t->forgotten_cap = cap;
  }
  run_key_t *k = &t->forgotten[t->forgotten_num++];
  k->wf = r->wf;
  k->id = r->execution_id;
  memset(&r->execution_id, 0, sizeof(r->execution_id));
}

void wdr_table_remove(wdr_table_t *t, wdr_run_t *r) {
  size_t slot = slot_of_run(t, r);
  uint32_t i = t->slots[slot] - 1;
  meta_t *m = &t->meta[i];
  unmark_changed(t, i);
  heap_drop(t, i);
  t->pending -= m->pending;
  t->awaiting[r->wf] -= m->awaiting;
  slot_delete(t, slot);
  remember_forgotten(t, r);
  uint32_t last = (uint32_t)--t->num;
  if (i == last)
    return;
  /* The last run takes the gap: every place that names it follows. */
  *run_at(t, i) = *run_at(t, last);
  t->meta[i] = t->meta[last];
  t->slots[slot_holding(t, run_hash(run_at(t, i)), last + 1)] = i + 1;
  if (t->meta[i].pos >= 0)
    t->heap[t->meta[i].heap].a[t->meta[i].pos] = i;
  if (t->meta[i].changed >= 0)
    t->changed[t->meta[i].changed] = i;
  else
    mark_changed(t, i); /* moved: a snapshot in parts may have passed it */
}

void wdr_table_drain_changes(wdr_table_t *t, const wdr_table_changes_t *c) {
  /* Forgotten first: a run forgotten and added again since the last drain
   * is in the table now, and replaying "forget, then the run" keeps it. */
  char buf[WDR_ID_MAX];
  for (size_t k = 0; k < t->forgotten_num; k++) {
    c->forgotten(c->ctx, t->forgotten[k].wf,
                 wdr_cid_str(&t->forgotten[k].id, buf));
    wdr_cid_clear(&t->forgotten[k].id);
  }
  t->forgotten_num = 0;
  for (size_t k = 0; k < t->changed_num; k++) {
    uint32_t i = t->changed[k];
    t->meta[i].changed = -1;
    c->changed(c->ctx, run_at(t, i));
  }
  t->changed_num = 0;
}

wdr_run_t *wdr_table_next_due(const wdr_table_t *t, unsigned skip) {
  int best = -1;
  for (int lane = 0; lane < WDR_TABLE_LANES; lane++)
    if (!(skip & (1u << lane)) && t->heap[lane].num > 0 &&
        (best < 0 || before(t, lane, t->heap[lane].a[0], t->heap[best].a[0])))
      best = lane;
  return best >= 0 ? run_at(t, t->heap[best].a[0]) : NULL;
}

wdr_run_t *wdr_table_oldest_finished(const wdr_table_t *t) {
  return t->heap[HEAP_FINISHED].num > 0 ? run_at(t, t->heap[HEAP_FINISHED].a[0])
                                        : NULL;
}

size_t wdr_table_size(const wdr_table_t *t) { return t->num; }
size_t wdr_table_max(const wdr_table_t *t) { return t->max; }

wdr_run_t *wdr_table_at(const wdr_table_t *t, size_t i) {
  return i < t->num ? run_at(t, i) : NULL;
}

size_t wdr_table_pending(const wdr_table_t *t) { return t->pending; }

size_t wdr_table_awaiting(const wdr_table_t *t, size_t wf) {
  return wf < t->wf_num ? t->awaiting[wf] : 0;
}
