#!/usr/bin/env python3
"""kafka.restart.*: what a kill -9 costs a node on the dev broker.

A node on `keepwatch dev-broker` with a real PostgreSQL; 2,000 tenants sign up
through the API and create 5 monitors each (10,000). Once the read models
list them all and a snapshot round has passed, the node is killed with
SIGKILL while one more tenant keeps trying to create a monitor, and restarted
on its data directory. Figures (one JSON line each, with the issue's target):

  kafka.restart.kill_to_readyz         kill -9 to /readyz 200
  kafka.restart.readyz_to_read_models  /readyz to every acknowledged create
                                       in the read model (the monitors table)
  kafka.restart.kill_to_first_create   kill -9 to the first create accepted
                                       (201) for a tenant

Reuses the crash matrix's node, dev broker and HTTP helpers.
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "integration"))
import api_crash_matrix_test as cm  # noqa: E402

TENANTS = 2000
MONITORS = 5


def figure(metric, value, unit, target):
    print(json.dumps({"bench": "kafka_restart_bench", "metric": metric, "value": round(value, 3),
                      "unit": unit, "target": target}), flush=True)


def psql(db, sql):
    out = subprocess.run(["psql", db, "-XAtqc", sql], capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def tenant(port, i):
    st, res = cm.request(port, "POST", "/api/v1/auth/signup",
                         {"email": "b%d@bench.test" % i, "password": "password-bench-%d" % i,
                          "tenant_name": "Bench %d" % i}, key="s%d" % i, timeout=60)
    if st not in (200, 201):
        raise RuntimeError("signup %d: %d %s" % (i, st, res))
    token = res["access_token"]
    for m in range(MONITORS):
        st, res = cm.request(port, "POST", "/api/v1/monitors",
                             {"name": "m%d" % m, "kind": "http", "interval_s": 300,
                              "url": "https://example.invalid/%d/%d" % (i, m)},
                             token=token, key="m%d-%d" % (i, m), timeout=60)
        if st != 201:
            raise RuntimeError("create %d/%d: %d %s" % (i, m, st, res))
    return token


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keepwatch", required=True)
    ap.add_argument("--pg", required=True)
    ap.add_argument("--tenants", type=int, default=TENANTS)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="kw-kafka-restart-bench-")
    os.chmod(work, 0o755)
    data = os.path.join(work, "data")
    os.makedirs(data)
    plans = os.path.join(work, "plans.toml")
    with open(plans, "w") as f:
        f.write(cm.PLANS)
    pg_dir = os.path.join(work, "pg")
    pg = subprocess.run([a.pg, "start", pg_dir], capture_output=True, text=True)
    if pg.returncode != 0:
        print("ops/pg.sh start failed:", pg.stderr, file=sys.stderr)
        return 1
    db = pg.stdout.strip()
    broker = node = None
    try:
        broker = cm.DevBroker(a.keepwatch, work)
        node = cm.Node(a.keepwatch, data, db, cm.free_port(), plans, broker.bootstrap)
        node.env["KEEPWATCH_SNAPSHOTS_INTERVAL_S"] = "5"
        node.env["KEEPWATCH_TENANTS_PASSIVATE_AFTER_S"] = "3600"
        node.start()
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: tenant(node.port, i), range(a.tenants)))
        print("%d tenants, %d monitors created in %.1f s" % (a.tenants, a.tenants * MONITORS, time.time() - t0),
              file=sys.stderr, flush=True)
        # One more tenant, on the enterprise plan, creates monitors across the kill.
        token = tenant(node.port, a.tenants)
        st, res = cm.request(node.port, "PATCH", "/api/v1/tenant", {"plan": "enterprise"}, token=token, key="plan")
        if st != 200:
            raise RuntimeError("plan: %d %s" % (st, res))
        acked = (a.tenants + 1) * MONITORS
        deadline = time.time() + 300
        while psql(db, "SELECT count(*) FROM monitors") != str(acked) and time.time() < deadline:
            time.sleep(0.5)
        time.sleep(6)  # a snapshot round
        first_create = {}
        stop = threading.Event()

        def creator():
            n = 0
            while not stop.is_set():
                try:
                    st, res = cm.request(node.port, "POST", "/api/v1/monitors",
                                       {"name": "x%d" % n, "kind": "http", "interval_s": 300,
                                        "url": "https://example.invalid/x%d" % n},
                                       token=token, key="x%d" % n, timeout=5)
                except cm.NoAnswer:
                    time.sleep(0.02)
                    continue
                if st == 201:
                    if "killed_at" in first_create and "at" not in first_create:
                        first_create["at"] = time.time()
                        first_create["id"] = res["monitor_id"]
                    n += 1
                    first_create["acked"] = n
                elif st not in (429, 503):
                    print("create: %d" % st, file=sys.stderr, flush=True)
                time.sleep(0.05)

        # Creates before the kill: a few, acknowledged.
        th = threading.Thread(target=creator, daemon=True)
        th.start()
        time.sleep(1)
        first_create["killed_at"] = time.time()
        node.kill()
        killed_at = first_create["killed_at"]
        want = acked + first_create.get("acked", 0)  # acknowledged before the kill
        node.start()
        figure("kafka.restart.kill_to_readyz", node.ready_at - killed_at, "s", "<= 5 s")
        # Every create acknowledged before the kill, and the first one
        # accepted after the restart (the projections are running again).
        deadline = time.time() + 120
        while time.time() < deadline:
            got = psql(db, "SELECT count(*) FROM monitors")
            if got is not None and int(got) >= want and "id" in first_create and \
                    psql(db, "SELECT count(*) FROM monitors WHERE monitor_id = '%s'" % first_create["id"]) == "1":
                break
            time.sleep(0.1)
        figure("kafka.restart.readyz_to_read_models", time.time() - node.ready_at, "s", "<= 10 s")
        stop.set()
        th.join(timeout=10)
        if "at" in first_create:
            figure("kafka.restart.kill_to_first_create", first_create["at"] - killed_at, "s", "<= 10 s")
        else:
            print(json.dumps({"bench": "kafka_restart_bench", "error": "no create accepted within 60 s"}))
        node.stop()
    finally:
        if node and node.proc and node.proc.poll() is None:
            node.proc.kill()
        if broker:
            broker.stop()
        subprocess.run([a.pg, "stop", pg_dir], capture_output=True)
    subprocess.run(["rm", "-rf", work])
    return 0


if __name__ == "__main__":
    sys.exit(main())
