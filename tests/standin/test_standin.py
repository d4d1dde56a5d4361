#!/usr/bin/env python3
"""Self-tests of the WeData stand-in (python3 tests/standin/test_standin.py).

1. Its TC3-HMAC-SHA256 code reproduces every vector of
   tests/vectors/tc3-signatures.json, and its verifier accepts them.
2. The verifier rejects what the real API rejects.
3. The HTTPS server end to end: a request signed by that code, the
   actions, the scripted answers, the recording, the notification sink
   and the standalone mode.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import wedata_standin as ws  # noqa: E402

VECTORS = os.path.join(HERE, "..", "vectors", "tc3-signatures.json")
SID = "AKIDstandinSelfTest000000000000000001"
SKEY = "standin/Self+Test=Key-_.01"
PROJECT = "1460947878944567296"
WORKFLOW = "0fae8078-a7a7-4b67-afd1-8bf18e068dda"


def load_vectors():
    with open(VECTORS, encoding="utf-8") as fh:
        return json.load(fh)


def vector_header_values(vec):
    """Lower-case header name -> value, as a server would receive them."""
    inp = vec["inputs"]
    sent = vec["outputs"].get("request_headers")
    if sent is None:
        sent = {"Host": inp["host"], "Content-Type": inp["content_type"],
                "X-TC-Action": inp["action"], "X-TC-Version": inp["version"],
                "X-TC-Timestamp": str(inp["timestamp"]), "X-TC-Region": inp["region"],
                "Authorization": vec["outputs"]["authorization"]}
    return dict((k.lower(), v) for k, v in sent.items())


class FixedKeyCredential(ws.Credential):
    """A credential whose SecretKey is unknown but whose derived signing key
    is published (the doc vector with the masked key)."""

    def __init__(self, secret_id, signing_key, token=None):
        super().__init__(secret_id, None, token)
        self._signing_key = signing_key

    def signing_key(self, date, service):
        return self._signing_key


class VectorTest(unittest.TestCase):
    """The stand-in's signer reproduces every published/SDK vector."""

    @classmethod
    def setUpClass(cls):
        cls.vectors = load_vectors()

    def test_vector_file_shape(self):
        self.assertGreaterEqual(len(self.vectors), 14)
        ids = [v["id"] for v in self.vectors]
        self.assertIn("doc-cvm-describeinstances-current", ids)
        self.assertEqual(len(ids), len(set(ids)))

    def test_payload_fields_agree(self):
        for vec in self.vectors:
            with self.subTest(vec["id"]):
                inp = vec["inputs"]
                payload = bytes.fromhex(inp["payload_hex"])
                self.assertEqual(payload, inp["payload"].encode("utf-8"))
                self.assertEqual(len(payload), inp["payload_length_bytes"])

    def test_every_intermediate_value(self):
        for vec in self.vectors:
            with self.subTest(vec["id"]):
                inp, out = vec["inputs"], vec["outputs"]
                values = vector_header_values(vec)
                kwargs = {}
                if inp["secret_key"] is None:
                    kwargs["signing_key"] = bytes.fromhex(out["secret_signing_hex"])
                else:
                    kwargs["secret_key"] = inp["secret_key"]
                got = ws.tc3_compute(values, bytes.fromhex(inp["payload_hex"]),
                                     inp["timestamp"], inp["secret_id"],
                                     signed_headers=inp["signed_headers"],
                                     service=inp["service"], method=inp["method"],
                                     canonical_uri=inp["canonical_uri"],
                                     canonical_query=inp["canonical_query_string"],
                                     **kwargs)
                self.assertEqual(ws.utc_date(inp["timestamp"]), inp["utc_date"])
                compared = 0
                for key, want in out.items():
                    if key == "request_headers":
                        continue
                    if key in ("secret_date_hex", "secret_service_hex") and \
                            inp["secret_key"] is None:
                        continue  # not derivable without the masked key
                    self.assertEqual(got[key], want, "%s of %s" % (key, vec["id"]))
                    compared += 1
                self.assertGreaterEqual(compared, 8)
                for key, want in vec.get("published", {}).items():
                    self.assertEqual(got[key], want, "published %s" % key)

    def test_doc_current_vector_from_published_signing_key(self):
        vec = [v for v in self.vectors if v["id"] == "doc-cvm-describeinstances-current"][0]
        self.assertIsNone(vec["inputs"]["secret_key"])
        inp, out = vec["inputs"], vec["outputs"]
        canon = ws.canonical_headers(vector_header_values(vec),
                                     inp["signed_headers"].split(";"))
        self.assertIn("x-tc-action:describeinstances\n", canon)
        creq = ws.canonical_request("POST", "/", "", canon, inp["signed_headers"],
                                    ws.sha256_hex(bytes.fromhex(inp["payload_hex"])))
        sts = ws.string_to_sign(inp["timestamp"], "2019-02-25/cvm/tc3_request",
                                ws.sha256_hex(creq))
        sig = ws.signature_from_key(bytes.fromhex(out["secret_signing_hex"]), sts)
        self.assertEqual(sig, vec["published"]["signature"])

    def test_sign_request_matches_vector(self):
        vec = [v for v in self.vectors if v["id"] == "wd-07-sdk-default-content-type"][0]
        inp = vec["inputs"]
        headers = ws.sign_request(inp["secret_id"], inp["secret_key"], inp["host"],
                                  bytes.fromhex(inp["payload_hex"]), inp["action"],
                                  timestamp=inp["timestamp"], region=inp["region"],
                                  content_type=inp["content_type"])
        self.assertEqual(headers, vec["outputs"]["request_headers"])

    def test_utc_not_local_date(self):
        self.assertEqual(ws.utc_date(1767225599), "2025-12-31")
        self.assertEqual(ws.utc_date(1767225600), "2026-01-01")
        self.assertEqual(ws.utc_date(1551113065), "2019-02-25")


class VerifierTest(unittest.TestCase):
    """verify_tc3 accepts the vectors and rejects what the API rejects."""

    @classmethod
    def setUpClass(cls):
        cls.vectors = load_vectors()

    def creds_for(self, vec):
        inp, out = vec["inputs"], vec["outputs"]
        if inp["secret_key"] is None:
            cred = FixedKeyCredential(inp["secret_id"],
                                      bytes.fromhex(out["secret_signing_hex"]),
                                      inp["session_token"])
        else:
            cred = ws.Credential(inp["secret_id"], inp["secret_key"], inp["session_token"])
        return {inp["secret_id"]: cred}

    def verify(self, vec, values=None, body=None, now=None, creds=None):
        inp = vec["inputs"]
        return ws.verify_tc3(values if values is not None else vector_header_values(vec),
                             body if body is not None else bytes.fromhex(inp["payload_hex"]),
                             creds if creds is not None else self.creds_for(vec),
                             now=inp["timestamp"] if now is None else now,
                             service=inp["service"])

    def test_accepts_every_vector(self):
        for vec in self.vectors:
            with self.subTest(vec["id"]):
                verdict = self.verify(vec)
                self.assertTrue(verdict.ok, verdict)
                self.assertEqual(verdict.expected_signature, vec["outputs"]["signature"])

    def wd01(self):
        return [v for v in self.vectors if v["id"] == "wd-01-minimal-cn"][0]

    def test_tampered_body(self):
        vec = self.wd01()
        body = bytes.fromhex(vec["inputs"]["payload_hex"]).replace(b'"1"', b'"2"')
        verdict = self.verify(vec, body=body)
        self.assertEqual(verdict.code, "AuthFailure.SignatureFailure")

    def test_body_with_extra_whitespace(self):
        vec = self.wd01()
        verdict = self.verify(vec, body=bytes.fromhex(vec["inputs"]["payload_hex"]) + b"\n")
        self.assertEqual(verdict.code, "AuthFailure.SignatureFailure")

    def test_content_type_differs_from_signed(self):
        vec = self.wd01()
        values = vector_header_values(vec)
        values["content-type"] = "application/json"
        self.assertEqual(self.verify(vec, values=values).code, "AuthFailure.SignatureFailure")

    def test_host_differs_from_signed(self):
        vec = self.wd01()
        values = vector_header_values(vec)
        values["host"] = "wedata.tencentcloudapi.com:443"
        self.assertEqual(self.verify(vec, values=values).code, "AuthFailure.SignatureFailure")

    def test_wrong_secret_key(self):
        vec = self.wd01()
        creds = {vec["inputs"]["secret_id"]: ws.Credential(vec["inputs"]["secret_id"], "nope")}
        self.assertEqual(self.verify(vec, creds=creds).code, "AuthFailure.SignatureFailure")

    def test_unknown_secret_id(self):
        vec = self.wd01()
        creds = {"AKIDother": ws.Credential("AKIDother", vec["inputs"]["secret_key"])}
        self.assertEqual(self.verify(vec, creds=creds).code, "AuthFailure.SecretIdNotFound")

    def test_skew_boundaries(self):
        vec = self.wd01()
        ts = vec["inputs"]["timestamp"]
        self.assertTrue(self.verify(vec, now=ts + 300).ok)
        self.assertTrue(self.verify(vec, now=ts - 300).ok)
        self.assertEqual(self.verify(vec, now=ts + 301).code, "AuthFailure.SignatureExpire")
        self.assertEqual(self.verify(vec, now=ts - 301).code, "AuthFailure.SignatureExpire")

    def test_local_date_in_scope_is_rejected(self):
        vec = [v for v in self.vectors if v["id"] == "wd-03-advanced-before-utc-midnight"][0]
        inp = vec["inputs"]
        self.assertNotEqual(inp["utc_date"], inp["utc_plus_8_local_date"])
        # Sign correctly except for using the UTC+8 date in the scope.
        values = vector_header_values(vec)
        signing = ws.derive_key_chain(inp["secret_key"], inp["utc_plus_8_local_date"])[2]
        creq = ws.tc3_compute(values, bytes.fromhex(inp["payload_hex"]), inp["timestamp"],
                              inp["secret_id"], inp["secret_key"])["canonical_request"]
        scope = ws.credential_scope(inp["utc_plus_8_local_date"])
        sig = ws.signature_from_key(signing, ws.string_to_sign(inp["timestamp"], scope,
                                                               ws.sha256_hex(creq)))
        values["authorization"] = ws.authorization_value(inp["secret_id"], scope,
                                                         "content-type;host", sig)
        self.assertEqual(self.verify(vec, values=values).code, "AuthFailure.SignatureFailure")

    def test_wrong_service_in_scope(self):
        vec = self.wd01()
        values = vector_header_values(vec)
        values["authorization"] = values["authorization"].replace("/wedata/", "/cvm/")
        self.assertEqual(self.verify(vec, values=values).code, "AuthFailure.SignatureFailure")

    def test_malformed_authorization(self):
        vec = self.wd01()
        for bad in ("TC3-HMAC-SHA256 Credential=x, Signature=00",
                    vector_header_values(vec)["authorization"].replace(", ", ","),
                    vector_header_values(vec)["authorization"].replace(
                        "content-type;host", "host;content-type"),
                    "HMAC-SHA1 foo"):
            with self.subTest(bad):
                values = vector_header_values(vec)
                values["authorization"] = bad
                self.assertEqual(self.verify(vec, values=values).code,
                                 "AuthFailure.InvalidAuthorization")

    def test_missing_headers(self):
        vec = self.wd01()
        for name in ("authorization", "x-tc-timestamp"):
            values = vector_header_values(vec)
            del values[name]
            self.assertEqual(self.verify(vec, values=values).code, "MissingParameter")

    def test_token_rules(self):
        vec = [v for v in self.vectors if v["id"] == "wd-02-minimal-cn-token"][0]
        inp = vec["inputs"]
        # Token is not signed: the same signature with or without it.
        self.assertTrue(self.verify(vec).ok)
        values = vector_header_values(vec)
        values["x-tc-token"] = "other"
        self.assertEqual(self.verify(vec, values=values).code, "AuthFailure.TokenFailure")
        permanent = {inp["secret_id"]: ws.Credential(inp["secret_id"], inp["secret_key"])}
        self.assertEqual(self.verify(vec, creds=permanent).code, "AuthFailure.TokenFailure")

    def test_token_expiry(self):
        """A temporary credential is good until expires_at (by the server's
        clock), refused from that second on; a wrong token is still refused
        as invalid, not as expired."""
        vec = [v for v in self.vectors if v["id"] == "wd-02-minimal-cn-token"][0]
        inp = vec["inputs"]
        ts = inp["timestamp"]

        def creds(expires_at):
            return {inp["secret_id"]: ws.Credential(inp["secret_id"], inp["secret_key"],
                                                    inp["session_token"], expires_at)}

        self.assertTrue(self.verify(vec, creds=creds(ts + 0.5), now=ts).ok)
        self.assertTrue(self.verify(vec, creds=creds(ts + 20), now=ts + 19.9).ok)
        for now in (ts + 20, ts + 21):
            verdict = self.verify(vec, creds=creds(ts + 20), now=now)
            self.assertFalse(verdict.ok)
            self.assertEqual(verdict.code, "AuthFailure.TokenFailure")
            self.assertIn("expired", verdict.message)
        values = vector_header_values(vec)
        values["x-tc-token"] = "other"
        for expires_at in (ts + 20, ts - 1):
            verdict = self.verify(vec, values=values, creds=creds(expires_at), now=ts)
            self.assertEqual(verdict.code, "AuthFailure.TokenFailure")
            self.assertNotIn("expired", verdict.message)
        # A wrong key is a signature failure, expired or not.
        wrong = {inp["secret_id"]: ws.Credential(inp["secret_id"], "not-the-key",
                                                 inp["session_token"], ts - 1)}
        self.assertEqual(self.verify(vec, creds=wrong, now=ts).code,
                         "AuthFailure.SignatureFailure")

    def test_credential_repr_hides_secrets(self):
        cred = ws.Credential("AKIDshown", "hidden-key-1", "hidden-token-2", 1764670000)
        text = repr(cred)
        self.assertIn("AKIDshown", text)
        self.assertIn("1764670000", text)
        self.assertNotIn("hidden-key-1", text)
        self.assertNotIn("hidden-token-2", text)


class ServerTest(unittest.TestCase):
    """The HTTPS server end to end, with requests signed by the module."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="standin-test-")
        cls.standin = ws.WeDataStandin(cert_dir=cls.tmp, credentials={SID: SKEY}).start()
        cls.standin.add_credential(ws.Credential("AKIDtemporary", "tmpkey", token="tok-1"))
        cls.ctx = ssl.create_default_context(cafile=cls.standin.ca_file)

    @classmethod
    def tearDownClass(cls):
        cls.standin.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.standin.clear_requests()
        self.standin.clear_scripts()
        self.standin.set_rate_limit(None)

    def call(self, action, params, secret_key=SKEY, secret_id=SID, timestamp=None,
             raw_body=None, extra_headers=None, drop=(), host=None, token=None,
             timeout=10, send_host=None):
        body = raw_body if raw_body is not None else json.dumps(
            params, separators=(",", ":")).encode()
        host = host or "127.0.0.1:%d" % self.standin.port
        headers = ws.sign_request(secret_id, secret_key, host, body, action,
                                  timestamp=timestamp, token=token)
        headers.update(extra_headers or {})
        if send_host is not None:
            headers["Host"] = send_host
        for name in drop:
            headers.pop(name, None)
        conn = http.client.HTTPSConnection("127.0.0.1", self.standin.port,
                                           context=self.ctx, timeout=timeout)
        try:
            conn.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
            for key, value in headers.items():
                conn.putheader(key, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read()
            self.last_date = resp.getheader("Date")
            return resp.status, resp.getheader("Content-Type"), data
        finally:
            conn.close()

    def rerun(self, exec_id=None, **overrides):
        params = {"ProjectId": PROJECT, "WorkflowId": WORKFLOW,
                  "WorkflowExecutionId": exec_id or str(uuid.uuid4()), "ExecuteType": "1"}
        params.update(overrides)
        return self.call("RerunTriggerWorkflowRunAsync",
                         dict((k, v) for k, v in params.items() if v is not None))

    def error_code(self, result):
        status, _, data = result
        self.assertEqual(status, 200)
        return json.loads(data)["Response"].get("Error", {}).get("Code")

    def test_certificate_names(self):
        for name in ("127.0.0.1", "localhost"):
            with self.subTest(name):
                with socket.create_connection(("127.0.0.1", self.standin.port), 5) as raw:
                    with self.ctx.wrap_socket(raw, server_hostname=name) as tls:
                        self.assertIsNotNone(tls.getpeercert())

    def test_untrusted_client_is_recorded(self):
        with socket.create_connection(("127.0.0.1", self.standin.port), 5) as raw:
            with self.assertRaises(ssl.SSLError):
                ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
        deadline = time.time() + 5
        while not self.standin.tls_errors() and time.time() < deadline:
            time.sleep(0.02)
        self.assertTrue(self.standin.tls_errors())
        self.assertEqual(self.standin.count(), 0)

    def test_rerun_end_to_end(self):
        exec_id = "run-" + uuid.uuid4().hex
        status, ctype, data = self.rerun(exec_id, ExecuteType="2", TaskIds=["t1", "t2"],
                                         AdvancedParams=[{"ParamKey": "bizdate",
                                                          "ParamValue": "20261127"}],
                                         SchedulingResourceGroup="rg-s",
                                         IntegrationResourceGroup="rg-i")
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "application/json")
        resp = json.loads(data)["Response"]
        self.assertNotIn("Error", resp)
        async_id = resp["Data"]["AsyncId"]
        self.assertEqual(str(uuid.UUID(async_id)), async_id)
        uuid.UUID(resp["RequestId"])
        (rec,) = self.standin.requests()
        self.assertTrue(rec.signature_ok)
        self.assertEqual(rec.action, "RerunTriggerWorkflowRunAsync")
        self.assertEqual(rec.method, "POST")
        self.assertEqual(rec.path, "/")
        self.assertEqual(rec.execution_id, exec_id)
        self.assertEqual(rec.async_id, async_id)
        self.assertEqual(rec.request_id, resp["RequestId"])
        self.assertEqual(rec.status, 200)
        self.assertEqual(rec.body["TaskIds"], ["t1", "t2"])
        self.assertEqual(rec.header("host"), "127.0.0.1:%d" % self.standin.port)
        self.assertIn("x-tc-timestamp", rec.header_names())
        self.assertEqual(rec.raw_body, json.dumps(rec.body, separators=(",", ":")).encode())
        run = self.standin.get_run(exec_id)
        self.assertEqual((run.state, run.rerun_times), ("RUNNING", 1))
        self.assertEqual(run.reruns[0]["AsyncId"], async_id)
        self.assertEqual(self.standin.count_by_action(), {"RerunTriggerWorkflowRunAsync": 1})

        # The async job and the run can be read back.
        status, _, data = self.call("GetOpsAsyncJob", {"ProjectId": PROJECT,
                                                       "AsyncId": async_id})
        job = json.loads(data)["Response"]["Data"]
        self.assertEqual((job["AsyncId"], job["Status"]), (async_id, "SUCCESS"))
        status, _, data = self.call("GetTriggerWorkflowRun",
                                    {"ProjectId": PROJECT, "WorkflowExecutionId": exec_id})
        brief = json.loads(data)["Response"]["Data"]["TriggerWorkflowRun"]
        self.assertEqual((brief["ExecutionState"], brief["RerunTimes"]), ("RUNNING", 1))
        status, _, data = self.call("ListTriggerWorkflowRuns", {
            "ProjectId": PROJECT, "Filters": [{"Name": "ExecutionId", "Values": [exec_id]}]})
        listing = json.loads(data)["Response"]["Data"]
        self.assertEqual(listing["TotalCount"], 1)
        self.assertEqual(listing["Items"][0]["ExecutionId"], exec_id)
        self.assertEqual(self.standin.count(), 4)
        self.assertEqual(self.standin.count("GetOpsAsyncJob"), 1)

    def test_rerun_twice_increments(self):
        exec_id = "run-" + uuid.uuid4().hex
        self.standin.add_run(PROJECT, WORKFLOW, exec_id, rerun_times=2)
        self.rerun(exec_id)
        self.rerun(exec_id)
        self.assertEqual(self.standin.get_run(exec_id).rerun_times, 4)

    def test_clock_skew(self):
        """A server clock 10 minutes ahead: a request signed with the real
        time is SignatureExpire, the Date header shows the server's time,
        and a request signed with that time is accepted."""
        import email.utils
        self.standin.set_clock_skew(600)
        try:
            self.assertEqual(self.error_code(self.rerun()), "AuthFailure.SignatureExpire")
            server = email.utils.parsedate_to_datetime(self.last_date).timestamp()
            self.assertAlmostEqual(server - time.time(), 600, delta=3)
            params = {"ProjectId": PROJECT, "WorkflowId": WORKFLOW,
                      "WorkflowExecutionId": str(uuid.uuid4()), "ExecuteType": "1"}
            status, _, data = self.call("RerunTriggerWorkflowRunAsync", params,
                                        timestamp=int(server))
            self.assertIn("AsyncId", data.decode())
        finally:
            self.standin.set_clock_skew(0)
        self.rerun()
        server = email.utils.parsedate_to_datetime(self.last_date).timestamp()
        self.assertAlmostEqual(server, time.time(), delta=3)

    def test_auth_errors(self):
        self.assertEqual(self.error_code(self.call("RerunTriggerWorkflowRunAsync", {},
                                                   secret_key="wrong")),
                         "AuthFailure.SignatureFailure")
        self.assertEqual(self.error_code(self.call("RerunTriggerWorkflowRunAsync", {},
                                                   timestamp=int(time.time()) - 400)),
                         "AuthFailure.SignatureExpire")
        self.assertEqual(self.error_code(self.call("RerunTriggerWorkflowRunAsync", {},
                                                   secret_id="AKIDunknown")),
                         "AuthFailure.SecretIdNotFound")
        # Signed for "127.0.0.1" (no port) but sent with Host 127.0.0.1:PORT.
        self.assertEqual(self.error_code(self.call("RerunTriggerWorkflowRunAsync", {},
                                                   host="127.0.0.1",
                                                   send_host="127.0.0.1:%d"
                                                   % self.standin.port)),
                         "AuthFailure.SignatureFailure")
        recs = self.standin.requests()
        self.assertEqual([r.signature_ok for r in recs], [False] * 4)
        self.assertEqual(recs[0].auth_code, "AuthFailure.SignatureFailure")

    def test_temporary_credentials(self):
        body = {"ProjectId": PROJECT, "WorkflowId": WORKFLOW,
                "WorkflowExecutionId": "tmp-1", "ExecuteType": "1"}
        ok = self.call("RerunTriggerWorkflowRunAsync", body, secret_id="AKIDtemporary",
                       secret_key="tmpkey", token="tok-1")
        self.assertIsNone(self.error_code(ok))
        self.assertEqual(self.error_code(self.call(
            "RerunTriggerWorkflowRunAsync", body, secret_id="AKIDtemporary",
            secret_key="tmpkey")), "AuthFailure.TokenFailure")

    def test_expiring_credentials(self):
        """Valid until expires_at, then AuthFailure.TokenFailure (recorded
        and listed by auth_failures()); a wrong token is refused too."""
        body = {"ProjectId": PROJECT, "WorkflowId": WORKFLOW,
                "WorkflowExecutionId": "tmp-exp", "ExecuteType": "1"}
        sid = "AKIDexpiring" + uuid.uuid4().hex
        cred = self.standin.add_credential(sid, "expkey", "exp-tok",
                                           expires_at=time.time() + 1.0)
        self.assertIsInstance(cred.expires_at, float)
        ok = self.call("RerunTriggerWorkflowRunAsync", body, secret_id=sid,
                       secret_key="expkey", token="exp-tok")
        self.assertIsNone(self.error_code(ok))
        self.assertEqual(self.standin.auth_failures(), [])
        self.assertEqual(self.error_code(self.call(
            "RerunTriggerWorkflowRunAsync", body, secret_id=sid, secret_key="expkey",
            token="forged")), "AuthFailure.TokenFailure")
        time.sleep(max(0.0, cred.expires_at - time.time()) + 0.05)
        status, _, data = self.call("RerunTriggerWorkflowRunAsync", body, secret_id=sid,
                                    secret_key="expkey", token="exp-tok")
        error = json.loads(data)["Response"]["Error"]
        self.assertEqual(error["Code"], "AuthFailure.TokenFailure")
        self.assertIn("expired", error["Message"])
        ok_rec, forged, expired = self.standin.requests()
        self.assertTrue(ok_rec.signature_ok)
        self.assertIsNone(ok_rec.auth_code)
        self.assertEqual((forged.signature_ok, forged.auth_code),
                         (False, "AuthFailure.TokenFailure"))
        self.assertNotIn("expired", forged.auth_message)
        self.assertEqual((expired.signature_ok, expired.auth_code),
                         (False, "AuthFailure.TokenFailure"))
        self.assertIn("expired", expired.auth_message)
        self.assertGreaterEqual(expired.received_at, cred.expires_at)
        self.assertEqual(self.standin.auth_failures(), [forged, expired])
        self.assertEqual([r.secret_id for r in (ok_rec, forged, expired)], [sid] * 3)
        self.assertEqual(self.standin.auth_failures("AuthFailure.TokenFailure"),
                         [forged, expired])
        self.assertEqual(self.standin.auth_failures("AuthFailure.SignatureFailure"), [])
        # The refusal changed nothing: only the first rerun counted.
        self.assertEqual(self.standin.get_run("tmp-exp").rerun_times, 1)

    def test_expiry_follows_server_clock(self):
        """expires_at is compared with the server's clock (set_clock_skew),
        the clock the metadata service shares with it."""
        sid = "AKIDskewed" + uuid.uuid4().hex
        self.standin.add_credential(sid, "skewkey", "skew-tok", time.time() + 100)
        body = {"ProjectId": PROJECT, "WorkflowId": WORKFLOW,
                "WorkflowExecutionId": "tmp-skew", "ExecuteType": "1"}
        self.standin.set_clock_skew(200)
        try:
            code = self.error_code(self.call("RerunTriggerWorkflowRunAsync", body,
                                             secret_id=sid, secret_key="skewkey",
                                             token="skew-tok",
                                             timestamp=int(time.time() + 200)))
        finally:
            self.standin.set_clock_skew(0)
        self.assertEqual(code, "AuthFailure.TokenFailure")
        self.assertIsNone(self.error_code(self.call(
            "RerunTriggerWorkflowRunAsync", body, secret_id=sid, secret_key="skewkey",
            token="skew-tok")))

    def test_auth_failures_lists_every_kind(self):
        self.rerun()
        self.call("RerunTriggerWorkflowRunAsync", {}, secret_key="wrong")
        self.call("RerunTriggerWorkflowRunAsync", {}, secret_id="AKIDunknown")
        self.call("RerunTriggerWorkflowRunAsync", {}, drop=("Authorization",))
        self.call("RerunTriggerWorkflowRunAsync", {}, drop=("X-TC-Timestamp",))
        # An error answer to a request with a good signature is no auth
        # failure (the shared stand-in's rate-limit counter is left alone:
        # test_rate_limit counts it).
        self.standin.script(ws.error("FailedOperation"))
        self.assertEqual(self.error_code(self.rerun()), "FailedOperation")
        recs = self.standin.requests()
        self.assertEqual(len(recs), 6)
        self.assertEqual(self.standin.auth_failures(), recs[1:5])
        self.assertEqual([r.auth_code for r in self.standin.auth_failures()],
                         ["AuthFailure.SignatureFailure", "AuthFailure.SecretIdNotFound",
                          None, None])
        self.assertEqual(self.standin.auth_failures("MissingParameter"), recs[3:5])

    def test_api_errors(self):
        self.assertEqual(self.error_code(self.call("RerunTriggerWorkflowRun", {})),
                         "InvalidAction")
        self.assertEqual(self.error_code(self.call(
            "RerunTriggerWorkflowRunAsync", {}, extra_headers={"X-TC-Version": "2018-01-01"})),
            "NoSuchVersion")
        self.assertEqual(self.error_code(self.call(
            "RerunTriggerWorkflowRunAsync", {}, drop=("X-TC-Region",))), "MissingParameter")
        self.assertEqual(self.error_code(self.rerun(ProjectId=None)), "MissingParameter")
        self.assertEqual(self.error_code(self.rerun(ExecuteType="3")), "InvalidParameter")
        self.assertEqual(self.error_code(self.rerun(ExecuteType=2)), "InvalidParameter")
        self.assertEqual(self.error_code(self.rerun(TaskIds="t1")), "InvalidParameter")
        self.assertEqual(self.error_code(self.rerun(AdvancedParams=[{"ParamKey": "a"}])),
                         "InvalidParameter")
        self.assertEqual(self.error_code(self.rerun(Bogus="x")), "UnknownParameter")
        self.assertEqual(self.error_code(self.call(
            "RerunTriggerWorkflowRunAsync", None, raw_body=b"{not json")), "InvalidParameter")
        exec_id = "run-" + uuid.uuid4().hex
        self.standin.add_run(PROJECT, WORKFLOW, exec_id, support_rerun=False)
        self.assertEqual(self.error_code(self.rerun(exec_id)), "FailedOperation")
        self.assertEqual(self.error_code(self.rerun(exec_id, WorkflowId="other")),
                         "ResourceNotFound")
        self.assertEqual(self.error_code(self.call(
            "GetOpsAsyncJob", {"ProjectId": PROJECT, "AsyncId": "nope"})), "ResourceNotFound")

    def test_auto_create_switch(self):
        self.standin.auto_create_runs = False
        try:
            self.assertEqual(self.error_code(self.rerun("unknown-run")), "ResourceNotFound")
            self.assertIsNone(self.standin.get_run("unknown-run"))
        finally:
            self.standin.auto_create_runs = True
        self.assertIsNone(self.error_code(self.rerun("unknown-run")))
        self.assertEqual(self.standin.get_run("unknown-run").state, "RUNNING")

    def test_scripted_answers(self):
        self.standin.script(ws.error("InvalidParameter", "scripted message"),
                            ws.http_status(500), ws.garbage(), ws.huge(),
                            execution_id="s-1")
        self.standin.script(ws.http_status(503))        # default queue
        data = json.loads(self.rerun("s-1")[2])["Response"]
        self.assertEqual(data["Error"], {"Code": "InvalidParameter",
                                         "Message": "scripted message"})
        self.assertEqual(self.rerun("s-1")[0], 500)
        status, ctype, body = self.rerun("s-1")
        self.assertEqual((status, ctype), (200, "text/html"))
        with self.assertRaises(ValueError):
            json.loads(body)
        status, _, body = self.rerun("s-1")
        self.assertEqual(status, 200)
        self.assertGreater(len(body), 1024 * 1024)
        self.assertIn("AsyncId", json.loads(body)["Response"]["Data"])
        self.assertEqual(self.rerun("s-1")[0], 503)      # s-1 queue empty: default
        self.assertIsNone(self.error_code(self.rerun("s-1")))   # both empty: normal
        recs = self.standin.requests()
        self.assertEqual([r.answer for r in recs],
                         ["error(InvalidParameter)", "http_status(500)", "garbage", "huge",
                          "http_status(503)", "default"])
        self.assertTrue(all(r.signature_ok for r in recs))

    def test_scripted_error_does_not_hide_auth_failure(self):
        self.standin.script(ws.error("InvalidParameter"))
        result = self.call("RerunTriggerWorkflowRunAsync", {}, secret_key="wrong")
        self.assertEqual(self.error_code(result), "AuthFailure.SignatureFailure")

    def test_scripted_delay_and_close(self):
        self.standin.script(ws.delay(0.6), ws.close(), execution_id="d-1")
        start = time.monotonic()
        self.assertIsNone(self.error_code(self.rerun("d-1")))
        self.assertGreaterEqual(time.monotonic() - start, 0.6)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError,
                                ssl.SSLError)):
            self.rerun("d-1")
        recs = self.standin.wait_for_requests(2, answered=True)
        self.assertIsNone(recs[1].status)
        self.assertEqual(recs[1].answer, "close")
        self.assertEqual(self.standin.get_run("d-1").rerun_times, 1)

    def test_scripted_truncated_answer(self):
        """truncated: a success answer announced whole and cut half-way;
        the rerun was carried out."""
        self.standin.script(ws.truncated(), execution_id="t-1")
        with self.assertRaises(http.client.IncompleteRead):
            self.rerun("t-1")
        (rec,) = self.standin.wait_for_requests(1, answered=True)
        self.assertEqual((rec.status, rec.answer), (200, "truncated"))
        self.assertEqual(self.standin.get_run("t-1").rerun_times, 1)
        self.assertEqual(ws.parse_answer_spec("truncated").kind, "truncated")

    def test_action_filter_in_script(self):
        self.standin.script(ws.error("InternalError"), action="GetOpsAsyncJob")
        self.assertIsNone(self.error_code(self.rerun("a-1")))
        self.assertEqual(self.error_code(self.call(
            "GetOpsAsyncJob", {"ProjectId": PROJECT, "AsyncId": "x"})), "InternalError")

    def test_answer_spec_parser(self):
        self.assertEqual(ws.parse_answer_spec("error:FailedOperation:no way").message, "no way")
        self.assertEqual(ws.parse_answer_spec("delay:2.5").delay, 2.5)
        inner = ws.parse_answer_spec("delay:1:http:502")
        self.assertEqual((inner.kind, inner.status, inner.delay), ("http_status", 502, 1.0))
        self.assertEqual(ws.parse_answer_spec("close").kind, "close")
        with self.assertRaises(ValueError):
            ws.parse_answer_spec("bogus")

    def test_wait_for_requests_timeout(self):
        with self.assertRaises(TimeoutError):
            self.standin.wait_for_requests(1, timeout=0.2)

    def rerun_in_background(self, exec_id, timeout=10):
        """Starts a rerun call in a thread; returns (thread, outcome dict)."""
        outcome = {}

        def run():
            try:
                outcome["result"] = self.call(
                    "RerunTriggerWorkflowRunAsync",
                    {"ProjectId": PROJECT, "WorkflowId": WORKFLOW,
                     "WorkflowExecutionId": exec_id, "ExecuteType": "1"}, timeout=timeout)
            except Exception as exc:  # reported by the test
                outcome["error"] = exc
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread, outcome

    def test_rerun_applied_on_receipt_before_delay(self):
        exec_id = "recv-" + uuid.uuid4().hex
        self.standin.script(ws.delay(1.5), execution_id=exec_id)
        thread, outcome = self.rerun_in_background(exec_id)
        (rec,) = self.standin.wait_for_requests(1, timeout=5)
        # Received, not answered, and already counted (the record is
        # listed a moment before the action has run: wait for it).
        deadline = time.monotonic() + 1.0
        while not rec.applied and time.monotonic() < deadline:
            time.sleep(0.005)
        run = self.standin.get_run(exec_id)
        self.assertFalse(rec.done.is_set())
        self.assertEqual((run.state, run.rerun_times), ("RUNNING", 1))
        self.assertTrue(rec.applied)
        thread.join(10)
        self.assertIsNone(self.error_code(outcome["result"]))
        self.assertGreaterEqual(rec.answered_at - rec.received_at, 1.5)
        self.assertEqual(rec.status, 200)
        self.assertFalse(rec.client_gone)

    def test_delayed_answer_not_sent_when_client_left(self):
        exec_id = "gone-" + uuid.uuid4().hex
        self.standin.script(ws.delay(8), execution_id=exec_id)
        thread, outcome = self.rerun_in_background(exec_id, timeout=0.5)
        thread.join(5)
        self.assertIsInstance(outcome.get("error"), (socket.timeout, TimeoutError, OSError))
        (rec,) = self.standin.wait_for_requests(1, answered=True, timeout=5)
        self.assertTrue(rec.client_gone)
        self.assertIsNone(rec.status)
        self.assertLess(rec.answered_at - rec.received_at, 4.0)
        self.assertEqual(self.standin.get_run(exec_id).rerun_times, 1)

    def test_scripted_failures_and_applied_switch(self):
        cases = [(ws.http_status(500), 500, False), (ws.http_status(502, applied=True), 502, True),
                 (ws.garbage(), 200, False), (ws.garbage(applied=True), 200, True),
                 (ws.error("InternalError"), 200, False),
                 (ws.error("InternalError", applied=True), 200, True)]
        for answer, status, applied in cases:
            with self.subTest(answer.describe()):
                exec_id = "amb-" + uuid.uuid4().hex
                self.standin.script(answer, execution_id=exec_id)
                self.assertEqual(self.rerun(exec_id)[0], status)
                run = self.standin.get_run(exec_id)
                self.assertIsNotNone(run, "the run exists even if not rerun")
                self.assertEqual((run.state, run.rerun_times),
                                 ("RUNNING", 1) if applied else ("FAILED", 0))
                self.assertEqual(self.standin.requests()[-1].applied, applied)
        for applied in (False, True):
            exec_id = "cls-" + uuid.uuid4().hex
            self.standin.script(ws.close(applied=applied), execution_id=exec_id)
            with self.assertRaises((http.client.RemoteDisconnected, ConnectionError,
                                    ssl.SSLError)):
                self.rerun(exec_id)
            self.standin.wait_for_requests(1, answered=True, timeout=5)
            self.assertEqual(self.standin.get_run(exec_id).rerun_times, 1 if applied else 0)

    def test_get_trigger_workflow_run_shape_and_script(self):
        exec_id = "get-" + uuid.uuid4().hex
        self.standin.add_run(PROJECT, WORKFLOW, exec_id, state="FAILED", rerun_times=2)
        self.standin.script(ws.error("InternalError"), execution_id=exec_id,
                            action="GetTriggerWorkflowRun")
        params = {"ProjectId": PROJECT, "WorkflowExecutionId": exec_id}
        self.assertEqual(self.error_code(self.call("GetTriggerWorkflowRun", params)),
                         "InternalError")
        self.assertIsNone(self.error_code(self.rerun(exec_id)))   # not taken by the rerun
        status, _, data = self.call("GetTriggerWorkflowRun", params)
        resp = json.loads(data)["Response"]
        uuid.UUID(resp["RequestId"])
        self.assertEqual(resp["Data"]["TriggerTaskRuns"], [])
        brief = resp["Data"]["TriggerWorkflowRun"]
        self.assertEqual((brief["ExecutionId"], brief["ExecutionState"], brief["RerunTimes"],
                          brief["SupportRerun"], brief["WorkflowId"]),
                         (exec_id, "RUNNING", 3, True, WORKFLOW))
        self.standin.update_run(exec_id, state="FAILED")
        brief = json.loads(self.call("GetTriggerWorkflowRun", params)[2])[
            "Response"]["Data"]["TriggerWorkflowRun"]
        self.assertEqual((brief["ExecutionState"], brief["RerunTimes"]), ("FAILED", 3))
        self.standin.update_run(exec_id, rerun_times=0, support_rerun=False)
        run = self.standin.get_run(exec_id)
        self.assertEqual((run.state, run.rerun_times, run.support_rerun), ("FAILED", 0, False))
        # A run nobody told it about is FAILED (auto_create_runs), unless
        # unknown runs are switched off; another project's never is.
        self.assertEqual(self.error_code(self.call(
            "GetTriggerWorkflowRun", {"ProjectId": "other", "WorkflowExecutionId": exec_id})),
            "ResourceNotFound")
        brief = self.get_run_data("new-run")["TriggerWorkflowRun"]
        self.assertEqual((brief["ExecutionState"], brief["RerunTimes"]), ("FAILED", 0))
        self.standin.auto_create_runs = False
        self.assertEqual(self.error_code(self.call(
            "GetTriggerWorkflowRun", {"ProjectId": PROJECT, "WorkflowExecutionId": "nope"})),
            "ResourceNotFound")
        self.standin.auto_create_runs = True

    def get_run_data(self, exec_id):
        status, _, data = self.call("GetTriggerWorkflowRun",
                                    {"ProjectId": PROJECT, "WorkflowExecutionId": exec_id})
        self.assertEqual(status, 200)
        resp = json.loads(data)["Response"]
        self.assertNotIn("Error", resp)
        return resp["Data"]

    def test_task_runs_answered_in_order(self):
        """tasks given to add_run come back as Data.TriggerTaskRuns, in
        their order, duplicates kept, next to an unchanged TriggerWorkflowRun."""
        exec_id = "tasks-" + uuid.uuid4().hex
        tasks = [{"TaskId": "t1", "ExecutionState": "SUCCESS"},
                 {"TaskId": "t2", "ExecutionState": "FAILED", "TaskName": "load"},
                 ("t3", "PENDING"), ("t4", "SKIP"),
                 {"TaskId": "t2", "ExecutionState": "FAILED", "IsLatestExecution": False}]
        self.standin.add_run(PROJECT, WORKFLOW, exec_id, state="FAILED", rerun_times=1,
                             tasks=tasks)
        data = self.get_run_data(exec_id)
        brief = data["TriggerWorkflowRun"]
        self.assertEqual((brief["ExecutionId"], brief["ExecutionState"], brief["RerunTimes"],
                          brief["SupportRerun"]), (exec_id, "FAILED", 1, True))
        items = data["TriggerTaskRuns"]
        self.assertEqual([(t["TaskId"], t["ExecutionState"]) for t in items],
                         [("t1", "SUCCESS"), ("t2", "FAILED"), ("t3", "PENDING"),
                          ("t4", "SKIP"), ("t2", "FAILED")])
        self.assertEqual([t["TaskName"] for t in items],
                         ["task-t1", "load", "task-t3", "task-t4", "task-t2"])
        self.assertEqual([t["IsLatestExecution"] for t in items], [True] * 4 + [False])
        for item in items:
            self.assertEqual((item["WorkflowExecutionId"], item["WorkflowId"],
                              item["TaskExecutionState"]),
                             (exec_id, WORKFLOW, item["ExecutionState"]))
        self.assertEqual(len(set(t["ExecutionId"] for t in items)), 5)
        # The caller's list is copied, not kept.
        tasks[0]["ExecutionState"] = "FAILED"
        self.assertEqual(self.get_run_data(exec_id)["TriggerTaskRuns"][0]["ExecutionState"],
                         "SUCCESS")

    def test_update_run_tasks_and_rerun_side_effect(self):
        exec_id = "tasks-" + uuid.uuid4().hex
        self.standin.add_run(PROJECT, WORKFLOW, exec_id, tasks=[("a", "SUCCESS"),
                                                                 ("b", "FAILED")])
        # update_run without tasks leaves them; tasks= replaces them all.
        self.standin.update_run(exec_id, rerun_times=2)
        self.assertEqual(len(self.get_run_data(exec_id)["TriggerTaskRuns"]), 2)
        self.standin.update_run(exec_id, tasks=[("a", "SUCCESS"), ("b", "FAILED"),
                                                ("c", "FAILED")])

        def states():
            return [(t["TaskId"], t["ExecutionState"])
                    for t in self.get_run_data(exec_id)["TriggerTaskRuns"]]

        self.assertEqual(states(), [("a", "SUCCESS"), ("b", "FAILED"), ("c", "FAILED")])
        # An advanced rerun of b restarts b only; a normal one restarts all.
        self.assertIsNone(self.error_code(self.rerun(exec_id, ExecuteType="2",
                                                     TaskIds=["b"])))
        self.assertEqual(states(), [("a", "SUCCESS"), ("b", "RUNNING"), ("c", "FAILED")])
        self.standin.update_run(exec_id, state="FAILED")
        self.assertIsNone(self.error_code(self.rerun(exec_id)))
        self.assertEqual(states(), [("a", "RUNNING"), ("b", "RUNNING"), ("c", "RUNNING")])
        run = self.standin.get_run(exec_id)
        self.assertEqual((run.state, run.rerun_times), ("RUNNING", 4))
        self.standin.update_run(exec_id, tasks=[])
        self.assertEqual(self.get_run_data(exec_id)["TriggerTaskRuns"], [])
        self.assertEqual(run.as_dict()["TriggerTaskRuns"], [])
        for bad in ([{"TaskId": "x"}], [("x",)], [{"ExecutionState": "FAILED"}], ["x"],
                    [(7, "FAILED")]):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                self.standin.update_run(exec_id, tasks=bad)
        with self.assertRaises(ValueError):
            self.standin.add_run(PROJECT, WORKFLOW, "bad-tasks", tasks=[("x", 1)])
        # Nullable fields: given as None, answered as null.
        self.standin.update_run(exec_id, tasks=[(None, "FAILED"), ("y", None)])
        items = self.get_run_data(exec_id)["TriggerTaskRuns"]
        self.assertEqual([(t["TaskId"], t["ExecutionState"]) for t in items],
                         [(None, "FAILED"), ("y", None)])

    def test_load_runs_with_task_runs(self):
        exec_id = "tasks-" + uuid.uuid4().hex
        self.standin.load_runs([{"ProjectId": PROJECT, "WorkflowId": WORKFLOW,
                                 "ExecutionId": exec_id, "ExecutionState": "FAILED",
                                 "TriggerTaskRuns": [{"TaskId": "x", "ExecutionState": "SKIP",
                                                      "TaskName": "extract"}]}])
        (item,) = self.get_run_data(exec_id)["TriggerTaskRuns"]
        self.assertEqual((item["TaskId"], item["TaskName"], item["ExecutionState"]),
                         ("x", "extract", "SKIP"))

    LIST = "ListTriggerWorkflowRuns"

    def list_runs(self, params):
        """Data of a ListTriggerWorkflowRuns call that must succeed."""
        status, _, data = self.call(self.LIST, params)
        self.assertEqual(status, 200)
        resp = json.loads(data)["Response"]
        self.assertNotIn("Error", resp)
        uuid.UUID(resp["RequestId"])
        return resp["Data"]

    def new_project(self):
        """A ProjectId of its own, so that runs of other tests stay out."""
        return str(1460947878944567296 + uuid.uuid4().int % 10 ** 12)

    def test_run_create_time(self):
        project = self.new_project()
        before = int(time.time() * 1000)
        run = self.standin.add_run(project, WORKFLOW, "ct-now-" + uuid.uuid4().hex)
        self.assertTrue(before <= run.create_time_ms <= int(time.time() * 1000) + 1)
        self.assertEqual(run.brief()["CreateTime"], str(run.create_time_ms))
        run = self.standin.add_run(project, WORKFLOW, "ct-s-" + uuid.uuid4().hex,
                                   create_time=1766578800.035)
        self.assertEqual(run.brief()["CreateTime"], "1766578800035")
        run = self.standin.add_run(project, WORKFLOW, "ct-ms-" + uuid.uuid4().hex,
                                   create_time_ms="1766578800036")
        self.assertEqual(run.create_time_ms, 1766578800036)
        self.standin.update_run(run.execution_id, create_time=1700000000)
        self.assertEqual(run.brief()["CreateTime"], "1700000000000")
        self.standin.update_run(run.execution_id, create_time_ms=1700000000001)
        self.assertEqual(run.create_time_ms, 1700000000001)
        for bad in (dict(create_time=1, create_time_ms=1), dict(create_time="1"),
                    dict(create_time=-1), dict(create_time=True), dict(create_time_ms="1.5"),
                    dict(create_time_ms=1.5), dict(create_time_ms="")):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                self.standin.add_run(project, WORKFLOW, "ct-bad", **bad)
        self.assertIsNone(self.standin.get_run("ct-bad"))
        exec_id = "ct-load-" + uuid.uuid4().hex
        self.standin.load_runs([{"ProjectId": project, "WorkflowId": WORKFLOW,
                                 "ExecutionId": exec_id, "CreateTime": "1766578800037"}])
        self.assertEqual(self.standin.get_run(exec_id).create_time_ms, 1766578800037)
        # A rerun changes the state and RerunTimes, not the CreateTime.
        self.assertIsNone(self.error_code(self.rerun(exec_id, ProjectId=project)))
        brief = self.standin.get_run(exec_id).brief()
        self.assertEqual((brief["CreateTime"], brief["ExecutionState"], brief["RerunTimes"]),
                         ("1766578800037", "RUNNING", 1))

    def test_list_runs_order_paging_and_filters(self):
        project, other_project = self.new_project(), self.new_project()
        wf_a, wf_b, wf_c = (str(uuid.uuid4()) for _ in range(3))
        base = 1766578800.0
        # Added out of time order: 7 runs of wf_a, 3 of wf_b, 2 of wf_c.
        spec = [(wf_a, 5, "FAILED"), (wf_b, 1, "SUCCESS"), (wf_a, 9, "RUNNING"),
                (wf_a, 2, "FAILED"), (wf_c, 7, "QUEUED"), (wf_b, 8, "FAILED"),
                (wf_a, 0, "PENDING"), (wf_a, 11, "WEIRD"), (wf_b, 3, "FAILED"),
                (wf_a, 4, "SUCCESS"), (wf_c, 6, "FAILED"), (wf_a, 10, "FAILED")]
        ids = {}
        for n, (wf, minute, state) in enumerate(spec):
            exec_id = "list-%02d-%s" % (n, uuid.uuid4().hex[:8])
            ids[exec_id] = (wf, minute)
            self.standin.add_run(project, wf, exec_id, state=state, rerun_times=n % 3,
                                 support_rerun=n != 3, create_time=base + minute * 60)
        # Same workflow, another project: never listed with `project`.
        self.standin.add_run(other_project, wf_a, "list-other-" + uuid.uuid4().hex,
                             create_time=base + 30 * 60)

        def newest_first(*wfs):
            return sorted((e for e, (wf, _) in ids.items() if wf in wfs),
                          key=lambda e: -ids[e][1])

        desc = [{"Name": "CreateTime", "Direction": "DESC"}]
        both = [{"Name": "WorkflowId", "Values": [wf_b, wf_a]}]
        pages = []
        for page in (1, 2, 3, 4):
            data = self.list_runs({"ProjectId": project, "Filters": both, "OrderFields": desc,
                                   "PageNumber": page, "PageSize": 3})
            self.assertEqual((data["TotalCount"], data["TotalPageNumber"], data["PageNumber"],
                              data["PageSize"]), (10, 4, page, 3))
            pages.append([item["ExecutionId"] for item in data["Items"]])
        self.assertEqual([len(p) for p in pages], [3, 3, 3, 1])
        self.assertEqual(sum(pages, []), newest_first(wf_a, wf_b))
        # Items carry CreateTime as epoch-ms strings, RerunTimes, SupportRerun.
        data = self.list_runs({"ProjectId": project, "Filters": both, "OrderFields": desc,
                               "PageNumber": 1, "PageSize": 100})
        times = [item["CreateTime"] for item in data["Items"]]
        self.assertTrue(all(isinstance(t, str) and t.isdigit() for t in times), times)
        self.assertEqual(times, sorted(times, key=int, reverse=True))
        self.assertEqual(times[0], str(int((base + 11 * 60) * 1000)))
        for item in data["Items"]:
            run = self.standin.get_run(item["ExecutionId"])
            self.assertEqual((item["WorkflowId"], item["ExecutionState"], item["RerunTimes"],
                              item["SupportRerun"], item["ProjectId"]),
                             (run.workflow_id, run.state, run.rerun_times, run.support_rerun,
                              project))
        self.assertEqual(data["TotalPageNumber"], 1)
        # ASC is the reverse; a page past the end is empty.
        data = self.list_runs({"ProjectId": project, "Filters": both,
                               "OrderFields": [{"Name": "CreateTime", "Direction": "ASC"}],
                               "PageNumber": 1, "PageSize": 100})
        self.assertEqual([i["ExecutionId"] for i in data["Items"]],
                         list(reversed(newest_first(wf_a, wf_b))))
        data = self.list_runs({"ProjectId": project, "Filters": both, "OrderFields": desc,
                               "PageNumber": 5, "PageSize": 3})
        self.assertEqual((data["Items"], data["TotalCount"], data["TotalPageNumber"]),
                         ([], 10, 4))
        # One WorkflowId; several filters all apply; no filter: the project.
        data = self.list_runs({"ProjectId": project, "OrderFields": desc, "PageSize": 100,
                               "Filters": [{"Name": "WorkflowId", "Values": [wf_c]}]})
        self.assertEqual([i["ExecutionId"] for i in data["Items"]], newest_first(wf_c))
        some = newest_first(wf_b)[0]
        data = self.list_runs({"ProjectId": project, "Filters": both + [
            {"Name": "ExecutionId", "Values": [some, newest_first(wf_c)[0]]}]})
        self.assertEqual([i["ExecutionId"] for i in data["Items"]], [some])
        data = self.list_runs({"ProjectId": project, "PageSize": 100})
        self.assertEqual(data["TotalCount"], 12)
        # Without OrderFields: the order the runs were added in.
        self.assertEqual([i["ExecutionId"] for i in data["Items"]], list(ids))
        data = self.list_runs({"ProjectId": project})
        self.assertEqual((len(data["Items"]), data["PageSize"], data["TotalPageNumber"]),
                         (10, 10, 2))
        data = self.list_runs({"ProjectId": other_project, "Filters": both})
        self.assertEqual(data["TotalCount"], 1)

        # Counted per project, with what was asked and answered.
        self.assertEqual(self.standin.list_calls(project), 11)
        self.assertEqual(self.standin.list_calls(other_project), 1)
        self.assertEqual(self.standin.list_calls(), 12)
        self.assertEqual(self.standin.list_calls_by_project(),
                         {project: 11, other_project: 1})
        log = self.standin.list_call_log(project)
        self.assertEqual([c["PageNumber"] for c in log[:4]], [1, 2, 3, 4])
        self.assertEqual(log[0]["Filters"], both)
        self.assertEqual(log[0]["OrderFields"], desc)
        self.assertEqual((log[0]["PageSize"], log[0]["TotalCount"], log[0]["TotalPageNumber"]),
                         (3, 10, 4))
        self.assertEqual(log[3]["ExecutionIds"], pages[3])
        recs = self.standin.requests(self.LIST)
        self.assertEqual([c["seq"] for c in self.standin.list_call_log()],
                         [r.seq for r in recs])
        self.assertLess(log[0]["received_at"], log[1]["received_at"])
        self.standin.clear_requests()
        self.assertEqual((self.standin.list_calls(), self.standin.list_call_log()), (0, []))

    def test_list_runs_parameter_errors(self):
        project = self.new_project()
        self.standin.add_run(project, WORKFLOW, "lerr-" + uuid.uuid4().hex)
        ok = {"ProjectId": project, "PageNumber": 1, "PageSize": 100,
              "Filters": [{"Name": "WorkflowId", "Values": [WORKFLOW]}],
              "OrderFields": [{"Name": "CreateTime", "Direction": "DESC"}]}
        self.assertEqual(self.list_runs(ok)["TotalCount"], 1)
        cases = [("PageSize", 101, "InvalidParameterValue"),
                 ("PageSize", 0, "InvalidParameterValue"),
                 ("PageNumber", 0, "InvalidParameterValue"),
                 ("PageSize", "100", "InvalidParameter"),
                 ("PageNumber", "1", "InvalidParameter"),
                 ("PageNumber", 1.0, "InvalidParameter"),
                 ("PageNumber", True, "InvalidParameter"),
                 ("ProjectId", 1460947878944567296, "InvalidParameter"),
                 ("Filters", {"Name": "WorkflowId", "Values": [WORKFLOW]}, "InvalidParameter"),
                 ("Filters", [{"Name": "WorkflowId", "Values": WORKFLOW}], "InvalidParameter"),
                 ("Filters", [{"Name": "WorkflowId", "Values": [1]}], "InvalidParameter"),
                 ("Filters", [{"Name": "ExecutionState", "Values": ["FAILED"]}],
                  "InvalidParameterValue"),
                 ("OrderFields", [{"Name": "CreateTime", "Direction": "desc"}],
                  "InvalidParameter"),
                 ("OrderFields", [{"Name": "CreateTime"}], "InvalidParameter"),
                 ("OrderFields", [{"Name": "Priority", "Direction": "ASC"}],
                  "InvalidParameterValue"),
                 ("Bogus", 1, "UnknownParameter")]
        for key, value, code in cases:
            with self.subTest(key=key, value=value):
                params = dict(ok)
                params[key] = value
                self.assertEqual(self.error_code(self.call(self.LIST, params)), code)
        missing = dict(ok)
        del missing["ProjectId"]
        self.assertEqual(self.error_code(self.call(self.LIST, missing)), "MissingParameter")
        # Only the calls carried out are counted; scripted answers apply.
        self.assertEqual(self.standin.list_calls(), 1)
        self.standin.set_default_answer(ws.error("InternalError"), action=self.LIST)
        self.assertEqual(self.error_code(self.call(self.LIST, ok)), "InternalError")
        self.assertIsNone(self.error_code(self.rerun()))       # other actions unaffected
        self.standin.set_default_answer(None, action=self.LIST)
        self.assertEqual(self.list_runs(ok)["TotalCount"], 1)
        self.assertEqual(self.standin.list_calls(project), 2)
        self.assertEqual(self.standin.count(self.LIST), len(cases) + 4)

    def test_default_answer(self):
        self.standin.set_default_answer(ws.error("InternalError"))
        self.standin.set_default_answer(ws.error("ResourceInUse"),
                                        action="GetTriggerWorkflowRun")
        self.standin.script(ws.ok(), execution_id="def-1")
        self.assertIsNone(self.error_code(self.rerun("def-1")))        # queue first
        for _ in range(2):
            self.assertEqual(self.error_code(self.rerun("def-1")), "InternalError")
        self.assertEqual(self.error_code(self.call(
            "GetTriggerWorkflowRun", {"ProjectId": PROJECT, "WorkflowExecutionId": "def-1"})),
            "ResourceInUse")
        self.standin.set_default_answer(None)
        self.assertIsNone(self.error_code(self.rerun("def-1")))
        self.standin.clear_scripts()
        self.assertIsNone(self.error_code(self.call(
            "GetTriggerWorkflowRun", {"ProjectId": PROJECT, "WorkflowExecutionId": "def-1"})))
        self.assertEqual(self.standin.get_run("def-1").rerun_times, 2)

    def test_rate_limit(self):
        self.standin.set_rate_limit(3)
        self.standin.script(ws.error("FailedOperation"), execution_id="rl-1")
        codes = [self.error_code(self.rerun("rl-1")) for _ in range(5)]
        # The first three take the bucket's tokens (and the script), the next
        # ones find it (nearly) empty: refill is 3/s, the calls take a few ms.
        self.assertEqual(codes[:3], ["FailedOperation", None, None])
        self.assertIn("RequestLimitExceeded", codes[3:])
        limited = [r for r in self.standin.requests() if r.rate_limited]
        self.assertEqual(len(limited), codes.count("RequestLimitExceeded"))
        self.assertEqual(self.standin.rate_limited_count(), len(limited))
        self.assertTrue(all(r.error_code == "RequestLimitExceeded" and r.signature_ok
                            and not r.applied for r in limited))
        self.assertEqual(self.standin.get_run("rl-1").rerun_times, 2)
        # Any action draws from the same bucket.
        self.standin.set_rate_limit(1)
        self.assertIsNone(self.error_code(self.call(
            "GetTriggerWorkflowRun", {"ProjectId": PROJECT, "WorkflowExecutionId": "rl-1"})))
        self.assertEqual(self.error_code(self.rerun("rl-1")), "RequestLimitExceeded")
        self.standin.set_rate_limit(None)
        self.assertIsNone(self.error_code(self.rerun("rl-1")))

    def test_keep_alive_answers_are_not_delayed(self):
        body = json.dumps({"ProjectId": PROJECT, "WorkflowExecutionId": "ka-1"}).encode()
        self.standin.add_run(PROJECT, WORKFLOW, "ka-1")
        host = "127.0.0.1:%d" % self.standin.port
        conn = http.client.HTTPSConnection("127.0.0.1", self.standin.port, context=self.ctx,
                                           timeout=5)
        try:
            conn.request("POST", "/", body=body, headers=ws.sign_request(
                SID, SKEY, host, body, "GetTriggerWorkflowRun"))
            conn.getresponse().read()        # the TLS handshake is not measured
            start = time.monotonic()
            for _ in range(20):
                conn.request("POST", "/", body=body, headers=ws.sign_request(
                    SID, SKEY, host, body, "GetTriggerWorkflowRun"))
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, 200)
            per_call = (time.monotonic() - start) / 20
        finally:
            conn.close()
        self.assertLess(per_call, 0.02, "%.1f ms per call" % (per_call * 1000))

    def test_new_answer_specs(self):
        spec = ws.parse_answer_spec("http:500:applied")
        self.assertEqual((spec.kind, spec.status, spec.applies()), ("http_status", 500, True))
        self.assertFalse(ws.parse_answer_spec("http:500").applies())
        self.assertTrue(ws.parse_answer_spec("close:applied").applies())
        self.assertTrue(ws.parse_answer_spec("delay:3:garbage:applied").applies())
        self.assertEqual(ws.parse_answer_spec("delay:3:garbage:applied").delay, 3.0)
        self.assertTrue(ws.parse_answer_spec("delay:1").applies())
        for bad in ("http:500:bogus", "http", "close:x", "huge:1"):
            with self.assertRaises(ValueError, msg=bad):
                ws.parse_answer_spec(bad)

    # -- TrackAsync support: async job plans, rerun outcomes, poll records --

    JOB = "GetOpsAsyncJob"
    GET = "GetTriggerWorkflowRun"

    def accepted_rerun(self, exec_id, **overrides):
        """Reruns exec_id, which must be accepted; returns the AsyncId."""
        status, _, data = self.rerun(exec_id, **overrides)
        self.assertEqual(status, 200)
        resp = json.loads(data)["Response"]
        self.assertNotIn("Error", resp)
        return resp["Data"]["AsyncId"]

    def poll(self, async_id, project=PROJECT):
        """Response of one GetOpsAsyncJob (Data or Error inside)."""
        status, _, data = self.call(self.JOB, {"ProjectId": project, "AsyncId": async_id})
        self.assertEqual(status, 200)
        return json.loads(data)["Response"]

    def poll_job(self, async_id):
        """(Status, ErrorDesc, Finished, Success) of a GetOpsAsyncJob that
        must succeed; ErrorDesc must be present (null or a string)."""
        resp = self.poll(async_id)
        self.assertNotIn("Error", resp)
        job = resp["Data"]
        self.assertIn("ErrorDesc", job)
        self.assertEqual((job["AsyncId"], job["TotalSubProcessCount"]), (async_id, 1))
        self.assertNotIn("WorkflowExecutionId", job)
        return (job["Status"], job["ErrorDesc"], job["FinishedSubProcessCount"],
                job["SuccessSubProcessCount"])

    def statuses(self, async_id, n):
        return [self.poll_job(async_id)[0] for _ in range(n)]

    def new_run(self, prefix, **extra):
        exec_id = "%s-%s" % (prefix, uuid.uuid4().hex)
        self.standin.add_run(PROJECT, WORKFLOW, exec_id, **extra)
        return exec_id

    def read_state(self, exec_id):
        """(ExecutionState, RerunTimes, [(TaskId, ExecutionState)]) read
        with GetTriggerWorkflowRun (which advances a scripted outcome)."""
        data = self.get_run_data(exec_id)
        brief = data["TriggerWorkflowRun"]
        return (brief["ExecutionState"], brief["RerunTimes"],
                [(t["TaskId"], t["ExecutionState"]) for t in data["TriggerTaskRuns"]])

    def listed_state(self, exec_id):
        (item,) = self.list_runs({"ProjectId": PROJECT, "Filters": [
            {"Name": "ExecutionId", "Values": [exec_id]}]})["Items"]
        return item["ExecutionState"]

    def test_set_async_job_status_error_desc_and_counts(self):
        async_id = self.accepted_rerun(self.new_run("job"))
        self.assertEqual(self.poll_job(async_id), ("SUCCESS", None, 1, 1))
        raw = self.call(self.JOB, {"ProjectId": PROJECT, "AsyncId": async_id})[2]
        self.assertIn(b'"ErrorDesc":null', raw)
        cases = [(("RUNNING",), ("RUNNING", None, 0, 0)),          # the old two-argument call
                 (("FAIL", "task t1 failed"), ("FAIL", "task t1 failed", 1, 0)),
                 (("PART_SUCCESS", "1 of 2"), ("PART_SUCCESS", "1 of 2", 1, 0)),
                 (("INIT",), ("INIT", None, 0, 0)),
                 (("FAIL",), ("FAIL", None, 1, 0)),
                 (("SUCCESS", None), ("SUCCESS", None, 1, 1))]
        for args, want in cases:
            with self.subTest(args=args):
                self.standin.set_async_job_status(async_id, *args)
                self.assertEqual(self.poll_job(async_id), want)
                job = self.standin.async_jobs()[async_id]
                self.assertEqual((job["Status"], job["ErrorDesc"]), want[:2])
        self.standin.set_async_job_status(async_id, status="FAIL", error_desc="x")
        self.assertEqual(self.poll_job(async_id), ("FAIL", "x", 1, 0))
        with self.assertRaises(KeyError):
            self.standin.set_async_job_status("no-such-job", "FAIL")

    def test_async_job_status_of_the_constructor(self):
        """Without a plan a new job has the constructor's async_job_status."""
        saved = self.standin.async_job_status
        try:
            self.standin.async_job_status = "RUNNING"
            async_id = self.accepted_rerun(self.new_run("ctor"))
            self.assertEqual([self.poll_job(async_id) for _ in range(3)],
                             [("RUNNING", None, 0, 0)] * 3)
        finally:
            self.standin.async_job_status = saved

    def test_async_plan_statuses_in_order_last_repeats(self):
        before = self.accepted_rerun(self.new_run("plan"))       # made before the plan
        self.standin.async_plan(["INIT", "RUNNING", "SUCCESS"])
        exec_id = self.new_run("plan")
        first = self.accepted_rerun(exec_id)
        self.assertEqual(self.standin.async_jobs()[first]["Status"], "INIT")
        self.assertEqual(self.poll_job(first), ("INIT", None, 0, 0))
        self.assertEqual(self.poll_job(first), ("RUNNING", None, 0, 0))
        # Every later rerun (of any run) gets the plan, each job on its own.
        second = self.accepted_rerun(self.new_run("plan"))
        self.assertEqual(self.poll_job(second), ("INIT", None, 0, 0))
        self.assertEqual(self.poll_job(first), ("SUCCESS", None, 1, 1))
        self.assertEqual(self.poll_job(first), ("SUCCESS", None, 1, 1))
        self.assertEqual(self.statuses(first, 2), ["SUCCESS", "SUCCESS"])
        self.assertEqual(self.statuses(second, 3), ["RUNNING", "SUCCESS", "SUCCESS"])
        self.assertEqual(self.statuses(before, 2), ["SUCCESS", "SUCCESS"])
        self.assertEqual(self.standin.get_run(exec_id).reruns[0]["AsyncPlan"],
                         ["INIT", "RUNNING", "SUCCESS"])
        # The record: which AsyncId each poll asked for.
        self.assertEqual(self.standin.async_polls(first), 6)
        self.assertEqual(self.standin.async_polls(second), 4)
        self.assertEqual(self.standin.async_polls("no-such-job"), 0)
        polls = self.standin.requests(self.JOB, async_id=first)
        self.assertEqual([r.asked_async_id for r in polls], [first] * 6)
        self.assertTrue(all(r.body["AsyncId"] == first and r.async_id is None
                            and r.status == 200 for r in polls))
        self.assertEqual(polls[0].as_dict()["asked_async_id"], first)
        self.assertEqual([json.loads(r.response_body)["Response"]["Data"]["Status"]
                          for r in polls], ["INIT", "RUNNING"] + ["SUCCESS"] * 4)
        # The record also says which Status each poll answered (for logs).
        self.assertEqual([r.as_dict()["answered_state"] for r in polls],
                         ["INIT", "RUNNING"] + ["SUCCESS"] * 4)
        # async_id= without an action also finds the rerun that answered it.
        self.assertEqual([r.action for r in self.standin.requests(async_id=first)],
                         ["RerunTriggerWorkflowRunAsync"] + [self.JOB] * 6)
        self.assertEqual(self.standin.count(self.JOB, async_id=second), 4)
        self.assertEqual(len(self.standin.wait_for_async_polls(first, 6, timeout=1)), 6)
        with self.assertRaises(TimeoutError):
            self.standin.wait_for_async_polls(first, 7, timeout=0.2)
        # async_plan(None): later jobs answer the default again.
        self.standin.async_plan(None)
        self.assertEqual(self.statuses(self.accepted_rerun(self.new_run("plan")), 1),
                         ["SUCCESS"])

    def test_wait_for_async_polls_wakes_up(self):
        self.standin.async_plan(["RUNNING", "FAIL"], error_desc="boom")
        async_id = self.accepted_rerun(self.new_run("wait"))
        got = []
        worker = threading.Thread(target=lambda: got.append(
            self.standin.wait_for_async_polls(async_id, 2, timeout=5, answered=True)))
        worker.start()
        time.sleep(0.1)
        self.assertEqual(self.statuses(async_id, 2), ["RUNNING", "FAIL"])
        worker.join(5)
        self.assertEqual([r.asked_async_id for r in got[0]], [async_id] * 2)

    def test_async_plan_error_desc_only_once_failed(self):
        self.standin.async_plan(["INIT", "RUNNING", "FAIL"], error_desc="task t1 failed")
        async_id = self.accepted_rerun(self.new_run("fail"))
        self.assertEqual([self.poll_job(async_id) for _ in range(4)],
                         [("INIT", None, 0, 0), ("RUNNING", None, 0, 0),
                          ("FAIL", "task t1 failed", 1, 0), ("FAIL", "task t1 failed", 1, 0)])
        self.standin.async_plan(["RUNNING", "PART_SUCCESS"], error_desc="1 of 2 failed")
        async_id = self.accepted_rerun(self.new_run("part"))
        self.assertEqual([self.poll_job(async_id) for _ in range(3)],
                         [("RUNNING", None, 0, 0), ("PART_SUCCESS", "1 of 2 failed", 1, 0),
                          ("PART_SUCCESS", "1 of 2 failed", 1, 0)])
        self.standin.async_plan(["FAIL"])            # no error_desc: null
        async_id = self.accepted_rerun(self.new_run("fail"))
        self.assertEqual(self.poll_job(async_id), ("FAIL", None, 1, 0))
        # Unknown statuses are answered as they are (pending-like counts).
        self.standin.async_plan(["QUEUED", "SUCCESS"], error_desc="never shown")
        async_id = self.accepted_rerun(self.new_run("odd"))
        self.assertEqual([self.poll_job(async_id) for _ in range(2)],
                         [("QUEUED", None, 0, 0), ("SUCCESS", None, 1, 1)])

    def test_async_plan_of_a_run_beats_the_global_one(self):
        mine, other = self.new_run("mine"), self.new_run("other")
        self.standin.async_plan(["FAIL"], error_desc="mine failed", execution_id=mine)
        self.standin.async_plan(["RUNNING", "SUCCESS"])
        self.assertEqual(self.poll_job(self.accepted_rerun(mine)),
                         ("FAIL", "mine failed", 1, 0))
        self.assertEqual(self.statuses(self.accepted_rerun(other), 3),
                         ["RUNNING", "SUCCESS", "SUCCESS"])
        # Set in the other order, it still wins; it stays for later reruns.
        self.standin.async_plan(["INIT", "FAIL"], execution_id=other)
        self.standin.async_plan(["PART_SUCCESS"])
        self.assertEqual(self.statuses(self.accepted_rerun(other), 2), ["INIT", "FAIL"])
        self.assertEqual(self.statuses(self.accepted_rerun(other), 1), ["INIT"])
        self.assertEqual(self.poll_job(self.accepted_rerun(mine))[:2], ("FAIL", "mine failed"))
        # Removing the run's plan leaves the global one; removing that, the default.
        self.standin.async_plan(None, execution_id=mine)
        self.assertEqual(self.statuses(self.accepted_rerun(mine), 1), ["PART_SUCCESS"])
        self.standin.async_plan(None)
        self.assertEqual(self.statuses(self.accepted_rerun(mine), 1), ["SUCCESS"])
        self.assertEqual(self.statuses(self.accepted_rerun(other), 2), ["INIT", "FAIL"])

    def test_async_plan_and_scripted_answers(self):
        """Scripted failures still win over a plan and do not advance it;
        set_async_job_status takes a job off its plan."""
        self.standin.async_plan(["INIT", "RUNNING", "SUCCESS"])
        async_id = self.accepted_rerun(self.new_run("scr"))
        self.standin.script(ws.error("InternalError"), action=self.JOB)
        self.assertEqual(self.poll(async_id)["Error"]["Code"], "InternalError")
        self.assertEqual(self.poll_job(async_id)[0], "INIT")
        self.standin.set_default_answer(ws.error("RequestLimitExceeded"), action=self.JOB)
        for _ in range(2):
            self.assertEqual(self.poll(async_id)["Error"]["Code"], "RequestLimitExceeded")
        self.standin.set_default_answer(None, action=self.JOB)
        self.standin.script(ws.delay(0.05), action=self.JOB)    # delayed, still carried out
        self.assertEqual(self.poll_job(async_id)[0], "RUNNING")
        self.assertEqual(self.standin.async_polls(async_id), 5)   # failures recorded too
        self.assertEqual([r.error_code for r in self.standin.requests(
            self.JOB, async_id=async_id)],
            ["InternalError", None, "RequestLimitExceeded", "RequestLimitExceeded", None])
        # Unknown job or other project: ResourceNotFound, the plan not advanced.
        self.assertEqual(self.poll(async_id, project="999")["Error"]["Code"],
                         "ResourceNotFound")
        self.assertEqual(self.poll_job(async_id)[0], "SUCCESS")
        # An explicit status ends the plan for that job.
        other = self.accepted_rerun(self.new_run("scr"))
        self.standin.set_async_job_status(other, "FAIL", "operator says no")
        self.assertEqual([self.poll_job(other) for _ in range(2)],
                         [("FAIL", "operator says no", 1, 0)] * 2)

    def test_plan_arguments_are_checked(self):
        exec_id = self.new_run("bad")
        for bad in ("SUCCESS", [], (), [1], ["SUCCESS", 2], {"SUCCESS": 1}):
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    self.standin.async_plan(bad)
                with self.assertRaises(ValueError):
                    self.standin.rerun_outcomes(exec_id, [bad])
        with self.assertRaises(ValueError):
            self.standin.rerun_outcomes(exec_id, [["RUNNING"], "FAILED"])
        # Nothing was set by the failed calls.
        self.assertEqual(self.standin.pending_outcomes(exec_id), [])
        self.assertEqual(self.statuses(self.accepted_rerun(exec_id), 1), ["SUCCESS"])

    def test_rerun_outcomes_advance_per_read(self):
        exec_id = self.new_run("out", tasks=[("a", "SUCCESS"), ("b", "FAILED"),
                                             ("c", "FAILED"), ("d", "SKIP")])
        self.standin.rerun_outcomes(exec_id, [["RUNNING", "FAILED"],
                                              ["RUNNING", "RUNNING", "SUCCESS"]])
        # Nothing is played before a rerun is accepted.
        self.assertEqual(self.read_state(exec_id)[:2], ("FAILED", 0))
        # 1st rerun (advanced, task b): RUNNING, then FAILED, which sticks.
        self.accepted_rerun(exec_id, ExecuteType="2", TaskIds=["b"])
        self.assertEqual(self.standin.pending_outcomes(exec_id),
                         [["RUNNING", "RUNNING", "SUCCESS"]])
        self.assertEqual(self.listed_state(exec_id), "RUNNING")     # a list does not advance
        self.assertEqual(self.read_state(exec_id),
                         ("RUNNING", 1, [("a", "SUCCESS"), ("b", "RUNNING"),
                                         ("c", "FAILED"), ("d", "SKIP")]))
        self.assertEqual(self.listed_state(exec_id), "RUNNING")
        self.assertEqual(self.read_state(exec_id),
                         ("FAILED", 1, [("a", "SUCCESS"), ("b", "FAILED"),
                                        ("c", "FAILED"), ("d", "SKIP")]))
        self.assertEqual(self.listed_state(exec_id), "FAILED")
        self.assertEqual(self.standin.get_run(exec_id).state, "FAILED")
        self.assertEqual(self.read_state(exec_id)[:2], ("FAILED", 1))
        # 2nd rerun (all tasks) takes the second entry.
        self.accepted_rerun(exec_id)
        running = [(t, "RUNNING") for t in "abcd"]
        self.assertEqual(self.read_state(exec_id), ("RUNNING", 2, running))
        self.assertEqual(self.read_state(exec_id), ("RUNNING", 2, running))
        self.assertEqual(self.listed_state(exec_id), "RUNNING")
        self.assertEqual(self.read_state(exec_id),
                         ("SUCCESS", 2, [(t, "SUCCESS") for t in "abcd"]))
        self.assertEqual(self.listed_state(exec_id), "SUCCESS")
        self.assertEqual(self.read_state(exec_id)[:2], ("SUCCESS", 2))
        run = self.standin.get_run(exec_id)
        self.assertEqual([r["Outcome"] for r in run.reruns],
                         [["RUNNING", "FAILED"], ["RUNNING", "RUNNING", "SUCCESS"]])
        # Used up: a 3rd rerun leaves the run RUNNING, as without outcomes.
        self.assertEqual(self.standin.pending_outcomes(exec_id), [])
        self.accepted_rerun(exec_id)
        for _ in range(3):
            self.assertEqual(self.read_state(exec_id), ("RUNNING", 3, running))
        self.assertEqual(self.standin.run_reads(exec_id), 11)     # 1 + 3 + 4 + 3
        reads = self.standin.requests(self.GET, execution_id=exec_id)
        self.assertEqual(len(reads), 11)
        self.assertTrue(all(r.body["WorkflowExecutionId"] == exec_id for r in reads))
        self.assertEqual([r.as_dict()["answered_state"] for r in reads],
                         ["FAILED", "RUNNING", "FAILED", "FAILED", "RUNNING", "RUNNING",
                          "SUCCESS", "SUCCESS"] + ["RUNNING"] * 3)
        self.assertEqual(len(self.standin.wait_for_run_reads(exec_id, 11, timeout=1)), 11)
        with self.assertRaises(TimeoutError):
            self.standin.wait_for_run_reads(exec_id, 12, timeout=0.2)

    def test_failed_outcome_fails_only_the_restarted_tasks(self):
        exec_id = self.new_run("restart", tasks=[("a", "FAILED"), ("b", "FAILED"),
                                                 ("c", "RUNNING"), ("d", "SUCCESS")])
        self.standin.after_rerun(exec_id, "FAILED")
        self.accepted_rerun(exec_id, ExecuteType="2", TaskIds=["a", "d"])
        # a and d were restarted; c was RUNNING already and is left alone.
        self.assertEqual(self.read_state(exec_id),
                         ("FAILED", 1, [("a", "FAILED"), ("b", "FAILED"),
                                        ("c", "RUNNING"), ("d", "FAILED")]))

    def test_after_rerun_scripted_errors_and_later_changes(self):
        exec_id = self.new_run("after", tasks=[("a", "FAILED")])
        self.standin.after_rerun(exec_id, "RUNNING", "SUCCESS")
        self.assertEqual(self.standin.pending_outcomes(exec_id), [["RUNNING", "SUCCESS"]])
        # A refused rerun takes no outcome.
        self.standin.script(ws.error("InternalError"), execution_id=exec_id,
                            action="RerunTriggerWorkflowRunAsync")
        self.assertEqual(self.error_code(self.rerun(exec_id)), "InternalError")
        self.assertEqual(self.standin.pending_outcomes(exec_id), [["RUNNING", "SUCCESS"]])
        self.accepted_rerun(exec_id)
        # A scripted failure of the read wins and does not advance the run.
        self.standin.script(ws.error("InternalError"), execution_id=exec_id, action=self.GET)
        self.assertEqual(self.error_code(self.call(
            self.GET, {"ProjectId": PROJECT, "WorkflowExecutionId": exec_id})),
            "InternalError")
        self.assertEqual(self.standin.get_run(exec_id).state, "RUNNING")
        self.standin.set_default_answer(ws.http_status(502), action=self.GET)
        self.assertEqual(self.call(self.GET, {"ProjectId": PROJECT,
                                              "WorkflowExecutionId": exec_id})[0], 502)
        self.standin.set_default_answer(None, action=self.GET)
        self.assertEqual(self.read_state(exec_id), ("RUNNING", 1, [("a", "RUNNING")]))
        self.assertEqual(self.read_state(exec_id), ("SUCCESS", 1, [("a", "SUCCESS")]))
        self.assertEqual(self.standin.run_reads(exec_id), 4)
        # Played out: a later update_run is not undone by reads.
        self.standin.update_run(exec_id, state="FAILED", tasks=[("a", "FAILED")])
        self.assertEqual(self.read_state(exec_id), ("FAILED", 1, [("a", "FAILED")]))
        # A new rerun drops what is left of the previous outcome.
        self.standin.after_rerun(exec_id, "RUNNING", "RUNNING", "FAILED")
        self.accepted_rerun(exec_id)
        self.assertEqual(self.read_state(exec_id)[0], "RUNNING")
        self.accepted_rerun(exec_id)
        self.assertEqual([self.read_state(exec_id)[0] for _ in range(4)], ["RUNNING"] * 4)
        # Clearing: after_rerun() with no states, rerun_outcomes(x, None).
        self.standin.after_rerun(exec_id, "SUCCESS")
        self.standin.after_rerun(exec_id)
        self.assertEqual(self.standin.pending_outcomes(exec_id), [])
        self.standin.rerun_outcomes(exec_id, [["SUCCESS"]])
        self.standin.rerun_outcomes(exec_id, None)
        self.accepted_rerun(exec_id)      # the 4th accepted: the refused one is not counted
        self.assertEqual(self.read_state(exec_id)[:2], ("RUNNING", 4))

    def test_outcome_and_plan_together(self):
        """The TrackAsync flow: the job goes INIT, RUNNING, SUCCESS, then
        the run RUNNING, FAILED; the second rerun succeeds."""
        exec_id = self.new_run("flow", tasks=[("t1", "FAILED")])
        self.standin.async_plan(["INIT", "RUNNING", "SUCCESS"], execution_id=exec_id)
        self.standin.rerun_outcomes(exec_id, [["RUNNING", "FAILED"], ["SUCCESS"]])
        async_id = self.accepted_rerun(exec_id)
        self.assertEqual(self.statuses(async_id, 3), ["INIT", "RUNNING", "SUCCESS"])
        self.assertEqual([self.read_state(exec_id)[0] for _ in range(3)],
                         ["RUNNING", "FAILED", "FAILED"])
        async_id = self.accepted_rerun(exec_id)
        self.assertEqual(self.statuses(async_id, 3), ["INIT", "RUNNING", "SUCCESS"])
        self.assertEqual(self.read_state(exec_id), ("SUCCESS", 2, [("t1", "SUCCESS")]))
        self.assertEqual(self.listed_state(exec_id), "SUCCESS")

    def test_clear_scripts_clears_plans_not_yet_taken(self):
        playing = self.new_run("clear")
        self.standin.async_plan(["RUNNING", "FAIL"], error_desc="e")
        self.standin.after_rerun(playing, "RUNNING", "FAILED")
        job = self.accepted_rerun(playing)
        waiting = self.new_run("clear")
        self.standin.async_plan(["INIT"], execution_id=waiting)
        self.standin.after_rerun(waiting, "FAILED")
        self.standin.clear_scripts()
        # What was taken goes on; what was not is gone.
        self.assertEqual(self.statuses(job, 2), ["RUNNING", "FAIL"])
        self.assertEqual([self.read_state(playing)[0] for _ in range(2)],
                         ["RUNNING", "FAILED"])
        self.assertEqual(self.standin.pending_outcomes(waiting), [])
        self.assertEqual(self.statuses(self.accepted_rerun(waiting), 1), ["SUCCESS"])
        self.assertEqual(self.read_state(waiting)[0], "RUNNING")
        self.assertEqual(self.statuses(self.accepted_rerun(self.new_run("clear")), 1),
                         ["SUCCESS"])


class TokenBucketTest(unittest.TestCase):

    def test_bucket(self):
        now = [100.0]
        bucket = ws.TokenBucket(20, clock=lambda: now[0])
        self.assertEqual(sum(bucket.take() for _ in range(25)), 20)
        now[0] += 0.05
        self.assertTrue(bucket.take())
        self.assertFalse(bucket.take())
        now[0] += 10
        self.assertEqual(sum(bucket.take() for _ in range(25)), 20)   # capped
        # Evenly spaced at the rate: never refused.
        for _ in range(100):
            now[0] += 0.05
            self.assertTrue(bucket.take())
        with self.assertRaises(ValueError):
            ws.TokenBucket(0)


class SlidingWindowTest(unittest.TestCase):

    def test_window(self):
        now = [100.0]
        w = ws.SlidingWindow(20, clock=lambda: now[0])
        self.assertEqual(sum(w.arrive("A") for _ in range(25)), 20)
        self.assertTrue(w.arrive("B"))          # per action
        now[0] += 0.999
        self.assertFalse(w.arrive("A"))         # the 25 (refused too) still count
        now[0] += 0.002                         # all of them a second old
        self.assertTrue(w.arrive("A"))
        # 20 evenly in a second, then one more within the same second: refused.
        w = ws.SlidingWindow(20, clock=lambda: now[0])
        for _ in range(20):
            self.assertTrue(w.arrive("A"))
            now[0] += 0.049
        self.assertFalse(w.arrive("A"))
        with self.assertRaises(ValueError):
            ws.SlidingWindow(0)


class SinkTest(unittest.TestCase):
    """The write_http sink parses collectd 5.12's notification JSON."""

    SAMPLE = (b'[{"labels":{"alertname":"collectd_wedata_rerun_rerun","instance":"itest",'
              b'"wedata_rerun":"nightly_etl","severity":"OKAY","service":"collectd"},'
              b'"annotations":{"summary":"rerun of r-1 accepted: AsyncId a-1","AsyncId":"a-1",'
              b'"WorkflowExecutionId":"r-1"},"startsAt":"2026-11-28T13:22:55.865000010Z"}]')

    def test_parse_and_wait(self):
        with ws.NotificationSink() as sink:
            conn = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=5)
            conn.request("POST", "/collectd", body=self.SAMPLE,
                         headers={"Content-Type": "application/json"})
            self.assertEqual(conn.getresponse().status, 200)
            conn.close()
            (n,) = sink.wait_for(1, plugin="wedata_rerun", timeout=5)
        self.assertEqual((n.severity, n.host, n.plugin, n.plugin_instance, n.type,
                          n.type_instance), ("OKAY", "itest", "wedata_rerun", "nightly_etl",
                                             "rerun", ""))
        self.assertEqual(n.meta, {"AsyncId": "a-1", "WorkflowExecutionId": "r-1"})
        self.assertEqual(n.message, "rerun of r-1 accepted: AsyncId a-1")

    def test_keep_alive_answers_are_not_delayed(self):
        """Headers and body go out without waiting for a delayed ACK: 20
        POSTs on one connection take well under 40 ms each."""
        with ws.NotificationSink() as sink:
            conn = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=5)
            start = time.monotonic()
            for _ in range(20):
                conn.request("POST", "/collectd", body=self.SAMPLE,
                             headers={"Content-Type": "application/json"})
                self.assertEqual(conn.getresponse().read(), b"ok\n")
            per_post = (time.monotonic() - start) / 20
            conn.close()
        self.assertLess(per_post, 0.015, "%.1f ms per POST" % (per_post * 1000))


class StandaloneTest(unittest.TestCase):
    """python3 wedata_standin.py ... prints its port and serves requests."""

    def test_standalone(self):
        tmp = tempfile.mkdtemp(prefix="standin-cli-")
        runs = os.path.join(tmp, "runs.json")
        record = os.path.join(tmp, "record.jsonl")
        with open(runs, "w") as fh:
            json.dump([{"ProjectId": PROJECT, "WorkflowId": WORKFLOW, "ExecutionId": "cli-1",
                        "ExecutionState": "FAILED"}], fh)
        proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "wedata_standin.py"), "--port", "0",
             "--cert-dir", tmp, "--secret-id", SID, "--secret-key", SKEY, "--runs", runs,
             "--no-auto-create", "--script", "cli-1=error:FailedOperation:busy,ok",
             "--record", record, "--sink", "--rate-limit", "50"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            info = {}
            while len(info) < 3:
                line = proc.stdout.readline()
                self.assertTrue(line, "stand-in exited early")
                key, _, value = line.strip().partition("=")
                info[key] = value
            port = int(info["PORT"])
            ctx = ssl.create_default_context(cafile=info["CA_CERT"])
            codes = []
            for exec_id in ("cli-1", "cli-1", "cli-2"):
                body = json.dumps({"ProjectId": PROJECT, "WorkflowId": WORKFLOW,
                                   "WorkflowExecutionId": exec_id, "ExecuteType": "1"}).encode()
                headers = ws.sign_request(SID, SKEY, "127.0.0.1:%d" % port, body,
                                          "RerunTriggerWorkflowRunAsync")
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
                conn.request("POST", "/", body=body, headers=headers)
                resp = json.loads(conn.getresponse().read())["Response"]
                conn.close()
                codes.append(resp.get("Error", {}).get("Code", resp.get("Data", {})
                                                       .get("AsyncId") and "ok"))
            self.assertEqual(codes, ["FailedOperation", "ok", "ResourceNotFound"])
        finally:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 0)
        self.assertIn("requests by action", out)
        self.assertIn("rate-limited answers: 0", out)
        with open(record) as fh:
            lines = [json.loads(line) for line in fh]
        shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(len(lines), 3)
        self.assertTrue(all(line["signature_ok"] for line in lines))


if __name__ == "__main__":
    unittest.main(verbosity=2)
