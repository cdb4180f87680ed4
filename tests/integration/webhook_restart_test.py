#!/usr/bin/env python3
"""Webhook notifications owed at a stop or a crash are delivered after the restart.

Starts a real `keepwatch serve` on the embedded log with a real PostgreSQL
(ops/pg.sh), a target HTTP server the test turns up and down, and a webhook
receiver that answers 200 or 500 as the test says, all on 127.0.0.1
(checks.allow_private_targets). Through the API: a tenant, a signed webhook
channel, and an HTTP monitor checked every second that notifies it. Then:

  1. the target goes down and up again while the receiver answers 200: both
     notifications arrive and are recorded as delivered;
  2. the receiver answers 500 and the target goes down: the notification is
     attempted and pending a retry when the node is killed with SIGKILL;
     the receiver answers 200 and the node is started again;
  3. the receiver answers 500 and the target comes back up: the notification
     is pending a retry when the node is stopped cleanly (SIGTERM); the
     receiver answers 200 and the node is started again.

After each restart the owed notification arrives with the very body, delivery
id (X-Keepwatch-Delivery) and a valid signature, the audit API shows it
delivered, and no notification that was delivered before is sent again.
While a notification is owed (after the kill, after the stop) and at the
end, `keepwatch audit verify` finds recovery from snapshots equal to a
replay of the whole log. Exits non-zero with the reasons.
"""
import argparse
import hashlib
import hmac
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SECRET = "whsec-restart-test"
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Target:
    """The monitored service: 200 while up, 503 while down."""

    def __init__(self):
        self.up = True
        me = self

        class H(Quiet):
            def do_GET(self):
                self.send_response(200 if me.up else 503)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


class Receiver:
    """The webhook receiver: records every request, answers self.status."""

    def __init__(self):
        self.status = 200
        self.lock = threading.Lock()
        self.got = []  # dicts: id, body (bytes), signature, answered
        me = self

        class H(Quiet):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with me.lock:
                    answer = me.status
                    me.got.append({"id": self.headers.get("X-Keepwatch-Delivery"), "body": body,
                                   "signature": self.headers.get("X-Keepwatch-Signature"),
                                   "answered": answer, "at": time.time()})
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def requests(self):
        with self.lock:
            return list(self.got)


def request(port, method, path, body=None, token=None, timeout=15):
    headers = {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        return r.status, json.loads(data) if data else None
    except ValueError:
        return r.status, data


class Node:
    def __init__(self, binary, work, db_url, plans):
        self.binary, self.port = binary, free_port()
        self.data_dir = os.path.join(work, "data")
        self.env = dict(os.environ)
        self.env.update({
            "KEEPWATCH_NODE_DATA_DIR": self.data_dir,
            "KEEPWATCH_DATABASE_URL": db_url,
            "KEEPWATCH_GATEWAY_PORT": str(self.port),
            "KEEPWATCH_LOG_PARTITIONS": "2",
            "KEEPWATCH_PLANS_FILE": plans,
            "KEEPWATCH_CHECKS_ALLOW_PRIVATE_TARGETS": "true",
            # Retries go on for minutes: a kill always finds one pending.
            "KEEPWATCH_CHECKS_WEBHOOK_MAX_ATTEMPTS": "20",
            "KEEPWATCH_CHECKS_WEBHOOK_INITIAL_BACKOFF_MS": "300",
            # Snapshots every second: a kill finds the owed notification in
            # snapshots as well as in the log's tail.
            "KEEPWATCH_SNAPSHOTS_INTERVAL_S": "1",
            "KEEPWATCH_NODE_LOG_LEVEL": "warn",
        })
        self.proc = None
        self.log = open(os.path.join(work, "node.log"), "ab")

    def start(self):
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the node exited at start with %d" % self.proc.returncode)
            try:
                st, _ = request(self.port, "GET", "/readyz", timeout=2)
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the node did not become ready in 60 s")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        if self.proc.wait(timeout=60) != 0:
            fail("the node's clean stop exited with %d" % self.proc.returncode)


def wait_until(what, pred, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise RuntimeError("timed out after %d s waiting for %s" % (timeout, what))


def notification(req):
    b = json.loads(req["body"])
    return b["incident_id"], b["transition"]


def signed(req):
    want = "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
    return req["signature"] == want


class Api:
    def __init__(self, node):
        self.node = node
        self.token = None

    def login(self):
        st, res = request(self.node.port, "POST", "/api/v1/auth/login",
                          {"email": "owner@hooks.test", "password": "password-hooks-1"})
        if st != 200:
            raise RuntimeError("login: %d %s" % (st, res))
        self.token = res["access_token"]

    def call(self, method, path, body=None, ok=(200, 201)):
        st, res = request(self.node.port, method, path, body, self.token)
        if st not in ok:
            raise RuntimeError("%s %s: %d %s" % (method, path, st, res))
        return res

    def notifications(self):
        """The audit trail's notification outcomes: entity -> delivered."""
        out, cursor = {}, None
        while True:
            q = "/api/v1/audit?limit=200" + ("&cursor=" + cursor if cursor else "")
            res = self.call("GET", q)
            for it in res["items"]:
                if it["entity"].startswith("notification/"):
                    out.setdefault(it["entity"], []).append(bool((it.get("after") or {}).get("delivered")))
            cursor = res.get("next_cursor")
            if not cursor:
                return out


def audit_verify(node, when):
    """`keepwatch audit verify`: every hash chain, and recovery from the
    snapshots equal to a replay of the whole log (owed notifications included)."""
    out = subprocess.run([node.binary, "audit", "verify", "--data-dir", node.data_dir, "--partitions", "2"],
                         capture_output=True, text=True)
    print("audit verify (%s): exit %d; %s" % (when, out.returncode, out.stdout.strip().splitlines()[-1:]),
          flush=True)
    if out.returncode != 0:
        fail("audit verify (%s): exit %d: %s %s" % (when, out.returncode, out.stdout[-2000:], out.stderr[-2000:]))


def owed_survives(node, api, target, recv, channel, phase, restart):
    """Makes the monitor move while the receiver fails, restarts the node
    with `restart` while the notification is pending a retry, and checks that
    the very notification then arrives once the receiver accepts it."""
    before = len(recv.requests())
    delivered_before = {r["id"] for r in recv.requests() if r["answered"] == 200}
    recv.status = 500
    target.up = not target.up
    transition = "up" if target.up else "down"
    failed = wait_until(
        "two failed attempts of the %s notification (%s)" % (transition, phase),
        lambda: [r for r in recv.requests()[before:] if notification(r)[1] == transition] if len(
            [r for r in recv.requests()[before:] if notification(r)[1] == transition]) >= 2 else None)
    owed = failed[0]
    print("%s: %s notification %s failed %d time(s), pending a retry; %s" %
          (phase, transition, owed["id"], len(failed), restart), flush=True)
    time.sleep(1.5)  # a periodic snapshot (every second) holds it too
    if restart == "kill -9":
        node.kill()
    else:
        node.stop()
    # While it is owed: recovery from the snapshots owes what a full replay owes.
    audit_verify(node, "%s, a notification owed" % phase)
    recv.status = 200
    restarted_at = time.time()
    node.start()
    api.login()
    try:
        got = wait_until("the owed notification after the restart (%s)" % phase,
                         lambda: [r for r in recv.requests() if r["at"] >= restarted_at and r["id"] == owed["id"]
                                  and r["answered"] == 200], timeout=45)
    except RuntimeError as e:
        fail(str(e))
        return
    r = got[0]
    if r["body"] != owed["body"]:
        fail("%s: the body sent after the restart differs: %r vs %r" % (phase, r["body"], owed["body"]))
    if not signed(r):
        fail("%s: the signature after the restart does not verify" % phase)
    inc, tr = notification(r)
    entity = "notification/%s/%s/%s" % (inc, channel, tr)
    try:
        wait_until("%s delivered in the audit trail (%s)" % (entity, phase),
                   lambda: True in api.notifications().get(entity, []), timeout=30)
    except RuntimeError as e:
        fail(str(e))
    # Delivered before the restart: never sent again.
    again = [x["id"] for x in recv.requests() if x["at"] >= restarted_at and x["id"] in delivered_before]
    if again:
        fail("%s: notifications delivered before the restart were sent again: %s" % (phase, sorted(set(again))))
    print("%s: delivered after the restart with the same body and id; audit shows %s delivered" %
          (phase, entity), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keepwatch", required=True)
    ap.add_argument("--pg", required=True, help="ops/pg.sh")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="kw-webhook-restart-")
    os.chmod(work, 0o755)  # as root, PostgreSQL runs as postgres and must reach its directory
    plans = os.path.join(work, "plans.toml")
    with open(plans, "w") as f:
        f.write("[plans.free]\nmax_monitors = 5\nmin_interval_s = 1\nretention_days = 7\nmax_users = 1\n"
                "max_status_pages = 1\napi_rate_per_min = 6000\nbase_price_cents = 0\nmonitor_price_cents = 0\n")
    pg_dir = os.path.join(work, "pg")
    pg = subprocess.run([a.pg, "start", pg_dir], capture_output=True, text=True)
    if pg.returncode != 0:
        print("ops/pg.sh start failed:", pg.stderr)
        return 1
    node = Node(a.keepwatch, work, pg.stdout.strip(), plans)
    target, recv = Target(), Receiver()
    api = Api(node)
    try:
        node.start()
        st, res = request(node.port, "POST", "/api/v1/auth/signup",
                          {"email": "owner@hooks.test", "password": "password-hooks-1", "tenant_name": "Hooks"})
        if st != 201 and st != 200:
            raise RuntimeError("signup: %d %s" % (st, res))
        api.login()
        channel = api.call("POST", "/api/v1/channels",
                           {"name": "receiver", "url": "http://127.0.0.1:%d/hook" % recv.port,
                            "secret": SECRET})["channel_id"]
        api.call("POST", "/api/v1/monitors",
                 {"name": "target", "kind": "http", "url": "http://127.0.0.1:%d/" % target.port,
                  "interval_s": 1, "timeout_ms": 500, "retries": 0, "channel_ids": [channel]})

        # 1. Delivered at once: down, then up.
        for transition in ("down", "up"):
            target.up = transition == "up"
            r = wait_until("the %s notification" % transition,
                           lambda: [x for x in recv.requests() if notification(x)[1] == transition], timeout=60)[0]
            if not r["id"] or not signed(r):
                fail("the %s notification has no delivery id or a bad signature: %s" % (transition, r))
            inc, tr = notification(r)
            wait_until("the %s notification recorded delivered" % transition,
                       lambda: True in api.notifications().get("notification/%s/%s/%s" % (inc, channel, tr), []),
                       timeout=30)
        print("before any restart: down and up delivered and recorded", flush=True)

        owed_survives(node, api, target, recv, channel, "crash", "kill -9")
        owed_survives(node, api, target, recv, channel, "clean stop", "SIGTERM")

        node.stop()
        audit_verify(node, "at the end")
    except RuntimeError as e:
        fail(str(e))
    finally:
        if node.proc and node.proc.poll() is None:
            node.proc.kill()
        subprocess.run([a.pg, "stop", pg_dir], capture_output=True)
    if failures:
        print("%d failure(s); node log in %s" % (len(failures), work))
        return 1
    subprocess.run(["rm", "-rf", work])
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
