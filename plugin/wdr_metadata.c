#include "wdr_metadata.h"
#include "wdr_cred.h"
#include "wdr_json.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROLE_PATH "/latest/meta-data/cam/security-credentials/"

int wdr_metadata_url(const char *endpoint, const char *role, char *out,
                     size_t size) {
  size_t n = strlen(endpoint);
  while (n > 0 && endpoint[n - 1] == '/')
    n--;
  int w = snprintf(out, size, "%.*s%s%s", (int)n, endpoint, ROLE_PATH,
                   role != NULL ? role : "");
  return w >= 0 && (size_t)w < size ? 0 : -1;
}

static bool role_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || strchr("+=,.@_-", c) != NULL;
}

int wdr_metadata_parse_role(const char *body, size_t len,
                            char role[WDR_METADATA_ROLE_MAX], char *err,
                            size_t err_size) {
  size_t at = 0;
  while (at < len && (body[at] == ' ' || body[at] == '\t' || body[at] == '\r' ||
                      body[at] == '\n'))
    at++;
  size_t end = at;
  while (end < len && role_char(body[end]))
    end++;
  size_t rest = end;
  while (rest < len &&
         (body[rest] == ' ' || body[rest] == '\t' || body[rest] == '\r'))
    rest++;
  if (end == at) {
    snprintf(err, err_size,
             "the metadata service names no role (is an "
             "instance role attached to this CVM?)");
    return -1;
  }
  if (rest < len && body[rest] != '\n') {
    snprintf(err, err_size,
             "the role name from the metadata service has "
             "characters a CAM role name cannot have");
    return -1;
  }
  if (end - at >= WDR_METADATA_ROLE_MAX) {
    snprintf(err, err_size,
             "the role name from the metadata service is "
             "longer than %d bytes",
             WDR_METADATA_ROLE_MAX - 1);
    return -1;
  }
  memcpy(role, body + at, end - at);
  role[end - at] = '\0';
  return 0;
}

void wdr_metadata_creds_free(wdr_metadata_creds_t *c) {
  char **fields[] = {&c->secret_id, &c->secret_key, &c->token};
  for (size_t i = 0; i < 3; i++) {
    if (*fields[i] != NULL) {
      explicit_bzero(*fields[i], strlen(*fields[i]));
      free(*fields[i]);
    }
    *fields[i] = NULL;
  }
}

static bool token_like(const char *s) {
  return s != NULL && *s != '\0' && wdr_cred_value_ok(s);
}

int wdr_metadata_parse_creds(const char *body, size_t len,
                             wdr_metadata_creds_t *out, char *err,
                             size_t err_size) {
  static const char *names[] = {"TmpSecretId", "TmpSecretKey", "Token"};
  memset(out, 0, sizeof(*out));
  char why[160];
  /* {"...": ...} is as deep as the answer goes. */
  yajl_val root = wdr_json_tree_parse(body, len, 4, why, sizeof(why));
  if (root == NULL || !YAJL_IS_OBJECT(root)) {
    snprintf(err, err_size, "the role's credentials are not a JSON object%s%s",
             root == NULL ? ": " : "", root == NULL ? why : "");
    if (root != NULL)
      yajl_tree_free(root);
    return -1;
  }
  int status = -1;
  const char *code_path[] = {"Code", NULL};
  yajl_val code = yajl_tree_get(root, code_path, yajl_t_any);
  const char *code_text = code != NULL ? YAJL_GET_STRING(code) : NULL;
  if (code != NULL &&
      (code_text == NULL || strcmp(code_text, "Success") != 0)) {
    snprintf(err, err_size,
             "the metadata service answered Code other than "
             "\"Success\"");
    goto done;
  }
  char **fields[] = {&out->secret_id, &out->secret_key, &out->token};
  for (size_t i = 0; i < 3; i++) {
    const char *path[] = {names[i], NULL};
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);
    const char *text = v != NULL ? YAJL_GET_STRING(v) : NULL;
    if (text == NULL || !token_like(text)) {
      snprintf(err, err_size,
               "the role's credentials have no usable %s (missing, empty or "
               "with white space)",
               names[i]);
      goto done;
    }
    if ((*fields[i] = strdup(text)) == NULL) {
      snprintf(err, err_size, "out of memory");
      goto done;
    }
  }
  const char *exp_path[] = {"ExpiredTime", NULL};
  yajl_val exp = yajl_tree_get(root, exp_path, yajl_t_number);
  if (exp == NULL || !YAJL_IS_INTEGER(exp) || YAJL_GET_INTEGER(exp) <= 0) {
    snprintf(err, err_size,
             "the role's credentials have no ExpiredTime "
             "(epoch seconds)");
    goto done;
  }
  out->expires_at = YAJL_GET_INTEGER(exp);
  status = 0;
done:
  /* The tree holds the secrets too: wipe its strings before freeing. */
  for (size_t i = 0; i < 3; i++) {
    const char *path[] = {names[i], NULL};
    yajl_val v = yajl_tree_get(root, path, yajl_t_string);
    char *text = v != NULL ? v->u.string : NULL;
    if (text != NULL)
      explicit_bzero(text, strlen(text));
  }
  yajl_tree_free(root);
  if (status != 0)
    wdr_metadata_creds_free(out);
  return status;
}
