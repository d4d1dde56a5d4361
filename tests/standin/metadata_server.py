#!/usr/bin/env python3
"""Local stand-in for the CVM instance metadata service (the CAM role part).

Python 3 standard library only; plain HTTP on 127.0.0.1, like the real
service (http://metadata.tencentyun.com).  It answers:

* ``GET /latest/meta-data/cam/security-credentials/``: the role name,
  text/plain (404 when the server has no role: role=None);
* ``GET /latest/meta-data/cam/security-credentials/<role>``: the role's
  temporary credentials::

      {"TmpSecretId": "AKID...", "TmpSecretKey": "...", "ExpiredTime": 1796205600,
       "Expiration": "2026-12-02T10:00:00Z", "Token": "...", "Code": "Success"}

  (ExpiredTime: epoch seconds; Expiration: the same second, UTC);
* anything else: 404 (another role, a path without the trailing slash:
  the plugin is meant to use the documented paths exactly), 405 for a
  method other than GET.

As a library::

    standin = wedata_standin.WeDataStandin(...).start()
    meta = MetadataServer(role="wedata-role", lifetime=20, standin=standin).start()
    ... collectd with MetadataEndpoint meta.url ...
    meta.issued()         # the credentials handed out so far
    meta.count("/wedata-role")
    meta.set_down(True)   # connections refused, same port kept
    meta.stop()

Standalone, for manual tries::

    python3 metadata_server.py --port 0 --lifetime 20 [--role R] [--renew-before S]

prints ``PORT=<n>`` first, then one line per request (never a key or a
token), and runs until SIGTERM or SIGINT.

Credentials.  The server holds one current credential.  A request for the
role's credentials, or credential(), first issues a fresh one (new random
TmpSecretId, key and token) when there is none yet or the current one is
within renew_before seconds of its expiry (default 0: once it has
expired); rotate() issues one at once.  Each lives `lifetime` seconds from
its issue, rounded up to the whole second that ExpiredTime states, so the
JSON and the stand-in agree to the second.  An earlier credential is not
revoked: it stays good until its own expiry, as with the real service.
With standin= every issued credential is registered there with its
expires_at, so the stand-in accepts exactly the credentials that are valid
now and answers AuthFailure.TokenFailure to an expired one.

Clock.  The server's clock is the stand-in's (time.time() plus its
clock_skew), because in the cloud the API and the metadata service share
one clock: with set_clock_skew() on the stand-in, ExpiredTime moves with
it.  Without a stand-in it is time.time(); clock= overrides both.

Down.  set_down(True) really refuses connections: the listening socket is
closed and the open connections are shut, while a bound, non-listening
placeholder socket (SO_REUSEPORT) keeps the port, so that set_down(False)
can listen on the same port again without racing other programs for it.
A connect() meanwhile gets ECONNREFUSED at once; nothing is recorded,
since nothing is received.  A server that answers HTTP 500 instead, or
hangs, is set_answer(status=500, times=None) or set_answer(delay=...).
"""

import argparse
import base64
import json
import math
import os
import secrets
import signal
import socket
import string
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wedata_standin as ws  # noqa: E402

ROLE_PREFIX = "/latest/meta-data/cam/security-credentials/"

_ALNUM = string.ascii_letters + string.digits


def _random_text(n):
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


# The Expiration form: YYYY-MM-DDTHH:MM:SSZ (whole seconds, UTC).
utc_iso = ws.utc_iso


def without(*fields):
    """A set_answer body: the normal credentials JSON minus `fields`
    (e.g. without("Token"))."""
    def edit(normal):
        if not isinstance(normal, dict):
            return normal
        return dict((k, v) for k, v in normal.items() if k not in fields)
    return edit


def replacing(**fields):
    """A set_answer body: the normal credentials JSON with `fields` set
    (e.g. replacing(Code="InternalError") or replacing(ExpiredTime="soon"))."""
    def edit(normal):
        if not isinstance(normal, dict):
            return normal
        out = dict(normal)
        out.update(fields)
        return out
    return edit


class IssuedCredential:
    """One temporary credential of the role.  repr() and as_dict() show its
    TmpSecretId and times only: the key and the token stay out of logs."""

    def __init__(self, secret_id, secret_key, token, issued_at, expires_at):
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.token = token
        self.issued_at = issued_at      # float, by the server's clock
        self.expires_at = expires_at    # int: ExpiredTime

    def answer(self):
        """The JSON object the service answers for it."""
        return {"TmpSecretId": self.secret_id, "TmpSecretKey": self.secret_key,
                "ExpiredTime": self.expires_at, "Expiration": utc_iso(self.expires_at),
                "Token": self.token, "Code": "Success"}

    def credential(self):
        """The same, as the stand-in's Credential."""
        return ws.Credential(self.secret_id, self.secret_key, self.token, self.expires_at)

    def as_dict(self):
        return {"secret_id": self.secret_id, "issued_at": self.issued_at,
                "expires_at": self.expires_at}

    def __repr__(self):
        return "<IssuedCredential %s issued_at=%.3f expires_at=%d (%s)>" % (
            self.secret_id, self.issued_at, self.expires_at, utc_iso(self.expires_at))


class MetadataRequest:
    """One received request and what was answered."""

    def __init__(self, seq, received_at, client, method, path):
        self.seq = seq
        self.received_at = received_at    # time.time() (not the skewed clock)
        self.client = client
        self.method = method
        self.path = path                  # as received, query included
        self.status = None                # HTTP status sent; None: none sent
        self.answer = None                # "role", "credentials", "not_found",
        #                                   "method", or "scripted(...)"
        self.credential_id = None         # TmpSecretId the answer was built from
        self.expires_at = None            # and its ExpiredTime
        self.answered_at = None
        self.done = threading.Event()

    @property
    def bare_path(self):
        return self.path.split("?", 1)[0]

    def as_dict(self):
        return {"seq": self.seq, "received_at": self.received_at,
                "answered_at": self.answered_at, "method": self.method,
                "path": self.path, "status": self.status, "answer": self.answer,
                "credential_id": self.credential_id, "expires_at": self.expires_at}

    def __repr__(self):
        return "<MetadataRequest #%d %s %s -> %s %s%s>" % (
            self.seq, self.method, self.path, self.status, self.answer,
            " %s" % self.credential_id if self.credential_id else "")


class _Scripted:
    """A scripted answer: see MetadataServer.set_answer."""

    def __init__(self, status, body, times, path_suffix, delay, content_type):
        self.status = status
        self.body = body
        self.times = times
        self.path_suffix = path_suffix
        self.delay = delay
        self.content_type = content_type

    def describe(self):
        parts = []
        if self.status is not None:
            parts.append("status=%d" % self.status)
        if self.body is not None:
            parts.append("body=%s" % ("edited" if callable(self.body) else "given"))
        if self.delay:
            parts.append("delay=%gs" % self.delay)
        return "scripted(%s)" % ",".join(parts or ["normal"])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address, owner):
        self.owner = owner
        super().__init__(address, _Handler)

    def server_bind(self):
        # SO_REUSEPORT lets the listener share the port with the placeholder
        # that holds it while the server is down (see set_down).
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    def process_request(self, request, client_address):
        # Tracked so that set_down() can cut keep-alive connections too: a
        # client must not be answered on an old connection while "down".
        # Here, in the accept loop, rather than in the connection's thread:
        # once shutdown() has stopped the loop, every accepted connection
        # is in the set.
        self.owner._track(request, True)
        # The headers and the body are written separately: without
        # TCP_NODELAY the body would wait for the client's delayed ACK.
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        self.owner._track(request, False)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):   # a client gone, or cut by set_down
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MetadataStandin/1.0"
    sys_version = ""
    timeout = 30

    def log_message(self, fmt, *args):  # silence the default stderr log
        pass

    def _dispatch(self):
        self.server.owner._handle(self)

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch
    do_HEAD = _dispatch

    def send_bytes(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()


def _error_page(status):
    reason = {404: "Not Found", 405: "Method Not Allowed"}.get(status, "Error")
    return ("<html><head><title>%d %s</title></head><body><h1>%d %s</h1></body></html>\n"
            % (status, reason, status, reason)).encode()


class MetadataServer:
    """The CVM metadata service's CAM role part.  See the module docstring."""

    def __init__(self, role="wedata-role", lifetime=20, standin=None, port=0,
                 host="127.0.0.1", renew_before=0, clock=None, on_request=None):
        """role: the role name answered (None: no role, the listing is 404).
        lifetime: seconds each credential lives.  standin: a WeDataStandin
        that every issued credential is registered with.  renew_before:
        issue a fresh credential once the current one has at most that
        many seconds left (0: once it has expired).  clock(): epoch seconds
        (default: the stand-in's clock, else time.time()).
        on_request(record) is called after each answer (for logging)."""
        if lifetime <= 0:
            raise ValueError("lifetime must be positive")
        if renew_before < 0:
            raise ValueError("renew_before must not be negative")
        self.role = role
        self.lifetime = lifetime
        self.renew_before = renew_before
        self.standin = standin
        self.host = host
        self.requested_port = port
        self.on_request = on_request
        self._clock = clock
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._issued = []
        self._records = []
        self._scripts = []
        self._connections = set()
        self._seq = 0
        self._port = None
        self._httpd = None
        self._thread = None
        self._placeholder = None
        self._stopping = threading.Event()
        # Serialises start/stop/set_down, which (un)bind sockets.
        self._life_lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------

    def start(self):
        with self._life_lock:
            self._stopping.clear()
            self._listen(self.requested_port)
            self._port = self._httpd.server_address[1]
        return self

    def stop(self):
        with self._life_lock:
            self._stopping.set()
            self._close_listener()
            if self._placeholder is not None:
                self._placeholder.close()
                self._placeholder = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._port

    @property
    def url(self):
        """What MetadataEndpoint takes: scheme, host and port, no path."""
        return "http://%s:%d" % (self.host, self._port)

    @property
    def is_down(self):
        return self._placeholder is not None

    def set_down(self, down=True):
        """down: refuse every connection (listener closed, open connections
        shut) while keeping the port; False: listen on the same port again.
        The credentials keep their schedule meanwhile: a credential that
        expires while the server is down is replaced on the first request
        after it is back."""
        with self._life_lock:
            if self._port is None or self._stopping.is_set():
                raise RuntimeError("the metadata server is not running")
            if down and self._placeholder is None:
                holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                # SO_REUSEPORT only: binding next to the listener works, and
                # no one else can take the port (SO_REUSEADDR alone could,
                # once no socket listens on it).
                holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                holder.bind((self.host, self._port))
                self._placeholder = holder
                self._close_listener()
            elif not down and self._placeholder is not None:
                self._listen(self._port)
                self._placeholder.close()
                self._placeholder = None

    def _listen(self, port):
        self._httpd = _Server((self.host, port), self)
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="metadata-standin", daemon=True)
        self._thread.start()

    def _close_listener(self):
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
        self._httpd = None
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _track(self, conn, opened):
        with self._lock:
            if opened:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # -- credentials -------------------------------------------------------

    def now(self):
        """The server's clock, epoch seconds (see the module docstring)."""
        if self._clock is not None:
            return self._clock()
        skew = getattr(self.standin, "clock_skew", 0.0) if self.standin else 0.0
        return time.time() + skew

    def _issue(self, now):
        cred = IssuedCredential(
            "AKID" + _random_text(32), _random_text(32),
            # Real tokens are long and URL-safe base64 ('-', '_'): a long
            # one checks that the header and the buffers take it whole.
            base64.urlsafe_b64encode(secrets.token_bytes(300)).decode().rstrip("="),
            now, int(math.ceil(now + self.lifetime)))
        self._issued.append(cred)
        if self.standin is not None:
            self.standin.add_credential(cred.credential())
        return cred

    def credential(self):
        """The credential the service answers now: the current one, or a
        fresh one when it is due (see the module docstring)."""
        with self._lock:
            now = self.now()
            cur = self._issued[-1] if self._issued else None
            if cur is None or now >= cur.expires_at - self.renew_before:
                cur = self._issue(now)
            return cur

    def rotate(self):
        """Issues a fresh credential now (the current one stays good until
        its expiry); returns it."""
        with self._lock:
            return self._issue(self.now())

    def issued(self):
        """The credentials issued so far, oldest first (IssuedCredential:
        secret_id, issued_at, expires_at; and the key and token, never
        shown by repr)."""
        with self._lock:
            return list(self._issued)

    # -- scripted answers --------------------------------------------------

    def set_answer(self, status=None, body=None, times=1, path_suffix=None, delay=0,
                   content_type=None):
        """Scripts the answer to the next `times` requests (None: every
        request until clear_answers()) whose path ends with path_suffix
        (None: any).  Scripts queue up, first in first used.

        status: HTTP status (None: 200).  body: bytes or str as is, a dict
        or list as JSON, or a function of the normal answer (the
        credentials dict, the role name, or None on a 404 path) returning
        one of those: without("Token"), replacing(Code="x").  body None:
        the normal answer for status 200, a small HTML error page
        otherwise.  delay: seconds to wait before answering (a slow or
        hung service).  content_type: default application/json for a
        dict or list, else text/plain (text/html for an error page)."""
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None)")
        with self._lock:
            self._scripts.append(_Scripted(status, body, times, path_suffix, delay,
                                           content_type))

    def clear_answers(self):
        with self._lock:
            self._scripts = []

    def pending_answers(self):
        """How many scripted answers are left (None in the list: sticky)."""
        with self._lock:
            return [s.times for s in self._scripts]

    def _take_script(self, path):
        with self._lock:
            for script in self._scripts:
                if script.path_suffix is None or path.endswith(script.path_suffix):
                    if script.times is not None:
                        script.times -= 1
                        if script.times == 0:
                            self._scripts.remove(script)
                    return script
        return None

    # -- inspection --------------------------------------------------------

    def requests(self, path_suffix=None):
        """The received requests, oldest first; those whose path (without
        the query) ends with path_suffix, when given: "/security-credentials/"
        for the role lookups, "/" + role for the credentials."""
        with self._lock:
            return [r for r in self._records
                    if path_suffix is None or r.bare_path.endswith(path_suffix)]

    def count(self, path_suffix=None):
        return len(self.requests(path_suffix))

    def clear_requests(self):
        with self._lock:
            self._records = []

    def wait_for_requests(self, n, path_suffix=None, timeout=10.0, answered=True):
        """Waits until at least n requests matching path_suffix were
        received (and answered, unless answered=False); returns them, or
        raises TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                recs = [r for r in self.requests(path_suffix)
                        if not answered or r.done.is_set()]
                if len(recs) >= n:
                    return recs
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("expected %d request(s) for %r, got %d: %r" % (
                        n, path_suffix, len(recs), self._records))
                self._cond.wait(min(left, 0.1))

    # -- request handling --------------------------------------------------

    def _handle(self, handler):
        with self._cond:
            self._seq += 1
            record = MetadataRequest(self._seq, time.time(), handler.client_address,
                                     handler.command, handler.path)
            self._records.append(record)
            self._cond.notify_all()
        try:
            self._answer(handler, record)
        except OSError:   # the client left, or set_down cut the connection
            handler.close_connection = True
        finally:
            record.answered_at = time.time()
            record.done.set()
            with self._cond:
                self._cond.notify_all()
            if self.on_request is not None:
                try:
                    self.on_request(record)
                except Exception:  # a logging hook must not break the server
                    pass

    def _normal(self, record):
        """(status, object answered, kind) of the unscripted answer; issues
        a credential when one is due and the credentials were asked for."""
        path = record.bare_path
        if record.method not in ("GET", "HEAD"):
            return 405, None, "method"
        if path == ROLE_PREFIX and self.role is not None:
            return 200, self.role, "role"
        if self.role is not None and path == ROLE_PREFIX + self.role:
            cred = self.credential()
            record.credential_id = cred.secret_id
            record.expires_at = cred.expires_at
            return 200, cred.answer(), "credentials"
        return 404, None, "not_found"

    def _answer(self, handler, record):
        script = self._take_script(record.bare_path)
        if script is not None and script.delay:
            # A hung service: wait (less if the server stops) and answer if
            # the client is still there.
            if self._stopping.wait(script.delay):
                handler.close_connection = True
                return
        scripted_body = script is not None and script.body is not None
        if script is None or callable(script.body) or (
                script.body is None and script.status in (None, 200)):
            status, normal, kind = self._normal(record)
        else:
            # A canned broken answer: the normal one is not computed, so it
            # issues no credential that nobody was handed.
            status, normal, kind = 200, None, None
        record.answer = script.describe() if script is not None else kind
        if script is not None and script.status is not None:
            status = script.status
        if scripted_body:
            body = script.body(normal) if callable(script.body) else script.body
        elif status == 200 and normal is not None:
            body = normal
        else:
            body = _error_page(status)
        if isinstance(body, (dict, list)):
            payload, ctype = json.dumps(body).encode(), "application/json"
        elif isinstance(body, str):
            payload, ctype = body.encode("utf-8"), "text/plain"
        else:
            payload = bytes(body)
            ctype = "text/html" if not scripted_body and status != 200 else "text/plain"
        if script is not None and script.content_type:
            ctype = script.content_type
        # Set before sending, as a client may look at the record as soon as
        # it has the answer; undone if the answer could not be sent.
        record.status = status
        try:
            handler.send_bytes(status, payload, ctype)
        except OSError:
            record.status = None
            raise


# ---------------------------------------------------------------------------
# Standalone mode
# ---------------------------------------------------------------------------


def _print(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(description="Local CVM metadata service "
                                     "(CAM role credentials, plain HTTP).")
    parser.add_argument("--host", default="127.0.0.1",
                        help="listen address (loopback only; default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (0 = ephemeral)")
    parser.add_argument("--role", default="wedata-role", help="the role name answered")
    parser.add_argument("--lifetime", type=float, default=20,
                        help="seconds each credential lives (default 20)")
    parser.add_argument("--renew-before", type=float, default=0,
                        help="issue a fresh credential once the current one has at "
                        "most this many seconds left (default 0: once expired)")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the metadata stand-in only listens on loopback")

    def on_request(rec):
        line = "[metadata] request #%d %s %s -> %s %s" % (
            rec.seq, rec.method, rec.path,
            rec.status if rec.status is not None else "dropped", rec.answer)
        if rec.credential_id:
            line += " TmpSecretId=%s ExpiredTime=%d (%s)" % (
                rec.credential_id, rec.expires_at, utc_iso(rec.expires_at))
        _print(line)

    server = MetadataServer(role=args.role, lifetime=args.lifetime, host=args.host,
                            port=args.port, renew_before=args.renew_before,
                            on_request=on_request).start()
    _print("PORT=%d" % server.port)
    _print("[metadata] listening on %s (role %s, lifetime %g s)" % (
        server.url, args.role, args.lifetime))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.2):
        pass
    server.stop()
    _print("[metadata] stopped; %d request(s), %d credential(s) issued"
           % (server.count(), len(server.issued())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
