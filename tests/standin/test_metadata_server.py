#!/usr/bin/env python3
"""Self-tests of the CVM metadata stand-in (python3 test_metadata_server.py).

The answers' paths and shapes, the credential schedule (with a fake clock,
and once with real short lifetimes), the registration in the WeData
stand-in and its refusal of an expired credential, down/up, the scripted
broken answers and the standalone mode.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import metadata_server as ms  # noqa: E402
import wedata_standin as ws  # noqa: E402

ROLE = "wedata-role"
ROLE_PATH = ms.ROLE_PREFIX
CRED_PATH = ms.ROLE_PREFIX + ROLE


def get(server, path, method="GET", timeout=5):
    """(status, content type, body bytes) of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type"), resp.read()
    finally:
        conn.close()


def fetch_credentials(server):
    status, _, body = get(server, CRED_PATH)
    if status != 200:
        raise AssertionError("credentials answered %d: %r" % (status, body))
    return json.loads(body)


class FakeClock:
    def __init__(self, now=1_800_000_000.25):
        self.now = now

    def __call__(self):
        return self.now


class Served(unittest.TestCase):
    """A server per test, stopped whatever happens."""

    def serve(self, **kwargs):
        server = ms.MetadataServer(**kwargs).start()
        self.addCleanup(server.stop)
        return server


class AnswerTest(Served):
    def test_role_name(self):
        server = self.serve(role=ROLE)
        self.assertEqual(get(server, ROLE_PATH), (200, "text/plain", ROLE.encode()))
        # answered_at is set once the answer is sent: wait for that.
        (rec,) = server.wait_for_requests(1, timeout=5)
        self.assertEqual((rec.method, rec.path, rec.status, rec.answer),
                         ("GET", ROLE_PATH, 200, "role"))
        self.assertAlmostEqual(rec.received_at, time.time(), delta=5)
        self.assertLessEqual(rec.received_at, rec.answered_at)
        self.assertEqual(server.issued(), [], "a role lookup issues no credential")

    def test_url(self):
        server = self.serve()
        self.assertEqual(server.url, "http://127.0.0.1:%d" % server.port)
        self.assertNotEqual(server.port, 0)

    def test_not_found_and_method(self):
        server = self.serve(role=ROLE)
        for path in (ms.ROLE_PREFIX + "other-role", ms.ROLE_PREFIX.rstrip("/"),
                     ms.ROLE_PREFIX + ROLE + "/", "/latest/meta-data/instance-id", "/"):
            with self.subTest(path):
                status, ctype, _ = get(server, path)
                self.assertEqual((status, ctype), (404, "text/html"))
        self.assertEqual(get(server, CRED_PATH, method="POST")[0], 405)
        self.assertEqual([r.status for r in server.requests()], [404] * 5 + [405])
        self.assertEqual(server.issued(), [])

    def test_no_role(self):
        server = self.serve(role=None)
        self.assertEqual(get(server, ROLE_PATH)[0], 404)
        self.assertEqual(get(server, ms.ROLE_PREFIX + "None")[0], 404)

    def test_query_string_is_ignored_for_matching(self):
        server = self.serve(role=ROLE)
        self.assertEqual(get(server, ROLE_PATH + "?x=1")[0], 200)
        self.assertEqual(server.count(ROLE_PATH), 1)
        self.assertEqual(server.requests()[0].path, ROLE_PATH + "?x=1")

    def test_credentials_shape(self):
        server = self.serve(role=ROLE, lifetime=20)
        before = time.time()
        status, ctype, body = get(server, CRED_PATH)
        self.assertEqual((status, ctype), (200, "application/json"))
        doc = json.loads(body)
        self.assertEqual(list(doc), ["TmpSecretId", "TmpSecretKey", "ExpiredTime",
                                     "Expiration", "Token", "Code"])
        self.assertRegex(doc["TmpSecretId"], r"^AKID[A-Za-z0-9]{32}$")
        self.assertIsInstance(doc["TmpSecretKey"], str)
        self.assertGreaterEqual(len(doc["TmpSecretKey"]), 32)
        self.assertIsInstance(doc["Token"], str)
        self.assertGreaterEqual(len(doc["Token"]), 256)
        self.assertRegex(doc["Token"], r"^[A-Za-z0-9_-]+$")
        self.assertIs(type(doc["ExpiredTime"]), int)
        self.assertGreaterEqual(doc["ExpiredTime"], before + 20)
        self.assertLessEqual(doc["ExpiredTime"], time.time() + 21)
        self.assertRegex(doc["Expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(doc["Expiration"], time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(doc["ExpiredTime"])))
        self.assertEqual(doc["Code"], "Success")
        # The same credential until it is due, and the record says which.
        self.assertEqual(fetch_credentials(server), doc)
        (cred,) = server.issued()
        self.assertEqual((cred.secret_id, cred.expires_at),
                         (doc["TmpSecretId"], doc["ExpiredTime"]))
        recs = server.requests(CRED_PATH)
        self.assertEqual([r.credential_id for r in recs], [doc["TmpSecretId"]] * 2)
        self.assertEqual([r.expires_at for r in recs], [doc["ExpiredTime"]] * 2)
        self.assertEqual(server.count("/" + ROLE), 2)
        self.assertEqual(server.count(ROLE_PATH), 0)

    def test_no_secret_in_repr(self):
        server = self.serve(role=ROLE)
        doc = fetch_credentials(server)
        shown = " ".join([repr(server.issued()), repr(server.requests()),
                          json.dumps([c.as_dict() for c in server.issued()]),
                          json.dumps([r.as_dict() for r in server.requests()]),
                          repr(server.issued()[0].credential())])
        self.assertIn(doc["TmpSecretId"], shown)
        self.assertNotIn(doc["TmpSecretKey"], shown)
        self.assertNotIn(doc["Token"], shown)

    def test_keep_alive(self):
        server = self.serve(role=ROLE)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        try:
            for _ in range(3):
                conn.request("GET", ROLE_PATH)
                self.assertEqual(conn.getresponse().read(), ROLE.encode())
        finally:
            conn.close()
        self.assertEqual(server.count(), 3)


class ScheduleTest(unittest.TestCase):
    """When credentials are issued, with a fake clock (no server needed)."""

    def test_lifetime_and_renewal(self):
        clock = FakeClock()
        server = ms.MetadataServer(lifetime=20, clock=clock)
        first = server.credential()
        # Rounded up to the whole second ExpiredTime states.
        self.assertEqual(first.expires_at, 1_800_000_021)
        self.assertEqual(first.issued_at, clock.now)
        clock.now = 1_800_000_020.99
        self.assertIs(server.credential(), first)
        clock.now = 1_800_000_021
        second = server.credential()
        self.assertIsNot(second, first)
        self.assertNotEqual(second.secret_id, first.secret_id)
        self.assertNotEqual(second.secret_key, first.secret_key)
        self.assertNotEqual(second.token, first.token)
        self.assertEqual(second.expires_at, 1_800_000_041)
        self.assertEqual(server.issued(), [first, second])

    def test_renew_before(self):
        clock = FakeClock(1_800_000_000)
        server = ms.MetadataServer(lifetime=20, renew_before=5, clock=clock)
        first = server.credential()
        self.assertEqual(first.expires_at, 1_800_000_020)
        clock.now = 1_800_000_014.9
        self.assertIs(server.credential(), first)
        clock.now = 1_800_000_015
        second = server.credential()
        self.assertIsNot(second, first)
        self.assertEqual(second.expires_at, 1_800_000_035)

    def test_rotate(self):
        clock = FakeClock(1_800_000_000)
        server = ms.MetadataServer(lifetime=20, clock=clock)
        first = server.credential()
        clock.now += 3
        second = server.rotate()
        self.assertEqual(second.expires_at, 1_800_000_023)
        self.assertIs(server.credential(), second)
        self.assertEqual(len({c.secret_id for c in server.issued()}), 2)

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            ms.MetadataServer(lifetime=0)
        with self.assertRaises(ValueError):
            ms.MetadataServer(renew_before=-1)
        server = ms.MetadataServer()
        with self.assertRaises(ValueError):
            server.set_answer(status=500, times=0)


class RotationOverHttpTest(Served):
    def test_fresh_credential_after_lifetime(self):
        server = self.serve(role=ROLE, lifetime=1)
        first = fetch_credentials(server)
        self.assertEqual(fetch_credentials(server)["TmpSecretId"], first["TmpSecretId"])
        time.sleep(max(0.0, first["ExpiredTime"] - time.time()) + 0.05)
        second = fetch_credentials(server)
        self.assertNotEqual(second["TmpSecretId"], first["TmpSecretId"])
        self.assertNotEqual(second["Token"], first["Token"])
        self.assertGreater(second["ExpiredTime"], first["ExpiredTime"])
        issued = server.issued()
        self.assertEqual([c.secret_id for c in issued],
                         [first["TmpSecretId"], second["TmpSecretId"]])
        self.assertGreaterEqual(issued[1].issued_at, issued[0].expires_at)


class StandinTest(Served):
    """Every issued credential is registered in the WeData stand-in, which
    accepts it until its ExpiredTime and then answers TokenFailure."""

    def setUp(self):
        # Plain HTTP: the signature checks do not depend on TLS, and the
        # stand-in's own tests cover its HTTPS side.
        self.standin = ws.WeDataStandin(tls=False).start()
        self.addCleanup(self.standin.stop)

    def rerun(self, doc, exec_id):
        body = json.dumps({"ProjectId": "1", "WorkflowId": "wf", "ExecuteType": "1",
                           "WorkflowExecutionId": exec_id}).encode()
        headers = ws.sign_request(doc["TmpSecretId"], doc["TmpSecretKey"],
                                  "127.0.0.1:%d" % self.standin.port, body,
                                  "RerunTriggerWorkflowRunAsync", token=doc["Token"])
        conn = http.client.HTTPConnection("127.0.0.1", self.standin.port, timeout=5)
        try:
            conn.request("POST", "/", body=body, headers=headers)
            resp = json.loads(conn.getresponse().read())["Response"]
        finally:
            conn.close()
        return resp.get("Error", {}).get("Code"), resp.get("Error", {}).get("Message")

    def test_registered_and_refused_once_expired(self):
        server = self.serve(role=ROLE, lifetime=1, standin=self.standin)
        doc = fetch_credentials(server)
        self.assertEqual(self.rerun(doc, "meta-1"), (None, None))
        self.assertEqual(self.standin.auth_failures(), [])
        # A wrong token is refused, expired or not.
        forged = dict(doc, Token="forged")
        self.assertEqual(self.rerun(forged, "meta-1")[0], "AuthFailure.TokenFailure")
        time.sleep(max(0.0, doc["ExpiredTime"] - time.time()) + 0.05)
        code, message = self.rerun(doc, "meta-1")
        self.assertEqual(code, "AuthFailure.TokenFailure")
        self.assertIn("expired", message)
        fresh = fetch_credentials(server)
        self.assertNotEqual(fresh["TmpSecretId"], doc["TmpSecretId"])
        self.assertEqual(self.rerun(fresh, "meta-1"), (None, None))
        refused = self.standin.auth_failures()
        self.assertEqual([r.auth_code for r in refused], ["AuthFailure.TokenFailure"] * 2)
        self.assertIn("expired", refused[1].auth_message)
        self.assertGreaterEqual(refused[1].received_at, doc["ExpiredTime"])
        self.assertEqual([r.secret_id for r in self.standin.requests()],
                         [doc["TmpSecretId"]] * 3 + [fresh["TmpSecretId"]])
        self.assertEqual(self.standin.get_run("meta-1").rerun_times, 2)

    def test_rotated_credential_overlaps(self):
        """After rotate() both the old and the new credential are good."""
        server = self.serve(role=ROLE, lifetime=30, standin=self.standin)
        old = fetch_credentials(server)
        server.rotate()
        new = fetch_credentials(server)
        self.assertNotEqual(old["TmpSecretId"], new["TmpSecretId"])
        self.assertEqual(self.rerun(old, "meta-2"), (None, None))
        self.assertEqual(self.rerun(new, "meta-2"), (None, None))
        self.assertEqual(self.standin.auth_failures(), [])

    def test_shares_the_standin_clock(self):
        server = self.serve(role=ROLE, lifetime=20, standin=self.standin)
        self.standin.set_clock_skew(1000)
        doc = fetch_credentials(server)
        self.assertAlmostEqual(doc["ExpiredTime"], time.time() + 1020, delta=3)
        self.assertAlmostEqual(server.now(), time.time() + 1000, delta=1)


class DownTest(Served):
    def test_down_refuses_and_up_serves_on_the_same_port(self):
        server = self.serve(role=ROLE)
        port = server.port
        self.assertEqual(get(server, ROLE_PATH)[0], 200)
        server.set_down(True)
        self.assertTrue(server.is_down)
        server.set_down(True)   # twice is harmless
        for _ in range(2):
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), 2).close()
        # Nobody else can take the port meanwhile (SO_REUSEADDR included).
        other = socket.socket()
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            with self.assertRaises(OSError):
                other.bind(("127.0.0.1", port))
        finally:
            other.close()
        server.set_down(False)
        self.assertFalse(server.is_down)
        self.assertEqual(server.port, port)
        self.assertEqual(get(server, ROLE_PATH)[0], 200)
        self.assertEqual(server.count(), 2, "nothing is received while down")

    def test_down_cuts_keep_alive_connections(self):
        server = self.serve(role=ROLE)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        self.addCleanup(conn.close)
        conn.request("GET", ROLE_PATH)
        self.assertEqual(conn.getresponse().read(), ROLE.encode())
        server.set_down(True)
        # http.client would reconnect on its own after a closed keep-alive
        # connection: the reconnect is refused too.
        with self.assertRaises((ConnectionError, http.client.HTTPException)):
            conn.request("GET", ROLE_PATH)
            conn.getresponse().read()
        self.assertEqual(server.count(), 1)

    def test_credentials_expire_while_down(self):
        server = self.serve(role=ROLE, lifetime=1)
        first = fetch_credentials(server)
        server.set_down(True)
        time.sleep(max(0.0, first["ExpiredTime"] - time.time()) + 0.05)
        server.set_down(False)
        self.assertNotEqual(fetch_credentials(server)["TmpSecretId"], first["TmpSecretId"])

    def test_stop_while_down_and_not_running(self):
        server = ms.MetadataServer().start()
        server.set_down(True)
        server.stop()
        server.stop()
        with self.assertRaises(RuntimeError):
            server.set_down(False)
        with self.assertRaises(RuntimeError):
            ms.MetadataServer().set_down(True)


class ScriptedAnswerTest(Served):
    def setUp(self):
        self.server = self.serve(role=ROLE, lifetime=30)

    def test_garbage_then_normal(self):
        self.server.set_answer(body=b"\x00\xffnot json {")
        self.assertEqual(get(self.server, CRED_PATH), (200, "text/plain", b"\x00\xffnot json {"))
        self.assertEqual(self.server.issued(), [], "a canned answer issues nothing")
        self.assertEqual(fetch_credentials(self.server)["Code"], "Success")
        self.assertEqual([r.answer for r in self.server.requests()],
                         ["scripted(body=given)", "credentials"])
        self.assertEqual(self.server.pending_answers(), [])

    def test_status_for_n_requests(self):
        self.server.set_answer(status=404, times=2)
        self.assertEqual(get(self.server, ROLE_PATH)[:2], (404, "text/html"))
        self.assertEqual(get(self.server, CRED_PATH)[0], 404)
        self.assertEqual(get(self.server, ROLE_PATH)[0], 200)
        self.assertEqual([r.status for r in self.server.requests()], [404, 404, 200])
        self.assertEqual(self.server.issued(), [])
        self.assertEqual(self.server.requests()[1].credential_id, None)

    def test_json_without_token(self):
        self.server.set_answer(body=ms.without("Token"))
        status, ctype, body = get(self.server, CRED_PATH)
        doc = json.loads(body)
        self.assertEqual((status, ctype), (200, "application/json"))
        self.assertNotIn("Token", doc)
        self.assertIn("TmpSecretKey", doc)
        # Built from the real credential, which the record names.
        (cred,) = self.server.issued()
        self.assertEqual(doc["TmpSecretId"], cred.secret_id)
        self.assertEqual(self.server.requests()[0].credential_id, cred.secret_id)
        self.assertIn("Token", fetch_credentials(self.server))

    def test_replacing_fields(self):
        self.server.set_answer(body=ms.replacing(Code="InternalError", ExpiredTime="soon"))
        doc = json.loads(get(self.server, CRED_PATH)[2])
        self.assertEqual((doc["Code"], doc["ExpiredTime"]), ("InternalError", "soon"))

    def test_path_suffix(self):
        self.server.set_answer(status=500, path_suffix="/" + ROLE)
        self.assertEqual(get(self.server, ROLE_PATH)[0], 200)
        self.assertEqual(get(self.server, CRED_PATH)[0], 500)
        self.assertEqual(get(self.server, CRED_PATH)[0], 200)

    def test_sticky_until_cleared(self):
        self.server.set_answer(status=500, times=None)
        for _ in range(3):
            self.assertEqual(get(self.server, CRED_PATH)[0], 500)
        self.assertEqual(self.server.pending_answers(), [None])
        self.server.clear_answers()
        self.assertEqual(get(self.server, CRED_PATH)[0], 200)

    def test_queued_scripts_in_order(self):
        self.server.set_answer(status=503)
        self.server.set_answer(body="wrong-role")
        self.assertEqual(get(self.server, ROLE_PATH)[0], 503)
        self.assertEqual(get(self.server, ROLE_PATH)[2], b"wrong-role")
        self.assertEqual(get(self.server, ROLE_PATH)[2], ROLE.encode())

    def test_delay(self):
        self.server.set_answer(delay=0.6)
        start = time.monotonic()
        self.assertEqual(get(self.server, ROLE_PATH)[0], 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.6)
        rec = self.server.wait_for_requests(1, timeout=5)[0]
        self.assertGreaterEqual(rec.answered_at - rec.received_at, 0.55)
        # A client that gives up on a hung service leaves an unanswered record.
        self.server.set_answer(delay=3)
        with self.assertRaises(socket.timeout):
            get(self.server, ROLE_PATH, timeout=0.5)
        self.server.stop()   # does not wait for the delay
        rec = self.server.wait_for_requests(2, timeout=5)[1]
        self.assertIsNone(rec.status)

    def test_wait_for_requests(self):
        with self.assertRaises(TimeoutError):
            self.server.wait_for_requests(1, timeout=0.2)
        get(self.server, CRED_PATH)
        (rec,) = self.server.wait_for_requests(1, "/" + ROLE, timeout=2)
        self.assertEqual(rec.status, 200)
        self.server.clear_requests()
        self.assertEqual(self.server.count(), 0)


class StandaloneTest(unittest.TestCase):
    def test_standalone(self):
        proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "metadata_server.py"), "--port", "0",
             "--lifetime", "20", "--role", "cli-role"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            first = proc.stdout.readline()
            match = re.fullmatch(r"PORT=(\d+)\n", first)
            self.assertIsNotNone(match, first)
            port = int(match.group(1))
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", ms.ROLE_PREFIX)
            self.assertEqual(conn.getresponse().read(), b"cli-role")
            conn.request("GET", ms.ROLE_PREFIX + "cli-role")
            doc = json.loads(conn.getresponse().read())
            conn.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 0, out)
        self.assertIn("TmpSecretId=%s" % doc["TmpSecretId"], out)
        self.assertIn("2 request(s), 1 credential(s) issued", out)
        self.assertNotIn(doc["TmpSecretKey"], out)
        self.assertNotIn(doc["Token"], out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
