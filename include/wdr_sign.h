/* wdr_sign: TC3-HMAC-SHA256 request signing (Tencent Cloud API 3.0), pure.
 *
 * Everything is an input: the timestamp, the credentials, the exact body
 * bytes. No clock, no environment, no network. Every intermediate stage is
 * kept in wdr_sign_t so that tests can compare each one with the vectors. */
#ifndef WDR_SIGN_H
#define WDR_SIGN_H

#include "wdr_buf.h"
#include "wdr_crypto.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  const char *host;         /* Host header value as sent, e.g. "a.b:8443" */
  const char *content_type; /* Content-Type value as sent */
  const char *action;       /* X-TC-Action; signed only when sign_action */
  bool sign_action;         /* SignedHeaders content-type;host;x-tc-action */
  const char *service;      /* credential-scope service, e.g. "wedata" */
  const void *payload;      /* the exact body bytes */
  size_t payload_len;
  int64_t timestamp; /* X-TC-Timestamp, Unix seconds */
  const char *secret_id;
  const char *secret_key; /* borrowed; never copied except into derived keys */
} wdr_sign_input_t;

typedef struct {
  char date[16]; /* UTC date of timestamp, YYYY-MM-DD */
  char hashed_payload[WDR_SHA256_HEX_LEN + 1];
  wdr_buf_t canonical_request;
  char hashed_canonical_request[WDR_SHA256_HEX_LEN + 1];
  wdr_buf_t credential_scope;
  wdr_buf_t string_to_sign;
  uint8_t secret_date[WDR_SHA256_LEN]; /* derived keys: wiped by clear */
  uint8_t secret_service[WDR_SHA256_LEN];
  uint8_t secret_signing[WDR_SHA256_LEN];
  char signature[WDR_SHA256_HEX_LEN + 1];
  wdr_buf_t authorization; /* full Authorization header value */
} wdr_sign_t;

/* wdr_sign_compute runs every stage. out needs no initialisation; release it
 * with wdr_sign_clear, also after a failure. Returns 0, or -1 when an input
 * is missing or too long (a header value over 1 KiB, say) or crypto failed. */
int wdr_sign_compute(const wdr_sign_input_t *in, wdr_sign_t *out)
    __attribute__((warn_unused_result));

/* wdr_sign_compute_with_key runs every stage but key derivation, using an
 * already derived signing key (secret_key is ignored); secret_date and
 * secret_service stay zero. For checks against published examples whose
 * SecretKey is masked. */
int wdr_sign_compute_with_key(const wdr_sign_input_t *in,
                              const uint8_t signing_key[WDR_SHA256_LEN],
                              wdr_sign_t *out)
    __attribute__((warn_unused_result));

/* wdr_sign_signature is the last stage alone: the hex HMAC of string_to_sign
 * under an already derived signing key. Returns 0 or -1. */
int wdr_sign_signature(const uint8_t signing_key[WDR_SHA256_LEN],
                       const char *string_to_sign,
                       char out[WDR_SHA256_HEX_LEN + 1])
    __attribute__((warn_unused_result));

/* wdr_sign_clear wipes the derived keys and frees the buffers. */
void wdr_sign_clear(wdr_sign_t *s);

#endif
