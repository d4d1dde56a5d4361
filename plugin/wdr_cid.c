#include "wdr_cid.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Byte 0 says how bytes 1-16 hold the text. Empty is all zero, so that a
 * zeroed run has empty texts. */
enum { EMPTY, INLINE, UUID_LOWER, UUID_UPPER, HEAP };

#define BODY 16
#define UUID_LEN 36

static int hex_value(unsigned char ch, bool upper) {
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (!upper && ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (upper && ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

static bool is_dash_at(size_t i) {
  return i == 8 || i == 13 || i == 18 || i == 23;
}

/* Packs s into out when it is a canonical UUID of one case; returns the kind
 * (UUID_LOWER or UUID_UPPER), or EMPTY when s is not one. A UUID of digits
 * only is lowercase: both cases print it the same. */
static int pack_uuid(const char *s, size_t len, unsigned char out[BODY]) {
  if (len != UUID_LEN)
    return EMPTY;
  bool upper = false, lower = false;
  for (size_t i = 0; i < UUID_LEN; i++) {
    unsigned char ch = (unsigned char)s[i];
    upper |= ch >= 'A' && ch <= 'F';
    lower |= ch >= 'a' && ch <= 'f';
  }
  if (upper && lower)
    return EMPTY;
  size_t n = 0;
  for (size_t i = 0; i < UUID_LEN; i++) {
    if (is_dash_at(i)) {
      if (s[i] != '-')
        return EMPTY;
      continue;
    }
    int hi = hex_value((unsigned char)s[i], upper);
    int lo = i + 1 < UUID_LEN ? hex_value((unsigned char)s[i + 1], upper) : -1;
    if (hi < 0 || lo < 0)
      return EMPTY;
    out[n++] = (unsigned char)(hi << 4 | lo);
    i++;
  }
  return upper ? UUID_UPPER : UUID_LOWER;
}

static void unpack_uuid(const unsigned char in[BODY], bool upper,
                        char out[UUID_LEN + 1]) {
  const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  size_t n = 0;
  for (size_t i = 0; i < UUID_LEN; i++) {
    if (is_dash_at(i)) {
      out[i] = '-';
      continue;
    }
    out[i] = digits[in[n] >> 4];
    out[i + 1] = digits[in[n] & 0x0f];
    n++;
    i++;
  }
  out[UUID_LEN] = '\0';
}

static char *heap_of(const wdr_cid_t *c) {
  char *p;
  memcpy(&p, &c->b[1], sizeof(p));
  return p;
}

void wdr_cid_clear(wdr_cid_t *c) {
  if (c->b[0] == HEAP)
    free(heap_of(c));
  memset(c, 0, sizeof(*c));
}

int wdr_cid_set(wdr_cid_t *c, const char *s) {
  size_t len = s == NULL ? 0 : strnlen(s, WDR_ID_MAX);
  if (len >= WDR_ID_MAX)
    return -1;
  wdr_cid_t next;
  memset(&next, 0, sizeof(next));
  int kind;
  if (len == 0) {
    /* all zero */
  } else if ((kind = pack_uuid(s, len, &next.b[1])) != EMPTY) {
    next.b[0] = (unsigned char)kind;
  } else if (len <= BODY) {
    next.b[0] = INLINE;
    memcpy(&next.b[1], s, len);
  } else {
    char *p = malloc(len + 1);
    if (p == NULL)
      return -1;
    memcpy(p, s, len + 1);
    next.b[0] = HEAP;
    memcpy(&next.b[1], &p, sizeof(p));
  }
  wdr_cid_clear(c);
  *c = next;
  return 0;
}

bool wdr_cid_is_empty(const wdr_cid_t *c) { return c->b[0] == EMPTY; }

const char *wdr_cid_str(const wdr_cid_t *c, char buf[WDR_ID_MAX]) {
  switch (c->b[0]) {
  case INLINE:
    memcpy(buf, &c->b[1], BODY);
    buf[BODY] = '\0';
    return buf;
  case UUID_LOWER:
  case UUID_UPPER:
    unpack_uuid(&c->b[1], c->b[0] == UUID_UPPER, buf);
    return buf;
  case HEAP:
    return heap_of(c);
  default:
    buf[0] = '\0';
    return buf;
  }
}

bool wdr_cid_eq(const wdr_cid_t *c, const char *s) {
  size_t len = s == NULL ? 0 : strnlen(s, WDR_ID_MAX);
  unsigned char packed[BODY];
  switch (c->b[0]) {
  case EMPTY:
    return len == 0;
  case INLINE:
    return len > 0 && len <= BODY &&
           strncmp((const char *)&c->b[1], s, BODY) == 0;
  case UUID_LOWER:
  case UUID_UPPER:
    return pack_uuid(s, len, packed) == c->b[0] &&
           memcmp(packed, &c->b[1], BODY) == 0;
  case HEAP:
    return len < WDR_ID_MAX && strcmp(heap_of(c), s) == 0;
  default:
    return false;
  }
}
