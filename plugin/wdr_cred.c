#include "wdr_cred.h"
#include "wdr_ini.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const names[] = {
    [WDR_CRED_CHAIN] = "chain",       [WDR_CRED_CONFIG] = "config",
    [WDR_CRED_ENV] = "env",           [WDR_CRED_PROFILE] = "profile",
    [WDR_CRED_CVM_ROLE] = "cvm-role",
};

bool wdr_cred_source_parse(const char *s, wdr_cred_source_t *out) {
  for (size_t i = WDR_CRED_CONFIG; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcasecmp(s, names[i]) == 0) {
      *out = (wdr_cred_source_t)i;
      return true;
    }
  return false;
}

const char *wdr_cred_source_name(wdr_cred_source_t s) {
  return (size_t)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

static const char *set(const char *(*get_env)(const char *), const char *n) {
  const char *v = get_env != NULL ? get_env(n) : NULL;
  return v != NULL && v[0] != '\0' ? v : NULL;
}

bool wdr_cred_profile_named(const char *(*get_env)(const char *name)) {
  return set(get_env, "TENCENTCLOUD_CREDENTIALS_FILE") != NULL;
}

size_t
wdr_cred_profile_paths(const char *(*get_env)(const char *name),
                       char paths[WDR_CRED_PATHS_MAX][WDR_CRED_PATH_MAX]) {
  size_t n = 0;
  const char *named = set(get_env, "TENCENTCLOUD_CREDENTIALS_FILE");
  const char *home = set(get_env, "HOME");
  /* A path that does not fit is not tried rather than tried cut short. */
  if (named != NULL) {
    if (snprintf(paths[n], WDR_CRED_PATH_MAX, "%s", named) < WDR_CRED_PATH_MAX)
      n++;
    return n;
  }
  if (home != NULL &&
      snprintf(paths[n], WDR_CRED_PATH_MAX, "%s/.tencentcloud/credentials",
               home) < WDR_CRED_PATH_MAX)
    n++;
  snprintf(paths[n++], WDR_CRED_PATH_MAX, "%s",
           "/etc/tencentcloud/credentials");
  return n;
}

bool wdr_cred_usable(const char *secret_id, int64_t expires_at, int64_t now,
                     double timeout_s) {
  if (secret_id == NULL || secret_id[0] == '\0')
    return false;
  return expires_at == 0 || (double)(expires_at - now) > timeout_s + 1.0;
}

int64_t wdr_cred_refresh_at(int64_t expires_at, int64_t now, double timeout_s) {
  int64_t left = expires_at - now;
  int64_t margin =
      left / 2 < WDR_CRED_RENEW_BEFORE ? left / 2 : WDR_CRED_RENEW_BEFORE;
  /* Fetched before they stop being usable (wdr_cred_usable), with a
   * second for the fetch itself. */
  int64_t least = (int64_t)timeout_s + 3;
  if (margin < least)
    margin = least;
  int64_t at = expires_at - margin;
  return at > now + 1 ? at : now + 1;
}

wdr_cred_status_t wdr_cred_from_profile(const char *text, size_t len,
                                        const char *section, char **id,
                                        char **key, char **token, char *err,
                                        size_t err_size) {
  static const char *const keys[] = {"secret_id", "secret_key", "token"};
  char *v[3];
  char why[WDR_INI_ERR_MAX];
  *id = *key = *token = NULL;
  wdr_ini_status_t rc = wdr_ini_get(text, len, section, keys, 3, v, why);
  if (rc == WDR_INI_ERROR) {
    snprintf(err, err_size, "%s", why);
    return WDR_CRED_BAD;
  }
  if (rc == WDR_INI_NO_SECTION)
    return WDR_CRED_NONE;
  for (size_t i = 0; i < 2; i++)
    if (v[i] == NULL || v[i][0] == '\0') {
      snprintf(err, err_size, "section [%s] has no %s", section, keys[i]);
      wdr_ini_free(v, 3);
      return WDR_CRED_BAD;
    }
  *id = v[0];
  *key = v[1];
  if (v[2] != NULL && v[2][0] == '\0')
    wdr_ini_free(&v[2], 1);
  *token = v[2];
  return WDR_CRED_FOUND;
}

bool wdr_cred_value_ok(const char *s) {
  for (; s != NULL && *s != '\0'; s++)
    if ((unsigned char)*s <= 0x20 || *s == 0x7f)
      return false;
  return true;
}
