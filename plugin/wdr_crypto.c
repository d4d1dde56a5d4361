#include "wdr_crypto.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <limits.h>

void wdr_hex(const uint8_t *in, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 0x0f];
  }
  out[2 * len] = '\0';
}

int wdr_sha256_hex(const void *data, size_t len,
                   char out[WDR_SHA256_HEX_LEN + 1]) {
  uint8_t md[WDR_SHA256_LEN];
  unsigned int md_len = 0;
  if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 ||
      md_len != WDR_SHA256_LEN)
    return -1;
  wdr_hex(md, sizeof(md), out);
  return 0;
}

int wdr_hmac_sha256(const void *key, size_t key_len, const void *msg,
                    size_t msg_len, uint8_t out[WDR_SHA256_LEN]) {
  unsigned int out_len = 0;
  if (key_len > INT_MAX)
    return -1;
  if (HMAC(EVP_sha256(), key, (int)key_len, msg, msg_len, out, &out_len) ==
          NULL ||
      out_len != WDR_SHA256_LEN)
    return -1;
  return 0;
}
