/* wdr_common: the vocabulary every module shares, and small text helpers.
 *
 * Sizes of identifiers and names, the codes the plugin gives failures that
 * never got an API answer, and the kinds of job the engine hands to the
 * workers. Pure: no I/O, no state; the helpers are thread-safe. */
#ifndef WDR_COMMON_H
#define WDR_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#define WDR_PLUGIN_NAME "wedata_rerun"

#define WDR_ID_MAX 128  /* AsyncId, RequestId, run id, error code: with NUL */
#define WDR_MSG_MAX 512 /* error message: with the NUL */
#define WDR_NAME_MAX 64 /* Workflow names: they become plugin_instance */

/* Codes for failures that never got a Response.Error, named as the official
 * SDKs name them. */
#define WDR_ERR_NETWORK "ClientError.NetworkError"
#define WDR_ERR_HTTP_STATUS "ClientError.HttpStatusCodeError"
#define WDR_ERR_PARSE_JSON "ClientError.ParseJsonError"
/* No request left: the credentials (temporary ones, from the CVM role)
 * expired or were never fetched, and none fresh could be had. */
#define WDR_ERR_NO_CREDENTIALS "ClientError.CredentialsUnavailable"

/* What a job asks of the API. RERUN: send the rerun. VERIFY: read the run
 * after a request whose fate is unknown. CHECK: read the run before an
 * attempt (VerifyBeforeRerun, TaskScope "incomplete"). ASYNC: read the async
 * job of an accepted rerun. FOLLOW: read the run after it (TrackAsync).
 * LIST: a page of a workflow listing (Poll, or resolving a signal without a
 * run id). wdr_action.h maps each to its API action. */
typedef enum {
  WDR_JOB_RERUN,
  WDR_JOB_VERIFY,
  WDR_JOB_CHECK,
  WDR_JOB_ASYNC,
  WDR_JOB_FOLLOW,
  WDR_JOB_LIST,
  WDR_JOB_KIND_NUM
} wdr_job_kind_t;

/* wdr_text_copy copies src into dst (size bytes, size > 0), replacing
 * control characters by spaces and cutting, if it must, on a UTF-8
 * character boundary: the one way text from a server or a file reaches a
 * log line, a notification or a fixed field. */
void wdr_text_copy(char *dst, size_t size, const char *src);

/* wdr_text_is_clean: true when s is valid UTF-8 (no overlong two-byte
 * forms) without control characters: text that can go into a log line and
 * a JSON body as it is. */
bool wdr_text_is_clean(const char *s);

/* wdr_run_id_is_safe: true for a run id the plugin takes, from a signal or
 * from a listing: 1 to WDR_ID_MAX - 1 bytes of letters, digits and "-_.:"
 * (WeData's ids are UUIDs). Anything else (quotes, spaces, control bytes,
 * other scripts) is refused before it reaches a request, a log line, a
 * notification or the state. */
bool wdr_run_id_is_safe(const char *s);

#endif
