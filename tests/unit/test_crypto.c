/* The two primitives on their own (FIPS 180-2 and RFC 4231 vectors), so a
 * crypto regression fails here and not only in the signer's tests. */
#include "testutil.h"

#include "wdr_crypto.h"

static void test_sha256(void **state) {
  (void)state;
  char hex[WDR_SHA256_HEX_LEN + 1];
  assert_int_equal(wdr_sha256_hex("abc", 3, hex), 0);
  assert_string_equal(
      hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert_int_equal(wdr_sha256_hex("", 0, hex), 0);
  assert_string_equal(
      hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void check_hmac(const void *key, size_t key_len, const char *msg,
                       const char *want) {
  uint8_t mac[WDR_SHA256_LEN];
  char hex[WDR_SHA256_HEX_LEN + 1];
  assert_int_equal(wdr_hmac_sha256(key, key_len, msg, strlen(msg), mac), 0);
  wdr_hex(mac, sizeof(mac), hex);
  assert_string_equal(hex, want);
}

static void test_hmac_rfc4231(void **state) {
  (void)state;
  uint8_t key1[20];
  memset(key1, 0x0b, sizeof(key1));
  /* RFC 4231 test case 1 */
  check_hmac(
      key1, sizeof(key1), "Hi There",
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  /* test case 2: a key shorter than the block */
  check_hmac(
      "Jefe", 4, "what do ya want for nothing?",
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  /* test case 6: a key longer than the block is hashed first */
  uint8_t key6[131];
  memset(key6, 0xaa, sizeof(key6));
  check_hmac(
      key6, sizeof(key6),
      "Test Using Larger Than Block-Size Key - Hash Key First",
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static void test_hex(void **state) {
  (void)state;
  const uint8_t in[] = {0x00, 0x0f, 0xa0, 0xff};
  char out[9];
  wdr_hex(in, sizeof(in), out);
  assert_string_equal(out, "000fa0ff");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256),
      cmocka_unit_test(test_hmac_rfc4231),
      cmocka_unit_test(test_hex),
  };
  return cmocka_run_group_tests_name("crypto", tests, NULL, NULL);
}
