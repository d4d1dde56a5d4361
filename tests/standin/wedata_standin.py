#!/usr/bin/env python3
"""Local stand-in for the Tencent Cloud WeData API (version 2025-08-06).

Python 3 standard library only.  It is used two ways:

* as a library, from the integration tests::

      standin = WeDataStandin(cert_dir=tmp, credentials={"AKID..": "key"})
      standin.start()
      standin.script(error("InvalidParameter", "bad"), execution_id="run-1")
      ...
      standin.requests()            # everything that was received
      standin.stop()

* standalone, for the demo::

      python3 wedata_standin.py --port 0 --cert-dir D --secret-id X \
          --secret-key Y --runs runs.json [--sink] [--record FILE]

  It prints ``PORT=<n>`` (and ``SINK_PORT=<n>``, ``CA_CERT=<path>``) first,
  then one line per request, and runs until SIGTERM or SIGINT.

What it does:

* HTTPS (http.server + ssl) on 127.0.0.1 only, with a throw-away
  self-signed certificate made with the openssl CLI.
* Checks every request's TC3-HMAC-SHA256 signature with its own code
  (the functions below), the timestamp skew (+-300 s), the credential
  scope (UTC date of X-TC-Timestamp, service "wedata") and the SecretId.
* Temporary credentials: Credential(id, key, token, expires_at) (epoch
  seconds); a request received at or after expires_at is answered
  AuthFailure.TokenFailure ("The token has expired...").  auth_failures()
  lists every request refused for its authentication (see
  metadata_server.py for a CVM metadata service that issues and registers
  such credentials).
* Records every request (thread-safe) for the tests to inspect.
* A run it was not told about is FAILED (auto_create_runs, the default): a
  rerun or a read of it creates it (a read does not name its WorkflowId;
  the first rerun sets it).
* Implements RerunTriggerWorkflowRunAsync, GetTriggerWorkflowRun,
  ListTriggerWorkflowRuns and GetOpsAsyncJob against an in-memory table
  of workflow runs.  Every run has a CreateTime (epoch milliseconds,
  answered as a string; by default when it was added, settable with
  add_run(..., create_time=epoch_seconds) or create_time_ms=).
  ListTriggerWorkflowRuns honours Filters (WorkflowId, ExecutionId,
  Keyword; several values each, several filters all apply), OrderFields
  (CreateTime ASC/DESC) and PageNumber/PageSize (JSON integers, PageSize
  1..100), and the stand-in counts its calls per ProjectId
  (list_calls(), list_call_log()).  A run may carry task runs (add_run(..., tasks=[...]),
  update_run(..., tasks=[...])), which GetTriggerWorkflowRun answers as
  Data.TriggerTaskRuns, in the order given; a rerun sets the tasks it
  reruns (TaskIds, or all) to RUNNING.
* Every accepted rerun creates an async job (WORKFLOW_RERUN), answered by
  GetOpsAsyncJob: Status is the constructor's async_job_status (default
  SUCCESS), or set_async_job_status(async_id, status, error_desc=None)
  later.  async_plan(statuses, error_desc=None, execution_id=None) scripts
  the jobs of later reruns (of one run, or of any): each GetOpsAsyncJob
  carried out for such a job answers the next Status of the list, the last
  one repeating; ErrorDesc is error_desc once FAIL or PART_SUCCESS.
* rerun_outcomes(execution_id, [[states...], ...]) (or after_rerun(
  execution_id, *states) for the next rerun only) scripts how a run goes on
  after each later accepted rerun: each GetTriggerWorkflowRun carried out
  for it moves run.state to the next state of the entry (the last sticks);
  SUCCESS makes every task SUCCESS, FAILED makes the tasks the rerun
  restarted (still RUNNING) FAILED.  Plans advance only on requests that
  are carried out: a scripted error answer wins and leaves them be.
* requests(action, execution_id=, async_id=) filters the record; a
  GetOpsAsyncJob record keeps the AsyncId asked for (asked_async_id);
  async_polls(async_id), run_reads(execution_id), wait_for_async_polls()
  and wait_for_run_reads() count and wait for them.
* Scripted misbehaviour per WorkflowExecutionId and/or action (or by
  default): ok, error(code, msg), delay(s) then answer, http_status(n),
  garbage, close, huge; and a standing default answer (set_default_answer).
* The action runs when the request is received, before any scripted delay:
  a rerun's side effect (RerunTimes + 1, state RUNNING) is visible at once,
  so "received but not answered" can be tested.  Scripted failures
  (error, http_status, garbage, close) do not apply it unless made with
  applied=True.  A delayed answer is not sent if the client has gone.
* Optional rate limit (rate_limit=N): a token bucket over all actions,
  N tokens, N per second; an empty bucket answers RequestLimitExceeded.
  Or set_window_limit(N): at most N requests of one action in any second,
  refused ones counted, answered RequestLimitExceeded.UinLimitExceeded;
  compete(rate) adds another client of the account spending that quota.
* NotificationSink: a plain-HTTP receiver for collectd's write_http
  plugin (Format JSON, Notifications true).
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_VERSION = "2025-08-06"
SERVICE = "wedata"
ALGORITHM = "TC3-HMAC-SHA256"
MAX_SKEW = 300
MAX_REQUEST_BODY = 10 * 1024 * 1024
ONE_MIB = 1024 * 1024

# ---------------------------------------------------------------------------
# TC3-HMAC-SHA256, written from the published algorithm (wedata-api.md §1)
# ---------------------------------------------------------------------------


def sha256_hex(data):
    """Lower-case hex SHA-256 of bytes (str is encoded as UTF-8)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def hmac_sha256(key, msg):
    """Raw HMAC-SHA256 digest; key and msg are bytes or str (UTF-8)."""
    if isinstance(key, str):
        key = key.encode("utf-8")
    if isinstance(msg, str):
        msg = msg.encode("utf-8")
    return hmac.new(key, msg, hashlib.sha256).digest()


def utc_date(timestamp):
    """YYYY-MM-DD of a Unix timestamp, in UTC (never local time)."""
    moment = datetime.datetime.fromtimestamp(int(timestamp), datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d")


def utc_iso(timestamp):
    """YYYY-MM-DDTHH:MM:SSZ of a Unix timestamp (whole seconds, UTC), the
    form of the metadata service's Expiration."""
    moment = datetime.datetime.fromtimestamp(int(timestamp), datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def credential_scope(date, service=SERVICE):
    return "%s/%s/tc3_request" % (date, service)


def canonical_headers(header_values, signed_names):
    """CanonicalHeaders: 'name:value\\n' for each signed header, in the order
    of signed_names (which must already be sorted), both lower-cased and
    trimmed.  header_values maps lower-case names to received values."""
    lines = []
    for name in signed_names:
        value = header_values[name]
        lines.append("%s:%s\n" % (name.strip().lower(), value.strip().lower()))
    return "".join(lines)


def canonical_request(method, canonical_uri, canonical_query, canon_headers,
                      signed_headers, payload_hash):
    return "\n".join([method, canonical_uri, canonical_query, canon_headers,
                      signed_headers, payload_hash])


def string_to_sign(timestamp, scope, hashed_canonical_request):
    return "\n".join([ALGORITHM, str(timestamp), scope, hashed_canonical_request])


def derive_key_chain(secret_key, date, service=SERVICE):
    """Returns (SecretDate, SecretService, SecretSigning) as raw bytes."""
    secret_date = hmac_sha256("TC3" + secret_key, date)
    secret_service = hmac_sha256(secret_date, service)
    secret_signing = hmac_sha256(secret_service, "tc3_request")
    return secret_date, secret_service, secret_signing


def signature_from_key(signing_key, sts):
    return hmac.new(signing_key, sts.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization_value(secret_id, scope, signed_headers, signature):
    return "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ALGORITHM, secret_id, scope, signed_headers, signature)


def tc3_compute(header_values, body, timestamp, secret_id, secret_key=None,
                signed_headers="content-type;host", service=SERVICE,
                method="POST", canonical_uri="/", canonical_query="",
                signing_key=None):
    """Computes every intermediate value of a TC3 signature.

    header_values maps lower-case header names to values; body is bytes.
    Give either secret_key or a ready signing_key (bytes).  Returns a dict
    whose keys follow the 'outputs' object of tests/vectors/tc3-signatures.json.
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    names = signed_headers.split(";")
    payload_hash = sha256_hex(body)
    canon = canonical_headers(header_values, names)
    creq = canonical_request(method, canonical_uri, canonical_query, canon,
                             signed_headers, payload_hash)
    hashed_creq = sha256_hex(creq)
    date = utc_date(timestamp)
    scope = credential_scope(date, service)
    sts = string_to_sign(timestamp, scope, hashed_creq)
    out = {
        "hashed_request_payload": payload_hash,
        "canonical_request": creq,
        "hashed_canonical_request": hashed_creq,
        "credential_scope": scope,
        "string_to_sign": sts,
    }
    if signing_key is None:
        if secret_key is None:
            raise ValueError("need secret_key or signing_key")
        k_date, k_service, signing_key = derive_key_chain(secret_key, date, service)
        out["secret_date_hex"] = k_date.hex()
        out["secret_service_hex"] = k_service.hex()
    out["secret_signing_hex"] = signing_key.hex()
    out["signature"] = signature_from_key(signing_key, sts)
    out["authorization"] = authorization_value(secret_id, scope, signed_headers,
                                               out["signature"])
    return out


def sign_request(secret_id, secret_key, host, body, action,
                 timestamp=None, region="ap-guangzhou", version=API_VERSION,
                 content_type="application/json", token=None, language=None,
                 service=SERVICE):
    """Headers for a signed API 3.0 POST (a client; used by self-tests)."""
    if timestamp is None:
        timestamp = int(time.time())
    values = {"content-type": content_type, "host": host}
    auth = tc3_compute(values, body, timestamp, secret_id, secret_key,
                       service=service)["authorization"]
    headers = {
        "Host": host,
        "Content-Type": content_type,
        "X-TC-Action": action,
        "X-TC-Version": version,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": region,
        "Authorization": auth,
    }
    if token is not None:
        headers["X-TC-Token"] = token
    if language is not None:
        headers["X-TC-Language"] = language
    return headers


_AUTH_RE = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<cred>[^,\s]+), "
    r"SignedHeaders=(?P<signed>[^,\s]+), Signature=(?P<sig>[0-9a-f]{64})$")


class Credential:
    """A SecretId / SecretKey pair (token set for temporary credentials).

    expires_at (epoch seconds, by the server's clock, see set_clock_skew;
    None: never) makes it temporary the way a CVM role or STS credential
    is: a request received at or after that time is refused with
    AuthFailure.TokenFailure even though its signature is right."""

    def __init__(self, secret_id, secret_key, token=None, expires_at=None):
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.token = token
        self.expires_at = None if expires_at is None else float(expires_at)

    def __repr__(self):
        # Tests print credentials in failure messages: never the key or token.
        return "Credential(%r, token=%s, expires_at=%r)" % (
            self.secret_id, "set" if self.token is not None else None, self.expires_at)

    def signing_key(self, date, service):
        return derive_key_chain(self.secret_key, date, service)[2]


class Verdict:
    """Result of checking a request's authentication."""

    def __init__(self, ok, code=None, message=None, secret_id=None,
                 expected_signature=None, details=None):
        self.ok = ok
        self.code = code
        self.message = message
        self.secret_id = secret_id
        self.expected_signature = expected_signature
        self.details = details or {}

    def __repr__(self):
        return "Verdict(ok=%r, code=%r, message=%r)" % (self.ok, self.code, self.message)


def verify_tc3(header_values, body, credentials, now=None, service=SERVICE,
               max_skew=MAX_SKEW, method="POST", canonical_uri="/",
               canonical_query="", require_token=True):
    """Checks the TC3-HMAC-SHA256 authentication of one request.

    header_values: lower-case header name -> received value (first occurrence).
    body: the exact received bytes.  credentials: secret_id -> Credential.
    Returns a Verdict; on failure code/message are what the real API answers.
    """
    if now is None:
        now = time.time()
    auth = header_values.get("authorization")
    if auth is None:
        return Verdict(False, "MissingParameter",
                       "The request is missing a required parameter `Authorization`.")
    ts_text = header_values.get("x-tc-timestamp")
    if ts_text is None:
        return Verdict(False, "MissingParameter",
                       "The request is missing a required parameter `Timestamp`.")
    if not re.fullmatch(r"[0-9]{1,12}", ts_text.strip()):
        return Verdict(False, "InvalidParameter",
                       "The value of `X-TC-Timestamp` is not a valid Unix timestamp.")
    timestamp = int(ts_text.strip())
    match = _AUTH_RE.match(auth)
    if match is None:
        return Verdict(False, "AuthFailure.InvalidAuthorization",
                       "The `Authorization` header is malformed: %r." % auth[:200])
    cred_parts = match.group("cred").split("/")
    if len(cred_parts) != 4 or cred_parts[3] != "tc3_request":
        return Verdict(False, "AuthFailure.InvalidAuthorization",
                       "The Credential of the `Authorization` header is malformed.")
    secret_id, scope_date, scope_service, _ = cred_parts
    signed = match.group("signed")
    names = signed.split(";")
    details = {"timestamp": timestamp, "scope_date": scope_date,
               "scope_service": scope_service, "signed_headers": signed}
    if (names != sorted(names) or len(set(names)) != len(names)
            or "content-type" not in names or "host" not in names
            or any(n != n.lower() or not n for n in names)):
        return Verdict(False, "AuthFailure.InvalidAuthorization",
                       "SignedHeaders must be sorted, lower-case and include content-type and host.",
                       secret_id, details=details)
    for name in names:
        if name not in header_values:
            return Verdict(False, "AuthFailure.InvalidAuthorization",
                           "Signed header `%s` is missing from the request." % name,
                           secret_id, details=details)
    cred = credentials.get(secret_id)
    if cred is None:
        return Verdict(False, "AuthFailure.SecretIdNotFound",
                       "The SecretId is not found, please ensure that your SecretId is correct.",
                       secret_id, details=details)
    if abs(now - timestamp) > max_skew:
        return Verdict(False, "AuthFailure.SignatureExpire",
                       "Signature expired. Timestamp comparison failed: the request "
                       "timestamp %d differs from server time %d by more than %d s."
                       % (timestamp, int(now), max_skew), secret_id, details=details)
    if scope_service != service:
        return Verdict(False, "AuthFailure.SignatureFailure",
                       "The provided credentials could not be validated: credential "
                       "scope service is `%s`, expected `%s`." % (scope_service, service),
                       secret_id, details=details)
    if scope_date != utc_date(timestamp):
        return Verdict(False, "AuthFailure.SignatureFailure",
                       "The provided credentials could not be validated: credential "
                       "scope date `%s` is not the UTC date of X-TC-Timestamp (`%s`)."
                       % (scope_date, utc_date(timestamp)), secret_id, details=details)
    computed = tc3_compute(header_values, body, timestamp, secret_id, signed_headers=signed,
                           service=service, method=method, canonical_uri=canonical_uri,
                           canonical_query=canonical_query,
                           signing_key=cred.signing_key(scope_date, service))
    details["canonical_request"] = computed["canonical_request"]
    if not hmac.compare_digest(computed["signature"], match.group("sig")):
        return Verdict(False, "AuthFailure.SignatureFailure",
                       "The provided credentials could not be validated. "
                       "Please check your signature is correct.",
                       secret_id, computed["signature"], details)
    if require_token:
        token = header_values.get("x-tc-token")
        if cred.token is not None and token != cred.token:
            return Verdict(False, "AuthFailure.TokenFailure",
                           "The token is missing or invalid.", secret_id,
                           computed["signature"], details)
        if cred.token is None and token is not None:
            return Verdict(False, "AuthFailure.TokenFailure",
                           "A token was sent with permanent credentials.", secret_id,
                           computed["signature"], details)
    # Checked after the signature and token, as the real API can only tell
    # an expired token from a forged one once the request proved it holds
    # the key; the code is the one it answers for an expired token (§4.2).
    if cred.expires_at is not None and cred.expires_at <= now:
        details["expired_at"] = cred.expires_at
        return Verdict(False, "AuthFailure.TokenFailure",
                       "The token has expired: the temporary credentials expired at "
                       "%s, %.3f s before the request was received."
                       % (utc_iso(cred.expires_at), now - cred.expires_at),
                       secret_id, computed["signature"], details)
    return Verdict(True, secret_id=secret_id, expected_signature=computed["signature"],
                   details=details)


# ---------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------


def make_self_signed_cert(cert_dir, name="standin"):
    """Creates <cert_dir>/<name>-cert.pem and <name>-key.pem (a throw-away
    self-signed EC certificate for 127.0.0.1 / localhost) with the openssl
    CLI; returns (cert_path, key_path).  The certificate is its own CA, so
    the cert file is also the CA bundle to give to clients."""
    os.makedirs(cert_dir, exist_ok=True)
    cert = os.path.join(cert_dir, name + "-cert.pem")
    key = os.path.join(cert_dir, name + "-key.pem")
    cmd = ["openssl", "req", "-x509", "-newkey", "ec",
           "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
           "-keyout", key, "-out", cert, "-days", "2",
           "-subj", "/CN=wedata-standin (%s)" % name,
           "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
           "-addext", "basicConstraints=critical,CA:TRUE",
           "-addext", "keyUsage=critical,digitalSignature,keyCertSign"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError("openssl failed (%d): %s" % (proc.returncode,
                                                        proc.stderr.decode(errors="replace")))
    os.chmod(key, 0o600)
    return cert, key


# ---------------------------------------------------------------------------
# Scripted answers
# ---------------------------------------------------------------------------


class Answer:
    """One scripted answer.  kind is one of ok, error, http_status, garbage,
    close, huge, truncated; delay seconds are waited before answering.
    applied says whether the action's side effect happens (a rerun is
    counted); None means the kind's default: yes for ok, huge and truncated
    (the answer of a carried-out action, too big or cut short), no for the
    others."""

    APPLIED_BY_DEFAULT = ("ok", "huge", "truncated")

    def __init__(self, kind, code=None, message=None, status=None, body=None,
                 size=None, delay=0.0, applied=None):
        self.kind = kind
        self.code = code
        self.message = message
        self.status = status
        self.body = body
        self.size = size
        self.delay = delay
        self.applied = applied

    def applies(self):
        if self.applied is None:
            return self.kind in self.APPLIED_BY_DEFAULT
        return bool(self.applied)

    def describe(self):
        text = self.kind
        if self.kind == "error":
            text = "error(%s)" % self.code
        elif self.kind == "http_status":
            text = "http_status(%d)" % self.status
        if self.applied is not None and self.applies() != (
                self.kind in self.APPLIED_BY_DEFAULT):
            text += "+applied" if self.applies() else "+not_applied"
        if self.delay:
            text = "delay(%g)+%s" % (self.delay, text)
        return text

    def __repr__(self):
        return "Answer(%s)" % self.describe()


def ok():
    """Process the request normally."""
    return Answer("ok")


def error(code, message=None, applied=False):
    """Answer HTTP 200 with Response.Error {Code, Message} (after the
    signature check: an auth failure still wins)."""
    return Answer("error", code=code,
                  message=message if message is not None else "scripted error %s" % code,
                  applied=applied)


def delay(seconds, then=None):
    """Wait `seconds`, then give `then` (default: ok()).  The action (and a
    rerun's side effect) happens before the wait, on receipt."""
    inner = then if then is not None else ok()
    return Answer(inner.kind, inner.code, inner.message, inner.status, inner.body,
                  inner.size, inner.delay + float(seconds), inner.applied)


def http_status(status, body=None, applied=False):
    """Answer with HTTP status `status`; body defaults to a short text.
    applied=True: the rerun happened anyway (an ambiguous failure)."""
    return Answer("http_status", status=int(status), body=body, applied=applied)


def garbage(applied=False):
    """HTTP 200 with a non-JSON body."""
    return Answer("garbage", applied=applied)


def close(applied=False):
    """Read the request, then drop the connection without any answer."""
    return Answer("close", applied=applied)


def huge(size=ONE_MIB + 64 * 1024):
    """HTTP 200 with a syntactically valid success body larger than 1 MiB."""
    return Answer("huge", size=int(size))


def truncated(applied=True):
    """HTTP 200 whose headers announce the whole success answer but whose
    body stops half-way: the connection is then closed (a proxy or the
    network cutting the answer)."""
    return Answer("truncated", applied=applied)


def parse_answer_spec(spec):
    """Parses the standalone --script syntax: ok | error:CODE[:MESSAGE] |
    delay:SECONDS[:<answer spec>] | http:N[:applied] | garbage[:applied] |
    close[:applied] | huge | truncated."""
    spec = spec.strip()
    head, _, rest = spec.partition(":")
    if head == "ok":
        return ok()
    if head == "error":
        code, _, message = rest.partition(":")
        if not code:
            raise ValueError("error needs a code: %r" % spec)
        return error(code, message or None)
    if head == "delay":
        seconds, _, inner = rest.partition(":")
        return delay(float(seconds), parse_answer_spec(inner) if inner else None)
    parts = rest.split(":") if rest else []
    if head in ("http", "http_status"):
        if not parts or len(parts) > 2 or parts[1:] not in ([], ["applied"]):
            raise ValueError("bad http answer spec %r" % spec)
        return http_status(int(parts[0]), applied=len(parts) == 2)
    if head in ("garbage", "close") and parts in ([], ["applied"]):
        return (garbage if head == "garbage" else close)(applied=bool(parts))
    if head == "huge" and not parts:
        return huge()
    if head == "truncated" and not parts:
        return truncated()
    raise ValueError("unknown answer spec %r" % spec)


class TokenBucket:
    """capacity tokens at most, rate tokens a second, full at the start.
    Not locked: the stand-in calls it under its own lock."""

    def __init__(self, rate, capacity=None, clock=time.monotonic):
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = float(rate)
        self.capacity = float(capacity if capacity is not None else rate)
        self.clock = clock
        self.tokens = self.capacity
        self.last = clock()

    def take(self):
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0 - 1e-9:    # float dust must not refuse an exact pace
            self.tokens = max(0.0, self.tokens - 1.0)
            return True
        return False


class SlidingWindow:
    """The strictest reading of "N requests a second per action": at most
    `limit` arrivals of one action in any 1-second window, refused ones
    counted too (every arrival is remembered). Not locked: the stand-in
    calls it under its own lock."""

    def __init__(self, limit, clock=time.monotonic):
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = int(limit)
        self.clock = clock
        self.arrivals = {}   # action -> list of arrival times, oldest first

    def arrive(self, action):
        """Counts one arrival of action; True when it is within the limit."""
        now = self.clock()
        times = [t for t in self.arrivals.get(action, ()) if t > now - 1.0]
        ok = len(times) < self.limit
        times.append(now)
        self.arrivals[action] = times
        return ok


# ---------------------------------------------------------------------------
# State: runs, async jobs, recorded requests
# ---------------------------------------------------------------------------


# GetOpsAsyncJob Status values: still pending, final, and those that carry ErrorDesc.
ASYNC_PENDING_STATUSES = ("INIT", "RUNNING")
ASYNC_FINAL_STATUSES = ("SUCCESS", "FAIL", "PART_SUCCESS")
ASYNC_ERROR_DESC_STATUSES = ("FAIL", "PART_SUCCESS")


def async_job_counts(status):
    """(FinishedSubProcessCount, SuccessSubProcessCount) of a one-step job
    (TotalSubProcessCount 1) in `status`: SUCCESS 1/1, FAIL and
    PART_SUCCESS 1/0, anything else (INIT, RUNNING, unknown) 0/0."""
    if status == "SUCCESS":
        return 1, 1
    if status in ASYNC_ERROR_DESC_STATUSES:
        return 1, 0
    return 0, 0


def check_states(states, what):
    """A list copy of a non-empty list or tuple of strings (None allowed as
    an item: answered as null); raises ValueError otherwise (a bare string
    too, to catch async_plan("SUCCESS"))."""
    if not isinstance(states, (list, tuple)) or not states or not all(
            isinstance(item, (str, type(None))) for item in states):
        raise ValueError("%s must be a non-empty list of strings: %r" % (what, states))
    return list(states)


class ApiError(Exception):
    """Raised by action handlers; becomes Response.Error."""

    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message


class WorkflowRun:
    """A row of the in-memory workflow-run table.

    tasks: the run's task runs, answered as Data.TriggerTaskRuns by
    GetTriggerWorkflowRun, in this order (duplicates kept).  Each is a dict
    with at least TaskId and ExecutionState (FAILED, SUCCESS, PENDING,
    SKIP, RUNNING, ...); other TriggerTaskRunBrief keys given are answered
    as they are, over the defaults of task_brief().  A (task_id, state)
    pair is accepted too.

    outcome: what the last accepted rerun scripts (rerun_outcomes), None
    when nothing is left to play: {"states": [...], "reads": n (states
    already applied), "restarted": [the task dicts that rerun restarted]}."""

    def __init__(self, project_id, workflow_id, execution_id, state="FAILED",
                 rerun_times=0, support_rerun=True, workflow_name=None,
                 error_code_str=None, task_ids=None, tasks=None, create_time=None,
                 create_time_ms=None):
        self.project_id = project_id
        self.workflow_id = workflow_id
        self.execution_id = execution_id
        self.state = state
        self.rerun_times = rerun_times
        self.support_rerun = support_rerun
        self.workflow_name = workflow_name or ("workflow-" + (workflow_id or "")[:8])
        self.error_code_str = error_code_str
        self.task_ids = list(task_ids or [])
        self.tasks = normalize_tasks(tasks)
        self.create_time_ms = create_time_to_ms(create_time, create_time_ms)
        self.reruns = []          # one dict per accepted rerun request
        self.outcome = None       # see the class docstring

    def brief(self):
        """TriggerWorkflowRunBrief (a subset of its fields)."""
        return {
            "ProjectId": self.project_id,
            "WorkflowId": self.workflow_id,
            "WorkflowName": self.workflow_name,
            "ExecutionId": self.execution_id,
            "TriggerType": "Scheduler",
            "CreateTime": str(self.create_time_ms),
            "ExecutionState": self.state,
            "ErrorCodeStr": self.error_code_str,
            "SupportRerun": self.support_rerun,
            "RerunTimes": self.rerun_times,
            "SelectedTaskIds": list(self.task_ids),
        }

    def task_brief(self, index):
        """TriggerTaskRunBrief of tasks[index] (a subset of its fields)."""
        task = self.tasks[index]
        out = {
            "ExecutionId": "%s-task-%d" % (self.execution_id, index + 1),
            "TaskId": task["TaskId"],
            "TaskName": "task-%s" % task["TaskId"],
            "TaskType": "Shell",
            "ExecutionState": task["ExecutionState"],
            "TaskExecutionState": task["ExecutionState"],
            "WorkflowExecutionState": self.state,
            "WorkflowId": self.workflow_id,
            "WorkflowExecutionId": self.execution_id,
            "WorkflowName": self.workflow_name,
            "ProjectId": self.project_id,
            "ErrorCodeStr": "runner exec wedata err"
                            if task["ExecutionState"] == "FAILED" else None,
            "RetryTimes": 0,
            "RerunTimes": 0,
            "IsLatestExecution": True,
            "SupportRerun": self.support_rerun,
        }
        out.update(task)
        return out

    def task_briefs(self):
        return [self.task_brief(i) for i in range(len(self.tasks))]

    def as_dict(self):
        d = self.brief()
        d["TriggerTaskRuns"] = self.task_briefs()
        d["Reruns"] = [dict(r) for r in self.reruns]
        return d


def create_time_to_ms(create_time=None, create_time_ms=None):
    """A run's CreateTime in epoch milliseconds (int): create_time_ms as
    given (an int, or a string of digits as WeData answers it), else
    create_time (epoch seconds, float allowed), else now."""
    if create_time is not None and create_time_ms is not None:
        raise ValueError("give create_time or create_time_ms, not both")
    if create_time_ms is not None:
        if isinstance(create_time_ms, bool) or not isinstance(create_time_ms, (int, str)) \
                or not re.fullmatch(r"[0-9]{1,16}", str(create_time_ms)):
            raise ValueError("create_time_ms must be epoch milliseconds: %r"
                             % (create_time_ms,))
        return int(create_time_ms)
    if create_time is not None:
        if isinstance(create_time, bool) or not isinstance(create_time, (int, float)) \
                or create_time < 0:
            raise ValueError("create_time must be epoch seconds: %r" % (create_time,))
        return int(round(create_time * 1000))
    return int(time.time() * 1000)


def normalize_tasks(tasks):
    """A list of task dicts (copies) from dicts or (task_id, state) pairs;
    raises ValueError on anything without a TaskId and an ExecutionState.
    Either may be None (answered as null: WeData's fields are nullable),
    but must be given."""
    out = []
    for task in tasks or []:
        if isinstance(task, (tuple, list)) and len(task) == 2:
            task = {"TaskId": task[0], "ExecutionState": task[1]}
        if not isinstance(task, dict) or not all(
                key in task and isinstance(task[key], (str, type(None)))
                for key in ("TaskId", "ExecutionState")):
            raise ValueError("a task needs a TaskId and an ExecutionState: %r" % (task,))
        out.append(dict(task))
    return out


class RequestRecord:
    """Everything about one received request and what was answered."""

    def __init__(self, seq, received_at, client, method, path, http_version,
                 headers, raw_body):
        self.seq = seq
        self.received_at = received_at
        self.client = client
        self.method = method
        self.path = path
        self.http_version = http_version
        self.headers = headers            # list of (name, value), as received
        self.raw_body = raw_body          # bytes
        self.body = None                  # parsed JSON, or None
        self.action = None
        self.execution_id = None
        self.signature_ok = None
        self.secret_id = None             # SecretId of the Authorization header
        self.auth_code = None             # error code of a failed auth check
        self.auth_message = None
        self.answer = None                # description of the scripted answer
        self.status = None                # HTTP status sent (None: dropped)
        self.response_body = None         # bytes sent (truncated if huge)
        self.error_code = None            # Response.Error.Code sent, if any
        self.async_id = None              # AsyncId answered by an accepted rerun
        self.asked_async_id = None        # AsyncId a GetOpsAsyncJob request asked for
        self.answered_state = None        # Status / ExecutionState a read answered
        self.request_id = None
        self.answered_at = None
        self.applied = False              # a rerun's side effect was applied
        self.rate_limited = False         # answered RequestLimitExceeded by the bucket
        self.client_gone = False          # the client left before a delayed answer
        self.done = threading.Event()

    def header(self, name):
        """First value of a header (case-insensitive), or None."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    def header_names(self):
        return [k.lower() for k, _ in self.headers]

    def header_values(self):
        values = {}
        for key, value in self.headers:
            values.setdefault(key.lower(), value)
        return values

    def as_dict(self):
        return {
            "seq": self.seq, "received_at": self.received_at,
            "answered_at": self.answered_at, "method": self.method,
            "path": self.path, "http_version": self.http_version,
            "headers": [[k, v] for k, v in self.headers],
            "body": self.raw_body.decode("utf-8", errors="replace"),
            "action": self.action, "execution_id": self.execution_id,
            "signature_ok": self.signature_ok, "secret_id": self.secret_id,
            "auth_code": self.auth_code,
            "answer": self.answer, "status": self.status,
            "error_code": self.error_code, "async_id": self.async_id,
            "asked_async_id": self.asked_async_id,
            "answered_state": self.answered_state,
            "request_id": self.request_id, "applied": self.applied,
            "rate_limited": self.rate_limited, "client_gone": self.client_gone,
        }

    def __repr__(self):
        return "<RequestRecord #%d %s %s exec=%s sig=%s answer=%s status=%s code=%s>" % (
            self.seq, self.method, self.action, self.execution_id, self.signature_ok,
            self.answer, self.status, self.error_code)


# ---------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """Threading HTTP server whose TLS handshake happens in the per-connection
    thread, so a stalled client never blocks the accept loop."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, handler, owner, ssl_context=None):
        self.owner = owner
        self.ssl_context = ssl_context
        super().__init__(address, handler)

    def finish_request(self, request, client_address):
        request.settimeout(30)
        # BaseHTTPRequestHandler writes the headers and the body separately:
        # without TCP_NODELAY the body waits for the client's delayed ACK
        # (~40 ms per answer on Linux), which would throttle every caller.
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        conn = request
        if self.ssl_context is not None:
            try:
                conn = self.ssl_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                self.owner._note_tls_error(client_address, exc)
                try:
                    request.close()
                except OSError:
                    pass
                return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            if conn is not request:
                try:
                    conn.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        # A client that disconnects mid-answer is not worth a traceback.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WeDataStandin/1.0"
    sys_version = ""
    timeout = 30

    def log_message(self, fmt, *args):  # silence the default stderr log
        pass

    def date_time_string(self, timestamp=None):
        """The Date header by the server's clock (see set_clock_skew)."""
        if timestamp is None:
            timestamp = time.time() + getattr(self.server.owner, "clock_skew", 0.0)
        return super().date_time_string(timestamp)

    def _dispatch(self):
        self.server.owner._handle(self)

    do_POST = _dispatch
    do_GET = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch
    do_HEAD = _dispatch

    def read_body(self, limit):
        """Reads the request body (Content-Length or chunked), or None if it
        exceeds limit (the connection is then closed)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > limit:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(16)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            return None
        return self.rfile.read(length) if length else b""

    def send_bytes(self, status, body, content_type="application/json", close=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()


def _json_bytes(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _now_iso():
    return datetime.datetime.now().strftime("%Y-%m-%dT%H:%M:%S")


# ---------------------------------------------------------------------------
# The stand-in
# ---------------------------------------------------------------------------


class _Served:
    """Runs one _Server on a daemon thread: the lifecycle both servers share."""

    _httpd = None
    _thread = None

    def _serve(self, handler, name, context=None):
        self._httpd = _Server((self.host, self.requested_port), handler, self, context)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name=name, daemon=True)
        self._thread.start()
        return self

    def _shutdown(self):
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(5)
            self._httpd = None

    def stop(self):
        self._shutdown()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._httpd.server_address[1]


class WeDataStandin(_Served):
    """HTTPS stand-in for the WeData API.  See the module docstring."""

    RERUN_FIELDS = ("ProjectId", "WorkflowId", "WorkflowExecutionId", "ExecuteType",
                    "TaskIds", "AdvancedParams", "SchedulingResourceGroup",
                    "IntegrationResourceGroup")

    def __init__(self, cert_dir=None, credentials=None, host="127.0.0.1", port=0,
                 tls=True, auto_create_runs=True, max_skew=MAX_SKEW,
                 async_job_status="SUCCESS", on_request=None, rate_limit=None):
        """credentials: {secret_id: secret_key} or {secret_id: Credential}
        or a list of Credential.  cert_dir is needed when tls is true.
        on_request(record) is called after each answer (for logging).
        rate_limit: requests a second over all actions (None: no limit)."""
        self.host = host
        self.requested_port = port
        self.tls = tls
        self.cert_dir = cert_dir
        self.auto_create_runs = auto_create_runs
        self.max_skew = max_skew
        self.clock_skew = 0.0   # the server's clock minus the real time, seconds
        self.async_job_status = async_job_status
        self.on_request = on_request
        self.cert_file = None
        self.key_file = None
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._credentials = {}
        self._records = []
        self._tls_errors = []
        self._scripts = {}
        self._defaults = {}
        self._bucket = None
        self._window = None
        self._competitor = None   # (thread, stop event) of a competing client
        self._rate_limited = 0
        self._runs = {}
        self._jobs = {}
        self._async_plan = None   # global plan for new jobs: {"statuses", "error_desc"}
        self._async_plans = {}    # WorkflowExecutionId -> plan (wins over the global one)
        self._job_plans = {}      # AsyncId -> plan being played: + "polls"
        self._outcomes = {}       # WorkflowExecutionId -> [states of the next reruns]
        self._list_log = []       # one dict per ListTriggerWorkflowRuns call carried out
        self._seq = 0
        self._stopping = threading.Event()
        self._httpd = None
        self._thread = None
        self.actions = {
            "RerunTriggerWorkflowRunAsync": self._action_rerun,
            "GetTriggerWorkflowRun": self._action_get_run,
            "ListTriggerWorkflowRuns": self._action_list_runs,
            "GetOpsAsyncJob": self._action_get_async_job,
        }
        self.set_rate_limit(rate_limit)
        if isinstance(credentials, dict):
            for sid, value in credentials.items():
                if isinstance(value, Credential):
                    self.add_credential(value)
                else:
                    self.add_credential(Credential(sid, value))
        elif credentials:
            for cred in credentials:
                self.add_credential(cred)

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        context = None
        if self.tls:
            if self.cert_dir is None:
                raise ValueError("cert_dir is required for TLS")
            self.cert_file, self.key_file = make_self_signed_cert(self.cert_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert_file, self.key_file)
            context.set_alpn_protocols(["http/1.1"])
        return self._serve(_Handler, "wedata-standin", context)

    def stop(self):
        self._stopping.set()
        self.compete(None)
        self._shutdown()

    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.port)

    @property
    def ca_file(self):
        return self.cert_file

    # -- configuration from the tests --------------------------------------

    def add_credential(self, cred, secret_key=None, token=None, expires_at=None):
        """Accepts a Credential (or secret_id, secret_key, token, expires_at)
        from now on; one with the same SecretId is replaced.  Expired ones
        are kept, so that a request signed with them is answered
        AuthFailure.TokenFailure rather than SecretIdNotFound."""
        if not isinstance(cred, Credential):
            cred = Credential(cred, secret_key, token, expires_at)
        with self._lock:
            self._credentials[cred.secret_id] = cred
        return cred

    def add_run(self, project_id, workflow_id, execution_id, state="FAILED",
                rerun_times=0, support_rerun=True, **extra):
        """Adds (or replaces) a run.  extra: workflow_name, error_code_str,
        task_ids (SelectedTaskIds), tasks (the task runs answered as
        TriggerTaskRuns; see WorkflowRun), create_time (epoch seconds) or
        create_time_ms (epoch milliseconds); default: now.  A replaced run
        keeps no trace of the old one; runs are listed, without OrderFields,
        in the order they were first added."""
        run = WorkflowRun(project_id, workflow_id, execution_id, state,
                          rerun_times, support_rerun, **extra)
        with self._lock:
            self._runs[execution_id] = run
        return run

    def load_runs(self, items):
        """items: list of dicts with TriggerWorkflowRunBrief-style keys."""
        for item in items:
            self.add_run(item["ProjectId"], item["WorkflowId"], item["ExecutionId"],
                         item.get("ExecutionState", "FAILED"), item.get("RerunTimes", 0),
                         item.get("SupportRerun", True),
                         workflow_name=item.get("WorkflowName"),
                         error_code_str=item.get("ErrorCodeStr"),
                         tasks=item.get("TriggerTaskRuns"),
                         create_time_ms=item.get("CreateTime"))

    def get_run(self, execution_id):
        with self._lock:
            return self._runs.get(execution_id)

    def runs(self):
        with self._lock:
            return list(self._runs.values())

    def set_run_state(self, execution_id, state):
        with self._lock:
            self._runs[execution_id].state = state

    def update_run(self, execution_id, state=None, rerun_times=None,
                   support_rerun=None, tasks=None, create_time=None, create_time_ms=None):
        """Changes a run as WeData would (e.g. a rerun failed again:
        state="FAILED"); fields left None stay.  tasks replaces the whole
        task list ([] empties it); create_time (epoch seconds) or
        create_time_ms moves the run in time.  Returns the run."""
        new_tasks = normalize_tasks(tasks) if tasks is not None else None
        new_ms = None
        if create_time is not None or create_time_ms is not None:
            new_ms = create_time_to_ms(create_time, create_time_ms)
        with self._lock:
            run = self._runs[execution_id]
            if new_ms is not None:
                run.create_time_ms = new_ms
            if new_tasks is not None:
                run.tasks = new_tasks
            if state is not None:
                run.state = state
            if rerun_times is not None:
                run.rerun_times = int(rerun_times)
            if support_rerun is not None:
                run.support_rerun = bool(support_rerun)
            return run

    def set_rate_limit(self, rate):
        """A token bucket over all actions: `rate` tokens, `rate` more each
        second; a request finding it empty is answered RequestLimitExceeded.
        None switches it off."""
        with self._lock:
            self._bucket = TokenBucket(rate) if rate else None

    def set_clock_skew(self, seconds):
        """The server's clock runs `seconds` ahead (negative: behind): it
        checks X-TC-Timestamp against it (AuthFailure.SignatureExpire past
        max_skew) and sends it in the Date header."""
        self.clock_skew = float(seconds)

    def set_window_limit(self, limit):
        """The sliding-window quota (SlidingWindow): at most `limit` requests
        of one action in any second, refused ones counted; a request over
        it is answered RequestLimitExceeded.UinLimitExceeded (the quota is
        the account's). None switches it off."""
        with self._lock:
            self._window = SlidingWindow(limit) if limit else None

    def compete(self, rate, action="RerunTriggerWorkflowRunAsync"):
        """Another client of the same account: `rate` requests a second of
        action counted against the sliding window (needs set_window_limit)
        until compete(None) or stop(). Its refusals are not counted in
        rate_limited_count()."""
        if self._competitor is not None:
            self._competitor[1].set()
            self._competitor[0].join()
            self._competitor = None
        if not rate:
            return
        stop = threading.Event()

        def run():
            gap = 1.0 / rate
            next_at = time.monotonic()
            while not stop.is_set():
                with self._lock:
                    if self._window is not None:
                        self._window.arrive(action)
                next_at += gap
                stop.wait(max(0.0, next_at - time.monotonic()))

        thread = threading.Thread(target=run, name="wedata-standin-competitor", daemon=True)
        self._competitor = (thread, stop)
        thread.start()

    def rate_limited_count(self):
        """How many RequestLimitExceeded answers the bucket has given."""
        with self._lock:
            return self._rate_limited

    def async_jobs(self):
        """{AsyncId: copy of the job} (as GetOpsAsyncJob would answer it now,
        plus WorkflowExecutionId)."""
        with self._lock:
            return {k: dict(v) for k, v in self._jobs.items()}

    def set_async_job_status(self, async_id, status, error_desc=None):
        """Sets a job's Status and ErrorDesc (None: answered as null), its
        Finished/SuccessSubProcessCount to match (async_job_counts) and its
        UpdateTime.  The job leaves its async_plan, if it had one: from now
        on it answers what was set here.  KeyError for an unknown AsyncId."""
        with self._lock:
            job = self._jobs[async_id]
            self._job_plans.pop(async_id, None)
            self._set_job_status(job, status, error_desc)

    @staticmethod
    def _set_job_status(job, status, error_desc):
        finished, success = async_job_counts(status)
        job["Status"] = status
        job["ErrorDesc"] = error_desc
        job["FinishedSubProcessCount"] = finished
        job["SuccessSubProcessCount"] = success
        job["UpdateTime"] = _now_iso()

    def async_plan(self, statuses, error_desc=None, execution_id=None):
        """Scripts the async jobs of the reruns accepted from now on: of the
        run execution_id, or of any run when None (a run's own plan wins
        over the global one).  The n-th GetOpsAsyncJob carried out for such
        a job answers Status statuses[n-1]; the last one repeats forever.
        Before the first poll the job shows statuses[0].  ErrorDesc is
        error_desc while the Status is FAIL or PART_SUCCESS, null
        otherwise.  A poll refused or answered by a scripted failure
        (script(), set_default_answer()) does not advance the job.
        statuses: a non-empty list of strings (ValueError otherwise);
        None removes the plan (of execution_id, or the global one).  Jobs
        already created keep what they had.  Without any plan a job answers
        the constructor's async_job_status."""
        if statuses is not None:
            plan = {"statuses": check_states(statuses, "statuses"),
                    "error_desc": error_desc}
        with self._lock:
            if statuses is None:
                if execution_id is None:
                    self._async_plan = None
                else:
                    self._async_plans.pop(execution_id, None)
            elif execution_id is None:
                self._async_plan = plan
            else:
                self._async_plans[execution_id] = plan

    def rerun_outcomes(self, execution_id, plans):
        """Scripts how the run execution_id goes on after each of its next
        accepted reruns: plans[0] for the next one, plans[1] for the one
        after, and so on; each is a non-empty list of ExecutionState values,
        e.g. ["RUNNING", "FAILED"] (ValueError otherwise).  Replaces what
        was scripted before for that run; None or [] clears it.

        After such a rerun (RUNNING, RerunTimes + 1 as always), each
        GetTriggerWorkflowRun carried out for the run first sets run.state
        to the next value (so ListTriggerWorkflowRuns shows it too), then
        answers; once the last value is applied the run is left alone, so
        it sticks (and update_run() is not undone).  Becoming SUCCESS sets
        every task of the run to SUCCESS; becoming FAILED sets the tasks
        the rerun restarted that are still RUNNING to FAILED.  A read
        refused or answered by a scripted failure does not advance it.  A
        new accepted rerun drops what is left of the previous entry; once
        plans are used up, a rerun leaves the run RUNNING, as without."""
        entries = [check_states(p, "a rerun outcome") for p in plans or []]
        with self._lock:
            if entries:
                self._outcomes[execution_id] = entries
            else:
                self._outcomes.pop(execution_id, None)

    def after_rerun(self, execution_id, *states):
        """rerun_outcomes(execution_id, [states]): only the next accepted
        rerun of the run is scripted; no states clears it."""
        self.rerun_outcomes(execution_id, [list(states)] if states else None)

    def pending_outcomes(self, execution_id):
        """The outcomes not yet taken by a rerun of the run (copies)."""
        with self._lock:
            return [list(e) for e in self._outcomes.get(execution_id, [])]

    def script(self, *answers, execution_id=None, action=None):
        """Queues answers.  They are taken, in order, by requests whose
        body's WorkflowExecutionId equals execution_id (None: any request
        without a more specific queue) and, if action is given, whose
        X-TC-Action equals it.  When a queue is empty, requests are
        processed normally."""
        key = (action, execution_id)
        with self._lock:
            self._scripts.setdefault(key, []).extend(answers)

    def set_default_answer(self, answer, action=None):
        """A standing answer for every request (of action, if given) that no
        script queue answers; None removes it."""
        with self._lock:
            if answer is None:
                self._defaults.pop(action, None)
            else:
                self._defaults[action] = answer

    def clear_scripts(self):
        """Empties every script queue and removes the standing answers, the
        async plans and the rerun outcomes not yet taken by a rerun (jobs
        and runs already playing theirs go on)."""
        with self._lock:
            self._scripts.clear()
            self._defaults.clear()
            self._async_plan = None
            self._async_plans.clear()
            self._outcomes.clear()

    def pending_script(self):
        with self._lock:
            return {k: list(v) for k, v in self._scripts.items() if v}

    def register_action(self, name, handler):
        """handler(standin, record, params) -> Data object; raise ApiError."""
        self.actions[name] = lambda record, params: handler(self, record, params)

    # -- inspection --------------------------------------------------------

    @staticmethod
    def _matches(record, action, execution_id, async_id):
        return ((action is None or record.action == action)
                and (execution_id is None or record.execution_id == execution_id)
                and (async_id is None or async_id in (record.async_id,
                                                      record.asked_async_id)))

    def requests(self, action=None, execution_id=None, async_id=None):
        """The received requests, oldest first, whatever was answered: all,
        or those of action (X-TC-Action), of execution_id (the body's
        WorkflowExecutionId) and of async_id (the AsyncId a rerun answered
        or a GetOpsAsyncJob asked for); the filters given all apply."""
        with self._lock:
            return [r for r in self._records
                    if self._matches(r, action, execution_id, async_id)]

    def async_polls(self, async_id):
        """How many GetOpsAsyncJob requests asked for async_id (all that
        were received, whatever was answered)."""
        return len(self.requests("GetOpsAsyncJob", async_id=async_id))

    def run_reads(self, execution_id):
        """How many GetTriggerWorkflowRun requests asked for execution_id
        (all that were received, whatever was answered)."""
        return len(self.requests("GetTriggerWorkflowRun", execution_id=execution_id))

    def clear_requests(self):
        """Forgets the recorded requests, TLS errors and list calls."""
        with self._lock:
            self._records = []
            self._tls_errors = []
            self._list_log = []

    def list_calls(self, project_id=None):
        """How many ListTriggerWorkflowRuns calls were carried out (answered
        with Data), in all or for one ProjectId.  Calls refused before the
        action ran (signature, rate limit, a scripted failure) are not
        counted: requests("ListTriggerWorkflowRuns") has those too."""
        return len(self.list_call_log(project_id))

    def list_calls_by_project(self):
        """{ProjectId: number of ListTriggerWorkflowRuns calls carried out}."""
        counts = {}
        with self._lock:
            for call in self._list_log:
                counts[call["ProjectId"]] = counts.get(call["ProjectId"], 0) + 1
        return counts

    def list_call_log(self, project_id=None):
        """The ListTriggerWorkflowRuns calls carried out, oldest first: dicts
        with seq (of the request), received_at, ProjectId, PageNumber,
        PageSize, Filters, OrderFields (as sent), TotalCount,
        TotalPageNumber and ExecutionIds (of the items answered, in order)."""
        out = []
        with self._lock:
            for call in self._list_log:
                if project_id is None or call["ProjectId"] == project_id:
                    item = dict(call)
                    item["seq"] = item.pop("record").seq
                    out.append(item)
        return out

    def count(self, action=None, execution_id=None, async_id=None):
        return len(self.requests(action, execution_id, async_id))

    def auth_failures(self, code=None):
        """The requests refused for their authentication, oldest first:
        those verify_tc3 refused (rec.auth_code: an AuthFailure.*, or
        MissingParameter for an absent Authorization / X-TC-Timestamp) and
        those that carried no Authorization or X-TC-Timestamp header at all
        (refused before the signature check, rec.auth_code None), so that
        "no request went out unauthenticated" is one assertion:
        assertEqual(standin.auth_failures(), []).  Whatever else was
        answered (a scripted error, the rate limit) does not matter: the
        authentication is checked first.  code: only those refused with
        that code (e.g. "AuthFailure.TokenFailure"; "MissingParameter" for
        the missing headers)."""
        out = []
        with self._lock:
            for rec in self._records:
                rec_code = rec.auth_code
                if rec_code is None:
                    names = rec.header_names()
                    if "authorization" in names and "x-tc-timestamp" in names:
                        continue
                    rec_code = "MissingParameter"
                if code is None or rec_code == code:
                    out.append(rec)
        return out

    def count_by_action(self):
        counts = {}
        with self._lock:
            for rec in self._records:
                counts[rec.action] = counts.get(rec.action, 0) + 1
        return counts

    def tls_errors(self):
        with self._lock:
            return list(self._tls_errors)

    def wait_for_requests(self, n, action=None, timeout=10.0, answered=False,
                          execution_id=None, async_id=None):
        """Waits until at least n requests matching the filters of
        requests() were received (and, if answered, answered); returns
        them, or raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                recs = [r for r in self._records
                        if self._matches(r, action, execution_id, async_id)]
                if answered:
                    recs = [r for r in recs if r.done.is_set()]
                if len(recs) >= n:
                    return recs
                left = deadline - time.monotonic()
                if left <= 0:
                    what = " ".join(x for x in (action, execution_id, async_id) if x)
                    raise TimeoutError("expected %d %s request(s), got %d: %r" % (
                        n, what, len(recs), self._records))
                self._cond.wait(min(left, 0.1))

    def wait_for_async_polls(self, async_id, n, timeout=10.0, answered=False):
        """wait_for_requests(n, "GetOpsAsyncJob", async_id=async_id, ...)."""
        return self.wait_for_requests(n, "GetOpsAsyncJob", timeout, answered,
                                      async_id=async_id)

    def wait_for_run_reads(self, execution_id, n, timeout=10.0, answered=False):
        """wait_for_requests(n, "GetTriggerWorkflowRun", execution_id=..., ...)."""
        return self.wait_for_requests(n, "GetTriggerWorkflowRun", timeout, answered,
                                      execution_id=execution_id)

    # -- request handling --------------------------------------------------

    def _note_tls_error(self, client, exc):
        with self._lock:
            self._tls_errors.append((time.time(), client, repr(exc)))

    def _take_answer(self, action, execution_id):
        keys = []
        for key in ((action, execution_id), (None, execution_id),
                    (action, None), (None, None)):
            if key not in keys:
                keys.append(key)
        with self._lock:
            for key in keys:
                queue = self._scripts.get(key)
                if queue:
                    return queue.pop(0)
            for key in (action, None):
                if key in self._defaults:
                    return self._defaults[key]
        return None

    def _take_token(self, action):
        """None when the request may go on, else the throttle code."""
        with self._lock:
            if self._window is not None and not self._window.arrive(action):
                self._rate_limited += 1
                return "RequestLimitExceeded.UinLimitExceeded"
            if self._bucket is None or self._bucket.take():
                return None
            self._rate_limited += 1
            return "RequestLimitExceeded"

    def _handle(self, handler):
        received = time.time()
        body = handler.read_body(MAX_REQUEST_BODY)
        record = RequestRecord(None, received, handler.client_address,
                               handler.command, handler.path, handler.request_version,
                               list(handler.headers.items()), body or b"")
        try:
            self._process(handler, record, body)
        except (ConnectionError, ssl.SSLError, socket.timeout, TimeoutError):
            handler.close_connection = True
        finally:
            self._register(record)
            record.answered_at = time.time()
            record.done.set()
            with self._cond:
                self._cond.notify_all()
            if self.on_request is not None:
                try:
                    self.on_request(record)
                except Exception:  # a logging hook must not break the server
                    pass

    def _register(self, record):
        """Makes a received request visible (requests(), wait_for_requests)
        once it is taken in: after its action ran, before any delay; so a
        test that sees a rerun request also sees its side effect."""
        with self._cond:
            if record.seq is not None:
                return
            self._seq += 1
            record.seq = self._seq
            self._records.append(record)
            self._cond.notify_all()

    def _process(self, handler, record, body):
        values = record.header_values()
        record.action = values.get("x-tc-action")
        request_id = str(uuid.uuid4())
        record.request_id = request_id
        if body is None:
            self._register(record)
            self._answer_error(handler, record, "RequestSizeLimitExceeded",
                               "The request body exceeds %d bytes." % MAX_REQUEST_BODY,
                               close=True)
            return
        if body:
            try:
                record.body = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                record.body = None
        if isinstance(record.body, dict):
            exec_id = record.body.get("WorkflowExecutionId")
            record.execution_id = exec_id if isinstance(exec_id, str) else None
            if record.action == "GetOpsAsyncJob":
                asked = record.body.get("AsyncId")
                record.asked_async_id = asked if isinstance(asked, str) else None

        # The authentication and header checks always run first, so every
        # record says whether its signature was valid, whatever is answered.
        problem = self._check_request(handler, record, body, values)
        throttle = self._take_token(record.action)
        if throttle is not None:
            record.rate_limited = True
            record.answer = "rate_limited"
            self._register(record)
            self._answer_error(handler, record, throttle,
                               "Your current request times exceeds the frequency "
                               "limit. Please reduce the frequency of calls.")
            return
        answer = self._take_answer(record.action, record.execution_id)
        record.answer = answer.describe() if answer is not None else "default"
        # The action runs on receipt, before any delay: a rerun is counted
        # even if its answer never leaves (or is a scripted failure made
        # with applied=True).
        data = failure = None
        if problem is None and (answer is None or answer.applies()):
            try:
                data = self.actions[record.action](record, record.body)
            except ApiError as exc:
                failure = exc
        elif problem is None and record.action == "RerunTriggerWorkflowRunAsync":
            self._ensure_run(record.body)
        self._register(record)
        if answer is not None and answer.delay:
            if not self._wait_unless_client_leaves(handler, answer.delay):
                record.client_gone = True
                handler.close_connection = True
                return
        if answer is not None and answer.kind == "close":
            record.status = None
            handler.close_connection = True
            try:
                handler.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if answer is not None and answer.kind == "http_status":
            text = answer.body if answer.body is not None else (
                "<html><body><h1>%d</h1>stand-in scripted status</body></html>\n"
                % answer.status).encode()
            self._send(handler, record, answer.status, text, "text/html")
            return
        if answer is not None and answer.kind == "garbage":
            self._send(handler, record, 200,
                       b"<html><body>502 Bad Gateway (not JSON)</body></html>\n",
                       "text/html")
            return
        if problem is not None:
            self._answer_error(handler, record, problem[0], problem[1])
            return
        if answer is not None and answer.kind == "error":
            self._answer_error(handler, record, answer.code, answer.message)
            return
        if failure is not None:
            self._answer_error(handler, record, failure.code, failure.message)
            return
        response = {"Response": {"Data": data, "RequestId": request_id}}
        if answer is not None and answer.kind == "huge":
            pad = max(0, answer.size - len(_json_bytes(response)) - 16)
            response["Response"]["Padding"] = "x" * pad
        if answer is not None and answer.kind == "truncated":
            self._send_truncated(handler, record, _json_bytes(response))
            return
        self._send(handler, record, 200, _json_bytes(response))

    def _send_truncated(self, handler, record, body):
        record.status = 200
        record.response_body = body[:len(body) // 2]
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(record.response_body)
        handler.wfile.flush()
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _wait_unless_client_leaves(self, handler, seconds):
        """Waits `seconds` (less if the stand-in stops).  Returns False as
        soon as the client closes its end of the connection."""
        conn = handler.connection
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            try:
                readable = select.select([conn], [], [], min(left, 0.1))[0]
            except (OSError, ValueError):
                return False
            if readable and self._peer_closed(handler):
                return False
        return True

    @staticmethod
    def _peer_closed(handler):
        """Called when the socket is readable while no request is expected:
        true if that is the end of the stream (or an error)."""
        conn = handler.connection
        old_timeout = conn.gettimeout()
        try:
            conn.settimeout(0.05)
            if isinstance(conn, ssl.SSLSocket):
                data = conn.recv(1)
            else:
                data = conn.recv(1, socket.MSG_PEEK)
        except (socket.timeout, ssl.SSLWantReadError):
            return False    # TLS housekeeping, not application data
        except (OSError, ssl.SSLError):
            return True
        finally:
            try:
                conn.settimeout(old_timeout)
            except OSError:
                pass
        if data and isinstance(conn, ssl.SSLSocket):
            handler.close_connection = True   # a byte was consumed: end after this
        return data == b""

    def _ensure_run(self, params):
        """A rerun request that was not carried out still names a run that
        exists (FAILED), so that reading it back works."""
        if not self.auto_create_runs or not isinstance(params, dict):
            return
        ids = [params.get(k) for k in ("ProjectId", "WorkflowId", "WorkflowExecutionId")]
        if not all(isinstance(v, str) and v for v in ids):
            return
        with self._lock:
            if ids[2] not in self._runs:
                self.add_run(ids[0], ids[1], ids[2], "FAILED")

    def _check_request(self, handler, record, body, values):
        """Returns (code, message) of the first problem, or None."""
        if record.method != "POST":
            return ("UnsupportedProtocol",
                    "The stand-in only supports POST, got %s." % record.method)
        for name in ("host", "content-type", "x-tc-action", "x-tc-version",
                     "x-tc-timestamp", "authorization"):
            if name not in values:
                pretty = {"x-tc-action": "Action", "x-tc-version": "Version",
                          "x-tc-timestamp": "Timestamp"}.get(name, name)
                return ("MissingParameter",
                        "The request is missing a required parameter `%s`." % pretty)
        with self._lock:
            creds = dict(self._credentials)
        verdict = verify_tc3(values, body, creds,
                             now=record.received_at + self.clock_skew,
                             max_skew=self.max_skew)
        record.signature_ok = verdict.ok
        # Which credential signed it, accepted or not: with rotating
        # temporary credentials the tests match it to the one issued.
        record.secret_id = verdict.secret_id
        if not verdict.ok:
            record.auth_code = verdict.code
            record.auth_message = verdict.message
            return (verdict.code, verdict.message)
        if values["x-tc-version"] != API_VERSION:
            return ("NoSuchVersion",
                    "The API version `%s` does not exist." % values["x-tc-version"])
        if record.action not in self.actions:
            return ("InvalidAction",
                    "The action `%s` requested was invalid or not found." % record.action)
        if "x-tc-region" not in values:
            return ("MissingParameter",
                    "The request is missing a required parameter `Region`.")
        ctype = values["content-type"].split(";")[0].strip().lower()
        if ctype != "application/json":
            return ("InvalidParameter",
                    "Unsupported Content-Type `%s`." % values["content-type"])
        if not isinstance(record.body, dict):
            return ("InvalidParameter", "The request body is not a JSON object.")
        return None

    def _answer_error(self, handler, record, code, message, close=False):
        record.error_code = code
        payload = {"Response": {"Error": {"Code": code, "Message": message},
                                "RequestId": record.request_id}}
        self._send(handler, record, 200, _json_bytes(payload), close=close)

    def _send(self, handler, record, status, body, content_type="application/json",
              close=False):
        record.status = status
        record.response_body = body if len(body) <= 65536 else body[:65536]
        handler.send_bytes(status, body, content_type, close)

    # -- actions -----------------------------------------------------------

    @staticmethod
    def _require_string(params, name):
        if name not in params or params[name] is None:
            raise ApiError("MissingParameter",
                           "The request is missing a required parameter `%s`." % name)
        if not isinstance(params[name], str) or params[name] == "":
            raise ApiError("InvalidParameter",
                           "The parameter `%s` must be a non-empty string." % name)
        return params[name]

    def _find_run(self, project_id, execution_id, workflow_id=None, create=False):
        run = self._runs.get(execution_id)
        if run is None and create:
            run = self.add_run(project_id, workflow_id, execution_id, "FAILED")
        elif run is not None and run.workflow_id is None and workflow_id is not None:
            run.workflow_id = workflow_id   # created by a read, which names none
        if run is None or run.project_id != project_id or (
                workflow_id is not None and run.workflow_id != workflow_id):
            raise ApiError("ResourceNotFound",
                           "The workflow run `%s` does not exist." % execution_id)
        return run

    def _action_rerun(self, record, params):
        for key in params:
            if key not in self.RERUN_FIELDS:
                raise ApiError("UnknownParameter",
                               "The parameter `%s` is not recognized." % key)
        project_id = self._require_string(params, "ProjectId")
        workflow_id = self._require_string(params, "WorkflowId")
        execution_id = self._require_string(params, "WorkflowExecutionId")
        execute_type = self._require_string(params, "ExecuteType")
        if execute_type not in ("1", "2"):
            raise ApiError("InvalidParameter",
                           "The parameter `ExecuteType` must be \"1\" or \"2\".")
        task_ids = params.get("TaskIds")
        if task_ids is not None and (not isinstance(task_ids, list) or
                                     not all(isinstance(t, str) for t in task_ids)):
            raise ApiError("InvalidParameter", "`TaskIds` must be an array of strings.")
        adv = params.get("AdvancedParams")
        if adv is not None:
            if not isinstance(adv, list):
                raise ApiError("InvalidParameter", "`AdvancedParams` must be an array.")
            for item in adv:
                if (not isinstance(item, dict) or
                        not isinstance(item.get("ParamKey"), str) or
                        not isinstance(item.get("ParamValue"), str) or
                        set(item) - {"ParamKey", "ParamValue", "ExtProperties"}):
                    raise ApiError("InvalidParameter",
                                   "`AdvancedParams` items must be {ParamKey, ParamValue}.")
        for key in ("SchedulingResourceGroup", "IntegrationResourceGroup"):
            if key in params and not isinstance(params[key], str):
                raise ApiError("InvalidParameter", "`%s` must be a string." % key)
        with self._lock:
            run = self._find_run(project_id, execution_id, workflow_id,
                                 create=self.auto_create_runs)
            if not run.support_rerun:
                raise ApiError("FailedOperation",
                               "The workflow run `%s` does not support rerun." % execution_id)
            async_id = str(uuid.uuid4())
            run.rerun_times += 1
            run.state = "RUNNING"
            record.applied = True
            if task_ids:
                run.task_ids = list(task_ids)
            restarted = []
            for task in run.tasks:
                # The tasks it reruns start again: all of them, or TaskIds.
                if not task_ids or task["TaskId"] in task_ids:
                    task["ExecutionState"] = "RUNNING"
                    restarted.append(task)
            # What comes next: the run's next scripted outcome (else it
            # stays RUNNING) and the job's plan (the run's, else the global).
            queue = self._outcomes.get(execution_id)
            states = queue.pop(0) if queue else None
            if queue == []:
                del self._outcomes[execution_id]
            run.outcome = None if states is None else {
                "states": states, "reads": 0, "restarted": restarted}
            plan = self._async_plans.get(execution_id, self._async_plan)
            run.reruns.append({"AsyncId": async_id, "ExecuteType": execute_type,
                               "TaskIds": task_ids, "AdvancedParams": adv,
                               "SchedulingResourceGroup": params.get("SchedulingResourceGroup"),
                               "IntegrationResourceGroup": params.get("IntegrationResourceGroup"),
                               "RequestId": record.request_id,
                               "AsyncPlan": list(plan["statuses"]) if plan else None,
                               "Outcome": list(states) if states else None})
            job = {
                "ProjectId": project_id, "AsyncId": async_id,
                "AsyncType": "WORKFLOW_RERUN", "Status": None,
                "ErrorDesc": None, "TotalSubProcessCount": 1,
                "FinishedSubProcessCount": 0, "SuccessSubProcessCount": 0,
                "CreateUserUin": "100000000001",
                "CreateTime": _now_iso(), "UpdateTime": None,
                "WorkflowExecutionId": execution_id,
            }
            if plan is None:
                self._set_job_status(job, self.async_job_status, None)
            else:
                self._job_plans[async_id] = dict(plan, polls=0)
                self._set_plan_status(job, plan, 0)
            self._jobs[async_id] = job
        record.async_id = async_id
        return {"AsyncId": async_id}

    def _action_get_run(self, record, params):
        project_id = self._require_string(params, "ProjectId")
        execution_id = self._require_string(params, "WorkflowExecutionId")
        with self._lock:
            # A run nobody told the stand-in about is FAILED, as for a rerun.
            run = self._find_run(project_id, execution_id, create=self.auto_create_runs)
            self._advance_outcome(run)
            record.answered_state = run.state
            return {"TriggerWorkflowRun": run.brief(),
                    "TriggerTaskRuns": run.task_briefs(),
                    "BizStateEnumInfos": [{"LabelKey": run.state, "LabelValue": run.state,
                                           "Count": 1}]}

    @staticmethod
    def _advance_outcome(run):
        """Applies the next state of the run's scripted outcome (see
        rerun_outcomes); called under the lock by GetTriggerWorkflowRun."""
        outcome = run.outcome
        if outcome is None:
            return
        states = outcome["states"]
        state = states[min(outcome["reads"], len(states) - 1)]
        outcome["reads"] += 1
        run.state = state
        if state == "SUCCESS":
            for task in run.tasks:
                task["ExecutionState"] = "SUCCESS"
        elif state == "FAILED":
            for task in run.tasks:
                if task["ExecutionState"] == "RUNNING" and any(
                        task is other for other in outcome["restarted"]):
                    task["ExecutionState"] = "FAILED"
        if outcome["reads"] >= len(states):
            run.outcome = None        # played out: the last state sticks

    def _set_plan_status(self, job, plan, index):
        """Sets a planned job to its statuses[index] (the last one past the end)."""
        statuses = plan["statuses"]
        status = statuses[min(index, len(statuses) - 1)]
        self._set_job_status(job, status, plan["error_desc"]
                             if status in ASYNC_ERROR_DESC_STATUSES else None)

    LIST_FIELDS = ("ProjectId", "Filters", "OrderFields", "PageNumber", "PageSize")
    LIST_FILTERS = ("WorkflowId", "ExecutionId", "Keyword")
    LIST_ORDER_FIELDS = {"CreateTime": lambda run: run.create_time_ms}
    LIST_DEFAULT_PAGE_SIZE = 10
    LIST_MAX_PAGE_SIZE = 100

    @staticmethod
    def _list_int(params, name, default, low, high):
        """PageNumber / PageSize: a JSON integer (not a string, not a
        boolean) in low..high, or default when absent."""
        if name not in params or params[name] is None:
            return default
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ApiError("InvalidParameter",
                           "The parameter `%s` must be an integer, got %s."
                           % (name, json.dumps(value)))
        if not low <= value <= high:
            raise ApiError("InvalidParameterValue",
                           "The value of `%s` must be between %d and %d, got %d."
                           % (name, low, high, value))
        return value

    def _list_filters(self, params):
        """Filters as [(Name, [values])], checked."""
        filters = params.get("Filters")
        if filters is None:
            return []
        if not isinstance(filters, list):
            raise ApiError("InvalidParameter", "`Filters` must be an array.")
        out = []
        for flt in filters:
            if (not isinstance(flt, dict) or set(flt) - {"Name", "Values"}
                    or not isinstance(flt.get("Name"), str)
                    or not isinstance(flt.get("Values"), list)
                    or not all(isinstance(v, str) for v in flt["Values"])):
                raise ApiError("InvalidParameter",
                               "`Filters` items must be {Name: string, Values: [string]}.")
            if flt["Name"] not in self.LIST_FILTERS:
                raise ApiError("InvalidParameterValue", "Unknown filter `%s`." % flt["Name"])
            out.append((flt["Name"], list(flt["Values"])))
        return out

    def _list_order(self, params):
        """OrderFields as [(key function, descending)], checked."""
        fields = params.get("OrderFields")
        if fields is None:
            return []
        if not isinstance(fields, list):
            raise ApiError("InvalidParameter", "`OrderFields` must be an array.")
        out = []
        for field in fields:
            if (not isinstance(field, dict) or set(field) != {"Name", "Direction"}
                    or not isinstance(field["Name"], str)
                    or field["Direction"] not in ("ASC", "DESC")):
                raise ApiError("InvalidParameter",
                               "`OrderFields` items must be {Name, Direction: ASC|DESC}.")
            if field["Name"] not in self.LIST_ORDER_FIELDS:
                raise ApiError("InvalidParameterValue",
                               "Unsupported order field `%s`." % field["Name"])
            out.append((self.LIST_ORDER_FIELDS[field["Name"]], field["Direction"] == "DESC"))
        return out

    @staticmethod
    def _filter_runs(items, name, wanted):
        if name == "WorkflowId":
            return [r for r in items if r.workflow_id in wanted]
        if name == "ExecutionId":
            return [r for r in items if r.execution_id in wanted]
        return [r for r in items if any(w in r.workflow_name or w in r.workflow_id
                                         for w in wanted)]

    def _action_list_runs(self, record, params):
        """Filters all apply (AND); a filter with several Values matches any
        of them.  Without OrderFields the runs come in the order they were
        added; with them, sorted by each field in turn (the first one
        decides), ties kept in that order.  PageSize defaults to 10, at most
        100; a page past the end is empty."""
        for key in params:
            if key not in self.LIST_FIELDS:
                raise ApiError("UnknownParameter",
                               "The parameter `%s` is not recognized." % key)
        project_id = self._require_string(params, "ProjectId")
        filters = self._list_filters(params)
        order = self._list_order(params)
        page = self._list_int(params, "PageNumber", 1, 1, 2 ** 31 - 1)
        size = self._list_int(params, "PageSize", self.LIST_DEFAULT_PAGE_SIZE, 1,
                              self.LIST_MAX_PAGE_SIZE)
        with self._lock:
            items = [r for r in self._runs.values() if r.project_id == project_id]
            for name, wanted in filters:
                items = self._filter_runs(items, name, wanted)
            for key, descending in reversed(order):     # stable: the first field wins
                items.sort(key=key, reverse=descending)
            total = len(items)
            chunk = [r.brief() for r in items[(page - 1) * size: page * size]]
            pages = (total + size - 1) // size
            self._list_log.append({
                "record": record, "received_at": record.received_at,
                "ProjectId": project_id, "PageNumber": page, "PageSize": size,
                "Filters": params.get("Filters"), "OrderFields": params.get("OrderFields"),
                "TotalCount": total, "TotalPageNumber": pages,
                "ExecutionIds": [item["ExecutionId"] for item in chunk]})
        return {"TotalCount": total, "TotalPageNumber": pages,
                "PageNumber": page, "PageSize": size, "Items": chunk}

    def _action_get_async_job(self, record, params):
        project_id = self._require_string(params, "ProjectId")
        async_id = self._require_string(params, "AsyncId")
        with self._lock:
            job = self._jobs.get(async_id)
            if job is None or job["ProjectId"] != project_id:
                raise ApiError("ResourceNotFound",
                               "The async job `%s` does not exist." % async_id)
            plan = self._job_plans.get(async_id)
            if plan is not None:
                # The n-th poll carried out answers statuses[n-1].
                self._set_plan_status(job, plan, plan["polls"])
                plan["polls"] += 1
                if plan["polls"] >= len(plan["statuses"]):
                    del self._job_plans[async_id]     # played out: the last one stays
            data = dict(job)
        data.pop("WorkflowExecutionId", None)
        record.answered_state = data["Status"]
        return data


# ---------------------------------------------------------------------------
# Notification sink for collectd's write_http (Format JSON)
# ---------------------------------------------------------------------------


class _SinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "NotificationSink/1.0"
    sys_version = ""
    timeout = 30

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.owner._received(self.path, list(self.headers.items()), body)
        reply = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


class Notification:
    """A collectd notification as posted by write_http (Format JSON).

    collectd 5.12's format_json_notification() writes Alertmanager-style
    objects: labels {alertname: "collectd_<plugin>[_<type>]", instance:
    <host>, <plugin>: <plugin_instance> (only if set), type: <type_instance>
    (only if set), severity, service: "collectd"} and annotations {summary:
    <message>, <meta key>: <meta value as a string>...}.  The type itself is
    only in alertname, after "collectd_<plugin>_"."""

    FIXED_LABELS = ("alertname", "instance", "severity", "service", "type")

    def __init__(self, raw, received_at):
        self.raw = raw
        self.received_at = received_at
        labels = dict(raw.get("labels") or {})
        annotations = dict(raw.get("annotations") or {})
        self.severity = (labels.get("severity") or "").upper()
        self.host = labels.get("instance", "")
        self.type_instance = labels.get("type", "")
        alert = labels.get("alertname", "")
        if alert.startswith("collectd_"):
            alert = alert[len("collectd_"):]
        others = [k for k in labels if k not in self.FIXED_LABELS]
        if len(others) == 1:
            self.plugin = others[0]
            self.plugin_instance = labels[others[0]]
            rest = alert[len(self.plugin):] if alert.startswith(self.plugin) else alert
            self.type = rest[1:] if rest.startswith("_") else rest
        else:
            # No plugin_instance: plugin and type cannot be told apart for
            # sure; assume the type is the part after the last underscore.
            self.plugin_instance = ""
            self.plugin, _, self.type = alert.rpartition("_")
            if not self.plugin:
                self.plugin, self.type = self.type, ""
        self.message = annotations.pop("summary", "")
        self.meta = annotations
        self.starts_at = raw.get("startsAt")

    def __repr__(self):
        return "<Notification %s %s/%s-%s/%s-%s %r meta=%r>" % (
            self.severity, self.host, self.plugin, self.plugin_instance, self.type,
            self.type_instance, self.message, self.meta)


class NotificationSink(_Served):
    """Plain-HTTP receiver for write_http (POST to any path)."""

    def __init__(self, host="127.0.0.1", port=0, on_notification=None):
        self.host = host
        self.requested_port = port
        self.on_notification = on_notification
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._posts = []
        self._notifications = []
        self._httpd = None
        self._thread = None

    def start(self):
        return self._serve(_SinkHandler, "notification-sink")

    @property
    def url(self):
        return "http://%s:%d/collectd" % (self.host, self.port)

    def _received(self, path, headers, body):
        now = time.time()
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
        items = parsed if isinstance(parsed, list) else [parsed]
        new = [Notification(item, now) for item in items
               if isinstance(item, dict) and "labels" in item]
        with self._cond:
            self._posts.append({"received_at": now, "path": path, "headers": headers,
                                "body": body, "parsed": parsed})
            self._notifications.extend(new)
            self._cond.notify_all()
        if self.on_notification is not None:
            for item in new:
                try:
                    self.on_notification(item)
                except Exception:
                    pass

    def posts(self):
        with self._lock:
            return list(self._posts)

    def notifications(self, **match):
        """Notifications whose attributes equal the given keyword values,
        e.g. notifications(plugin="wedata_rerun", severity="OKAY")."""
        with self._lock:
            items = list(self._notifications)
        return [n for n in items
                if all(getattr(n, k) == v for k, v in match.items())]

    def clear(self):
        with self._lock:
            self._posts = []
            self._notifications = []

    def wait_for(self, count=1, timeout=10.0, **match):
        deadline = time.monotonic() + timeout
        while True:
            found = self.notifications(**match)
            if len(found) >= count:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("expected %d notification(s) matching %r, got %r"
                                   % (count, match, self.notifications()))
            with self._cond:
                self._cond.wait(min(left, 0.1))


# ---------------------------------------------------------------------------
# Standalone mode
# ---------------------------------------------------------------------------


def _print(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _describe_request(rec):
    return ("request #%d action=%s exec=%s signature=%s answer=%s status=%s%s%s" % (
        rec.seq, rec.action, rec.execution_id,
        "ok" if rec.signature_ok else ("FAILED(%s)" % rec.auth_code
                                       if rec.signature_ok is False else "n/a"),
        rec.answer, rec.status if rec.status is not None else "dropped",
        " AsyncId=%s" % rec.async_id if rec.async_id else (
            " asked AsyncId=%s" % rec.asked_async_id if rec.asked_async_id else ""),
        " Error=%s" % rec.error_code if rec.error_code else "")
        + (" (rerun applied)" if rec.applied else "")
        + (" (client gone)" if rec.client_gone else ""))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Local WeData API stand-in (HTTPS).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="listen address (loopback only; default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (0 = ephemeral)")
    parser.add_argument("--cert-dir", required=True, help="where to write the cert/key")
    parser.add_argument("--secret-id", action="append", default=[],
                        help="accepted SecretId (repeatable, paired with --secret-key)")
    parser.add_argument("--secret-key", action="append", default=[],
                        help="SecretKey of the matching --secret-id")
    parser.add_argument("--token", default=None, help="session token required for the "
                        "first credential")
    parser.add_argument("--runs", help="JSON file: list of runs (ProjectId, WorkflowId, "
                        "ExecutionId, ExecutionState, RerunTimes, SupportRerun, "
                        "CreateTime (epoch ms), "
                        "TriggerTaskRuns [{TaskId, ExecutionState, ...}], ...)")
    parser.add_argument("--no-auto-create", action="store_true",
                        help="unknown runs answer ResourceNotFound instead of being "
                        "created as FAILED")
    parser.add_argument("--script", action="append", default=[],
                        metavar="EXECID[@ACTION]=SPEC",
                        help="scripted answers for a WorkflowExecutionId ('*' = default), "
                        "of one action only when @ACTION is given; "
                        "SPEC: comma-separated ok | error:CODE[:MSG] | delay:S[:SPEC] | "
                        "http:N[:applied] | garbage[:applied] | close[:applied] | huge")
    parser.add_argument("--async-plan", action="append", default=[],
                        metavar="[EXECID=]STATUS,...",
                        help="GetOpsAsyncJob answers for the async jobs of later reruns "
                        "(of EXECID, else of any run), one Status per read, the last "
                        "repeating; e.g. INIT,RUNNING,SUCCESS")
    parser.add_argument("--rerun-outcomes", action="append", default=[],
                        metavar="EXECID=STATE,...[;STATE,...]",
                        help="the run's ExecutionState after each later rerun, one state "
                        "per GetTriggerWorkflowRun read, one ';'-separated list per "
                        "rerun; e.g. RUNNING,FAILED;RUNNING,SUCCESS")
    parser.add_argument("--rate-limit", type=float, default=None, metavar="N",
                        help="answer RequestLimitExceeded beyond N requests a second "
                        "(token bucket of N over all actions)")
    parser.add_argument("--sink", action="store_true",
                        help="also run a write_http notification sink (plain HTTP)")
    parser.add_argument("--sink-port", type=int, default=0)
    parser.add_argument("--record", help="append one JSON line per request to this file")
    parser.add_argument("--notifications-record",
                        help="append one JSON line per sink notification to this file")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the stand-in only listens on loopback")
    if len(args.secret_id) != len(args.secret_key):
        parser.error("--secret-id and --secret-key must be given in pairs")

    lock = threading.Lock()

    def on_request(rec):
        _print("[standin] " + _describe_request(rec))
        if args.record:
            with lock, open(args.record, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec.as_dict()) + "\n")

    def on_notification(n):
        _print("[sink] notification %s %s/%s-%s/%s-%s message=%r meta=%s" % (
            n.severity, n.host, n.plugin, n.plugin_instance, n.type, n.type_instance,
            n.message, json.dumps(n.meta, sort_keys=True)))
        if args.notifications_record:
            with lock, open(args.notifications_record, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(n.raw) + "\n")

    creds = []
    for i, (sid, key) in enumerate(zip(args.secret_id, args.secret_key)):
        creds.append(Credential(sid, key, args.token if i == 0 else None))
    standin = WeDataStandin(cert_dir=args.cert_dir, credentials=creds, host=args.host,
                            port=args.port, auto_create_runs=not args.no_auto_create,
                            on_request=on_request, rate_limit=args.rate_limit)
    if args.runs:
        with open(args.runs, encoding="utf-8") as fh:
            standin.load_runs(json.load(fh))
    for item in args.script:
        target, _, spec = item.partition("=")
        exec_id, _, action = target.partition("@")
        answers = [parse_answer_spec(s) for s in spec.split(",") if s.strip()]
        standin.script(*answers, execution_id=None if exec_id == "*" else exec_id,
                       action=action or None)
    for item in args.async_plan:
        exec_id, _, spec = item.rpartition("=")
        standin.async_plan([x.strip() for x in spec.split(",") if x.strip()],
                           execution_id=exec_id or None)
    for item in args.rerun_outcomes:
        exec_id, _, spec = item.partition("=")
        standin.rerun_outcomes(exec_id, [[x.strip() for x in plan.split(",") if x.strip()]
                                         for plan in spec.split(";") if plan.strip()])

    standin.start()
    sink = None
    if args.sink:
        sink = NotificationSink(args.host, args.sink_port, on_notification).start()
    _print("PORT=%d" % standin.port)
    if sink is not None:
        _print("SINK_PORT=%d" % sink.port)
    _print("CA_CERT=%s" % standin.ca_file)
    _print("[standin] listening on %s (%d run(s), %d credential(s))" % (
        standin.url, len(standin.runs()), len(creds)))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.2):
        pass
    standin.stop()
    if sink is not None:
        sink.stop()
    counts = standin.count_by_action()
    _print("[standin] stopped; requests by action: %s; rate-limited answers: %d"
           % (json.dumps(counts, sort_keys=True), standin.rate_limited_count()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
