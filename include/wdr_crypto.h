/* wdr_crypto: the only module that talks to OpenSSL.
 * SHA-256 and HMAC-SHA256, the two primitives TC3 signing needs. */
#ifndef WDR_CRYPTO_H
#define WDR_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define WDR_SHA256_LEN 32
#define WDR_SHA256_HEX_LEN 64

/* wdr_sha256_hex writes the lower-case hex digest of data and a NUL into
 * out (WDR_SHA256_HEX_LEN + 1 bytes). Returns 0 or -1. */
int wdr_sha256_hex(const void *data, size_t len,
                   char out[WDR_SHA256_HEX_LEN + 1])
    __attribute__((warn_unused_result));

/* wdr_hmac_sha256 writes the raw 32-byte MAC of msg under key into out.
 * Returns 0 or -1. */
int wdr_hmac_sha256(const void *key, size_t key_len, const void *msg,
                    size_t msg_len, uint8_t out[WDR_SHA256_LEN])
    __attribute__((warn_unused_result));

/* wdr_hex encodes len bytes as lower-case hex into out (2 * len + 1 bytes). */
void wdr_hex(const uint8_t *in, size_t len, char *out);

#endif
