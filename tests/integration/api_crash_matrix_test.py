#!/usr/bin/env python3
"""A 2xx is forever: every kind of write, through the API, under kill -9.

Starts a real `keepwatch serve` on the embedded log with a real PostgreSQL
(ops/pg.sh). Clients — one per tenant, each writing one request at a time
with an Idempotency-Key — sign up, rename their tenant, change its plan, add
members, create and revoke API keys, create channels, status pages,
maintenance windows and monitors, update, pause, resume and delete
monitors. The node is killed with SIGKILL at random moments, several times;
a request that got no answer (the connection died) is retried with the same
key once the node is back, until it gets one. Then, through the API only:

  - every owner whose sign-up was acknowledged can log in;
  - each tenant's name, members, API keys (revoked or not), channels, status
    pages, maintenance windows and monitors (name, paused, deleted) are
    exactly what the acknowledged writes, applied once each in order, give:
    nothing acknowledged is missing and nothing is doubled;

and `keepwatch audit verify` finds every hash chain intact and the write
side recovered from snapshots equal to a replay of the whole log, both right
after a kill and after a clean stop (embedded log only: it reads the data
directory's log).

Check results too: each tenant has an HTTP monitor checking a real HTTP
server the test runs on 127.0.0.1 every second (private targets allowed, a
plans file whose pro plan allows 1 s) and a push monitor its client pushes
heartbeats to. Before each kill the test notes every check result the API
shows; afterwards each of them is still shown, none twice, the HTTP monitors
kept producing results after the last restart, and the push heartbeats shown
are at least those acknowledged (at most those plus the pushes that got no
answer).

--backend kafka runs the same on `keepwatch dev-broker` (a separate process
that outlives the node's kills) and adds: after each restart, every monitor
whose create was acknowledged before the kill is listed by the API within
10 s of /readyz (the read models resume at once); `audit verify --kafka`
reads every chain and signed head from the topic.
Exits non-zero with the reasons.
"""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import http.client
import http.server

PARTITIONS = 4
READ_MODEL_BOUND_S = 10
failures = []

# The pro plan allows a check every second, so that check results flow.
PLANS = """
[plans.free]
max_monitors = 5
min_interval_s = 300
retention_days = 7
max_users = 1
max_status_pages = 1
api_rate_per_min = 60
base_price_cents = 0
monitor_price_cents = 0

[plans.pro]
max_monitors = 100
min_interval_s = 1
retention_days = 90
max_users = 10
max_status_pages = 5
api_rate_per_min = 6000
base_price_cents = 900
monitor_price_cents = 25

[plans.enterprise]
max_monitors = 10000
min_interval_s = 1
retention_days = 395
max_users = 1000
max_status_pages = 100
api_rate_per_min = 6000
base_price_cents = 9900
monitor_price_cents = 25
"""


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class NoAnswer(Exception):
    """The request got no HTTP answer: its outcome is unknown."""


class Target(http.server.BaseHTTPRequestHandler):
    """The HTTP server the monitors check: always up."""

    def do_GET(self):  # noqa: N802
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class DevBroker:
    """`keepwatch dev-broker`: outlives the node's kills."""

    def __init__(self, binary, work):
        self.log = open(os.path.join(work, "dev-broker.log"), "ab")
        self.proc = subprocess.Popen([binary, "dev-broker", "--partitions", str(PARTITIONS)],
                                     stdout=subprocess.PIPE, stderr=self.log)
        self.bootstrap = self.proc.stdout.readline().decode().strip()
        if not self.bootstrap:
            raise RuntimeError("the dev broker printed no bootstrap address")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Node:
    def __init__(self, binary, data_dir, db_url, port, plans, kafka=None):
        self.binary, self.data_dir, self.port = binary, data_dir, port
        self.env = dict(os.environ)
        if kafka:
            self.env.update({"KEEPWATCH_LOG_BACKEND": "kafka",
                             "KEEPWATCH_KAFKA_BOOTSTRAP_SERVERS": kafka})
        self.env.update({
            "KEEPWATCH_PLANS_FILE": plans,
            "KEEPWATCH_CHECKS_ALLOW_PRIVATE_TARGETS": "true",
            # The test logs every owner in again and again to look through
            # the API; it is not about rate limits.
            "KEEPWATCH_GATEWAY_AUTH_RATE_PER_IP_PER_MIN": "1000000",
            "KEEPWATCH_GATEWAY_AUTH_RATE_PER_ACCOUNT_PER_MIN": "1000000",
            "KEEPWATCH_NODE_DATA_DIR": data_dir,
            "KEEPWATCH_DATABASE_URL": db_url,
            "KEEPWATCH_GATEWAY_PORT": str(port),
            "KEEPWATCH_LOG_PARTITIONS": str(PARTITIONS),
            # Snapshots every second and quick passivation, so kills land
            # before, between and during snapshots and passivations.
            "KEEPWATCH_SNAPSHOTS_INTERVAL_S": "1",
            "KEEPWATCH_TENANTS_PASSIVATE_AFTER_S": "3",
            "KEEPWATCH_NODE_LOG_LEVEL": "warn",
        })
        self.proc = None
        self.log = open(os.path.join(data_dir, "..", "node.log"), "ab")

    def start(self):
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=self.log,
                                     stderr=self.log)
        self.started_at = time.time()
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the node exited at start with %d" % self.proc.returncode)
            try:
                st, _ = request(self.port, "GET", "/readyz", timeout=2)
                if st == 200:
                    self.ready_at = time.time()
                    return
            except NoAnswer:
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


def request(port, method, path, body=None, token=None, key=None, timeout=15):
    headers = {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    if key:
        headers["Idempotency-Key"] = key
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        r = c.getresponse()
        data = r.read()
        c.close()
    except (OSError, http.client.HTTPException) as e:
        raise NoAnswer(str(e))
    try:
        return r.status, json.loads(data) if data else None
    except ValueError:
        return r.status, data


class World:
    """Where the node is, and whether it is up (clients wait while it is down)."""

    def __init__(self, port, target=None):
        self.port = port
        self.target = target  # URL of the HTTP server the monitors check
        self.up = threading.Event()
        self.done = threading.Event()


class Client(threading.Thread):
    """One tenant's owner writing one request at a time. The model is what
    the acknowledged writes, applied once each in order, must give."""

    def __init__(self, world, n, seed):
        super().__init__(daemon=True)
        self.w, self.n, self.rng = world, n, random.Random(seed)
        self.email = "owner%d@crash.test" % n
        self.password = "password-%d-xyz" % n
        self.tenant = None
        self.token = None
        self.acked = 0
        self.unknown = 0
        self.model = {"name": "Tenant %d" % n, "members": {self.email}, "keys": {}, "channels": set(),
                      "pages": set(), "windows": set(), "monitors": {}}
        self.seq = 0
        self.error = None
        # Check results: an HTTP monitor on the test's target, a push monitor.
        self.http_monitor = None
        self.push_monitor = None
        self.push_url = None
        self.pushes_acked = 0
        self.pushes_unknown = 0

    # One write, retried with the same key until it has an answer.
    def write(self, method, path, body=None, auth=True):
        key = "c%d-%d" % (self.n, self.seq)
        self.seq += 1
        tries = 0
        while True:
            self.w.up.wait()
            try:
                st, res = request(self.w.port, method, path, body, self.token if auth else None, key)
            except NoAnswer:
                self.unknown += 1
                tries += 1
                time.sleep(0.05)
                continue
            if st == 401 and auth and tries < 50:
                self.login()  # the access token may have expired across restarts
                tries += 1
                continue
            if st in (429, 503) and tries < 400:
                tries += 1
                time.sleep(0.1)
                continue
            if 200 <= st < 300:
                self.acked += 1
            return st, res

    # One read, sent again until it has an answer (a kill may land on it).
    def read(self, path):
        while True:
            self.w.up.wait()
            try:
                return request(self.w.port, "GET", path, token=self.token)
            except NoAnswer:
                time.sleep(0.05)

    # One heartbeat: no Idempotency-Key, so one without an answer is not
    # retried (it may or may not have been recorded).
    def push(self):
        self.w.up.wait()
        try:
            st, _ = request(self.w.port, "POST", self.push_url)
        except NoAnswer:
            self.pushes_unknown += 1
            return
        if st == 200:
            self.pushes_acked += 1
        time.sleep(0.02)

    def login(self):
        while True:
            self.w.up.wait()
            try:
                st, res = request(self.w.port, "POST", "/api/v1/auth/login",
                                  {"email": self.email, "password": self.password})
            except NoAnswer:
                time.sleep(0.05)
                continue
            if st == 200:
                self.token = res["access_token"]
                return
            if st in (429, 503):
                time.sleep(0.1)
                continue
            raise RuntimeError("owner %s cannot log in: %d %s" % (self.email, st, res))

    def expect(self, what, st, res, ok=(200, 201)):
        if st not in ok:
            raise RuntimeError("%s: %d %s" % (what, st, res))

    def run(self):
        try:
            self.work()
        except Exception as e:  # noqa: BLE001 — reported, the test fails
            self.error = "client %d: %s" % (self.n, e)

    def work(self):
        st, res = self.write("POST", "/api/v1/auth/signup",
                             {"email": self.email, "password": self.password,
                              "tenant_name": self.model["name"]}, auth=False)
        if st == 409:
            # The first attempt's outcome was unknown and it had been done:
            # the owner exists, and so must the tenant.
            self.login()
        else:
            self.expect("signup", st, res)
            self.token = res["access_token"]
        self.login()
        st, me = self.read("/api/v1/me")
        self.tenant = me["tenant_id"] if st == 200 and isinstance(me, dict) and "tenant_id" in me else None
        st, res = self.write("PATCH", "/api/v1/tenant", {"plan": "pro"})
        self.expect("plan", st, res)
        if self.w.target:
            st, res = self.write("POST", "/api/v1/monitors",
                                 {"name": "target", "kind": "http", "interval_s": 1, "timeout_ms": 800,
                                  "url": self.w.target})
            self.expect("create the target's monitor", st, res)
            self.http_monitor = res["monitor_id"]
            self.model["monitors"][self.http_monitor] = {"name": "target", "active": True, "deleted": False,
                                                         "fixed": True}
            st, res = self.write("POST", "/api/v1/monitors",
                                 {"name": "push", "kind": "push", "interval_s": 300})
            self.expect("create the push monitor", st, res)
            self.push_monitor = res["monitor_id"]
            self.push_url = res["push_url"]
            self.model["monitors"][self.push_monitor] = {"name": "push", "active": True, "deleted": False,
                                                         "fixed": True}
        members = 0
        while not self.w.done.is_set():
            if self.push_url and self.rng.random() < 0.15:
                self.push()
                continue
            r = self.rng.random()
            live = [m for m, v in self.model["monitors"].items() if not v["deleted"] and not v.get("fixed")]
            if r < 0.30 and len(live) < 60:
                st, res = self.write("POST", "/api/v1/monitors",
                                     {"name": "m%d" % self.seq, "kind": "http", "interval_s": 300,
                                      "url": "https://example.invalid/%d" % self.seq})
                self.expect("create monitor", st, res)
                self.model["monitors"][res["monitor_id"]] = {"name": "m%d" % (self.seq - 1),
                                                              "active": True, "deleted": False}
            elif r < 0.42 and live:
                m = self.rng.choice(live)
                name = "renamed%d" % self.seq
                st, res = self.write("PATCH", "/api/v1/monitors/" + m,
                                     {"name": name, "kind": "http", "interval_s": 300,
                                      "url": "https://example.invalid/x"})
                self.expect("update monitor", st, res)
                self.model["monitors"][m]["name"] = name
            elif r < 0.54 and live:
                m = self.rng.choice(live)
                act = "resume" if not self.model["monitors"][m]["active"] else "pause"
                st, res = self.write("POST", "/api/v1/monitors/%s/%s" % (m, act))
                self.expect(act, st, res)
                self.model["monitors"][m]["active"] = act == "resume"
            elif r < 0.60 and live:
                m = self.rng.choice(live)
                st, res = self.write("DELETE", "/api/v1/monitors/" + m)
                self.expect("delete monitor", st, res, ok=(200, 204))
                self.model["monitors"][m]["deleted"] = True
            elif r < 0.66:
                name = "Tenant %d v%d" % (self.n, self.seq)
                st, res = self.write("PATCH", "/api/v1/tenant", {"name": name})
                self.expect("rename tenant", st, res)
                self.model["name"] = name
            elif r < 0.70 and members < 4:
                email = "member%d-%d@crash.test" % (self.n, self.seq)
                st, res = self.write("POST", "/api/v1/members",
                                     {"email": email, "role": "viewer", "password": "0123456789ab"})
                self.expect("add member", st, res)
                members += 1
                self.model["members"].add(email)
            elif r < 0.78:
                st, res = self.write("POST", "/api/v1/api-keys", {"name": "k%d" % self.seq, "scope": "read"})
                self.expect("create key", st, res)
                self.model["keys"][res["key_id"]] = False
            elif r < 0.82 and any(not v for v in self.model["keys"].values()):
                k = self.rng.choice([k for k, v in self.model["keys"].items() if not v])
                st, res = self.write("DELETE", "/api/v1/api-keys/" + k)
                self.expect("revoke key", st, res, ok=(200, 204))
                self.model["keys"][k] = True
            elif r < 0.88 and len(self.model["channels"]) < 20:
                st, res = self.write("POST", "/api/v1/channels",
                                     {"name": "c%d" % self.seq, "url": "https://example.invalid/hook"})
                self.expect("create channel", st, res)
                self.model["channels"].add(res["channel_id"])
            elif r < 0.92 and len(self.model["pages"]) < 5:
                st, res = self.write("POST", "/api/v1/status-pages",
                                     {"slug": "p%d-%d" % (self.n, self.seq), "title": "t", "monitor_ids": []})
                self.expect("create page", st, res)
                self.model["pages"].add(res["page_id"])
            elif len(self.model["windows"]) < 30:
                st, res = self.write("POST", "/api/v1/maintenance",
                                     {"title": "w%d" % self.seq, "starts_at": "2030-01-01T00:00:00Z",
                                      "ends_at": "2030-01-02T00:00:00Z"})
                self.expect("create window", st, res)
                self.model["windows"].add(res["window_id"])


def list_all(port, token, path):
    items, cursor = [], None
    while True:
        q = path + ("&" if "?" in path else "?") + "limit=100" + ("&cursor=" + cursor if cursor else "")
        st, res = request(port, "GET", q, token=token)
        if st != 200:
            raise RuntimeError("GET %s: %d %s" % (q, st, res))
        items += res["items"]
        cursor = res.get("next_cursor")
        if not cursor:
            return items


def owner_token(port, c):
    st, res = request(port, "POST", "/api/v1/auth/login", {"email": c.email, "password": c.password})
    if st != 200:
        raise RuntimeError("owner %s cannot log in: %d %s" % (c.email, st, res))
    return res["access_token"]


def heartbeats(port, token, monitor):
    """The check results the API shows for a monitor, as a list of keys."""
    items = list_all(port, token, "/api/v1/monitors/%s/heartbeats" % monitor)
    return [(x["time"], x["ok"], x["latency_us"], x["http_status"]) for x in items]


class CheckResults:
    """Every check result the API showed before a kill, per monitor."""

    def __init__(self):
        self.seen = {}        # monitor -> set of heartbeat keys
        self.at_last_kill = {}  # HTTP monitor -> how many it had then

    def note(self, port, clients, last=False):
        for c in clients:
            if not c.http_monitor or c.error:
                continue
            try:
                token = owner_token(port, c)
                for m in (c.http_monitor, c.push_monitor):
                    hb = heartbeats(port, token, m)
                    self.seen.setdefault(m, set()).update(hb)
                    if last and m == c.http_monitor:
                        self.at_last_kill[m] = len(hb)
            except (NoAnswer, RuntimeError) as e:
                print("noting check results before the kill: %s" % e, flush=True)

    def check(self, port, c):
        """None when c's check results are whole; else what is wrong."""
        if not c.http_monitor:
            return None
        token = owner_token(port, c)
        for m in (c.http_monitor, c.push_monitor):
            hb = heartbeats(port, token, m)
            if len(hb) != len(set(hb)):
                dup = sorted(k for k in set(hb) if hb.count(k) > 1)
                return "monitor %s: check results shown twice: %s" % (m, dup[:5])
            gone = self.seen.get(m, set()) - set(hb)
            if gone:
                return "monitor %s: %d check result(s) shown before a kill are gone: %s" % (
                    m, len(gone), sorted(gone)[:5])
            if m == c.http_monitor and len(hb) <= self.at_last_kill.get(m, 0):
                return "monitor %s: no check result since the last restart (%d, %d at the kill)" % (
                    m, len(hb), self.at_last_kill.get(m, 0))
            if m == c.push_monitor and not (c.pushes_acked <= len(hb) <= c.pushes_acked + c.pushes_unknown):
                return "push monitor %s: %d heartbeats shown, %d acknowledged, %d without an answer" % (
                    m, len(hb), c.pushes_acked, c.pushes_unknown)
        return None


def acked_monitors(clients):
    """Per client, the monitors whose create was acknowledged so far."""
    return {c.n: set(c.model["monitors"]) for c in clients}


def wait_read_models(node, clients, before, bound):
    """Seconds from /readyz until every monitor acknowledged before the kill
    is listed (or deleted since); None if that took more than `bound`."""
    tokens = {}
    while True:
        missing = 0
        for c in clients:
            if c.error or not before.get(c.n):
                continue
            try:
                if c.n not in tokens:
                    tokens[c.n] = owner_token(node.port, c)
                got = {x["monitor_id"] for x in list_all(node.port, tokens[c.n], "/api/v1/monitors")}
            except (NoAnswer, RuntimeError):
                tokens.pop(c.n, None)
                missing += 1
                continue
            gone = {m for m, v in c.model["monitors"].items() if v["deleted"]}
            missing += len(before[c.n] - got - gone)
        elapsed = time.time() - node.ready_at
        if missing == 0 and elapsed <= bound:
            return elapsed
        if elapsed > bound:
            print("read models: %d acknowledged monitor(s) still missing %.1f s after /readyz" %
                  (missing, elapsed), flush=True)
            return None
        time.sleep(0.1)


def check_client(port, c):
    """What the API shows of c's tenant, against c's model (None: matches)."""
    st, res = request(port, "POST", "/api/v1/auth/login", {"email": c.email, "password": c.password})
    if st != 200:
        return "owner %s cannot log in: %d %s" % (c.email, st, res)
    token = res["access_token"]
    m = c.model
    st, t = request(port, "GET", "/api/v1/tenant", token=token)
    if st != 200 or t.get("name") != m["name"]:
        return "tenant name: %s, expected %r" % (t, m["name"])
    members = {x["email"] for x in list_all(port, token, "/api/v1/members")}
    if members != m["members"]:
        return "members %s, expected %s" % (sorted(members), sorted(m["members"]))
    keys = {x["key_id"]: x["revoked_at"] is not None for x in list_all(port, token, "/api/v1/api-keys")}
    if keys != m["keys"]:
        return "API keys (revoked?) %s, expected %s" % (keys, m["keys"])
    for path, field, want in (("/api/v1/channels", "channel_id", m["channels"]),
                              ("/api/v1/status-pages", "page_id", m["pages"]),
                              ("/api/v1/maintenance", "window_id", m["windows"])):
        got = [x[field] for x in list_all(port, token, path)]
        if sorted(got) != sorted(want):
            return "%s: %s, expected %s" % (path, sorted(got), sorted(want))
    got = {x["monitor_id"]: (x["name"], x["active"]) for x in list_all(port, token, "/api/v1/monitors")}
    want = {k: (v["name"], v["active"]) for k, v in m["monitors"].items() if not v["deleted"]}
    if got != want:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        differ = sorted(k for k in set(got) & set(want) if got[k] != want[k])
        return "monitors: missing %s, not expected %s, differing %s" % (
            missing, extra, [(k, got[k], want[k]) for k in differ])
    return None


def audit_verify(binary, data_dir, when, bootstrap=None):
    # On Kafka the chains (and signed heads) are read from the topic; the
    # embedded log also compares recovery from snapshots with a full replay.
    where = ["--kafka", bootstrap] if bootstrap else ["--data-dir", data_dir, "--partitions", str(PARTITIONS)]
    # The node's signing key: every signed head's signature is checked too.
    where += ["--key-file", os.path.join(data_dir, "audit-signing.key")]
    out = subprocess.run([binary, "audit", "verify", *where], capture_output=True, text=True)
    summary = [l for l in out.stdout.splitlines() if "with problems" in l or "recovery" in l.lower()]
    print("audit verify (%s): exit %d; %s" % (when, out.returncode, "; ".join(summary[-2:])), flush=True)
    if out.returncode != 0:
        bad = [l for l in out.stdout.splitlines() if "broken" in l or "DIFFERS" in l or "head" in l]
        fail("audit verify %s: exit %d: %s %s" % (when, out.returncode, bad[:10], out.stderr[-2000:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keepwatch", required=True)
    ap.add_argument("--pg", required=True, help="ops/pg.sh")
    ap.add_argument("--backend", choices=("rocks", "kafka"), default="rocks")
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--kills", type=int, default=None, help="default: 5 (rocks), 2 (kafka)")
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    kills = a.kills if a.kills is not None else (5 if a.backend == "rocks" else 2)
    kafka = a.backend == "kafka"
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    print("seed", seed, "backend", a.backend, flush=True)
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="kw-crash-matrix-")
    os.chmod(work, 0o755)  # as root, PostgreSQL runs as postgres and must reach its directory
    data = os.path.join(work, "data")
    os.makedirs(data)
    plans = os.path.join(work, "plans.toml")
    with open(plans, "w") as f:
        f.write(PLANS)
    pg_dir = os.path.join(work, "pg")
    pg = subprocess.run([a.pg, "start", pg_dir], capture_output=True, text=True)
    if pg.returncode != 0:
        print("ops/pg.sh start failed:", pg.stderr)
        return 1
    db = pg.stdout.strip()
    target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    broker = None
    node = None
    try:
        broker = DevBroker(a.keepwatch, work) if kafka else None
        node = Node(a.keepwatch, data, db, free_port(), plans, broker.bootstrap if broker else None)
        world = World(node.port, "http://127.0.0.1:%d/health" % target.server_address[1])
        results = CheckResults()
        node.start()
        world.up.set()
        clients = [Client(world, i, rng.randrange(1 << 30)) for i in range(a.clients)]
        for c in clients:
            c.start()
        resumed = []
        for k in range(kills):
            time.sleep(rng.uniform(2.0, 4.0) if kafka else rng.uniform(0.5, 3.0))
            results.note(node.port, clients, last=(k == kills - 1))
            before = acked_monitors(clients)
            world.up.clear()
            killed_at = time.time()
            node.kill()
            if k == kills - 1:
                audit_verify(a.keepwatch, data, "after kill -9", broker.bootstrap if broker else None)
            node.start()
            world.up.set()
            print("kill %d: /readyz %.2f s after kill -9" % (k + 1, node.ready_at - killed_at), flush=True)
            if kafka:
                took = wait_read_models(node, clients, before, READ_MODEL_BOUND_S)
                if took is None:
                    fail("kill %d: the acknowledged monitors were not all listed within %d s of /readyz" %
                         (k + 1, READ_MODEL_BOUND_S))
                else:
                    resumed.append(took)
                    print("kill %d: read models current %.2f s after /readyz" % (k + 1, took), flush=True)
        time.sleep(rng.uniform(2.0, 3.0))
        world.done.set()
        for c in clients:
            c.join(timeout=120)
            if c.error:
                fail(c.error)
            elif c.is_alive():
                fail("client %d did not finish" % c.n)
        print("writes acknowledged: %d; requests without an answer (retried): %d; pushes acknowledged: %d, "
              "without an answer: %d" %
              (sum(c.acked for c in clients), sum(c.unknown for c in clients),
               sum(c.pushes_acked for c in clients), sum(c.pushes_unknown for c in clients)), flush=True)
        # The read models catch up after each restart: wait for them, then
        # every difference is a failure.
        deadline = time.time() + 60
        while True:
            diffs = []
            for c in clients:
                if c.error:
                    continue
                d = check_client(node.port, c) or results.check(node.port, c)
                if d:
                    diffs.append((c.n, d))
            if not diffs or time.time() > deadline:
                break
            time.sleep(0.5)
        for n, d in diffs:
            fail("tenant of client %d: %s" % (n, d))
        print("check results noted before the kills: %d, all still shown" %
              sum(len(v) for v in results.seen.values()) if not diffs else "", flush=True)
        node.stop()
        audit_verify(a.keepwatch, data, "after a clean stop", broker.bootstrap if broker else None)
    finally:
        if node and node.proc and node.proc.poll() is None:
            node.proc.kill()
        if broker:
            broker.stop()
        target.shutdown()
        subprocess.run([a.pg, "stop", pg_dir], capture_output=True)
    if failures:
        print("%d failure(s); seed %d; node log in %s" % (len(failures), seed, work))
        return 1
    subprocess.run(["rm", "-rf", work])
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
