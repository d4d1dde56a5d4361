#include "wdr_sign.h"

#include <ctype.h>
#include <string.h>
#include <time.h>

#define SIGN_ALGORITHM "TC3-HMAC-SHA256"
#define SIGN_MAX_FIELD 1024 /* host, content type, ids: far below this */
#define SIGN_MAX_TEXT 8192

/* Appends "key:value\n" where value is trimmed and lower-cased, as the
 * CanonicalHeaders rule says (the value too, not only the key). */
static int append_canonical_header(wdr_buf_t *b, const char *key,
                                   const char *value) {
  const char *start = value;
  const char *end = value + strlen(value);
  while (start < end && isspace((unsigned char)*start))
    start++;
  while (end > start && isspace((unsigned char)end[-1]))
    end--;
  if (wdr_buf_append_str(b, key) != 0 || wdr_buf_append(b, ":", 1) != 0)
    return -1;
  for (const char *p = start; p < end; p++) {
    char c = (char)tolower((unsigned char)*p);
    if (wdr_buf_append(b, &c, 1) != 0)
      return -1;
  }
  return wdr_buf_append(b, "\n", 1);
}

static bool field_ok(const char *s) {
  return s != NULL && s[0] != '\0' && strlen(s) <= SIGN_MAX_FIELD;
}

static int make_canonical_request(const wdr_sign_input_t *in, wdr_sign_t *s) {
  wdr_buf_t *b = &s->canonical_request;
  /* An empty body (NULL, 0) hashes as "". */
  if (wdr_sha256_hex(in->payload ? in->payload : "", in->payload_len,
                     s->hashed_payload) != 0)
    return -1;
  (void)!wdr_buf_append_str(b, "POST\n" /* HTTPRequestMethod */
                               "/\n"    /* CanonicalURI */
                               "\n");   /* CanonicalQueryString */
  /* CanonicalHeaders, sorted by key; each line ends in "\n". */
  (void)!append_canonical_header(b, "content-type", in->content_type);
  (void)!append_canonical_header(b, "host", in->host);
  if (in->sign_action)
    (void)!append_canonical_header(b, "x-tc-action", in->action);
  (void)!wdr_buf_printf(b, "\n%s\n%s", /* SignedHeaders, HashedPayload */
                        in->sign_action ? "content-type;host;x-tc-action"
                                        : "content-type;host",
                        s->hashed_payload);
  if (b->failed)
    return -1;
  return wdr_sha256_hex(b->data, b->len, s->hashed_canonical_request);
}

static int make_string_to_sign(const wdr_sign_input_t *in, wdr_sign_t *s) {
  struct tm tm;
  time_t t = (time_t)in->timestamp;
  /* The scope date is the UTC date: a local date breaks every night. */
  if (gmtime_r(&t, &tm) == NULL ||
      strftime(s->date, sizeof(s->date), "%Y-%m-%d", &tm) == 0)
    return -1;
  if (wdr_buf_printf(&s->credential_scope, "%s/%s/tc3_request", s->date,
                     in->service) != 0)
    return -1;
  return wdr_buf_printf(&s->string_to_sign, "%s\n%lld\n%s\n%s", SIGN_ALGORITHM,
                        (long long)in->timestamp,
                        wdr_buf_str(&s->credential_scope),
                        s->hashed_canonical_request);
}

static int derive_keys(const wdr_sign_input_t *in, wdr_sign_t *s) {
  wdr_buf_t k;
  wdr_buf_init(&k, SIGN_MAX_FIELD + 8);
  int status = -1;
  if (wdr_buf_append_str(&k, "TC3") != 0 ||
      wdr_buf_append_str(&k, in->secret_key) != 0)
    goto cleanup;
  if (wdr_hmac_sha256(k.data, k.len, s->date, strlen(s->date),
                      s->secret_date) != 0 ||
      wdr_hmac_sha256(s->secret_date, WDR_SHA256_LEN, in->service,
                      strlen(in->service), s->secret_service) != 0 ||
      wdr_hmac_sha256(s->secret_service, WDR_SHA256_LEN, "tc3_request",
                      strlen("tc3_request"), s->secret_signing) != 0)
    goto cleanup;
  status = 0;
cleanup:
  wdr_buf_free(&k, true);
  return status;
}

int wdr_sign_signature(const uint8_t signing_key[WDR_SHA256_LEN],
                       const char *string_to_sign,
                       char out[WDR_SHA256_HEX_LEN + 1]) {
  uint8_t mac[WDR_SHA256_LEN];
  if (wdr_hmac_sha256(signing_key, WDR_SHA256_LEN, string_to_sign,
                      strlen(string_to_sign), mac) != 0)
    return -1;
  wdr_hex(mac, sizeof(mac), out);
  return 0;
}

/* Stages that need no key: canonical request and string to sign. */
static int sign_prepare(const wdr_sign_input_t *in, wdr_sign_t *s) {
  memset(s, 0, sizeof(*s));
  wdr_buf_init(&s->canonical_request, SIGN_MAX_TEXT);
  wdr_buf_init(&s->credential_scope, SIGN_MAX_TEXT);
  wdr_buf_init(&s->string_to_sign, SIGN_MAX_TEXT);
  wdr_buf_init(&s->authorization, SIGN_MAX_TEXT);

  if (!field_ok(in->host) || !field_ok(in->content_type) ||
      !field_ok(in->service) || !field_ok(in->secret_id) ||
      (in->sign_action && !field_ok(in->action)) ||
      (in->payload == NULL && in->payload_len > 0))
    return -1;
  if (make_canonical_request(in, s) != 0 || make_string_to_sign(in, s) != 0)
    return -1;
  return 0;
}

/* Stages after key derivation: signature and Authorization value. */
static int sign_finish(const wdr_sign_input_t *in, wdr_sign_t *s) {
  if (wdr_sign_signature(s->secret_signing, wdr_buf_str(&s->string_to_sign),
                         s->signature) != 0)
    return -1;
  return wdr_buf_printf(&s->authorization,
                        SIGN_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, "
                                       "Signature=%s",
                        in->secret_id, wdr_buf_str(&s->credential_scope),
                        in->sign_action ? "content-type;host;x-tc-action"
                                        : "content-type;host",
                        s->signature);
}

int wdr_sign_compute(const wdr_sign_input_t *in, wdr_sign_t *s) {
  if (sign_prepare(in, s) != 0 || !field_ok(in->secret_key) ||
      derive_keys(in, s) != 0)
    return -1;
  return sign_finish(in, s);
}

int wdr_sign_compute_with_key(const wdr_sign_input_t *in,
                              const uint8_t signing_key[WDR_SHA256_LEN],
                              wdr_sign_t *s) {
  if (sign_prepare(in, s) != 0)
    return -1;
  memcpy(s->secret_signing, signing_key, WDR_SHA256_LEN);
  return sign_finish(in, s);
}

void wdr_sign_clear(wdr_sign_t *s) {
  explicit_bzero(s->secret_date, sizeof(s->secret_date));
  explicit_bzero(s->secret_service, sizeof(s->secret_service));
  explicit_bzero(s->secret_signing, sizeof(s->secret_signing));
  explicit_bzero(s->signature, sizeof(s->signature));
  wdr_buf_free(&s->canonical_request, false);
  wdr_buf_free(&s->credential_scope, false);
  wdr_buf_free(&s->string_to_sign, false);
  wdr_buf_free(&s->authorization, true);
}
